use serde_json::Value;

use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
use crate::emulator::ApiError;
use crate::emulator::alibaba::testing::Bench;
use crate::emulator::state::Record;

/// Parameters, then the expected HTTP status and code.
type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
type OwnedCase<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

const GW: &str = "ngw-testgateway0000000000001";
const GW2: &str = "ngw-testgateway0000000000002";

fn gateway(id: &str, status: &str) -> Record<NatGateway> {
    let wire = NatGateway {
        nat_gateway_id: id.to_string(),
        status: status.to_string(),
        vpc_id: "vpc-hz1natop0000000000".to_string(),
        forward_table_ids: vec![format!("ftb-{id}")],
        snat_table_ids: vec![format!("stb-{id}")],
        ..NatGateway::default()
    };
    Record::new(wire, None, 0)
}

fn bench() -> Bench {
    let mut bench = Bench::new();
    for id in [GW, GW2] {
        bench
            .state
            .nat_gateways
            .insert(id.to_string(), gateway(id, "Available"));
    }
    bench
}

fn code(result: Result<Value, ApiError>) -> (u16, String) {
    let e = result.expect_err("the call should fail");
    (e.status, e.code)
}

/// A package on `gateway` with `ip_count` IPs, still `Creating`.
fn create_on(bench: &mut Bench, gateway: &str, ip_count: &str) -> String {
    let v = bench
        .call(
            "CreateBandwidthPackage",
            &[
                ("NatGatewayId", gateway),
                ("Bandwidth", "5"),
                ("IpCount", ip_count),
            ],
        )
        .unwrap();
    v["BandwidthPackageId"].as_str().unwrap().to_string()
}

/// An `Available` package with two IPs on [`GW`].
fn available(bench: &mut Bench) -> String {
    let id = create_on(bench, GW, "2");
    bench.advance(60);
    id
}

fn describe_one(bench: &mut Bench, id: &str) -> Value {
    let v = bench
        .call("DescribeBandwidthPackages", &[("BandwidthPackageId", id)])
        .unwrap();
    v["BandwidthPackages"]["BandwidthPackage"][0].clone()
}

