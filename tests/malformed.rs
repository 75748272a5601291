//! Invalid NatGateway objects: the schema rejects what it can express; an
//! object that cannot be decoded (stored before the schema was tightened) is
//! reported with a Warning event (the API server refuses any write to it, its
//! status included), causes no cloud write, and does not stop
//! the other objects. (Its own binary: it swaps the CRD's schema for a moment.)

mod support;

use std::time::Duration;

use kube::api::PostParams;
use kube::core::{ApiResource, DynamicObject};
use kube::{Api, CustomResourceExt};
use natop::api::NatGateway;
use natop::emulator::fixture::Fixture;
use serde_json::{Value, json};
use support::cluster::{emulator_admin, install_crd, wait_for};
use support::operator::World;

const TIMEOUT: Duration = Duration::from_secs(60);

fn object(world: &World, name: &str, spec: Value) -> DynamicObject {
    let mut full = json!({"providerConfigRef": {"name": world.provider}});
    if let (Some(base), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
        "metadata": {"name": name, "labels": world.labels()},
        "spec": full,
    }))
    .unwrap()
}

#[tokio::test]
async fn invalid_objects_are_rejected_or_stalled_and_never_stop_the_others() {
    let world = World::start("malformed").await;
    let vpc = Fixture::default_fixture().alibaba.regions[0].vpcs[0]
        .vpc_id
        .clone();
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
    dynamic
        .create(
            &PostParams::default(),
            &object(
                &world,
                "stored",
                json!({"vpcId": vpc, "specification": "Huge"}),
            ),
        )
        .await
        .unwrap();
    install_crd(&world.client, &NatGateway::crd()).await;
    dynamic
        .create(
            &PostParams::default(),
            &object(&world, "good", json!({"vpcId": vpc})),
        )
        .await
        .unwrap();

    let conditions = |o: &DynamicObject, type_: &str| -> Option<(String, String)> {
        o.data["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == type_)
            .map(|c| {
                (
                    c["status"].as_str().unwrap_or_default().to_string(),
                    c["reason"].as_str().unwrap_or_default().to_string(),
                )
            })
    };
    // Its status cannot be written (the API server refuses any write to an
    // object its schema rejects), so natop says it with a Warning event.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    let note = wait_for("stored: an InvalidSpec event", TIMEOUT, || async {
        events
            .list(&Default::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find_map(|e| {
                let about_stored =
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("stored");
                (about_stored
                    && e.reason.as_deref() == Some("InvalidSpec")
                    && e.type_.as_deref() == Some("Warning"))
                .then(|| e.note.unwrap_or_default())
            })
    })
    .await;
    assert!(
        note.contains("Huge") || note.contains("specification"),
        "{note}"
    );
    wait_for("good: Ready", TIMEOUT, || async {
        let o = dynamic.get("good").await.ok()?;
        (conditions(&o, "Ready")?.0 == "True").then_some(())
    })
    .await;
    let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
    assert_eq!(
        calls["CreateNatGateway"]["success"], 1,
        "only the good object made a gateway: {calls}"
    );
    world.stop().await;
}
