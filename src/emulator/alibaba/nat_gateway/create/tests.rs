use serde_json::Value;

use crate::emulator::alibaba::nat_gateway::testing::*;

#[test]
fn create_then_available_after_the_creating_duration() {
    let mut b = Bench::new();
    let v = b
        .call(
            "CreateNatGateway",
            &[("VpcId", VPC1), ("ClientToken", "tok-1")],
        )
        .unwrap();
    let id = v["NatGatewayId"].as_str().unwrap().to_string();
    assert!(id.starts_with("ngw-") && id.len() == 26, "{id}");
    let ftb = v["ForwardTableIds"]["ForwardTableId"][0].as_str().unwrap();
    let stb = v["SnatTableIds"]["SnatTableId"][0].as_str().unwrap();
    assert!(ftb.starts_with("ftb-") && stb.starts_with("stb-"));
    assert_eq!(
        b.state.nat_gateways[&id].client_token.as_deref(),
        Some("tok-1")
    );

    let g = gateway(&mut b, &id);
    assert_eq!(g["Status"], "Creating");
    assert_eq!(g["Name"], id.as_str(), "the name defaults to the id");
    assert_eq!(g["BusinessStatus"], "Normal");
    assert_eq!(g["Spec"], "Small");
    assert_eq!(g["NatType"], "Normal");
    assert_eq!(g["InstanceChargeType"], "PostPaid");
    assert_eq!(g["InternetChargeType"], "PayBySpec");
    assert_eq!(g["VpcId"], VPC1);
    assert_eq!(g["RegionId"], "cn-hangzhou");
    assert_eq!(g["CreationTime"], "2001-09-09T01:46:40Z");
    assert_eq!(g["ForwardTableIds"]["ForwardTableId"][0], ftb);
    assert_eq!(g["SnatTableIds"]["SnatTableId"][0], stb);
    assert_eq!(g["IpLists"]["IpList"], serde_json::json!([]));
    assert!(g.get("NatGatewayPrivateInfo").is_none());

    b.advance(59);
    assert_eq!(status(&mut b, &id), "Creating");
    b.advance(1);
    assert_eq!(status(&mut b, &id), "Available");
}

#[test]
fn create_keeps_name_description_spec_and_tags() {
    let mut b = Bench::new();
    let id = create(
        &mut b,
        &[
            ("Name", "natop-gw.1"),
            ("Description", "made by natop"),
            ("Spec", "Large"),
            ("Tag.1.Key", "owner"),
            ("Tag.1.Value", "natop"),
        ],
    );
    let g = gateway(&mut b, &id);
    assert_eq!(g["Name"], "natop-gw.1");
    assert_eq!(g["Description"], "made by natop");
    assert_eq!(g["Spec"], "Large");
    assert_eq!(g["Tags"]["Tag"][0]["TagKey"], "owner");
    assert_eq!(g["Tags"]["Tag"][0]["TagValue"], "natop");
}

