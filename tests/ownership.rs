//! No object can take over, change or lose a cloud resource it does not own:
//! hijacks through the adoption annotation, location changes (region,
//! another account behind the ProviderConfig), entries of an orphaned
//! gateway, and a proxy answering 404 during deletion. Against the real API
//! server and the emulator; the emulator's call log proves what was written.

use crate::support::cloud::{cloud, eip, fixture, gateway_spec, vpc, vswitch};
use crate::support::cluster::{TIMEOUT, TestNamespace, emulator_admin, emulator_put, wait_for};
use crate::support::objects::{
    condition, create_in, merged, message_of, ready, wait_gone, wait_ready,
    wait_reason_any_generation,
};
use crate::support::operator::World;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use natop::api::{ForwardEntry, NatGateway, ProviderConfig, SnatEntry};
use natop::cloud::alibaba::actions::forward_entry::DescribeForwardTableEntries;
use natop::cloud::alibaba::actions::nat_gateway::{
    DescribeNatGateways, NatGateway as CloudGateway,
};
use natop::cloud::alibaba::actions::snat_entry::DescribeSnatTableEntries;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

async fn gateways_in(world: &World, account: usize, region: &str) -> Vec<CloudGateway> {
    cloud(world, account)
        .describe_all(&DescribeNatGateways {
            region_id: region.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The emulator's call log since `since` (exclusive).
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

fn is_read(action: &str) -> bool {
    ["Describe", "List", "Get"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// The successful writes in `calls` (the official answer of an action that
/// changes something).
fn writes(calls: &[Value]) -> Vec<Value> {
    calls
        .iter()
        .filter(|c| !is_read(c["action"].as_str().unwrap_or_default()))
        .cloned()
        .collect()
}

/// Calls in `calls` naming `id` in any id parameter.
fn naming<'a>(calls: &'a [Value], id: &str) -> Vec<&'a Value> {
    calls
        .iter()
        .filter(|c| {
            c["ids"].as_object().is_some_and(|ids| {
                ids.values()
                    .any(|v| v.as_str().is_some_and(|v| v.contains(id)))
            })
        })
        .collect()
}

async fn delete<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.delete(name, &DeleteParams::default()).await.unwrap();
}

#[tokio::test]
async fn another_namespace_cannot_take_over_a_gateway() {
    let mut world = World::start("own-a").await;
    let team_b = TestNamespace::create(&world.client, "own-b").await;
    world.kill_operator().await;
    world.start_operator_watching(vec![world.ns.name.clone(), team_b.name.clone()]);
    let team_a = world.ns.name.clone();
    let (eip0, ip0) = eip(0);
    let prod: Api<NatGateway> = create_in(
        &world,
        &team_a,
        "NatGateway",
        "prod",
        json!({}),
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip0]}),
    )
    .await;
    let prod_gw = wait_for("prod Ready with its EIP", TIMEOUT, || async {
        let gw = prod.get("prod").await.ok()?;
        (ready(&gw) && gw.status.as_ref()?.ip_addresses.len() == 1).then_some(gw)
    })
    .await;
    let id = prod_gw.status.as_ref().unwrap().id.clone().unwrap();
    let since = last_seq(&world).await;

    // An unset template variable, and team A's id.
    let hijack = json!({"vpcId": vpc(), "vSwitchId": vswitch(), "specification": "Large"});
    let b: Api<NatGateway> = create_in(
        &world,
        &team_b.name,
        "NatGateway",
        "empty",
        json!({"annotations": {"natop.dev/external-id": ""}}),
        hijack.clone(),
    )
    .await;
    create_in::<NatGateway>(
        &world,
        &team_b.name,
        "NatGateway",
        "named",
        json!({"annotations": {"natop.dev/external-id": id}}),
        hijack,
    )
    .await;
    let found = wait_reason_any_generation(&b, "empty", "Stalled", "InvalidExternalId").await;
    let message = message_of(&found, "Stalled");
    assert!(message.contains("natop.dev/external-id"), "{message}");
    let found = wait_reason_any_generation(&b, "named", "Stalled", "OwnedByAnotherObject").await;
    let message = message_of(&found, "Stalled");
    assert!(message.contains(&format!("{team_a}/prod")), "{message}");
    for name in ["empty", "named"] {
        let gw = b.get(name).await.unwrap();
        let status = gw.status.unwrap_or_default();
        assert_eq!(status.id, None, "{name} read a foreign gateway into status");
        assert!(
            status.ip_addresses.is_empty(),
            "{name}: {:?}",
            status.ip_addresses
        );
        assert_eq!(status.location, None, "{name} recorded a place");
    }

    // Deleting the intruders touches nothing.
    delete(&b, "empty").await;
    delete(&b, "named").await;
    wait_gone(&b, "empty").await;
    wait_gone(&b, "named").await;
    let calls = calls_since(&world, since).await;
    assert!(
        writes(&calls).is_empty(),
        "writes after the hijack: {:?}",
        writes(&calls)
    );
    let cloud_gw = gateways_in(&world, 0, "cn-hangzhou")
        .await
        .into_iter()
        .find(|g| g.nat_gateway_id == id)
        .expect("team A's gateway still exists");
    assert_eq!(cloud_gw.spec, "Small");
    assert_eq!(cloud_gw.ip_lists.len(), 1, "{:?}", cloud_gw.ip_lists);
    assert_eq!(cloud_gw.ip_lists[0].ip_address, ip0);
    assert!(ready(&prod.get("prod").await.unwrap()));

    delete(&prod, "prod").await;
    wait_gone(&prod, "prod").await;
    team_b.delete().await;
    world.stop().await;
}

