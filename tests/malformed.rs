//! Invalid NatGateway objects: the schema rejects what it can express; an
//! object that cannot be decoded (stored before the schema was tightened) is
//! reported in its status (Stalled, InvalidSpec), causes no cloud write, and
//! does not stop the other objects. (Its own binary: it swaps the CRD's schema for a moment.)

mod support;

use kube::api::PostParams;
use kube::core::{ApiResource, DynamicObject};
use kube::{Api, CustomResourceExt};
use natop::api::NatGateway;
use serde_json::{Value, json};
use support::cloud::{vpc, vswitch};
use support::cluster::{TIMEOUT, emulator_admin, install_crd, wait_for};
use support::objects::{condition, manifest};
use support::operator::World;

/// A NatGateway for `world`'s operator, untyped (as kubectl would send it).
fn object(world: &World, name: &str, spec: Value) -> DynamicObject {
    manifest(world, "NatGateway", name, json!({}), spec)
}

#[tokio::test]
async fn invalid_objects_are_rejected_or_stalled_and_never_stop_the_others() {
    let world = World::start("malformed").await;
    let vpc = vpc();
    let dynamic: Api<DynamicObject> = Api::namespaced_with(
        world.client.clone(),
        &world.ns.name,
        &ApiResource::erase::<NatGateway>(&()),
    );
    // The schema says what it can: an unknown specification, a missing vpcId.
    for (name, spec) in [
        ("huge", json!({"vpcId": vpc, "specification": "Huge"})),
        ("novpc", json!({})),
        ("badvpc", json!({"vpcId": "not-a-vpc"})),
    ] {
        let err = dynamic
            .create(&PostParams::default(), &object(&world, name, spec))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("spec."), "{name}: {err}");
    }

    // An object stored under a looser schema, then the schema tightened again.
    let mut loose = NatGateway::crd();
    let schema = loose.spec.versions[0]
        .schema
        .as_mut()
        .unwrap()
        .open_api_v3_schema
        .as_mut()
        .unwrap();
    let spec = schema.properties.as_mut().unwrap().get_mut("spec").unwrap();
    *spec = serde_json::from_value(
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    )
    .unwrap();
    install_crd(&world.client, &loose).await;
    // The API server serves a changed schema a moment after the update: the
    // create is refused until then.
    let stored = object(
        &world,
        "stored",
        json!({"vpcId": vpc, "specification": "Huge"}),
    );
    wait_for("stored under the loose schema", TIMEOUT, || async {
        match dynamic.create(&PostParams::default(), &stored).await {
            Ok(_) => Some(()),
            Err(kube::Error::Api(e)) if e.code == 422 => None,
            Err(e) => panic!("{e}"),
        }
    })
    .await;
    install_crd(&world.client, &NatGateway::crd()).await;
    dynamic
        .create(
            &PostParams::default(),
            &object(
                &world,
                "good",
                json!({"vpcId": vpc, "vSwitchId": vswitch()}),
            ),
        )
        .await
        .unwrap();

    // The API server still lets its status be written (validation
    // ratcheting: an invalid value that the write does not change is kept),
    // so natop says it there: Stalled, InvalidSpec, naming what is wrong.
    let message = wait_for("stored: Stalled InvalidSpec", TIMEOUT, || async {
        let o = dynamic.get("stored").await.ok()?;
        let (status, reason, message) = condition(&o, "Stalled")?;
        (status == "True" && reason == "InvalidSpec").then_some(message)
    })
    .await;
    assert!(
        message.contains("Huge") || message.contains("specification"),
        "{message}"
    );
    let stored = dynamic.get("stored").await.unwrap();
    assert_eq!(
        stored.data["spec"]["specification"], "Huge",
        "the object is left as it was"
    );
    wait_for("good: Ready", TIMEOUT, || async {
        let o = dynamic.get("good").await.ok()?;
        (condition(&o, "Ready")?.0 == "True").then_some(())
    })
    .await;
    let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
    assert_eq!(
        calls["CreateNatGateway"]["success"], 1,
        "only the good object made a gateway: {calls}"
    );
    world.stop().await;
}