#[test]
fn create_validates_its_parameters() {
    let mut b = Bench::new();
    let cases: &[Case] = &[
        (&[], 400, "MissingVpcId"),
        (&[("VpcId", "")], 400, "MissingVpcId"),
        (&[("VpcId", "vpc-nope")], 404, "InvalidVpcId.NotFound"),
        (
            &[("VpcId", VPC1), ("Name", "1bad")],
            400,
            "InvalidNatGatewayName.Malformed",
        ),
        (
            &[("VpcId", VPC1), ("Name", "http://x")],
            400,
            "InvalidNatGatewayName.Malformed",
        ),
        (
            &[("VpcId", VPC1), ("Description", "x")],
            400,
            "InvalidNatGatewayDescription.Malformed",
        ),
        (
            &[("VpcId", VPC1), ("Spec", "Huge")],
            400,
            "InvalidParameter.Spec.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("NatType", "Super")],
            400,
            "InvalidParameter.NatType.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("NatType", "Enhanced")],
            400,
            "MissingVSwitchId",
        ),
        (
            &[("VpcId", VPC1), ("VSwitchId", "vsw-nope")],
            404,
            "InvalidVSwitchId.NotFound",
        ),
        (
            &[("VpcId", VPC1), ("VSwitchId", VSW_OTHER_VPC)],
            400,
            "OperationFailed.VswitchNotBelongToVpc",
        ),
        (
            &[("VpcId", VPC1), ("InternetChargeType", "PayByLcu")],
            400,
            "InvalidParameter.InternetChargeType.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("InternetChargeType", "PayByMood")],
            400,
            "InvalidParameter.InternetChargeType.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("InstanceChargeType", "Free")],
            400,
            "InvalidParameter.InstanceChargeType.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("InstanceChargeType", "PrePaid")],
            400,
            "MissingPricingCycle",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("InstanceChargeType", "PrePaid"),
                ("PricingCycle", "Month"),
            ],
            400,
            "MissingDuration",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("InstanceChargeType", "PrePaid"),
                ("PricingCycle", "Month"),
                ("Duration", "1"),
            ],
            400,
            "MissingAutoPay",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("InstanceChargeType", "PrePaid"),
                ("PricingCycle", "Month"),
                ("Duration", "10"),
                ("AutoPay", "true"),
            ],
            400,
            "InvalidParameter.Duration.ValueNotSupported",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("InstanceChargeType", "PrePaid"),
                ("PricingCycle", "Year"),
                ("Duration", "4"),
                ("AutoPay", "true"),
            ],
            400,
            "InvalidParameter.Duration.ValueNotSupported",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("InstanceChargeType", "PrePaid"),
                ("PricingCycle", "Week"),
                ("Duration", "1"),
                ("AutoPay", "true"),
            ],
            400,
            "InvalidParameter.PricingCycle.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("NetworkType", "dark")],
            400,
            "InvalidParameter.NetworkType.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("EipBindMode", "X")],
            400,
            "InvalidParameter.EipBindMode.ValueNotSupported",
        ),
        (
            &[("VpcId", VPC1), ("Tag.1.Key", "aliyun-x")],
            400,
            "InvalidTagKey.Malformed",
        ),
        (
            &[("VpcId", VPC1), ("BandwidthPackage.1.IpCount", "1")],
            400,
            "MissingBandwidth",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("BandwidthPackage.1.Bandwidth", "5"),
                ("BandwidthPackage.1.IpCount", "1"),
                ("BandwidthPackage.2.Bandwidth", "5"),
                ("BandwidthPackage.2.IpCount", "1"),
            ],
            400,
            "MissingParameter.BandwidthPackage",
        ),
    ];
    for (params, http, expected) in cases {
        let got = code(b.call("CreateNatGateway", params));
        assert_eq!(got, (*http, expected.to_string()), "{params:?}");
    }
    assert!(b.state.nat_gateways.is_empty(), "nothing created");
    assert!(b.state.bandwidth_packages.is_empty(), "no package either");
}

/// `BandwidthPackage.1.*` with the gateway parameters that are valid.
fn with_package<'a>(package: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    let mut params = vec![("VpcId".to_string(), VPC1)];
    params.extend(
        package
            .iter()
            .map(|(k, v)| (format!("BandwidthPackage.1.{k}"), *v)),
    );
    params
}

fn call_with_package(
    b: &mut Bench,
    package: &[(&str, &str)],
) -> Result<Value, crate::emulator::ApiError> {
    let params = with_package(package);
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    b.call("CreateNatGateway", &params)
}

