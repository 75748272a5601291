//! The emulator over HTTP, driven by natop's own clients: authentication,
//! accounts, faults, clock control, state-file restart, concurrency and the
//! admin endpoints. (Per-action rules are covered by the handler unit tests
//! and by the official-SDK conformance suite in tests/conformance.)

use std::collections::HashSet;
use std::time::Duration;

use natop::cloud::alibaba::actions::nat_gateway::{CreateNatGateway, DescribeNatGateways};
use natop::cloud::alibaba::signer;
use natop::cloud::alibaba::{AlibabaClient, AlibabaCredentials};
use natop::cloud::ucloud::actions::{CreateBandwidthPackage, DescribeBandwidthPackage};
use natop::cloud::ucloud::{UcloudClient, UcloudCredentials, codes};
use natop::cloud::wire::Params;
use natop::cloud::{ClientConfig, ErrorCategory, RateLimit, RetryPolicy};
use natop::emulator::fixture::Fixture;
use natop::emulator::{EmulatorConfig, RunningEmulator};
use serde_json::{Value, json};

fn fixture() -> Fixture {
    Fixture::default_fixture()
}

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
    let a = &fixture().ucloud.accounts[0];
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
    let key = &fixture().alibaba.accounts[account].access_key_id;
    state["world"]["alibaba"][key]["regions"]["cn-hangzhou"]["natGateways"]
        .as_object()
        .map_or(0, |m| m.len())
}

/// A raw signed query for DescribeNatGateways, for replay and clock tests.
fn raw_query(secret: &str, key_id: &str, nonce: &str, timestamp: &str) -> String {
    let mut p: Params = [
        ("Action", "DescribeNatGateways"),
        ("Version", "2016-04-28"),
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
    let gw = state["world"]["alibaba"][&fixture().alibaba.accounts[0].access_key_id]["regions"]
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
