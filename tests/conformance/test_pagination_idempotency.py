"""Pagination (PageNumber/PageSize: default 10, at most 50, TotalCount),
ClientToken idempotency (cloud-api.md §2) and account isolation."""

import pytest

from natop_support import DURATIONS, items_of

LISTS = {
    "DescribeEipAddresses": ("EipAddresses", "EipAddress", "AllocationId"),
    "DescribeIpv6Addresses": ("Ipv6Addresses", "Ipv6Address", "Ipv6AddressId"),
    "DescribeNatGateways": ("NatGateways", "NatGateway", "NatGatewayId"),
}


def page(ali, action, **params):
    outer, inner, key = LISTS[action]
    answer = ali.call(action, **params)
    return answer, [item[key] for item in items_of(answer, outer, inner)]


# ---- pagination ----

@pytest.mark.parametrize("action", ["DescribeEipAddresses", "DescribeIpv6Addresses"])
def test_default_page_is_ten(ali, action):
    answer, ids = page(ali, action)
    assert (answer["TotalCount"], answer["PageNumber"], answer["PageSize"]) == (12, 1, 10)
    assert len(ids) == 10
    second, rest = page(ali, action, PageNumber=2)
    assert second["PageNumber"] == 2 and len(rest) == 2
    assert not set(ids) & set(rest)
    _, everything = page(ali, action, PageSize=50)
    assert everything == ids + rest


@pytest.mark.parametrize("action", ["DescribeEipAddresses", "DescribeIpv6Addresses",
                                    "DescribeNatGateways"])
def test_page_size_limits(ali, action):
    answer, _ = page(ali, action, PageSize=50)
    assert answer["PageSize"] == 50
    ali.expect("InvalidParameter.PageSize", action, status=400, PageSize=51)
    ali.expect("InvalidParameter.PageSize", action, status=400, PageSize=0)
    ali.expect("InvalidParameter.PageNumber", action, status=400, PageNumber=0)


def test_numbers_must_be_numbers(ali):
    ali.expect("InvalidParameter", "DescribeEipAddresses", status=400, PageSize="ten")
    ali.expect("InvalidParameter", "DescribeEipAddresses", status=400, PageNumber="-1")


def test_page_beyond_the_end_is_empty(ali):
    answer, ids = page(ali, "DescribeEipAddresses", PageNumber=5, PageSize=5)
    assert ids == [] and answer["TotalCount"] == 12


def test_small_pages_cover_everything_once(ali):
    seen = []
    for number in range(1, 5):
        answer, ids = page(ali, "DescribeEipAddresses", PageNumber=number, PageSize=4)
        assert answer["TotalCount"] == 12
        seen += ids
    assert len(seen) == 12 and len(set(seen)) == 12


def test_nat_gateways_are_paged_in_creation_order(ali):
    created = []
    for _ in range(12):
        created.append(ali.gateway(ready=False)["NatGatewayId"])
        ali.advance(1)  # distinct creation times (the clock is still between calls)
    answer, first = page(ali, "DescribeNatGateways")
    assert answer["TotalCount"] == 12 and first == created[:10]
    _, second = page(ali, "DescribeNatGateways", PageNumber=2)
    assert second == created[10:]
    _, small = page(ali, "DescribeNatGateways", PageNumber=3, PageSize=5)
    assert small == created[10:]


def test_dnat_entries_are_paged(ali, fx):
    gw = ali.gateway()
    ip = ali.bind_eip(gw["NatGatewayId"], fx.eips()[0])
    created = [ali.dnat(gw, ip, external_port=str(100 + n), internal_ip="172.16.1.9",
                        internal_port=str(100 + n)) for n in range(12)]
    answer = ali.call("DescribeForwardTableEntries", ForwardTableId=gw["ForwardTableId"])
    assert (answer["TotalCount"], answer["PageNumber"], answer["PageSize"]) == (12, 1, 10)
    first = [e["ForwardEntryId"] for e in items_of(answer, "ForwardTableEntries", "ForwardTableEntry")]
    second = [e["ForwardEntryId"] for e in ali.forward_entries(gw["ForwardTableId"], PageNumber=2)]
    assert first + second == created
    ali.expect("InvalidParameter.PageSize", "DescribeForwardTableEntries",
               ForwardTableId=gw["ForwardTableId"], PageSize=51)


