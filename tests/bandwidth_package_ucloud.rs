//! UCloud temporary bandwidth packages (BandwidthPackage with `spec.ucloud`)
//! against the real API server and the emulator; the emulator's clock is
//! moved forward to make packages expire.

use std::time::Duration;

use crate::support::cloud::calls_of;
use crate::support::cluster::{TIMEOUT, emulator_admin, emulator_put, wait_for};
use crate::support::objects::{condition, merged, wait_gone, wait_reason};
use crate::support::operator::{World, delete_provider, ucloud_provider};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use natop::api::BandwidthPackage;
use natop::cloud::ucloud::actions::{
    BandwidthPackage as CloudPackage, DeleteBandwidthPackage, DescribeBandwidthPackage,
};
use natop::cloud::ucloud::{UcloudClient, UcloudCredentials};
use natop::cloud::{ClientConfig, RateLimit};
use natop::controller::status::apply_status_unchanged_since;
use natop::emulator::faults::{FaultConfig, FaultRule};
use natop::emulator::fixture::Fixture;
use serde_json::{Value, json};

const REGION: &str = "cn-bj2";

/// The UCloud client of fixture account 0, talking to the test's emulator.
fn cloud(world: &World) -> UcloudClient {
    let a = &Fixture::default_fixture().ucloud.accounts[0];
    UcloudClient::new(
        UcloudCredentials::new(&a.public_key, &a.private_key),
        ClientConfig {
            endpoint: Some(world.emulator.endpoint()),
            rate_limit: RateLimit::new(1000, 1000),
            ..ClientConfig::default()
        },
    )
    .unwrap()
}

async fn packages(world: &World) -> Vec<CloudPackage> {
    cloud(world)
        .describe_all(&DescribeBandwidthPackage {
            region: REGION.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// A BandwidthPackage using ProviderConfig `provider`.
fn manifest(world: &World, provider: &str, name: &str, spec: Value) -> BandwidthPackage {
    crate::support::objects::manifest(
        world,
        "BandwidthPackage",
        name,
        // Look at the cloud often, so that the moved clock is noticed.
        json!({"annotations": {"natop.dev/drift-interval": "1s"}}),
        merged(json!({"providerConfigRef": {"name": provider}}), &spec),
    )
}

async fn create(world: &World, provider: &str, name: &str, spec: Value) -> Api<BandwidthPackage> {
    let api: Api<BandwidthPackage> = Api::namespaced(world.client.clone(), &world.ns.name);
    api.create(
        &PostParams::default(),
        &manifest(world, provider, name, spec),
    )
    .await
    .unwrap();
    api
}

fn ucloud(eip: &str, bandwidth: u32, hours: u32) -> Value {
    json!({"ucloud": {"eipId": eip, "bandwidth": bandwidth, "timeRange": hours}})
}

async fn advance_clock(world: &World, seconds: u64) {
    let response = reqwest::Client::new()
        .post(format!("{}_emulator/clock", world.emulator.endpoint()))
        .header("content-type", "application/json")
        .body(json!({"advanceSeconds": seconds}).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

fn seconds(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> i64 {
    t.as_ref().map(|t| t.0.as_second()).unwrap()
}

#[tokio::test]
async fn a_package_is_bought_once_reported_until_it_expires_and_never_bought_again() {
    let world = World::start("bwp-ucloud").await;
    let provider = ucloud_provider(&world).await;
    let api = create(&world, &provider, "burst", ucloud("eip-bj2-01", 20, 2)).await;
    let pkg = wait_reason(&api, "burst", "Ready", "Active").await;
    // Its drift-interval annotation (1s) is below the operator's floor (2 s
    // in tests): raised, and the Ready condition says so.
    let (_, _, message) = condition(&pkg, "Ready").unwrap();
    assert!(
        message.contains("natop.dev/drift-interval 1s is below the operator's floor")
            && message.contains("drift is checked every 2s"),
        "{message}"
    );
    let status = pkg.status.clone().unwrap();
    let id = status.id.clone().unwrap();
    assert!(id.starts_with("bwpack-"), "{id}");
    assert_eq!(status.cloud.as_deref(), Some("UCloud"));
    assert_eq!(status.status.as_deref(), Some("Active"));
    assert_eq!(status.expired, Some(false));
    // The default start is when it was bought, and the window is 2 hours.
    let enable = seconds(&status.enable_time);
    assert_eq!(seconds(&status.disable_time) - enable, 2 * 3600);
    let in_cloud = packages(&world).await;
    assert_eq!(in_cloud.len(), 1);
    assert_eq!(in_cloud[0].bandwidth_package_id, id);
    assert_eq!(in_cloud[0].eip_id, "eip-bj2-01");
    assert_eq!(in_cloud[0].bandwidth, Some(20));
    assert_eq!(in_cloud[0].enable_time, Some(enable));
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 1);

    // Two hours later (by the cloud's clock) the package has run its course.
    advance_clock(&world, 2 * 3600 + 30).await;
    let pkg = wait_reason(&api, "burst", "Ready", "Expired").await;
    let status = pkg.status.clone().unwrap();
    assert_eq!(condition(&pkg, "Ready").unwrap().0, "True");
    assert_eq!(status.expired, Some(true));
    assert_eq!(status.status.as_deref(), Some("Expired"));
    assert_eq!(status.id.as_deref(), Some(id.as_str()));
    assert!(packages(&world).await.is_empty());

    // Nothing is bought again, however often the object is looked at: a
    // changed annotation wakes the controller, which only says it expired.
    let describes = calls_of(&world, "DescribeBandwidthPackage").await;
    api.patch(
        "burst",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"touched": "yes"}}})),
    )
    .await
    .unwrap();
    let pkg = wait_reason(&api, "burst", "Ready", "Expired").await;
    assert_eq!(pkg.status.unwrap().expired, Some(true));
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 1);

    // Delete after expiry calls nothing.
    api.delete("burst", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "burst").await;
    assert_eq!(calls_of(&world, "DeleteBandwidthPackage").await, 0);
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 1);
    assert_eq!(
        calls_of(&world, "DescribeBandwidthPackage").await,
        describes,
        "an expired package is not even listed again"
    );
    delete_provider(&world, &provider).await;
    world.stop().await;
}

