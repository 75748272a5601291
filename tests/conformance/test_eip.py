"""EIPs and NAT gateways: AssociateEipAddress, UnassociateEipAddress,
DescribeEipAddresses (cloud-api.md §3). Available → Associating → InUse →
Unassociating → Available."""

from natop_support import DURATIONS, items_of


def eips(ali, **filters):
    return items_of(ali.call("DescribeEipAddresses", **filters), "EipAddresses", "EipAddress")


def test_fixture_eips_start_available(ali, fx):
    shown = eips(ali, PageSize=50)
    assert sorted(e["AllocationId"] for e in shown) == sorted(e["allocationId"] for e in fx.eips())
    for e in shown:
        assert e["Status"] == "Available"
        assert e["InstanceId"] == ""
        assert e["RegionId"] == "cn-hangzhou"


def test_association_state_machine(ali, fx, advance):
    gid = ali.gateway()["NatGatewayId"]
    eip = fx.eips()[2]
    ali.call("AssociateEipAddress", AllocationId=eip["allocationId"], InstanceId=gid,
             InstanceType="Nat")
    shown = ali.eip(eip["allocationId"])
    assert shown["Status"] == "Associating"
    assert (shown["InstanceId"], shown["InstanceType"]) == (gid, "Nat")
    assert shown["IpAddress"] == eip["ipAddress"]
    advance(DURATIONS["associating"] + 1)
    shown = ali.eip(eip["allocationId"])
    assert shown["Status"] == "InUse"
    assert (shown["InstanceId"], shown["InstanceType"], shown["InstanceRegionId"]) == (
        gid, "Nat", "cn-hangzhou")

    ali.call("UnassociateEipAddress", AllocationId=eip["allocationId"], InstanceId=gid,
             InstanceType="Nat")
    shown = ali.eip(eip["allocationId"])
    assert shown["Status"] == "Unassociating"
    advance(DURATIONS["associating"] + 1)
    shown = ali.eip(eip["allocationId"])
    assert shown["Status"] == "Available"
    assert shown["InstanceId"] == "" and shown["InstanceType"] == ""
    assert items_of(ali.nat_gateway(gid), "IpLists", "IpList") == []


def test_only_queries_while_associating_or_unassociating(ali, fx, advance):
    gid = ali.gateway()["NatGatewayId"]
    eip = fx.eips()[0]
    ali.bind_eip(gid, eip, settle=False)
    ali.expect("IncorrectEipStatus", "UnassociateEipAddress", status=400,
               AllocationId=eip["allocationId"], InstanceId=gid, InstanceType="Nat")
    ali.expect("IncorrectEipStatus", "AssociateEipAddress", status=400,
               AllocationId=eip["allocationId"], InstanceId=gid, InstanceType="Nat")
    advance(DURATIONS["associating"] + 1)
    ali.call("UnassociateEipAddress", AllocationId=eip["allocationId"], InstanceId=gid,
             InstanceType="Nat")
    ali.expect("IncorrectEipStatus", "UnassociateEipAddress",
               AllocationId=eip["allocationId"], InstanceId=gid, InstanceType="Nat")
    ali.expect("IncorrectEipStatus", "AssociateEipAddress",
               AllocationId=eip["allocationId"], InstanceId=gid, InstanceType="Nat")


def test_an_eip_in_use_cannot_be_bound_again(ali, fx):
    first = ali.gateway()["NatGatewayId"]
    second = ali.gateway()["NatGatewayId"]
    eip = fx.eips()[0]
    ali.bind_eip(first, eip)
    ali.expect("IncorrectEipStatus", "AssociateEipAddress", AllocationId=eip["allocationId"],
               InstanceId=second, InstanceType="Nat")


def test_a_gateway_holds_many_eips(ali, fx):
    gid = ali.gateway()["NatGatewayId"]
    for eip in fx.eips()[:5]:
        ali.bind_eip(gid, eip, settle=False)
    ali.advance(DURATIONS["associating"] + 1)
    ips = {i["IpAddress"] for i in items_of(ali.nat_gateway(gid), "IpLists", "IpList")}
    assert ips == {e["ipAddress"] for e in fx.eips()[:5]}
    bound = eips(ali, AssociatedInstanceType="Nat", AssociatedInstanceId=gid)
    assert len(bound) == 5 and all(e["Status"] == "InUse" for e in bound)


def test_unassociate_an_available_eip(ali, fx):
    ali.expect("IncorrectEipStatus", "UnassociateEipAddress", status=400,
               AllocationId=fx.eips()[0]["allocationId"])


def test_unassociate_from_the_wrong_instance(ali, fx):
    gid = ali.gateway()["NatGatewayId"]
    other = ali.gateway()["NatGatewayId"]
    eip = fx.eips()[0]
    ali.bind_eip(gid, eip)
    ali.expect("InvalidBindingStatus", "UnassociateEipAddress", status=400,
               AllocationId=eip["allocationId"], InstanceId=other, InstanceType="Nat")
    assert ali.eip(eip["allocationId"])["Status"] == "InUse"


