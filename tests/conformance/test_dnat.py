"""DNAT entries: CreateForwardEntry, ModifyForwardEntry, DescribeForwardTableEntries,
DeleteForwardEntry (seed 001 ch. 5, cloud-api.md §3)."""

import pytest

from natop_support import DURATIONS, assert_id

INTERNAL = "172.16.1.10"


@pytest.fixture
def setup(ali, fx):
    """An Available gateway with two EIPs bound: (gateway, ip1, ip2)."""
    gw = ali.gateway()
    ip1 = ali.bind_eip(gw["NatGatewayId"], fx.eips()[0], settle=False)
    ip2 = ali.bind_eip(gw["NatGatewayId"], fx.eips()[1], settle=False)
    ali.advance(DURATIONS["associating"] + 1)
    return gw, ip1, ip2


def create_params(gw, ip, **overrides):
    params = dict(ForwardTableId=gw["ForwardTableId"], ExternalIp=ip, ExternalPort="80",
                  InternalIp=INTERNAL, InternalPort="8080", IpProtocol="TCP")
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


# ---- create / describe ----

def test_create_pending_then_available(ali, setup, advance):
    gw, ip, _ = setup
    answer = ali.call("CreateForwardEntry", **create_params(gw, ip), ForwardEntryName="web")
    entry_id = answer["ForwardEntryId"]
    assert_id(entry_id, "fwd")
    [entry] = ali.forward_entries(gw["ForwardTableId"])
    assert entry["Status"] == "Pending"
    assert entry["ForwardEntryId"] == entry_id
    assert entry["ForwardTableId"] == gw["ForwardTableId"]
    assert entry["ExternalIp"] == ip
    assert entry["ExternalPort"] == "80"
    assert entry["InternalIp"] == INTERNAL
    assert entry["InternalPort"] == "8080"
    assert entry["IpProtocol"].lower() == "tcp"
    assert entry["ForwardEntryName"] == "web"
    advance(DURATIONS["pending"] + 1)
    assert ali.forward_entries(gw["ForwardTableId"])[0]["Status"] == "Available"


@pytest.mark.parametrize("missing", [
    "ForwardTableId", "ExternalIp", "ExternalPort", "InternalIp", "InternalPort", "IpProtocol",
])
def test_required_parameters(ali, setup, missing):
    gw, ip, _ = setup
    ali.expect(f"Missing{missing}", "CreateForwardEntry", status=400,
               **create_params(gw, ip, **{missing: None}))


@pytest.mark.parametrize("field,value,code", [
    ("ExternalIp", "300.1.1.1", "InvalidExternalIp.Malformed"),
    ("ExternalIp", "not-an-ip", "InvalidExternalIp.Malformed"),
    ("InternalIp", "172.16.1", "InvalidInternalIp.Malformed"),
    ("InternalIp", "172.16.1.256", "InvalidInternalIp.Malformed"),
    ("ExternalPort", "0", "InvalidExternalPort.Malformed"),
    ("ExternalPort", "65536", "InvalidExternalPort.Malformed"),
    ("ExternalPort", "http", "InvalidExternalPort.Malformed"),
    ("ExternalPort", "20/10", "InvalidExternalPort.Malformed"),
    ("InternalPort", "70000", "InvalidInternalPort.Malformed"),
    ("InternalPort", "-1", "InvalidInternalPort.Malformed"),
    ("IpProtocol", "ICMP", "InvalidProtocol.ValueNotSupported"),
    ("IpProtocol", "SCTP", "InvalidProtocol.ValueNotSupported"),
])
def test_formats(ali, setup, field, value, code):
    gw, ip, _ = setup
    ali.expect(code, "CreateForwardEntry", status=400, **create_params(gw, ip, **{field: value}))


@pytest.mark.parametrize("port", ["1", "65535"])
def test_port_bounds_accepted(ali, setup, port):
    gw, ip, _ = setup
    ali.call("CreateForwardEntry", **create_params(gw, ip, ExternalPort=port, InternalPort=port))


