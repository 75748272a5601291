"""SNAT entries: CreateSnatEntry, ModifySnatEntry, DescribeSnatTableEntries,
DeleteSnatEntry (seed 001 ch. 6)."""

import pytest

from natop_support import DURATIONS, assert_id


@pytest.fixture
def setup(ali, fx):
    """An Available gateway in the first VPC with three EIPs bound: (gateway, [ips])."""
    gw = ali.gateway()
    ips = [ali.bind_eip(gw["NatGatewayId"], e, settle=False) for e in fx.eips()[:3]]
    ali.advance(DURATIONS["associating"] + 1)
    return gw, ips


def vsw(fx, index=0, vpc=0):
    return fx.vswitch(vpc, index)["vSwitchId"]


# ---- create / describe ----

def test_create_for_a_vswitch(ali, fx, setup, advance):
    gw, ips = setup
    vswitch = fx.vswitch(0, 0)
    answer = ali.call("CreateSnatEntry", SnatTableId=gw["SnatTableId"], SnatIp=ips[0],
                      SourceVSwitchId=vswitch["vSwitchId"], SnatEntryName="office")
    assert_id(answer["SnatEntryId"], "snat")
    [entry] = ali.snat_entries(gw["SnatTableId"])
    assert entry["Status"] == "Pending"
    assert entry["SnatEntryId"] == answer["SnatEntryId"]
    assert entry["SnatTableId"] == gw["SnatTableId"]
    assert entry["SnatIp"] == ips[0]
    assert entry["SourceVSwitchId"] == vswitch["vSwitchId"]
    assert entry["SourceCIDR"] == vswitch["cidrBlock"]
    assert entry["SnatEntryName"] == "office"
    advance(DURATIONS["pending"] + 1)
    assert ali.snat_entries(gw["SnatTableId"])[0]["Status"] == "Available"


def test_create_for_a_cidr(ali, setup):
    gw, ips = setup
    ali.snat(gw, ips[0], SourceCIDR="172.16.9.0/24")
    ali.snat(gw, ips[0], SourceCIDR="172.16.10.7/32")
    cidrs = [e["SourceCIDR"] for e in ali.snat_entries(gw["SnatTableId"])]
    assert cidrs == ["172.16.9.0/24", "172.16.10.7/32"]
    assert all(e["SourceVSwitchId"] == "" for e in ali.snat_entries(gw["SnatTableId"]))


def test_snat_ip_pool(ali, fx, setup):
    gw, ips = setup
    ali.snat(gw, ",".join(ips[:2]), SourceVSwitchId=vsw(fx))
    [entry] = ali.snat_entries(gw["SnatTableId"])
    assert entry["SnatIp"].split(",") == ips[:2]


def test_eip_affinity(ali, fx, setup):
    gw, ips = setup
    ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx), EipAffinity=1)
    [entry] = ali.snat_entries(gw["SnatTableId"])
    assert str(entry["EipAffinity"]) == "1"
    ali.expect("InvalidParameter", "CreateSnatEntry", SnatTableId=gw["SnatTableId"], SnatIp=ips[1],
               SourceVSwitchId=vsw(fx, 1), EipAffinity=2)


@pytest.mark.parametrize("missing", ["SnatTableId", "SnatIp"])
def test_required_parameters(ali, fx, setup, missing):
    gw, ips = setup
    params = dict(SnatTableId=gw["SnatTableId"], SnatIp=ips[0], SourceVSwitchId=vsw(fx))
    del params[missing]
    ali.expect(f"Missing{missing}", "CreateSnatEntry", status=400, **params)


def test_source_is_exactly_one_of_vswitch_or_cidr(ali, fx, setup):
    gw, ips = setup
    ali.expect("INVALID_PARAMETER", "CreateSnatEntry", status=400, SnatTableId=gw["SnatTableId"],
               SnatIp=ips[0])
    ali.expect("INVALID_PARAMETER", "CreateSnatEntry", status=400, SnatTableId=gw["SnatTableId"],
               SnatIp=ips[0], SourceVSwitchId=vsw(fx), SourceCIDR="172.16.9.0/24")
    assert ali.snat_entries(gw["SnatTableId"]) == []


@pytest.mark.parametrize("cidr", ["172.16.9.5/24", "172.16.9.0/33", "not-a-cidr", "172.16.9.0"])
def test_malformed_cidr(ali, setup, cidr):
    gw, ips = setup
    ali.expect("INVALID_PARAMETER", "CreateSnatEntry", SnatTableId=gw["SnatTableId"],
               SnatIp=ips[0], SourceCIDR=cidr)


