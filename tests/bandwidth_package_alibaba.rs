//! Alibaba NAT bandwidth packages (BandwidthPackage with `spec.alibaba`)
//! against the real API server and the emulator.

use crate::support::cloud::{calls_of, cloud, fixture};
use crate::support::cluster::{TIMEOUT, assert_refused, emulator_put, wait_for};
use crate::support::objects::{
    condition, create, manifest, ready, wait_gone, wait_ready, wait_reason,
};
use crate::support::operator::{World, quick_durations};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use natop::api::{BandwidthPackage, ForwardEntry, NatGateway};
use natop::cloud::alibaba::actions::bandwidth_package::{
    BandwidthPackage as CloudPackage, DescribeBandwidthPackages,
};
use natop::cloud::alibaba::actions::eip::{DescribeEipAddresses, EipAddress};
use natop::cloud::alibaba::actions::forward_entry::{
    DescribeForwardTableEntries, ForwardTableEntry,
};
use natop::emulator::EmulatorConfig;
use natop::emulator::faults::{FaultConfig, FaultRule};
use serde_json::{Value, json};

async fn packages(world: &World, gateway: &str) -> Vec<CloudPackage> {
    cloud(world, 0)
        .describe_all(&DescribeBandwidthPackages {
            region_id: "cn-hangzhou".into(),
            nat_gateway_id: Some(gateway.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// A Ready gateway named `name` with fixture EIP `eip`; returns its id.
async fn gateway(world: &World, name: &str, eip: usize) -> String {
    let region = &fixture().alibaba.regions[0];
    let api: Api<NatGateway> = create(
        world,
        "NatGateway",
        name,
        json!({
            "vpcId": region.vpcs[0].vpc_id,
            "vSwitchId": region.vpcs[0].v_switches[0].v_switch_id,
            "eipAllocationIds": [region.eips[eip].allocation_id],
        }),
    )
    .await;
    wait_ready(&api, name).await.status.unwrap().id.unwrap()
}

fn package_spec(gateway: &str, bandwidth: u32, ip_count: u32) -> Value {
    json!({"alibaba": {"natGatewayRef": {"name": gateway}, "bandwidth": bandwidth, "ipCount": ip_count}})
}

fn ips(package: &BandwidthPackage) -> Vec<String> {
    package
        .status
        .as_ref()
        .map(|s| s.public_ip_addresses.iter().map(|i| i.ip.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_package_is_created_resized_shared_with_dnat_shrunk_only_when_idle_and_deleted() {
    let world = World::start("bwp-alibaba").await;
    let gw = gateway(&world, "gw", 0).await;
    let api: Api<BandwidthPackage> =
        create(&world, "BandwidthPackage", "pkg", package_spec("gw", 5, 2)).await;
    let pkg = wait_ready(&api, "pkg").await;
    let status = pkg.status.clone().unwrap();
    let id = status.id.clone().unwrap();
    assert!(id.starts_with("bwp-"), "{id}");
    assert_eq!(status.cloud.as_deref(), Some("Alibaba"));
    assert_eq!(ips(&pkg).len(), 2);
    let in_cloud = packages(&world, &gw).await;
    assert_eq!(in_cloud.len(), 1);
    assert_eq!(in_cloud[0].bandwidth_package_id, id);

    // Bandwidth, name and more IPs.
    api.patch(
        "pkg",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"alibaba": {"bandwidth": 10, "name": "edge-pkg", "ipCount": 3}}}),
        ),
    )
    .await
    .unwrap();
    let pkg = wait_for("the package resized", TIMEOUT, || async {
        let p = api.get("pkg").await.ok()?;
        (ready(&p) && ips(&p).len() == 3).then_some(p)
    })
    .await;
    let in_cloud = packages(&world, &gw).await;
    assert_eq!(in_cloud.len(), 1);
    assert_eq!(in_cloud[0].bandwidth, Some(10));
    assert_eq!(in_cloud[0].name, "edge-pkg");
    assert_eq!(in_cloud[0].public_ip_addresses.len(), 3);
    let third = ips(&pkg)[2].clone();

    // A DNAT entry on the third IP of the package.
    let forwards: Api<ForwardEntry> = create(
        &world,
        "ForwardEntry",
        "web",
        json!({
            "natGatewayRef": {"name": "gw"},
            "externalIpFrom": {"bandwidthPackageRef": {"name": "pkg"}, "index": 2},
            "externalPort": "80",
            "internalIp": "172.16.1.10",
            "internalPort": "8080",
            "ipProtocol": "TCP",
        }),
    )
    .await;
    let web = wait_ready(&forwards, "web").await;
    let web_id = web.status.unwrap().id.unwrap();
    let gw_object: NatGateway = Api::<NatGateway>::namespaced(world.client.clone(), &world.ns.name)
        .get("gw")
        .await
        .unwrap();
    let table = gw_object.status.unwrap().forward_table_id.unwrap();
    let entries: Vec<ForwardTableEntry> = cloud(&world, 0)
        .describe_all(&DescribeForwardTableEntries {
            region_id: "cn-hangzhou".into(),
            forward_table_id: table,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].external_ip, third);

    // Shrinking to two would remove the IP the entry uses: blocked, named.
    let removes = calls_of(&world, "RemoveBandwidthPackageIps").await;
    api.patch(
        "pkg",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"alibaba": {"ipCount": 2}}})),
    )
    .await
    .unwrap();
    let blocking = wait_reason(&api, "pkg", "Reconciling", "IpsInUse").await;
    let (status, _, message) = condition(&blocking, "Reconciling").unwrap();
    assert_eq!(status, "True");
    assert!(
        message.contains("ForwardEntry web") && message.contains(&third),
        "{message}"
    );
    let blocked = api.get("pkg").await.unwrap().status.unwrap().blocked_by;
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        (
            blocked[0].kind.as_str(),
            blocked[0].name.as_deref(),
            blocked[0].id.as_deref(),
            blocked[0].ip.as_str()
        ),
        (
            "ForwardEntry",
            Some("web"),
            Some(web_id.as_str()),
            third.as_str()
        )
    );
    assert_eq!(packages(&world, &gw).await[0].public_ip_addresses.len(), 3);
    assert_eq!(
        calls_of(&world, "RemoveBandwidthPackageIps").await,
        removes,
        "no remove was attempted while the IP is in use"
    );

    // Once the entry is gone, the package shrinks.
    forwards
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&forwards, "web").await;
    let pkg = wait_for("the package shrunk", TIMEOUT, || async {
        let p = api.get("pkg").await.ok()?;
        (ready(&p) && ips(&p).len() == 2).then_some(p)
    })
    .await;
    assert!(pkg.status.unwrap().blocked_by.is_empty());
    let in_cloud = packages(&world, &gw).await;
    assert_eq!(in_cloud[0].public_ip_addresses.len(), 2);
    assert!(
        in_cloud[0]
            .public_ip_addresses
            .iter()
            .all(|ip| ip.ip_address != third),
        "the last IP went"
    );

    api.delete("pkg", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "pkg").await;
    assert!(packages(&world, &gw).await.is_empty());
    world.stop().await;
}

