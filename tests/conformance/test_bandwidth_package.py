"""Legacy NAT bandwidth packages (seeds 000/001 ch. 7, 002): create, describe,
modify attribute and spec, add/remove IPs, delete, convert; only for accounts
that owned one before 2017-11-03 (the first account of the fixture)."""

import pytest

from natop_support import DURATIONS, assert_id, items_of

ACTIONS = {
    "CreateBandwidthPackage": dict(NatGatewayId="ngw-any", Bandwidth=5, IpCount=1),
    "DescribeBandwidthPackages": {},
    "ModifyBandwidthPackageAttribute": dict(BandwidthPackageId="bwp-any", Name="abc"),
    "ModifyBandwidthPackageSpec": dict(BandwidthPackageId="bwp-any", Bandwidth=10),
    "AddBandwidthPackageIps": dict(BandwidthPackageId="bwp-any", IpCount=1),
    "RemoveBandwidthPackageIps": dict(BandwidthPackageId="bwp-any", RemovedIpAddresses=["1.1.1.1"]),
    "DeleteBandwidthPackage": dict(BandwidthPackageId="bwp-any"),
    "ConvertBandwidthPackage": dict(BandwidthPackageId="bwp-any"),
}


@pytest.fixture
def gw(ali):
    return ali.gateway()


@pytest.fixture
def package(ali, gw, advance):
    """An Available package with 3 IPs on `gw`."""
    package_id = ali.package(gw["NatGatewayId"], bandwidth=10, ip_count=3)
    advance(DURATIONS["creating"] + 1)
    return package_id


def ips_of(ali, package_id):
    return [i["IpAddress"] for i in ali.package_ips(package_id)]


# ---- legacy gating ----

@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_accounts_without_legacy_packages_are_refused(ali2, action):
    ali2.expect("Forbidden.NatBandwidthPackage", action, status=403, **ACTIONS[action])


def test_gating_does_not_depend_on_the_region(ali_factory):
    beijing2 = ali_factory(1, region="cn-beijing")
    beijing2.expect("Forbidden.NatBandwidthPackage", "DescribeBandwidthPackages", status=403)
    ali_factory(0, region="cn-beijing").call("DescribeBandwidthPackages")


# ---- create / describe ----

def test_create_then_available(ali, gw, advance, fx):
    gid = gw["NatGatewayId"]
    package_id = ali.package(gid, bandwidth=20, ip_count=2, Name="pkg-1", Description="two ips")
    assert_id(package_id, "bwp")
    [shown] = ali.packages(BandwidthPackageId=package_id)
    assert shown["Status"] == "Creating"
    advance(DURATIONS["creating"] + 1)
    [shown] = ali.packages(BandwidthPackageId=package_id)
    assert shown["Status"] == "Available"
    assert shown["NatGatewayId"] == gid
    assert int(shown["Bandwidth"]) == 20
    assert int(shown["IpCount"]) == 2
    assert shown["ISP"] == "BGP"
    assert shown["RegionId"] == "cn-hangzhou"
    assert shown["ZoneId"] in fx.region()["zones"]
    assert (shown["Name"], shown["Description"]) == ("pkg-1", "two ips")
    assert shown["CreationTime"].endswith("Z")
    ips = items_of(shown, "PublicIpAddresses", "PublicIpAddresse")
    assert len(ips) == 2
    for ip in ips:
        assert_id(ip["AllocationId"], "nateip")
        assert ip["UsingStatus"] == "Idle"
    # The gateway lists the package and its IPs.
    gateway = ali.nat_gateway(gid)
    assert gateway["BandwidthPackageIds"]["BandwidthPackageId"] == [package_id]
    listed = {i["IpAddress"] for i in items_of(gateway, "IpLists", "IpList")}
    assert listed == {ip["IpAddress"] for ip in ips}


@pytest.mark.parametrize("bandwidth", [5, 1000])
def test_bandwidth_bounds_accepted(ali, gw, bandwidth):
    package_id = ali.package(gw["NatGatewayId"], bandwidth=bandwidth, ip_count=1)
    assert int(ali.packages(BandwidthPackageId=package_id)[0]["Bandwidth"]) == bandwidth