fn ips(bench: &mut Bench, id: &str) -> Vec<String> {
    describe_one(bench, id)["PublicIpAddresses"]["PublicIpAddresse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| ip["IpAddress"].as_str().unwrap().to_string())
        .collect()
}

fn add_dnat(bench: &mut Bench, id: &str, ip: &str) {
    let wire = ForwardTableEntry {
        forward_entry_id: id.to_string(),
        forward_table_id: format!("ftb-{GW}"),
        external_ip: ip.to_string(),
        internal_ip: "172.16.1.10".to_string(),
        ip_protocol: "TCP".to_string(),
        status: "Available".to_string(),
        nat_gateway_id: GW.to_string(),
        ..ForwardTableEntry::default()
    };
    bench
        .state
        .forward_entries
        .insert(id.to_string(), Record::new(wire, None, 0));
}

fn add_snat(bench: &mut Bench, id: &str, snat_ip: &str) {
    let wire = SnatTableEntry {
        snat_entry_id: id.to_string(),
        snat_table_id: format!("stb-{GW}"),
        snat_ip: snat_ip.to_string(),
        source_cidr: "172.16.1.0/24".to_string(),
        status: "Available".to_string(),
        nat_gateway_id: GW.to_string(),
        ..SnatTableEntry::default()
    };
    bench
        .state
        .snat_entries
        .insert(id.to_string(), Record::new(wire, None, 0));
}

fn lock(bench: &mut Bench, id: &str) {
    if let Some(p) = bench.state.bandwidth_packages.get_mut(id) {
        p.wire.business_status = "FinancialLocked".to_string();
    }
}

#[test]
fn accounts_without_legacy_packages_are_refused_every_action() {
    let mut bench = bench();
    let id = available(&mut bench);
    bench.account = 1;
    for action in [
        "CreateBandwidthPackage",
        "DescribeBandwidthPackages",
        "ModifyBandwidthPackageAttribute",
        "ModifyBandwidthPackageSpec",
        "AddBandwidthPackageIps",
        "RemoveBandwidthPackageIps",
        "DeleteBandwidthPackage",
        "ConvertBandwidthPackage",
    ] {
        let (status, code) = code(bench.call(action, &[("BandwidthPackageId", &id)]));
        assert_eq!(
            (status, code.as_str()),
            (403, "Forbidden.NatBandwidthPackage"),
            "{action}"
        );
    }
    assert!(bench.state.bandwidth_packages.contains_key(&id));
}

#[test]
fn create_starts_creating_and_becomes_available() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "2");
    assert!(id.starts_with("bwp-") && id.len() == 26, "{id}");
    let p = describe_one(&mut bench, &id);
    assert_eq!(p["Status"], "Creating");
    bench.advance(59);
    assert_eq!(describe_one(&mut bench, &id)["Status"], "Creating");
    bench.advance(1);
    let p = describe_one(&mut bench, &id);
    assert_eq!(p["Status"], "Available");
    assert_eq!(p["BandwidthPackageId"], id.as_str());
    assert_eq!(p["NatGatewayId"], GW);
    assert_eq!(p["RegionId"], "cn-hangzhou");
    assert!(
        bench.fixture.alibaba.regions[0]
            .zones
            .contains(&p["ZoneId"].as_str().unwrap().to_string())
    );
    assert_eq!(p["Bandwidth"], 5);
    assert_eq!(p["IpCount"], 2);
    assert_eq!(p["ISP"], "BGP");
    assert_eq!(p["InstanceChargeType"], "PostPaid");
    assert_eq!(p["InternetChargeType"], "PayByTraffic");
    assert_eq!(p["BusinessStatus"], "Normal");
    assert_eq!(p["CreationTime"], "2001-09-09T01:46:40Z");
    for ip in p["PublicIpAddresses"]["PublicIpAddresse"]
        .as_array()
        .unwrap()
    {
        assert!(ip["AllocationId"].as_str().unwrap().starts_with("nateip-"));
        assert!(
            ip["IpAddress"]
                .as_str()
                .unwrap()
                .parse::<std::net::Ipv4Addr>()
                .is_ok()
        );
        assert_eq!(ip["UsingStatus"], "Idle");
    }
    assert_eq!(
        bench.state.nat_gateways[GW].wire.bandwidth_package_ids,
        vec![id]
    );
}

#[test]
fn create_records_the_client_token_and_honours_optional_parameters() {
    let mut bench = bench();
    let v = bench
        .call(
            "CreateBandwidthPackage",
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "1000"),
                ("IpCount", "50"),
                ("Zone", "cn-hangzhou-c"),
                ("ISP", "BGP"),
                ("InternetChargeType", "PayByBandwidth"),
                ("Name", "pkg-1"),
                ("Description", "网关带宽包 one"),
                ("ClientToken", "token-1"),
            ],
        )
        .unwrap();
    let id = v["BandwidthPackageId"].as_str().unwrap();
    let record = &bench.state.bandwidth_packages[id];
    assert_eq!(record.client_token.as_deref(), Some("token-1"));
    let p = &record.wire;
    assert_eq!(p.zone_id, "cn-hangzhou-c");
    assert_eq!(p.internet_charge_type, "PayByBandwidth");
    assert_eq!(
        (p.name.as_str(), p.description.as_str()),
        ("pkg-1", "网关带宽包 one")
    );
    assert_eq!((p.bandwidth, p.ip_count), (Some(1000), Some(50)));
    assert_eq!(p.public_ip_addresses.len(), 50);
}

