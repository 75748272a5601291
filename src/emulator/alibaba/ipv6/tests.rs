use serde_json::Value;

use crate::cloud::alibaba::actions::ipv6::Ipv6Address;
use crate::emulator::ApiError;
use crate::emulator::alibaba::testing::Bench;
use crate::emulator::state::Record;

/// Parameters, then the expected HTTP status and code.
type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
/// Parameters, then the ids listed.
type FilterCase<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

const GW: &str = "ipv6gw-hz1natop0000000000";
const A1: &str = "ipv6-hz01natop00000000";
const A2: &str = "ipv6-hz02natop00000000";

fn code(result: Result<Value, ApiError>) -> (u16, String) {
    let e = result.expect_err("the call should fail");
    (e.status, e.code)
}

fn allocate(bench: &mut Bench, address: &str, bandwidth: &str) -> String {
    let v = bench
        .call(
            "AllocateIpv6InternetBandwidth",
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", address),
                ("Bandwidth", bandwidth),
            ],
        )
        .unwrap();
    assert_eq!(v["Ipv6AddressId"], address);
    v["InternetBandwidthId"].as_str().unwrap().to_string()
}

fn address(bench: &mut Bench, id: &str) -> Value {
    let v = bench
        .call("DescribeIpv6Addresses", &[("Ipv6AddressId", id)])
        .unwrap();
    assert_eq!(v["TotalCount"], 1);
    v["Ipv6Addresses"]["Ipv6Address"][0].clone()
}

