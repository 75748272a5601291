//! The NatGateway controller against the real API server and the emulator.

use std::time::Duration;

use crate::support::cloud::{calls_of, cloud, eip, fixture, gateway_spec, vpc, vswitch};
use crate::support::cluster::{TIMEOUT, assert_refused, emulator_admin, emulator_put, wait_for};
use crate::support::objects::{condition, create_in, merged, message_of, wait_ready, wait_until};
use crate::support::operator::{World, quick_durations};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use natop::api::NatGateway;
use natop::cloud::alibaba::actions::nat_gateway::{
    CreateNatGateway, DescribeNatGateways, ModifyNatGatewayAttribute,
};
use natop::emulator::{EmulatorConfig, faults::FaultConfig, faults::FaultRule};
use serde_json::{Value, json};

/// Create a NatGateway in the fixture's first VPC (unless `spec` names
/// another) with `annotations`.
async fn create(world: &World, name: &str, spec: Value, annotations: Value) -> Api<NatGateway> {
    create_in(
        world,
        &world.ns.name,
        "NatGateway",
        name,
        json!({"annotations": annotations}),
        merged(gateway_spec(), &spec),
    )
    .await
}

async fn gateways(world: &World) -> Vec<natop::cloud::alibaba::actions::nat_gateway::NatGateway> {
    cloud(world, 0)
        .describe_all(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Write calls the emulator answered successfully, by action.
async fn writes(world: &World) -> Vec<(String, u64)> {
    let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
    calls
        .as_object()
        .unwrap()
        .iter()
        .filter(|(action, _)| {
            !action.starts_with("Describe")
                && !action.starts_with("Get")
                && !action.starts_with("List")
        })
        .map(|(action, outcomes)| (action.clone(), outcomes["success"].as_u64().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test]
async fn create_binds_eips_and_becomes_ready_then_delete_leaves_the_cloud_empty() {
    let world = World::start("ngw-life").await;
    let (eip0, ip0) = eip(0);
    let api = create(
        &world,
        "gw",
        json!({"name": "edge", "eipAllocationIds": [eip0]}),
        json!({}),
    )
    .await;
    let gw = wait_ready(&api, "gw").await;
    let status = gw.status.clone().unwrap();
    let id = status.id.clone().unwrap();
    assert!(id.starts_with("ngw-"), "{id}");
    assert!(status.forward_table_id.unwrap().starts_with("ftb-"));
    assert!(status.snat_table_id.unwrap().starts_with("stb-"));
    assert_eq!(status.status.as_deref(), Some("Available"));
    assert!(
        status
            .ip_addresses
            .iter()
            .any(|ip| ip.ip == ip0 && ip.allocation_id == eip0)
    );
    let cloud_gws = gateways(&world).await;
    assert_eq!(cloud_gws.len(), 1);
    assert_eq!(cloud_gws[0].name, "edge");
    assert!(
        gw.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"natop.dev/cleanup".to_string())
    );

    api.delete("gw", &DeleteParams::default()).await.unwrap();
    wait_for("gw to be gone", TIMEOUT, || async {
        api.get_opt("gw").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(gateways(&world).await.is_empty(), "the cloud is empty");
    let state = emulator_admin(&world.emulator.endpoint(), "state").await;
    let key = &fixture().alibaba.accounts[0].account_id;
    let eip_state =
        &state["world"]["alibaba"][key]["regions"]["cn-hangzhou"]["eips"][&eip0]["wire"];
    assert_eq!(
        eip_state["Status"], "Available",
        "the EIP was unbound: {eip_state}"
    );
    world.stop().await;
}

#[tokio::test]
async fn spec_changes_rename_resize_and_rebind() {
    let world = World::start("ngw-change").await;
    let (eip0, _) = eip(0);
    let (eip1, ip1) = eip(1);
    let api = create(
        &world,
        "gw",
        json!({"name": "edge", "eipAllocationIds": [eip0]}),
        json!({}),
    )
    .await;
    wait_ready(&api, "gw").await;
    api.patch(
        "gw",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"name": "edge-renamed", "description": "the edge gateway", "specification": "Middle", "eipAllocationIds": [eip1]}})),
    )
    .await
    .unwrap();
    let gw = wait_until(&api, "gw", "resized and rebound", |g| {
        g.status.as_ref().is_some_and(|s| {
            s.specification.as_deref() == Some("Middle")
                && s.ip_addresses.len() == 1
                && s.ip_addresses[0].ip == ip1
        }) && condition(g, "Ready").is_some_and(|(s, _, _)| s == "True")
    })
    .await;
    let cloud_gw = &gateways(&world).await[0];
    assert_eq!(cloud_gw.name, "edge-renamed");
    assert_eq!(cloud_gw.description, "the edge gateway");
    assert_eq!(cloud_gw.spec, "Middle");
    assert_eq!(gw.status.unwrap().id.unwrap(), cloud_gw.nat_gateway_id);
    world.stop().await;
}

#[tokio::test]
async fn adoption_creates_nothing_and_observe_writes_nothing() {
    let world = World::start("ngw-adopt").await;
    let made = cloud(&world, 0)
        .call(&CreateNatGateway {
            region_id: "cn-hangzhou".into(),
            vpc_id: vpc(),
            vswitch_id: Some(vswitch()),
            nat_type: Some("Enhanced".into()),
            name: Some("made-elsewhere".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let before = writes(&world).await;
    let id = made.nat_gateway_id.clone();
    let api = create(
        &world,
        "observed",
        json!({"managementPolicy": "Observe", "name": "made-elsewhere"}),
        json!({"natop.dev/external-id": id}),
    )
    .await;
    let gw = wait_ready(&api, "observed").await;
    assert_eq!(gw.status.unwrap().id.as_deref(), Some(id.as_str()));
    // A different name under Observe is reported, never written.
    api.patch(
        "observed",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"name": "renamed"}})),
    )
    .await
    .unwrap();
    // Reported as the Drifted condition; the object stays Ready (an
    // observe-only GitOps application stays Healthy).
    let drifted = wait_until(&api, "observed", "drift reported", |g| {
        condition(g, "Drifted").is_some_and(|(s, r, _)| s == "True" && r == "Drifted")
    })
    .await;
    assert!(
        condition(&drifted, "Drifted").is_some_and(|(_, _, m)| m.contains("renamed")),
        "{:?}",
        condition(&drifted, "Drifted")
    );
    assert!(condition(&drifted, "Ready").is_some_and(|(s, r, _)| s == "True" && r == "Observed"));
    assert!(condition(&drifted, "Stalled").is_some_and(|(s, _, _)| s == "False"));
    api.delete("observed", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("observed to be gone", TIMEOUT, || async {
        api.get_opt("observed")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(writes(&world).await, before, "Observe made no write call");
    assert_eq!(
        gateways(&world).await.len(),
        1,
        "and deleting it left the gateway"
    );

    let adopted = create(
        &world,
        "adopted",
        json!({"name": "made-elsewhere"}),
        json!({"natop.dev/external-id": id}),
    )
    .await;
    let gw = wait_ready(&adopted, "adopted").await;
    assert_eq!(gw.status.unwrap().id.as_deref(), Some(id.as_str()));
    assert_eq!(gateways(&world).await.len(), 1, "adoption created nothing");
    world.stop().await;
}

#[tokio::test]
async fn a_paused_gateway_calls_nothing_even_when_deleted_until_resumed() {
    let world = World::start("ngw-paused").await;
    let api = create(&world, "gw", json!({"name": "edge"}), json!({})).await;
    wait_ready(&api, "gw").await;
    let calls = || async { emulator_admin(&world.emulator.endpoint(), "calls").await };
    let pause = |value: &'static str| {
        let api = api.clone();
        async move {
            api.patch(
                "gw",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/paused": value}}})),
            )
            .await
            .unwrap();
        }
    };
    pause("true").await;
    let paused = wait_until(&api, "gw", "paused", |g| {
        condition(g, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "Paused")
    })
    .await;
    assert!(message_of(&paused, "Ready").contains("natop.dev/paused"));
    // A spec change and a delete while paused: no cloud call at all.
    let before = calls().await;
    api.patch(
        "gw",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"name": "renamed"}})),
    )
    .await
    .unwrap();
    api.delete("gw", &DeleteParams::default()).await.unwrap();
    let waiting = wait_until(&api, "gw", "deletion paused", |g| {
        g.metadata.deletion_timestamp.is_some()
            && condition(g, "Ready")
                .is_some_and(|(_, r, m)| r == "Paused" && m.contains("deletion waits"))
    })
    .await;
    assert!(
        waiting
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"natop.dev/cleanup".to_string()),
        "the finalizer stays"
    );
    assert_eq!(calls().await, before, "no cloud call while paused");
    let left = gateways(&world).await;
    assert_eq!((left.len(), left[0].name.as_str()), (1, "edge"));
    // Resumed: the delete goes through.
    pause("false").await;
    wait_for("gw to be gone", TIMEOUT, || async {
        api.get_opt("gw").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(gateways(&world).await.is_empty(), "deleted once resumed");
    world.stop().await;
}

#[tokio::test]
async fn orphan_leaves_the_gateway() {
    let world = World::start("ngw-orphan").await;
    let api = create(&world, "gw", json!({"deletionPolicy": "Orphan"}), json!({})).await;
    wait_ready(&api, "gw").await;
    api.delete("gw", &DeleteParams::default()).await.unwrap();
    wait_for("gw to be gone", TIMEOUT, || async {
        api.get_opt("gw").await.unwrap().is_none().then_some(())
    })
    .await;
    let left = gateways(&world).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, "Available");
    world.stop().await;
}

