//! Credential sources on the real API server and the emulator: RRSA with a
//! real projected service account token (TokenRequest), verified by the
//! emulator against the API server's own JWKS; tokens STS must refuse, each
//! with its reason; `assumeRole` into another account; the ECS instance
//! role; and temporary credentials renewed before they expire while the
//! service's clock runs ahead.

use std::path::PathBuf;

use crate::support::cloud::{answered, eip, fixture, vpc, vswitch};
use crate::support::cluster::{TIMEOUT, emulator_admin, emulator_post, wait_for};
use crate::support::objects::{create, message_of, ready, wait_reason_any_generation};
use crate::support::operator::{TEST_LABEL, World, delete_provider, quick_durations};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use natop::api::{ForwardEntry, NatGateway, ProviderConfig};
use natop::controller::RrsaDefaults;
use natop::emulator::EmulatorConfig;
use natop::emulator::fixture::Fixture;
use serde_json::{Value, json};

/// The audience RRSA tokens are issued for.
pub(crate) const STS_AUDIENCE: &str = "sts.aliyuncs.com";
/// The issuer the test cluster's API server signs service account tokens as.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The fixture's first account (the world's Secret is one of its keys).
const ACCOUNT_1: &str = "1380000000000001";
/// The fixture's second account.
const ACCOUNT_2: &str = "1380000000000002";

pub(crate) fn oidc_provider_arn() -> String {
    format!("acs:ram::{ACCOUNT_1}:oidc-provider/test-cluster")
}

pub(crate) fn rrsa_role() -> String {
    format!("acs:ram::{ACCOUNT_1}:role/natop-rrsa")
}

pub(crate) fn cross_account_role() -> String {
    format!("acs:ram::{ACCOUNT_2}:role/natop-deployer")
}

fn instance_role() -> String {
    format!("acs:ram::{ACCOUNT_2}:role/natop-node")
}

/// The API server's service account signing keys, as its discovery
/// endpoint publishes them.
async fn cluster_jwks(client: &kube::Client) -> Value {
    let request = http::Request::get("/openid/v1/jwks")
        .body(Vec::new())
        .unwrap();
    let text = client
        .request_text(request)
        .await
        .expect("JWKS of the API server");
    serde_json::from_str(&text).unwrap()
}

/// The default fixture with an OIDC provider trusting the test cluster's
/// issuer, a role it may assume (a service account named `natop` only), a
/// role in the second account the first may assume (external id
/// required), and an instance role in the second account.
pub(crate) fn fixture_with_roles(jwks: Value) -> Fixture {
    let mut value = serde_json::to_value(fixture()).unwrap();
    let alibaba = value["alibaba"].as_object_mut().unwrap();
    alibaba.insert(
        "oidcProviders".into(),
        json!([{
            "arn": oidc_provider_arn(), "issuerUrl": ISSUER,
            "clientIds": [STS_AUDIENCE], "jwks": jwks,
        }]),
    );
    alibaba.insert(
        "roles".into(),
        json!([
            {
                "roleArn": rrsa_role(),
                "trust": {"oidc": {
                    "providerArn": oidc_provider_arn(),
                    "audiences": [STS_AUDIENCE],
                    "subjects": ["system:serviceaccount:*:natop"],
                }},
            },
            {
                "roleArn": cross_account_role(),
                "trust": {"accounts": [ACCOUNT_1], "externalId": "natop-blue"},
            },
            {"roleArn": instance_role(), "maxSessionDuration": 3600},
        ]),
    );
    alibaba.insert("instanceRole".into(), json!(instance_role()));
    let fixture: Fixture = serde_json::from_value(value).unwrap();
    fixture.with_account_ids().unwrap()
}