fn listed(v: &Value) -> Vec<String> {
    v["Ipv6Addresses"]["Ipv6Address"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Ipv6AddressId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_list_lag_hides_young_bandwidth_from_listings_but_not_from_reads_by_id() {
    let mut bench = Bench::new();
    bench.list_lag_ms = 10_000;
    let id = allocate(&mut bench, A1, "10");
    let bandwidth_listed = |bench: &mut Bench| {
        let all = bench.call("DescribeIpv6Addresses", &[]).unwrap();
        let a1 = all["Ipv6Addresses"]["Ipv6Address"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Ipv6AddressId"] == A1)
            .cloned()
            .unwrap();
        let public = bench
            .call("DescribeIpv6Addresses", &[("NetworkType", "Public")])
            .unwrap();
        (
            a1["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"].clone(),
            listed(&public),
        )
    };
    assert_eq!(
        bandwidth_listed(&mut bench),
        (Value::from(""), vec![]),
        "the listing shows the address as it was before the purchase"
    );
    let by_id = address(&mut bench, A1);
    assert_eq!(
        by_id["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"],
        id.as_str()
    );
    assert_eq!(by_id["NetworkType"], "Public");
    bench.advance(11);
    assert_eq!(
        bandwidth_listed(&mut bench),
        (Value::from(id.as_str()), vec![A1.to_string()])
    );
}

#[test]
fn allocate_makes_the_address_public() {
    let mut bench = Bench::new();
    let before = address(&mut bench, A1);
    assert_eq!(before["NetworkType"], "Private");
    assert_eq!(before["RealBandwidth"], 0);
    assert_eq!(
        before["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"],
        ""
    );
    assert_eq!(before["Ipv6InternetBandwidth"]["Bandwidth"], 0);
    let id = allocate(&mut bench, A1, "10");
    assert!(id.starts_with("ipv6bw-") && id.len() == 29, "{id}");
    let a = address(&mut bench, A1);
    assert_eq!(a["NetworkType"], "Public");
    assert_eq!(a["RealBandwidth"], 10);
    assert_eq!(a["Ipv6Isp"], "BGP");
    assert_eq!(a["Status"], "Available");
    assert_eq!(a["Ipv6GatewayId"], GW);
    assert!(!a["AllocationTime"].as_str().unwrap().is_empty());
    let bw = &a["Ipv6InternetBandwidth"];
    assert_eq!(bw["Ipv6InternetBandwidthId"], id.as_str());
    assert_eq!(bw["Bandwidth"], 10);
    assert_eq!(bw["InternetChargeType"], "PayByBandwidth");
    assert_eq!(bw["InstanceChargeType"], "PostPaid");
    assert_eq!(bw["BusinessStatus"], "Normal");
    assert_eq!(address(&mut bench, A2)["NetworkType"], "Private");
}

#[test]
fn allocate_validates_and_refuses_a_second_bandwidth() {
    let mut bench = Bench::new();
    let mut other = bench.state.ipv6_addresses[A2].clone();
    other.wire.ipv6_address_id = "ipv6-otherhz000000000000".to_string();
    other.wire.ipv6_gateway_id = "ipv6gw-other0000000000000".to_string();
    bench
        .state
        .ipv6_addresses
        .insert(other.wire.ipv6_address_id.clone(), other);
    let pending = "ipv6-hz03natop00000000";
    if let Some(a) = bench.state.ipv6_addresses.get_mut(pending) {
        a.wire.status = "Pending".to_string();
    }
    let cases: &[Case<'_>] = &[
        (
            &[("Ipv6AddressId", A1), ("Bandwidth", "1")],
            400,
            "MissingIpv6GatewayId",
        ),
        (
            &[("Ipv6GatewayId", GW), ("Bandwidth", "1")],
            400,
            "MissingIpv6AddressId",
        ),
        (
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", ""),
                ("Bandwidth", "1"),
            ],
            400,
            "MissingIpv6AddressId",
        ),
        (
            &[("Ipv6GatewayId", GW), ("Ipv6AddressId", A1)],
            400,
            "MissingBandwidth",
        ),
        (
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "0"),
            ],
            400,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "5001"),
            ],
            400,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "501"),
                ("InternetChargeType", "PayByTraffic"),
            ],
            400,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "5"),
                ("InternetChargeType", "PayBySpec"),
            ],
            400,
            "InvalidInternetChargeType.ValueNotSupported",
        ),
        (
            &[
                ("Ipv6GatewayId", "ipv6gw-none"),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "5"),
            ],
            404,
            "InvalidIpv6GatewayId.NotFound",
        ),
        (
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", "ipv6-none"),
                ("Bandwidth", "5"),
            ],
            404,
            "InvalidIpv6AddressId.NotFound",
        ),
        (
            &[
                ("Ipv6GatewayId", "ipv6gw-other0000000000000"),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "5"),
            ],
            400,
            "OperationFailed.Ipv6AddressNotBelongToIpv6Gateway",
        ),
        (
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", pending),
                ("Bandwidth", "5"),
            ],
            400,
            "IncorrectStatus.Ipv6Address",
        ),
    ];
    for (params, status, expected) in cases {
        let (s, c) = code(bench.call("AllocateIpv6InternetBandwidth", params));
        assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
    }
    assert!(
        bench
            .state
            .ipv6_addresses
            .values()
            .all(|a| a.wire.ipv6_internet_bandwidth.is_none())
    );
    bench
        .call(
            "AllocateIpv6InternetBandwidth",
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "500"),
                ("InternetChargeType", "PayByTraffic"),
            ],
        )
        .unwrap();
    assert_eq!(
        address(&mut bench, A1)["Ipv6InternetBandwidth"]["InternetChargeType"],
        "PayByTraffic"
    );
    let (s, c) = code(bench.call(
        "AllocateIpv6InternetBandwidth",
        &[
            ("Ipv6GatewayId", GW),
            ("Ipv6AddressId", A1),
            ("Bandwidth", "5"),
        ],
    ));
    assert_eq!(
        (s, c.as_str()),
        (400, "OperationFailed.Ipv6InternetBandwidthAlreadyExist")
    );
    allocate(&mut bench, A2, "5000");
}

