//! HTTP-level tests of the UCloud client against a scripted server on
//! 127.0.0.1, and its user identity call against the emulator.

use std::time::Duration;

use crate::support::scripted::{Reply, ScriptedServer, start_dropping_server};
use natop::cloud::ucloud::actions::{
    CreateBandwidthPackage, DeleteBandwidthPackage, DescribeBandwidthPackage, GetUserInfo,
};
use natop::cloud::ucloud::{UcloudClient, UcloudCredentials, signer};
use natop::cloud::{ClientConfig, CloudError, ErrorCategory, RetryPolicy};
use natop::emulator::fixture::Fixture;
use natop::emulator::{EmulatorConfig, RunningEmulator};

const PRIVATE_KEY: &str = "private-key-do-not-log";

fn client_for(endpoint: &str) -> UcloudClient {
    UcloudClient::new(
        UcloudCredentials::new("pub-key", PRIVATE_KEY),
        ClientConfig {
            endpoint: Some(endpoint.to_string()),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
                max_elapsed: Duration::from_secs(10),
            },
            ..ClientConfig::default()
        },
    )
    .unwrap()
}

fn create() -> CreateBandwidthPackage {
    CreateBandwidthPackage {
        region: "cn-bj2".into(),
        eip_id: "eip-vuxqym".into(),
        bandwidth: Some(200),
        time_range: Some(1),
        enable_time: Some(1_430_986_009),
        ..Default::default()
    }
}

