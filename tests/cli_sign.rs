//! `natop sign` reproduces the public signature vectors from the command line.

use std::process::{Command, Output};

fn natop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_natop"))
        .args(args)
        .env_remove("NATOP_SIGN_SECRET")
        .env_remove("NATOP_SIGN_PRIVATE_KEY")
        .output()
        .expect("natop runs")
}

fn last_line(out: &Output) -> String {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    text.lines().last().unwrap_or_default().to_string()
}

const VECTOR: [&str; 8] = [
    "AccessKeyId=testid",
    "Action=DescribeRegions",
    "Format=XML",
    "SignatureMethod=HMAC-SHA1",
    "SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion=1.0",
    "TimeStamp=2016-02-23T12:46:24Z",
    "Version=2014-05-26",
];

#[test]
fn alibaba_public_vectors() {
    let mut args = vec![
        "sign",
        "alibaba",
        "--secret",
        "testsecret",
        "--method",
        "GET",
    ];
    args.extend(VECTOR);
    let out = natop(&args);
    assert!(out.status.success());
    assert_eq!(last_line(&out), "CT9X0VtwR86fNWSnsc6v8YGOjuE=");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions"));
    assert_eq!(text.lines().count(), 2);

    let current: Vec<String> = VECTOR
        .iter()
        .map(|p| p.replace("TimeStamp", "Timestamp"))
        .collect();
    let mut args = vec![
        "sign",
        "alibaba",
        "--secret",
        "testsecret",
        "--method",
        "GET",
    ];
    args.extend(current.iter().map(String::as_str));
    assert_eq!(last_line(&natop(&args)), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
}

#[test]
fn alibaba_signs_exactly_what_is_given_with_post_by_default() {
    let out = natop(&["sign", "alibaba", "--secret", "s", "Name=", "Desc=a b"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "POST&%2F&Desc%3Da%2520b%26Name%3D"
    );
}

#[test]
fn ucloud_public_vector() {
    let out = natop(&[
        "sign",
        "ucloud",
        "--private-key",
        "46f09bb9fab4f12dfc160dae12273d5332b5debe",
        "Action=DescribeUHostInstance",
        "Region=cn-bj2",
        "Limit=10",
        "PublicKey=ucloudsomeone@example.com1296235120854146120",
    ]);
    assert!(out.status.success());
    assert_eq!(last_line(&out), "cba5cf5ec4d4233d206b1b54951e3787350a642f");
}

/// `natop sign` with `input` on standard input and `env` set (and no
/// NATOP_SIGN_* variable inherited).
fn natop_with(args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_natop"))
        .args(args)
        .env_remove("NATOP_SIGN_SECRET")
        .env_remove("NATOP_SIGN_PRIVATE_KEY")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("natop runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    child.wait_with_output().expect("natop ends")
}

#[test]
fn keys_come_from_the_environment_or_standard_input_and_never_need_argv() {
    let mut args = vec!["sign", "alibaba", "--method", "GET"];
    args.extend(VECTOR);
    let by_argument = {
        let mut with = vec![
            "sign",
            "alibaba",
            "--secret",
            "testsecret",
            "--method",
            "GET",
        ];
        with.extend(VECTOR);
        last_line(&natop_with(&with, &[], ""))
    };
    let by_env = natop_with(&args, &[("NATOP_SIGN_SECRET", "testsecret")], "");
    assert!(by_env.status.success(), "{by_env:?}");
    assert_eq!(last_line(&by_env), by_argument);
    let mut stdin_args = args.clone();
    stdin_args.insert(2, "--secret-stdin");
    let by_stdin = natop_with(&stdin_args, &[], "testsecret\n");
    assert!(by_stdin.status.success(), "{by_stdin:?}");
    assert_eq!(last_line(&by_stdin), by_argument);
    // Nothing on standard input: a clear error, no signature with an empty key.
    let none = natop_with(&stdin_args, &[], "");
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no AccessKeySecret"));
    // UCloud's private key too.
    let ucloud = [
        "sign",
        "ucloud",
        "--private-key-stdin",
        "A=b",
        "PublicKey=p",
    ];
    let piped = natop_with(&ucloud, &[], "k\n");
    let env = natop_with(
        &["sign", "ucloud", "A=b", "PublicKey=p"],
        &[("NATOP_SIGN_PRIVATE_KEY", "k")],
        "",
    );
    assert!(piped.status.success() && env.status.success());
    assert_eq!(last_line(&piped), last_line(&env));
    // The help never shows the variable's value.
    let help = natop_with(
        &["sign", "alibaba", "--help"],
        &[("NATOP_SIGN_SECRET", "do-not-show")],
        "",
    );
    assert!(!String::from_utf8_lossy(&help.stdout).contains("do-not-show"));
}

#[test]
fn malformed_arguments_are_usage_errors_not_panics() {
    for args in [
        vec!["sign", "alibaba", "--secret", "s", "NoEquals"],
        vec!["sign", "alibaba", "--secret", "s", "=value"],
        vec!["sign", "alibaba", "Action=X"],
        vec!["sign", "alibaba", "--secret", "s", "--method", "PUT", "A=b"],
        vec!["sign", "ucloud", "A=b"],
        vec!["sign", "gcp", "--secret", "s"],
    ] {
        let out = natop(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with("error:") && err.contains("--help"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
