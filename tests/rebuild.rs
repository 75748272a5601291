//! A cluster rebuilt from Git: the objects come back with new UIDs and no
//! status (as after a fresh etcd), and natop, run with the same owner id,
//! takes over what it made before instead of buying it again; run with
//! another owner id, it touches nothing of the first owner's. Against the
//! real API server and the emulator, whose call log proves what was written.
//!
//! The rebuild is made in the test's namespace of the shared control plane:
//! the operator stops, every natop object (and the ProviderConfig) loses its
//! finalizer and is deleted, and the same manifests are applied again. What
//! natop sees is what a fresh control plane shows it: the same names, new
//! UIDs, no status, no finalizers.

use std::collections::BTreeMap;

use crate::support::cloud::{eip, gateway_spec, vpc, vswitch};
use crate::support::cluster::{TIMEOUT, emulator_admin, wait_for};
use crate::support::objects::{create, message_of, ready, wait_gone, wait_reason_any_generation};
use crate::support::operator::World;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use natop::api::{BandwidthPackage, ForwardEntry, NatGateway, ProviderConfig, SnatEntry};
use natop::cloud::alibaba::actions::nat_gateway::DescribeNatGateways;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The manifests, as a GitOps repository holds them: kind, name, spec.
fn manifests() -> Vec<(&'static str, String, Value)> {
    let (eip0, ip0) = eip(0);
    let mut objects = vec![(
        "NatGateway",
        "gw".to_string(),
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip0], "tags": {"team": "payments"}}),
    )];
    for port in [80, 81, 82] {
        objects.push((
            "ForwardEntry",
            format!("web-{port}"),
            json!({"natGatewayRef": {"name": "gw"}, "externalIp": ip0,
                   "externalPort": port.to_string(), "internalIp": "172.16.0.10",
                   "internalPort": (port + 8000).to_string(), "ipProtocol": "TCP"}),
        ));
    }
    objects.push((
        "SnatEntry",
        "out".to_string(),
        json!({"natGatewayRef": {"name": "gw"}, "snatIps": [ip0], "sourceCIDR": "172.20.0.0/16"}),
    ));
    objects.push((
        "BandwidthPackage",
        "pkg".to_string(),
        json!({"alibaba": {"natGatewayRef": {"name": "gw"}, "bandwidth": 5, "ipCount": 1}}),
    ));
    objects
}

async fn apply_manifests(world: &World) {
    for (kind, name, spec) in manifests() {
        match kind {
            "NatGateway" => drop(create::<NatGateway>(world, kind, &name, spec).await),
            "ForwardEntry" => drop(create::<ForwardEntry>(world, kind, &name, spec).await),
            "SnatEntry" => drop(create::<SnatEntry>(world, kind, &name, spec).await),
            _ => drop(create::<BandwidthPackage>(world, kind, &name, spec).await),
        }
    }
}

/// What the objects recorded: `kind/name` → (uid, cloud id), once all are Ready.
async fn all_ready(world: &World) -> BTreeMap<String, (String, String)> {
    wait_for("every object Ready", TIMEOUT, || async {
        let mut found = BTreeMap::new();
        collect::<NatGateway>(world, "NatGateway", &mut found, |s| s.id.clone()).await?;
        collect::<ForwardEntry>(world, "ForwardEntry", &mut found, |s| s.id.clone()).await?;
        collect::<SnatEntry>(world, "SnatEntry", &mut found, |s| s.id.clone()).await?;
        collect::<BandwidthPackage>(world, "BandwidthPackage", &mut found, |s| s.id.clone())
            .await?;
        (found.len() == manifests().len()).then_some(found)
    })
    .await
}