#[tokio::test]
async fn a_scheduled_package_is_deleted_before_it_expires_and_one_deleted_outside_is_not_rebought()
{
    let world = World::start("bwp-ucloud-del").await;
    let provider = ucloud_provider(&world).await;
    let start = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(3))
        .round(jiff::Unit::Second)
        .unwrap();
    let api = create(
        &world,
        &provider,
        "later",
        json!({"ucloud": {"eipId": "eip-bj2-02", "bandwidth": 50, "timeRange": 1,
            "enableTime": start.to_string(), "couponId": "coupon-1"}}),
    )
    .await;
    let pkg = wait_reason(&api, "later", "Ready", "Scheduled").await;
    let status = pkg.status.unwrap();
    assert_eq!(status.status.as_deref(), Some("Scheduled"));
    assert_eq!(seconds(&status.enable_time), start.as_second());
    assert_eq!(seconds(&status.disable_time), start.as_second() + 3600);
    let id = status.id.unwrap();
    assert_eq!(packages(&world).await.len(), 1);

    // A spec that changes after the purchase (no CEL on old servers) is
    // refused by the controller, with no cloud write.
    api.patch(
        "later",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"ucloud": {"bandwidth": 60}}})),
    )
    .await
    .ok();
    let changed = api.get("later").await.unwrap();
    if changed.spec.ucloud.as_ref().unwrap().bandwidth == 60 {
        let pkg = wait_reason(&api, "later", "Stalled", "Immutable").await;
        let (_, _, message) = condition(&pkg, "Stalled").unwrap();
        assert!(message.contains("50 Mbps not 60"), "{message}");
        api.patch(
            "later",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ucloud": {"bandwidth": 50}}})),
        )
        .await
        .unwrap();
        wait_reason(&api, "later", "Ready", "Scheduled").await;
    }
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 1);

    // Delete before the end deletes the package.
    api.delete("later", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "later").await;
    assert!(packages(&world).await.is_empty());
    assert_eq!(calls_of(&world, "DeleteBandwidthPackage").await, 1);

    // A package deleted outside natop before its end is reported, not rebought.
    let api = create(&world, &provider, "now", ucloud("eip-bj2-03", 10, 5)).await;
    let pkg = wait_reason(&api, "now", "Ready", "Active").await;
    let id2 = pkg.status.unwrap().id.unwrap();
    assert_ne!(id, id2);
    cloud(&world)
        .call(&DeleteBandwidthPackage {
            region: REGION.into(),
            project_id: None,
            bandwidth_package_id: id2.clone(),
        })
        .await
        .unwrap();
    let pkg = wait_reason(&api, "now", "Stalled", "PackageGone").await;
    let (_, _, message) = condition(&pkg, "Stalled").unwrap();
    assert!(
        message.contains(&id2) && message.contains("outside natop"),
        "{message}"
    );
    assert_eq!(condition(&pkg, "Ready").unwrap().0, "False");
    assert!(packages(&world).await.is_empty());
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 2);
    api.delete("now", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "now").await;
    delete_provider(&world, &provider).await;
    world.stop().await;
}

