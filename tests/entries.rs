//! The ForwardEntry and SnatEntry controllers against the real API server and
//! the emulator.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::cloud::{answered, cloud, eip, vpc, vswitch};
use crate::support::cluster::{TIMEOUT, assert_refused, emulator_admin, emulator_put, wait_for};
use crate::support::objects::{
    condition, create, ready, wait_ready, wait_ready_within, wait_reason_any_generation,
};
use crate::support::operator::{World, quick_durations};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use natop::api::{DnatPort, ForwardEntry, NatGateway, SnatEntry};
use natop::cloud::alibaba::actions::forward_entry::{
    DeleteForwardEntry, DescribeForwardTableEntries, ForwardTableEntry,
};
use natop::cloud::alibaba::actions::snat_entry::{DescribeSnatTableEntries, SnatTableEntry};
use natop::emulator::faults::{FaultConfig, FaultRule};
use natop::emulator::{Durations, EmulatorConfig};
use natop::metrics::KindLabels;
use serde_json::{Value, json};

/// A Ready gateway named `name` with the first two EIPs bound.
async fn gateway(world: &World, name: &str) -> (String, String, String) {
    let api: Api<NatGateway> = create(
        world,
        "NatGateway",
        name,
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip(0).0, eip(1).0]}),
    )
    .await;
    wait_gateway(&api, name).await
}

async fn wait_gateway(api: &Api<NatGateway>, name: &str) -> (String, String, String) {
    let gw = wait_for(&format!("gateway {name} Ready"), TIMEOUT, || async {
        let gw = api.get(name).await.ok()?;
        (ready(&gw) && gw.status.as_ref()?.ip_addresses.len() == 2).then_some(gw)
    })
    .await;
    let status = gw.status.unwrap();
    (
        status.id.unwrap(),
        status.forward_table_id.unwrap(),
        status.snat_table_id.unwrap(),
    )
}

/// The test's own reads of the cloud go on through injected faults (the
/// faults are the operator's to survive): a retryable answer is read again.
async fn read_through_faults<T, F, Fut>(read: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, natop::cloud::CloudError>>,
{
    let mut last = None;
    for _ in 0..20 {
        match read().await {
            Ok(found) => return found,
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) => panic!("reading the cloud: {e}"),
        }
    }
    panic!("reading the cloud kept failing: {last:?}")
}

async fn dnat(world: &World, table: &str) -> Vec<ForwardTableEntry> {
    let client = cloud(world, 0);
    let request = DescribeForwardTableEntries {
        region_id: "cn-hangzhou".into(),
        forward_table_id: table.into(),
        ..Default::default()
    };
    read_through_faults(|| client.describe_all(&request)).await
}

async fn snat(world: &World, table: &str) -> Vec<SnatTableEntry> {
    let client = cloud(world, 0);
    let request = DescribeSnatTableEntries {
        region_id: "cn-hangzhou".into(),
        snat_table_id: table.into(),
        ..Default::default()
    };
    read_through_faults(|| client.describe_all(&request)).await
}

/// Calls the emulator answered, by action then outcome.
async fn calls(world: &World) -> Value {
    emulator_admin(&world.emulator.endpoint(), "calls").await
}

fn count(calls: &Value, action: &str, outcome: &str) -> u64 {
    calls[action][outcome].as_u64().unwrap_or(0)
}