async fn collect<K>(
    world: &World,
    kind: &str,
    found: &mut BTreeMap<String, (String, String)>,
    id: impl Fn(&<K as HasStatus>::Status) -> Option<String>,
) -> Option<()>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Serialize,
    K: HasStatus,
{
    let api: Api<K> = Api::namespaced(world.client.clone(), &world.ns.name);
    for object in api.list(&ListParams::default()).await.ok()?.items {
        if !ready(&object) {
            return None;
        }
        let recorded = id(object.status_of()?)?;
        found.insert(
            format!("{kind}/{}", object.name_any()),
            (object.uid().unwrap_or_default(), recorded),
        );
    }
    Some(())
}

/// The status of the kinds the test reads.
trait HasStatus {
    type Status;
    fn status_of(&self) -> Option<&Self::Status>;
}

macro_rules! has_status {
    ($($kind:ty => $status:ty),*) => {$(
        impl HasStatus for $kind {
            type Status = $status;
            fn status_of(&self) -> Option<&$status> {
                self.status.as_ref()
            }
        }
    )*};
}

has_status!(
    NatGateway => natop::api::nat_gateway::NatGatewayStatus,
    ForwardEntry => natop::api::forward_entry::ForwardEntryStatus,
    SnatEntry => natop::api::snat_entry::SnatEntryStatus,
    BandwidthPackage => natop::api::bandwidth_package::BandwidthPackageStatus
);

/// Throw the objects away as a lost control plane does: no finalizer runs,
/// nothing is deleted in the cloud.
async fn lose<K>(world: &World)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(world.client.clone(), &world.ns.name);
    for object in api.list(&ListParams::default()).await.unwrap().items {
        let name = object.name_any();
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
        let _ = api.delete(&name, &DeleteParams::default()).await;
        wait_gone(&api, &name).await;
    }
}

/// Stop the operator, lose every object and the ProviderConfig, and apply
/// the same ProviderConfig and manifests again.
async fn rebuild(world: &mut World) {
    world.kill_operator().await;
    lose::<ForwardEntry>(world).await;
    lose::<SnatEntry>(world).await;
    lose::<BandwidthPackage>(world).await;
    lose::<NatGateway>(world).await;
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    let old = configs.get(&world.provider).await.unwrap();
    configs
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    configs
        .delete(&world.provider, &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&configs, &world.provider).await;
    let again: ProviderConfig = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1",
        "kind": "ProviderConfig",
        "metadata": {"name": world.provider, "labels": old.metadata.labels},
        "spec": old.spec,
    }))
    .unwrap();
    configs
        .create(&PostParams::default(), &again)
        .await
        .unwrap();
    apply_manifests(world).await;
}

/// The emulator's calls since `since` (exclusive).
async fn calls_since(world: &World, since: u64) -> Vec<Value> {
    let log = emulator_admin(&world.emulator.endpoint(), &format!("log?since={since}")).await;
    log["calls"].as_array().cloned().unwrap_or_default()
}

async fn last_seq(world: &World) -> u64 {
    calls_since(world, 0)
        .await
        .last()
        .and_then(|c| c["seq"].as_u64())
        .unwrap_or(0)
}

/// The actions in `calls` that buy or make something (tried or done).
fn creates(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| c["action"].as_str())
        .filter(|a| a.starts_with("Create") || a.starts_with("Allocate") || a.starts_with("Add"))
        .map(String::from)
        .collect()
}

/// Every successful call in `calls` that changes something.
fn writes(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c["outcome"].as_str() == Some("success"))
        .filter_map(|c| c["action"].as_str())
        .filter(|a| !["Describe", "List", "Get"].iter().any(|p| a.starts_with(p)))
        .map(String::from)
        .collect()
}

/// The reasons of the events about the object with `uid`.
async fn reasons_for(world: &World, uid: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns.name);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.uid.as_deref()) == Some(uid))
        .filter_map(|e| e.reason)
        .collect()
}

/// The gateways in the emulator's region, with their tags.
async fn cloud_gateways(world: &World) -> BTreeMap<String, BTreeMap<String, String>> {
    crate::support::cloud::cloud(world, 0)
        .describe_all(&DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|g| {
            let tags = g
                .tags
                .iter()
                .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                .collect();
            (g.nat_gateway_id, tags)
        })
        .collect()
}

