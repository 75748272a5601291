//! Least privilege, proven: `docs/ram-policy.json` is enough for the whole
//! lifecycle of every Alibaba kind (create, every kind of change, delete),
//! natop calls no VPC action the policy does not grant, and removing any
//! one action from it makes the operation that needs it report a condition
//! naming the missing permission.
//!
//! Every scenario (the full policy, and the policy without each one of its
//! actions) runs at once in an account of its own, driven phase by phase
//! from one loop.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::cloud::{fixture, vpc};
use crate::support::cluster::{emulator_admin, wait_for};
use crate::support::objects::{merged, ready};
use crate::support::operator::{TEST_LABEL, World, delete_provider, quick_durations};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use natop::api::{
    BandwidthPackage, ForwardEntry, Ipv6InternetBandwidth, NatGateway, ProviderConfig, SnatEntry,
};
use natop::emulator::EmulatorConfig;
use natop::emulator::fixture::Fixture;
use serde_json::{Value, json};

/// The policy, as users apply it.
const POLICY: &str = include_str!("../docs/ram-policy.json");

/// How long every scenario together may take.
const DEADLINE: Duration = Duration::from_secs(600);

/// The actions the policy grants.
fn policy_actions() -> Vec<String> {
    let doc: Value = serde_json::from_str(POLICY).expect("docs/ram-policy.json is JSON");
    let mut actions = Vec::new();
    for statement in doc["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        for action in statement["Action"].as_array().expect("a list of actions") {
            actions.push(action.as_str().unwrap().to_string());
        }
    }
    actions
}

/// The policy without `removed`.
fn policy_without(removed: Option<&str>) -> Value {
    let mut doc: Value = serde_json::from_str(POLICY).unwrap();
    for statement in doc["Statement"].as_array_mut().unwrap() {
        let actions = statement["Action"].as_array_mut().unwrap();
        actions.retain(|a| Some(a.as_str().unwrap()) != removed);
    }
    doc
}

/// One account, its key (with the policy less `removed`) and its objects.
struct Scenario {
    index: usize,
    account: String,
    removed: Option<String>,
    phase: usize,
    /// The phase in which the missing permission was named, and where.
    named: Option<(usize, String)>,
}

impl Scenario {
    fn prefix(&self) -> String {
        format!("s{}", self.index)
    }
    fn provider(&self, world: &World) -> String {
        format!("{}-{}", world.ns.name, self.prefix())
    }
    fn key(&self) -> String {
        format!("LTAI5tLeastPriv{:03}", self.index)
    }
    fn secret(&self) -> String {
        format!("least-privilege-secret-{:03}", self.index)
    }
}

/// The default fixture's regions, and one account per scenario (each with
/// its own copy of every region's VPCs, EIPs and IPv6 addresses) whose key
/// carries its policy.
fn fixture_for(scenarios: &[Scenario]) -> Fixture {
    let mut value = serde_json::to_value(fixture()).unwrap();
    let alibaba = value["alibaba"].as_object_mut().unwrap();
    let accounts: Vec<Value> = scenarios
        .iter()
        .map(|s| {
            json!({
                "accountId": s.account, "accessKeyId": s.key(),
                "accessKeySecret": s.secret(), "legacyBandwidthPackages": true,
                // Old accounts: one gateway is Normal, to convert it.
                "legacyNatGateways": true,
                "policies": [format!("natop-{}", s.index)],
            })
        })
        .collect();
    let policies: Vec<Value> = scenarios
        .iter()
        .map(|s| {
            json!({"name": format!("natop-{}", s.index),
                   "document": policy_without(s.removed.as_deref())})
        })
        .collect();
    alibaba.insert("accounts".into(), Value::Array(accounts));
    alibaba.insert("policies".into(), Value::Array(policies));
    let fixture: Fixture = serde_json::from_value(value).unwrap();
    fixture.with_account_ids().unwrap()
}

/// The kinds a scenario makes, by their API.
fn resource(kind: &str) -> ApiResource {
    match kind {
        "NatGateway" => ApiResource::erase::<NatGateway>(&()),
        "ForwardEntry" => ApiResource::erase::<ForwardEntry>(&()),
        "SnatEntry" => ApiResource::erase::<SnatEntry>(&()),
        "BandwidthPackage" => ApiResource::erase::<BandwidthPackage>(&()),
        "Ipv6InternetBandwidth" => ApiResource::erase::<Ipv6InternetBandwidth>(&()),
        other => panic!("no kind {other}"),
    }
}