@pytest.mark.parametrize("bandwidth", [0, 4, 1001, 5000])
def test_bandwidth_out_of_range(ali, gw, bandwidth):
    ali.expect("InvalidBandwidth.ValueNotSupported", "CreateBandwidthPackage", status=404,
               NatGatewayId=gw["NatGatewayId"], Bandwidth=bandwidth, IpCount=1)


def test_ip_count_bounds(ali, gw):
    gid = gw["NatGatewayId"]
    ali.expect("InvalidIpCount.ValueNotSupported", "CreateBandwidthPackage", status=400,
               NatGatewayId=gid, Bandwidth=5, IpCount=0)
    ali.expect("QuotaExceeded.BandwidthPackageIps", "CreateBandwidthPackage", status=400,
               NatGatewayId=gid, Bandwidth=5, IpCount=51)
    package_id = ali.package(gid, ip_count=50)
    assert len(ali.package_ips(package_id)) == 50


@pytest.mark.parametrize("missing", ["NatGatewayId", "Bandwidth", "IpCount"])
def test_required_parameters(ali, gw, missing):
    params = dict(NatGatewayId=gw["NatGatewayId"], Bandwidth=5, IpCount=1)
    del params[missing]
    ali.expect(f"Missing{missing}", "CreateBandwidthPackage", status=400, **params)


def test_unknown_gateway(ali):
    ali.expect("NATGW_NOT_EXIST", "CreateBandwidthPackage", status=404,
               NatGatewayId="ngw-nosuch000000", Bandwidth=5, IpCount=1)


def test_name_description_isp_zone_rules(ali, gw):
    gid = gw["NatGatewayId"]
    base = dict(NatGatewayId=gid, Bandwidth=5, IpCount=1)
    for name in ("a", "1pkg", "http://pkg", "p" * 129):
        ali.expect("InvalidParameter.Name.Malformed", "CreateBandwidthPackage", status=400,
                   **base, Name=name)
    for description in ("d", "https://x.y", "d" * 257):
        ali.expect("InvalidParameter.Description.Malformed", "CreateBandwidthPackage",
                   status=400, **base, Description=description)
    ali.expect("InvalidParameter.BandwidthPackage.n.ISP.ValueNotSupport", "CreateBandwidthPackage",
               status=400, **base, ISP="ChinaMobile")
    ali.expect("InvalidZoneId.NotFound", "CreateBandwidthPackage", status=404, **base,
               Zone="cn-hangzhou-z")
    assert ali.packages() == []
    package_id = ali.package(gid, Zone="cn-hangzhou-c", ISP="BGP")
    assert ali.packages(BandwidthPackageId=package_id)[0]["ZoneId"] == "cn-hangzhou-c"


def test_at_most_four_packages_per_gateway(ali, gw):
    gid = gw["NatGatewayId"]
    for _ in range(4):
        ali.package(gid, ip_count=1)
    ali.expect("QuotaExceeded.BandwidthPackageCountOnNatGateway", "CreateBandwidthPackage",
               status=400, NatGatewayId=gid, Bandwidth=5, IpCount=1)
    # Another gateway has its own four.
    other = ali.gateway()["NatGatewayId"]
    ali.package(other, ip_count=1)


def test_describe_filters_and_pagination(ali, gw):
    first = gw["NatGatewayId"]
    second = ali.gateway()["NatGatewayId"]
    mine = []
    for _ in range(3):
        mine.append(ali.package(first, ip_count=1))
        ali.advance(1)  # distinct creation times: the list is in creation order
    theirs = ali.package(second, ip_count=1)
    assert [p["BandwidthPackageId"] for p in ali.packages(NatGatewayId=first)] == mine
    assert [p["BandwidthPackageId"] for p in ali.packages(NatGatewayId=second)] == [theirs]
    page = ali.call("DescribeBandwidthPackages", PageSize=3, PageNumber=2)
    assert (page["TotalCount"], page["PageNumber"], page["PageSize"]) == (4, 2, 3)
    assert [p["BandwidthPackageId"] for p in items_of(page, "BandwidthPackages", "BandwidthPackage")] == [theirs]


# ---- modify ----