#[tokio::test]
async fn drift_is_corrected_and_an_out_of_band_delete_is_recreated() {
    let world = World::start("ngw-drift").await;
    let api = create(
        &world,
        "gw",
        json!({"name": "edge"}),
        json!({"natop.dev/drift-interval": "2s"}),
    )
    .await;
    let gw = wait_ready(&api, "gw").await;
    let id = gw.status.unwrap().id.unwrap();
    cloud(&world, 0)
        .call(&ModifyNatGatewayAttribute {
            region_id: "cn-hangzhou".into(),
            nat_gateway_id: id.clone(),
            name: Some("changed-by-hand".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    wait_for("the name to be restored", TIMEOUT, || async {
        let gws = gateways(&world).await;
        (gws.len() == 1 && gws[0].name == "edge").then_some(())
    })
    .await;
    // The event follows the correcting write: wait for it.
    wait_event(&world, "gw", "DriftCorrected").await;

    cloud(&world, 0)
        .call(
            &natop::cloud::alibaba::actions::nat_gateway::DeleteNatGateway {
                region_id: "cn-hangzhou".into(),
                nat_gateway_id: id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let gw = wait_until(&api, "gw", "a new gateway", |g| {
        g.status
            .as_ref()
            .and_then(|s| s.id.clone())
            .is_some_and(|new| new != id)
            && condition(g, "Ready").is_some_and(|(s, _, _)| s == "True")
    })
    .await;
    let new_id = gw.status.unwrap().id.unwrap();
    let gws = gateways(&world).await;
    assert_eq!(gws.len(), 1);
    assert_eq!(gws[0].nat_gateway_id, new_id);
    wait_event(&world, "gw", "Recreated").await;
    world.stop().await;
}

/// Wait until an event with `reason` about object `name` has been published.
async fn wait_event(world: &World, name: &str, reason: &str) {
    wait_for(
        &format!("a {reason} event about {name}"),
        TIMEOUT,
        || async {
            events_of(world, name)
                .await
                .iter()
                .any(|(r, _)| r == reason)
                .then_some(())
        },
    )
    .await;
}

async fn events_of(world: &World, name: &str) -> Vec<(String, String)> {
    let api: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    wait_for("events to be listed", TIMEOUT, || async {
        api.list(&Default::default()).await.ok()
    })
    .await
    .items
    .into_iter()
    .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
    .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
    .collect()
}

#[tokio::test]
async fn a_crash_after_create_makes_no_second_gateway() {
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "CreateNatGateway".into(),
        FaultRule {
            latency_ms: 3000,
            ..FaultRule::default()
        },
    );
    let mut world = World::start_with(
        "ngw-crash",
        EmulatorConfig {
            durations: quick_durations(),
            faults,
            ..EmulatorConfig::default()
        },
        0,
    )
    .await;
    let api = create(&world, "gw", json!({}), json!({})).await;
    // The create is committed and its answer delayed: kill the operator then.
    wait_for("the create call", TIMEOUT, || async {
        let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
        calls["CreateNatGateway"]["success"]
            .as_u64()
            .filter(|n| *n >= 1)
            .map(|_| ())
    })
    .await;
    world.kill_operator().await;
    assert!(
        api.get("gw")
            .await
            .unwrap()
            .status
            .and_then(|s| s.id)
            .is_none(),
        "the id was never recorded"
    );
    world.start_operator();
    let gw = wait_ready(&api, "gw").await;
    let gws = gateways(&world).await;
    assert_eq!(gws.len(), 1, "no second gateway");
    assert_eq!(gw.status.unwrap().id.unwrap(), gws[0].nat_gateway_id);
    world.stop().await;
}

#[tokio::test]
async fn with_faults_every_object_becomes_ready_with_exactly_one_gateway() {
    let faults = FaultConfig {
        default: FaultRule {
            throttling: 0.1,
            service_unavailable: 0.05,
            internal_error: 0.05,
            commit_then_drop: 0.2,
            ..FaultRule::default()
        },
        ..FaultConfig::default()
    };
    let world = World::start_with(
        "ngw-faults",
        EmulatorConfig {
            durations: quick_durations(),
            faults,
            seed: 11,
            ..EmulatorConfig::default()
        },
        0,
    )
    .await;
    let mut api = None;
    for i in 0..5 {
        api = Some(
            create(
                &world,
                &format!("gw-{i}"),
                json!({"name": format!("edge-{i}")}),
                json!({}),
            )
            .await,
        );
    }
    let api = api.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let gw = wait_ready(&api, &format!("gw-{i}")).await;
        ids.push(gw.status.unwrap().id.unwrap());
    }
    // The test reads the cloud without faults: the faults are the operator's
    // to survive, not the check's.
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    let gws = gateways(&world).await;
    assert_eq!(gws.len(), 5, "exactly one gateway per object");
    for id in ids {
        assert!(gws.iter().any(|g| g.nat_gateway_id == id));
    }
    world.stop().await;
}

#[tokio::test]
async fn an_immutable_change_stalls_with_zero_writes() {
    let world = World::start("ngw-invalid").await;
    let api = create(&world, "gw", json!({}), json!({})).await;
    wait_ready(&api, "gw").await;
    let other_vpc = fixture().alibaba.regions[0].vpcs[1].vpc_id.clone();
    // The CRD's rule: the API server refuses the change.
    let patched = api
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"vpcId": other_vpc}})),
        )
        .await;
    assert_refused(patched, "vpcId is immutable");
    // What only the cloud can tell: adopting a gateway whose VPC is not the
    // spec's stalls, and nothing is written.
    let made = cloud(&world, 0)
        .call(&CreateNatGateway {
            region_id: "cn-hangzhou".into(),
            vpc_id: vpc(),
            vswitch_id: Some(vswitch()),
            nat_type: Some("Enhanced".into()),
            name: Some("made-elsewhere".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let before = writes(&world).await;
    let adopted = create(
        &world,
        "adopted",
        json!({"vpcId": other_vpc}),
        json!({"natop.dev/external-id": made.nat_gateway_id}),
    )
    .await;
    let gw = wait_until(&adopted, "adopted", "Stalled InvalidSpec", |g| {
        condition(g, "Stalled").is_some_and(|(s, r, _)| s == "True" && r == "InvalidSpec")
    })
    .await;
    assert!(condition(&gw, "Ready").is_some_and(|(s, _, _)| s == "False"));
    let message = message_of(&gw, "Stalled");
    assert!(message.contains("spec.vpcId is immutable"), "{message}");
    assert_eq!(writes(&world).await, before, "no cloud write by natop");
    world.stop().await;
}

#[tokio::test]
async fn normal_converts_to_enhanced_with_progress_in_status() {
    let world = World::start("ngw-convert").await;
    let vswitch = fixture().alibaba.regions[0].vpcs[0].v_switches[0]
        .v_switch_id
        .clone();
    // A Normal gateway, which this (old) account may still buy.
    let api = create(
        &world,
        "gw",
        json!({"vSwitchId": vswitch, "natType": "Normal"}),
        json!({}),
    )
    .await;
    wait_ready(&api, "gw").await;
    api.patch(
        "gw",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"natType": "Enhanced"}})),
    )
    .await
    .unwrap();
    let converting = wait_until(&api, "gw", "conversion progress in status", |g| {
        g.status.as_ref().is_some_and(|s| {
            s.status.as_deref() == Some("Converting")
                && s.conversion
                    .as_ref()
                    .is_some_and(|c| c.dst_nat_type == "Enhanced" && !c.steps.is_empty())
        })
    })
    .await;
    assert!(
        condition(&converting, "Reconciling")
            .is_some_and(|(s, r, _)| s == "True" && r == "Converting")
    );
    let gw = wait_until(&api, "gw", "Enhanced and Ready", |g| {
        g.status
            .as_ref()
            .is_some_and(|s| s.nat_type.as_deref() == Some("Enhanced"))
            && condition(g, "Ready").is_some_and(|(s, _, _)| s == "True")
    })
    .await;
    assert_eq!(gateways(&world).await[0].nat_type, "Enhanced");
    assert!(gw.status.unwrap().conversion.is_some());
    let patched = api
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"natType": "Normal"}})),
        )
        .await;
    assert_refused(patched, "an Enhanced gateway cannot become Normal");
    world.stop().await;
}