#[test]
fn modify_by_either_id() {
    let mut bench = Bench::new();
    let id = allocate(&mut bench, A1, "10");
    bench
        .call(
            "ModifyIpv6InternetBandwidth",
            &[("Ipv6InternetBandwidthId", &id), ("Bandwidth", "20")],
        )
        .unwrap();
    assert_eq!(
        address(&mut bench, A1)["Ipv6InternetBandwidth"]["Bandwidth"],
        20
    );
    bench
        .call(
            "ModifyIpv6InternetBandwidth",
            &[("Ipv6AddressId", A1), ("Bandwidth", "5000")],
        )
        .unwrap();
    let a = address(&mut bench, A1);
    assert_eq!(
        (
            a["Ipv6InternetBandwidth"]["Bandwidth"].clone(),
            a["RealBandwidth"].clone()
        ),
        (5000.into(), 5000.into())
    );
    let e = bench
        .call(
            "ModifyIpv6InternetBandwidth",
            &[
                ("Ipv6AddressId", A1),
                ("Bandwidth", "7"),
                ("DryRun", "true"),
            ],
        )
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "DryRunOperation"));
    assert_eq!(
        address(&mut bench, A1)["Ipv6InternetBandwidth"]["Bandwidth"],
        5000
    );
    let cases: &[Case<'_>] = &[
        (
            &[("Bandwidth", "5")],
            400,
            "BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
        ),
        (&[("Ipv6AddressId", A1)], 400, "MissingBandwidth"),
        (
            &[("Ipv6AddressId", A1), ("Bandwidth", "0")],
            400,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[("Ipv6AddressId", A1), ("Bandwidth", "5001")],
            400,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[
                ("Ipv6InternetBandwidthId", "ipv6bw-none"),
                ("Bandwidth", "5"),
            ],
            404,
            "InvalidIpv6InternetBandwidthId.NotFound",
        ),
        (
            &[("Ipv6AddressId", A2), ("Bandwidth", "5")],
            404,
            "InvalidIpv6InternetBandwidthId.NotFound",
        ),
        (
            &[("Ipv6AddressId", "ipv6-none"), ("Bandwidth", "5")],
            404,
            "InvalidIpv6AddressId.NotFound",
        ),
        (
            &[
                ("Ipv6InternetBandwidthId", &id),
                ("Ipv6AddressId", A2),
                ("Bandwidth", "5"),
            ],
            404,
            "InvalidIpv6InternetBandwidthId.NotFound",
        ),
    ];
    for (params, status, expected) in cases {
        let (s, c) = code(bench.call("ModifyIpv6InternetBandwidth", params));
        assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
    }
}

#[test]
fn modify_keeps_the_pay_by_traffic_cap() {
    let mut bench = Bench::new();
    bench
        .call(
            "AllocateIpv6InternetBandwidth",
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "5"),
                ("InternetChargeType", "PayByTraffic"),
            ],
        )
        .unwrap();
    let (s, c) = code(bench.call(
        "ModifyIpv6InternetBandwidth",
        &[("Ipv6AddressId", A1), ("Bandwidth", "501")],
    ));
    assert_eq!((s, c.as_str()), (400, "InvalidBandwidth.ValueNotSupported"));
    bench
        .call(
            "ModifyIpv6InternetBandwidth",
            &[("Ipv6AddressId", A1), ("Bandwidth", "500")],
        )
        .unwrap();
}

#[test]
fn delete_by_either_id_makes_the_address_private_again() {
    let mut bench = Bench::new();
    let first = allocate(&mut bench, A1, "10");
    allocate(&mut bench, A2, "10");
    let e = bench
        .call(
            "DeleteIpv6InternetBandwidth",
            &[("Ipv6InternetBandwidthId", &first), ("DryRun", "true")],
        )
        .unwrap_err();
    assert_eq!(e.code, "DryRunOperation");
    bench
        .call(
            "DeleteIpv6InternetBandwidth",
            &[("Ipv6InternetBandwidthId", &first)],
        )
        .unwrap();
    let a = address(&mut bench, A1);
    assert_eq!(a["NetworkType"], "Private");
    assert_eq!(a["RealBandwidth"], 0);
    assert_eq!(a["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"], "");
    assert_eq!(a["Ipv6InternetBandwidth"]["Bandwidth"], 0);
    bench
        .call("DeleteIpv6InternetBandwidth", &[("Ipv6AddressId", A2)])
        .unwrap();
    assert_eq!(address(&mut bench, A2)["NetworkType"], "Private");
    let cases: &[Case<'_>] = &[
        (
            &[],
            400,
            "BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
        ),
        (
            &[("Ipv6InternetBandwidthId", ""), ("Ipv6AddressId", "")],
            400,
            "BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
        ),
        (
            &[("Ipv6InternetBandwidthId", &first)],
            404,
            "InvalidIpv6InternetBandwidthId.NotFound",
        ),
        (
            &[("Ipv6AddressId", A2)],
            404,
            "InvalidIpv6InternetBandwidthId.NotFound",
        ),
        (
            &[("Ipv6AddressId", "ipv6-none")],
            404,
            "InvalidIpv6AddressId.NotFound",
        ),
    ];
    for (params, status, expected) in cases {
        let (s, c) = code(bench.call("DeleteIpv6InternetBandwidth", params));
        assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
    }
    allocate(&mut bench, A1, "3");
}