/// The number of each kind of resource in the emulator's region.
async fn counts(world: &World) -> BTreeMap<String, usize> {
    let state = emulator_admin(&world.emulator.endpoint(), "state").await;
    let region = &state["world"]["alibaba"]["1380000000000001"]["regions"]["cn-hangzhou"];
    [
        "natGateways",
        "forwardEntries",
        "snatEntries",
        "bandwidthPackages",
    ]
    .iter()
    .map(|table| {
        let n = region[*table].as_object().map_or(0, serde_json::Map::len);
        (table.to_string(), n)
    })
    .collect()
}

#[tokio::test]
async fn a_rebuilt_cluster_takes_over_what_natop_made_and_another_owner_touches_nothing() {
    let mut world = World::start("rebuild").await;
    apply_manifests(&world).await;
    let before = all_ready(&world).await;
    let cloud_before = counts(&world).await;
    assert_eq!(cloud_before["natGateways"], 1, "{cloud_before:?}");
    assert_eq!(cloud_before["forwardEntries"], 3, "{cloud_before:?}");
    assert_eq!(cloud_before["snatEntries"], 1, "{cloud_before:?}");
    assert_eq!(cloud_before["bandwidthPackages"], 1, "{cloud_before:?}");
    let gateway_id = before["NatGateway/gw"].1.clone();
    let tags = cloud_gateways(&world).await[&gateway_id].clone();
    assert_eq!(tags["natop.dev/owner"], world.owner_id);
    assert_eq!(tags["natop.dev/kind"], "NatGateway");
    assert_eq!(tags["natop.dev/object"], format!("{}/gw", world.ns.name));
    assert_eq!(tags["team"], "payments");

    // The same owner id after a rebuild: everything adopted, nothing bought.
    let since = last_seq(&world).await;
    rebuild(&mut world).await;
    world.start_operator();
    let after = all_ready(&world).await;
    for (object, (uid, id)) in &after {
        let (old_uid, old_id) = &before[object];
        assert_ne!(uid, old_uid, "{object} kept its UID: not a rebuild");
        assert_eq!(id, old_id, "{object} holds another cloud resource");
        let reasons = wait_for("the Adopted event", TIMEOUT, || async {
            let reasons = reasons_for(&world, uid).await;
            reasons.iter().any(|r| r == "Adopted").then_some(reasons)
        })
        .await;
        assert!(
            !reasons.iter().any(|r| r == "Created"),
            "{object}: {reasons:?}"
        );
    }
    let calls = calls_since(&world, since).await;
    assert_eq!(creates(&calls), Vec::<String>::new(), "bought again");
    assert_eq!(counts(&world).await, cloud_before);
    // The only write: the owner-uid tag follows the new object.
    let written = writes(&calls);
    assert!(
        written.iter().all(|a| a == "TagResources"),
        "writes after the rebuild: {written:?}"
    );
    let tags = cloud_gateways(&world).await[&gateway_id].clone();
    assert_eq!(tags["natop.dev/owner-uid"], after["NatGateway/gw"].0);

    // Another owner id: the first owner's gateway is neither adopted nor
    // changed, and no second one is bought beside it.
    let first_owner = world.owner_id.clone();
    let since = last_seq(&world).await;
    rebuild(&mut world).await;
    world.owner_id = format!("{first_owner}-other");
    world.start_operator();
    let gateways: Api<NatGateway> = Api::namespaced(world.client.clone(), &world.ns.name);
    let stalled =
        wait_reason_any_generation(&gateways, "gw", "Stalled", "OwnedByAnotherOperator").await;
    let message = message_of(&stalled, "Stalled");
    assert!(
        message.contains(&first_owner) && message.contains(&gateway_id),
        "{message}"
    );
    assert_eq!(stalled.status.and_then(|s| s.id), None);
    let entries: Api<ForwardEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
    wait_reason_any_generation(&entries, "web-80", "Ready", "WaitingForGateway").await;
    let calls = calls_since(&world, since).await;
    assert_eq!(
        writes(&calls),
        Vec::<String>::new(),
        "the other owner wrote"
    );
    assert_eq!(counts(&world).await, cloud_before);
    assert_eq!(
        cloud_gateways(&world).await[&gateway_id]["natop.dev/owner"],
        first_owner
    );

    // Back to the first owner id: the objects adopt their resources again,
    // and deleting them deletes what natop made.
    world.kill_operator().await;
    world.owner_id = first_owner;
    world.start_operator();
    let last = all_ready(&world).await;
    for (object, (_, id)) in &last {
        assert_eq!(id, &before[object].1, "{object}");
    }
    for (kind, name, _) in manifests().into_iter().rev() {
        let params = DeleteParams::default();
        match kind {
            "NatGateway" => {
                let api: Api<NatGateway> = Api::namespaced(world.client.clone(), &world.ns.name);
                api.delete(&name, &params).await.unwrap();
            }
            "ForwardEntry" => {
                let api: Api<ForwardEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
                api.delete(&name, &params).await.unwrap();
            }
            "SnatEntry" => {
                let api: Api<SnatEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
                api.delete(&name, &params).await.unwrap();
            }
            _ => {
                let api: Api<BandwidthPackage> =
                    Api::namespaced(world.client.clone(), &world.ns.name);
                api.delete(&name, &params).await.unwrap();
            }
        }
    }
    wait_gone(&gateways, "gw").await;
    wait_for("the cloud emptied", TIMEOUT, || async {
        let left = counts(&world).await;
        left.values().all(|n| *n == 0).then_some(())
    })
    .await;
    world.stop().await;
}

