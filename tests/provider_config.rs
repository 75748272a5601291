//! ProviderConfig: credentials from an allowed namespace only, a clear reason
//! for each problem, and a fixed Secret picked up without a restart.

use crate::support::cloud::{calls_of, fixture, gateway_spec};
use crate::support::cluster::{TIMEOUT, TestNamespace, wait_for};
use crate::support::objects::{create, message_of, wait_reason_any_generation};
use crate::support::operator::{TEST_LABEL, World, delete_provider, quick_durations};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use natop::api::{NatGateway, ProviderConfig};
use natop::emulator::EmulatorConfig;
use serde_json::{Value, json};

/// Wait until ProviderConfig `name` is Ready with reason `want`; returns the
/// message.
async fn ready_reason(api: &Api<ProviderConfig>, name: &str, want: &str) -> String {
    message_of(
        &wait_reason_any_generation(api, name, "Ready", want).await,
        "Ready",
    )
}

#[tokio::test]
async fn a_fixed_secret_is_picked_up_without_a_restart() {
    let world = World::start_custom(
        "pc-fix",
        EmulatorConfig {
            durations: quick_durations(),
            ..EmulatorConfig::default()
        },
        0,
        Some("not-the-secret".into()),
        true,
    )
    .await;
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    ready_reason(&configs, &world.provider, "CredentialsRejected").await;
    let gateways: Api<NatGateway> = create(&world, "NatGateway", "gw", gateway_spec()).await;

    let right = fixture().alibaba.accounts[0].access_key_secret.clone();
    Api::<Secret>::namespaced(world.client.clone(), &world.ns.name)
        .patch(
            "alibaba-credentials",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"accessKeySecret": right}})),
        )
        .await
        .unwrap();
    ready_reason(&configs, &world.provider, "CredentialsValid").await;
    // The endpoints it calls are in its status (spec.endpoint here; the
    // region's, from the official SDK's data, without one).
    let status = configs.get(&world.provider).await.unwrap().status.unwrap();
    let endpoint = world.emulator.endpoint();
    assert_eq!(status.endpoint.as_deref(), Some(endpoint.as_str()));
    assert_eq!(status.sts_endpoint.as_deref(), Some(endpoint.as_str()));
    wait_for("the gateway to become Ready", TIMEOUT, || async {
        let gw = gateways.get("gw").await.ok()?;
        gw.status?
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
            .then_some(())
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn secrets_outside_the_allowed_namespaces_and_missing_keys_are_named() {
    let world = World::start("pc-reasons").await;
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    let elsewhere = TestNamespace::create(&world.client, "pc-elsewhere").await;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "creds", "namespace": elsewhere.name},
        "stringData": {"accessKeyId": "x", "accessKeySecret": "y"}
    }))
    .unwrap();
    Api::<Secret>::namespaced(world.client.clone(), &elsewhere.name)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let partial: Secret = serde_json::from_value(json!({
        "metadata": {"name": "partial", "namespace": world.ns.name},
        "stringData": {"accessKeyId": "x"}
    }))
    .unwrap();
    Api::<Secret>::namespaced(world.client.clone(), &world.ns.name)
        .create(&PostParams::default(), &partial)
        .await
        .unwrap();
    let endpoint = world.emulator.endpoint();
    for (name, namespace, secret) in [
        (
            format!("{}-outside", world.ns.name),
            elsewhere.name.clone(),
            "creds",
        ),
        (
            format!("{}-partial", world.ns.name),
            world.ns.name.clone(),
            "partial",
        ),
        (
            format!("{}-absent", world.ns.name),
            world.ns.name.clone(),
            "absent",
        ),
    ] {
        let pc: ProviderConfig = serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": name, "labels": {TEST_LABEL: world.ns.name}},
            "spec": {"provider": "Alibaba", "region": "cn-hangzhou", "endpoint": endpoint,
                     "credentials": {"secretRef": {"namespace": namespace, "name": secret}},
                     "allowedNamespaces": [world.ns.name]}
        }))
        .unwrap();
        configs.create(&PostParams::default(), &pc).await.unwrap();
    }
    let message = ready_reason(
        &configs,
        &format!("{}-outside", world.ns.name),
        "SecretNotAllowed",
    )
    .await;
    assert!(message.contains(&elsewhere.name), "{message}");
    let message = ready_reason(
        &configs,
        &format!("{}-partial", world.ns.name),
        "SecretKeyMissing",
    )
    .await;
    assert!(message.contains("accessKeySecret"), "{message}");
    ready_reason(
        &configs,
        &format!("{}-absent", world.ns.name),
        "SecretNotFound",
    )
    .await;
    for suffix in ["outside", "partial", "absent"] {
        let _ = configs
            .delete(&format!("{}-{suffix}", world.ns.name), &Default::default())
            .await;
    }
    elsewhere.delete().await;
    world.stop().await;
}