/// Answers with one of the table-conflict codes, over every action.
fn conflicts(calls: &Value) -> u64 {
    calls
        .as_object()
        .map(|actions| {
            actions
                .values()
                .flat_map(|outcomes| outcomes.as_object().cloned().unwrap_or_default())
                .filter(|(code, _)| {
                    matches!(
                        code.as_str(),
                        "IncorretForwardEntryStatus"
                            | "IncorretSnatEntryStatus"
                            | "OperationConflict"
                    )
                })
                .map(|(_, n)| n.as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// Entry writes sent, whatever their outcome, over every entry action.
fn entry_writes(calls: &Value) -> u64 {
    [
        "CreateForwardEntry",
        "ModifyForwardEntry",
        "DeleteForwardEntry",
        "CreateSnatEntry",
        "ModifySnatEntry",
        "DeleteSnatEntry",
    ]
    .iter()
    .map(|a| answered(calls, a))
    .sum()
}

fn forward_spec(gateway: &str, ip: &str, port: u32) -> Value {
    json!({
        "natGatewayRef": {"name": gateway},
        "externalIp": ip,
        "externalPort": port.to_string(),
        "internalIp": format!("172.16.1.{}", port % 200 + 10),
        "internalPort": "8080",
        "ipProtocol": "TCP",
    })
}

fn snat_spec(gateway: &str, ip: &str, n: u32) -> Value {
    json!({
        "natGatewayRef": {"name": gateway},
        "snatIps": [ip],
        "sourceCIDR": format!("172.20.{n}.0/24"),
    })
}

fn reconciles(world: &World, kind: &'static str) -> i64 {
    i64::try_from(
        world
            .metrics
            .reconciles
            .get_or_create(&KindLabels { kind })
            .get(),
    )
    .unwrap_or(i64::MAX)
}

fn in_flight(world: &World, kind: &'static str) -> i64 {
    world
        .metrics
        .in_flight
        .get_or_create(&KindLabels { kind })
        .get()
}

#[tokio::test]
async fn a_hundred_dnat_and_twenty_snat_entries_converge_without_a_table_conflict() {
    let mut world = World::start_with(
        "entries-scale",
        EmulatorConfig {
            durations: Durations {
                pending: Duration::from_millis(150),
                ..quick_durations()
            },
            ..EmulatorConfig::default()
        },
        0,
    )
    .await;
    let (_, ftb, stb) = gateway(&world, "gw").await;
    let (_, dnat_ip) = eip(0);
    let (_, snat_ip) = eip(1);
    let mut forwards: Option<Api<ForwardEntry>> = None;
    for port in 1..=100 {
        // Every other entry gives its ports as YAML integers: the same
        // entries for natop, and no write once converged (below).
        let mut spec = forward_spec("gw", &dnat_ip, port);
        if port % 2 == 0 {
            spec["externalPort"] = json!(port);
            spec["internalPort"] = json!(8080);
        }
        forwards = Some(create(&world, "ForwardEntry", &format!("web-{port}"), spec).await);
    }
    let mut snats: Option<Api<SnatEntry>> = None;
    for n in 1..=20 {
        snats = Some(
            create(
                &world,
                "SnatEntry",
                &format!("out-{n}"),
                snat_spec("gw", &snat_ip, n),
            )
            .await,
        );
    }
    let (forwards, snats) = (forwards.unwrap(), snats.unwrap());
    wait_for("every entry Ready", Duration::from_secs(240), || async {
        let f = forwards.list(&ListParams::default()).await.ok()?;
        let s = snats.list(&ListParams::default()).await.ok()?;
        let all = f.items.iter().all(ready) && s.items.iter().all(ready);
        (all && f.items.len() == 100 && s.items.len() == 20).then_some(())
    })
    .await;
    let after = calls(&world).await;
    assert_eq!(conflicts(&after), 0, "no table conflict: {after}");
    assert_eq!(count(&after, "CreateForwardEntry", "success"), 100);
    assert_eq!(count(&after, "CreateSnatEntry", "success"), 20);
    let cloud_dnat = dnat(&world, &ftb).await;
    assert_eq!(cloud_dnat.len(), 100);
    assert_eq!(snat(&world, &stb).await.len(), 20);
    for object in forwards.list(&ListParams::default()).await.unwrap() {
        let id = object.status.as_ref().and_then(|s| s.id.clone()).unwrap();
        let port = object.spec.external_port.canonical();
        assert!(
            cloud_dnat
                .iter()
                .any(|e| e.forward_entry_id == id && e.external_port.as_deref() == Some(&port)),
            "{} holds {id}",
            object.name_any()
        );
    }

    // A restarted operator reads each table once for all of its entries:
    // ceil(100/50) = 2 describe calls for the DNAT table, 1 for the SNAT table.
    world.kill_operator().await;
    let before = calls(&world).await;
    let (f0, s0) = (
        reconciles(&world, "ForwardEntry"),
        reconciles(&world, "SnatEntry"),
    );
    world.start_operator();
    wait_for("every entry reconciled again", TIMEOUT, || async {
        (reconciles(&world, "ForwardEntry") >= f0 + 100
            && reconciles(&world, "SnatEntry") >= s0 + 20
            && in_flight(&world, "ForwardEntry") == 0
            && in_flight(&world, "SnatEntry") == 0)
            .then_some(())
    })
    .await;
    let restarted = calls(&world).await;
    let describes = |calls: &Value, action: &str| count(calls, action, "success");
    assert_eq!(
        describes(&restarted, "DescribeForwardTableEntries")
            - describes(&before, "DescribeForwardTableEntries"),
        2,
        "one paginated read of the 100-entry table"
    );
    assert_eq!(
        describes(&restarted, "DescribeSnatTableEntries")
            - describes(&before, "DescribeSnatTableEntries"),
        1
    );
    assert_eq!(entry_writes(&restarted), entry_writes(&before), "no writes");
    world.stop().await;
}

#[tokio::test]
async fn entries_are_modified_and_deleted() {
    let world = World::start("entries-change").await;
    let (_, ftb, stb) = gateway(&world, "gw").await;
    let (_, ip0) = eip(0);
    let (_, ip1) = eip(1);
    let forwards: Api<ForwardEntry> = create(
        &world,
        "ForwardEntry",
        "web",
        json!({
            "natGatewayRef": {"name": "gw"},
            "externalIp": ip0,
            "externalPort": "80",
            "internalIp": "172.16.1.10",
            "internalPort": "8080",
            "ipProtocol": "TCP",
            "name": "web-80",
        }),
    )
    .await;
    let snats: Api<SnatEntry> = create(
        &world,
        "SnatEntry",
        "out",
        json!({"natGatewayRef": {"name": "gw"}, "snatIps": [ip1], "sourceCIDR": "172.20.0.0/16"}),
    )
    .await;
    let fe = wait_ready(&forwards, "web").await;
    let fe_id = fe.status.unwrap().id.unwrap();
    wait_ready(&snats, "out").await;

    forwards
        .patch(
            "web",
            &PatchParams::default(),
            // YAML integers, as users write ports.
            &Patch::Merge(
                json!({"spec": {"internalPort": 9090, "externalPort": 8000, "name": "web-8000"}}),
            ),
        )
        .await
        .unwrap();
    snats
        .patch(
            "out",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"snatIps": [ip1, ip0], "name": "egress"}})),
        )
        .await
        .unwrap();
    let fe = wait_ready(&forwards, "web").await;
    assert_eq!(fe.status.unwrap().id.unwrap(), fe_id, "modified in place");
    let se = wait_ready(&snats, "out").await;
    let cloud_fe = dnat(&world, &ftb).await;
    assert_eq!(cloud_fe.len(), 1);
    assert_eq!(cloud_fe[0].internal_port.as_deref(), Some("9090"));
    assert_eq!(cloud_fe[0].external_port.as_deref(), Some("8000"));
    assert_eq!(cloud_fe[0].forward_entry_name, "web-8000");
    let cloud_se = snat(&world, &stb).await;
    assert_eq!(cloud_se.len(), 1);
    let ips: BTreeSet<&str> = cloud_se[0].snat_ip.split(',').collect();
    assert_eq!(ips, BTreeSet::from([ip0.as_str(), ip1.as_str()]));
    assert_eq!(cloud_se[0].snat_entry_name, "egress");
    assert_eq!(
        se.status.unwrap().snat_ips.map(|s| s.split(',').count()),
        Some(2)
    );
    let before = calls(&world).await;
    assert_eq!(count(&before, "ModifyForwardEntry", "success"), 1);
    assert_eq!(count(&before, "ModifySnatEntry", "success"), 1);

    // The same ports written as strings: the same entry, nothing to write.
    forwards
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"internalPort": "9090", "externalPort": "8000"}})),
        )
        .await
        .unwrap();
    let fe = wait_ready(&forwards, "web").await;
    assert_eq!(fe.spec.external_port, DnatPort::from("8000"));
    assert_eq!(fe.status.unwrap().id.unwrap(), fe_id);
    assert_eq!(
        entry_writes(&calls(&world).await),
        entry_writes(&before),
        "8000 and \"8000\" are one port: no write"
    );

    // An out-of-band change is put back.
    cloud(&world, 0)
        .call(
            &natop::cloud::alibaba::actions::forward_entry::ModifyForwardEntry {
                region_id: "cn-hangzhou".into(),
                forward_table_id: ftb.clone(),
                forward_entry_id: fe_id.clone(),
                internal_ip: Some("172.16.1.99".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    forwards
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/drift-interval": "1s"}}})),
        )
        .await
        .unwrap();
    wait_for("the drift corrected", TIMEOUT, || async {
        let e = dnat(&world, &ftb).await;
        (e.len() == 1 && e[0].internal_ip == "172.16.1.10" && e[0].status == "Available")
            .then_some(())
    })
    .await;

    forwards
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    snats.delete("out", &DeleteParams::default()).await.unwrap();
    wait_for("both objects gone", TIMEOUT, || async {
        (forwards.get_opt("web").await.ok()?.is_none()
            && snats.get_opt("out").await.ok()?.is_none())
        .then_some(())
    })
    .await;
    assert!(dnat(&world, &ftb).await.is_empty());
    assert!(snat(&world, &stb).await.is_empty());
    assert_eq!(conflicts(&calls(&world).await), 0);
    world.stop().await;
}

#[tokio::test]
async fn an_entry_waits_for_its_gateway_and_converges_once_it_is_ready() {
    let world = World::start("entries-wait").await;
    let (_, ip0) = eip(0);
    let forwards: Api<ForwardEntry> = create(
        &world,
        "ForwardEntry",
        "web",
        forward_spec("later", &ip0, 80),
    )
    .await;
    let waiting =
        wait_reason_any_generation(&forwards, "web", "Reconciling", "WaitingForGateway").await;
    let (status, _, message) = condition(&waiting, "Reconciling").unwrap();
    assert_eq!(status, "True");
    assert!(message.contains("NatGateway later"), "{message}");
    assert_eq!(entry_writes(&calls(&world).await), 0);
    // The gateway appears and becomes Ready; the watch brings the entry
    // along at once (its own re-check is 30 s away).
    let (_, ftb, _) = gateway(&world, "later").await;
    let started = std::time::Instant::now();
    wait_ready_within(&forwards, "web", Duration::from_secs(20)).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(dnat(&world, &ftb).await.len(), 1);
    world.stop().await;
}

#[tokio::test]
async fn a_duplicate_external_port_stalls_the_second_entry_only() {
    let world = World::start("entries-dup").await;
    let (_, ftb, _) = gateway(&world, "gw").await;
    let (_, ip0) = eip(0);
    let forwards: Api<ForwardEntry> = create(
        &world,
        "ForwardEntry",
        "first",
        forward_spec("gw", &ip0, 443),
    )
    .await;
    let first = wait_ready(&forwards, "first").await;
    let mut second = forward_spec("gw", &ip0, 443);
    second["internalIp"] = json!("172.16.1.77");
    create::<ForwardEntry>(&world, "ForwardEntry", "second", second).await;
    let stalled =
        wait_reason_any_generation(&forwards, "second", "Stalled", "ForbiddenPortOccupied").await;
    let (status, _, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(status, "True");
    assert!(message.contains("Forbidden.PortOccupied"), "{message}");
    let cloud = dnat(&world, &ftb).await;
    assert_eq!(cloud.len(), 1);
    assert_eq!(
        cloud[0].internal_ip,
        forward_spec("gw", &ip0, 443)["internalIp"]
    );
    assert_eq!(
        Some(cloud[0].forward_entry_id.clone()),
        first.status.unwrap().id
    );
    let still = forwards.get("first").await.unwrap();
    assert!(ready(&still));
    // Deleting the stalled object leaves the first one's entry alone.
    forwards
        .delete("second", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("second gone", TIMEOUT, || async {
        forwards
            .get_opt("second")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(dnat(&world, &ftb).await.len(), 1);
    world.stop().await;
}

#[tokio::test]
async fn crashes_and_faults_leave_exactly_one_cloud_entry_per_object() {
    let mut world = World::start_with(
        "entries-crash",
        EmulatorConfig {
            durations: quick_durations(),
            seed: 7,
            ..EmulatorConfig::default()
        },
        0,
    )
    .await;
    let (_, ftb, stb) = gateway(&world, "gw").await;
    let (_, ip0) = eip(0);
    let (_, ip1) = eip(1);
    // The first create is committed, and its answer comes late: the
    // operator is killed in between.
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "CreateForwardEntry".into(),
        FaultRule {
            latency_ms: 3000,
            ..FaultRule::default()
        },
    );
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let forwards: Api<ForwardEntry> = create(
        &world,
        "ForwardEntry",
        "web-0",
        forward_spec("gw", &ip0, 100),
    )
    .await;
    wait_for("the create committed", TIMEOUT, || async {
        (count(&calls(&world).await, "CreateForwardEntry", "success") >= 1).then_some(())
    })
    .await;
    world.kill_operator().await;
    let recorded = forwards
        .get("web-0")
        .await
        .unwrap()
        .status
        .and_then(|s| s.id);
    assert!(recorded.is_none(), "the id was never recorded");
    // Then throttling, 5xx and lost answers on every call.
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
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    world.start_operator();
    for port in 1..10 {
        create::<ForwardEntry>(
            &world,
            "ForwardEntry",
            &format!("web-{port}"),
            forward_spec("gw", &ip0, 100 + port),
        )
        .await;
    }
    let snats: Option<Api<SnatEntry>> = {
        let mut last = None;
        for n in 0..5 {
            last = Some(
                create(
                    &world,
                    "SnatEntry",
                    &format!("out-{n}"),
                    snat_spec("gw", &ip1, n),
                )
                .await,
            );
        }
        last
    };
    let snats = snats.unwrap();
    for port in 0..10 {
        wait_ready_within(&forwards, &format!("web-{port}"), Duration::from_secs(120)).await;
    }
    for n in 0..5 {
        wait_ready_within(&snats, &format!("out-{n}"), Duration::from_secs(120)).await;
    }
    let cloud_dnat = dnat(&world, &ftb).await;
    assert_eq!(cloud_dnat.len(), 10, "one DNAT entry per object");
    let ports: BTreeSet<_> = cloud_dnat.iter().map(|e| e.external_port.clone()).collect();
    assert_eq!(ports.len(), 10);
    for object in forwards.list(&ListParams::default()).await.unwrap() {
        let id = object.status.and_then(|s| s.id).unwrap();
        assert!(cloud_dnat.iter().any(|e| e.forward_entry_id == id));
    }
    assert_eq!(
        snat(&world, &stb).await.len(),
        5,
        "one SNAT entry per object"
    );

    for port in 0..10 {
        forwards
            .delete(&format!("web-{port}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    for n in 0..5 {
        snats
            .delete(&format!("out-{n}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    wait_for("every object gone", Duration::from_secs(120), || async {
        let f = forwards.list(&ListParams::default()).await.ok()?;
        let s = snats.list(&ListParams::default()).await.ok()?;
        (f.items.is_empty() && s.items.is_empty()).then_some(())
    })
    .await;
    assert!(
        dnat(&world, &ftb).await.is_empty(),
        "the DNAT table is empty"
    );
    assert!(
        snat(&world, &stb).await.is_empty(),
        "the SNAT table is empty"
    );
    world.stop().await;
}

#[tokio::test]
async fn invalid_specs_are_refused_or_stalled_with_zero_writes() {
    let world = World::start("entries-invalid").await;
    let (_, ip0) = eip(0);
    // What the schema can say, the API server refuses.
    for (name, change) in [
        ("port-zero", json!({"externalPort": "0"})),
        ("port-high", json!({"internalPort": "70000"})),
        ("icmp", json!({"ipProtocol": "ICMP"})),
        ("bad-ip", json!({"internalIp": "10.0.0.300"})),
    ] {
        let mut spec = forward_spec("gw", &ip0, 80);
        spec.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let object = serde_json::from_value::<Value>(json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "ForwardEntry",
            "metadata": {"name": name, "labels": world.labels()},
            "spec": spec,
        }))
        .unwrap();
        let dynamic: Api<kube::core::DynamicObject> = Api::namespaced_with(
            world.client.clone(),
            &world.ns.name,
            &kube::core::ApiResource::erase::<ForwardEntry>(&()),
        );
        let result = dynamic
            .create(
                &PostParams::default(),
                &serde_json::from_value(object).unwrap(),
            )
            .await;
        assert!(
            matches!(&result, Err(kube::Error::Api(e)) if e.code == 422),
            "{name}: {result:?}"
        );
    }
    let snats: Api<SnatEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
    let dynamic_snat: Api<kube::core::DynamicObject> = Api::namespaced_with(
        world.client.clone(),
        &world.ns.name,
        &kube::core::ApiResource::erase::<SnatEntry>(&()),
    );
    let bad_cidr = dynamic_snat
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "natop.dev/v1alpha1",
                "kind": "SnatEntry",
                "metadata": {"name": "bad-cidr", "labels": world.labels()},
                "spec": {"natGatewayRef": {"name": "gw"}, "snatIps": [ip0], "sourceCIDR": "172.20.0.0/33"},
            }))
            .unwrap(),
        )
        .await;
    assert!(
        matches!(&bad_cidr, Err(kube::Error::Api(e)) if e.code == 422),
        "{bad_cidr:?}"
    );

    // What a CEL rule says, the API server refuses too, with the rule's
    // message (every rule has its own case in tests/cel_rules.rs).
    let mut any_with_port = forward_spec("gw", &ip0, 80);
    any_with_port["ipProtocol"] = json!("Any");
    let dynamic_forward: Api<kube::core::DynamicObject> = Api::namespaced_with(
        world.client.clone(),
        &world.ns.name,
        &kube::core::ApiResource::erase::<ForwardEntry>(&()),
    );
    let both = json!({"natGatewayRef": {"name": "gw"}, "snatIps": [ip0], "sourceCIDR": "172.20.0.0/16", "sourceVSwitchId": "vsw-abc"});
    let neither = json!({"natGatewayRef": {"name": "gw"}, "snatIps": [ip0]});
    for (api, kind, name, spec, rule) in [
        (
            &dynamic_forward,
            "ForwardEntry",
            "any-port",
            any_with_port,
            "ipProtocol Any needs",
        ),
        (
            &dynamic_snat,
            "SnatEntry",
            "both",
            both,
            "set exactly one of sourceVSwitchId and sourceCIDR",
        ),
        (
            &dynamic_snat,
            "SnatEntry",
            "neither",
            neither,
            "set exactly one of sourceVSwitchId and sourceCIDR",
        ),
    ] {
        let created = api
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "natop.dev/v1alpha1", "kind": kind,
                    "metadata": {"name": name, "labels": world.labels()}, "spec": spec,
                }))
                .unwrap(),
            )
            .await;
        assert_refused(created, rule);
    }
    // What only natop can say: host bits set in sourceCIDR.
    let host_bits =
        json!({"natGatewayRef": {"name": "gw"}, "snatIps": [ip0], "sourceCIDR": "172.20.0.1/16"});
    create::<SnatEntry>(&world, "SnatEntry", "host-bits", host_bits).await;
    let stalled = wait_reason_any_generation(&snats, "host-bits", "Stalled", "InvalidSpec").await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(message.contains("sourceCIDR"), "{message}");
    // A gateway now exists: still nothing is written for invalid objects.
    gateway(&world, "gw").await;
    let after = calls(&world).await;
    assert_eq!(entry_writes(&after), 0, "{after}");
    world.stop().await;
}