#[test]
fn create_with_one_legacy_bandwidth_package() {
    let mut b = Bench::new();
    let v = call_with_package(
        &mut b,
        &[
            ("Bandwidth", "20"),
            ("IpCount", "2"),
            ("Zone", "cn-hangzhou-c"),
            ("ISP", "BGP"),
            ("InternetChargeType", "PayByBandwidth"),
        ],
    )
    .unwrap();
    let id = v["NatGatewayId"].as_str().unwrap().to_string();
    let ids = v["BandwidthPackageIds"]["BandwidthPackageId"]
        .as_array()
        .unwrap();
    assert_eq!(ids.len(), 1, "{v}");
    let bwp = ids[0].as_str().unwrap().to_string();
    assert!(bwp.starts_with("bwp-") && bwp.len() == 26, "{bwp}");

    let p = &b.state.bandwidth_packages[&bwp].wire;
    assert_eq!(p.nat_gateway_id, id);
    assert_eq!(
        (p.bandwidth, p.ip_count, p.zone_id.as_str()),
        (Some(20), Some(2), "cn-hangzhou-c")
    );
    assert_eq!(
        (p.isp.as_str(), p.internet_charge_type.as_str()),
        ("BGP", "PayByBandwidth")
    );
    assert_eq!(p.public_ip_addresses.len(), 2);
    assert_eq!(p.status, "Creating");
    assert_eq!(
        b.state.nat_gateways[&id].wire.bandwidth_package_ids,
        vec![bwp.clone()]
    );

    let g = gateway(&mut b, &id);
    assert_eq!(
        g["BandwidthPackageIds"]["BandwidthPackageId"][0],
        bwp.as_str()
    );
    assert_eq!(g["IpLists"]["IpList"].as_array().unwrap().len(), 2);
    b.advance(60);
    assert_eq!(status(&mut b, &id), "Available");
    let shown = b
        .call("DescribeBandwidthPackages", &[("BandwidthPackageId", &bwp)])
        .unwrap();
    let shown = &shown["BandwidthPackages"]["BandwidthPackage"][0];
    assert_eq!(shown["Status"], "Available");
    assert_eq!(shown["NatGatewayId"], id.as_str());

    let got = code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
    assert_eq!(got, (400, "DependencyViolation.BandwidthPackages".into()));
}

#[test]
fn create_without_a_package_answers_no_package_id() {
    let mut b = Bench::new();
    let v = b.call("CreateNatGateway", &[("VpcId", VPC1)]).unwrap();
    let ids = &v["BandwidthPackageIds"]["BandwidthPackageId"];
    assert!(ids.is_null() || ids == &serde_json::json!([]), "{v}");
    assert!(b.state.bandwidth_packages.is_empty());
}

#[test]
fn a_bad_legacy_package_parameter_creates_nothing() {
    let mut b = Bench::new();
    let cases: &[Case] = &[
        (&[("IpCount", "1")], 400, "MissingBandwidth"),
        (&[("Bandwidth", "5")], 400, "MissingIpCount"),
        (
            &[("Bandwidth", "4"), ("IpCount", "1")],
            404,
            "InvalidBandwidth.ValueNotSupported",
        ),
        (
            &[("Bandwidth", "5"), ("IpCount", "0")],
            400,
            "InvalidIpCount.ValueNotSupported",
        ),
        (
            &[("Bandwidth", "5"), ("IpCount", "51")],
            400,
            "QuotaExceeded.BandwidthPackageIps",
        ),
        (
            &[
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("ISP", "ChinaTelecom"),
            ],
            400,
            "InvalidParameter.BandwidthPackage.n.ISP.ValueNotSupport",
        ),
        (
            &[
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("InternetChargeType", "PayBySpec"),
            ],
            400,
            "InvalidInternetChargeType.ValueNotSupported",
        ),
        (
            &[
                ("Bandwidth", "5"),
                ("IpCount", "1"),
                ("Zone", "cn-nowhere-z"),
            ],
            404,
            "InvalidZoneId.NotFound",
        ),
    ];
    for (package, http, expected) in cases {
        let got = code(call_with_package(&mut b, package));
        assert_eq!(got, (*http, expected.to_string()), "{package:?}");
    }
    assert!(b.state.nat_gateways.is_empty(), "no gateway");
    assert!(b.state.bandwidth_packages.is_empty(), "no package");
}

#[test]
fn only_legacy_accounts_create_a_package_with_the_gateway() {
    let mut b = Bench::new();
    b.account = 1;
    let got = code(call_with_package(
        &mut b,
        &[("Bandwidth", "5"), ("IpCount", "1")],
    ));
    assert_eq!(got, (403, "Forbidden.NatBandwidthPackage".into()));
    assert!(b.state.nat_gateways.is_empty() && b.state.bandwidth_packages.is_empty());
    create(&mut b, &[("VSwitchId", VSW_A)]);
    assert_eq!(b.state.nat_gateways.len(), 1, "without a package it works");
}