/// A world whose emulator knows the roles, the operator not yet started
/// (a test sets natop's RRSA environment first).
pub(crate) async fn world_with_roles(prefix: &str) -> World {
    let client = crate::support::cluster::client().await;
    let jwks = cluster_jwks(&client).await;
    World::start_custom(
        prefix,
        EmulatorConfig {
            fixture: fixture_with_roles(jwks),
            durations: quick_durations(),
            ..EmulatorConfig::default()
        },
        0,
        None,
        false,
    )
    .await
}

/// A token of service account `account` in the world's namespace for
/// `audience`, valid `seconds`, written to a file the test owns.
pub(crate) async fn token_file(
    world: &World,
    account: &str,
    audience: &str,
    seconds: i64,
) -> PathBuf {
    let accounts: Api<ServiceAccount> = Api::namespaced(world.client.clone(), &world.ns.name);
    if accounts.get_opt(account).await.unwrap().is_none() {
        let sa: ServiceAccount =
            serde_json::from_value(json!({"metadata": {"name": account}})).unwrap();
        accounts.create(&PostParams::default(), &sa).await.unwrap();
    }
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_string()],
            expiration_seconds: Some(seconds),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .expect("TokenRequest")
        .status
        .expect("token")
        .token;
    let path = token_path(world);
    std::fs::write(&path, token).unwrap();
    path
}

fn token_path(world: &World) -> PathBuf {
    std::env::temp_dir().join(format!("natop-test-{}-token", world.ns.name))
}

/// A ProviderConfig named `name` for the world's emulator and namespace.
pub(crate) async fn provider(world: &World, name: &str, credentials: Value) -> Api<ProviderConfig> {
    let api: Api<ProviderConfig> = Api::all(world.client.clone());
    let pc: ProviderConfig = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": name, "labels": {TEST_LABEL: world.ns.name}},
        "spec": {
            "provider": "Alibaba", "region": "cn-hangzhou",
            "endpoint": world.emulator.endpoint(),
            "allowedNamespaces": [world.ns.name],
            "rateLimit": {"qps": 200, "burst": 200},
            "credentials": credentials,
        },
    }))
    .unwrap();
    api.create(&PostParams::default(), &pc).await.unwrap();
    api
}

/// Wait for the ProviderConfig's Ready reason to be `reason`; its message.
pub(crate) async fn pc_reason(api: &Api<ProviderConfig>, name: &str, reason: &str) -> String {
    message_of(
        &wait_reason_any_generation(api, name, "Ready", reason).await,
        "Ready",
    )
}

/// The account the ProviderConfig's check found.
async fn pc_account(api: &Api<ProviderConfig>, name: &str) -> String {
    api.get(name)
        .await
        .unwrap()
        .status
        .and_then(|s| s.account_id)
        .unwrap_or_default()
}

/// Ask for a new check of the ProviderConfig (a spec change).
async fn recheck(api: &Api<ProviderConfig>, name: &str, session: &str) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"credentials": {"rrsa": {"sessionName": session}}}})),
    )
    .await
    .unwrap();
}

/// Calls the emulator answered with an error code of STS credentials
/// (`InvalidSecurityToken.*`, `MissingSecurityToken`).
async fn token_failures(world: &World) -> Vec<Value> {
    let log = emulator_admin(&world.emulator.endpoint(), "log").await;
    log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let outcome = c["outcome"].as_str().unwrap_or_default();
            outcome.contains("SecurityToken")
        })
        .cloned()
        .collect()
}