#[test]
fn create_validates_its_parameters() {
    let mut bench = bench();
    let cases: &[Case<'_>] = &[
        (
            &[("Bandwidth", "5"), ("IpCount", "1")],
            400,
            "MissingNatGatewayId",
        ),
        (
            &[("NatGatewayId", ""), ("Bandwidth", "5"), ("IpCount", "1")],
            400,
            "MissingNatGatewayId",
        ),
        (
            &[("NatGatewayId", GW), ("IpCount", "1")],
            400,
            "MissingBandwidth",
        ),
        (
            &[("NatGatewayId", GW), ("Bandwidth", "5")],
            400,
            "MissingIpCount",
        ),
        (
            &[("NatGatewayId", GW), ("Bandwidth", "4"), ("IpCount", "1")],
            404,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "1001"),
                ("IpCount", "1"),
            ],
            404,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "0")],
            400,
            "InvalidIpCount.ValueNotSupported",
        ),
        (
            &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "51")],
            400,
            "QuotaExceeded.BandwidthPackageIps",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("ISP", "ChinaTelecom"),
            ],
            400,
            "InvalidParameter.BandwidthPackage.n.ISP.ValueNotSupport",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("InternetChargeType", "PayBySpec"),
            ],
            400,
            "InvalidInternetChargeType.ValueNotSupported",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("Zone", "cn-beijing-a"),
            ],
            404,
            "InvalidZoneId.NotFound",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("Name", "1pkg"),
            ],
            400,
            "InvalidParameter.Name.Malformed",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("Name", "http://pkg"),
            ],
            400,
            "InvalidParameter.Name.Malformed",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("Description", "1 package"),
            ],
            400,
            "InvalidParameter.Description.Malformed",
        ),
        (
            &[
                ("NatGatewayId", GW),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("Description", "https://x.y"),
            ],
            400,
            "InvalidParameter.Description.Malformed",
        ),
        (
            &[
                ("NatGatewayId", "ngw-unknown"),
                ("Bandwidth", "5"),
                ("IpCount", "1"),
            ],
            404,
            "NATGW_NOT_EXIST",
        ),
    ];
    for (params, status, expected) in cases {
        let (s, c) = code(bench.call("CreateBandwidthPackage", params));
        assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
    }
    assert!(bench.state.bandwidth_packages.is_empty());
}

#[test]
fn create_needs_an_available_gateway() {
    let mut bench = bench();
    for status in ["Creating", "Modifying", "Deleting"] {
        bench
            .state
            .nat_gateways
            .insert(GW.to_string(), gateway(GW, status));
        let (s, c) = code(bench.call(
            "CreateBandwidthPackage",
            &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "1")],
        ));
        assert_eq!(
            (s, c.as_str()),
            (400, "IncorrectStatus.NatGateway"),
            "{status}"
        );
    }
}

#[test]
fn at_most_four_packages_per_gateway() {
    let mut bench = bench();
    for _ in 0..4 {
        create_on(&mut bench, GW, "1");
    }
    let (s, c) = code(bench.call(
        "CreateBandwidthPackage",
        &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "1")],
    ));
    assert_eq!(
        (s, c.as_str()),
        (400, "QuotaExceeded.BandwidthPackageCountOnNatGateway")
    );
    create_on(&mut bench, GW2, "1");
    assert_eq!(
        bench.state.nat_gateways[GW]
            .wire
            .bandwidth_package_ids
            .len(),
        4
    );
}

#[test]
fn allocated_ips_are_unique_and_never_fixture_eips() {
    let mut bench = bench();
    for gw in [GW, GW2] {
        for _ in 0..4 {
            create_on(&mut bench, gw, "50");
        }
    }
    let eips: Vec<String> = bench
        .state
        .eips
        .values()
        .map(|e| e.wire.ip_address.clone())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    for p in bench.state.bandwidth_packages.values() {
        for ip in &p.wire.public_ip_addresses {
            assert!(
                seen.insert(ip.ip_address.clone()),
                "duplicate {}",
                ip.ip_address
            );
            assert!(ids.insert(ip.allocation_id.clone()));
            assert!(!eips.contains(&ip.ip_address));
            assert!(ip.ip_address.starts_with("118.31."), "{}", ip.ip_address);
        }
    }
    assert_eq!(seen.len(), 400);
}

