//! `natop sign` reproduces the public signature vectors from the command line.

use std::process::{Command, Output};

fn natop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_natop"))
        .args(args)
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