def test_cidr_outside_the_vpc(ali, setup):
    gw, ips = setup
    ali.expect("NOT_ALLOW_USE_SOURCECIDR", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[0], SourceCIDR="192.168.1.0/24")


def test_vswitch_must_be_in_the_gateway_vpc(ali, fx, setup):
    gw, ips = setup
    ali.expect("OperationFailed.VswitchNotBelongToVpc", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[0], SourceVSwitchId=vsw(fx, 0, vpc=1))
    ali.expect("InvalidVSwitchId.NotFound", "CreateSnatEntry", status=404,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[0], SourceVSwitchId="vsw-nosuch000000")


@pytest.mark.parametrize("snat_ip", ["47.97.1", "999.1.1.1", "abc", "47.97.1.11,,47.97.1.12"])
def test_malformed_snat_ip(ali, fx, setup, snat_ip):
    gw, _ = setup
    ali.expect("InvalidSnatIp.Malformed", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=snat_ip, SourceVSwitchId=vsw(fx))


def test_snat_ip_must_be_on_the_gateway(ali, fx, setup):
    gw, ips = setup
    unbound = fx.eips()[8]["ipAddress"]
    ali.expect("InvalidSnatIp.NotFound", "CreateSnatEntry", status=404,
               SnatTableId=gw["SnatTableId"], SnatIp=unbound, SourceVSwitchId=vsw(fx))
    ali.expect("InvalidSnatIp.NotFound", "CreateSnatEntry", status=404,
               SnatTableId=gw["SnatTableId"], SnatIp=f"{ips[0]},{unbound}", SourceVSwitchId=vsw(fx))


def test_snat_ip_of_a_bandwidth_package(ali, fx, advance):
    gw = ali.gateway()
    package = ali.package(gw["NatGatewayId"], ip_count=2)
    advance(DURATIONS["creating"] + 1)
    ips = [i["IpAddress"] for i in ali.package_ips(package)]
    ali.snat(gw, ",".join(ips), SourceVSwitchId=vsw(fx))
    assert {i["UsingStatus"] for i in ali.package_ips(package)} == {"UsedBySnatTable"}


def test_unknown_snat_table(ali, fx, setup):
    gw, ips = setup
    ali.expect("InvalidSnatTableId.NotFound", "CreateSnatEntry", status=404,
               SnatTableId="stb-nosuch000000", SnatIp=ips[0], SourceVSwitchId=vsw(fx))
    ali.expect("InvalidSnatTableId.NotFound", "CreateSnatEntry", status=404,
               SnatTableId=gw["ForwardTableId"], SnatIp=ips[0], SourceVSwitchId=vsw(fx))


@pytest.mark.parametrize("name", ["a", "2nd", "http://snat", "https://snat", "s" * 129])
def test_invalid_entry_names(ali, fx, setup, name):
    gw, ips = setup
    ali.expect("InvalidParameter.Name.Malformed", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[0], SourceVSwitchId=vsw(fx),
               SnatEntryName=name)


# ---- one entry per source, no overlapping CIDRs ----

def test_one_entry_per_vswitch(ali, fx, setup):
    gw, ips = setup
    ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))
    ali.expect("Forbidden.SourceVSwitchId.Duplicated", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[1], SourceVSwitchId=vsw(fx))
    # The vSwitch's CIDR given as a CIDR is the same source.
    ali.expect("Forbidden.SourceVSwitchId.Duplicated", "CreateSnatEntry",
               SnatTableId=gw["SnatTableId"], SnatIp=ips[1], SourceCIDR=fx.vswitch(0, 0)["cidrBlock"])
    ali.snat(gw, ips[1], SourceVSwitchId=vsw(fx, 1))


def test_one_entry_per_cidr(ali, setup):
    gw, ips = setup
    ali.snat(gw, ips[0], SourceCIDR="172.16.9.0/24")
    ali.expect("Forbidden.SourceVSwitchId.Duplicated", "CreateSnatEntry",
               SnatTableId=gw["SnatTableId"], SnatIp=ips[1], SourceCIDR="172.16.9.0/24")