#[test]
fn describe_filters_sorts_and_paginates() {
    let mut bench = bench();
    let mut on_gw = Vec::new();
    for _ in 0..3 {
        on_gw.push(create_on(&mut bench, GW, "1"));
        bench.advance(1);
    }
    let other = create_on(&mut bench, GW2, "1");
    let v = bench.call("DescribeBandwidthPackages", &[]).unwrap();
    assert_eq!(
        (
            v["TotalCount"].clone(),
            v["PageNumber"].clone(),
            v["PageSize"].clone()
        ),
        (4.into(), 1.into(), 10.into())
    );
    let v = bench
        .call("DescribeBandwidthPackages", &[("NatGatewayId", GW)])
        .unwrap();
    let listed: Vec<&str> = v["BandwidthPackages"]["BandwidthPackage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["BandwidthPackageId"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        on_gw.iter().map(String::as_str).collect::<Vec<_>>(),
        "creation order"
    );
    let v = bench
        .call(
            "DescribeBandwidthPackages",
            &[("NatGatewayId", GW), ("PageSize", "2"), ("PageNumber", "2")],
        )
        .unwrap();
    assert_eq!(v["TotalCount"], 3);
    assert_eq!(v["PageNumber"], 2);
    assert_eq!(v["PageSize"], 2);
    assert_eq!(
        v["BandwidthPackages"]["BandwidthPackage"][0]["BandwidthPackageId"],
        on_gw[2].as_str()
    );
    assert_eq!(
        v["BandwidthPackages"]["BandwidthPackage"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(describe_one(&mut bench, &other)["NatGatewayId"], GW2);
    let v = bench
        .call(
            "DescribeBandwidthPackages",
            &[("BandwidthPackageId", "bwp-none")],
        )
        .unwrap();
    assert_eq!(v["TotalCount"], 0);
    assert_eq!(
        v["BandwidthPackages"]["BandwidthPackage"],
        serde_json::json!([])
    );
    let (s, c) = code(bench.call("DescribeBandwidthPackages", &[("PageSize", "51")]));
    assert_eq!((s, c.as_str()), (400, "InvalidParameter.PageSize"));
}

#[test]
fn using_status_follows_the_gateway_entries() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "3");
    let all = ips(&mut bench, &id);
    add_dnat(&mut bench, "fwd-1", &all[0]);
    add_snat(
        &mut bench,
        "snat-1",
        &format!("{},{}", all[1], "47.97.1.11"),
    );
    let p = describe_one(&mut bench, &id);
    let statuses: Vec<&str> = p["PublicIpAddresses"]["PublicIpAddresse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| ip["UsingStatus"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["UsedByForwardTable", "UsedBySnatTable", "Idle"]);
}

#[test]
fn modify_attribute_renames_and_validates() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "1");
    let (s, c) = code(bench.call(
        "ModifyBandwidthPackageAttribute",
        &[("BandwidthPackageId", &id), ("Name", "early")],
    ));
    assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
    bench.advance(60);
    bench
        .call(
            "ModifyBandwidthPackageAttribute",
            &[
                ("BandwidthPackageId", &id),
                ("Name", "renamed"),
                ("Description", "Now described"),
            ],
        )
        .unwrap();
    let p = describe_one(&mut bench, &id);
    assert_eq!(
        (p["Name"].as_str(), p["Description"].as_str()),
        (Some("renamed"), Some("Now described"))
    );
    bench
        .call(
            "ModifyBandwidthPackageAttribute",
            &[("BandwidthPackageId", &id), ("Name", "again")],
        )
        .unwrap();
    assert_eq!(
        describe_one(&mut bench, &id)["Description"],
        "Now described"
    );
    for (param, value, expected) in [
        ("Name", "_bad", "InvalidParameter.Name.Malformed"),
        ("Description", "x", "InvalidParameter.Description.Malformed"),
    ] {
        let (s, c) = code(bench.call(
            "ModifyBandwidthPackageAttribute",
            &[("BandwidthPackageId", &id), (param, value)],
        ));
        assert_eq!((s, c.as_str()), (400, expected));
    }
    let (s, c) = code(bench.call(
        "ModifyBandwidthPackageAttribute",
        &[("BandwidthPackageId", "bwp-none"), ("Name", "ok-name")],
    ));
    assert_eq!((s, c.as_str()), (404, "InvalidBandwidthPackageId.NotFound"));
    let (s, c) = code(bench.call("ModifyBandwidthPackageAttribute", &[("Name", "ok-name")]));
    assert_eq!((s, c.as_str()), (400, "MissingBandwidthPackageId"));
}

