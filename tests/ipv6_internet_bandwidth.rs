//! Ipv6InternetBandwidth against the real API server and the emulator:
//! allocate, modify, drift, delete, adoption through the annotation, a lost
//! answer, and invalid specs.

use crate::support::cloud::{calls_of, cloud, fixture};
use crate::support::cluster::{TIMEOUT, emulator_admin, emulator_put, wait_for};
use crate::support::objects::{
    condition, create_in, current, merged, wait_gone, wait_reason, wait_until,
};
use crate::support::operator::{World, delete_provider, ucloud_provider};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use natop::api::Ipv6InternetBandwidth;
use natop::cloud::alibaba::actions::ipv6::{
    AllocateIpv6InternetBandwidth, DeleteIpv6InternetBandwidth, DescribeIpv6Addresses, Ipv6Address,
    ModifyIpv6InternetBandwidth,
};
use natop::emulator::faults::{FaultConfig, FaultRule};
use serde_json::{Value, json};

const REGION: &str = "cn-hangzhou";

fn gateway() -> String {
    fixture().alibaba.regions[0].ipv6_gateways[0]
        .ipv6_gateway_id
        .clone()
}

/// The `i`-th IPv6 address of the fixture's gateway.
fn address(i: usize) -> String {
    fixture().alibaba.regions[0].ipv6_gateways[0].addresses[i]
        .ipv6_address_id
        .clone()
}