const KINDS: [&str; 5] = [
    "NatGateway",
    "ForwardEntry",
    "SnatEntry",
    "BandwidthPackage",
    "Ipv6InternetBandwidth",
];

/// `(kind, name, spec)` of every object of a scenario at creation.
fn objects(world: &World, s: &Scenario) -> Vec<(&'static str, String, Value)> {
    let region = &fixture().alibaba.regions[0];
    let eip = |i: usize| &region.eips[i];
    let p = s.prefix();
    let pc = json!({"providerConfigRef": {"name": s.provider(world)}});
    let on = |spec: Value| merged(pc.clone(), &spec);
    vec![
        (
            "NatGateway",
            format!("{p}-gw"),
            on(json!({
                "vpcId": vpc(), "vSwitchId": region.vpcs[0].v_switches[0].v_switch_id,
                "natType": "Normal",
                "eipAllocationIds": [eip(0).allocation_id],
                "description": "first", "tags": {"team": "a", "env": "test"},
                "forceDelete": true,
            })),
        ),
        (
            "NatGateway",
            format!("{p}-gwe"),
            on(json!({
                "vpcId": vpc(), "vSwitchId": region.vpcs[0].v_switches[1].v_switch_id,
                "eipAllocationIds": [eip(1).allocation_id, eip(2).allocation_id],
                "forceDelete": true,
            })),
        ),
        (
            "ForwardEntry",
            format!("{p}-dnat"),
            on(json!({
                "natGatewayRef": {"name": format!("{p}-gwe")}, "externalIp": eip(1).ip_address,
                "externalPort": "80", "internalIp": "172.16.1.10", "internalPort": "8080",
                "ipProtocol": "TCP",
            })),
        ),
        (
            "SnatEntry",
            format!("{p}-snat"),
            on(json!({
                "natGatewayRef": {"name": format!("{p}-gwe")},
                "snatIps": [eip(2).ip_address], "sourceCIDR": "172.20.0.0/24",
            })),
        ),
        (
            "BandwidthPackage",
            format!("{p}-pkg"),
            on(json!({"alibaba": {
                "natGatewayRef": {"name": format!("{p}-gwe")}, "bandwidth": 5, "ipCount": 1,
            }})),
        ),
        // Deleted as it is (the first is converted, and a converted package
        // is left alone).
        (
            "BandwidthPackage",
            format!("{p}-pkg2"),
            on(json!({"alibaba": {
                "natGatewayRef": {"name": format!("{p}-gwe")}, "bandwidth": 6, "ipCount": 1,
            }})),
        ),
        (
            "Ipv6InternetBandwidth",
            format!("{p}-v6"),
            on(json!({
                "ipv6AddressId": region.ipv6_gateways[0].addresses[0].ipv6_address_id,
                "ipv6GatewayId": region.ipv6_gateways[0].ipv6_gateway_id,
                "bandwidth": 10,
            })),
        ),
    ]
}

/// The spec changes of phase `phase` (1, 2, 3): `(kind, name, patch)`.
fn changes(s: &Scenario, phase: usize) -> Vec<(&'static str, String, Value)> {
    let region = &fixture().alibaba.regions[0];
    let p = s.prefix();
    match phase {
        1 => vec![
            (
                "NatGateway",
                format!("{p}-gw"),
                json!({
                    "description": "second", "specification": "Middle",
                    "tags": {"team": "b", "env": null},
                    "eipAllocationIds": [region.eips[3].allocation_id],
                }),
            ),
            (
                "ForwardEntry",
                format!("{p}-dnat"),
                json!({"internalPort": "9090"}),
            ),
            ("SnatEntry", format!("{p}-snat"), json!({"name": "renamed"})),
            (
                "BandwidthPackage",
                format!("{p}-pkg"),
                json!({"alibaba": {"bandwidth": 10, "name": "edge", "ipCount": 2}}),
            ),
            (
                "Ipv6InternetBandwidth",
                format!("{p}-v6"),
                json!({"bandwidth": 20}),
            ),
        ],
        2 => vec![
            (
                "NatGateway",
                format!("{p}-gw"),
                json!({"natType": "Enhanced"}),
            ),
            (
                "BandwidthPackage",
                format!("{p}-pkg"),
                json!({"alibaba": {"ipCount": 1}}),
            ),
        ],
        3 => vec![(
            "BandwidthPackage",
            format!("{p}-pkg"),
            json!({"alibaba": {"convertToCommonBandwidth": true}}),
        )],
        _ => Vec::new(),
    }
}