#[tokio::test]
async fn a_lost_answer_to_the_purchase_still_buys_exactly_one_package() {
    let world = World::start("bwp-ucloud-lost").await;
    let provider = ucloud_provider(&world).await;
    // Every purchase is made and its answer lost.
    let mut faults = FaultConfig::default();
    faults.actions.insert(
        "CreateBandwidthPackage".into(),
        FaultRule {
            commit_then_drop: 1.0,
            ..FaultRule::default()
        },
    );
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;
    let api = create(&world, &provider, "lost", ucloud("eip-bj2-04", 30, 3)).await;
    let pkg = wait_reason(&api, "lost", "Ready", "Active").await;
    let in_cloud = packages(&world).await;
    assert_eq!(in_cloud.len(), 1, "exactly one package: {in_cloud:?}");
    assert_eq!(
        Some(in_cloud[0].bandwidth_package_id.clone()),
        pkg.status.as_ref().unwrap().id
    );
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 1);

    // A second object for the same EIP and window is a second purchase, and
    // never adopts the first object's package.
    let mut spec = ucloud("eip-bj2-04", 30, 3);
    spec["ucloud"]["enableTime"] = json!(
        pkg.status
            .as_ref()
            .unwrap()
            .enable_time
            .as_ref()
            .unwrap()
            .0
            .to_string()
    );
    let api = create(&world, &provider, "twin", spec).await;
    let twin = wait_reason(&api, "twin", "Ready", "Active").await;
    assert_ne!(twin.status.unwrap().id, pkg.status.unwrap().id);
    assert_eq!(packages(&world).await.len(), 2);
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 2);

    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!(FaultConfig::default()),
    )
    .await;
    for name in ["lost", "twin"] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
        wait_gone(&api, name).await;
    }
    assert!(packages(&world).await.is_empty());
    delete_provider(&world, &provider).await;
    world.stop().await;
}

#[tokio::test]
async fn invalid_ucloud_packages_are_refused_or_stalled_with_zero_cloud_writes() {
    let world = World::start("bwp-ucloud-bad").await;
    let provider = ucloud_provider(&world).await;
    let api: Api<BandwidthPackage> = Api::namespaced(world.client.clone(), &world.ns.name);
    for (name, spec) in [
        ("bw-low", ucloud("eip-bj2-01", 1, 1)),
        ("bw-high", ucloud("eip-bj2-01", 801, 1)),
        ("zero-hours", ucloud("eip-bj2-01", 10, 0)),
        ("bad-eip", ucloud("EIP 1", 10, 1)),
    ] {
        let err = api
            .create(
                &PostParams::default(),
                &manifest(&world, &provider, name, spec),
            )
            .await
            .expect_err(name);
        match err {
            kube::Error::Api(e) => assert_eq!(e.code, 422, "{name}: {e:?}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // Alibaba fields on a UCloud ProviderConfig: the controller says so.
    api.create(
        &PostParams::default(),
        &manifest(
            &world,
            &provider,
            "wrong-cloud",
            json!({"alibaba": {"natGatewayId": "ngw-x", "bandwidth": 5, "ipCount": 1}}),
        ),
    )
    .await
    .unwrap();
    let pkg = wait_reason(&api, "wrong-cloud", "Stalled", "InvalidSpec").await;
    let (_, _, message) = condition(&pkg, "Stalled").unwrap();
    assert!(
        message.contains("spec.alibaba is set") && message.contains("serves UCloud"),
        "{message}"
    );
    // An EIP on shared bandwidth cannot take a package: the cloud's code.
    api.create(
        &PostParams::default(),
        &manifest(&world, &provider, "shared", ucloud("eip-bj2-12", 10, 1)),
    )
    .await
    .unwrap();
    let pkg = wait_reason(&api, "shared", "Stalled", "RetCode262").await;
    let (_, _, message) = condition(&pkg, "Stalled").unwrap();
    assert!(message.contains("eip-bj2-12"), "{message}");
    // A window that is already over is never bought.
    let past = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(3))
        .round(jiff::Unit::Second)
        .unwrap();
    let mut spec = ucloud("eip-bj2-05", 10, 1);
    spec["ucloud"]["enableTime"] = json!(past.to_string());
    api.create(
        &PostParams::default(),
        &manifest(&world, &provider, "past", spec),
    )
    .await
    .unwrap();
    wait_reason(&api, "past", "Stalled", "WindowPassed").await;

    assert!(packages(&world).await.is_empty());
    // The shared-bandwidth EIP was refused by the cloud once: natop's own
    // status writes wake the object, and a definite refusal is not asked
    // again for the same spec. Nothing else was ever sent.
    let refused = || async {
        let calls = emulator_admin(&world.emulator.endpoint(), "calls").await;
        let create = calls["CreateBandwidthPackage"].clone();
        assert_eq!(
            create
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["262".to_string()]),
            "{calls}"
        );
        create["262"].as_u64().unwrap_or_default()
    };
    assert_eq!(refused().await, 1);
    // What caused the refusal may change outside natop: it is asked again
    // after the drift interval (here 3 s), refused again, and stays Stalled.
    api.patch(
        "shared",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/drift-interval": "3s"}}})),
    )
    .await
    .unwrap();
    wait_for("a second refused purchase", TIMEOUT, || async {
        (refused().await >= 2).then_some(())
    })
    .await;
    wait_reason(&api, "shared", "Stalled", "RetCode262").await;
    assert_eq!(calls_of(&world, "DeleteBandwidthPackage").await, 0);
    for name in ["wrong-cloud", "shared", "past"] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
        wait_gone(&api, name).await;
    }
    assert_eq!(calls_of(&world, "DeleteBandwidthPackage").await, 0);
    delete_provider(&world, &provider).await;
    world.stop().await;
}