#[tokio::test]
async fn a_region_change_is_refused_and_deletion_goes_where_the_gateway_is() {
    let world = World::start("own-region").await;
    let ns = world.ns.name.clone();
    let api: Api<NatGateway> =
        create_in(&world, &ns, "NatGateway", "gw", json!({}), gateway_spec()).await;
    let gw = wait_ready(&api, "gw").await;
    let id = gw.status.as_ref().unwrap().id.clone().unwrap();
    let location = gw.status.as_ref().unwrap().location.clone().unwrap();
    assert_eq!(location.region, "cn-hangzhou");
    assert_eq!(location.provider_config, world.provider);
    assert_eq!(location.account_id, "1380000000000001");
    let since = last_seq(&world).await;

    // The object had no region (the ProviderConfig's default was used), so
    // the CRD's rule lets one be set; natop itself must refuse to look
    // elsewhere. (Changing a region once set is refused by the API server:
    // tests/cel_rules.rs.)
    api.patch(
        "gw",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"region": "cn-beijing"}})),
    )
    .await
    .unwrap();
    let found = wait_reason_any_generation(&api, "gw", "Stalled", "LocationChanged").await;
    let message = message_of(&found, "Stalled");
    assert!(message.contains("region is now cn-beijing"), "{message}");
    assert!(gateways_in(&world, 0, "cn-beijing").await.is_empty());
    assert!(writes(&calls_since(&world, since).await).is_empty());

    delete(&api, "gw").await;
    wait_gone(&api, "gw").await;
    let left: Vec<String> = gateways_in(&world, 0, "cn-hangzhou")
        .await
        .into_iter()
        .map(|g| g.nat_gateway_id)
        .filter(|g| *g == id)
        .collect();
    assert!(left.is_empty(), "the gateway outlived its object: {left:?}");
    let deletes = calls_since(&world, since).await;
    assert!(
        naming(&deletes, &id)
            .iter()
            .any(|c| c["action"] == "DeleteNatGateway" && c["region"] == "cn-hangzhou"),
        "deleted where it was made"
    );
    world.stop().await;
}

/// Point the test's Secret at fixture account `account`.
async fn use_keys(world: &World, account: usize) {
    let a = &fixture().alibaba.accounts[account];
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns.name);
    secrets
        .patch(
            "alibaba-credentials",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {
                "accessKeyId": a.access_key_id,
                "accessKeySecret": a.access_key_secret,
            }})),
        )
        .await
        .unwrap();
}