def test_snat_entries_are_paged(ali, fx):
    gw = ali.gateway()
    ip = ali.bind_eip(gw["NatGatewayId"], fx.eips()[0])
    created = [ali.snat(gw, ip, SourceCIDR=f"172.16.{100 + n}.0/24") for n in range(11)]
    answer = ali.call("DescribeSnatTableEntries", SnatTableId=gw["SnatTableId"], PageSize=5,
                      PageNumber=3)
    assert (answer["TotalCount"], answer["PageNumber"], answer["PageSize"]) == (11, 3, 5)
    assert [e["SnatEntryId"] for e in items_of(answer, "SnatTableEntries", "SnatTableEntry")] == created[10:]


# ---- idempotency ----

def test_same_token_same_parameters_returns_the_first_answer(ali, fx, emulator):
    params = dict(VpcId=fx.vpc()["vpcId"], Name="idem-gw", ClientToken="token-create-1")
    first = ali.call("CreateNatGateway", **params)
    second = ali.call("CreateNatGateway", **params)
    assert second["NatGatewayId"] == first["NatGatewayId"]
    assert second["ForwardTableIds"] == first["ForwardTableIds"]
    assert second["SnatTableIds"] == first["SnatTableIds"]
    assert list(emulator.alibaba_state(ali.account_id)["natGateways"]) == [first["NatGatewayId"]]


def test_same_token_different_parameters_is_a_mismatch(ali, fx, emulator):
    ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], Name="first-name", ClientToken="tok-2")
    ali.expect("IdempotentParameterMismatch", "CreateNatGateway", status=400,
               VpcId=fx.vpc()["vpcId"], Name="other-name", ClientToken="tok-2")
    ali.expect("IdempotentParameterMismatch", "CreateNatGateway", status=400,
               VpcId=fx.vpc(1)["vpcId"], Name="first-name", ClientToken="tok-2")
    assert len(emulator.alibaba_state(ali.account_id)["natGateways"]) == 1


def test_tokens_are_case_sensitive(ali, fx, emulator):
    ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], ClientToken="Token-3")
    ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], ClientToken="token-3")
    assert len(emulator.alibaba_state(ali.account_id)["natGateways"]) == 2


def test_the_answer_is_repeated_even_after_the_state_moved_on(ali, fx, advance):
    params = dict(VpcId=fx.vpc()["vpcId"], ClientToken="tok-4")
    first = ali.call("CreateNatGateway", **params)
    advance(DURATIONS["creating"] + 1)
    assert ali.call("CreateNatGateway", **params)["NatGatewayId"] == first["NatGatewayId"]


def test_without_a_token_a_repeated_create_duplicates(ali, fx, emulator):
    ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], Name="dup")
    ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], Name="dup")
    assert len(emulator.alibaba_state(ali.account_id)["natGateways"]) == 2


def test_a_failed_call_does_not_consume_the_token(ali, fx, emulator):
    ali.expect("InvalidNatGatewayName.Malformed", "CreateNatGateway", VpcId=fx.vpc()["vpcId"],
               Name="1bad", ClientToken="tok-5")
    ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], Name="good", ClientToken="tok-5")
    assert len(emulator.alibaba_state(ali.account_id)["natGateways"]) == 1


def test_tokens_are_per_account(ali, ali2, fx):
    first = ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], ClientToken="shared-tok")
    # The second account is a new one: Enhanced gateways only, in a vSwitch.
    second = ali2.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], ClientToken="shared-tok",
                       VSwitchId=fx.vswitch(0, 0)["vSwitchId"])
    assert first["NatGatewayId"] != second["NatGatewayId"]