def test_port_ranges_of_the_same_size(ali, setup):
    gw, ip, _ = setup
    ali.call("CreateForwardEntry", **create_params(
        gw, ip, ExternalPort="1000/1010", InternalPort="2000/2010"))
    [entry] = ali.forward_entries(gw["ForwardTableId"])
    assert (entry["ExternalPort"], entry["InternalPort"]) == ("1000/1010", "2000/2010")


def test_port_ranges_of_different_sizes(ali, setup):
    gw, ip, _ = setup
    ali.expect("InvalidInternalPort.Malformed", "CreateForwardEntry", **create_params(
        gw, ip, ExternalPort="1000/1010", InternalPort="2000/2005"))


def test_protocol_any_maps_the_whole_ip(ali, setup):
    gw, ip, _ = setup
    ali.call("CreateForwardEntry", **create_params(
        gw, ip, IpProtocol="Any", ExternalPort="Any", InternalPort="Any"))
    [entry] = ali.forward_entries(gw["ForwardTableId"])
    assert entry["IpProtocol"].lower() == "any"
    assert (entry["ExternalPort"].lower(), entry["InternalPort"].lower()) == ("any", "any")


def test_protocol_any_needs_any_ports_and_the_reverse(ali, setup):
    gw, ip, _ = setup
    ali.expect("InvalidExternalPort.Malformed", "CreateForwardEntry",
               **create_params(gw, ip, IpProtocol="Any", ExternalPort="80", InternalPort="Any"))
    ali.expect("InvalidInternalPort.Malformed", "CreateForwardEntry",
               **create_params(gw, ip, IpProtocol="Any", ExternalPort="Any", InternalPort="80"))
    ali.expect("InvalidExternalPort.Malformed", "CreateForwardEntry",
               **create_params(gw, ip, IpProtocol="TCP", ExternalPort="Any", InternalPort="Any"))


@pytest.mark.parametrize("name", ["a", "1web", "http://web", "https://web", "w" * 129])
def test_invalid_entry_names(ali, setup, name):
    gw, ip, _ = setup
    ali.expect("InvalidParameter.Name.Malformed", "CreateForwardEntry", status=400,
               **create_params(gw, ip), ForwardEntryName=name)


def test_internal_ip_must_be_inside_the_vpc_cidr(ali, setup):
    gw, ip, _ = setup
    for outside in ("192.168.1.10", "10.0.0.1", "172.32.0.1"):
        ali.expect("Forbidden.DestinationIpOutOfVpcCIDR", "CreateForwardEntry", status=400,
                   **create_params(gw, ip, InternalIp=outside))
    ali.call("CreateForwardEntry", **create_params(gw, ip, InternalIp="172.31.255.254"))


def test_internal_ip_is_checked_against_the_gateways_own_vpc(ali, fx):
    gw = ali.gateway(vpc=fx.vpc(1)["vpcId"])
    ip = ali.bind_eip(gw["NatGatewayId"], fx.eips()[0])
    ali.expect("Forbidden.DestinationIpOutOfVpcCIDR", "CreateForwardEntry",
               **create_params(gw, ip, InternalIp="172.16.1.10"))
    ali.call("CreateForwardEntry", **create_params(gw, ip, InternalIp="192.168.2.20"))


def test_unknown_forward_table(ali, setup):
    gw, ip, _ = setup
    ali.expect("InvalidForwardTableId.NotFound", "CreateForwardEntry", status=404,
               **create_params(gw, ip, ForwardTableId="ftb-nosuch000000"))
    # A gateway's SNAT table is not a DNAT table.
    ali.expect("InvalidForwardTableId.NotFound", "CreateForwardEntry",
               **create_params(gw, ip, ForwardTableId=gw["SnatTableId"]))


def test_external_ip_must_be_bound_to_this_gateway(ali, setup, fx):
    gw, _, _ = setup
    # An EIP that is not bound at all.
    ali.expect("InvalidExternalIp.NotFound", "CreateForwardEntry", status=404,
               **create_params(gw, fx.eips()[5]["ipAddress"]))
    # An EIP bound to another gateway.
    other = ali.gateway()
    other_ip = ali.bind_eip(other["NatGatewayId"], fx.eips()[6])
    ali.expect("InvalidExternalIp.NotFound", "CreateForwardEntry", status=404,
               **create_params(gw, other_ip))
    ali.call("CreateForwardEntry", **create_params(other, other_ip))