def test_modify_attribute(ali, package):
    ali.call("ModifyBandwidthPackageAttribute", BandwidthPackageId=package, Name="renamed",
             Description="better words")
    [shown] = ali.packages(BandwidthPackageId=package)
    assert (shown["Name"], shown["Description"]) == ("renamed", "better words")
    ali.expect("InvalidParameter.Name.Malformed", "ModifyBandwidthPackageAttribute",
               BandwidthPackageId=package, Name="https://x")
    ali.expect("InvalidParameter.Description.Malformed", "ModifyBandwidthPackageAttribute",
               BandwidthPackageId=package, Description="x")
    ali.expect("InvalidBandwidthPackageId.NotFound", "ModifyBandwidthPackageAttribute",
               status=404, BandwidthPackageId="bwp-nosuch000000", Name="abc")


def test_modify_spec(ali, package):
    ali.call("ModifyBandwidthPackageSpec", BandwidthPackageId=package, Bandwidth=200)
    assert int(ali.packages(BandwidthPackageId=package)[0]["Bandwidth"]) == 200
    for bad in (4, 1001):
        ali.expect("InvalidBandwidth.ValueNotSupported", "ModifyBandwidthPackageSpec", status=404,
                   BandwidthPackageId=package, Bandwidth=bad)
    ali.expect("InvalidBandwidthPackageId.NotFound", "ModifyBandwidthPackageSpec", status=404,
               BandwidthPackageId="bwp-nosuch000000", Bandwidth=10)


def test_writes_refused_while_creating(ali, gw):
    package_id = ali.package(gw["NatGatewayId"])
    ali.expect("IncorrectStatus.BandwidthPackage", "ModifyBandwidthPackageSpec",
               BandwidthPackageId=package_id, Bandwidth=10)
    ali.expect("IncorrectStatus.BandwidthPackage", "DeleteBandwidthPackage",
               BandwidthPackageId=package_id)


# ---- add / remove IPs ----

def test_add_ips(ali, package):
    before = ips_of(ali, package)
    ali.call("AddBandwidthPackageIps", BandwidthPackageId=package, IpCount=2)
    after = ips_of(ali, package)
    assert len(after) == 5 and after[:3] == before
    assert int(ali.packages(BandwidthPackageId=package)[0]["IpCount"]) == 5


def test_add_ips_rules(ali, package):
    ali.expect("InvalidIpCount.ValueNotSupported", "AddBandwidthPackageIps", status=400,
               BandwidthPackageId=package, IpCount=0)
    ali.expect("InvalidIpCount.ValueNotSupported", "AddBandwidthPackageIps", status=400,
               BandwidthPackageId=package, IpCount=51)
    ali.expect("QuotaExceeded.BandwidthPackageIps", "AddBandwidthPackageIps", status=400,
               BandwidthPackageId=package, IpCount=48)
    ali.call("AddBandwidthPackageIps", BandwidthPackageId=package, IpCount=47)
    assert len(ips_of(ali, package)) == 50


def test_remove_ips(ali, package):
    ips = ips_of(ali, package)
    ali.call("RemoveBandwidthPackageIps", BandwidthPackageId=package, RemovedIpAddresses=ips[:2])
    assert ips_of(ali, package) == ips[2:]
    assert int(ali.packages(BandwidthPackageId=package)[0]["IpCount"]) == 1


def test_remove_all_ips_is_refused(ali, package):
    ips = ips_of(ali, package)
    ali.expect("InvalidIpCount.ValueNotSupported", "RemoveBandwidthPackageIps", status=400,
               BandwidthPackageId=package, RemovedIpAddresses=ips)
    assert ips_of(ali, package) == ips


def test_removed_ips_must_belong_to_the_package(ali, gw, package, advance, fx):
    other = ali.package(gw["NatGatewayId"], ip_count=1)
    advance(DURATIONS["creating"] + 1)
    [foreign] = ips_of(ali, other)
    ali.expect("invalidRemovedIpAddresses.NotFound", "RemoveBandwidthPackageIps", status=404,
               BandwidthPackageId=package, RemovedIpAddresses=[foreign])
    ali.expect("InvalidRemovedIpAddresses.NotFound", "RemoveBandwidthPackageIps", status=400,
               BandwidthPackageId=package, RemovedIpAddresses=[fx.eips()[0]["ipAddress"]])
    assert len(ips_of(ali, package)) == 3