/// The phase after the last change: every object but the gateways deleted
/// (so that an entry's own delete is seen, not the gateway's taking it).
const DELETE_PHASE: usize = 4;
/// Then the gateways.
const DELETE_GATEWAYS: usize = 5;
/// Past the last phase: the lifecycle is over.
const DONE: usize = 6;

/// Every condition message of `object`.
fn messages(object: &DynamicObject) -> Vec<String> {
    object.data["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["message"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Ready for its current generation.
fn settled(object: &DynamicObject) -> bool {
    ready(object)
}

async fn create_scenario(world: &World, s: &Scenario) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": s.prefix(), "namespace": world.ns.name},
        "stringData": {"accessKeyId": s.key(), "accessKeySecret": s.secret()},
    }))
    .unwrap();
    Api::<Secret>::namespaced(world.client.clone(), &world.ns.name)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let pc: ProviderConfig = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": s.provider(world), "labels": {TEST_LABEL: world.ns.name}},
        "spec": {
            "provider": "Alibaba", "region": "cn-hangzhou",
            "endpoint": world.emulator.endpoint(),
            "allowedNamespaces": [world.ns.name],
            "rateLimit": {"qps": 500, "burst": 500},
            "credentials": {"secretRef": {"namespace": world.ns.name, "name": s.prefix()}},
        },
    }))
    .unwrap();
    Api::<ProviderConfig>::all(world.client.clone())
        .create(&PostParams::default(), &pc)
        .await
        .unwrap();
    for (kind, name, spec) in objects(world, s) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(world.client.clone(), &world.ns.name, &resource(kind));
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": kind,
            "metadata": {"name": name, "labels": world.labels()},
            "spec": spec,
        }))
        .unwrap();
        api.create(&PostParams::default(), &object).await.unwrap();
    }
}

