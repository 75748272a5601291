"""IPv6 internet bandwidth: AllocateIpv6InternetBandwidth (seed 003),
ModifyIpv6InternetBandwidth, DeleteIpv6InternetBandwidth, DescribeIpv6Addresses."""

import pytest

from natop_support import assert_id, items_of


def addresses(ali, **filters):
    return items_of(ali.call("DescribeIpv6Addresses", **filters), "Ipv6Addresses", "Ipv6Address")


def address(ali, address_id):
    [shown] = addresses(ali, Ipv6AddressId=address_id)
    return shown


@pytest.fixture
def gw6(fx):
    return fx.ipv6_gateway()


def allocate(ali, gw6, index=0, bandwidth=10, **extra):
    addr = gw6["addresses"][index]
    answer = ali.call("AllocateIpv6InternetBandwidth", Ipv6GatewayId=gw6["ipv6GatewayId"],
                      Ipv6AddressId=addr["ipv6AddressId"], Bandwidth=bandwidth, **extra)
    return addr["ipv6AddressId"], answer


def test_fixture_addresses_are_private(ali, gw6):
    shown = addresses(ali, PageSize=50)
    assert sorted(a["Ipv6AddressId"] for a in shown) == sorted(
        a["ipv6AddressId"] for a in gw6["addresses"])
    for a in shown:
        assert a["NetworkType"] == "Private"
        assert a["Status"] == "Available"
        assert a["Ipv6GatewayId"] == gw6["ipv6GatewayId"]
        assert a["VpcId"] == gw6["vpcId"]
        assert a["RealBandwidth"] == 0
        assert a["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"] == ""
        assert a["Ipv6InternetBandwidth"]["Bandwidth"] == 0


def test_life_cycle(ali, gw6):
    address_id, answer = allocate(ali, gw6, bandwidth=20)
    bandwidth_id = answer["InternetBandwidthId"]
    assert_id(bandwidth_id, "ipv6bw")
    assert answer["Ipv6AddressId"] == address_id
    shown = address(ali, address_id)
    assert shown["NetworkType"] == "Public"
    assert shown["RealBandwidth"] == 20
    info = shown["Ipv6InternetBandwidth"]
    assert info["Ipv6InternetBandwidthId"] == bandwidth_id
    assert info["Bandwidth"] == 20
    assert info["InternetChargeType"] == "PayByBandwidth"
    assert info["BusinessStatus"] == "Normal"

    ali.call("ModifyIpv6InternetBandwidth", Ipv6InternetBandwidthId=bandwidth_id, Bandwidth=50)
    assert address(ali, address_id)["Ipv6InternetBandwidth"]["Bandwidth"] == 50
    ali.call("ModifyIpv6InternetBandwidth", Ipv6AddressId=address_id, Bandwidth=60)
    assert address(ali, address_id)["RealBandwidth"] == 60

    ali.call("DeleteIpv6InternetBandwidth", Ipv6InternetBandwidthId=bandwidth_id)
    shown = address(ali, address_id)
    assert shown["NetworkType"] == "Private"
    assert shown["RealBandwidth"] == 0
    assert shown["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"] == ""
    ali.expect("InvalidIpv6InternetBandwidthId.NotFound", "ModifyIpv6InternetBandwidth",
               status=404, Ipv6InternetBandwidthId=bandwidth_id, Bandwidth=5)
    ali.expect("InvalidIpv6InternetBandwidthId.NotFound", "DeleteIpv6InternetBandwidth",
               status=404, Ipv6InternetBandwidthId=bandwidth_id)
    # The address can be given bandwidth again, under a new id.
    _, again = allocate(ali, gw6, bandwidth=5)
    assert again["InternetBandwidthId"] != bandwidth_id


def test_delete_by_address_id(ali, gw6):
    address_id, _ = allocate(ali, gw6, index=3)
    ali.call("DeleteIpv6InternetBandwidth", Ipv6AddressId=address_id)
    assert address(ali, address_id)["NetworkType"] == "Private"


def test_pay_by_traffic(ali, gw6):
    address_id, _ = allocate(ali, gw6, index=1, bandwidth=500, InternetChargeType="PayByTraffic")
    assert address(ali, address_id)["Ipv6InternetBandwidth"]["InternetChargeType"] == "PayByTraffic"
    ali.expect("InvalidBandwidth.ValueNotSupported", "ModifyIpv6InternetBandwidth", status=400,
               Ipv6AddressId=address_id, Bandwidth=501)