async fn wait_account(world: &World, account: &str) {
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    wait_for(
        &format!("ProviderConfig checked as {account}"),
        TIMEOUT,
        || async {
            let pc = configs.get(&world.provider).await.ok()?;
            let status = pc.status?;
            (status.account_id.as_deref() == Some(account)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_provider_config_switched_to_another_account_is_refused() {
    let world = World::start("own-account").await;
    let ns = world.ns.name.clone();
    let api: Api<NatGateway> =
        create_in(&world, &ns, "NatGateway", "gw", json!({}), gateway_spec()).await;
    let gw = wait_ready(&api, "gw").await;
    let id = gw.status.as_ref().unwrap().id.clone().unwrap();

    // A new key of the same account: nothing moves.
    use_keys(&world, 2).await;
    let since = last_seq(&world).await;
    wait_for("a check with the rotated key", TIMEOUT, || async {
        let calls = calls_since(&world, since).await;
        calls
            .iter()
            .any(|c| c["action"] == "GetCallerIdentity")
            .then_some(())
    })
    .await;
    wait_account(&world, "1380000000000001").await;
    let gw = wait_ready(&api, "gw").await;
    assert_eq!(gw.status.as_ref().unwrap().id.as_deref(), Some(id.as_str()));

    // Another account's keys: the gateway is not looked for, bought or
    // deleted there.
    let since = last_seq(&world).await;
    use_keys(&world, 1).await;
    wait_account(&world, "1380000000000002").await;
    let found = wait_reason_any_generation(&api, "gw", "Stalled", "LocationChanged").await;
    let message = message_of(&found, "Stalled");
    assert!(message.contains("account 1380000000000002"), "{message}");
    delete(&api, "gw").await;
    wait_for("deletion refused in the other account", TIMEOUT, || async {
        let gw = api.get("gw").await.ok()?;
        let (_, reason, message) = condition(&gw, "Stalled")?;
        (reason == "LocationChanged" && message.starts_with("not deleted")).then_some(())
    })
    .await;
    assert!(
        api.get_opt("gw").await.unwrap().is_some(),
        "the finalizer stays"
    );
    assert!(gateways_in(&world, 1, "cn-hangzhou").await.is_empty());
    let calls = calls_since(&world, since).await;
    assert!(writes(&calls).is_empty(), "{:?}", writes(&calls));
    assert!(
        gateways_in(&world, 0, "cn-hangzhou")
            .await
            .iter()
            .any(|g| g.nat_gateway_id == id)
    );

    // The account's credentials back: deletion goes on, in the right account.
    use_keys(&world, 0).await;
    wait_gone(&api, "gw").await;
    assert!(
        !gateways_in(&world, 0, "cn-hangzhou")
            .await
            .iter()
            .any(|g| g.nat_gateway_id == id)
    );
    world.stop().await;
}

#[tokio::test]
async fn entries_of_an_orphaned_gateway_delete_their_own_rules() {
    let world = World::start("own-orphan").await;
    let ns = world.ns.name.clone();
    let (eip0, ip0) = eip(0);
    let gateways: Api<NatGateway> = create_in(
        &world,
        &ns,
        "NatGateway",
        "gw",
        json!({}),
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip0], "deletionPolicy": "Orphan"}),
    )
    .await;
    let gw = wait_for("gw Ready with its EIP", TIMEOUT, || async {
        let gw = gateways.get("gw").await.ok()?;
        (ready(&gw) && gw.status.as_ref()?.ip_addresses.len() == 1).then_some(gw)
    })
    .await;
    let status = gw.status.unwrap();
    let (id, ftb, stb) = (
        status.id.unwrap(),
        status.forward_table_id.unwrap(),
        status.snat_table_id.unwrap(),
    );
    let dnat: Api<ForwardEntry> = create_in(
        &world,
        &ns,
        "ForwardEntry",
        "web",
        json!({}),
        json!({"natGatewayRef": {"name": "gw"}, "externalIp": ip0, "externalPort": "80",
               "internalIp": "172.16.0.10", "internalPort": "8080", "ipProtocol": "TCP"}),
    )
    .await;
    let snat: Api<SnatEntry> = create_in(
        &world,
        &ns,
        "SnatEntry",
        "out",
        json!({}),
        json!({"natGatewayRef": {"name": "gw"}, "snatIps": [ip0], "sourceCIDR": "172.20.0.0/16"}),
    )
    .await;
    let entry = wait_ready(&dnat, "web").await;
    let recorded = entry.status.as_ref().unwrap();
    assert_eq!(recorded.nat_gateway_id.as_deref(), Some(id.as_str()));
    assert!(recorded.location.is_some());
    wait_ready(&snat, "out").await;

    // The gateway object goes (orphaning the gateway): the entries' rules stay
    // live in it, so deleting the entries must delete them.
    delete(&gateways, "gw").await;
    wait_gone(&gateways, "gw").await;
    delete(&dnat, "web").await;
    delete(&snat, "out").await;
    wait_gone(&dnat, "web").await;
    wait_gone(&snat, "out").await;
    let client = cloud(&world, 0);
    let dnat_left = client
        .describe_all(&DescribeForwardTableEntries {
            region_id: "cn-hangzhou".into(),
            forward_table_id: ftb,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(dnat_left.is_empty(), "DNAT rules left: {dnat_left:?}");
    let snat_left = client
        .describe_all(&DescribeSnatTableEntries {
            region_id: "cn-hangzhou".into(),
            snat_table_id: stb,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(snat_left.is_empty(), "SNAT rules left: {snat_left:?}");
    assert!(
        gateways_in(&world, 0, "cn-hangzhou")
            .await
            .iter()
            .any(|g| g.nat_gateway_id == id),
        "the orphaned gateway stays"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_404_proxy_during_deletion_is_never_taken_for_gone() {
    let world = World::start("own-404").await;
    let ns = world.ns.name.clone();
    let (eip0, ip0) = eip(0);
    let gateways: Api<NatGateway> = create_in(
        &world,
        &ns,
        "NatGateway",
        "gw",
        json!({}),
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip0]}),
    )
    .await;
    let gw = wait_for("gw Ready with its EIP", TIMEOUT, || async {
        let gw = gateways.get("gw").await.ok()?;
        (ready(&gw) && gw.status.as_ref()?.ip_addresses.len() == 1).then_some(gw)
    })
    .await;
    let ftb = gw.status.unwrap().forward_table_id.unwrap();
    let dnat: Api<ForwardEntry> = create_in(
        &world,
        &ns,
        "ForwardEntry",
        "web",
        json!({}),
        json!({"natGatewayRef": {"name": "gw"}, "externalIp": ip0, "externalPort": "80",
               "internalIp": "172.16.0.10", "internalPort": "8080", "ipProtocol": "TCP"}),
    )
    .await;
    let entry_id = wait_ready(&dnat, "web").await.status.unwrap().id.unwrap();

    // A proxy answers every call with a bare 404.
    emulator_put(
        &world.emulator.endpoint(),
        "faults",
        json!({"default": {"notFoundProxy": 1.0}}),
    )
    .await;
    delete(&dnat, "web").await;
    let message = wait_for(
        "the entry retrying on the endpoint error",
        TIMEOUT,
        || async {
            let entry = dnat.get("web").await.ok()?;
            let (status, reason, message) = condition(&entry, "Reconciling")?;
            (status == "True" && reason == "HTTP404").then_some(message)
        },
    )
    .await;
    assert!(message.contains("404"), "{message}");
    // A re-check of the ProviderConfig names the endpoint as the problem.
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    configs
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/recheck": "1"}}})),
        )
        .await
        .unwrap();
    let found =
        wait_reason_any_generation(&configs, &world.provider, "Ready", "EndpointError").await;
    let message = message_of(&found, "Ready");
    assert!(message.contains("spec.endpoint"), "{message}");
    let entry = dnat.get("web").await.unwrap();
    assert!(entry.finalizers().iter().any(|f| f == "natop.dev/cleanup"));

    // The proxy goes: the entry is really deleted, then released.
    emulator_put(&world.emulator.endpoint(), "faults", json!({})).await;
    configs
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"natop.dev/recheck": "2"}}})),
        )
        .await
        .unwrap();
    wait_gone(&dnat, "web").await;
    let left = cloud(&world, 0)
        .describe_all(&DescribeForwardTableEntries {
            region_id: "cn-hangzhou".into(),
            forward_table_id: ftb,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        !left.iter().any(|e| e.forward_entry_id == entry_id),
        "the DNAT entry outlived its object: {left:?}"
    );
    delete(&gateways, "gw").await;
    wait_gone(&gateways, "gw").await;
    world.stop().await;
}