/// A gateway and a DNAT entry of it through ProviderConfig `pc`; waits for
/// both to be Ready and returns the gateway's id.
async fn gateway_with_dnat(world: &World, pc: &str, name: &str) -> String {
    let gateways: Api<NatGateway> = create(
        world,
        "NatGateway",
        name,
        json!({"providerConfigRef": {"name": pc}, "vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip(0).0]}),
    )
    .await;
    let entries: Api<ForwardEntry> = create(
        world,
        "ForwardEntry",
        &format!("{name}-web"),
        json!({
            "providerConfigRef": {"name": pc},
            "natGatewayRef": {"name": name},
            "externalIp": eip(0).1, "externalPort": "443",
            "internalIp": "172.16.1.10", "internalPort": "8443", "ipProtocol": "TCP",
        }),
    )
    .await;
    let gw = wait_for(&format!("gateway {name} Ready"), TIMEOUT, || async {
        let gw = gateways.get(name).await.ok()?;
        ready(&gw).then_some(gw)
    })
    .await;
    wait_for(&format!("entry {name}-web Ready"), TIMEOUT, || async {
        let e = entries.get(&format!("{name}-web")).await.ok()?;
        ready(&e).then_some(())
    })
    .await;
    gw.status.and_then(|s| s.id).unwrap()
}

#[tokio::test]
async fn rrsa_with_a_projected_token_converges_a_gateway_and_its_dnat() {
    let mut world = world_with_roles("cred-rrsa").await;
    let file = token_file(&world, "natop", STS_AUDIENCE, 3600).await;
    world.rrsa = RrsaDefaults {
        role_arn: Some(rrsa_role()),
        oidc_provider_arn: Some(oidc_provider_arn()),
        token_file: Some(file.clone()),
    };
    world.start_operator();
    let name = format!("{}-rrsa", world.ns.name);
    // Role and provider from natop's environment.
    let configs = provider(&world, &name, json!({"rrsa": {}})).await;
    let message = pc_reason(&configs, &name, "CredentialsValid").await;
    assert!(message.contains("RRSA"), "{message}");
    assert_eq!(pc_account(&configs, &name).await, ACCOUNT_1);

    let id = gateway_with_dnat(&world, &name, "gw").await;
    let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
    assert!(answered(&calls, "AssumeRoleWithOIDC") >= 1, "{calls}");
    // The gateway is the role's account's, made with its temporary keys.
    let log = emulator_admin(&world.emulator.endpoint(), "log").await;
    let create = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "CreateNatGateway" && c["outcome"] == "success")
        .cloned()
        .expect("a CreateNatGateway call");
    assert_eq!(create["account"], ACCOUNT_1, "{create}");
    assert!(id.starts_with("ngw-"), "{id}");
    assert!(token_failures(&world).await.is_empty());
    delete_provider(&world, &name).await;
    let _ = std::fs::remove_file(file);
    world.stop().await;
}

#[tokio::test]
async fn tokens_sts_refuses_are_named_on_the_provider_config() {
    let mut world = world_with_roles("cred-oidc-bad").await;
    // Only the ProviderConfig under test calls the cloud.
    let own = world.provider.clone();
    delete_provider(&world, &own).await;
    // A token for another audience.
    let file = token_file(&world, "natop", "https://kubernetes.default.svc", 3600).await;
    world.rrsa = RrsaDefaults {
        role_arn: None,
        oidc_provider_arn: None,
        token_file: Some(file.clone()),
    };
    world.start_operator();
    let name = format!("{}-rrsa", world.ns.name);
    let configs = provider(
        &world,
        &name,
        json!({"rrsa": {"roleArn": rrsa_role(), "oidcProviderArn": oidc_provider_arn()}}),
    )
    .await;
    let message = pc_reason(&configs, &name, "OidcAudienceMismatch").await;
    assert!(
        message.contains("AuthenticationFail.OIDCToken.AudienceNotMatch"),
        "{message}"
    );
    // A gateway using it waits, and makes no VPC call.
    let gateways: Api<NatGateway> = create(
        &world,
        "NatGateway",
        "gw",
        json!({"providerConfigRef": {"name": name}, "vpcId": vpc(), "vSwitchId": vswitch()}),
    )
    .await;
    let waiting =
        wait_reason_any_generation(&gateways, "gw", "Ready", "OidcAudienceMismatch").await;
    let reconciling = crate::support::objects::condition(&waiting, "Reconciling");
    assert_eq!(
        reconciling.map(|(status, _, _)| status).as_deref(),
        Some("True"),
        "the gateway waits rather than fails"
    );

    // Another service account's token: the role trusts only `natop`.
    token_file(&world, "intruder", STS_AUDIENCE, 3600).await;
    recheck(&configs, &name, "natop-2").await;
    let message = pc_reason(&configs, &name, "OidcSubjectNotAllowed").await;
    assert!(
        message.contains("AuthenticationFail.NoPermission"),
        "{message}"
    );

    // natop's own token, expired on the service's clock.
    token_file(&world, "natop", STS_AUDIENCE, 600).await;
    emulator_post(
        &world.emulator.endpoint(),
        "clock",
        json!({"advanceSeconds": 900}),
    )
    .await;
    recheck(&configs, &name, "natop-3").await;
    let message = pc_reason(&configs, &name, "OidcTokenExpired").await;
    assert!(
        message.contains("AuthenticationFail.OIDCToken.Expired"),
        "{message}"
    );

    // The token file gone.
    std::fs::remove_file(&file).unwrap();
    recheck(&configs, &name, "natop-4").await;
    let message = pc_reason(&configs, &name, "OidcTokenUnreadable").await;
    assert!(message.contains(&file.display().to_string()), "{message}");

    // STS only: no VPC call was made with credentials natop could not get.
    let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
    let actions: Vec<&String> = calls.as_object().unwrap().keys().collect();
    assert_eq!(actions, ["AssumeRoleWithOIDC"], "{calls}");
    delete_provider(&world, &name).await;
    world.stop().await;
}

#[tokio::test]
async fn assume_role_reaches_another_account() {
    let mut world = world_with_roles("cred-assume").await;
    world.start_operator();
    let base = json!({"secretRef": {"namespace": world.ns.name, "name": "alibaba-credentials"}});
    // Without the external id the role's trust policy requires: refused.
    let wrong = format!("{}-noext", world.ns.name);
    let configs = provider(
        &world,
        &wrong,
        json!({"assumeRole": {"roleArn": cross_account_role(), "source": base}}),
    )
    .await;
    let message = pc_reason(&configs, &wrong, "AssumeRoleFailed").await;
    assert!(message.contains("AssumeRole"), "{message}");
    delete_provider(&world, &wrong).await;

    let name = format!("{}-cross", world.ns.name);
    provider(
        &world,
        &name,
        json!({"assumeRole": {
            "roleArn": cross_account_role(), "externalId": "natop-blue",
            "sessionName": "natop-test", "source": base,
        }}),
    )
    .await;
    pc_reason(&configs, &name, "CredentialsValid").await;
    assert_eq!(pc_account(&configs, &name).await, ACCOUNT_2);
    let id = gateway_with_dnat(&world, &name, "gw").await;
    // The gateway is in the second account, where only its keys see it.
    let second = crate::support::cloud::cloud(&world, 1);
    let found = second
        .describe_all(
            &natop::cloud::alibaba::actions::nat_gateway::DescribeNatGateways {
                region_id: "cn-hangzhou".into(),
                nat_gateway_id: Some(id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{id} in account {ACCOUNT_2}");
    let first = crate::support::cloud::cloud(&world, 0);
    let mine = first
        .describe_all(
            &natop::cloud::alibaba::actions::nat_gateway::DescribeNatGateways {
                region_id: "cn-hangzhou".into(),
                nat_gateway_id: Some(id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(mine.is_empty(), "{id} is not the first account's");
    delete_provider(&world, &name).await;
    world.stop().await;
}

#[tokio::test]
async fn the_instance_role_comes_from_the_metadata_service() {
    let mut world = world_with_roles("cred-ecs").await;
    world.start_operator();
    let name = format!("{}-ecs", world.ns.name);
    let configs = provider(
        &world,
        &name,
        json!({"ecsRamRole": {"metadataEndpoint": world.emulator.endpoint()}}),
    )
    .await;
    pc_reason(&configs, &name, "CredentialsValid").await;
    assert_eq!(pc_account(&configs, &name).await, ACCOUNT_2);
    // A role the instance does not have.
    let other = format!("{}-ecs-other", world.ns.name);
    provider(
        &world,
        &other,
        json!({"ecsRamRole": {"roleName": "someone-else", "metadataEndpoint": world.emulator.endpoint()}}),
    )
    .await;
    let message = pc_reason(&configs, &other, "EcsRamRoleFailed").await;
    assert!(message.contains("HTTP 404"), "{message}");
    delete_provider(&world, &other).await;
    delete_provider(&world, &name).await;
    world.stop().await;
}

#[tokio::test]
async fn credentials_are_renewed_before_they_expire_while_a_long_reconcile_runs() {
    let mut world = world_with_roles("cred-renew").await;
    world.start_operator();
    let base = json!({"secretRef": {"namespace": world.ns.name, "name": "alibaba-credentials"}});
    let name = format!("{}-renew", world.ns.name);
    let configs = provider(
        &world,
        &name,
        json!({"assumeRole": {
            "roleArn": cross_account_role(), "externalId": "natop-blue",
            "durationSeconds": 3600, "source": base,
        }}),
    )
    .await;
    pc_reason(&configs, &name, "CredentialsValid").await;
    let assumed = |calls: &Value| answered(calls, "AssumeRole");
    let endpoint = world.emulator.endpoint();
    let calls = emulator_admin(&endpoint, "calls").await;
    let before = assumed(&calls);
    let checks = answered(&calls, "GetCallerIdentity");

    // A gateway whose creation spans the service's clock moving on: its
    // polls go on across the jumps.
    let gateways: Api<NatGateway> = create(
        &world,
        "NatGateway",
        "gw",
        json!({"providerConfigRef": {"name": name}, "vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip(0).0]}),
    )
    .await;
    // Most of the credentials' hour passes on the service's clock: a few
    // minutes are left, less than natop's margin.
    emulator_post(&endpoint, "clock", json!({"advanceSeconds": 3300})).await;
    let entries: Api<ForwardEntry> = create(
        &world,
        "ForwardEntry",
        "web",
        json!({
            "providerConfigRef": {"name": name},
            "natGatewayRef": {"name": "gw"},
            "externalIp": eip(0).1, "externalPort": "443",
            "internalIp": "172.16.1.10", "internalPort": "8443", "ipProtocol": "TCP",
        }),
    )
    .await;
    wait_for("credentials renewed", TIMEOUT, || async {
        (assumed(&emulator_admin(&endpoint, "calls").await) > before).then_some(())
    })
    .await;
    // The first credentials expire: natop signs with the renewed ones.
    emulator_post(&endpoint, "clock", json!({"advanceSeconds": 600})).await;
    wait_for("gateway Ready", TIMEOUT, || async {
        gateways.get("gw").await.ok().filter(ready).map(|_| ())
    })
    .await;
    wait_for("entry Ready", TIMEOUT, || async {
        entries.get("web").await.ok().filter(ready).map(|_| ())
    })
    .await;
    // A change after the jump reaches the cloud too.
    entries
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"internalPort": "9443"}})),
        )
        .await
        .unwrap();
    wait_for("the modified entry Ready", TIMEOUT, || async {
        let e = entries.get("web").await.ok()?;
        (ready(&e) && crate::support::objects::current(&e)).then_some(())
    })
    .await;
    // natop renewed them itself: the ProviderConfig was not checked again
    // (a check builds a new client, with new credentials).
    let calls = emulator_admin(&endpoint, "calls").await;
    assert_eq!(answered(&calls, "GetCallerIdentity"), checks, "{calls}");
    let failures = token_failures(&world).await;
    assert!(
        failures.is_empty(),
        "no call was made with expired credentials: {failures:?}"
    );
    delete_provider(&world, &name).await;
    world.stop().await;
}