#[test]
fn describe_paginates_in_a_stable_order() {
    let mut bench = Bench::new();
    let v = bench.call("DescribeIpv6Addresses", &[]).unwrap();
    assert_eq!(
        (
            v["TotalCount"].clone(),
            v["PageNumber"].clone(),
            v["PageSize"].clone()
        ),
        (12.into(), 1.into(), 10.into())
    );
    let first = listed(&v);
    assert_eq!(first.len(), 10);
    assert_eq!(first[0], A1);
    let v = bench
        .call("DescribeIpv6Addresses", &[("PageNumber", "2")])
        .unwrap();
    let second = listed(&v);
    assert_eq!(second, ["ipv6-hz11natop00000000", "ipv6-hz12natop00000000"]);
    let v = bench
        .call("DescribeIpv6Addresses", &[("PageSize", "50")])
        .unwrap();
    assert_eq!(listed(&v), [first, second].concat());
    let (s, c) = code(bench.call("DescribeIpv6Addresses", &[("PageNumber", "0")]));
    assert_eq!((s, c.as_str()), (400, "InvalidParameter.PageNumber"));
    let v = bench
        .call("DescribeIpv6Addresses", &[("PageNumber", "3")])
        .unwrap();
    assert_eq!(v["TotalCount"], 12);
    assert!(listed(&v).is_empty());
}

#[test]
fn describe_filters() {
    let mut bench = Bench::new();
    let bw = allocate(&mut bench, A2, "10");
    let mut extra: Record<Ipv6Address> = bench.state.ipv6_addresses[A1].clone();
    extra.wire.ipv6_address_id = "ipv6-extra0000000000000".to_string();
    extra.wire.ipv6_address = "2408:4004:1::ff".to_string();
    extra.wire.ipv6_address_name = "web".to_string();
    extra.wire.vpc_id = "vpc-hz2natop0000000000".to_string();
    extra.wire.vswitch_id = "vsw-hz21natop000000000".to_string();
    extra.wire.associated_instance_id = "i-web".to_string();
    extra.wire.associated_instance_type = "EcsInstance".to_string();
    extra.created_ms += 1;
    bench
        .state
        .ipv6_addresses
        .insert(extra.wire.ipv6_address_id.clone(), extra);
    let cases: &[FilterCase<'_>] = &[
        (
            &[(
                "Ipv6AddressId",
                "ipv6-hz03natop00000000, ipv6-hz01natop00000000",
            )],
            &[A1, "ipv6-hz03natop00000000"],
        ),
        (&[("Ipv6Address", "2408:4004:1::2")], &[A2]),
        (&[("Ipv6InternetBandwidthId", &bw)], &[A2]),
        (&[("Ipv6InternetBandwidthId", "ipv6bw-none")], &[]),
        (&[("NetworkType", "Public")], &[A2]),
        (
            &[("VpcId", "vpc-hz2natop0000000000")],
            &["ipv6-extra0000000000000"],
        ),
        (
            &[("VSwitchId", "vsw-hz21natop000000000")],
            &["ipv6-extra0000000000000"],
        ),
        (&[("Name", "web")], &["ipv6-extra0000000000000"]),
        (
            &[("AssociatedInstanceId", "i-web")],
            &["ipv6-extra0000000000000"],
        ),
        (
            &[
                ("AssociatedInstanceId", "i-web"),
                ("AssociatedInstanceType", "EcsInstance"),
            ],
            &["ipv6-extra0000000000000"],
        ),
        (
            &[
                ("AssociatedInstanceId", "i-web"),
                ("AssociatedInstanceType", "NetworkInterface"),
            ],
            &[],
        ),
        (
            &[
                ("NetworkType", "Private"),
                ("VpcId", "vpc-hz1natop0000000000"),
                ("PageSize", "50"),
            ],
            &[],
        ),
    ];
    for (params, expected) in cases {
        let v = bench.call("DescribeIpv6Addresses", params).unwrap();
        if params.iter().any(|(k, _)| *k == "PageSize") {
            assert_eq!(v["TotalCount"], 11, "{params:?}");
            assert!(!listed(&v).contains(&A2.to_string()));
            continue;
        }
        assert_eq!(listed(&v), *expected, "{params:?}");
        assert_eq!(v["TotalCount"], expected.len(), "{params:?}");
    }
    let v = bench
        .call(
            "DescribeIpv6Addresses",
            &[("AssociatedInstanceType", "EcsInstance")],
        )
        .unwrap();
    assert_eq!(v["TotalCount"], 13, "the type alone does not filter");
    let many = (1..=21)
        .map(|i| format!("ipv6-{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let (s, c) = code(bench.call("DescribeIpv6Addresses", &[("Ipv6AddressId", &many)]));
    assert_eq!((s, c.as_str()), (400, "InvalidParameter"));
}