def test_external_ip_of_a_bandwidth_package(ali, advance):
    gw = ali.gateway()
    package = ali.package(gw["NatGatewayId"], ip_count=1)
    advance(DURATIONS["creating"] + 1)
    [package_ip] = ali.package_ips(package)
    entry = ali.call("CreateForwardEntry", **create_params(gw, package_ip["IpAddress"]))
    assert_id(entry["ForwardEntryId"], "fwd")
    other = ali.gateway()
    ali.expect("InvalidExternalIp.NotFound", "CreateForwardEntry",
               **create_params(other, package_ip["IpAddress"]))


def test_dry_run_creates_nothing(ali, setup):
    gw, ip, _ = setup
    ali.expect("DryRunOperation", "CreateForwardEntry", status=400, **create_params(gw, ip),
               DryRun=True)
    assert ali.forward_entries(gw["ForwardTableId"]) == []


# ---- uniqueness ----

def test_external_side_is_unique(ali, setup):
    gw, ip, ip2 = setup
    ali.dnat(gw, ip, external_port="80", internal_ip="172.16.1.10", internal_port="80")
    ali.expect("Forbidden.PortOccupied", "CreateForwardEntry", status=400,
               **create_params(gw, ip, ExternalPort="80", InternalIp="172.16.1.11", InternalPort="81"))
    # Another protocol, another port or another IP is fine.
    ali.dnat(gw, ip, external_port="80", internal_ip="172.16.1.12", internal_port="80", protocol="UDP")
    ali.dnat(gw, ip, external_port="81", internal_ip="172.16.1.13", internal_port="80")
    ali.dnat(gw, ip2, external_port="80", internal_ip="172.16.1.14", internal_port="80")


def test_external_port_inside_an_existing_range_is_taken(ali, setup):
    gw, ip, _ = setup
    ali.dnat(gw, ip, external_port="1000/1010", internal_port="2000/2010")
    ali.expect("Forbidden.PortOccupied", "CreateForwardEntry",
               **create_params(gw, ip, ExternalPort="1005", InternalIp="172.16.1.50", InternalPort="22"))


def test_an_ip_mapped_with_any_serves_no_other_entry(ali, setup):
    # "DNAT 条目中配置了 IP 映射方式的 IP ... 不能再被其他 DNAT 条目或 SNAT 条目使用"
    gw, ip, _ = setup
    ali.dnat(gw, ip, external_port="Any", internal_port="Any", protocol="Any")
    ali.expect("Forbidden.PortOccupied", "CreateForwardEntry",
               **create_params(gw, ip, ExternalPort="22", InternalIp="172.16.1.60", InternalPort="22"))


def test_internal_side_is_unique(ali, setup):
    gw, ip, ip2 = setup
    ali.dnat(gw, ip, external_port="80", internal_ip="172.16.1.10", internal_port="8080")
    ali.expect("OperationUnsupported.ForwardEntry", "CreateForwardEntry", status=400,
               **create_params(gw, ip2, ExternalPort="90", InternalIp="172.16.1.10", InternalPort="8080"))
    ali.dnat(gw, ip2, external_port="90", internal_ip="172.16.1.10", internal_port="8080",
             protocol="UDP")


def test_at_most_100_entries_per_table(ali, setup):
    gw, ip, _ = setup
    for n in range(100):
        ali.dnat(gw, ip, external_port=str(1000 + n), internal_ip="172.16.2.1",
                 internal_port=str(1000 + n))
    ali.expect("QuotaExceeded", "CreateForwardEntry", status=400,
               **create_params(gw, ip, ExternalPort="2000", InternalIp="172.16.2.1", InternalPort="2000"))
    answer = ali.call("DescribeForwardTableEntries", ForwardTableId=gw["ForwardTableId"])
    assert answer["TotalCount"] == 100


# ---- the table is locked while an entry is Pending ----