#[tokio::test]
async fn a_mass_delete_while_pages_shift_leaves_no_entry_behind() {
    let world = World::start_with(
        "entries-shift",
        EmulatorConfig {
            durations: Durations {
                pending: Duration::from_millis(150),
                ..quick_durations()
            },
            seed: 16,
            ..EmulatorConfig::default()
        },
        0,
    )
    .await;
    let (_, ftb, _) = gateway(&world, "gw").await;
    let (_, ip) = eip(0);
    // More than one page (50) of entries in one table.
    const N: u32 = 70;
    let mut forwards: Option<Api<ForwardEntry>> = None;
    for port in 1..=N {
        forwards = Some(
            create(
                &world,
                "ForwardEntry",
                &format!("web-{port}"),
                forward_spec("gw", &ip, port),
            )
            .await,
        );
    }
    let forwards = forwards.unwrap();
    wait_for("every entry Ready", Duration::from_secs(240), || async {
        let f = forwards.list(&ListParams::default()).await.ok()?;
        (f.items.len() == N as usize && f.items.iter().all(ready)).then_some(())
    })
    .await;
    assert_eq!(dnat(&world, &ftb).await.len(), N as usize);

    // Time passes between the pages of every describe: an entry that
    // finished deleting on page 1 moves an existing one off page 2.
    let shifting = FaultConfig {
        actions: [(
            "DescribeForwardTableEntries".to_string(),
            FaultRule {
                page_shift: 1.0,
                ..FaultRule::default()
            },
        )]
        .into(),
        ..FaultConfig::default()
    };
    emulator_put(&world.emulator.endpoint(), "faults", json!(shifting)).await;
    forwards
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    wait_for(
        "every ForwardEntry gone",
        Duration::from_secs(240),
        || async {
            forwards
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .is_empty()
                .then_some(())
        },
    )
    .await;
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    let left: Vec<String> = dnat(&world, &ftb)
        .await
        .into_iter()
        .filter(|e| e.status != "Deleting")
        .map(|e| e.forward_entry_id)
        .collect();
    assert!(left.is_empty(), "orphaned DNAT entries: {left:?}");
    let after = calls(&world).await;
    assert_eq!(
        count(&after, "DeleteForwardEntry", "success"),
        u64::from(N),
        "one delete per entry: {after}"
    );
    world.stop().await;
}