/// Account 1 of the default fixture is a new account: the service sells it
/// Enhanced gateways billed by capacity units only.
#[test]
fn a_new_account_gets_enhanced_gateways_billed_by_capacity_units() {
    let mut b = Bench::new();
    b.account = 1;
    let id = create(&mut b, &[("VSwitchId", VSW_A), ("Spec", "Large")]);
    let g = gateway(&mut b, &id);
    assert_eq!(g["NatType"], "Enhanced");
    assert_eq!(g["InternetChargeType"], "PayByLcu");
    assert_eq!(g["Spec"], "", "no size: the Spec sent is ignored");
    b.advance(60);
    let resize = b.call(
        "ModifyNatGatewaySpec",
        &[("NatGatewayId", id.as_str()), ("Spec", "Middle")],
    );
    assert_eq!(code(resize), (400, "OperationUnsupported.PayByLcu".into()));
    let refused: [Case; 5] = [
        (&[("VpcId", VPC1)], 400, "MissingVSwitchId"),
        (
            &[("VpcId", VPC1), ("NatType", "Normal")],
            400,
            "Forbidden.NatPayBySpec",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("VSwitchId", VSW_A),
                ("InternetChargeType", "PayBySpec"),
            ],
            400,
            "Forbidden.NatPayBySpec",
        ),
        (
            &[("VpcId", VPC1), ("VSwitchId", VSW_A), ("Spec", "Huge")],
            400,
            "InvalidParameter.Spec.ValueNotSupported",
        ),
        (
            &[
                ("VpcId", VPC1),
                ("NetworkType", "intranet"),
                ("NatType", "Normal"),
            ],
            400,
            "Forbidden.NatPayBySpec",
        ),
    ];
    for (params, status, expected) in refused {
        let got = code(b.call("CreateNatGateway", params));
        assert_eq!(got, (status, expected.to_string()), "{params:?}");
    }
    assert_eq!(b.state.nat_gateways.len(), 1, "nothing refused was made");
    // A subscription may still be billed by specification, with a size.
    let prepaid = create(
        &mut b,
        &[
            ("VSwitchId", VSW_B),
            ("InternetChargeType", "PayBySpec"),
            ("Spec", "Middle"),
            ("InstanceChargeType", "PrePaid"),
            ("PricingCycle", "Month"),
            ("Duration", "1"),
            ("AutoPay", "true"),
        ],
    );
    assert_eq!(gateway(&mut b, &prepaid)["Spec"], "Middle");
}

#[test]
fn an_old_account_still_gets_normal_gateways_by_default() {
    let mut b = Bench::new();
    let id = create(&mut b, &[]);
    let g = gateway(&mut b, &id);
    assert_eq!(
        (g["NatType"].as_str(), g["Spec"].as_str()),
        (Some("Normal"), Some("Small"))
    );
    assert_eq!(g["InternetChargeType"], "PayBySpec");
    let code_of = code(b.call(
        "CreateNatGateway",
        &[("VpcId", VPC1), ("NetworkType", "intranet")],
    ));
    assert_eq!(code_of, (400, "OperationFailed.NatTypeNotEnhanced".into()));
}