#[test]
fn modify_spec_changes_the_bandwidth() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "1");
    let (s, c) = code(bench.call(
        "ModifyBandwidthPackageSpec",
        &[("BandwidthPackageId", &id), ("Bandwidth", "10")],
    ));
    assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
    bench.advance(60);
    for bandwidth in ["1000", "1000", "5"] {
        bench
            .call(
                "ModifyBandwidthPackageSpec",
                &[("BandwidthPackageId", &id), ("Bandwidth", bandwidth)],
            )
            .unwrap();
        assert_eq!(
            describe_one(&mut bench, &id)["Bandwidth"],
            bandwidth.parse::<u32>().unwrap()
        );
    }
    let cases: &[Case<'_>] = &[
        (&[("BandwidthPackageId", &id)], 400, "MissingBandwidth"),
        (
            &[("BandwidthPackageId", &id), ("Bandwidth", "4")],
            404,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[("BandwidthPackageId", &id), ("Bandwidth", "1001")],
            404,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[("BandwidthPackageId", "bwp-none"), ("Bandwidth", "10")],
            404,
            "InvalidBandwidthPackageId.NotFound",
        ),
    ];
    for (params, status, expected) in cases {
        let (s, c) = code(bench.call("ModifyBandwidthPackageSpec", params));
        assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
    }
    lock(&mut bench, &id);
    let e = bench
        .call(
            "ModifyBandwidthPackageSpec",
            &[("BandwidthPackageId", &id), ("Bandwidth", "10")],
        )
        .unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (404, "BandwidthPackage.FinancialLocked")
    );
    assert_eq!(
        e.message,
        "The specified BandwidthPackage has been Financial Lock."
    );
}

#[test]
fn add_ips_grows_the_package_up_to_fifty() {
    let mut bench = bench();
    let id = available(&mut bench);
    bench
        .call(
            "AddBandwidthPackageIps",
            &[("BandwidthPackageId", &id), ("IpCount", "3")],
        )
        .unwrap();
    let p = describe_one(&mut bench, &id);
    assert_eq!(p["IpCount"], 5);
    assert_eq!(ips(&mut bench, &id).len(), 5);
    bench
        .call(
            "AddBandwidthPackageIps",
            &[("BandwidthPackageId", &id), ("IpCount", "45")],
        )
        .unwrap();
    let cases: &[Case<'_>] = &[
        (
            &[("BandwidthPackageId", &id), ("IpCount", "1")],
            400,
            "QuotaExceeded.BandwidthPackageIps",
        ),
        (
            &[("BandwidthPackageId", &id), ("IpCount", "0")],
            400,
            "InvalidIpCount.ValueNotSupported",
        ),
        (
            &[("BandwidthPackageId", &id), ("IpCount", "51")],
            400,
            "InvalidIpCount.ValueNotSupported",
        ),
        (&[("BandwidthPackageId", &id)], 400, "MissingIpCount"),
        (
            &[("BandwidthPackageId", "bwp-none"), ("IpCount", "1")],
            404,
            "InvalidBandwidthPackageId.NotFound",
        ),
    ];
    for (params, status, expected) in cases {
        let (s, c) = code(bench.call("AddBandwidthPackageIps", params));
        assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
    }
    let all = ips(&mut bench, &id);
    assert_eq!(all.len(), 50);
    assert_eq!(
        all.iter().collect::<std::collections::BTreeSet<_>>().len(),
        50
    );
    let young = create_on(&mut bench, GW, "1");
    let (s, c) = code(bench.call(
        "AddBandwidthPackageIps",
        &[("BandwidthPackageId", &young), ("IpCount", "1")],
    ));
    assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
    bench.advance(60);
    lock(&mut bench, &young);
    let e = bench
        .call(
            "AddBandwidthPackageIps",
            &[("BandwidthPackageId", &young), ("IpCount", "1")],
        )
        .unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (404, "BandwidthPackage.FinancialLocked")
    );
    assert_eq!(
        e.message,
        "The specified BandwidthPackage has been Financail Lock."
    );
}