#[tokio::test]
async fn a_subscription_gateway_is_orphaned_with_a_warning() {
    let world = World::start("ngw-prepaid").await;
    let api = create(
        &world,
        "gw",
        json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1}),
        json!({}),
    )
    .await;
    wait_ready(&api, "gw").await;
    api.delete("gw", &DeleteParams::default()).await.unwrap();
    wait_for("gw to be gone", TIMEOUT, || async {
        api.get_opt("gw").await.unwrap().is_none().then_some(())
    })
    .await;
    let left = gateways(&world).await;
    assert_eq!(left.len(), 1, "natop never deletes a subscription");
    assert_eq!(left[0].instance_charge_type, "PrePaid");
    let api_events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    let warned = api_events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .any(|e| e.reason.as_deref() == Some("Orphaned") && e.type_.as_deref() == Some("Warning"));
    assert!(warned, "a Warning event says the gateway was orphaned");
    world.stop().await;
}

#[tokio::test]
async fn delete_waits_for_the_objects_that_use_the_gateway() {
    let world = World::start("ngw-deps").await;
    let api = create(&world, "gw", json!({}), json!({})).await;
    wait_ready(&api, "gw").await;
    // A ForwardEntry naming the gateway (no entry controller runs in this test).
    let entries: Api<kube::core::DynamicObject> = Api::namespaced_with(
        world.client.clone(),
        &world.ns.name,
        &kube::core::ApiResource::erase::<natop::api::ForwardEntry>(&()),
    );
    let entry: kube::core::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "ForwardEntry",
        "metadata": {"name": "web"},
        "spec": {"natGatewayRef": {"name": "gw"}, "externalIp": "47.97.1.11", "externalPort": "80",
                 "internalIp": "172.16.1.10", "internalPort": "8080", "ipProtocol": "TCP"}
    }))
    .unwrap();
    entries
        .create(&PostParams::default(), &entry)
        .await
        .unwrap();
    api.delete("gw", &DeleteParams::default()).await.unwrap();
    let gw = wait_until(&api, "gw", "waiting for its dependents", |g| {
        condition(g, "Reconciling").is_some_and(|(s, r, _)| s == "True" && r == "DependentsExist")
    })
    .await;
    let message = message_of(&gw, "Ready");
    assert!(message.contains("ForwardEntry/web"), "{message}");
    assert_eq!(gateways(&world).await.len(), 1, "not deleted while used");
    entries
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("gw to be gone", TIMEOUT, || async {
        api.get_opt("gw").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(gateways(&world).await.is_empty());
    world.stop().await;
}

#[tokio::test]
async fn a_delete_blocked_by_an_unmanaged_entry_stalls_naming_it_then_finishes() {
    use natop::cloud::alibaba::actions::eip::DescribeEipAddresses;
    use natop::cloud::alibaba::actions::forward_entry::{CreateForwardEntry, DeleteForwardEntry};
    let world = World::start("ngw-blocked").await;
    let (eip0, ip0) = eip(0);
    let api = create(&world, "gw", json!({"eipAllocationIds": [eip0]}), json!({})).await;
    let gw = wait_ready(&api, "gw").await;
    let table = gw.status.unwrap().forward_table_id.unwrap();
    // A DNAT entry made outside natop uses the gateway's EIP.
    let made = cloud(&world, 0)
        .call(&CreateForwardEntry {
            region_id: "cn-hangzhou".into(),
            forward_table_id: table.clone(),
            external_ip: ip0.clone(),
            external_port: "8080".into(),
            internal_ip: "172.16.1.10".into(),
            internal_port: "80".into(),
            ip_protocol: "TCP".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let entry = made.forward_entry_id;
    api.delete("gw", &DeleteParams::default()).await.unwrap();
    let blocked = wait_until(&api, "gw", "Stalled DeleteBlocked", |g| {
        condition(g, "Stalled").is_some_and(|(s, r, _)| s == "True" && r == "DeleteBlocked")
    })
    .await;
    let message = message_of(&blocked, "Stalled");
    assert!(message.contains(&entry), "{message}");
    assert!(
        message.contains("DependencyViolation.ForwardEntry"),
        "{message}"
    );
    assert!(message.contains("forceDelete"), "{message}");
    // It does not hammer the refused call meanwhile.
    let refused = |calls: &Value| {
        calls["UnassociateEipAddress"]["DependencyViolation.ForwardEntry"]
            .as_u64()
            .unwrap_or(0)
    };
    let first = refused(&emulator_admin(&world.emulator.endpoint(), "calls").await);
    assert!(first >= 1, "the refusal was seen");
    // Once the blocker is removed, the delete finishes by itself.
    cloud(&world, 0)
        .call(&DeleteForwardEntry {
            region_id: "cn-hangzhou".into(),
            forward_table_id: table,
            forward_entry_id: entry,
            ..Default::default()
        })
        .await
        .unwrap();
    wait_for("gw to be gone", Duration::from_secs(60), || async {
        api.get_opt("gw").await.unwrap().is_none().then_some(())
    })
    .await;
    let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
    assert!(
        refused(&calls) <= first + 2,
        "refused calls kept coming: {calls}"
    );
    assert!(gateways(&world).await.is_empty(), "the gateway is deleted");
    let eips = cloud(&world, 0)
        .describe_all(&DescribeEipAddresses {
            region_id: "cn-hangzhou".into(),
            allocation_id: Some(eip0.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        eips.iter().all(|e| e.instance_id.is_empty()),
        "EIP released: {eips:?}"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_gateway_missing_from_lagging_listings_is_neither_bought_twice_nor_released() {
    let world = World::start("ngw-lag").await;
    // Listings that do not name a gateway by id leave out gateways younger
    // than an hour; half of the creates lose their answer.
    let faults = FaultConfig {
        actions: [
            (
                "DescribeNatGateways".to_string(),
                FaultRule {
                    list_lag_ms: 3_600_000,
                    ..FaultRule::default()
                },
            ),
            (
                "CreateNatGateway".to_string(),
                FaultRule {
                    commit_then_drop: 0.5,
                    ..FaultRule::default()
                },
            ),
        ]
        .into(),
        ..FaultConfig::default()
    };
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let (eip0, _) = eip(0);
    let api = create(
        &world,
        "gw",
        json!({"name": "lagging", "eipAllocationIds": [eip0]}),
        json!({}),
    )
    .await;
    let gw = wait_ready(&api, "gw").await;
    let id = gw.status.unwrap().id.unwrap();
    let state = emulator_admin(&world.emulator.endpoint(), "state").await;
    let key = &fixture().alibaba.accounts[0].account_id;
    let in_cloud: Vec<&String> =
        state["world"]["alibaba"][key]["regions"]["cn-hangzhou"]["natGateways"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
    assert_eq!(in_cloud, [&id], "exactly one gateway, the recorded one");

    api.delete("gw", &DeleteParams::default()).await.unwrap();
    wait_for("gw to be gone", TIMEOUT, || async {
        api.get_opt("gw").await.unwrap().is_none().then_some(())
    })
    .await;
    let state = emulator_admin(&world.emulator.endpoint(), "state").await;
    let left = &state["world"]["alibaba"][key]["regions"]["cn-hangzhou"]["natGateways"];
    assert!(
        left.as_object().is_none_or(|m| m.is_empty()),
        "the gateway was deleted, not released: {left}"
    );
    world.stop().await;
}

/// The gateway's tags in the cloud, natop's own left out.
async fn user_tags(world: &World, id: &str) -> std::collections::BTreeMap<String, String> {
    gateways(world)
        .await
        .into_iter()
        .find(|g| g.nat_gateway_id == id)
        .expect("the gateway exists")
        .tags
        .into_iter()
        .filter(|t| !t.tag_key.starts_with("natop.dev/"))
        .map(|t| (t.tag_key, t.tag_value))
        .collect()
}

#[tokio::test]
async fn user_tags_are_applied_kept_in_sync_and_natop_s_own_keys_refused() {
    use natop::cloud::alibaba::actions::nat_gateway::Tag;
    use natop::cloud::alibaba::actions::tag::{NAT_GATEWAY, TagResources};
    let world = World::start("ngw-tags").await;
    let api = create(
        &world,
        "gw",
        json!({"tags": {"team": "payments", "cost": "42"}}),
        json!({}),
    )
    .await;
    let id = wait_ready(&api, "gw").await.status.unwrap().id.unwrap();
    let expected: std::collections::BTreeMap<String, String> =
        [("cost", "42"), ("team", "payments")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(user_tags(&world, &id).await, expected);

    // Someone changes a value and adds a tag in the console: the value is
    // set back at the next look (a drift interval of 2 s), theirs stays.
    cloud(&world, 0)
        .call(&TagResources {
            region_id: "cn-hangzhou".into(),
            resource_type: NAT_GATEWAY.into(),
            resource_id: vec![id.clone()],
            tags: vec![
                Tag {
                    key: "team".into(),
                    value: Some("someone-else".into()),
                },
                Tag {
                    key: "console".into(),
                    value: Some("kept".into()),
                },
            ],
        })
        .await
        .unwrap();
    api.patch(
        "gw",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/drift-interval": "2s"}}})),
    )
    .await
    .unwrap();
    wait_for("the tag set back", TIMEOUT, || async {
        let tags = user_tags(&world, &id).await;
        (tags.get("team").map(String::as_str) == Some("payments")).then_some(tags)
    })
    .await;
    wait_event(&world, "gw", "DriftCorrected").await;

    // A key removed from the spec goes from the gateway; the console's stays.
    api.patch(
        "gw",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"tags": {"cost": null}}})),
    )
    .await
    .unwrap();
    let tags = wait_for("the removed key gone", TIMEOUT, || async {
        let tags = user_tags(&world, &id).await;
        (!tags.contains_key("cost")).then_some(tags)
    })
    .await;
    assert_eq!(
        tags.get("console").map(String::as_str),
        Some("kept"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("payments"),
        "{tags:?}"
    );
    let status = wait_ready(&api, "gw").await.status.unwrap();
    assert_eq!(status.owner_id.as_deref(), Some(world.owner_id.as_str()));
    assert_eq!(
        status.tags.keys().collect::<Vec<_>>(),
        vec!["team"],
        "natop records only the keys it applies"
    );

    // natop's own keys, and the cloud's reserved ones, are refused by the API server.
    for (key, rule) in [
        ("natop.dev/owner", "natop's own"),
        ("acs:x", "reserved by the cloud"),
    ] {
        let refused = api
            .patch(
                "gw",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"tags": {key: "v"}}})),
            )
            .await;
        assert_refused(refused, rule);
    }
    let too_many: serde_json::Map<String, Value> =
        (0..17).map(|n| (format!("k{n}"), json!("v"))).collect();
    let refused = api
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"tags": too_many}})),
        )
        .await;
    assert_refused(refused, "must have at most 16 items");
    api.delete("gw", &DeleteParams::default()).await.unwrap();
    crate::support::objects::wait_gone(&api, "gw").await;
    world.stop().await;
}

