//! HTTP-level tests of the Alibaba client against a scripted server on
//! 127.0.0.1, and its STS identity call against the emulator.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::support::scripted::{Reply, ScriptedServer, start_dropping_server};
use natop::cloud::alibaba::actions::forward_entry::DescribeForwardTableEntries;
use natop::cloud::alibaba::actions::nat_gateway::{
    CreateNatGateway, DeleteNatGateway, DescribeNatGateways, ListEnhanhcedNatGatewayAvailableZones,
};
use natop::cloud::alibaba::actions::sts::GetCallerIdentity;
use natop::cloud::alibaba::signer;
use natop::cloud::alibaba::{AlibabaClient, AlibabaCredentials};
use natop::cloud::wire::Params;
use natop::cloud::{ClientConfig, CloudError, ErrorCategory, RateLimit, RetryPolicy};
use natop::emulator::fixture::Fixture;
use natop::emulator::{EmulatorConfig, RunningEmulator};
use natop::metrics::CloudMetrics;

const SECRET: &str = "test-secret-do-not-log";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(10),
    }
}

fn client_for(endpoint: &str, config: ClientConfig) -> AlibabaClient {
    AlibabaClient::new(
        AlibabaCredentials::new("test-ak", SECRET),
        ClientConfig {
            endpoint: Some(endpoint.to_string()),
            retry: fast_retry(),
            ..config
        },
    )
    .unwrap()
}

fn ok(body: &str) -> Reply {
    Reply::Json(200, body.to_string())
}

fn error(status: u16, code: &str) -> Reply {
    Reply::Json(
        status,
        format!(
            r#"{{"RequestId":"REQ-{code}","HostId":"vpc.aliyuncs.com","Code":"{code}","Message":"message of {code}","Recommend":"https://next.api.aliyun.com/troubleshoot"}}"#
        ),
    )
}