/// The notes of the Warning events about the ProviderConfig with `uid`
/// (recorded in whichever namespace the recorder chose for a cluster-scoped
/// object).
async fn warnings_about(world: &World, uid: &str, reason: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::all(world.client.clone());
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.uid.as_deref()) == Some(uid))
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.note)
        .collect()
}

/// Make the ProviderConfig controller look again (a change of the object).
async fn touch_provider(world: &World, n: usize) {
    Api::<ProviderConfig>::all(world.client.clone())
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"test/touch": n.to_string()}}})),
        )
        .await
        .unwrap();
}

/// `natop_unclaimed_resources` for the world's ProviderConfig, as
/// `/metrics` shows it; `None` before the first report.
fn unclaimed_gauge(world: &World) -> Option<i64> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &world.metrics.registry()).unwrap();
    let series = format!(
        "natop_unclaimed_resources{{provider_config=\"{}\",kind=\"NatGateway\"}} ",
        world.provider
    );
    text.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn gateways_no_object_claims_are_reported_never_deleted_and_orphans_let_go() {
    let mut world = World::start("unclaimed").await;
    let gateways: Api<NatGateway> = create(
        &world,
        "NatGateway",
        "lost",
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip(0).0]}),
    )
    .await;
    create::<NatGateway>(
        &world,
        "NatGateway",
        "let-go",
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip(1).0], "deletionPolicy": "Orphan"}),
    )
    .await;
    let ready_id = |name: &'static str| {
        let gateways = gateways.clone();
        async move {
            wait_for("the gateway Ready", TIMEOUT, || async {
                let gw = gateways.get(name).await.ok()?;
                ready(&gw).then(|| gw.status?.id).flatten()
            })
            .await
        }
    };
    let lost = ready_id("lost").await;
    let orphan = ready_id("let-go").await;
    let pc_uid = Api::<ProviderConfig>::all(world.client.clone())
        .get(&world.provider)
        .await
        .unwrap()
        .uid()
        .unwrap();
    touch_provider(&world, 1).await;
    wait_for("no unclaimed gateway counted", TIMEOUT, || async {
        (unclaimed_gauge(&world) == Some(0)).then_some(())
    })
    .await;

    // Orphaned: natop's tags come off, and the gateway stays.
    gateways
        .delete("let-go", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&gateways, "let-go").await;
    let tags = cloud_gateways(&world).await[&orphan].clone();
    assert!(
        !tags.keys().any(|k| k.starts_with("natop.dev/")),
        "natop's tags stayed on the orphan: {tags:?}"
    );

    // Lost (the object went without its finalizer running): reported.
    world.kill_operator().await;
    lose::<NatGateway>(&world).await;
    world.start_operator();
    touch_provider(&world, 2).await;
    let notes = wait_for("the UnclaimedResources warning", TIMEOUT, || async {
        let notes = warnings_about(&world, &pc_uid, "UnclaimedResources").await;
        (!notes.is_empty()).then_some(notes)
    })
    .await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&lost) && n.contains(&world.owner_id)),
        "{notes:?}"
    );
    assert!(!notes.iter().any(|n| n.contains(&orphan)), "{notes:?}");
    wait_for("one unclaimed gateway counted", TIMEOUT, || async {
        (unclaimed_gauge(&world) == Some(1)).then_some(())
    })
    .await;
    let left = cloud_gateways(&world).await;
    assert!(
        left.contains_key(&lost) && left.contains_key(&orphan),
        "{left:?}"
    );

    // Applied again, the object adopts it and nothing is unclaimed.
    create::<NatGateway>(
        &world,
        "NatGateway",
        "lost",
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip(0).0]}),
    )
    .await;
    assert_eq!(ready_id("lost").await, lost);
    touch_provider(&world, 3).await;
    wait_for("no unclaimed gateway counted", TIMEOUT, || async {
        (unclaimed_gauge(&world) == Some(0)).then_some(())
    })
    .await;
    gateways
        .delete("lost", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&gateways, "lost").await;
    world.stop().await;
}