def test_idempotent_dnat_create(ali, fx):
    gw = ali.gateway()
    ip = ali.bind_eip(gw["NatGatewayId"], fx.eips()[0])
    params = dict(ForwardTableId=gw["ForwardTableId"], ExternalIp=ip, ExternalPort="80",
                  InternalIp="172.16.1.10", InternalPort="80", IpProtocol="TCP", ClientToken="dnat-tok")
    first = ali.call("CreateForwardEntry", **params)
    # The table is locked by the Pending entry, yet the retry gets the first answer.
    second = ali.call("CreateForwardEntry", **params)
    assert second["ForwardEntryId"] == first["ForwardEntryId"]
    assert len(ali.forward_entries(gw["ForwardTableId"])) == 1
    ali.expect("IdempotentParameterMismatch", "CreateForwardEntry",
               **{**params, "InternalPort": "81"})


def test_idempotent_snat_create_and_eip_association(ali, fx):
    gw = ali.gateway()
    eip = fx.eips()[0]
    bind = dict(AllocationId=eip["allocationId"], InstanceId=gw["NatGatewayId"],
                InstanceType="Nat", ClientToken="bind-tok")
    ali.call("AssociateEipAddress", **bind)
    # Associating: a new call would be refused, the retry is answered.
    ali.call("AssociateEipAddress", **bind)
    ali.advance(DURATIONS["associating"] + 1)
    params = dict(SnatTableId=gw["SnatTableId"], SnatIp=eip["ipAddress"],
                  SourceVSwitchId=fx.vswitch()["vSwitchId"], ClientToken="snat-tok")
    first = ali.call("CreateSnatEntry", **params)
    assert ali.call("CreateSnatEntry", **params)["SnatEntryId"] == first["SnatEntryId"]
    assert len(ali.snat_entries(gw["SnatTableId"])) == 1


def test_idempotent_bandwidth_package_create(ali):
    gid = ali.gateway()["NatGatewayId"]
    params = dict(NatGatewayId=gid, Bandwidth=5, IpCount=1, ClientToken="bwp-tok")
    first = ali.call("CreateBandwidthPackage", **params)
    assert ali.call("CreateBandwidthPackage", **params)["BandwidthPackageId"] == first["BandwidthPackageId"]
    assert len(ali.packages()) == 1


# ---- accounts see only their own resources ----

def test_accounts_see_only_their_own_resources(ali, ali2, fx):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    assert items_of(ali2.call("DescribeNatGateways"), "NatGateways", "NatGateway") == []
    assert items_of(ali2.call("DescribeNatGateways", NatGatewayId=gid), "NatGateways", "NatGateway") == []
    ali2.expect("InvalidNatGatewayId.NotFound", "DeleteNatGateway", status=404, NatGatewayId=gid)
    ali2.expect("InvalidNatGatewayId.NotFound", "ModifyNatGatewayAttribute", NatGatewayId=gid,
                Name="stolen")
    ali2.expect("InvalidNatGatewayId.NotFound", "ModifyNatGatewaySpec", NatGatewayId=gid,
                Spec="Large")
    ali2.expect("InvalidNatGatewayId.NotFound", "GetNatGatewayConvertStatus", NatGatewayId=gid)
    own = ali2.gateway(VSwitchId=fx.vswitch(0, 0)["vSwitchId"])["NatGatewayId"]
    assert [g["NatGatewayId"] for g in items_of(ali.call("DescribeNatGateways"), "NatGateways",
                                                "NatGateway")] == [gid]
    assert [g["NatGatewayId"] for g in items_of(ali2.call("DescribeNatGateways"), "NatGateways",
                                                "NatGateway")] == [own]
    assert ali.nat_gateway(gid)["Name"] == gid