fn created() -> Reply {
    Reply::Json(
        200,
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/ucloud/CreateBandwidthPackage.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
}

fn ret(code: i64) -> Reply {
    Reply::Json(
        200,
        format!(
            r#"{{"RetCode":{code},"Action":"CreateBandwidthPackageResponse","Message":"message {code}"}}"#
        ),
    )
}

#[tokio::test]
async fn requests_are_signed_form_posts() {
    let server = ScriptedServer::start(vec![created()]).await;
    let response = client_for(&server.endpoint())
        .call(&create())
        .await
        .unwrap();
    assert_eq!(response.bandwidth_package_id, "bwpack-rybftq");
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    assert!(
        r.content_type
            .starts_with("application/x-www-form-urlencoded")
    );
    let mut form = r.form.clone();
    assert_eq!(form["Action"], "CreateBandwidthPackage");
    assert_eq!(form["PublicKey"], "pub-key");
    assert_eq!(form["Region"], "cn-bj2");
    assert_eq!(form["EIPId"], "eip-vuxqym");
    assert_eq!(form["Bandwidth"], "200");
    assert_eq!(form["TimeRange"], "1");
    assert_eq!(form["EnableTime"], "1430986009");
    let signature = form.remove("Signature").unwrap();
    assert_eq!(signature, signer::sign(&form, PRIVATE_KEY));
}

#[tokio::test]
async fn ret_code_errors_are_typed_and_auth_is_not_retried() {
    let server = ScriptedServer::start(vec![ret(171), created()]).await;
    let err = client_for(&server.endpoint())
        .call(&create())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
    match &err {
        CloudError::Service {
            code,
            message,
            category,
            ..
        } => {
            assert_eq!(code, "171");
            assert_eq!(message, "message 171");
            assert_eq!(*category, ErrorCategory::Auth);
        }
        other => panic!("expected a service error, got {other:?}"),
    }
    assert!(!format!("{err} {err:?}").contains(PRIVATE_KEY));
}

#[tokio::test]
async fn a_throttled_create_is_retried_because_nothing_was_bought() {
    let server = ScriptedServer::start(vec![ret(153), created()]).await;
    client_for(&server.endpoint())
        .call(&create())
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn an_unknown_outcome_create_is_not_retried() {
    // The gateway failed after the call went in: the purchase may have happened.
    for reply in [
        Reply::Json(502, "<html>bad gateway</html>".into()),
        Reply::Json(200, "not json".into()),
        ret(2001),
    ] {
        let server = ScriptedServer::start(vec![reply, created()]).await;
        let err = client_for(&server.endpoint())
            .call(&create())
            .await
            .unwrap_err();
        assert_eq!(err.category(), ErrorCategory::UnknownOutcome, "{err}");
        assert_eq!(server.requests().len(), 1, "no blind retry");
        assert!(err.to_string().contains("outcome unknown"));
    }
    // The connection dropped after the request was sent.
    let (addr, count) = start_dropping_server().await;
    let err = client_for(&format!("http://{addr}/"))
        .call(&create())
        .await
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::UnknownOutcome, "{err}");
    assert_eq!(*count.lock().unwrap(), 1, "no blind retry");
}

#[tokio::test]
async fn idempotent_calls_are_retried_on_gateway_errors() {
    let server = ScriptedServer::start(vec![
        Reply::Json(502, "bad gateway".into()),
        Reply::Json(200, r#"{"RetCode":2003,"Message":"busy"}"#.into()),
        Reply::Json(
            200,
            r#"{"RetCode":0,"Action":"DeleteBandwidthPackageResponse"}"#.into(),
        ),
    ])
    .await;
    client_for(&server.endpoint())
        .call(&DeleteBandwidthPackage {
            region: "cn-bj2".into(),
            bandwidth_package_id: "bwpack-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 3);
}

fn page(ids: std::ops::Range<usize>, total: usize) -> Reply {
    let items: Vec<String> = ids
        .map(|i| {
            format!(r#"{{"BandwidthPackageId":"bwpack-{i:03}","EIPId":"eip-1","Bandwidth":"10"}}"#)
        })
        .collect();
    Reply::Json(
        200,
        format!(
            r#"{{"RetCode":0,"Action":"DescribeBandwidthPackageResponse","TotalCount":{total},"DataSets":[{}]}}"#,
            items.join(",")
        ),
    )
}

#[tokio::test]
async fn describe_walks_limit_and_offset() {
    let server = ScriptedServer::start(vec![
        page(0..100, 230),
        page(100..200, 230),
        page(200..230, 230),
    ])
    .await;
    let all = client_for(&server.endpoint())
        .describe_all(&DescribeBandwidthPackage {
            region: "cn-bj2".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 230);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let offsets: Vec<_> = seen.iter().map(|r| r.form["Offset"].clone()).collect();
    assert_eq!(offsets, ["0", "100", "200"]);
    assert!(seen.iter().all(|r| r.form["Limit"] == "100"));
}

#[tokio::test]
async fn pages_that_disagree_are_read_again_and_never_trusted() {
    // The total shrank between pages (a package ended), then a package came
    // twice; the third read agrees with itself.
    let server = ScriptedServer::start(vec![
        page(0..100, 150),
        page(101..150, 149),
        page(0..100, 150),
        page(99..149, 150),
        page(0..100, 150),
        page(100..150, 150),
    ])
    .await;
    let request = DescribeBandwidthPackage {
        region: "cn-bj2".into(),
        ..Default::default()
    };
    let all = client_for(&server.endpoint())
        .describe_all(&request)
        .await
        .unwrap();
    let ids: std::collections::HashSet<_> =
        all.iter().map(|p| p.bandwidth_package_id.clone()).collect();
    assert_eq!((all.len(), ids.len()), (150, 150));
    assert_eq!(server.requests().len(), 6);

    // A listing that never holds still is an error (retryable), not a result.
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(page(0..100, 150));
        replies.push(page(101..150, 149));
    }
    let server = ScriptedServer::start(replies).await;
    let err = client_for(&server.endpoint())
        .describe_all(&request)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("TotalCount was 150"), "{err}");
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn get_user_info_is_sent_without_a_region_and_parsed() {
    let recorded = std::fs::read_to_string(format!(
        "{}/tests/fixtures/ucloud/GetUserInfo.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let server = ScriptedServer::start(vec![Reply::Json(200, recorded)]).await;
    let who = client_for(&server.endpoint())
        .call(&GetUserInfo::default())
        .await
        .unwrap();
    assert_eq!(who.data_set.len(), 1);
    assert_eq!(who.data_set[0].user_id, 50_000_001);
    let mut form = server.requests()[0].form.clone();
    assert_eq!(form["Action"], "GetUserInfo");
    assert!(!form.contains_key("Region"));
    let signature = form.remove("Signature").unwrap();
    assert_eq!(signature, signer::sign(&form, PRIVATE_KEY));
}

#[tokio::test]
async fn answers_without_a_ret_code_are_endpoint_errors_not_not_found() {
    let nginx =
        "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>";
    let server = ScriptedServer::start(vec![
        Reply::Json(404, nginx.into()),
        Reply::Json(200, r#"{"portal":"log in first"}"#.into()),
        Reply::Json(
            200,
            r#"{"RetCode":0,"Action":"DeleteBandwidthPackageResponse"}"#.into(),
        ),
    ])
    .await;
    let delete = DeleteBandwidthPackage {
        region: "cn-bj2".into(),
        bandwidth_package_id: "bwpack-1".into(),
        ..Default::default()
    };
    client_for(&server.endpoint()).call(&delete).await.unwrap();
    assert_eq!(
        server.requests().len(),
        3,
        "retried like any endpoint error"
    );

    let server = ScriptedServer::start(vec![Reply::Json(404, nginx.into())]).await;
    let err = client_for(&server.endpoint())
        .call(&delete)
        .await
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Endpoint, "{err}");
    assert!(!err.is_not_found());
    assert_eq!(err.code(), Some("HTTP404"));
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn the_emulator_names_the_user_of_each_key_pair() {
    let emu = RunningEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let fx = Fixture::default_fixture();
    let mut users = Vec::new();
    for keys in &fx.ucloud.accounts {
        let client = UcloudClient::new(
            UcloudCredentials::new(&keys.public_key, &keys.private_key),
            ClientConfig {
                endpoint: Some(emu.endpoint()),
                ..ClientConfig::default()
            },
        )
        .unwrap();
        let who = client.call(&GetUserInfo::default()).await.unwrap();
        let [user] = who.data_set.as_slice() else {
            panic!("one user: {who:?}");
        };
        assert_eq!(user.user_id, keys.user_id);
        assert!(user.user_email.contains('@') && !user.company_name.is_empty());
        users.push(user.clone());
    }
    let ids: Vec<u64> = users.iter().map(|u| u.user_id).collect();
    assert_eq!(ids, [50_000_001, 50_000_002, 50_000_001]);
    assert_eq!(users[0], users[2], "key pairs 01 and 03: one user");
    emu.stop().await;
}