def test_allocate_rules(ali, gw6):
    addr = gw6["addresses"][0]["ipv6AddressId"]
    gateway = gw6["ipv6GatewayId"]
    for bandwidth in (0, 5001):
        ali.expect("InvalidBandwidth.ValueNotSupported", "AllocateIpv6InternetBandwidth",
                   status=400, Ipv6GatewayId=gateway, Ipv6AddressId=addr, Bandwidth=bandwidth)
    ali.expect("InvalidBandwidth.ValueNotSupported", "AllocateIpv6InternetBandwidth",
               Ipv6GatewayId=gateway, Ipv6AddressId=addr, Bandwidth=501,
               InternetChargeType="PayByTraffic")
    ali.expect("InvalidInternetChargeType.ValueNotSupported", "AllocateIpv6InternetBandwidth",
               Ipv6GatewayId=gateway, Ipv6AddressId=addr, Bandwidth=5, InternetChargeType="Free")
    ali.expect("InvalidIpv6GatewayId.NotFound", "AllocateIpv6InternetBandwidth", status=404,
               Ipv6GatewayId="ipv6gw-nosuch00000", Ipv6AddressId=addr, Bandwidth=5)
    ali.expect("InvalidIpv6AddressId.NotFound", "AllocateIpv6InternetBandwidth", status=404,
               Ipv6GatewayId=gateway, Ipv6AddressId="ipv6-nosuch00000", Bandwidth=5)
    for missing in ("Ipv6GatewayId", "Ipv6AddressId", "Bandwidth"):
        params = dict(Ipv6GatewayId=gateway, Ipv6AddressId=addr, Bandwidth=5)
        del params[missing]
        ali.expect(f"Missing{missing}", "AllocateIpv6InternetBandwidth", status=400, **params)
    assert address(ali, addr)["NetworkType"] == "Private"


def test_allocate_twice_is_refused(ali, gw6):
    allocate(ali, gw6)
    addr = gw6["addresses"][0]["ipv6AddressId"]
    ali.expect("OperationFailed.Ipv6InternetBandwidthAlreadyExist", "AllocateIpv6InternetBandwidth",
               status=400, Ipv6GatewayId=gw6["ipv6GatewayId"], Ipv6AddressId=addr, Bandwidth=5)


def test_address_of_the_other_region(ali, fx, gw6):
    beijing = fx.ipv6_gateway("cn-beijing")
    ali.expect("InvalidIpv6AddressId.NotFound", "AllocateIpv6InternetBandwidth",
               Ipv6GatewayId=gw6["ipv6GatewayId"],
               Ipv6AddressId=beijing["addresses"][0]["ipv6AddressId"], Bandwidth=5)


def test_modify_and_delete_need_an_id(ali):
    ali.expect("BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
               "DeleteIpv6InternetBandwidth", status=400)
    ali.expect("BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
               "ModifyIpv6InternetBandwidth", status=400, Bandwidth=5)


def test_modify_without_bandwidth(ali, gw6):
    address_id, _ = allocate(ali, gw6)
    ali.expect("MissingBandwidth", "ModifyIpv6InternetBandwidth", status=400, Ipv6AddressId=address_id)


def test_modify_bounds(ali, gw6):
    address_id, _ = allocate(ali, gw6)
    for bad in (0, 5001):
        ali.expect("InvalidBandwidth.ValueNotSupported", "ModifyIpv6InternetBandwidth",
                   Ipv6AddressId=address_id, Bandwidth=bad)
    ali.call("ModifyIpv6InternetBandwidth", Ipv6AddressId=address_id, Bandwidth=5000)


def test_address_without_bandwidth(ali, gw6):
    addr = gw6["addresses"][5]["ipv6AddressId"]
    ali.expect("InvalidIpv6InternetBandwidthId.NotFound", "ModifyIpv6InternetBandwidth",
               Ipv6AddressId=addr, Bandwidth=5)
    ali.expect("InvalidIpv6AddressId.NotFound", "DeleteIpv6InternetBandwidth",
               Ipv6AddressId="ipv6-nosuch00000")


def test_dry_run_changes_nothing(ali, gw6):
    address_id, _ = allocate(ali, gw6, bandwidth=10)
    ali.expect("DryRunOperation", "ModifyIpv6InternetBandwidth", status=400,
               Ipv6AddressId=address_id, Bandwidth=99, DryRun=True)
    ali.expect("DryRunOperation", "DeleteIpv6InternetBandwidth", status=400,
               Ipv6AddressId=address_id, DryRun=True)
    shown = address(ali, address_id)
    assert (shown["NetworkType"], shown["RealBandwidth"]) == ("Public", 10)


def test_describe_filters(ali, gw6):
    first, answer = allocate(ali, gw6, index=2)
    allocate(ali, gw6, index=4)
    public = addresses(ali, NetworkType="Public")
    assert len(public) == 2
    assert len(addresses(ali, NetworkType="Private", PageSize=50)) == len(gw6["addresses"]) - 2
    by_bandwidth = addresses(ali, Ipv6InternetBandwidthId=answer["InternetBandwidthId"])
    assert [a["Ipv6AddressId"] for a in by_bandwidth] == [first]
    wanted = [gw6["addresses"][i]["ipv6AddressId"] for i in (0, 1, 7)]
    assert sorted(a["Ipv6AddressId"] for a in addresses(ali, Ipv6AddressId=",".join(wanted))) == sorted(wanted)
    ip = gw6["addresses"][7]["ipv6Address"]
    assert [a["Ipv6AddressId"] for a in addresses(ali, Ipv6Address=ip)] == [wanted[2]]
    assert addresses(ali, VpcId="vpc-nosuch") == []


def test_accounts_are_separate(ali, ali2, gw6):
    address_id, _ = allocate(ali, gw6)
    assert address(ali2, address_id)["NetworkType"] == "Private"
