use serde_json::Value;

use crate::cloud::alibaba::actions::eip::{LockReason, Tag};
use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
use crate::emulator::ApiError;
use crate::emulator::alibaba::testing::Bench;
use crate::emulator::state::Record;

const EIP1: &str = "eip-hz01natop00000000";
const EIP2: &str = "eip-hz02natop00000000";

/// Parameters, then the expected HTTP status and code.
type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

fn code(result: Result<Value, ApiError>) -> (u16, String) {
    let e = result.expect_err("an error");
    (e.status, e.code)
}

/// An Available gateway.
fn gateway(b: &mut Bench) -> String {
    let v = b
        .call("CreateNatGateway", &[("VpcId", "vpc-hz1natop0000000000")])
        .unwrap();
    b.advance(60);
    v["NatGatewayId"].as_str().unwrap().to_string()
}

fn associate(b: &mut Bench, eip: &str, gw: &str) -> Result<Value, ApiError> {
    b.call(
        "AssociateEipAddress",
        &[
            ("AllocationId", eip),
            ("InstanceId", gw),
            ("InstanceType", "Nat"),
        ],
    )
}

/// `eip` bound (InUse) to a new gateway; returns the gateway and the IP.
fn bound(b: &mut Bench, eip: &str) -> (String, String) {
    let gw = gateway(b);
    associate(b, eip, &gw).unwrap();
    b.advance(3);
    (gw, b.state.eips[eip].wire.ip_address.clone())
}

fn eip(b: &mut Bench, id: &str) -> Value {
    let v = b
        .call("DescribeEipAddresses", &[("AllocationId", id)])
        .unwrap();
    v["EipAddresses"]["EipAddress"][0].clone()
}

fn add_dnat(b: &mut Bench, gw: &str, ip: &str) {
    let entry = ForwardTableEntry {
        forward_entry_id: "fwd-1".into(),
        nat_gateway_id: gw.into(),
        external_ip: ip.into(),
        status: "Available".into(),
        ..ForwardTableEntry::default()
    };
    b.state
        .forward_entries
        .insert("fwd-1".into(), Record::new(entry, None, 0));
}

fn add_snat(b: &mut Bench, gw: &str, snat_ip: &str) {
    let entry = SnatTableEntry {
        snat_entry_id: "snat-1".into(),
        nat_gateway_id: gw.into(),
        snat_ip: snat_ip.into(),
        status: "Available".into(),
        ..SnatTableEntry::default()
    };
    b.state
        .snat_entries
        .insert("snat-1".into(), Record::new(entry, None, 0));
}

#[test]
fn associate_binds_at_once_and_is_in_use_after_the_duration() {
    let mut b = Bench::new();
    let gw = gateway(&mut b);
    associate(&mut b, EIP1, &gw).unwrap();
    let e = eip(&mut b, EIP1);
    assert_eq!(e["Status"], "Associating");
    assert_eq!(e["InstanceId"], gw.as_str());
    assert_eq!(e["InstanceType"], "Nat");
    assert_eq!(e["InstanceRegionId"], "cn-hangzhou");
    assert_eq!(e["Mode"], "NAT");
    // The gateway lists the IP while it is being bound.
    let g = b
        .call("DescribeNatGateways", &[("NatGatewayId", &gw)])
        .unwrap();
    assert_eq!(
        g["NatGateways"]["NatGateway"][0]["IpLists"]["IpList"][0]["AllocationId"],
        EIP1
    );
    b.advance(2);
    assert_eq!(eip(&mut b, EIP1)["Status"], "Associating");
    b.advance(1);
    assert_eq!(eip(&mut b, EIP1)["Status"], "InUse");
    let busy = code(associate(&mut b, EIP1, &gw));
    assert_eq!(busy, (400, "IncorrectEipStatus".into()), "already bound");
}