@pytest.mark.parametrize("cidr", ["172.16.9.128/25", "172.16.0.0/16", "172.16.9.7/32"])
def test_overlapping_cidrs_are_refused(ali, setup, cidr):
    gw, ips = setup
    ali.snat(gw, ips[0], SourceCIDR="172.16.9.0/24")
    ali.expect("OperationUnsupported.CidrConflict", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[1], SourceCIDR=cidr)


def test_cidr_overlapping_a_vswitch_entry_is_refused(ali, fx, setup):
    gw, ips = setup
    ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))
    inside = fx.vswitch(0, 0)["cidrBlock"].replace(".0/24", ".16/28")
    ali.expect("OperationUnsupported.CidrConflict", "CreateSnatEntry",
               SnatTableId=gw["SnatTableId"], SnatIp=ips[1], SourceCIDR=inside)


def test_snat_entry_count_is_limited(ali, setup):
    gw, ips = setup
    for n in range(40):
        ali.snat(gw, ips[0], SourceCIDR=f"172.17.{n}.0/24")
    ali.expect("Forbidden.SnatEntryCountLimited", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[0], SourceCIDR="172.18.0.0/24")


# ---- SNAT and DNAT on one IP ----

def test_ip_mapped_by_dnat_is_refused_for_snat(ali, fx, setup):
    gw, ips = setup
    ali.dnat(gw, ips[0], external_port="Any", internal_port="Any", protocol="Any")
    ali.expect("Forbidden.IpUsedInForwardTable", "CreateSnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatIp=ips[0], SourceVSwitchId=vsw(fx))


def test_ip_with_low_dnat_ports_can_serve_snat(ali, fx, setup):
    gw, ips = setup
    ali.dnat(gw, ips[0], external_port="443", internal_port="8443")
    ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))


def test_ip_with_port_break_dnat_can_serve_snat(ali, fx, setup):
    gw, ips = setup
    ali.dnat(gw, ips[0], external_port="8080", internal_port="8080", PortBreak=True)
    ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))


def test_modify_to_an_ip_mapped_by_dnat_is_refused(ali, fx, setup):
    gw, ips = setup
    entry = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))
    ali.dnat(gw, ips[1], external_port="Any", internal_port="Any", protocol="Any")
    ali.expect("Forbidden.IpUsedInForwardTable", "ModifySnatEntry", status=400,
               SnatTableId=gw["SnatTableId"], SnatEntryId=entry, SnatIp=ips[1])


# ---- the table is locked while an entry is Pending ----

def test_table_refuses_writes_while_an_entry_is_pending(ali, fx, setup, advance):
    gw, ips = setup
    table = gw["SnatTableId"]
    first = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx, 0))
    ali.snat(gw, ips[1], SourceVSwitchId=vsw(fx, 1), settle=False)
    ali.expect("IncorretSnatEntryStatus", "CreateSnatEntry", status=400, SnatTableId=table,
               SnatIp=ips[2], SourceVSwitchId=vsw(fx, 2))
    ali.expect("IncorretSnatEntryStatus", "ModifySnatEntry", status=400, SnatTableId=table,
               SnatEntryId=first, SnatEntryName="renamed")
    ali.expect("IncorretSnatEntryStatus", "DeleteSnatEntry", status=400, SnatTableId=table,
               SnatEntryId=first)
    advance(DURATIONS["pending"] + 1)
    ali.call("DeleteSnatEntry", SnatTableId=table, SnatEntryId=first)


# ---- modify ----

def test_modify(ali, fx, setup, advance):
    gw, ips = setup
    table = gw["SnatTableId"]
    entry = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx), SnatEntryName="before")
    ali.call("ModifySnatEntry", SnatTableId=table, SnatEntryId=entry, SnatIp=f"{ips[1]},{ips[2]}",
             SnatEntryName="after")
    [shown] = ali.snat_entries(table)
    assert shown["Status"] == "Pending"
    advance(DURATIONS["pending"] + 1)
    [shown] = ali.snat_entries(table)
    assert shown["Status"] == "Available"
    assert shown["SnatIp"].split(",") == [ips[1], ips[2]]
    assert shown["SnatEntryName"] == "after"
    assert shown["SourceVSwitchId"] == vsw(fx)