#[tokio::test]
async fn the_fifth_package_and_an_account_without_packages_are_stalled_with_the_cloud_code() {
    let world = World::start("bwp-quota").await;
    let gw = gateway(&world, "gw", 0).await;
    let api: Api<BandwidthPackage> = Api::namespaced(world.client.clone(), &world.ns.name);
    for n in 1..=4 {
        create::<BandwidthPackage>(
            &world,
            "BandwidthPackage",
            &format!("p{n}"),
            package_spec("gw", 5, 1),
        )
        .await;
    }
    for n in 1..=4 {
        wait_ready(&api, &format!("p{n}")).await;
    }
    create::<BandwidthPackage>(&world, "BandwidthPackage", "p5", package_spec("gw", 5, 1)).await;
    let p5 = wait_reason(
        &api,
        "p5",
        "Stalled",
        "QuotaExceededBandwidthPackageCountOnNatGateway",
    )
    .await;
    let (status, _, message) = condition(&p5, "Stalled").unwrap();
    assert_eq!(status, "True");
    assert!(!message.is_empty());
    assert_eq!(packages(&world, &gw).await.len(), 4);
    for n in 1..=5 {
        api.delete(&format!("p{n}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    for n in 1..=5 {
        wait_gone(&api, &format!("p{n}")).await;
    }
    assert!(packages(&world, &gw).await.is_empty());
    world.stop().await;

    // The second fixture account never had a NAT bandwidth package.
    let world = World::start_with(
        "bwp-legacy",
        EmulatorConfig {
            durations: quick_durations(),
            ..EmulatorConfig::default()
        },
        1,
    )
    .await;
    let api: Api<BandwidthPackage> = create(
        &world,
        "BandwidthPackage",
        "pkg",
        json!({"alibaba": {"natGatewayId": "ngw-doesnotmatter", "bandwidth": 5, "ipCount": 1}}),
    )
    .await;
    let pkg = wait_reason(&api, "pkg", "Stalled", "ForbiddenNatBandwidthPackage").await;
    let (status, _, _) = condition(&pkg, "Stalled").unwrap();
    assert_eq!(status, "True");
    // Nothing was made, so deleting needs no cloud call to succeed.
    api.delete("pkg", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "pkg").await;
    world.stop().await;
}

#[tokio::test]
async fn convert_is_one_way_and_leaves_a_coherent_object() {
    let world = World::start("bwp-convert").await;
    let gw = gateway(&world, "gw", 0).await;
    let api: Api<BandwidthPackage> =
        create(&world, "BandwidthPackage", "pkg", package_spec("gw", 8, 2)).await;
    let pkg = wait_ready(&api, "pkg").await;
    let package_ips = ips(&pkg);
    api.patch(
        "pkg",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"alibaba": {"convertToCommonBandwidth": true}}})),
    )
    .await
    .unwrap();
    let converted = wait_reason(&api, "pkg", "Ready", "Converted").await;
    let (status, _, message) = condition(&converted, "Ready").unwrap();
    assert_eq!(status, "True");
    let pkg = api.get("pkg").await.unwrap();
    let st = pkg.status.clone().unwrap();
    let shared = st.converted_instance_id.clone().unwrap();
    assert!(shared.starts_with("cbwp-"), "{shared}");
    assert!(message.contains(&shared), "{message}");
    assert_eq!(st.status.as_deref(), Some("Converted"));
    // The IPs are still listed (entries taking them from the package keep
    // working); the package is gone and its IPs are EIPs on the gateway.
    assert_eq!(ips(&pkg), package_ips);
    assert!(packages(&world, &gw).await.is_empty());
    let eips: Vec<EipAddress> = cloud(&world, 0)
        .describe_all(&DescribeEipAddresses {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    for ip in &package_ips {
        let eip = eips.iter().find(|e| &e.ip_address == ip).expect("an EIP");
        assert_eq!(
            (eip.instance_id.as_str(), eip.bandwidth_package_id.as_str()),
            (gw.as_str(), shared.as_str())
        );
    }
    // Further spec changes are not applied to a package that no longer
    // exists: no call, still Ready/Converted.
    let converts = calls_of(&world, "ConvertBandwidthPackage").await;
    let creates = calls_of(&world, "CreateBandwidthPackage").await;
    api.patch(
        "pkg",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"alibaba": {"bandwidth": 20}}})),
    )
    .await
    .unwrap();
    wait_reason(&api, "pkg", "Ready", "Converted").await;
    assert_eq!(calls_of(&world, "ConvertBandwidthPackage").await, converts);
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, creates);
    assert_eq!(converts, 1);
    // Deleting the object leaves the shared bandwidth's EIPs alone.
    api.delete("pkg", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "pkg").await;
    let eips: Vec<EipAddress> = cloud(&world, 0)
        .describe_all(&DescribeEipAddresses {
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        package_ips
            .iter()
            .all(|ip| eips.iter().any(|e| &e.ip_address == ip))
    );
    world.stop().await;
}