def test_table_refuses_writes_while_an_entry_is_pending(ali, setup, advance):
    gw, ip, _ = setup
    first = ali.dnat(gw, ip, external_port="80")
    ali.dnat(gw, ip, external_port="81", internal_ip="172.16.1.11", settle=False)
    ali.expect("IncorretForwardEntryStatus", "CreateForwardEntry", status=400,
               **create_params(gw, ip, ExternalPort="82", InternalIp="172.16.1.12"))
    ali.expect("IncorretForwardEntryStatus", "ModifyForwardEntry", status=400,
               ForwardTableId=gw["ForwardTableId"], ForwardEntryId=first, InternalPort="9090")
    ali.expect("IncorretForwardEntryStatus", "DeleteForwardEntry", status=400,
               ForwardTableId=gw["ForwardTableId"], ForwardEntryId=first)
    advance(DURATIONS["pending"] + 1)
    ali.call("DeleteForwardEntry", ForwardTableId=gw["ForwardTableId"], ForwardEntryId=first)


def test_a_modified_entry_locks_the_table_too(ali, setup):
    gw, ip, _ = setup
    first = ali.dnat(gw, ip, external_port="80")
    ali.call("ModifyForwardEntry", ForwardTableId=gw["ForwardTableId"], ForwardEntryId=first,
             InternalPort="9090")
    ali.expect("IncorretForwardEntryStatus", "CreateForwardEntry",
               **create_params(gw, ip, ExternalPort="82", InternalIp="172.16.1.12"))


def test_other_tables_are_not_locked(ali, setup, fx):
    gw, ip, _ = setup
    ali.dnat(gw, ip, settle=False)
    other = ali.gateway()
    other_ip = ali.bind_eip(other["NatGatewayId"], fx.eips()[4])
    ali.dnat(other, other_ip)


# ---- modify ----

def test_modify(ali, setup, advance):
    gw, ip, ip2 = setup
    entry = ali.dnat(gw, ip, ForwardEntryName="before")
    ali.call("ModifyForwardEntry", ForwardTableId=gw["ForwardTableId"], ForwardEntryId=entry,
             ExternalIp=ip2, ExternalPort="443", InternalIp="172.16.3.3", InternalPort="8443",
             IpProtocol="UDP", ForwardEntryName="after")
    [shown] = ali.forward_entries(gw["ForwardTableId"])
    assert shown["Status"] == "Pending"
    advance(DURATIONS["pending"] + 1)
    [shown] = ali.forward_entries(gw["ForwardTableId"])
    assert shown["Status"] == "Available"
    assert (shown["ExternalIp"], shown["ExternalPort"], shown["InternalIp"], shown["InternalPort"]) == (
        ip2, "443", "172.16.3.3", "8443")
    assert shown["IpProtocol"].lower() == "udp"
    assert shown["ForwardEntryName"] == "after"


def test_modify_keeps_what_is_not_given(ali, setup):
    gw, ip, _ = setup
    entry = ali.dnat(gw, ip, external_port="80", internal_port="8080", ForwardEntryName="keep")
    ali.call("ModifyForwardEntry", ForwardTableId=gw["ForwardTableId"], ForwardEntryId=entry,
             InternalPort="9090")
    [shown] = ali.forward_entries(gw["ForwardTableId"])
    assert (shown["ExternalIp"], shown["ExternalPort"], shown["InternalPort"]) == (ip, "80", "9090")
    assert shown["ForwardEntryName"] == "keep"