#[tokio::test]
async fn entries_missing_from_listings_but_read_by_id_are_neither_recreated_nor_released() {
    let world = World::start("entries-lag").await;
    let (_, ftb, stb) = gateway(&world, "gw").await;
    let (_, dnat_ip) = eip(0);
    let (_, snat_ip) = eip(1);
    // The service's listings lag: a new entry is missing from every listing
    // of its table for 6 s, while a describe by its id finds it at once.
    let lag = FaultRule {
        list_lag_ms: 6_000,
        ..FaultRule::default()
    };
    let faults = FaultConfig {
        actions: [
            ("DescribeForwardTableEntries".to_string(), lag.clone()),
            ("DescribeSnatTableEntries".to_string(), lag),
        ]
        .into(),
        ..FaultConfig::default()
    };
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;

    // Created while no listing shows them: recorded, never bought again.
    let mut forwards: Option<Api<ForwardEntry>> = None;
    let mut snats: Option<Api<SnatEntry>> = None;
    for n in 1..=3u32 {
        forwards = Some(
            create(
                &world,
                "ForwardEntry",
                &format!("web-{n}"),
                forward_spec("gw", &dnat_ip, 8000 + n),
            )
            .await,
        );
        snats = Some(
            create(
                &world,
                "SnatEntry",
                &format!("out-{n}"),
                snat_spec("gw", &snat_ip, n),
            )
            .await,
        );
    }
    let (forwards, snats) = (forwards.unwrap(), snats.unwrap());
    for n in 1..=3u32 {
        wait_ready(&forwards, &format!("web-{n}")).await;
        wait_ready(&snats, &format!("out-{n}")).await;
    }
    // One create each; the only refusals are of writes while a (hidden)
    // entry was Pending, never of a second entry with the same key.
    let after = calls(&world).await;
    for (action, busy) in [
        ("CreateForwardEntry", "IncorretForwardEntryStatus"),
        ("CreateSnatEntry", "IncorretSnatEntryStatus"),
    ] {
        assert_eq!(count(&after, action, "success"), 3, "{action}: {after}");
        assert_eq!(
            answered(&after, action),
            3 + count(&after, action, busy),
            "{action}: {after}"
        );
    }
    assert_eq!(dnat(&world, &ftb).await.len(), 3);
    assert_eq!(snat(&world, &stb).await.len(), 3);

    // Deleted while no listing shows them yet: deleted in the cloud, not
    // released as "gone from the table".
    for n in 4..=5u32 {
        create::<ForwardEntry>(
            &world,
            "ForwardEntry",
            &format!("web-{n}"),
            forward_spec("gw", &dnat_ip, 8000 + n),
        )
        .await;
        create::<SnatEntry>(
            &world,
            "SnatEntry",
            &format!("out-{n}"),
            snat_spec("gw", &snat_ip, n),
        )
        .await;
    }
    for n in 4..=5u32 {
        let (web, out) = (format!("web-{n}"), format!("out-{n}"));
        wait_for(&format!("{web} and {out} recorded"), TIMEOUT, || async {
            let f = forwards.get(&web).await.ok()?;
            let s = snats.get(&out).await.ok()?;
            (f.status?.id.is_some() && s.status?.id.is_some()).then_some(())
        })
        .await;
        forwards
            .delete(&web, &DeleteParams::default())
            .await
            .unwrap();
        snats.delete(&out, &DeleteParams::default()).await.unwrap();
    }
    for n in 4..=5u32 {
        let (web, out) = (format!("web-{n}"), format!("out-{n}"));
        wait_for(&format!("{web} and {out} gone"), TIMEOUT, || async {
            (forwards.get_opt(&web).await.ok()?.is_none()
                && snats.get_opt(&out).await.ok()?.is_none())
            .then_some(())
        })
        .await;
    }
    let live_dnat: Vec<String> = dnat(&world, &ftb)
        .await
        .into_iter()
        .filter(|e| e.status != "Deleting")
        .map(|e| e.external_port.unwrap_or_default())
        .collect();
    let live_snat: Vec<String> = snat(&world, &stb)
        .await
        .into_iter()
        .filter(|e| e.status != "Deleting")
        .map(|e| e.source_cidr)
        .collect();
    assert_eq!(
        live_dnat.len(),
        3,
        "only web-1..3 remain in the DNAT table: {live_dnat:?}"
    );
    assert_eq!(
        live_snat.len(),
        3,
        "only out-1..3 remain in the SNAT table: {live_snat:?}"
    );
    let after = calls(&world).await;
    assert_eq!(count(&after, "DeleteForwardEntry", "success"), 2, "{after}");
    assert_eq!(count(&after, "DeleteSnatEntry", "success"), 2, "{after}");
    world.stop().await;
}