#[tokio::test]
async fn a_lost_create_answer_never_buys_a_second_package() {
    let world = World::start("bwp-lost").await;
    let gw = gateway(&world, "gw", 0).await;
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "CreateBandwidthPackage".into(),
        FaultRule {
            commit_then_drop: 0.7,
            ..FaultRule::default()
        },
    );
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let api: Api<BandwidthPackage> =
        create(&world, "BandwidthPackage", "pkg", package_spec("gw", 5, 1)).await;
    let pkg = wait_ready(&api, "pkg").await;
    assert!(
        calls_of(&world, "CreateBandwidthPackage").await >= 1,
        "created"
    );
    let in_cloud = packages(&world, &gw).await;
    assert_eq!(in_cloud.len(), 1, "exactly one package");
    assert_eq!(
        Some(in_cloud[0].bandwidth_package_id.clone()),
        pkg.status.unwrap().id
    );
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    api.delete("pkg", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "pkg").await;
    assert!(packages(&world, &gw).await.is_empty());
    world.stop().await;
}

#[tokio::test]
async fn invalid_packages_are_refused_or_stalled_with_zero_cloud_writes() {
    let world = World::start("bwp-invalid").await;
    let api: Api<BandwidthPackage> = Api::namespaced(world.client.clone(), &world.ns.name);
    for (name, spec) in [
        ("bw-low", package_spec("gw", 4, 1)),
        ("bw-high", package_spec("gw", 1001, 1)),
        ("ips-zero", package_spec("gw", 5, 0)),
        ("ips-high", package_spec("gw", 5, 51)),
        (
            "ucloud-zero-hours",
            json!({"ucloud": {"eipId": "eip-bj2-01", "bandwidth": 10, "timeRange": 0}}),
        ),
    ] {
        let err = api
            .create(
                &PostParams::default(),
                &manifest(&world, "BandwidthPackage", name, json!({}), spec),
            )
            .await
            .expect_err(name);
        match err {
            kube::Error::Api(e) => assert_eq!(e.code, 422, "{name}: {e:?}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // Both clouds at once: a CEL rule, refused with its message.
    let both = api
        .create(
            &PostParams::default(),
            &manifest(
                &world,
                "BandwidthPackage",
                "both",
                json!({}),
                json!({
                    "ucloud": {"eipId": "eip-bj2-01", "bandwidth": 10, "timeRange": 2},
                    "alibaba": {"natGatewayId": "ngw-x", "bandwidth": 5, "ipCount": 1},
                }),
            ),
        )
        .await;
    assert_refused(both, "set exactly one of alibaba");
    // What only the controller can say: UCloud fields on an Alibaba
    // ProviderConfig.
    api.create(
        &PostParams::default(),
        &manifest(
            &world,
            "BandwidthPackage",
            "wrong-cloud",
            json!({}),
            json!({"ucloud": {"eipId": "eip-bj2-01", "bandwidth": 10, "timeRange": 2}}),
        ),
    )
    .await
    .unwrap();
    let wrong = wait_reason(&api, "wrong-cloud", "Stalled", "InvalidSpec").await;
    let (status, _, _) = condition(&wrong, "Stalled").unwrap();
    assert_eq!(status, "True");
    let wrong = api.get("wrong-cloud").await.unwrap();
    let (_, _, message) = condition(&wrong, "Stalled").unwrap();
    assert!(message.contains("spec.ucloud"), "{message}");
    for action in [
        "CreateBandwidthPackage",
        "ModifyBandwidthPackageSpec",
        "AddBandwidthPackageIps",
        "DeleteBandwidthPackage",
    ] {
        assert_eq!(calls_of(&world, action).await, 0, "{action}");
    }
    api.delete("wrong-cloud", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&api, "wrong-cloud").await;
    world.stop().await;
}

#[tokio::test]
async fn a_package_missing_from_lagging_listings_is_neither_bought_twice_nor_released() {
    let world = World::start("bwp-lag").await;
    let gw = gateway(&world, "gw", 0).await;
    // Listings that do not name a package by id leave out packages younger
    // than an hour; half of the creates lose their answer.
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "DescribeBandwidthPackages".into(),
        FaultRule {
            list_lag_ms: 3_600_000,
            ..FaultRule::default()
        },
    );
    faults.actions.insert(
        "CreateBandwidthPackage".into(),
        FaultRule {
            commit_then_drop: 0.5,
            ..FaultRule::default()
        },
    );
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let api: Api<BandwidthPackage> =
        create(&world, "BandwidthPackage", "pkg", package_spec("gw", 5, 1)).await;
    let pkg = wait_ready(&api, "pkg").await;
    let id = pkg.status.unwrap().id.unwrap();
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    let in_cloud: Vec<String> = packages(&world, &gw)
        .await
        .into_iter()
        .map(|p| p.bandwidth_package_id)
        .collect();
    assert_eq!(in_cloud, [id], "exactly one package, the recorded one");
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    api.delete("pkg", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "pkg").await;
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    assert!(
        packages(&world, &gw).await.is_empty(),
        "the package was deleted, not released"
    );
    world.stop().await;
}

#[tokio::test]
async fn ip_count_two_four_two_four_adds_the_ips_each_time() {
    let world = World::start("bwp-regrow").await;
    let gw = gateway(&world, "gw", 0).await;
    let api: Api<BandwidthPackage> =
        create(&world, "BandwidthPackage", "pkg", package_spec("gw", 5, 2)).await;
    wait_ready(&api, "pkg").await;
    for count in [4usize, 2, 4] {
        api.patch(
            "pkg",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"alibaba": {"ipCount": count}}})),
        )
        .await
        .unwrap();
        wait_for(&format!("{count} IPs"), TIMEOUT, || async {
            let p = api.get("pkg").await.ok()?;
            (ready(&p) && ips(&p).len() == count).then_some(())
        })
        .await;
        let in_cloud = packages(&world, &gw).await;
        assert_eq!(in_cloud[0].public_ip_addresses.len(), count);
    }
    assert_eq!(calls_of(&world, "AddBandwidthPackageIps").await, 2);
    api.delete("pkg", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "pkg").await;
    world.stop().await;
}