async fn address_in_cloud(world: &World, id: &str) -> Ipv6Address {
    cloud(world, 0)
        .describe_all(&DescribeIpv6Addresses {
            region_id: REGION.into(),
            ipv6_address_id: Some(id.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.ipv6_address_id == id)
        .unwrap()
}

fn bandwidth_in_cloud(a: &Ipv6Address) -> Option<(String, Option<u32>)> {
    a.ipv6_internet_bandwidth
        .as_ref()
        .filter(|b| !b.ipv6_internet_bandwidth_id.is_empty())
        .map(|b| (b.ipv6_internet_bandwidth_id.clone(), b.bandwidth))
}

/// An Ipv6InternetBandwidth using ProviderConfig `provider`.
fn manifest(
    world: &World,
    provider: &str,
    name: &str,
    spec: Value,
    annotations: Value,
) -> Ipv6InternetBandwidth {
    crate::support::objects::manifest(
        world,
        "Ipv6InternetBandwidth",
        name,
        json!({"annotations": annotations}),
        merged(json!({"providerConfigRef": {"name": provider}}), &spec),
    )
}

fn spec(address: &str, bandwidth: u32) -> Value {
    json!({"ipv6AddressId": address, "ipv6GatewayId": gateway(), "bandwidth": bandwidth})
}

/// Create an Ipv6InternetBandwidth using the world's ProviderConfig.
async fn create(
    world: &World,
    name: &str,
    spec: Value,
    annotations: Value,
) -> Api<Ipv6InternetBandwidth> {
    create_in(
        world,
        &world.ns.name,
        "Ipv6InternetBandwidth",
        name,
        json!({"annotations": annotations}),
        spec,
    )
    .await
}

/// Answers by action and outcome.
async fn calls(world: &World, action: &str) -> Value {
    emulator_admin(&world.emulator.endpoint(), "calls").await[action].clone()
}

fn status_of(object: &Ipv6InternetBandwidth) -> (Option<String>, Option<u32>) {
    let s = object.status.clone().unwrap_or_default();
    (s.id, s.bandwidth)
}

#[tokio::test]
async fn bandwidth_is_allocated_resized_kept_in_line_recreated_and_deleted() {
    let world = World::start("ipv6-life").await;
    let a = address(0);
    let api = create(
        &world,
        "v6",
        spec(&a, 10),
        json!({"natop.dev/drift-interval": "1s"}),
    )
    .await;
    let object = wait_reason(&api, "v6", "Ready", "Available").await;
    let status = object.status.clone().unwrap();
    let id = status.id.clone().unwrap();
    assert!(id.starts_with("ipv6bw-"), "{id}");
    assert_eq!(status.bandwidth, Some(10));
    assert_eq!(
        status.internet_charge_type.as_deref(),
        Some("PayByBandwidth")
    );
    assert_eq!(status.status.as_deref(), Some("Available"));
    let in_cloud = address_in_cloud(&world, &a).await;
    assert_eq!(in_cloud.network_type, "Public");
    assert_eq!(bandwidth_in_cloud(&in_cloud), Some((id.clone(), Some(10))));
    assert_eq!(calls_of(&world, "AllocateIpv6InternetBandwidth").await, 1);

    // A new bandwidth in the spec.
    api.patch(
        "v6",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"bandwidth": 200}})),
    )
    .await
    .unwrap();
    wait_until(&api, "v6", "resized to 200", |o| {
        current(o)
            && status_of(o).1 == Some(200)
            && condition(o, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    let in_cloud = address_in_cloud(&world, &a).await;
    assert_eq!(bandwidth_in_cloud(&in_cloud), Some((id.clone(), Some(200))));

    // A change made outside natop is put back.
    cloud(&world, 0)
        .call(&ModifyIpv6InternetBandwidth {
            region_id: REGION.into(),
            ipv6_internet_bandwidth_id: Some(id.clone()),
            bandwidth: Some(50),
            ..Default::default()
        })
        .await
        .unwrap();
    wait_for("the drift is corrected", TIMEOUT, || async {
        let a = address_in_cloud(&world, &a).await;
        let modifies = calls_of(&world, "ModifyIpv6InternetBandwidth").await;
        (bandwidth_in_cloud(&a) == Some((id.clone(), Some(200))) && modifies >= 3).then_some(())
    })
    .await;

    // A bandwidth deleted outside natop is bought again.
    cloud(&world, 0)
        .call(&DeleteIpv6InternetBandwidth {
            region_id: REGION.into(),
            ipv6_internet_bandwidth_id: Some(id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let object = wait_until(&api, "v6", "recreated", |o| {
        current(o)
            && status_of(o).0.is_some_and(|new| new != id)
            && condition(o, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    let new_id = status_of(&object).0.unwrap();
    let in_cloud = address_in_cloud(&world, &a).await;
    assert_eq!(bandwidth_in_cloud(&in_cloud), Some((new_id, Some(200))));
    assert_eq!(calls_of(&world, "AllocateIpv6InternetBandwidth").await, 2);

    // Delete makes the address private again.
    api.delete("v6", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "v6").await;
    let in_cloud = address_in_cloud(&world, &a).await;
    assert_eq!(in_cloud.network_type, "Private");
    assert_eq!(bandwidth_in_cloud(&in_cloud), None);
    world.stop().await;
}

#[tokio::test]
async fn existing_bandwidth_is_adopted_only_through_the_annotation() {
    let world = World::start("ipv6-adopt").await;
    let (a1, a2) = (address(1), address(2));
    let mut bought = Vec::new();
    for a in [&a1, &a2] {
        let r = cloud(&world, 0)
            .call(&AllocateIpv6InternetBandwidth {
                region_id: REGION.into(),
                ipv6_gateway_id: gateway(),
                ipv6_address_id: a.clone(),
                bandwidth: Some(5),
                ..Default::default()
            })
            .await
            .unwrap();
        bought.push(r.internet_bandwidth_id);
    }
    // Without the annotation natop does not take a bandwidth it did not buy.
    let api = create(&world, "plain", spec(&a1, 5), json!({})).await;
    let object = wait_reason(&api, "plain", "Stalled", "AlreadyExists").await;
    let (_, _, message) = condition(&object, "Stalled").unwrap();
    assert!(message.contains("natop.dev/external-id"), "{message}");
    assert_eq!(status_of(&object).0, None);
    api.delete("plain", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "plain").await;
    assert_eq!(
        bandwidth_in_cloud(&address_in_cloud(&world, &a1).await),
        Some((bought[0].clone(), Some(5))),
        "deleting the object left the bandwidth it did not own"
    );

    // With it, natop manages the bandwidth: resizes, then deletes it.
    let api = create(
        &world,
        "adopted",
        spec(&a1, 15),
        json!({"natop.dev/external-id": bought[0]}),
    )
    .await;
    let object = wait_until(&api, "adopted", "at 15 Mbps", |o| {
        current(o)
            && status_of(o) == (Some(bought[0].clone()), Some(15))
            && condition(o, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(condition(&object, "Ready").unwrap().1, "Available");

    // Observe: reported, never written, left behind on delete.
    let observed = create(
        &world,
        "watched",
        json!({"ipv6AddressId": a2, "ipv6GatewayId": gateway(), "bandwidth": 9,
               "managementPolicy": "Observe"}),
        json!({"natop.dev/external-id": bought[1]}),
    )
    .await;
    // A difference is never an error: Ready, and the Drifted condition says how.
    let object = wait_reason(&observed, "watched", "Drifted", "Drifted").await;
    let (status, _, message) = condition(&object, "Drifted").unwrap();
    assert_eq!(status, "True");
    assert!(message.contains("5 Mbps, the spec 9"), "{message}");
    let (ready, reason, _) = condition(&object, "Ready").unwrap();
    assert_eq!((ready.as_str(), reason.as_str()), ("True", "Observed"));
    assert_eq!(condition(&object, "Stalled").unwrap().0, "False");
    observed
        .patch(
            "watched",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"bandwidth": 5}})),
        )
        .await
        .unwrap();
    wait_reason(&observed, "watched", "Drifted", "InSync").await;
    observed
        .delete("watched", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&observed, "watched").await;
    assert_eq!(
        bandwidth_in_cloud(&address_in_cloud(&world, &a2).await),
        Some((bought[1].clone(), Some(5)))
    );

    api.delete("adopted", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&api, "adopted").await;
    assert_eq!(
        bandwidth_in_cloud(&address_in_cloud(&world, &a1).await),
        None
    );
    // The test's two purchases and the refused one: natop bought nothing.
    let allocates = calls(&world, "AllocateIpv6InternetBandwidth").await;
    assert_eq!(allocates["success"], 2, "{allocates}");
    assert_eq!(calls_of(&world, "ModifyIpv6InternetBandwidth").await, 1);
    world.stop().await;
}

#[tokio::test]
async fn a_lost_allocate_answer_buys_exactly_one_bandwidth() {
    let world = World::start("ipv6-lost").await;
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "AllocateIpv6InternetBandwidth".into(),
        FaultRule {
            commit_then_drop: 0.7,
            ..FaultRule::default()
        },
    );
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let a = address(3);
    let api = create(&world, "lost", spec(&a, 20), json!({})).await;
    let object = wait_reason(&api, "lost", "Ready", "Available").await;
    let (id, _) = status_of(&object);
    let in_cloud = address_in_cloud(&world, &a).await;
    assert_eq!(bandwidth_in_cloud(&in_cloud), Some((id.unwrap(), Some(20))));
    // Every address but this one is still private.
    let public: Vec<Ipv6Address> = cloud(&world, 0)
        .describe_all(&DescribeIpv6Addresses {
            region_id: REGION.into(),
            network_type: Some("Public".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(public.len(), 1, "{public:?}");
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    api.delete("lost", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "lost").await;
    assert_eq!(
        bandwidth_in_cloud(&address_in_cloud(&world, &a).await),
        None
    );
    world.stop().await;
}

#[tokio::test]
async fn invalid_ipv6_bandwidths_are_refused_or_stalled_with_zero_cloud_writes() {
    let world = World::start("ipv6-bad").await;
    let api: Api<Ipv6InternetBandwidth> = Api::namespaced(world.client.clone(), &world.ns.name);
    let a = address(4);
    // Refused by the schema: sent untyped, as kubectl would.
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        world.client.clone(),
        &world.ns.name,
        &kube::api::ApiResource::erase::<Ipv6InternetBandwidth>(&()),
    );
    for (name, spec) in [
        ("zero", spec(&a, 0)),
        ("too-much", spec(&a, 5001)),
        (
            "bad-address",
            json!({"ipv6AddressId": "2408::1", "ipv6GatewayId": gateway(), "bandwidth": 5}),
        ),
        (
            "bad-charge",
            json!({"ipv6AddressId": a, "ipv6GatewayId": gateway(), "bandwidth": 5,
                   "internetChargeType": "Free"}),
        ),
    ] {
        let object: kube::api::DynamicObject = crate::support::objects::manifest(
            &world,
            "Ipv6InternetBandwidth",
            name,
            json!({}),
            spec,
        );
        let err = raw
            .create(&PostParams::default(), &object)
            .await
            .expect_err(name);
        match err {
            kube::Error::Api(e) => assert_eq!(e.code, 422, "{name}: {e:?}"),
            other => panic!("{name}: {other:?}"),
        }
    }

    // A UCloud ProviderConfig cannot serve an IPv6 bandwidth.
    let ucloud = ucloud_provider(&world).await;
    api.create(
        &PostParams::default(),
        &manifest(&world, &ucloud, "wrong-cloud", spec(&a, 5), json!({})),
    )
    .await
    .unwrap();
    let object = wait_reason(&api, "wrong-cloud", "Stalled", "WrongProvider").await;
    assert!(condition(&object, "Stalled").unwrap().2.contains(&ucloud));

    // An address of another gateway, and a pay-by-traffic bandwidth above
    // what the gateway allows (the cloud's code).
    api.create(
        &PostParams::default(),
        &manifest(
            &world,
            &world.provider,
            "other-gateway",
            json!({"ipv6AddressId": a, "ipv6GatewayId": "ipv6gw-elsewhere", "bandwidth": 5}),
            json!({}),
        ),
    )
    .await
    .unwrap();
    let object = wait_reason(&api, "other-gateway", "Stalled", "InvalidSpec").await;
    assert!(
        condition(&object, "Stalled")
            .unwrap()
            .2
            .contains("not spec.ipv6GatewayId ipv6gw-elsewhere")
    );
    api.create(
        &PostParams::default(),
        &manifest(
            &world,
            &world.provider,
            "traffic",
            json!({"ipv6AddressId": a, "ipv6GatewayId": gateway(), "bandwidth": 1000,
                   "internetChargeType": "PayByTraffic"}),
            json!({}),
        ),
    )
    .await
    .unwrap();
    wait_reason(
        &api,
        "traffic",
        "Stalled",
        "InvalidBandwidthValueNotSupported",
    )
    .await;

    for name in ["wrong-cloud", "other-gateway", "traffic"] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
        wait_gone(&api, name).await;
    }
    let allocates = calls(&world, "AllocateIpv6InternetBandwidth").await;
    assert_eq!(allocates.get("success"), None, "{allocates}");
    for action in ["ModifyIpv6InternetBandwidth", "DeleteIpv6InternetBandwidth"] {
        assert_eq!(calls_of(&world, action).await, 0, "{action}");
    }
    assert_eq!(address_in_cloud(&world, &a).await.network_type, "Private");
    delete_provider(&world, &ucloud).await;
    world.stop().await;
}

#[tokio::test]
async fn bandwidth_missing_from_lagging_listings_is_neither_bought_again_nor_released() {
    let world = World::start("ipv6-lag").await;
    // Every listing of addresses lags for the whole test: bandwidth bought
    // now is not in a listing that does not name its address.
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "DescribeIpv6Addresses".into(),
        FaultRule {
            list_lag_ms: 600_000,
            ..FaultRule::default()
        },
    );
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let a = address(3);
    let api = create(
        &world,
        "lagging",
        spec(&a, 20),
        json!({"natop.dev/drift-interval": "2s"}),
    )
    .await;
    let object = wait_reason(&api, "lagging", "Ready", "Available").await;
    let (id, _) = status_of(&object);
    let id = id.unwrap();
    let public: Vec<Ipv6Address> = cloud(&world, 0)
        .describe_all(&DescribeIpv6Addresses {
            region_id: REGION.into(),
            network_type: Some("Public".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(public.is_empty(), "the listing lags: {public:?}");
    // Several drift checks later, natop has read the address again and
    // again, and neither bought a second bandwidth nor let go of this one.
    let reads = calls_of(&world, "DescribeIpv6Addresses").await;
    wait_for("three more reads of the address", TIMEOUT, || async {
        (calls_of(&world, "DescribeIpv6Addresses").await >= reads + 3).then_some(())
    })
    .await;
    assert_eq!(
        calls(&world, "AllocateIpv6InternetBandwidth").await["success"],
        1
    );
    assert_eq!(calls_of(&world, "DeleteIpv6InternetBandwidth").await, 0);
    let object = wait_reason(&api, "lagging", "Ready", "Available").await;
    assert_eq!(status_of(&object).0.as_deref(), Some(id.as_str()));
    assert_eq!(
        bandwidth_in_cloud(&address_in_cloud(&world, &a).await).map(|(b, _)| b),
        Some(id)
    );

    api.delete("lagging", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&api, "lagging").await;
    assert_eq!(
        calls(&world, "DeleteIpv6InternetBandwidth").await["success"],
        1
    );
    assert_eq!(
        bandwidth_in_cloud(&address_in_cloud(&world, &a).await),
        None
    );
    world.stop().await;
}