def test_modify_rules(ali, fx, setup):
    gw, ips = setup
    table = gw["SnatTableId"]
    entry = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))
    ali.expect("InvalidSnatEntryId.NotFound", "ModifySnatEntry", status=404, SnatTableId=table,
               SnatEntryId="snat-nosuch000000", SnatEntryName="abc")
    ali.expect("InvalidSnatTableId.NotFound", "ModifySnatEntry", status=404,
               SnatTableId="stb-nosuch000000", SnatEntryId=entry, SnatEntryName="abc")
    ali.expect("InvalidSnatIp.Malformed", "ModifySnatEntry", status=400, SnatTableId=table,
               SnatEntryId=entry, SnatIp="1.2.3")
    ali.expect("InvalidSnatIp.NotFound", "ModifySnatEntry", status=404, SnatTableId=table,
               SnatEntryId=entry, SnatIp=fx.eips()[10]["ipAddress"])
    ali.expect("InvalidParameter.Name.Malformed", "ModifySnatEntry", status=400,
               SnatTableId=table, SnatEntryId=entry, SnatEntryName="-x")
    assert ali.snat_entries(table)[0]["Status"] == "Available"


# ---- delete ----

def test_delete(ali, fx, setup, advance):
    gw, ips = setup
    table = gw["SnatTableId"]
    entry = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))
    ali.call("DeleteSnatEntry", SnatTableId=table, SnatEntryId=entry)
    assert ali.snat_entries(table)[0]["Status"] == "Deleting"
    ali.expect("IncorretSnatEntryStatus", "DeleteSnatEntry", status=400, SnatTableId=table,
               SnatEntryId=entry)
    advance(DURATIONS["deleting"] + 1)
    assert ali.snat_entries(table) == []
    ali.expect("InvalidSnatEntryId.NotFound", "DeleteSnatEntry", status=404, SnatTableId=table,
               SnatEntryId=entry)
    # The vSwitch is free again.
    ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))


def test_delete_errors(ali, fx, setup):
    gw, ips = setup
    entry = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))
    ali.expect("InvalidSnatTableId.NotFound", "DeleteSnatEntry", status=404,
               SnatTableId="stb-nosuch000000", SnatEntryId=entry)
    ali.expect("InvalidSnatEntryId.NotFound", "DeleteSnatEntry", status=404,
               SnatTableId=gw["SnatTableId"], SnatEntryId="snat-nosuch000000")
    ali.expect("MissingSnatEntryId", "DeleteSnatEntry", SnatTableId=gw["SnatTableId"])


# ---- describe ----

def test_describe_filters(ali, fx, setup):
    gw, ips = setup
    table = gw["SnatTableId"]
    a = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx, 0), SnatEntryName="alpha")
    b = ali.snat(gw, f"{ips[1]},{ips[2]}", SourceCIDR="172.16.9.0/24", SnatEntryName="beta")
    ids = lambda entries: [e["SnatEntryId"] for e in entries]  # noqa: E731
    assert ids(ali.snat_entries(table)) == [a, b]
    assert ids(ali.snat_entries(table, SnatEntryId=b)) == [b]
    assert ids(ali.snat_entries(table, SourceVSwitchId=vsw(fx, 0))) == [a]
    assert ids(ali.snat_entries(table, SourceCIDR="172.16.9.0/24")) == [b]
    assert ids(ali.snat_entries(table, SnatIp=ips[2])) == [b]
    assert ids(ali.snat_entries(table, SnatEntryName="alpha")) == [a]


def test_describe_by_gateway_id_alone(ali, fx, setup):
    # The SDKs accept NatGatewayId instead of SnatTableId (nat-dnat-snat.md 6.3).
    gw, ips = setup
    entry = ali.snat(gw, ips[0], SourceVSwitchId=vsw(fx))
    answer = ali.call("DescribeSnatTableEntries", NatGatewayId=gw["NatGatewayId"])
    assert answer["TotalCount"] == 1
    assert answer["SnatTableEntries"]["SnatTableEntry"][0]["SnatEntryId"] == entry


def test_describe_errors(ali):
    ali.expect("InvalidSnatTableId.NotFound", "DescribeSnatTableEntries", status=404,
               SnatTableId="stb-nosuch000000")
    ali.expect("MissingSnatTableId", "DescribeSnatTableEntries", status=400)


def test_tables_of_other_accounts_are_not_found(ali, ali2, fx, setup):
    gw, ips = setup
    ali2.expect("InvalidSnatTableId.NotFound", "CreateSnatEntry", SnatTableId=gw["SnatTableId"],
                SnatIp=ips[0], SourceVSwitchId=vsw(fx))
    ali2.expect("InvalidSnatTableId.NotFound", "DescribeSnatTableEntries",
                SnatTableId=gw["SnatTableId"])