#[tokio::test]
async fn a_namespace_the_provider_config_does_not_allow_gets_no_cloud_call() {
    let mut world = World::start("tenant-a").await;
    let team_b = TestNamespace::create(&world.client, "tenant-b").await;
    world.kill_operator().await;
    world.start_operator_watching(vec![world.ns.name.clone(), team_b.name.clone()]);
    let team_a = world.ns.name.clone();
    let (eip0, ip0) = eip(0);
    let gateways_a: Api<NatGateway> = create_in(
        &world,
        &team_a,
        "NatGateway",
        "prod",
        json!({}),
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "eipAllocationIds": [eip0]}),
    )
    .await;
    let prod = wait_for("prod Ready with its EIP", TIMEOUT, || async {
        let gw = gateways_a.get("prod").await.ok()?;
        (ready(&gw) && gw.status.as_ref()?.ip_addresses.len() == 1).then_some(gw)
    })
    .await;
    let status = prod.status.unwrap();
    let (id, ftb) = (status.id.unwrap(), status.forward_table_id.unwrap());
    // A gateway team A made in the console, which no object manages.
    let console = cloud(&world, 0)
        .call(
            &natop::cloud::alibaba::actions::nat_gateway::CreateNatGateway {
                region_id: "cn-hangzhou".into(),
                vpc_id: vpc(),
                vswitch_id: Some(vswitch()),
                nat_type: Some("Enhanced".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .nat_gateway_id;
    let since = last_seq(&world).await;

    // Team B names team A's ProviderConfig: by a new gateway, by adopting
    // team A's console gateway, by its table id, and a package by the
    // gateway id.
    let pc = json!({"providerConfigRef": {"name": world.provider}});
    let b_gateways: Api<NatGateway> = create_in(
        &world,
        &team_b.name,
        "NatGateway",
        "new",
        json!({}),
        merged(gateway_spec(), &pc),
    )
    .await;
    create_in::<NatGateway>(
        &world,
        &team_b.name,
        "NatGateway",
        "adopt",
        json!({"annotations": {"natop.dev/external-id": console}}),
        merged(gateway_spec(), &pc),
    )
    .await;
    let b_entries: Api<ForwardEntry> = create_in(
        &world,
        &team_b.name,
        "ForwardEntry",
        "web",
        json!({}),
        merged(
            json!({"forwardTableId": ftb, "externalIp": ip0, "externalPort": 8443,
                   "internalIp": "172.16.0.9", "internalPort": 443, "ipProtocol": "TCP"}),
            &pc,
        ),
    )
    .await;
    let b_packages: Api<natop::api::BandwidthPackage> = create_in(
        &world,
        &team_b.name,
        "BandwidthPackage",
        "pkg",
        json!({}),
        merged(
            json!({"alibaba": {"natGatewayId": id, "bandwidth": 5, "ipCount": 1}}),
            &pc,
        ),
    )
    .await;
    let reason = "ProviderConfigNotAllowed";
    for name in ["new", "adopt"] {
        let stalled = wait_reason_any_generation(&b_gateways, name, "Stalled", reason).await;
        let message = message_of(&stalled, "Stalled");
        assert!(
            message.contains(&team_b.name) && message.contains("allowedNamespaces"),
            "{message}"
        );
        assert_eq!(stalled.status.and_then(|s| s.id), None, "{name}");
    }
    wait_reason_any_generation(&b_entries, "web", "Stalled", reason).await;
    wait_reason_any_generation(&b_packages, "pkg", "Stalled", reason).await;
    // Deleting them touches nothing either.
    for name in ["new", "adopt"] {
        delete(&b_gateways, name).await;
        wait_gone(&b_gateways, name).await;
    }
    delete(&b_entries, "web").await;
    wait_gone(&b_entries, "web").await;
    delete(&b_packages, "pkg").await;
    wait_gone(&b_packages, "pkg").await;
    let calls = calls_since(&world, since).await;
    assert!(calls.is_empty(), "cloud calls for team B: {calls:?}");

    // Allowed, team B's gateway is made as any other.
    Api::<ProviderConfig>::all(world.client.clone())
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"allowedNamespaces": [team_a, team_b.name]}})),
        )
        .await
        .unwrap();
    create_in::<NatGateway>(
        &world,
        &team_b.name,
        "NatGateway",
        "allowed",
        json!({}),
        merged(gateway_spec(), &pc),
    )
    .await;
    wait_ready(&b_gateways, "allowed").await;
    delete(&b_gateways, "allowed").await;
    wait_gone(&b_gateways, "allowed").await;
    delete(&gateways_a, "prod").await;
    wait_gone(&gateways_a, "prod").await;
    team_b.delete().await;
    world.stop().await;
}