/// A new account (the fixture's second): the default gateway is Enhanced,
/// billed by capacity units and never resized however often it is compared;
/// a Normal one is refused by the cloud with its code and Stalled with it.
#[tokio::test]
async fn a_new_account_gets_enhanced_gateways_and_a_normal_create_is_stalled() {
    let world = World::start_in_account("ngw-new-account", 1).await;
    let api = create(
        &world,
        "edge",
        json!({}),
        json!({"natop.dev/drift-interval": "1s"}),
    )
    .await;
    let gw = wait_ready(&api, "edge").await;
    let status = gw.status.unwrap();
    assert_eq!(status.nat_type.as_deref(), Some("Enhanced"));
    assert_eq!(
        status.specification, None,
        "billed by capacity units: no size"
    );
    // Compared with the cloud again and again: never resized.
    let describes = calls_of(&world, "DescribeNatGateways").await;
    wait_for("five more comparisons", TIMEOUT, || async {
        (calls_of(&world, "DescribeNatGateways").await >= describes + 5).then_some(())
    })
    .await;
    assert_eq!(calls_of(&world, "ModifyNatGatewaySpec").await, 0);
    assert_eq!(
        writes(&world)
            .await
            .iter()
            .find(|(a, _)| a == "CreateNatGateway"),
        Some(&("CreateNatGateway".to_string(), 1))
    );

    let normal = create(&world, "classic", json!({"natType": "Normal"}), json!({})).await;
    let stalled = wait_until(&normal, "classic", "Stalled ForbiddenNatPayBySpec", |g| {
        condition(g, "Stalled").is_some_and(|(s, r, _)| s == "True" && r == "ForbiddenNatPayBySpec")
    })
    .await;
    let message = message_of(&stalled, "Stalled");
    assert!(message.contains("Pay-by-specification"), "{message}");
    assert_eq!(
        gateways_of(&world, 1).await.len(),
        1,
        "only the Enhanced one exists"
    );
    world.stop().await;
}