def test_modify_rules(ali, setup, fx):
    gw, ip, _ = setup
    table = gw["ForwardTableId"]
    first = ali.dnat(gw, ip, external_port="80", internal_ip="172.16.1.10", internal_port="80")
    second = ali.dnat(gw, ip, external_port="81", internal_ip="172.16.1.11", internal_port="81")
    ali.expect("InvalidForwardEntryId.NotFound", "ModifyForwardEntry", status=404,
               ForwardTableId=table, ForwardEntryId="fwd-nosuch000000", InternalPort="90")
    ali.expect("InvalidForwardTableId.NotFound", "ModifyForwardEntry", status=404,
               ForwardTableId="ftb-nosuch000000", ForwardEntryId=first, InternalPort="90")
    ali.expect("Forbidden.PortOccupied", "ModifyForwardEntry", ForwardTableId=table,
               ForwardEntryId=second, ExternalPort="80")
    ali.expect("OperationUnsupported.ForwardEntry", "ModifyForwardEntry", ForwardTableId=table,
               ForwardEntryId=second, InternalIp="172.16.1.10", InternalPort="80")
    ali.expect("InvalidExternalPort.Malformed", "ModifyForwardEntry", ForwardTableId=table,
               ForwardEntryId=second, ExternalPort="99999")
    ali.expect("InvalidInternalIp.Malformed", "ModifyForwardEntry", ForwardTableId=table,
               ForwardEntryId=second, InternalIp="1.2.3")
    ali.expect("Forbidden.DestinationIpOutOfVpcCIDR", "ModifyForwardEntry", ForwardTableId=table,
               ForwardEntryId=second, InternalIp="192.168.1.1")
    ali.expect("InvalidExternalIp.NotFound", "ModifyForwardEntry", status=404,
               ForwardTableId=table, ForwardEntryId=second, ExternalIp=fx.eips()[9]["ipAddress"])
    ali.expect("InvalidProtocol.ValueNotSupported", "ModifyForwardEntry", ForwardTableId=table,
               ForwardEntryId=second, IpProtocol="GRE")
    ali.expect("InvalidParameter.Name.Malformed", "ModifyForwardEntry", ForwardTableId=table,
               ForwardEntryId=second, ForwardEntryName="9lives")
    ali.expect("MissingForwardEntryId", "ModifyForwardEntry", ForwardTableId=table, InternalPort="90")
    # Nothing changed.
    assert [e["Status"] for e in ali.forward_entries(table)] == ["Available", "Available"]


def test_modify_to_its_own_values_is_not_a_clash(ali, setup):
    gw, ip, _ = setup
    entry = ali.dnat(gw, ip)
    ali.call("ModifyForwardEntry", ForwardTableId=gw["ForwardTableId"], ForwardEntryId=entry,
             ExternalIp=ip, ExternalPort="80", InternalIp=INTERNAL, InternalPort="8080",
             IpProtocol="TCP")


# ---- delete ----

def test_delete(ali, setup, advance):
    gw, ip, _ = setup
    entry = ali.dnat(gw, ip)
    ali.call("DeleteForwardEntry", ForwardTableId=gw["ForwardTableId"], ForwardEntryId=entry)
    [shown] = ali.forward_entries(gw["ForwardTableId"])
    assert shown["Status"] == "Deleting"
    ali.expect("IncorretForwardEntryStatus", "DeleteForwardEntry", status=400,
               ForwardTableId=gw["ForwardTableId"], ForwardEntryId=entry)
    advance(DURATIONS["deleting"] + 1)
    assert ali.forward_entries(gw["ForwardTableId"]) == []
    ali.expect("InvalidForwardEntryId.NotFound", "DeleteForwardEntry", status=404,
               ForwardTableId=gw["ForwardTableId"], ForwardEntryId=entry)


def test_delete_errors(ali, setup):
    gw, ip, _ = setup
    entry = ali.dnat(gw, ip)
    ali.expect("InvalidForwardTableId.NotFound", "DeleteForwardEntry", status=404,
               ForwardTableId="ftb-nosuch000000", ForwardEntryId=entry)
    ali.expect("InvalidForwardEntryId.NotFound", "DeleteForwardEntry", status=404,
               ForwardTableId=gw["ForwardTableId"], ForwardEntryId="fwd-nosuch000000")
    ali.expect("MissingForwardEntryId", "DeleteForwardEntry", ForwardTableId=gw["ForwardTableId"])
    ali.expect("MissingForwardTableId", "DeleteForwardEntry", ForwardEntryId=entry)


def test_an_entry_of_another_table_is_not_found(ali, setup, fx):
    gw, ip, _ = setup
    entry = ali.dnat(gw, ip)
    other = ali.gateway()
    ali.expect("InvalidForwardEntryId.NotFound", "DeleteForwardEntry",
               ForwardTableId=other["ForwardTableId"], ForwardEntryId=entry)


# ---- describe ----