#[tokio::test]
async fn two_gateways_carrying_one_object_s_identity_stall_it_and_nothing_is_bought() {
    let world = World::start("ambiguous").await;
    let client = crate::support::cloud::cloud(&world, 0);
    let tags = natop::controller::identity::Ownership::new(
        &world.owner_id,
        "NatGateway",
        &world.ns.name,
        "gw",
        "uid-of-a-lost-object",
    )
    .tags();
    let mut made = Vec::new();
    for _ in 0..2 {
        let created = client
            .call(
                &natop::cloud::alibaba::actions::nat_gateway::CreateNatGateway {
                    region_id: "cn-hangzhou".into(),
                    vpc_id: vpc(),
                    vswitch_id: Some(vswitch()),
                    nat_type: Some("Enhanced".into()),
                    tags: tags
                        .iter()
                        .map(|(k, v)| natop::cloud::alibaba::actions::nat_gateway::Tag {
                            key: k.to_string(),
                            value: Some(v.clone()),
                        })
                        .collect(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        made.push(created.nat_gateway_id);
    }
    let since = last_seq(&world).await;
    let gateways: Api<NatGateway> = create(&world, "NatGateway", "gw", gateway_spec()).await;
    let stalled =
        wait_reason_any_generation(&gateways, "gw", "Stalled", "AmbiguousOwnership").await;
    let message = message_of(&stalled, "Stalled");
    for id in &made {
        assert!(message.contains(id.as_str()), "{message}");
    }
    assert_eq!(
        writes(&calls_since(&world, since).await),
        Vec::<String>::new()
    );
    // Told which one (the annotation), it adopts that one.
    gateways
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/external-id": made[1]}}})),
        )
        .await
        .unwrap();
    let adopted = wait_for("gw Ready on the one named", TIMEOUT, || async {
        let gw = gateways.get("gw").await.ok()?;
        ready(&gw).then(|| gw.status?.id).flatten()
    })
    .await;
    assert_eq!(adopted, made[1]);
    assert_eq!(
        creates(&calls_since(&world, since).await),
        Vec::<String>::new()
    );
    gateways
        .delete("gw", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&gateways, "gw").await;
    world.stop().await;
}