#[test]
fn remove_ips_takes_unused_ips_of_the_package_only() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "4");
    let other = create_on(&mut bench, GW2, "1");
    bench.advance(60);
    let all = ips(&mut bench, &id);
    let foreign = ips(&mut bench, &other)[0].clone();
    add_dnat(&mut bench, "fwd-1", &all[0]);
    add_snat(&mut bench, "snat-1", &all[1]);
    let cases: Vec<OwnedCase<'_>> = vec![
        (
            vec![("BandwidthPackageId", &id)],
            400,
            "MissingRemovedIpAddresses",
        ),
        (
            vec![
                ("BandwidthPackageId", &id),
                ("RemovedIpAddresses.1", &foreign),
            ],
            404,
            "invalidRemovedIpAddresses.NotFound",
        ),
        (
            vec![
                ("BandwidthPackageId", &id),
                ("RemovedIpAddresses.1", "47.97.1.11"),
            ],
            400,
            "InvalidRemovedIpAddresses.NotFound",
        ),
        (
            vec![
                ("BandwidthPackageId", &id),
                ("RemovedIpAddresses.1", &all[0]),
            ],
            400,
            "DependencyViolation.ForwardEntry",
        ),
        (
            vec![
                ("BandwidthPackageId", &id),
                ("RemovedIpAddresses.1", &all[1]),
            ],
            400,
            "DependencyViolation.SnatEntry",
        ),
        (
            vec![
                ("BandwidthPackageId", &id),
                ("RemovedIpAddresses.1", &all[0]),
                ("RemovedIpAddresses.2", &all[1]),
                ("RemovedIpAddresses.3", &all[2]),
                ("RemovedIpAddresses.4", &all[3]),
            ],
            400,
            "InvalidIpCount.ValueNotSupported",
        ),
        (
            vec![
                ("BandwidthPackageId", "bwp-none"),
                ("RemovedIpAddresses.1", &all[2]),
            ],
            404,
            "InvalidBandwidthPackageId.NotFound",
        ),
    ];
    for (params, status, expected) in &cases {
        let (s, c) = code(bench.call("RemoveBandwidthPackageIps", params));
        assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
    }
    let names: Vec<String> = (1..=21)
        .map(|n| format!("RemovedIpAddresses.{n}"))
        .collect();
    let mut many: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), all[2].as_str()))
        .collect();
    many.push(("BandwidthPackageId", &id));
    let (s, c) = code(bench.call("RemoveBandwidthPackageIps", &many));
    assert_eq!((s, c.as_str()), (400, "InvalidParameter"));
    bench
        .call(
            "RemoveBandwidthPackageIps",
            &[
                ("BandwidthPackageId", &id),
                ("RemovedIpAddresses.1", &all[2]),
                ("RemovedIpAddresses.2", &all[3]),
            ],
        )
        .unwrap();
    assert_eq!(ips(&mut bench, &id), all[..2].to_vec());
    assert_eq!(describe_one(&mut bench, &id)["IpCount"], 2);
    lock(&mut bench, &id);
    let (s, c) = code(bench.call(
        "RemoveBandwidthPackageIps",
        &[
            ("BandwidthPackageId", &id),
            ("RemovedIpAddresses.1", &all[1]),
        ],
    ));
    assert_eq!((s, c.as_str()), (404, "BandwidthPackage.FinancialLocked"));
}

#[test]
fn remove_ips_refuses_a_package_still_creating() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "2");
    let ip = ips(&mut bench, &id)[0].clone();
    let (s, c) = code(bench.call(
        "RemoveBandwidthPackageIps",
        &[("BandwidthPackageId", &id), ("RemovedIpAddresses.1", &ip)],
    ));
    assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
}