#[tokio::test]
async fn a_stale_recorded_id_still_deletes_the_entry_that_replaced_it() {
    let mut world = World::start("entries-stale").await;
    let (_, ftb, _) = gateway(&world, "gw").await;
    let (_, ip) = eip(0);
    let forwards: Api<ForwardEntry> =
        create(&world, "ForwardEntry", "web", forward_spec("gw", &ip, 8080)).await;
    forwards
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/drift-interval": "2s"}}})),
        )
        .await
        .unwrap();
    let first = wait_ready(&forwards, "web")
        .await
        .status
        .unwrap()
        .id
        .unwrap();

    // Deleted outside natop: the drift check re-creates it.
    cloud(&world, 0)
        .call(&DeleteForwardEntry {
            region_id: "cn-hangzhou".into(),
            forward_table_id: ftb.clone(),
            forward_entry_id: first.clone(),
            client_token: None,
        })
        .await
        .unwrap();
    let second = wait_for("the entry re-created", TIMEOUT, || async {
        let web = forwards.get("web").await.ok()?;
        let id = web.status.clone()?.id?;
        (ready(&web) && id != first).then_some(id)
    })
    .await;

    // The re-create's status write is lost (the recorded id is the first
    // one again), and the object is deleted while natop is down.
    world.kill_operator().await;
    forwards
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"id": first}})),
        )
        .await
        .unwrap();
    forwards
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    world.start_operator();
    wait_for("web gone", TIMEOUT, || async {
        forwards.get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
    let left: Vec<String> = dnat(&world, &ftb)
        .await
        .into_iter()
        .filter(|e| e.status != "Deleting")
        .map(|e| e.forward_entry_id)
        .collect();
    assert!(
        left.is_empty(),
        "the entry that replaced {first} ({second}) was left behind: {left:?}"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_rename_waits_for_the_old_entry_to_go_and_then_takes_its_key() {
    let world = World::start("entries-rename").await;
    let (_, ftb, _) = gateway(&world, "gw").await;
    let (_, ip) = eip(0);
    let forwards: Api<ForwardEntry> = create(
        &world,
        "ForwardEntry",
        "web-old",
        forward_spec("gw", &ip, 8080),
    )
    .await;
    let old = wait_ready(&forwards, "web-old")
        .await
        .status
        .unwrap()
        .id
        .unwrap();
    // A GitOps rename: the old object is deleted and the new one, with the
    // same key, applied at once.
    forwards
        .delete("web-old", &DeleteParams::default())
        .await
        .unwrap();
    create::<ForwardEntry>(
        &world,
        "ForwardEntry",
        "web-new",
        forward_spec("gw", &ip, 8080),
    )
    .await;
    let new = wait_ready(&forwards, "web-new")
        .await
        .status
        .unwrap()
        .id
        .unwrap();
    assert_ne!(new, old);
    let live: Vec<String> = dnat(&world, &ftb)
        .await
        .into_iter()
        .map(|e| e.forward_entry_id)
        .collect();
    assert_eq!(live, [new]);
    world.stop().await;
}

/// Kill the operator while the create of `name` (port `port`) is in flight:
/// the cloud commits it, its answer comes too late to be recorded.
async fn lose_the_create_answer(
    world: &mut World,
    forwards: &Api<ForwardEntry>,
    name: &str,
    port: u32,
    creates_before: u64,
) {
    wait_for("the create committed", TIMEOUT, || async {
        (count(&calls(world).await, "CreateForwardEntry", "success") > creates_before).then_some(())
    })
    .await;
    world.kill_operator().await;
    let status = forwards.get(name).await.unwrap().status.unwrap();
    assert!(status.id.is_none(), "the id was never recorded");
    let creating = status
        .creating
        .expect("the create is recorded before it is sent");
    assert_eq!(creating.entry.external_port, port.to_string());
}

#[tokio::test]
async fn a_key_edited_after_a_lost_create_answer_leaves_no_entry_behind() {
    let mut world = World::start("entries-key-edit").await;
    let (_, ftb, _) = gateway(&world, "gw").await;
    let (_, ip) = eip(0);
    let slow_creates = || {
        let mut faults = FaultConfig::default();
        faults.actions.insert(
            "CreateForwardEntry".into(),
            FaultRule {
                latency_ms: 3000,
                ..FaultRule::default()
            },
        );
        json!(faults)
    };
    let endpoint = world.emulator.endpoint();

    // The port is edited while natop is down, after its create of the old
    // port was made but not recorded: the object takes that entry over and
    // brings it to the new port.
    emulator_put(&endpoint, "faults", slow_creates()).await;
    let forwards: Api<ForwardEntry> =
        create(&world, "ForwardEntry", "web", forward_spec("gw", &ip, 100)).await;
    lose_the_create_answer(&mut world, &forwards, "web", 100, 0).await;
    let made = dnat(&world, &ftb).await;
    assert_eq!(made.len(), 1, "{made:?}");
    let first = made[0].forward_entry_id.clone();
    emulator_put(&endpoint, "faults", json!(FaultConfig::default())).await;
    forwards
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"externalPort": "101"}})),
        )
        .await
        .unwrap();
    world.start_operator();
    let id = wait_for("web Ready on port 101", TIMEOUT, || async {
        let web = forwards.get("web").await.ok()?;
        let status = web.status.clone()?;
        let observed = status.observed_generation == web.metadata.generation;
        (ready(&web) && observed).then_some(status.id?)
    })
    .await;
    let live = dnat(&world, &ftb).await;
    let shown: Vec<_> = live
        .iter()
        .map(|e| (e.forward_entry_id.as_str(), e.external_port.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [(first.as_str(), Some("101"))],
        "one entry, the one the lost answer named, now on port 101"
    );
    assert_eq!(id, first);
    assert!(
        forwards
            .get("web")
            .await
            .unwrap()
            .status
            .unwrap()
            .creating
            .is_none(),
        "the record of the create is cleared once its id is known"
    );

    // The same, but the object is deleted too before natop comes back: the
    // entry of the old port goes with it.
    emulator_put(&endpoint, "faults", slow_creates()).await;
    let creates = count(&calls(&world).await, "CreateForwardEntry", "success");
    create::<ForwardEntry>(&world, "ForwardEntry", "api", forward_spec("gw", &ip, 200)).await;
    lose_the_create_answer(&mut world, &forwards, "api", 200, creates).await;
    assert_eq!(dnat(&world, &ftb).await.len(), 2);
    emulator_put(&endpoint, "faults", json!(FaultConfig::default())).await;
    forwards
        .patch(
            "api",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"externalPort": "201"}})),
        )
        .await
        .unwrap();
    forwards
        .delete("api", &DeleteParams::default())
        .await
        .unwrap();
    world.start_operator();
    wait_for("api gone", TIMEOUT, || async {
        forwards.get_opt("api").await.ok()?.is_none().then_some(())
    })
    .await;
    let left: Vec<_> = dnat(&world, &ftb)
        .await
        .into_iter()
        .filter(|e| e.status != "Deleting")
        .map(|e| (e.forward_entry_id, e.external_port))
        .collect();
    assert_eq!(
        left,
        [(first, Some("101".to_string()))],
        "only web's entry is left"
    );
    world.stop().await;
}