async fn gateways_of(
    world: &World,
    account: usize,
) -> Vec<natop::cloud::alibaba::actions::nat_gateway::NatGateway> {
    cloud(world, account)
        .describe_all(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// A VPC NAT gateway: no EIPs, its private IP listed in its status, and a
/// DNAT entry on that IP converges.
#[tokio::test]
async fn an_intranet_gateway_serves_dnat_on_its_private_ip() {
    let world = World::start_in_account("ngw-intranet", 1).await;
    let api = create(
        &world,
        "private",
        json!({"networkType": "intranet"}),
        json!({}),
    )
    .await;
    let gw = wait_until(&api, "private", "Ready with its NAT IP", |g| {
        condition(g, "Ready").is_some_and(|(s, _, _)| s == "True")
            && g.status
                .as_ref()
                .is_some_and(|s| !s.ip_addresses.is_empty())
    })
    .await;
    let status = gw.status.unwrap();
    assert_eq!(status.network_type.as_deref(), Some("intranet"));
    let cloud_gw = &gateways_of(&world, 1).await[0];
    let private_ip = cloud_gw
        .nat_gateway_private_info
        .as_ref()
        .map(|p| p.private_ip_address.clone())
        .unwrap();
    assert_eq!(cloud_gw.network_type, "intranet");
    assert_eq!(status.ip_addresses[0].ip, private_ip);
    let entries: Api<natop::api::ForwardEntry> = create_in(
        &world,
        &world.ns.name,
        "ForwardEntry",
        "db",
        json!({}),
        json!({
            "natGatewayRef": {"name": "private"}, "externalIp": private_ip,
            "externalPort": "5432", "internalIp": "172.16.1.30", "internalPort": "5432",
            "ipProtocol": "TCP",
        }),
    )
    .await;
    wait_ready(&entries, "db").await;
    // The API server refuses EIPs on it.
    let patched = api
        .patch(
            "private",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"eipAllocationIds": [eip(0).0]}})),
        )
        .await;
    assert_refused(patched, "an intranet (VPC) NAT gateway binds no EIPs");
    world.stop().await;
}
