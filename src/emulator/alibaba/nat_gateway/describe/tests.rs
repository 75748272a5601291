use crate::emulator::alibaba::nat_gateway::testing::*;

#[test]
fn describe_filters() {
    let mut b = Bench::new();
    let small = available(
        &mut b,
        &[
            ("Name", "alpha"),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "a"),
        ],
    );
    let large = create(&mut b, &[("Name", "beta"), ("Spec", "Large")]);
    b.advance(1);
    let other_vpc = b
        .call("CreateNatGateway", &[("VpcId", VPC2), ("Name", "gamma")])
        .unwrap()["NatGatewayId"]
        .as_str()
        .unwrap()
        .to_string();
    b.advance(1);
    let enhanced = create(&mut b, &[("NatType", "Enhanced"), ("VSwitchId", VSW_A)]);
    let ids = |b: &mut Bench, params: &[(&str, &str)]| -> Vec<String> {
        let v = b.call("DescribeNatGateways", params).unwrap();
        v["NatGateways"]["NatGateway"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["NatGatewayId"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&mut b, &[]),
        vec![
            small.clone(),
            large.clone(),
            other_vpc.clone(),
            enhanced.clone()
        ]
    );
    assert_eq!(
        ids(&mut b, &[("NatGatewayId", &large)]),
        vec![large.clone()]
    );
    assert_eq!(ids(&mut b, &[("VpcId", VPC2)]), vec![other_vpc.clone()]);
    assert_eq!(ids(&mut b, &[("Name", "alpha")]), vec![small.clone()]);
    assert_eq!(ids(&mut b, &[("Status", "Available")]), vec![small.clone()]);
    assert_eq!(ids(&mut b, &[("Spec", "Large")]), vec![large.clone()]);
    assert_eq!(
        ids(&mut b, &[("NatType", "Enhanced")]),
        vec![enhanced.clone()]
    );
    assert_eq!(ids(&mut b, &[("InstanceChargeType", "PostPaid")]).len(), 4);
    assert_eq!(
        ids(&mut b, &[("NetworkType", "intranet")]),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&mut b, &[("ResourceGroupId", "rg-1")]),
        Vec::<String>::new()
    );
    assert_eq!(ids(&mut b, &[("Tag.1.Key", "team")]), vec![small.clone()]);
    assert_eq!(
        ids(&mut b, &[("Tag.1.Key", "team"), ("Tag.1.Value", "b")]),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(
            &mut b,
            &[("VpcId", VPC1), ("Spec", "Small"), ("NatType", "Normal")]
        ),
        vec![small]
    );
    let dry = code(b.call("DescribeNatGateways", &[("DryRun", "true")]));
    assert_eq!(dry, (400, "DryRunOperation".into()));
}

#[test]
fn describe_paginates_in_creation_order() {
    let mut b = Bench::new();
    let mut created = Vec::new();
    for _ in 0..12 {
        created.push(create(&mut b, &[]));
        b.advance(1);
    }
    let page = |b: &mut Bench, number: &str, size: &str| {
        b.call(
            "DescribeNatGateways",
            &[("PageNumber", number), ("PageSize", size)],
        )
        .unwrap()
    };
    let first = page(&mut b, "1", "5");
    assert_eq!(
        (
            first["TotalCount"].as_u64(),
            first["PageNumber"].as_u64(),
            first["PageSize"].as_u64()
        ),
        (Some(12), Some(1), Some(5))
    );
    let third = page(&mut b, "3", "5");
    let got: Vec<&str> = third["NatGateways"]["NatGateway"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["NatGatewayId"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![created[10].as_str(), created[11].as_str()]);
    let default = b.call("DescribeNatGateways", &[]).unwrap();
    assert_eq!(default["PageSize"], 10);
    assert_eq!(
        default["NatGateways"]["NatGateway"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let beyond = page(&mut b, "4", "5");
    assert_eq!(beyond["NatGateways"]["NatGateway"], serde_json::json!([]));
    let too_big = code(b.call("DescribeNatGateways", &[("PageSize", "51")]));
    assert_eq!(too_big, (400, "InvalidParameter.PageSize".into()));
}

#[test]
fn describe_shows_ips_their_use_and_bandwidth_packages() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    let ip1 = bind_eip(&mut b, &id, EIP1, "InUse");
    let ip2 = bind_eip(&mut b, &id, "eip-hz02natop00000000", "InUse");
    bind_eip(&mut b, &id, "eip-hz03natop00000000", "Unassociating");
    add_package(&mut b, &id, "bwp-1", "118.1.1.1");
    add_dnat(&mut b, &id, &ip1, "Available");
    add_snat(&mut b, &id, &format!("{ip2},118.1.1.1"), "Available");
    let g = gateway(&mut b, &id);
    let ips: Vec<(&str, &str, &str)> = g["IpLists"]["IpList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["AllocationId"].as_str().unwrap(),
                i["IpAddress"].as_str().unwrap(),
                i["UsingStatus"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ips,
        vec![
            (EIP1, ip1.as_str(), "UsedByForwardTable"),
            ("eip-hz02natop00000000", ip2.as_str(), "UsedBySnatTable"),
            ("nateip-bwp-1", "118.1.1.1", "UsedBySnatTable"),
        ],
        "an unbinding EIP is no longer listed"
    );
    assert_eq!(
        g["BandwidthPackageIds"]["BandwidthPackageId"],
        serde_json::json!(["bwp-1"])
    );
}