#[test]
fn associate_checks_its_parameters_and_the_gateway() {
    let mut b = Bench::new();
    let gw = gateway(&mut b);
    let cases: &[Case] = &[
        (&[("InstanceId", "ngw-x")], 400, "MissingAllocationId"),
        (
            &[("AllocationId", EIP1), ("InstanceId", "")],
            400,
            "MissingInstanceId",
        ),
        (
            &[("AllocationId", EIP1), ("InstanceId", &gw)],
            400,
            "InvalidInstanceType.ValueNotSupported",
        ),
        (
            &[
                ("AllocationId", EIP1),
                ("InstanceId", &gw),
                ("InstanceType", "SlbInstance"),
            ],
            400,
            "InvalidInstanceType.ValueNotSupported",
        ),
        (
            &[
                ("AllocationId", EIP1),
                ("InstanceId", &gw),
                ("InstanceType", "Router"),
            ],
            400,
            "InvalidInstanceType.ValueNotSupported",
        ),
        (
            &[
                ("AllocationId", EIP1),
                ("InstanceId", &gw),
                ("InstanceType", "Nat"),
                ("Mode", "X"),
            ],
            400,
            "InvalidParameter",
        ),
        (
            &[
                ("AllocationId", EIP1),
                ("InstanceId", &gw),
                ("InstanceType", "Nat"),
                ("InstanceRegionId", "cn-beijing"),
            ],
            400,
            "InvalidParameter.Mismatch",
        ),
        (
            &[
                ("AllocationId", "eip-nope"),
                ("InstanceId", &gw),
                ("InstanceType", "Nat"),
            ],
            404,
            "InvalidAllocationId.NotFound",
        ),
        (
            &[
                ("AllocationId", EIP1),
                ("InstanceId", "ngw-nope"),
                ("InstanceType", "Nat"),
            ],
            400,
            "InvalidParams.NotFound",
        ),
    ];
    for (params, http, expected) in cases {
        let got = code(b.call("AssociateEipAddress", params));
        assert_eq!(got, (*http, expected.to_string()), "{params:?}");
    }
    assert_eq!(
        b.state.eips[EIP1].wire.status, "Available",
        "nothing changed"
    );

    let creating = b
        .call("CreateNatGateway", &[("VpcId", "vpc-hz1natop0000000000")])
        .unwrap()["NatGatewayId"]
        .as_str()
        .unwrap()
        .to_string();
    let got = code(associate(&mut b, EIP1, &creating));
    assert_eq!(got, (400, "IncorrectInstanceStatus".into()));
    b.call(
        "AssociateEipAddress",
        &[
            ("AllocationId", EIP2),
            ("InstanceId", &gw),
            ("InstanceType", "Nat"),
            ("Mode", "MULTI_BINDED"),
        ],
    )
    .unwrap();
    assert_eq!(b.state.eips[EIP2].wire.mode, "MULTI_BINDED");
    let got = code(associate(&mut b, EIP2, &gw));
    assert_eq!(got, (400, "IncorrectEipStatus".into()), "while Associating");
}

#[test]
fn unassociate_goes_through_unassociating_and_clears_the_binding() {
    let mut b = Bench::new();
    let (gw, _) = bound(&mut b, EIP1);
    b.call(
        "UnassociateEipAddress",
        &[
            ("AllocationId", EIP1),
            ("InstanceId", &gw),
            ("InstanceType", "Nat"),
        ],
    )
    .unwrap();
    let e = eip(&mut b, EIP1);
    assert_eq!(e["Status"], "Unassociating");
    assert_eq!(e["InstanceId"], gw.as_str(), "bound until done");
    let again = code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
    assert_eq!(again, (400, "IncorrectEipStatus".into()));
    b.advance(3);
    let e = eip(&mut b, EIP1);
    assert_eq!(e["Status"], "Available");
    assert_eq!(e["InstanceId"], "");
    assert_eq!(e["InstanceType"], "");
    let unbound = code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
    assert_eq!(unbound, (400, "IncorrectEipStatus".into()));
}

#[test]
fn unassociate_checks_the_binding() {
    let mut b = Bench::new();
    let (gw, _) = bound(&mut b, EIP1);
    let cases: &[Case] = &[
        (&[], 400, "MissingAllocationId"),
        (
            &[("AllocationId", "eip-nope")],
            404,
            "InvalidAllocationId.NotFound",
        ),
        (
            &[("AllocationId", EIP1), ("InstanceId", "ngw-other")],
            400,
            "InvalidBindingStatus",
        ),
        (
            &[("AllocationId", EIP1), ("InstanceType", "EcsInstance")],
            400,
            "InvalidBindingStatus",
        ),
        (
            &[("AllocationId", EIP1), ("InstanceType", "Router")],
            400,
            "InvalidInstanceType.ValueNotSupported",
        ),
    ];
    for (params, http, expected) in cases {
        let got = code(b.call("UnassociateEipAddress", params));
        assert_eq!(got, (*http, expected.to_string()), "{params:?}");
    }
    b.state.nat_gateways.get_mut(&gw).unwrap().wire.status = "Modifying".into();
    let got = code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
    assert_eq!(got, (400, "IncorrectInstanceStatus".into()));
}