#[tokio::test]
async fn a_plain_http_endpoint_that_is_not_loopback_is_refused_unless_allowed() {
    let world = World::start("pc-http").await;
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    let pc = |name: &str, extra: Value| -> ProviderConfig {
        let mut spec = json!({
            "provider": "Alibaba", "region": "cn-hangzhou",
            "credentials": {"secretRef": {"namespace": world.ns.name, "name": "alibaba-credentials"}},
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": name, "labels": world.labels()},
            "spec": spec,
        }))
        .unwrap()
    };
    let refused = "a plain http:// endpoint that is not a loopback address";
    for (n, extra) in [
        json!({"endpoint": "http://vpc.example.internal/"}),
        json!({"endpoint": "http://127.0.0.1.example.com/"}),
        json!({"stsEndpoint": "http://10.0.0.5:8080/"}),
        json!({"endpoint": "http://10.0.0.5:8080/", "allowInsecureEndpoint": false}),
    ]
    .into_iter()
    .enumerate()
    {
        let result = configs
            .create(
                &PostParams::default(),
                &pc(&format!("{}-bad{n}", world.ns.name), extra.clone()),
            )
            .await;
        crate::support::cluster::assert_refused(result, refused);
    }
    let mut made = Vec::new();
    for (n, extra) in [
        json!({"endpoint": "https://vpc.example.internal/"}),
        json!({"endpoint": "http://127.0.0.1:8787/", "stsEndpoint": "http://[::1]:8787/"}),
        json!({"endpoint": "http://localhost:8787/"}),
        json!({"endpoint": "http://10.0.0.5:8080/", "allowInsecureEndpoint": true}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("{}-good{n}", world.ns.name);
        configs
            .create(&PostParams::default(), &pc(&name, extra.clone()))
            .await
            .unwrap_or_else(|e| panic!("{extra} refused: {e}"));
        made.push(name);
    }
    for name in made {
        delete_provider(&world, &name).await;
    }
    world.stop().await;
}

#[tokio::test]
async fn the_api_server_takes_exactly_one_credential_source() {
    let world = World::start("pc-sources").await;
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    let secret = json!({"namespace": world.ns.name, "name": "alibaba-credentials"});
    let role = "acs:ram::1380000000000002:role/natop";
    let pc = |name: &str, provider: &str, credentials: Value| -> ProviderConfig {
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": name, "labels": world.labels()},
            "spec": {"provider": provider, "region": "cn-hangzhou", "credentials": credentials},
        }))
        .unwrap()
    };
    let refused = [
        (
            "Alibaba",
            json!({}),
            "set exactly one of secretRef, rrsa, assumeRole, ecsRamRole",
        ),
        (
            "Alibaba",
            json!({"secretRef": secret, "rrsa": {}}),
            "set exactly one of secretRef, rrsa, assumeRole, ecsRamRole",
        ),
        (
            "Alibaba",
            json!({"assumeRole": {"roleArn": role, "source": {}}}),
            "set exactly one of secretRef, rrsa, ecsRamRole",
        ),
        (
            "Alibaba",
            json!({"assumeRole": {"roleArn": role, "source": {"rrsa": {}, "ecsRamRole": {}}}}),
            "set exactly one of secretRef, rrsa, ecsRamRole",
        ),
        (
            "UCloud",
            json!({"rrsa": {}}),
            "UCloud credentials come only from a Secret",
        ),
        (
            "Alibaba",
            json!({"assumeRole": {"roleArn": "arn:aws:iam::1:role/x", "source": {"secretRef": secret}}}),
            "roleArn",
        ),
        (
            "Alibaba",
            json!({"rrsa": {"durationSeconds": 60}}),
            "durationSeconds",
        ),
    ];
    for (n, (provider, credentials, message)) in refused.into_iter().enumerate() {
        let result = configs
            .create(
                &PostParams::default(),
                &pc(&format!("{}-bad{n}", world.ns.name), provider, credentials),
            )
            .await;
        crate::support::cluster::assert_refused(result, message);
    }
    let mut made = Vec::new();
    for (n, credentials) in [
        json!({"secretRef": secret}),
        json!({"rrsa": {}}),
        json!({"rrsa": {"roleArn": role, "oidcProviderArn": "acs:ram::1380000000000002:oidc-provider/ack-rrsa-c1", "sessionName": "natop-blue", "durationSeconds": 3600}}),
        json!({"ecsRamRole": {"roleName": "natop-node"}}),
        json!({"assumeRole": {"roleArn": role, "externalId": "abc-123", "source": {"secretRef": secret}}}),
        json!({"assumeRole": {"roleArn": role, "source": {"rrsa": {}}}}),
        json!({"assumeRole": {"roleArn": role, "source": {"ecsRamRole": {}}}}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("{}-good{n}", world.ns.name);
        configs
            .create(&PostParams::default(), &pc(&name, "Alibaba", credentials.clone()))
            .await
            .unwrap_or_else(|e| panic!("{credentials} refused: {e}"));
        made.push(name);
    }
    for name in made {
        delete_provider(&world, &name).await;
    }
    world.stop().await;
}