fn fixture(action: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/alibaba/{action}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn create_request() -> CreateNatGateway {
    CreateNatGateway {
        region_id: "cn-hangzhou".into(),
        vpc_id: "vpc-1".into(),
        name: Some("nat gw*~/+=&网关".into()),
        description: Some(String::new()),
        client_token: Some("natop-token-1".into()),
        ..Default::default()
    }
}

/// Verify the signature of a recorded request the way the service does.
fn assert_signed(query: &Params) {
    let mut unsigned = query.clone();
    let signature = unsigned.remove("Signature").expect("Signature sent");
    let (_, expected) = signer::sign("POST", &unsigned, SECRET);
    assert_eq!(signature, expected, "signature verifies");
}

#[tokio::test]
async fn requests_have_the_exact_wire_shape() {
    let server = ScriptedServer::start(vec![ok(&fixture("CreateNatGateway"))]).await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let response = client.call(&create_request()).await.unwrap();
    assert!(response.nat_gateway_id.starts_with("ngw-"));

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    let q = &r.query;
    for (name, value) in [
        ("Action", "CreateNatGateway"),
        ("Version", "2016-04-28"),
        ("Format", "JSON"),
        ("AccessKeyId", "test-ak"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("RegionId", "cn-hangzhou"),
        ("VpcId", "vpc-1"),
        ("Name", "nat gw*~/+=&网关"),
        ("Description", ""),
        ("ClientToken", "natop-token-1"),
    ] {
        assert_eq!(q.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert!(q.contains_key("SignatureNonce") && q.contains_key("Timestamp"));
    assert!(!q.contains_key("SecurityToken"));
    // Percent-encoding on the wire: space %20, * %2A, ~ kept, UTF-8 bytes.
    assert!(
        r.raw_query
            .contains("Name=nat%20gw%2A~%2F%2B%3D%26%E7%BD%91%E5%85%B3")
    );
    assert!(r.raw_query.contains("Description=&") || r.raw_query.ends_with("Description="));
    assert_signed(q);
}

#[tokio::test]
async fn the_zones_action_uses_the_real_wire_spelling() {
    let server =
        ScriptedServer::start(vec![ok(&fixture("ListEnhanhcedNatGatewayAvailableZones"))]).await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let zones = client
        .call(&ListEnhanhcedNatGatewayAvailableZones {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!zones.zones.is_empty());
    assert_eq!(
        server.requests()[0].query["Action"],
        "ListEnhanhcedNatGatewayAvailableZones"
    );
}

#[tokio::test]
async fn sts_tokens_are_sent_and_signed() {
    let server = ScriptedServer::start(vec![ok(&fixture("DescribeNatGateways"))]).await;
    let client = AlibabaClient::new(
        AlibabaCredentials::new("test-ak", SECRET).with_security_token("sts-token"),
        ClientConfig {
            endpoint: Some(server.endpoint()),
            ..ClientConfig::default()
        },
    )
    .unwrap();
    client
        .call(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let q = &server.requests()[0].query;
    assert_eq!(q["SecurityToken"], "sts-token");
    assert_signed(q);
}

#[tokio::test]
async fn throttling_and_503_are_retried_with_fresh_nonces_and_the_same_client_token() {
    let server = ScriptedServer::start(vec![
        error(400, "Throttling.User"),
        error(503, "ServiceUnavailable"),
        Reply::Json(502, "<html>bad gateway</html>".into()),
        ok(&fixture("CreateNatGateway")),
    ])
    .await;
    let metrics = Arc::new(CloudMetrics::default());
    let client = client_for(
        &server.endpoint(),
        ClientConfig {
            metrics: metrics.clone(),
            ..ClientConfig::default()
        },
    );
    client.call(&create_request()).await.unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    let nonces: HashSet<_> = seen
        .iter()
        .map(|r| r.query["SignatureNonce"].clone())
        .collect();
    assert_eq!(nonces.len(), 4, "every attempt has a new nonce");
    let signatures: HashSet<_> = seen.iter().map(|r| r.query["Signature"].clone()).collect();
    assert_eq!(signatures.len(), 4, "every attempt is signed again");
    for r in &seen {
        assert_eq!(r.query["ClientToken"], "natop-token-1");
        assert_signed(&r.query);
    }
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"action="CreateNatGateway",outcome="Throttled"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"action="CreateNatGateway",outcome="success"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn validation_errors_are_not_retried_and_are_typed() {
    let server = ScriptedServer::start(vec![
        error(400, "InvalidNatGatewayName.Malformed"),
        ok(&fixture("CreateNatGateway")),
    ])
    .await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let err = client.call(&create_request()).await.unwrap_err();
    assert_eq!(server.requests().len(), 1, "no retry");
    match &err {
        CloudError::Service {
            status,
            code,
            message,
            request_id,
            category,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(code, "InvalidNatGatewayName.Malformed");
            assert_eq!(message, "message of InvalidNatGatewayName.Malformed");
            assert_eq!(request_id, "REQ-InvalidNatGatewayName.Malformed");
            assert_eq!(*category, ErrorCategory::Validation);
        }
        other => panic!("expected a service error, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn not_found_is_recognised() {
    let server = ScriptedServer::start(vec![error(404, "InvalidNatGatewayId.NotFound")]).await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let err = client
        .call(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn retries_stop_at_the_attempt_cap() {
    let server = ScriptedServer::start(vec![error(400, "Throttling")]).await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let err = client.call(&create_request()).await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Throttled);
    assert_eq!(server.requests().len(), 5);
}

fn gateways_page(ids: std::ops::Range<usize>, total: usize, page: usize) -> Reply {
    let items: Vec<String> = ids
        .map(|i| format!(r#"{{"NatGatewayId":"ngw-{i:03}","Status":"Available"}}"#))
        .collect();
    ok(&format!(
        r#"{{"RequestId":"R","TotalCount":"{total}","PageNumber":{page},"PageSize":"50","NatGateways":{{"NatGateway":[{}]}}}}"#,
        items.join(",")
    ))
}

#[tokio::test]
async fn a_three_page_describe_is_walked_completely() {
    let server = ScriptedServer::start(vec![
        gateways_page(0..50, 120, 1),
        gateways_page(50..100, 120, 2),
        gateways_page(100..120, 120, 3),
    ])
    .await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let all = client
        .describe_all(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 120);
    let ids: HashSet<_> = all.iter().map(|g| g.nat_gateway_id.clone()).collect();
    assert_eq!(ids.len(), 120);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    for (i, r) in seen.iter().enumerate() {
        assert_eq!(r.query["PageSize"], "50");
        assert_eq!(r.query["PageNumber"], (i + 1).to_string());
    }
}

#[tokio::test]
async fn pages_that_disagree_are_read_again_and_never_trusted() {
    // The total shrank between pages (an item finished deleting), then an
    // item came twice; the third read agrees with itself.
    let server = ScriptedServer::start(vec![
        gateways_page(0..50, 60, 1),
        gateways_page(51..60, 59, 2),
        gateways_page(0..50, 60, 1),
        gateways_page(49..59, 60, 2),
        gateways_page(0..50, 60, 1),
        gateways_page(50..60, 60, 2),
    ])
    .await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let (all, calls) = client
        .describe_pages(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(calls, 6);
    let ids: HashSet<_> = all.iter().map(|g| g.nat_gateway_id.clone()).collect();
    assert_eq!((all.len(), ids.len()), (60, 60));

    // A listing that never holds still is an error (retryable), not a result.
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(gateways_page(0..50, 60, 1));
        replies.push(gateways_page(51..60, 59, 2));
    }
    let server = ScriptedServer::start(replies).await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let err = client
        .describe_all(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("TotalCount was 60"), "{err}");
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn seed_examples_and_string_numbers_parse_over_the_wire() {
    let server = ScriptedServer::start(vec![
        ok(&fixture("DescribeNatGateways")),
        ok(r#"{"RequestId":"R","TotalCount":"1","PageNumber":"1","PageSize":"50",
              "ForwardTableEntries":{"ForwardTableEntry":[{"ForwardEntryId":"fwd-1",
              "ForwardTableId":"ftb-1","ExternalIp":"1.2.3.4","ExternalPort":"8080",
              "InternalIp":"10.0.0.1","InternalPort":80,"IpProtocol":"tcp","Status":"Available"}]}}"#),
    ])
    .await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let gateways = client
        .describe_all(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!gateways.is_empty());
    assert!(gateways[0].nat_gateway_id.starts_with("ngw-"));
    let entries = client
        .describe_all(&DescribeForwardTableEntries {
            region_id: "cn-hangzhou".into(),
            forward_table_id: "ftb-1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].external_port.as_deref(), Some("8080"));
    assert_eq!(entries[0].internal_port.as_deref(), Some("80"));
}

#[tokio::test]
async fn the_rate_limiter_holds_a_burst_to_the_configured_rate() {
    let server = ScriptedServer::start(vec![ok(&fixture("DescribeNatGateways"))]).await;
    let metrics = Arc::new(CloudMetrics::default());
    let client = client_for(
        &server.endpoint(),
        ClientConfig {
            rate_limit: RateLimit::new(4, 2),
            metrics: metrics.clone(),
            ..ClientConfig::default()
        },
    );
    let request = DescribeNatGateways {
        region_id: "cn-hangzhou".into(),
        ..Default::default()
    };
    let calls = (0..10).map(|_| client.call(&request));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    let mut at: Vec<_> = server.requests().iter().map(|r| r.at).collect();
    at.sort();
    assert_eq!(at.len(), 10);
    // Two go at once (the burst); the other eight need 8 tokens at 4 per second:
    // whatever the machine's speed, they cannot all arrive in less than ~2 s.
    let span = at[9] - at[0];
    assert!(span >= Duration::from_millis(1900), "span {span:?}");
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"natop_cloud_rate_limit_wait_seconds_count{provider="alibaba"} 8"#),
        "eight calls waited for a token:\n{text}"
    );
}

#[tokio::test]
async fn separate_regions_do_not_share_a_bucket() {
    let server = ScriptedServer::start(vec![ok(&fixture("DescribeNatGateways"))]).await;
    let metrics = Arc::new(CloudMetrics::default());
    let client = client_for(
        &server.endpoint(),
        ClientConfig {
            rate_limit: RateLimit::new(1, 1),
            metrics: metrics.clone(),
            ..ClientConfig::default()
        },
    );
    for region in ["cn-hangzhou", "cn-beijing", "cn-shanghai"] {
        client
            .call(&DescribeNatGateways {
                region_id: region.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        !text.contains("natop_cloud_rate_limit_wait_seconds_count{"),
        "{text}"
    );
}

#[tokio::test]
async fn cancellation_stops_a_backoff() {
    let server = ScriptedServer::start(vec![error(503, "ServiceUnavailable")]).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let client = AlibabaClient::new(
        AlibabaCredentials::new("test-ak", SECRET),
        ClientConfig {
            endpoint: Some(server.endpoint()),
            retry: RetryPolicy {
                max_attempts: 100,
                base_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(30),
                max_elapsed: Duration::from_secs(3600),
            },
            cancel: cancel.clone(),
            ..ClientConfig::default()
        },
    )
    .unwrap();
    let call = tokio::spawn(async move { client.call(&create_request()).await });
    // Wait until the first attempt was answered, then cancel the backoff.
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    cancel.cancel();
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("cancellation ends the call")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Cancelled);
}

#[tokio::test]
async fn transport_errors_are_retried_and_never_show_the_url_or_secret() {
    let (addr, count) = start_dropping_server().await;
    let client = client_for(&format!("http://{addr}/"), ClientConfig::default());
    let err = client.call(&create_request()).await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Transport);
    assert_eq!(
        *count.lock().unwrap(),
        5,
        "a create with a ClientToken is safe to retry"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SECRET));
    assert!(!text.contains("Signature="), "{text}");
    assert!(!text.contains("AccessKeyId="), "{text}");
}

#[tokio::test]
async fn time_outs_are_retryable() {
    let server = ScriptedServer::start(vec![
        Reply::Slow(Duration::from_secs(5), 200, fixture("DescribeNatGateways")),
        ok(&fixture("DescribeNatGateways")),
    ])
    .await;
    let client = client_for(
        &server.endpoint(),
        ClientConfig {
            request_timeout: Duration::from_millis(300),
            ..ClientConfig::default()
        },
    );
    client
        .call(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn get_caller_identity_is_an_sts_call_without_a_region() {
    let vpc = ScriptedServer::start(vec![ok(&fixture("DescribeNatGateways"))]).await;
    let sts = ScriptedServer::start(vec![ok(&fixture("GetCallerIdentity"))]).await;
    let client = client_for(
        &vpc.endpoint(),
        ClientConfig {
            sts_endpoint: Some(sts.endpoint()),
            ..ClientConfig::default()
        },
    );
    let who = client.call(&GetCallerIdentity::default()).await.unwrap();
    assert_eq!(who.account_id, "1380000000000001");
    assert_eq!(who.identity_type, "RAMUser");
    assert!(
        vpc.requests().is_empty(),
        "STS actions never go to the VPC endpoint"
    );
    let seen = sts.requests();
    assert_eq!(seen.len(), 1);
    let q = &seen[0].query;
    assert_eq!(q["Action"], "GetCallerIdentity");
    assert_eq!(q["Version"], "2015-04-01");
    assert_eq!(q["Format"], "JSON");
    assert!(!q.contains_key("RegionId"));
    assert_signed(q);
    // VPC actions still go to the VPC endpoint, with the VPC version.
    client
        .call(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vpc.requests()[0].query["Version"], "2016-04-28");
    assert_eq!(sts.requests().len(), 1);
}

const NGINX_404: &str =
    "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>";

#[tokio::test]
async fn a_bare_404_is_an_endpoint_error_retried_and_never_not_found() {
    let server = ScriptedServer::start(vec![
        Reply::Json(404, NGINX_404.into()),
        Reply::Json(403, "<html>Forbidden by proxy policy</html>".into()),
        Reply::Json(407, "Proxy Authentication Required".into()),
        ok(&fixture("DeleteNatGateway")),
    ])
    .await;
    let client = client_for(&server.endpoint(), ClientConfig::default());
    let delete = DeleteNatGateway {
        region_id: "cn-hangzhou".into(),
        nat_gateway_id: "ngw-1".into(),
        ..Default::default()
    };
    client.call(&delete).await.unwrap();
    assert_eq!(server.requests().len(), 4, "bare 404/403/407 are retried");

    let server = ScriptedServer::start(vec![Reply::Json(404, NGINX_404.into())]).await;
    let client = AlibabaClient::new(
        AlibabaCredentials::new("test-ak", SECRET).with_security_token("sts-token-secret"),
        ClientConfig {
            endpoint: Some(server.endpoint()),
            retry: RetryPolicy {
                max_attempts: 2,
                ..fast_retry()
            },
            ..ClientConfig::default()
        },
    )
    .unwrap();
    let err = client.call(&delete).await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Endpoint, "{err}");
    assert!(!err.is_not_found(), "a proxy's 404 is not 'already gone'");
    assert_eq!(err.code(), Some("HTTP404"));
    let text = format!("{err} {err:?}");
    assert!(text.contains("404 Not Found"), "{text}");
    assert!(
        !text.contains(SECRET) && !text.contains("sts-token-secret"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 2);
}

fn emulator_client(key: usize, config: ClientConfig) -> AlibabaClient {
    let a = &Fixture::default_fixture().alibaba.accounts[key];
    AlibabaClient::new(
        AlibabaCredentials::new(&a.access_key_id, &a.access_key_secret),
        ClientConfig {
            retry: fast_retry(),
            ..config
        },
    )
    .unwrap()
}

#[tokio::test]
async fn the_emulator_names_the_account_of_each_key() {
    let emu = RunningEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let via_endpoint = || ClientConfig {
        endpoint: Some(emu.endpoint()),
        ..ClientConfig::default()
    };
    let mut who = Vec::new();
    for key in 0..3 {
        who.push(
            emulator_client(key, via_endpoint())
                .call(&GetCallerIdentity::default())
                .await
                .unwrap(),
        );
    }
    let fx = Fixture::default_fixture();
    for (key, identity) in who.iter().enumerate() {
        assert_eq!(identity.account_id, fx.alibaba.accounts[key].account_id);
        assert_eq!(identity.identity_type, "RAMUser");
        assert_eq!(
            identity.arn,
            format!("acs:ram::{}:user/natop", identity.account_id)
        );
        assert!(!identity.user_id.is_empty() && identity.principal_id == identity.user_id);
    }
    assert_eq!(
        who[0].account_id, who[2].account_id,
        "keys 01 and 03: one account"
    );
    assert_eq!(who[0].user_id, who[2].user_id);
    assert_ne!(who[0].account_id, who[1].account_id);

    // The VPC API elsewhere, STS at the emulator: sts_endpoint wins.
    let vpc = ScriptedServer::start(vec![ok(&fixture("DescribeNatGateways"))]).await;
    let split = emulator_client(
        1,
        ClientConfig {
            endpoint: Some(vpc.endpoint()),
            sts_endpoint: Some(emu.endpoint()),
            ..ClientConfig::default()
        },
    );
    let identity = split.call(&GetCallerIdentity::default()).await.unwrap();
    assert_eq!(identity.account_id, "1380000000000002");
    assert!(vpc.requests().is_empty());
    emu.stop().await;
}