#[test]
fn unassociate_refuses_an_ip_in_use_unless_forced() {
    let mut b = Bench::new();
    let (gw, ip) = bound(&mut b, EIP1);
    let (_, ip2) = bound(&mut b, EIP2);
    add_dnat(&mut b, &gw, &ip);
    let unbind = |b: &mut Bench| code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
    assert_eq!(
        unbind(&mut b),
        (400, "DependencyViolation.ForwardEntry".into())
    );
    b.state.forward_entries.clear();
    add_snat(&mut b, &gw, &format!("{ip2}, {ip}"));
    assert_eq!(
        unbind(&mut b),
        (400, "DependencyViolation.SnatEntry".into())
    );
    add_dnat(&mut b, &gw, &ip);
    b.call(
        "UnassociateEipAddress",
        &[("AllocationId", EIP1), ("Force", "true")],
    )
    .unwrap();
    assert!(b.state.forward_entries.is_empty() && b.state.snat_entries.is_empty());
    assert_eq!(b.state.eips[EIP1].wire.status, "Unassociating");
}

#[test]
fn an_ip_used_by_another_gateway_does_not_block() {
    let mut b = Bench::new();
    let (_, ip) = bound(&mut b, EIP1);
    add_dnat(&mut b, "ngw-other", &ip);
    b.call("UnassociateEipAddress", &[("AllocationId", EIP1)])
        .unwrap();
    assert_eq!(b.state.forward_entries.len(), 1);
}

#[test]
fn describe_filters() {
    let mut b = Bench::new();
    let (gw, ip1) = bound(&mut b, EIP1);
    associate(&mut b, EIP2, &gw).unwrap();
    let ids = |b: &mut Bench, params: &[(&str, &str)]| -> Vec<String> {
        let v = b.call("DescribeEipAddresses", params).unwrap();
        v["EipAddresses"]["EipAddress"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["AllocationId"].as_str().unwrap().to_string())
            .collect()
    };
    let both = vec![EIP1.to_string(), EIP2.to_string()];
    assert_eq!(
        ids(&mut b, &[("AllocationId", &format!("{EIP1}, {EIP2}"))]),
        both
    );
    assert_eq!(ids(&mut b, &[("EipAddress", &ip1)]), vec![EIP1.to_string()]);
    assert_eq!(
        ids(&mut b, &[("Status", "Associating")]),
        vec![EIP2.to_string()]
    );
    assert_eq!(ids(&mut b, &[("Status", "InUse")]), vec![EIP1.to_string()]);
    assert_eq!(
        ids(
            &mut b,
            &[
                ("AssociatedInstanceType", "Nat"),
                ("AssociatedInstanceId", &gw)
            ]
        ),
        both
    );
    assert_eq!(ids(&mut b, &[("AssociatedInstanceType", "Nat")]), both);
    assert_eq!(
        ids(&mut b, &[("AssociatedInstanceId", &gw)]),
        Vec::<String>::new(),
        "without a type the service looks for an ECS instance"
    );
    assert_eq!(
        ids(&mut b, &[("ChargeType", "PostPaid"), ("ISP", "BGP")]).len(),
        10
    );
    assert_eq!(ids(&mut b, &[("ChargeType", "PrePaid")]).len(), 0);
    assert_eq!(ids(&mut b, &[("ResourceGroupId", "rg-x")]).len(), 0);
    assert_eq!(ids(&mut b, &[("SegmentInstanceId", "eipsg-x")]).len(), 0);

    let e = &mut b.state.eips.get_mut(EIP2).unwrap().wire;
    e.operation_locks.push(LockReason {
        lock_reason: "financial".into(),
    });
    e.tags.push(Tag {
        key: "owner".into(),
        value: "natop".into(),
    });
    assert_eq!(
        ids(&mut b, &[("LockReason", "financial")]),
        vec![EIP2.to_string()]
    );
    assert_eq!(ids(&mut b, &[("LockReason", "security")]).len(), 0);
    assert_eq!(
        ids(&mut b, &[("Tag.1.Key", "owner"), ("Tag.1.Value", "natop")]),
        vec![EIP2.to_string()]
    );
    assert_eq!(
        ids(&mut b, &[("Tag.1.Key", "owner"), ("Tag.1.Value", "x")]).len(),
        0
    );
}