#[test]
fn delete_refuses_used_packages_unless_forced() {
    let mut bench = bench();
    let id = available(&mut bench);
    let all = ips(&mut bench, &id);
    add_snat(&mut bench, "snat-1", &all[1]);
    let (s, c) = code(bench.call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)]));
    assert_eq!((s, c.as_str()), (400, "DependencyViolation.SnatEntry"));
    add_dnat(&mut bench, "fwd-1", &all[0]);
    add_dnat(&mut bench, "fwd-other", "47.97.1.11");
    let (s, c) = code(bench.call(
        "DeleteBandwidthPackage",
        &[("BandwidthPackageId", &id), ("Force", "false")],
    ));
    assert_eq!((s, c.as_str()), (400, "DependencyViolation.ForwardEntry"));
    bench
        .call(
            "DeleteBandwidthPackage",
            &[("BandwidthPackageId", &id), ("Force", "true")],
        )
        .unwrap();
    assert!(bench.state.bandwidth_packages.is_empty());
    assert!(bench.state.snat_entries.is_empty());
    assert_eq!(
        bench.state.forward_entries.keys().collect::<Vec<_>>(),
        ["fwd-other"]
    );
    assert!(
        bench.state.nat_gateways[GW]
            .wire
            .bandwidth_package_ids
            .is_empty()
    );
    let (s, c) = code(bench.call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)]));
    assert_eq!((s, c.as_str()), (404, "InvalidBandwidthPackageId.NotFound"));
}

#[test]
fn delete_removes_an_unused_package_but_not_while_creating() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "1");
    let (s, c) = code(bench.call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)]));
    assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
    bench.advance(60);
    bench
        .call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)])
        .unwrap();
    let v = bench.call("DescribeBandwidthPackages", &[]).unwrap();
    assert_eq!(v["TotalCount"], 0);
    let (s, c) = code(bench.call("DeleteBandwidthPackage", &[]));
    assert_eq!((s, c.as_str()), (400, "MissingBandwidthPackageId"));
}

#[test]
fn convert_turns_the_ips_into_eips_bound_to_the_gateway() {
    let mut bench = bench();
    let id = available(&mut bench);
    let all = ips(&mut bench, &id);
    add_dnat(&mut bench, "fwd-1", &all[0]);
    let eips_before = bench.state.eips.len();
    let v = bench
        .call("ConvertBandwidthPackage", &[("BandwidthPackageId", &id)])
        .unwrap();
    let shared = v["ConvertInstanceId"].as_str().unwrap();
    assert!(shared.starts_with("cbwp-"), "{shared}");
    assert!(bench.state.bandwidth_packages.is_empty());
    assert!(
        bench.state.nat_gateways[GW]
            .wire
            .bandwidth_package_ids
            .is_empty()
    );
    assert_eq!(bench.state.eips.len(), eips_before + 2);
    for ip in &all {
        let eip = bench
            .state
            .eips
            .values()
            .find(|e| &e.wire.ip_address == ip)
            .expect("an EIP for every package IP");
        assert!(eip.wire.allocation_id.starts_with("eip-"));
        assert_eq!(eip.wire.status, "InUse");
        assert_eq!(eip.wire.instance_id, GW);
        assert_eq!(eip.wire.instance_type, "Nat");
        assert_eq!(eip.wire.bandwidth_package_id, shared);
        assert_eq!(eip.wire.bandwidth, Some(5));
    }
    let usable: Vec<String> = bench
        .state
        .gateway_ips(GW)
        .into_iter()
        .map(|(_, ip)| ip)
        .collect();
    assert!(all.iter().all(|ip| usable.contains(ip)));
    assert_eq!(bench.state.ip_usage(GW, &all[0]), "UsedByForwardTable");
    assert_eq!(bench.state.forward_entries.len(), 1);
    let (s, c) = code(bench.call("ConvertBandwidthPackage", &[("BandwidthPackageId", &id)]));
    assert_eq!((s, c.as_str()), (404, "InvalidBandwidthPackageId.NotFound"));
}

#[test]
fn convert_refuses_a_package_still_creating() {
    let mut bench = bench();
    let id = create_on(&mut bench, GW, "1");
    let (s, c) = code(bench.call("ConvertBandwidthPackage", &[("BandwidthPackageId", &id)]));
    assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
}