#[tokio::test]
async fn a_package_made_right_before_a_crash_is_found_and_deleted_with_its_object() {
    let mut world = World::start("bwp-crash").await;
    let gw = gateway(&world, "gw", 0).await;
    // Every create is made and its answer lost: natop never learns the id.
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "CreateBandwidthPackage".into(),
        FaultRule {
            commit_then_drop: 1.0,
            ..FaultRule::default()
        },
    );
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let api: Api<BandwidthPackage> =
        create(&world, "BandwidthPackage", "pkg", package_spec("gw", 5, 1)).await;
    wait_for("a create sent", TIMEOUT, || async {
        let p = api.get("pkg").await.ok()?;
        let status = p.status?;
        (status.status.as_deref() == Some("Ordering") && status.id.is_none()).then_some(())
    })
    .await;
    wait_for("the package made", TIMEOUT, || async {
        (packages(&world, &gw).await.len() == 1).then_some(())
    })
    .await;
    // natop stops before recording it; the object is deleted meanwhile.
    world.kill_operator().await;
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    api.delete("pkg", &DeleteParams::default()).await.unwrap();
    world.start_operator();
    wait_gone(&api, "pkg").await;
    assert!(
        packages(&world, &gw).await.is_empty(),
        "the package natop made was left behind"
    );
    world.stop().await;
}