def test_association_errors(ali, fx, ali_factory):
    gid = ali.gateway()["NatGatewayId"]
    eip = fx.eips()[0]["allocationId"]
    ali.expect("InvalidAllocationId.NotFound", "AssociateEipAddress", status=404,
               AllocationId="eip-nosuch0000000", InstanceId=gid, InstanceType="Nat")
    ali.expect("InvalidParams.NotFound", "AssociateEipAddress", status=400,
               AllocationId=eip, InstanceId="ngw-nosuch000000", InstanceType="Nat")
    ali.expect("InvalidInstanceType.ValueNotSupported", "AssociateEipAddress", status=400,
               AllocationId=eip, InstanceId=gid, InstanceType="Router")
    ali.expect("InvalidParameter.Mismatch", "AssociateEipAddress", status=400,
               AllocationId=eip, InstanceId=gid, InstanceType="Nat", InstanceRegionId="cn-beijing")
    ali.expect("MissingAllocationId", "AssociateEipAddress", InstanceId=gid, InstanceType="Nat")
    ali.expect("MissingInstanceId", "AssociateEipAddress", AllocationId=eip, InstanceType="Nat")
    ali.expect("InvalidAllocationId.NotFound", "UnassociateEipAddress", status=404,
               AllocationId="eip-nosuch0000000")
    # An EIP of the other region is not found in this one.
    ali.expect("InvalidAllocationId.NotFound", "AssociateEipAddress",
               AllocationId=fx.eips("cn-beijing")[0]["allocationId"], InstanceId=gid,
               InstanceType="Nat")
    assert ali.eip(eip)["Status"] == "Available"


def test_unassociate_refused_while_entries_use_the_ip(ali, fx):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    dnat_eip, snat_eip = fx.eips()[0], fx.eips()[1]
    dnat_ip = ali.bind_eip(gid, dnat_eip)
    snat_ip = ali.bind_eip(gid, snat_eip)
    ali.dnat(gw, dnat_ip)
    ali.snat(gw, snat_ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("DependencyViolation.ForwardEntry", "UnassociateEipAddress", status=400,
               AllocationId=dnat_eip["allocationId"], InstanceId=gid, InstanceType="Nat")
    ali.expect("DependencyViolation.SnatEntry", "UnassociateEipAddress", status=400,
               AllocationId=snat_eip["allocationId"], InstanceId=gid, InstanceType="Nat")


def test_forced_unassociate_removes_the_entries(ali, fx, advance):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    eip = fx.eips()[0]
    ip = ali.bind_eip(gid, eip)
    ali.dnat(gw, ip)
    ali.snat(gw, ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.call("UnassociateEipAddress", AllocationId=eip["allocationId"], InstanceId=gid,
             InstanceType="Nat", Force=True)
    advance(DURATIONS["associating"] + 1)
    assert ali.forward_entries(gw["ForwardTableId"]) == []
    assert ali.snat_entries(gw["SnatTableId"]) == []
    assert ali.eip(eip["allocationId"])["Status"] == "Available"


def test_describe_filters(ali, fx):
    gid = ali.gateway()["NatGatewayId"]
    bound = fx.eips()[3]
    ali.bind_eip(gid, bound)
    assert [e["AllocationId"] for e in eips(ali, Status="InUse")] == [bound["allocationId"]]
    assert len(eips(ali, Status="Available", PageSize=50)) == len(fx.eips()) - 1
    by_instance = eips(ali, AssociatedInstanceType="Nat", AssociatedInstanceId=gid)
    assert [e["AllocationId"] for e in by_instance] == [bound["allocationId"]]
    by_ip = eips(ali, EipAddress=fx.eips()[5]["ipAddress"])
    assert [e["AllocationId"] for e in by_ip] == [fx.eips()[5]["allocationId"]]
    wanted = [fx.eips()[i]["allocationId"] for i in (1, 7, 9)]
    listed = eips(ali, AllocationId=",".join(wanted))
    assert sorted(e["AllocationId"] for e in listed) == sorted(wanted)
    ali.expect("InvalidIAssociatedInstanceType.ValueNotSupported", "DescribeEipAddresses",
               status=400, AssociatedInstanceType="Router")
    ali.expect("InvalidChargeType.ValueNotSupported", "DescribeEipAddresses", status=400,
               ChargeType="Forever")
    ali.expect("InvalidLockReason.NotFound", "DescribeEipAddresses", status=404, LockReason="bored")
    ali.expect("InvalidFilterKey.NotFound", "DescribeEipAddresses", status=404,
               Filter=[{"Key": "Colour", "Value": "blue"}])


def test_each_account_has_its_own_eips(ali, ali2, fx):
    gid = ali.gateway()["NatGatewayId"]
    eip = fx.eips()[0]
    ali.bind_eip(gid, eip)
    assert ali.eip(eip["allocationId"])["Status"] == "InUse"
    assert ali2.eip(eip["allocationId"])["Status"] == "Available"
    # The second account cannot bind its copy to the first account's gateway.
    ali2.expect("InvalidParams.NotFound", "AssociateEipAddress",
                AllocationId=eip["allocationId"], InstanceId=gid, InstanceType="Nat")