/// Move `s` on to phase `phase`: apply its changes, or delete everything.
async fn enter(world: &World, s: &mut Scenario, phase: usize) {
    s.phase = phase;
    if phase == DELETE_PHASE || phase == DELETE_GATEWAYS {
        let gateways = phase == DELETE_GATEWAYS;
        for (kind, name, _) in objects(world, s)
            .into_iter()
            .filter(|(kind, _, _)| (*kind == "NatGateway") == gateways)
        {
            let api: Api<DynamicObject> =
                Api::namespaced_with(world.client.clone(), &world.ns.name, &resource(kind));
            let _ = api.delete(&name, &DeleteParams::default()).await;
        }
        return;
    }
    for (kind, name, patch) in changes(s, phase) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(world.client.clone(), &world.ns.name, &resource(kind));
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": patch})),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test]
async fn the_documented_policy_is_exactly_what_natop_needs() {
    let actions = policy_actions();
    let unique: BTreeSet<&String> = actions.iter().collect();
    assert_eq!(unique.len(), actions.len(), "an action is listed twice");
    let mut scenarios: Vec<Scenario> = std::iter::once(None)
        .chain(actions.iter().cloned().map(Some))
        .enumerate()
        .map(|(index, removed)| Scenario {
            index,
            account: format!("13900000000{index:05}"),
            removed,
            phase: 0,
            named: None,
        })
        .collect();
    let mut world = World::start_custom(
        "least-priv",
        EmulatorConfig {
            fixture: fixture_for(&scenarios),
            durations: quick_durations(),
            ..EmulatorConfig::default()
        },
        0,
        None,
        false,
    )
    .await;
    // The world's own ProviderConfig uses a key the fixture no longer has.
    let own = world.provider.clone();
    delete_provider(&world, &own).await;
    world.start_operator();
    for s in &scenarios {
        create_scenario(&world, s).await;
    }

    let started = Instant::now();
    loop {
        let mut listed: BTreeMap<String, DynamicObject> = BTreeMap::new();
        for kind in KINDS {
            let api: Api<DynamicObject> =
                Api::namespaced_with(world.client.clone(), &world.ns.name, &resource(kind));
            for object in api.list(&Default::default()).await.unwrap().items {
                listed.insert(
                    format!("{kind}/{}", object.metadata.name.clone().unwrap()),
                    object,
                );
            }
        }
        for s in scenarios
            .iter_mut()
            .filter(|s| s.phase < DONE && s.named.is_none())
        {
            let mine: Vec<(String, Option<&DynamicObject>)> = objects(&world, s)
                .into_iter()
                .map(|(kind, name, _)| {
                    let key = format!("{kind}/{name}");
                    let found = listed.get(&key);
                    (key, found)
                })
                .collect();
            if let Some(removed) = &s.removed {
                let named = mine.iter().find_map(|(key, o)| {
                    let o = (*o)?;
                    messages(o)
                        .into_iter()
                        .find(|m| m.contains(&format!("RAM permission {removed} ")))
                        .map(|m| format!("{key}: {m}"))
                });
                if let Some(where_) = named {
                    s.named = Some((s.phase, where_));
                    continue;
                }
            }
            let phase_done = if s.phase == DELETE_PHASE {
                mine.iter()
                    .filter(|(key, _)| !key.starts_with("NatGateway/"))
                    .all(|(_, o)| o.is_none())
            } else if s.phase == DELETE_GATEWAYS {
                mine.iter().all(|(_, o)| o.is_none())
            } else {
                mine.iter().all(|(_, o)| o.is_some_and(settled))
            };
            if phase_done {
                let next = s.phase + 1;
                if next == DONE {
                    s.phase = DONE;
                } else {
                    enter(&world, s, next).await;
                }
            }
        }
        let open: Vec<String> = scenarios
            .iter()
            .filter(|s| s.phase < DONE && s.named.is_none())
            .map(|s| format!("{:?} in phase {}", s.removed, s.phase))
            .collect();
        if open.is_empty() {
            break;
        }
        if started.elapsed() > DEADLINE {
            let first = scenarios
                .iter()
                .find(|s| s.phase < DONE && s.named.is_none())
                .map(|s| {
                    objects(&world, s)
                        .into_iter()
                        .map(|(kind, name, _)| {
                            let o = listed.get(&format!("{kind}/{name}"));
                            format!(
                                "{kind}/{name}: {}",
                                o.map_or("absent".to_string(), |o| o.data["status"].to_string())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            panic!("scenarios still open after {DEADLINE:?}: {open:?}\n{first}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "{} scenarios in {:.1} s",
        scenarios.len(),
        started.elapsed().as_secs_f64()
    );

    // The full policy carried every kind through its whole lifecycle...
    let full = &scenarios[0];
    assert_eq!(full.phase, DONE, "the full policy completes the lifecycle");
    // ...and natop called exactly the actions it grants, no other.
    let log = emulator_admin(&world.emulator.endpoint(), "log").await;
    let called: BTreeSet<String> = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["account"] == full.account.as_str())
        .filter_map(|c| c["action"].as_str())
        .filter(|a| *a != "GetCallerIdentity")
        .map(|a| format!("vpc:{a}"))
        .collect();
    let granted: BTreeSet<String> = actions.iter().cloned().collect();
    assert_eq!(
        called, granted,
        "the actions natop called with the full policy are the policy's"
    );
    // Removing any one action is noticed, and named.
    for s in &scenarios[1..] {
        let removed = s.removed.as_deref().unwrap();
        let (phase, where_) = s
            .named
            .as_ref()
            .unwrap_or_else(|| panic!("without {removed} the lifecycle still completed"));
        println!("without {removed}: named in phase {phase} by {where_}");
    }

    // What a missing permission held: delete it, and let its finalizer go
    // (natop cannot delete it in the cloud).
    world.kill_operator().await;
    for kind in KINDS {
        let api: Api<DynamicObject> =
            Api::namespaced_with(world.client.clone(), &world.ns.name, &resource(kind));
        for object in api.list(&Default::default()).await.unwrap().items {
            let name = object.metadata.name.clone().unwrap();
            let _ = api.delete(&name, &DeleteParams::default()).await;
            let _ = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await;
        }
    }
    for s in &scenarios {
        delete_provider(&world, &s.provider(&world)).await;
    }
    wait_for(
        "the scenarios' objects gone",
        Duration::from_secs(60),
        || async {
            let api: Api<DynamicObject> = Api::namespaced_with(
                world.client.clone(),
                &world.ns.name,
                &resource("NatGateway"),
            );
            api.list(&Default::default())
                .await
                .ok()?
                .items
                .is_empty()
                .then_some(())
        },
    )
    .await;
    world.stop().await;
}
