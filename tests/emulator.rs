//! The emulator over HTTP, driven by natop's own clients: authentication,
//! accounts and their keys, products by Version, faults, clock control,
//! state-file restart, concurrency and the admin endpoints (the call log too). (Per-action rules are covered by the handler unit tests
//! and by the official-SDK conformance suite in tests/conformance.)

use std::collections::HashSet;
use std::time::Duration;

use crate::support::cloud::fixture;
use natop::cloud::alibaba::actions::nat_gateway::{CreateNatGateway, DescribeNatGateways};
use natop::cloud::alibaba::signer;
use natop::cloud::alibaba::{AlibabaClient, AlibabaCredentials};
use natop::cloud::ucloud::actions::{CreateBandwidthPackage, DescribeBandwidthPackage};
use natop::cloud::ucloud::{UcloudClient, UcloudCredentials, codes};
use natop::cloud::wire::Params;
use natop::cloud::{ClientConfig, ErrorCategory, RateLimit, RetryPolicy};
use natop::emulator::{EmulatorConfig, RunningEmulator};
use serde_json::{Value, json};

fn quick_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
        max_elapsed: Duration::from_secs(20),
    }
}

fn config(endpoint: &str, attempts: u32) -> ClientConfig {
    ClientConfig {
        endpoint: Some(endpoint.to_string()),
        retry: quick_retry(attempts),
        rate_limit: RateLimit::new(10_000, 10_000),
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

fn alibaba(emu: &RunningEmulator, account: usize, attempts: u32) -> AlibabaClient {
    let a = &fixture().alibaba.accounts[account];
    AlibabaClient::new(
        AlibabaCredentials::new(&a.access_key_id, &a.access_key_secret),
        config(&emu.endpoint(), attempts),
    )
    .unwrap()
}

fn ucloud(emu: &RunningEmulator, attempts: u32) -> UcloudClient {
    ucloud_key(emu, 0, attempts)
}

fn ucloud_key(emu: &RunningEmulator, key: usize, attempts: u32) -> UcloudClient {
    let a = &fixture().ucloud.accounts[key];
    UcloudClient::new(
        UcloudCredentials::new(&a.public_key, &a.private_key),
        config(&emu.endpoint(), attempts),
    )
    .unwrap()
}

fn gateway_request(token: Option<&str>) -> CreateNatGateway {
    let region = &fixture().alibaba.regions[0];
    CreateNatGateway {
        region_id: region.region_id.clone(),
        vpc_id: region.vpcs[0].vpc_id.clone(),
        name: Some("natop-test".into()),
        client_token: token.map(str::to_string),
        ..Default::default()
    }
}

fn describe() -> DescribeNatGateways {
    DescribeNatGateways {
        region_id: fixture().alibaba.regions[0].region_id.clone(),
        ..Default::default()
    }
}

async fn admin(
    emu: &RunningEmulator,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}_emulator/{path}", emu.endpoint());
    let client = reqwest::Client::new();
    let request = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        _ => client.post(url),
    };
    let request = match body {
        Some(b) => request
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn start() -> RunningEmulator {
    RunningEmulator::start(EmulatorConfig::default())
        .await
        .unwrap()
}

fn gateways_in_state(state: &Value, account: usize) -> usize {
    let id = &fixture().alibaba.accounts[account].account_id;
    state["world"]["alibaba"][id]["regions"]["cn-hangzhou"]["natGateways"]
        .as_object()
        .map_or(0, |m| m.len())
}

/// A raw signed query for DescribeNatGateways, for replay and clock tests.
fn raw_query(secret: &str, key_id: &str, nonce: &str, timestamp: &str) -> String {
    raw_call(
        secret,
        key_id,
        nonce,
        timestamp,
        "DescribeNatGateways",
        "2016-04-28",
    )
}

/// A raw signed query for any action and version.
fn raw_call(
    secret: &str,
    key_id: &str,
    nonce: &str,
    timestamp: &str,
    action: &str,
    version: &str,
) -> String {
    let mut p: Params = [
        ("Action", action),
        ("Version", version),
        ("Format", "JSON"),
        ("AccessKeyId", key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("Timestamp", timestamp),
        ("RegionId", "cn-hangzhou"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (_, signature) = signer::sign("POST", &p, secret);
    p.insert("Signature".into(), signature);
    p.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                signer::percent_encode(k),
                signer::percent_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_raw(emu: &RunningEmulator, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}?{query}", emu.endpoint()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

fn stamp(offset_seconds: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_seconds);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test]
async fn signatures_nonces_and_timestamps_are_checked() {
    let emu = start().await;
    let a = &fixture().alibaba.accounts[0];
    let query = raw_query(&a.access_key_secret, &a.access_key_id, "nonce-1", &stamp(0));
    let (status, body) = post_raw(&emu, &query).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["RequestId"].as_str().is_some_and(|r| !r.is_empty()));
    let (status, body) = post_raw(&emu, &query).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed"))
    );

    let stale = raw_query(
        &a.access_key_secret,
        &a.access_key_id,
        "nonce-2",
        &stamp(-3600),
    );
    let (status, body) = post_raw(&emu, &stale).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Expired"))
    );

    let wrong = raw_query("not-the-secret", &a.access_key_id, "nonce-3", &stamp(0));
    let (status, body) = post_raw(&emu, &wrong).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    let message = body["Message"].as_str().unwrap();
    assert!(
        message.contains("server string to sign is:POST&%2F&AccessKeyId%3D"),
        "{message}"
    );
    for key in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
        assert!(body.get(key).is_some(), "error body has {key}");
    }

    let unknown = raw_query("x", "LTAI-unknown", "nonce-4", &stamp(0));
    let (status, body) = post_raw(&emu, &unknown).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidAccessKeyId.NotFound"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn each_account_sees_only_its_own_resources() {
    let emu = start().await;
    alibaba(&emu, 0, 1)
        .call(&gateway_request(None))
        .await
        .unwrap();
    let mine = alibaba(&emu, 0, 1).describe_all(&describe()).await.unwrap();
    let theirs = alibaba(&emu, 1, 1).describe_all(&describe()).await.unwrap();
    assert_eq!((mine.len(), theirs.len()), (1, 0));
    emu.stop().await;
}

#[tokio::test]
async fn the_keys_of_one_account_share_its_resources_and_tokens() {
    let emu = start().await;
    let (first, rotated) = (alibaba(&emu, 0, 1), alibaba(&emu, 2, 1));
    assert_eq!(
        fixture().alibaba.accounts[0].account_id,
        fixture().alibaba.accounts[2].account_id
    );
    let made = first
        .call(&gateway_request(Some("rotate-1")))
        .await
        .unwrap();
    let seen = rotated.describe_all(&describe()).await.unwrap();
    assert_eq!(seen.len(), 1, "the rotated key sees the account's gateway");
    assert_eq!(seen[0].nat_gateway_id, made.nat_gateway_id);
    // A ClientToken is the account's: the retry with the new key finds the answer.
    let again = rotated
        .call(&gateway_request(Some("rotate-1")))
        .await
        .unwrap();
    assert_eq!(again.nat_gateway_id, made.nat_gateway_id);
    let (_, state) = admin(&emu, "GET", "state", None).await;
    assert_eq!(gateways_in_state(&state, 0), 1);
    let accounts: Vec<&String> = state["world"]["alibaba"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(accounts, ["1380000000000001", "1380000000000002"]);
    assert!(
        alibaba(&emu, 1, 1)
            .describe_all(&describe())
            .await
            .unwrap()
            .is_empty()
    );

    let package = CreateBandwidthPackage {
        region: "cn-bj2".into(),
        eip_id: fixture().ucloud.regions[0].eips[0].eip_id.clone(),
        bandwidth: Some(10),
        time_range: Some(1),
        ..Default::default()
    };
    ucloud_key(&emu, 0, 1).call(&package).await.unwrap();
    let list = DescribeBandwidthPackage {
        region: "cn-bj2".into(),
        ..Default::default()
    };
    let counts = [
        ucloud_key(&emu, 0, 1)
            .describe_all(&list)
            .await
            .unwrap()
            .len(),
        ucloud_key(&emu, 2, 1)
            .describe_all(&list)
            .await
            .unwrap()
            .len(),
        ucloud_key(&emu, 1, 1)
            .describe_all(&list)
            .await
            .unwrap()
            .len(),
    ];
    assert_eq!(counts, [1, 1, 0], "key pairs 01 and 03 are one user");
    emu.stop().await;
}

#[tokio::test]
async fn the_version_chooses_the_product() {
    let emu = start().await;
    let a = &fixture().alibaba.accounts[0];
    let cases = [
        ("GetCallerIdentity", "2015-04-01", 200, None),
        (
            "GetCallerIdentity",
            "2016-04-28",
            404,
            Some("InvalidAction.NotFound"),
        ),
        (
            "DescribeNatGateways",
            "2015-04-01",
            404,
            Some("InvalidAction.NotFound"),
        ),
        (
            "DescribeNatGateways",
            "2014-05-26",
            400,
            Some("InvalidVersion"),
        ),
    ];
    for (i, (action, version, want_status, want_code)) in cases.into_iter().enumerate() {
        let query = raw_call(
            &a.access_key_secret,
            &a.access_key_id,
            &format!("version-{i}"),
            &stamp(0),
            action,
            version,
        );
        let (status, body) = post_raw(&emu, &query).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (want_status, want_code),
            "{action} {version}: {body}"
        );
        if version == "2015-04-01" {
            assert!(body["RequestId"].is_string(), "{body}");
        }
        if want_code == Some("InvalidAction.NotFound") && version == "2015-04-01" {
            assert_eq!(body["HostId"], "sts.aliyuncs.com", "{body}");
        }
    }
    emu.stop().await;
}

#[tokio::test]
async fn the_not_found_proxy_fault_answers_like_nginx_and_does_nothing() {
    let emu = start().await;
    let (code, _) = admin(
        &emu,
        "PUT",
        "faults",
        Some(json!({"default": {"notFoundProxy": 1.0}})),
    )
    .await;
    assert_eq!(code, 200);
    let response = reqwest::Client::new()
        .post(format!(
            "{}?{}",
            emu.endpoint(),
            raw_query(
                &fixture().alibaba.accounts[0].access_key_secret,
                &fixture().alibaba.accounts[0].access_key_id,
                "proxy-1",
                &stamp(0)
            )
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/html"
    );
    assert_eq!(
        response.text().await.unwrap(),
        natop::emulator::NOT_FOUND_PROXY_PAGE
    );

    let err = alibaba(&emu, 0, 3)
        .call(&gateway_request(Some("proxy-token")))
        .await
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Endpoint, "{err}");
    assert!(!err.is_not_found());
    assert_eq!(err.code(), Some("HTTP404"));
    let err = ucloud(&emu, 1)
        .call(&DescribeBandwidthPackage {
            region: "cn-bj2".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Endpoint, "{err}");
    let (_, state) = admin(&emu, "GET", "state", None).await;
    assert_eq!(gateways_in_state(&state, 0), 0, "no call was executed");
    let (_, calls) = admin(&emu, "GET", "calls", None).await;
    assert_eq!(calls["CreateNatGateway"]["notFoundProxy"], 3, "{calls}");
    assert_eq!(
        calls["DescribeBandwidthPackage"]["notFoundProxy"], 1,
        "{calls}"
    );
    emu.stop().await;
}

#[tokio::test]
async fn the_call_log_names_accounts_regions_ids_and_outcomes() {
    let emu = start().await;
    let client = alibaba(&emu, 2, 1);
    let made = client.call(&gateway_request(None)).await.unwrap();
    let (_, log) = admin(&emu, "GET", "log", None).await;
    let calls = log["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{log}");
    let create = &calls[0];
    assert_eq!(create["action"], "CreateNatGateway");
    assert_eq!(
        create["account"], "1380000000000001",
        "the account, not the key"
    );
    assert_eq!(create["region"], "cn-hangzhou");
    assert_eq!(create["outcome"], "success");
    assert_eq!(
        create["ids"],
        json!({"VpcId": fixture().alibaba.regions[0].vpcs[0].vpc_id}),
        "no AccessKeyId, RegionId or ClientToken"
    );
    let mark = create["seq"].as_u64().unwrap();

    // Refused by a fault, by the service, and by the proxy: all logged.
    admin(
        &emu,
        "PUT",
        "faults",
        Some(json!({"actions": {
            "DescribeNatGateways": {"throttling": 1.0},
            "DeleteNatGateway": {"notFoundProxy": 1.0},
        }})),
    )
    .await;
    let _ = client.call(&describe()).await;
    let delete = natop::cloud::alibaba::actions::nat_gateway::DeleteNatGateway {
        region_id: "cn-hangzhou".into(),
        nat_gateway_id: made.nat_gateway_id.clone(),
        ..Default::default()
    };
    let _ = client.call(&delete).await;
    admin(&emu, "PUT", "faults", Some(json!({}))).await;
    let _ = ucloud(&emu, 1)
        .call(&natop::cloud::ucloud::actions::DeleteBandwidthPackage {
            region: "cn-bj2".into(),
            bandwidth_package_id: "bwpack-none".into(),
            ..Default::default()
        })
        .await;
    let (code, log) = admin(&emu, "GET", &format!("log?since={mark}"), None).await;
    assert_eq!(code, 200);
    let seen: Vec<(String, String, String)> = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["account"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let owned = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        seen,
        [
            owned("DescribeNatGateways", "1380000000000001", "Throttling"),
            owned("DeleteNatGateway", "1380000000000001", "notFoundProxy"),
            owned("DeleteBandwidthPackage", "50000001", "261"),
        ]
    );
    let calls = log["calls"].as_array().unwrap();
    assert_eq!(
        calls[1]["ids"]["NatGatewayId"],
        made.nat_gateway_id.as_str()
    );
    assert_eq!(calls[2]["ids"]["BandwidthPackageId"], "bwpack-none");
    assert_eq!(calls[2]["region"], "cn-bj2");
    let seqs: Vec<u64> = calls.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [mark + 1, mark + 2, mark + 3], "most recent last");
    // The proof the log exists for: nothing wrote to the gateway.
    let writes = calls
        .iter()
        .filter(|c| c["ids"]["NatGatewayId"] == made.nat_gateway_id.as_str())
        .filter(|c| c["outcome"] == "success")
        .count();
    assert_eq!(writes, 0);

    // A lost answer is logged as dropped; an unauthenticated call without an account.
    admin(
        &emu,
        "PUT",
        "faults",
        Some(json!({"actions": {"CreateNatGateway": {"commitThenDrop": 1.0}}})),
    )
    .await;
    let _ = client.call(&gateway_request(Some("dropped-1"))).await;
    let unknown = raw_query("x", "LTAI-unknown", "log-unknown", &stamp(0));
    post_raw(&emu, &unknown).await;
    let (_, log) = admin(&emu, "GET", &format!("log?since={}", mark + 3), None).await;
    let calls = log["calls"].as_array().unwrap();
    assert_eq!(calls[0]["outcome"], "dropped", "{log}");
    let last = calls.last().unwrap();
    assert_eq!(
        (last["account"].as_str(), last["outcome"].as_str()),
        (Some(""), Some("InvalidAccessKeyId.NotFound"))
    );

    let (code, _) = admin(&emu, "GET", "log?since=soon", None).await;
    assert_eq!(code, 400);
    admin(&emu, "POST", "reset", None).await;
    let (_, log) = admin(&emu, "GET", "log", None).await;
    assert_eq!(log, json!({"calls": []}), "reset clears the log");
    emu.stop().await;
}

#[tokio::test]
async fn a_state_file_of_the_old_format_is_refused_clearly() {
    let dir = std::env::temp_dir().join(format!("natop-emu-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    std::fs::write(
        &file,
        r#"{"clockMs":0,"world":{"alibaba":{"LTAI5tNatopDemoKey01":{"regions":{}}}}}"#,
    )
    .unwrap();
    let err = RunningEmulator::start(EmulatorConfig {
        state_file: Some(file.clone()),
        ..EmulatorConfig::default()
    })
    .await
    .err()
    .expect("the old state file is refused");
    assert!(
        err.contains("format 0") && err.contains("delete the file"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_clock_completes_transitions_when_advanced_or_sped_up() {
    let emu = start().await;
    let client = alibaba(&emu, 0, 1);
    client.call(&gateway_request(None)).await.unwrap();
    let status =
        |gws: Vec<natop::cloud::alibaba::actions::nat_gateway::NatGateway>| gws[0].status.clone();
    assert_eq!(
        status(client.describe_all(&describe()).await.unwrap()),
        "Creating"
    );
    let (code, clock) = admin(&emu, "POST", "clock", Some(json!({"advanceSeconds": 61}))).await;
    assert_eq!(code, 200, "{clock}");
    assert_eq!(
        status(client.describe_all(&describe()).await.unwrap()),
        "Available"
    );

    client.call(&gateway_request(None)).await.unwrap();
    let (code, _) = admin(&emu, "POST", "clock", Some(json!({"speed": 600.0}))).await;
    assert_eq!(code, 200);
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let all = client.describe_all(&describe()).await.unwrap();
            if all.iter().all(|g| g.status == "Available") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("at 600x a minute passes in a tenth of a second");
    let (code, _) = admin(&emu, "POST", "clock", Some(json!({"speed": 0}))).await;
    assert_eq!(code, 400, "invalid speed refused");
    emu.stop().await;
}

#[tokio::test]
async fn faults_throttle_and_commit_then_drop_but_idempotency_keeps_one_resource() {
    let emu = start().await;
    let (code, _) = admin(
        &emu,
        "PUT",
        "faults",
        Some(json!({"actions": {"DescribeNatGateways": {"throttling": 1.0}}})),
    )
    .await;
    assert_eq!(code, 200);
    let err = alibaba(&emu, 0, 3).call(&describe()).await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Throttled);

    let (code, _) = admin(
        &emu,
        "PUT",
        "faults",
        Some(json!({"actions": {"CreateNatGateway": {"commitThenDrop": 1.0}}})),
    )
    .await;
    assert_eq!(code, 200);
    let err = alibaba(&emu, 0, 4)
        .call(&gateway_request(Some("token-1")))
        .await
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Transport, "{err}");
    let (_, state) = admin(&emu, "GET", "state", None).await;
    assert_eq!(gateways_in_state(&state, 0), 1, "the change happened once");
    let gw = state["world"]["alibaba"][&fixture().alibaba.accounts[0].account_id]["regions"]
        ["cn-hangzhou"]["natGateways"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(gw["clientToken"], "token-1");

    let (_, calls) = admin(&emu, "GET", "calls", None).await;
    assert_eq!(calls["DescribeNatGateways"]["Throttling"], 3);
    assert_eq!(calls["CreateNatGateway"]["success"], 4);

    let (code, _) = admin(
        &emu,
        "PUT",
        "faults",
        Some(json!({"default": {"throttling": 2.0}})),
    )
    .await;
    assert_eq!(code, 400, "rates above 1 are refused");
    admin(&emu, "PUT", "faults", Some(json!({}))).await;
    let again = alibaba(&emu, 0, 1)
        .call(&gateway_request(Some("token-1")))
        .await
        .unwrap();
    let (_, state) = admin(&emu, "GET", "state", None).await;
    assert_eq!(
        gateways_in_state(&state, 0),
        1,
        "same token: no second gateway"
    );
    assert!(again.nat_gateway_id.starts_with("ngw-"));
    emu.stop().await;
}

#[tokio::test]
async fn faults_are_deterministic_under_a_seed() {
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let emu = RunningEmulator::start(EmulatorConfig {
            seed: 42,
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        admin(
            &emu,
            "PUT",
            "faults",
            Some(json!({"default": {"throttling": 0.5}})),
        )
        .await;
        let client = alibaba(&emu, 0, 1);
        let mut run = Vec::new();
        for _ in 0..20 {
            run.push(client.call(&describe()).await.is_ok());
        }
        outcomes.push(run);
        emu.stop().await;
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(outcomes[0].contains(&true) && outcomes[0].contains(&false));
}

#[tokio::test]
async fn state_survives_a_restart_with_a_state_file() {
    let dir = std::env::temp_dir().join(format!("natop-emu-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let cfg = || EmulatorConfig {
        state_file: Some(file.clone()),
        ..EmulatorConfig::default()
    };
    let emu = RunningEmulator::start(cfg()).await.unwrap();
    let created = alibaba(&emu, 0, 1)
        .call(&gateway_request(Some("t-restart")))
        .await
        .unwrap();
    let package = ucloud(&emu, 1)
        .call(&CreateBandwidthPackage {
            region: "cn-bj2".into(),
            eip_id: fixture().ucloud.regions[0].eips[0].eip_id.clone(),
            bandwidth: Some(10),
            time_range: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    emu.stop().await;

    let emu = RunningEmulator::start(cfg()).await.unwrap();
    let gateways = alibaba(&emu, 0, 1).describe_all(&describe()).await.unwrap();
    assert_eq!(gateways.len(), 1);
    assert_eq!(gateways[0].nat_gateway_id, created.nat_gateway_id);
    let again = alibaba(&emu, 0, 1)
        .call(&gateway_request(Some("t-restart")))
        .await
        .unwrap();
    assert_eq!(
        again.nat_gateway_id, created.nat_gateway_id,
        "tokens survive too"
    );
    let packages = ucloud(&emu, 1)
        .describe_all(&DescribeBandwidthPackage {
            region: "cn-bj2".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(packages.len(), 1);
    assert_eq!(
        packages[0].bandwidth_package_id,
        package.bandwidth_package_id
    );
    emu.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn many_concurrent_clients_are_safe() {
    let emu = start().await;
    let client = ucloud(&emu, 1);
    let eips: Vec<String> = fixture().ucloud.regions[0].eips[..11]
        .iter()
        .map(|e| e.eip_id.clone())
        .collect();
    let calls = (0..50).map(|i| {
        let client = client.clone();
        let eip = eips[i % eips.len()].clone();
        tokio::spawn(async move {
            client
                .call(&CreateBandwidthPackage {
                    region: "cn-bj2".into(),
                    eip_id: eip,
                    bandwidth: Some(2 + u32::try_from(i).unwrap()),
                    time_range: Some(1),
                    ..Default::default()
                })
                .await
        })
    });
    let mut ids = HashSet::new();
    for call in futures_util::future::join_all(calls).await {
        ids.insert(call.unwrap().unwrap().bandwidth_package_id);
    }
    assert_eq!(ids.len(), 50);
    let listed = client
        .describe_all(&DescribeBandwidthPackage {
            region: "cn-bj2".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 50);
    assert!(ids.iter().all(|id| id.starts_with("bwpack-")));
    emu.stop().await;
}

#[tokio::test]
async fn ucloud_packages_expire_and_eips_are_checked() {
    let emu = start().await;
    let client = ucloud(&emu, 1);
    let region = &fixture().ucloud.regions[0];
    let create = |eip: &str, hours| CreateBandwidthPackage {
        region: region.region.clone(),
        eip_id: eip.to_string(),
        bandwidth: Some(20),
        time_range: Some(hours),
        ..Default::default()
    };
    let made = client
        .call(&create(&region.eips[0].eip_id, 1))
        .await
        .unwrap();
    let list = DescribeBandwidthPackage {
        region: region.region.clone(),
        ..Default::default()
    };
    let listed = client.describe_all(&list).await.unwrap();
    assert_eq!(listed.len(), 1);
    let p = &listed[0];
    assert_eq!(p.bandwidth_package_id, made.bandwidth_package_id);
    assert_eq!(p.disable_time.unwrap() - p.enable_time.unwrap(), 3600);
    admin(&emu, "POST", "clock", Some(json!({"advanceSeconds": 3601}))).await;
    assert!(
        client.describe_all(&list).await.unwrap().is_empty(),
        "expired packages disappear"
    );

    let err = client.call(&create("eip-none", 1)).await.unwrap_err();
    assert_eq!(err.code(), Some(codes::EIP_NOT_FOUND.to_string().as_str()));
    let shared = &region.eips.last().unwrap().eip_id;
    let err = client.call(&create(shared, 1)).await.unwrap_err();
    assert_eq!(err.code(), Some(codes::EIP_PAY_MODE.to_string().as_str()));
    let err = client
        .call(&create(&region.eips[0].eip_id, 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(codes::PARAMS_ERROR.to_string().as_str()));
    emu.stop().await;
}

#[tokio::test]
async fn reset_returns_to_the_fixture() {
    let emu = start().await;
    alibaba(&emu, 0, 1)
        .call(&gateway_request(None))
        .await
        .unwrap();
    let (_, state) = admin(&emu, "GET", "state", None).await;
    assert_eq!(gateways_in_state(&state, 0), 1);
    let (code, _) = admin(&emu, "POST", "reset", None).await;
    assert_eq!(code, 200);
    let (_, state) = admin(&emu, "GET", "state", None).await;
    assert_eq!(gateways_in_state(&state, 0), 0);
    let (_, calls) = admin(&emu, "GET", "calls", None).await;
    assert_eq!(calls, json!({}));
    emu.stop().await;
}

/// `natop emulator --tls-cert --tls-key` serves https: a client trusting the
/// certificate's CA (a ProviderConfig's caBundle) is answered, one with the
/// public roots only is refused at the handshake.
#[tokio::test]
async fn the_emulator_command_serves_https_with_a_given_certificate() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let mut child = Command::new(env!("CARGO_BIN_EXE_natop"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(format!("{dir}/server.pem"))
        .arg("--tls-key")
        .arg(format!("{dir}/server.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("natop emulator starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("natop emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    let a = &fixture().alibaba.accounts[0];
    let client = |ca_bundle: Option<String>| {
        AlibabaClient::new(
            AlibabaCredentials::new(&a.access_key_id, &a.access_key_secret),
            ClientConfig {
                ca_bundle,
                ..config(&endpoint, 1)
            },
        )
        .unwrap()
    };
    let describe = DescribeNatGateways {
        region_id: "cn-hangzhou".into(),
        ..Default::default()
    };
    let trusted = client(Some(include_str!("fixtures/tls/ca.pem").to_string()))
        .call(&describe)
        .await;
    let untrusted = client(None).call(&describe).await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(trusted.is_ok(), "{trusted:?}");
    let error = untrusted.expect_err("the public roots do not trust the emulator");
    assert!(
        error.to_string().contains("certificate"),
        "names the certificate: {error}"
    );
    assert!(status.success(), "SIGTERM stops it cleanly: {status}");
}