def test_ips_in_use_cannot_be_removed(ali, gw, package, fx):
    ips = ips_of(ali, package)
    ali.dnat(gw, ips[0])
    ali.snat(gw, ips[1], SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("DependencyViolation.ForwardEntry", "RemoveBandwidthPackageIps", status=400,
               BandwidthPackageId=package, RemovedIpAddresses=[ips[0]])
    ali.expect("DependencyViolation.SnatEntry", "RemoveBandwidthPackageIps", status=400,
               BandwidthPackageId=package, RemovedIpAddresses=[ips[1]])
    ali.call("RemoveBandwidthPackageIps", BandwidthPackageId=package, RemovedIpAddresses=[ips[2]])
    usage = {i["IpAddress"]: i["UsingStatus"] for i in ali.package_ips(package)}
    assert usage == {ips[0]: "UsedByForwardTable", ips[1]: "UsedBySnatTable"}


def test_remove_needs_addresses(ali, package):
    ali.expect("MissingRemovedIpAddresses", "RemoveBandwidthPackageIps", BandwidthPackageId=package)


# ---- delete ----

def test_delete(ali, gw, package):
    ali.call("DeleteBandwidthPackage", BandwidthPackageId=package)
    assert ali.packages(BandwidthPackageId=package) == []
    assert ali.nat_gateway(gw["NatGatewayId"])["BandwidthPackageIds"]["BandwidthPackageId"] == []
    ali.expect("InvalidBandwidthPackageId.NotFound", "DeleteBandwidthPackage", status=404,
               BandwidthPackageId=package)


def test_delete_refused_while_entries_use_its_ips(ali, gw, package, fx):
    ips = ips_of(ali, package)
    ali.dnat(gw, ips[0])
    ali.expect("DependencyViolation.ForwardEntry", "DeleteBandwidthPackage", status=400,
               BandwidthPackageId=package)
    ali.call("DeleteForwardEntry", ForwardTableId=gw["ForwardTableId"],
             ForwardEntryId=ali.forward_entries(gw["ForwardTableId"])[0]["ForwardEntryId"])
    ali.advance(DURATIONS["deleting"] + 1)
    ali.snat(gw, ips[1], SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("DependencyViolation.SnatEntry", "DeleteBandwidthPackage", status=400,
               BandwidthPackageId=package)


def test_forced_delete_removes_the_entries(ali, gw, package, fx):
    ips = ips_of(ali, package)
    ali.dnat(gw, ips[0])
    ali.snat(gw, ips[1], SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.call("DeleteBandwidthPackage", BandwidthPackageId=package, Force=True)
    assert ali.forward_entries(gw["ForwardTableId"]) == []
    assert ali.snat_entries(gw["SnatTableId"]) == []
    assert ali.packages() == []


# ---- convert ----

def test_convert_to_a_shared_bandwidth_package(ali, gw, package):
    ips = ips_of(ali, package)
    entry = ali.dnat(gw, ips[0])
    answer = ali.call("ConvertBandwidthPackage", BandwidthPackageId=package)
    assert answer["ConvertInstanceId"].startswith("cbwp-")
    assert ali.packages() == []
    converted = items_of(
        ali.call("DescribeEipAddresses", AssociatedInstanceType="Nat",
                 AssociatedInstanceId=gw["NatGatewayId"]),
        "EipAddresses", "EipAddress")
    assert sorted(e["IpAddress"] for e in converted) == sorted(ips)
    for e in converted:
        assert_id(e["AllocationId"], "eip")
        assert e["Status"] == "InUse"
        assert e["BandwidthPackageId"] == answer["ConvertInstanceId"]
    # The DNAT entry is unaffected.
    assert [e["ForwardEntryId"] for e in ali.forward_entries(gw["ForwardTableId"])] == [entry]
    ali.expect("InvalidBandwidthPackageId.NotFound", "ConvertBandwidthPackage", status=404,
               BandwidthPackageId=package)