#[tokio::test]
async fn a_package_missing_from_a_lagging_listing_is_neither_bought_again_nor_released() {
    let world = World::start("bwp-ucloud-lag").await;
    let provider = ucloud_provider(&world).await;
    // The region's listing leaves out packages younger than 4 s (the
    // operator's listing grace in tests is 10 s).
    let faults = FaultConfig {
        actions: [(
            "DescribeBandwidthPackage".to_string(),
            FaultRule {
                list_lag_ms: 4_000,
                ..FaultRule::default()
            },
        )]
        .into(),
        ..FaultConfig::default()
    };
    emulator_put(&world.emulator.endpoint(), "faults", json!(faults)).await;

    // Bought, then missing from the listing for a while: waited for.
    let api = create(&world, &provider, "lagging", ucloud("eip-bj2-01", 20, 2)).await;
    let pkg = wait_reason(&api, "lagging", "Ready", "Active").await;
    let id = pkg.status.unwrap().id.unwrap();
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 1);
    let in_cloud = packages(&world).await;
    assert_eq!(in_cloud.len(), 1);
    assert_eq!(in_cloud[0].bandwidth_package_id, id);

    // Deleted while the listing does not show it yet: deleted by its id.
    let api = create(&world, &provider, "young", ucloud("eip-bj2-02", 10, 1)).await;
    wait_for("young recorded", TIMEOUT, || async {
        api.get("young").await.ok()?.status?.id
    })
    .await;
    api.delete("young", &DeleteParams::default()).await.unwrap();
    wait_gone(&api, "young").await;
    assert_eq!(calls_of(&world, "CreateBandwidthPackage").await, 2);
    assert_eq!(calls_of(&world, "DeleteBandwidthPackage").await, 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let left: Vec<String> = packages(&world)
        .await
        .into_iter()
        .map(|p| p.bandwidth_package_id)
        .collect();
    assert_eq!(left, [id], "only the first package is left");
    delete_provider(&world, &provider).await;
    world.stop().await;
}

#[tokio::test]
async fn the_record_of_a_purchase_is_written_only_over_the_version_it_was_read_at() {
    let world = World::start("bwp-ucloud-rv").await;
    // No test label: this world's operator leaves the object alone, and two
    // writers are played here.
    let api: Api<BandwidthPackage> = Api::namespaced(world.client.clone(), &world.ns.name);
    let mut object = manifest(&world, "none", "contended", ucloud("eip-bj2-01", 20, 2));
    object.metadata.labels = None;
    api.create(&PostParams::default(), &object).await.unwrap();
    let read_by_both = api.get("contended").await.unwrap();
    let record = |enable: i64| -> natop::api::bandwidth_package::BandwidthPackageStatus {
        serde_json::from_value(json!({
            "status": "Purchasing",
            "enableTime": jiff::Timestamp::from_second(enable).unwrap().to_string(),
        }))
        .unwrap()
    };
    // The first writer records its purchase.
    apply_status_unchanged_since(&api, &read_by_both, &record(1_900_000_000))
        .await
        .unwrap();
    // The second, holding the same read, is refused and records nothing.
    match apply_status_unchanged_since(&api, &read_by_both, &record(1_900_000_600)).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 409, "{e:?}"),
        other => panic!("a Conflict expected: {other:?}"),
    }
    let status = api.get("contended").await.unwrap().status.unwrap();
    assert_eq!(seconds(&status.enable_time), 1_900_000_000);
    // Read again, it may write.
    let fresh = api.get("contended").await.unwrap();
    apply_status_unchanged_since(&api, &fresh, &record(1_900_000_600))
        .await
        .unwrap();
    world.stop().await;
}