def test_describe_filters(ali, setup):
    gw, ip, ip2 = setup
    table = gw["ForwardTableId"]
    a = ali.dnat(gw, ip, external_port="80", internal_ip="172.16.1.10", ForwardEntryName="alpha")
    b = ali.dnat(gw, ip2, external_port="53", internal_ip="172.16.1.20", internal_port="53",
                 protocol="UDP", ForwardEntryName="beta")
    ids = lambda entries: [e["ForwardEntryId"] for e in entries]  # noqa: E731
    assert ids(ali.forward_entries(table)) == [a, b]
    assert ids(ali.forward_entries(table, ForwardEntryId=b)) == [b]
    assert ids(ali.forward_entries(table, ExternalIp=ip2)) == [b]
    assert ids(ali.forward_entries(table, InternalIp="172.16.1.10")) == [a]
    assert ids(ali.forward_entries(table, IpProtocol="UDP")) == [b]
    assert ids(ali.forward_entries(table, ForwardEntryName="alpha")) == [a]
    assert ids(ali.forward_entries(table, ExternalPort="53")) == [b]


def test_describe_by_gateway_id_alone(ali, setup):
    # The SDKs accept NatGatewayId instead of ForwardTableId (nat-dnat-snat.md 5.3).
    gw, ip, _ = setup
    entry = ali.dnat(gw, ip)
    answer = ali.call("DescribeForwardTableEntries", NatGatewayId=gw["NatGatewayId"])
    assert answer["TotalCount"] == 1
    assert answer["ForwardTableEntries"]["ForwardTableEntry"][0]["ForwardEntryId"] == entry


def test_describe_errors(ali):
    ali.expect("InvalidForwardTableId.NotFound", "DescribeForwardTableEntries", status=404,
               ForwardTableId="ftb-nosuch000000")
    ali.expect("MissingForwardTableId", "DescribeForwardTableEntries", status=400)


# ---- DNAT and SNAT on one IP ----

def test_ip_mapping_refused_on_an_snat_ip(ali, setup, fx):
    gw, ip, _ = setup
    ali.snat(gw, ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("Forbidden.ExternalIp.UsedInSnatTable", "CreateForwardEntry", status=400,
               **create_params(gw, ip, IpProtocol="Any", ExternalPort="Any", InternalPort="Any"))


def test_high_port_on_an_snat_ip_needs_port_break(ali, setup, fx):
    gw, ip, _ = setup
    ali.snat(gw, ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("Forbidden.ExternalIp.UsedInSnatTable", "CreateForwardEntry", status=400,
               **create_params(gw, ip, ExternalPort="8080", InternalPort="8080"))
    ali.expect("Forbidden.ExternalIp.UsedInSnatTable", "CreateForwardEntry",
               **create_params(gw, ip, ExternalPort="8080", InternalPort="8080"), PortBreak=False)
    ali.call("CreateForwardEntry", **create_params(gw, ip, ExternalPort="8080", InternalPort="8080"),
             PortBreak=True)


def test_low_port_on_an_snat_ip_is_fine(ali, setup, fx):
    gw, ip, _ = setup
    ali.snat(gw, ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.call("CreateForwardEntry", **create_params(gw, ip, ExternalPort="1024", InternalPort="80"))


def test_tables_of_other_accounts_are_not_found(ali, ali2, setup):
    gw, ip, _ = setup
    entry = ali.dnat(gw, ip)
    ali2.expect("InvalidForwardTableId.NotFound", "CreateForwardEntry", **create_params(gw, ip))
    ali2.expect("InvalidForwardTableId.NotFound", "DescribeForwardTableEntries",
                ForwardTableId=gw["ForwardTableId"])
    ali2.expect("InvalidForwardTableId.NotFound", "DeleteForwardEntry",
                ForwardTableId=gw["ForwardTableId"], ForwardEntryId=entry)


def test_eip_workflow_of_an_account_without_legacy_packages(ali2, fx, advance):
    gw = ali2.gateway(VSwitchId=fx.vswitch(0, 0)["vSwitchId"])
    ip = ali2.bind_eip(gw["NatGatewayId"], fx.eips()[0])
    entry = ali2.dnat(gw, ip)
    [shown] = ali2.forward_entries(gw["ForwardTableId"])
    assert (shown["ForwardEntryId"], shown["Status"]) == (entry, "Available")
