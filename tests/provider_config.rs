//! ProviderConfig: credentials from an allowed namespace only, a clear reason
//! for each problem, and a fixed Secret picked up without a restart.

use crate::support::cloud::{fixture, vpc};
use crate::support::cluster::{TIMEOUT, TestNamespace, wait_for};
use crate::support::objects::{create, message_of, wait_reason_any_generation};
use crate::support::operator::{TEST_LABEL, World, quick_durations};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use natop::api::{NatGateway, ProviderConfig};
use natop::emulator::EmulatorConfig;
use serde_json::json;

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
    let gateways: Api<NatGateway> =
        create(&world, "NatGateway", "gw", json!({"vpcId": vpc()})).await;

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
                     "credentials": {"secretRef": {"namespace": namespace, "name": secret}}}
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