#[test]
fn describe_creation_time_filters() {
    let mut b = Bench::new();
    b.state.eips.get_mut(EIP2).unwrap().created_ms += 3_600_000;
    let ids = |b: &mut Bench, params: &[(&str, &str)]| -> Vec<String> {
        let v = b.call("DescribeEipAddresses", params).unwrap();
        v["EipAddresses"]["EipAddress"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["AllocationId"].as_str().unwrap().to_string())
            .collect()
    };
    // The bench starts at 2001-09-09T01:46:40Z.
    let late = [
        ("Filter.1.Key", "CreationStartTime"),
        ("Filter.1.Value", "2001-09-09T02:00Z"),
    ];
    assert_eq!(ids(&mut b, &late), vec![EIP2.to_string()]);
    let early = [
        ("Filter.1.Key", "CreationEndTime"),
        ("Filter.1.Value", "2001-09-09T02:00Z"),
        ("PageSize", "50"),
    ];
    assert_eq!(ids(&mut b, &early).len(), 11);
    let bad_key = code(b.call(
        "DescribeEipAddresses",
        &[
            ("Filter.1.Key", "Color"),
            ("Filter.1.Value", "2001-09-09T02:00Z"),
        ],
    ));
    assert_eq!(bad_key, (404, "InvalidFilterKey.NotFound".into()));
    let bad_value = code(b.call(
        "DescribeEipAddresses",
        &[
            ("Filter.1.Key", "CreationStartTime"),
            ("Filter.1.Value", "yesterday"),
        ],
    ));
    assert_eq!(bad_value, (404, "InvalidFilterValue".into()));
}

#[test]
fn describe_validates_filters() {
    let mut b = Bench::new();
    let cases: &[Case] = &[
        (
            &[("AssociatedInstanceType", "Router")],
            400,
            "InvalidIAssociatedInstanceType.ValueNotSupported",
        ),
        (
            &[("ChargeType", "Free")],
            400,
            "InvalidChargeType.ValueNotSupported",
        ),
        (
            &[("LockReason", "boredom")],
            404,
            "InvalidLockReason.NotFound",
        ),
        (&[("DryRun", "true")], 400, "DryRunOperation"),
        (&[("PageNumber", "0")], 400, "InvalidParameter.PageNumber"),
    ];
    for (params, http, expected) in cases {
        let got = code(b.call("DescribeEipAddresses", params));
        assert_eq!(got, (*http, expected.to_string()), "{params:?}");
    }
    let many: String = (0..51).map(|i| format!("eip-{i},")).collect();
    let got = code(b.call("DescribeEipAddresses", &[("AllocationId", &many)]));
    assert_eq!(got, (400, "InvalidParameter".into()));
}

#[test]
fn describe_paginates() {
    let mut b = Bench::new();
    let page = |b: &mut Bench, number: &str| {
        b.call(
            "DescribeEipAddresses",
            &[("PageNumber", number), ("PageSize", "5")],
        )
        .unwrap()
    };
    let first = page(&mut b, "1");
    assert_eq!(first["TotalCount"], 12);
    assert_eq!(first["PageNumber"], 1);
    assert_eq!(first["PageSize"], 5);
    assert_eq!(first["EipAddresses"]["EipAddress"][0]["AllocationId"], EIP1);
    let third = page(&mut b, "3");
    let last: Vec<&str> = third["EipAddresses"]["EipAddress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["AllocationId"].as_str().unwrap())
        .collect();
    assert_eq!(last, vec!["eip-hz11natop00000000", "eip-hz12natop00000000"]);
    let default = b.call("DescribeEipAddresses", &[]).unwrap();
    assert_eq!(default["PageSize"], 10);
    assert_eq!(
        default["EipAddresses"]["EipAddress"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    assert_eq!(default["EipAddresses"]["EipAddress"][0]["Descritpion"], "");
}