#[tokio::test]
async fn a_private_ca_is_trusted_through_the_ca_bundle_only() {
    let mut world = World::start_custom(
        "pc-ca",
        EmulatorConfig {
            durations: quick_durations(),
            ..EmulatorConfig::default()
        },
        0,
        None,
        true,
    )
    .await;
    let tls = natop::emulator::Tls {
        cert_pem: include_str!("fixtures/tls/server.pem").to_string(),
        key_pem: include_str!("fixtures/tls/server.key").to_string(),
    };
    let ca = include_str!("fixtures/tls/ca.pem");
    // The same emulator behind https, with a certificate of a private CA.
    let plain = std::mem::replace(
        &mut world.emulator,
        natop::emulator::RunningEmulator::start_tls(
            EmulatorConfig {
                durations: quick_durations(),
                ..EmulatorConfig::default()
            },
            &tls,
        )
        .await
        .expect("the TLS emulator starts"),
    );
    plain.stop().await;
    let endpoint = world.emulator.endpoint();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    configs
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"endpoint": endpoint}})),
        )
        .await
        .unwrap();
    // The check of this generation (the one before was of the plain one).
    let message = message_of(
        &crate::support::objects::wait_reason(
            &configs,
            &world.provider,
            "Ready",
            "EndpointUnreachable",
        )
        .await,
        "Ready",
    );
    assert!(
        message.contains("certificate") && message.contains("spec.caBundle"),
        "{message}"
    );
    // Not PEM: refused by the API server.
    let refused = configs
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"caBundle": "my CA"}})),
        )
        .await;
    crate::support::cluster::assert_refused(refused, "caBundle");
    configs
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"caBundle": ca}})),
        )
        .await
        .unwrap();
    crate::support::objects::wait_reason(&configs, &world.provider, "Ready", "CredentialsValid")
        .await;
    let gateways: Api<NatGateway> = create(&world, "NatGateway", "gw", gateway_spec()).await;
    wait_for("the gateway Ready over https", TIMEOUT, || async {
        let gw = gateways.get("gw").await.ok()?;
        crate::support::objects::ready(&gw).then_some(())
    })
    .await;
    world.stop().await;
}

/// GetCallerIdentity calls once they have stopped (none for 2 s).
async fn checks_settled(world: &World) -> u64 {
    let last = std::cell::Cell::new(calls_of(world, "GetCallerIdentity").await);
    wait_for("the checks to stop", TIMEOUT, || async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let now = calls_of(world, "GetCallerIdentity").await;
        (now == last.replace(now)).then_some(now)
    })
    .await
}

/// A check runs once per change: natop's own status write about it, which
/// the watch brings back, checks nothing again.
#[tokio::test]
async fn a_changed_secret_is_checked_once() {
    let world = World::start("pc-once").await;
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    ready_reason(&configs, &world.provider, "CredentialsValid").await;
    // Nothing more happens by itself (the drift interval is long).
    let before = checks_settled(&world).await;
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns.name);
    let changed = secrets
        .patch(
            "alibaba-credentials",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"rotated": "1"}}})),
        )
        .await
        .unwrap();
    let version = changed.metadata.resource_version.unwrap();
    wait_for("the check of the changed Secret", TIMEOUT, || async {
        let pc = configs.get(&world.provider).await.ok()?;
        (pc.status?.checked_secret_version.as_deref() == Some(version.as_str())).then_some(())
    })
    .await;
    assert_eq!(checks_settled(&world).await, before + 1);
    world.stop().await;
}