#[tokio::test]
async fn a_namespace_selector_allows_the_namespaces_whose_labels_match() {
    let mut world = World::start("select-a").await;
    let team_b = TestNamespace::create(&world.client, "select-b").await;
    world.kill_operator().await;
    // A ProviderConfig of the second account, so that every call in that
    // account is its check's or team B's; made before the operator starts,
    // so that it is checked once.
    let second = &crate::support::cloud::fixture().alibaba.accounts[1];
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "second", "namespace": world.ns.name},
        "stringData": {"accessKeyId": second.access_key_id, "accessKeySecret": second.access_key_secret},
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(world.client.clone(), &world.ns.name)
        .create(&Default::default(), &secret)
        .await
        .unwrap();
    let label = format!("natop.dev/test-team-{}", &world.ns.name);
    let name = format!("{}-select", world.ns.name);
    let pc: ProviderConfig = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": name, "labels": world.labels()},
        "spec": {
            "provider": "Alibaba", "region": "cn-hangzhou",
            "endpoint": world.emulator.endpoint(),
            "credentials": {"secretRef": {"namespace": world.ns.name, "name": "second"}},
            "allowedNamespaceSelector": {"matchLabels": {label.as_str(): "payments"}},
        },
    }))
    .unwrap();
    let configs: Api<ProviderConfig> = Api::all(world.client.clone());
    configs.create(&Default::default(), &pc).await.unwrap();
    world.start_operator_watching(vec![world.ns.name.clone(), team_b.name.clone()]);
    crate::support::objects::wait_reason(&configs, &name, "Ready", "CredentialsValid").await;
    let account = second.account_id.clone();
    let calls_in = |since: u64| {
        let account = account.clone();
        let world = &world;
        async move {
            calls_since(world, since)
                .await
                .into_iter()
                .filter(|c| c["account"] == account.as_str())
                .collect::<Vec<Value>>()
        }
    };
    let since = last_seq(&world).await;
    let gateways: Api<NatGateway> = create_in(
        &world,
        &team_b.name,
        "NatGateway",
        "gw",
        json!({}),
        json!({"vpcId": vpc(), "vSwitchId": vswitch(), "providerConfigRef": {"name": name}}),
    )
    .await;
    let stalled =
        wait_reason_any_generation(&gateways, "gw", "Stalled", "ProviderConfigNotAllowed").await;
    let message = message_of(&stalled, "Stalled");
    assert!(
        message.contains("do not match spec.allowedNamespaceSelector"),
        "{message}"
    );
    let calls = calls_in(since).await;
    assert!(calls.is_empty(), "cloud calls for team B: {calls:?}");

    // The namespace gets the label: natop notices without a change of the
    // object or the ProviderConfig.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(world.client.clone());
    let set_label = |value: Option<&str>| {
        let namespaces = namespaces.clone();
        let (name, label) = (team_b.name.clone(), label.clone());
        let value = value.map(str::to_string);
        async move {
            namespaces
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"labels": {label: value}}})),
                )
                .await
                .unwrap();
        }
    };
    set_label(Some("payments")).await;
    wait_for(
        "the gateway Ready once its namespace is labelled",
        TIMEOUT,
        || async {
            let gw = gateways.get("gw").await.ok()?;
            ready(&gw).then_some(())
        },
    )
    .await;
    // The label goes: a change is refused again, with no cloud call.
    set_label(None).await;
    let since = last_seq(&world).await;
    gateways
        .patch(
            "gw",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"description": "changed"}})),
        )
        .await
        .unwrap();
    let stalled = wait_for("refused again", TIMEOUT, || async {
        let gw = gateways.get("gw").await.ok()?;
        let (status, reason, _) = condition(&gw, "Stalled")?;
        (status == "True"
            && reason == "ProviderConfigNotAllowed"
            && crate::support::objects::current(&gw))
        .then_some(gw)
    })
    .await;
    assert!(message_of(&stalled, "Stalled").contains("allowedNamespaceSelector"));
    let calls = calls_in(since).await;
    assert!(calls.is_empty(), "cloud calls for team B: {calls:?}");
    // Back to the list only: team B's gateway is let go of by deleting the
    // object once allowed (the finalizer needs the account).
    set_label(Some("payments")).await;
    delete(&gateways, "gw").await;
    wait_gone(&gateways, "gw").await;
    crate::support::operator::delete_provider(&world, &name).await;
    team_b.delete().await;
    world.stop().await;
}