/// A VPC NAT gateway: its private IP is the IP its entries use, and no EIP
/// binds to it.
#[test]
fn an_intranet_gateway_translates_with_its_private_ip() {
    let mut b = Bench::new();
    b.account = 1;
    let id = available(&mut b, &[("VSwitchId", VSW_A), ("NetworkType", "intranet")]);
    let g = gateway(&mut b, &id);
    assert_eq!(g["NetworkType"], "intranet");
    let private = g["NatGatewayPrivateInfo"]["PrivateIpAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(g["IpLists"]["IpList"][0]["IpAddress"], private.as_str());
    let table = g["ForwardTableIds"]["ForwardTableId"][0]
        .as_str()
        .unwrap()
        .to_string();
    b.call(
        "CreateForwardEntry",
        &[
            ("ForwardTableId", table.as_str()),
            ("ExternalIp", private.as_str()),
            ("ExternalPort", "8080"),
            ("InternalIp", "172.16.1.20"),
            ("InternalPort", "80"),
            ("IpProtocol", "TCP"),
        ],
    )
    .unwrap();
    let bind = b.call(
        "AssociateEipAddress",
        &[
            ("AllocationId", EIP1),
            ("InstanceId", id.as_str()),
            ("InstanceType", "Nat"),
        ],
    );
    assert_eq!(
        code(bind),
        (400, "OperationUnsupported.VpcNatGateway".into())
    );
}

#[test]
fn prepaid_gateways_expire_after_their_duration() {
    let mut b = Bench::new();
    let id = create(
        &mut b,
        &[
            ("InstanceChargeType", "PrePaid"),
            ("PricingCycle", "Year"),
            ("Duration", "2"),
            ("AutoPay", "false"),
        ],
    );
    let g = gateway(&mut b, &id);
    assert_eq!(g["InstanceChargeType"], "PrePaid");
    assert_eq!(g["ExpiredTime"], "2003-09-09T01:46Z");
    let v = b
        .call("DescribeNatGateways", &[("InstanceChargeType", "PostPaid")])
        .unwrap();
    assert_eq!(v["TotalCount"], 0);
}

#[test]
fn enhanced_gateways_take_a_private_ip_of_their_vswitch() {
    let mut b = Bench::new();
    let id = create(
        &mut b,
        &[
            ("NatType", "Enhanced"),
            ("VSwitchId", VSW_B),
            ("InternetChargeType", "PayByLcu"),
        ],
    );
    let other = create(&mut b, &[("NatType", "Enhanced"), ("VSwitchId", VSW_B)]);
    let g = gateway(&mut b, &id);
    assert_eq!(g["NatType"], "Enhanced");
    assert_eq!(g["InternetChargeType"], "PayByLcu");
    let info = &g["NatGatewayPrivateInfo"];
    assert_eq!(info["VswitchId"], VSW_B);
    assert_eq!(info["IzNo"], "cn-hangzhou-b");
    assert!(info["EniInstanceId"].as_str().unwrap().starts_with("eni-"));
    assert_eq!(info["MaxSessionQuota"], 10_000);
    let ip: std::net::Ipv4Addr = info["PrivateIpAddress"].as_str().unwrap().parse().unwrap();
    let net: ipnet::Ipv4Net = "172.16.2.0/24".parse().unwrap();
    assert!(net.contains(&ip), "{ip}");
    let last = ip.octets()[3];
    assert!(
        (1..=251).contains(&last),
        "reserved addresses are skipped: {ip}"
    );
    let other_ip = gateway(&mut b, &other)["NatGatewayPrivateInfo"]["PrivateIpAddress"].clone();
    assert_ne!(other_ip, info["PrivateIpAddress"], "two gateways, two IPs");

    let by_zone = b
        .call("DescribeNatGateways", &[("ZoneId", "cn-hangzhou-b")])
        .unwrap();
    assert_eq!(by_zone["TotalCount"], 2);
    let none = b
        .call("DescribeNatGateways", &[("ZoneId", "cn-hangzhou-a")])
        .unwrap();
    assert_eq!(none["TotalCount"], 0);
}

#[test]
fn enhanced_gateways_need_a_supported_zone_and_a_free_ip() {
    let mut b = Bench::new();
    b.fixture.alibaba.regions[0].zones = vec!["cn-hangzhou-a".to_string()];
    let got = code(b.call(
        "CreateNatGateway",
        &[
            ("VpcId", VPC1),
            ("NatType", "Enhanced"),
            ("VSwitchId", VSW_B),
        ],
    ));
    assert_eq!(
        got,
        (400, "OperationFailed.EnhancedInventoryNotEnough".into())
    );
    // A Normal gateway may name a vSwitch in any zone.
    create(&mut b, &[("VSwitchId", VSW_B)]);

    b.fixture.alibaba.regions[0].vpcs[0].v_switches[0].cidr_block = "172.16.1.0/30".into();
    let got = code(b.call(
        "CreateNatGateway",
        &[
            ("VpcId", VPC1),
            ("NatType", "Enhanced"),
            ("VSwitchId", VSW_A),
        ],
    ));
    assert_eq!(got, (400, "ZONE_NO_AVAILABLE_IP".into()));
}
