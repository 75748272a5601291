use crate::emulator::alibaba::nat_gateway::testing::*;

#[test]
fn delete_refuses_while_dependents_remain() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    let delete = |b: &mut Bench| code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
    let ip = bind_eip(&mut b, &id, EIP1, "InUse");
    assert_eq!(delete(&mut b), (400, "DependencyViolation.EIPS".into()));
    add_dnat(&mut b, &id, &ip, "Available");
    assert_eq!(
        delete(&mut b),
        (400, "DependencyViolation.ForwardEntry".into())
    );
    add_snat(&mut b, &id, &ip, "Available");
    assert_eq!(
        delete(&mut b),
        (400, "DependencyViolation.SnatEntry".into())
    );
    add_package(&mut b, &id, "bwp-1", "118.1.1.1");
    assert_eq!(
        delete(&mut b),
        (400, "DependencyViolation.BandwidthPackages".into())
    );
    assert_eq!(status(&mut b, &id), "Available");
}

#[test]
fn forced_delete_releases_everything_then_the_gateway_goes() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    let keep = available(&mut b, &[]);
    let ip = bind_eip(&mut b, &id, EIP1, "InUse");
    let kept_ip = bind_eip(&mut b, &keep, "eip-hz02natop00000000", "InUse");
    add_dnat(&mut b, &id, &ip, "Available");
    add_snat(&mut b, &id, &ip, "Available");
    add_snat(&mut b, &keep, &kept_ip, "Available");
    add_package(&mut b, &id, "bwp-1", "118.1.1.1");
    b.call(
        "DeleteNatGateway",
        &[("NatGatewayId", &id), ("Force", "true")],
    )
    .unwrap();
    assert!(b.state.forward_entries.is_empty());
    assert_eq!(
        b.state.snat_entries.len(),
        1,
        "the other gateway's entry stays"
    );
    assert!(b.state.bandwidth_packages.is_empty());
    let eip = &b.state.eips[EIP1].wire;
    assert_eq!(eip.status, "Available");
    assert!(eip.instance_id.is_empty() && eip.instance_type.is_empty());
    assert_eq!(b.state.eips["eip-hz02natop00000000"].wire.instance_id, keep);

    assert_eq!(status(&mut b, &id), "Deleting");
    let again = code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
    assert_eq!(again, (400, "IncorrectStatus.NatGateway".into()));
    b.advance(10);
    let v = b
        .call("DescribeNatGateways", &[("NatGatewayId", &id)])
        .unwrap();
    assert_eq!(v["TotalCount"], 0, "gone");
    let gone = code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
    assert_eq!(gone, (404, "InvalidNatGatewayId.NotFound".into()));
    let none = code(b.call("DeleteNatGateway", &[("NatGatewayId", "")]));
    assert_eq!(none, (400, "MissingNatGatewayId".into()));
}

#[test]
fn plain_delete_of_a_bare_gateway() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    b.call("DeleteNatGateway", &[("NatGatewayId", &id)])
        .unwrap();
    b.advance(9);
    assert_eq!(status(&mut b, &id), "Deleting");
    b.advance(1);
    assert!(b.state.nat_gateways.is_empty());
}
