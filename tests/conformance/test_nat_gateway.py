"""NAT gateways: CreateNatGateway, DescribeNatGateways, ModifyNatGatewayAttribute,
ModifyNatGatewaySpec, UpdateNatGatewayNatType + GetNatGatewayConvertStatus,
DeleteNatGateway, ListEnhanhcedNatGatewayAvailableZones (seed 001 ch. 4)."""

import pytest

from natop_support import DURATIONS, assert_id, items_of

VALID_NAMES = ["ab", "nat-gw_1.a", "网关", "a网关-1", "A" * 128]
INVALID_NAMES = ["a", "1abc", "_abc", "-ab", "http://gw", "https://gw", "a" * 129, "a b", "网"]


def gateways(ali, **filters):
    return items_of(ali.call("DescribeNatGateways", **filters), "NatGateways", "NatGateway")


# ---- create ----

def test_create_answers_realistic_ids(ali):
    answer = ali.call("CreateNatGateway", VpcId=ali.fx.vpc()["vpcId"])
    assert_id(answer["NatGatewayId"], "ngw")
    [ftb] = answer["ForwardTableIds"]["ForwardTableId"]
    [stb] = answer["SnatTableIds"]["SnatTableId"]
    assert_id(ftb, "ftb")
    assert_id(stb, "stb")
    assert answer["RequestId"]


def test_create_is_asynchronous_creating_then_available(ali, advance):
    vpc = ali.fx.vpc()["vpcId"]
    gw = ali.gateway(ready=False, Name="web-gw", Description="the web gateway")
    shown = ali.nat_gateway(gw["NatGatewayId"])
    assert shown["Status"] == "Creating"
    assert shown["VpcId"] == vpc
    assert shown["Name"] == "web-gw"
    assert shown["Description"] == "the web gateway"
    assert shown["Spec"] == "Small"
    assert shown["NatType"] == "Normal"
    assert shown["InstanceChargeType"] == "PostPaid"
    assert shown["RegionId"] == "cn-hangzhou"
    assert shown["BusinessStatus"] == "Normal"
    assert shown["ForwardTableIds"]["ForwardTableId"] == [gw["ForwardTableId"]]
    assert shown["SnatTableIds"]["SnatTableId"] == [gw["SnatTableId"]]
    assert shown["CreationTime"].endswith("Z")
    advance(DURATIONS["creating"] - 5)
    assert ali.nat_gateway(gw["NatGatewayId"])["Status"] == "Creating"
    advance(10)
    assert ali.nat_gateway(gw["NatGatewayId"])["Status"] == "Available"


def test_name_defaults_to_the_id(ali):
    gw = ali.gateway()
    assert ali.nat_gateway(gw["NatGatewayId"])["Name"] == gw["NatGatewayId"]


@pytest.mark.parametrize("spec", ["Small", "Middle", "Large", "XLarge.1"])
def test_specs(ali, spec):
    gw = ali.gateway(Spec=spec)
    assert ali.nat_gateway(gw["NatGatewayId"])["Spec"] == spec


@pytest.mark.parametrize("spec", ["Tiny", "small", "XLarge.2", "Huge"])
def test_unknown_spec(ali, spec):
    ali.expect("InvalidParameter.Spec.ValueNotSupported", "CreateNatGateway", status=400,
               VpcId=ali.fx.vpc()["vpcId"], Spec=spec)


def test_vpc_id_is_required(ali):
    ali.expect("MissingVpcId", "CreateNatGateway", status=400)


def test_unknown_vpc(ali):
    ali.expect("InvalidVpcId.NotFound", "CreateNatGateway", status=404, VpcId="vpc-nosuch000000")


def test_vpc_of_another_region(ali):
    ali.expect("InvalidVpcId.NotFound", "CreateNatGateway", status=404,
               VpcId=ali.fx.vpc(0, "cn-beijing")["vpcId"])


def test_gateway_in_the_other_region(ali_factory, fx):
    beijing = ali_factory(0, region="cn-beijing")
    gw = beijing.gateway(vpc=fx.vpc(0, "cn-beijing")["vpcId"])
    assert beijing.nat_gateway(gw["NatGatewayId"])["RegionId"] == "cn-beijing"
    hangzhou = ali_factory(0, region="cn-hangzhou")
    assert gateways(hangzhou) == []


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names(ali, name):
    gw = ali.gateway(ready=False, Name=name)
    assert ali.nat_gateway(gw["NatGatewayId"])["Name"] == name


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names(ali, name):
    ali.expect("InvalidNatGatewayName.Malformed", "CreateNatGateway", status=400,
               VpcId=ali.fx.vpc()["vpcId"], Name=name)


@pytest.mark.parametrize("description", ["x", "http://example.com/gw", "https://x.y", "d" * 257])
def test_invalid_descriptions(ali, description):
    ali.expect("InvalidNatGatewayDescription.Malformed", "CreateNatGateway", status=400,
               VpcId=ali.fx.vpc()["vpcId"], Description=description)


def test_vswitch_must_be_in_the_vpc(ali, fx):
    ali.expect("OperationFailed.VswitchNotBelongToVpc", "CreateNatGateway", status=400,
               VpcId=fx.vpc(0)["vpcId"], VSwitchId=fx.vswitch(1, 0)["vSwitchId"])


def test_unknown_vswitch(ali, fx):
    ali.expect("InvalidVSwitchId.NotFound", "CreateNatGateway", status=404,
               VpcId=fx.vpc(0)["vpcId"], VSwitchId="vsw-nosuch0000000")


def test_enhanced_gateway_takes_a_private_ip_of_its_vswitch(ali, fx):
    vswitch = fx.vswitch(0, 1)
    gw = ali.gateway(NatType="Enhanced", VSwitchId=vswitch["vSwitchId"])
    shown = ali.nat_gateway(gw["NatGatewayId"])
    assert shown["NatType"] == "Enhanced"
    info = shown["NatGatewayPrivateInfo"]
    assert info["VswitchId"] == vswitch["vSwitchId"]
    assert info["IzNo"] == vswitch["zoneId"]
    prefix = vswitch["cidrBlock"].rsplit(".", 1)[0] + "."
    assert info["PrivateIpAddress"].startswith(prefix)


def test_enhanced_gateway_needs_a_vswitch(ali, fx):
    ali.expect("MissingVSwitchId", "CreateNatGateway", status=400,
               VpcId=fx.vpc()["vpcId"], NatType="Enhanced")


def test_unknown_nat_type(ali, fx):
    ali.expect("InvalidParameter.NatType.ValueNotSupported", "CreateNatGateway", status=400,
               VpcId=fx.vpc()["vpcId"], NatType="Super")


def test_pay_by_lcu_needs_enhanced(ali, fx):
    ali.expect("InvalidParameter.InternetChargeType.ValueNotSupported", "CreateNatGateway",
               status=400, VpcId=fx.vpc()["vpcId"], InternetChargeType="PayByLcu")


def test_prepaid_needs_the_billing_parameters(ali, fx):
    vpc = fx.vpc()["vpcId"]
    ali.expect("MissingPricingCycle", "CreateNatGateway", VpcId=vpc, InstanceChargeType="PrePaid")
    ali.expect("InvalidParameter.Duration.ValueNotSupported", "CreateNatGateway", VpcId=vpc,
               InstanceChargeType="PrePaid", PricingCycle="Year", Duration=4, AutoPay=True)
    gw = ali.gateway(InstanceChargeType="PrePaid", PricingCycle="Month", Duration=3, AutoPay=True)
    shown = ali.nat_gateway(gw["NatGatewayId"])
    assert shown["InstanceChargeType"] == "PrePaid"
    assert shown["ExpiredTime"]


def test_one_legacy_bandwidth_package_can_be_created_with_the_gateway(ali, advance):
    # Seed 4.1: BandwidthPackage.N, "only support one BandwidthPackage be created with NatGateway".
    answer = ali.call("CreateNatGateway", VpcId=ali.fx.vpc()["vpcId"],
                      BandwidthPackage=[{"Bandwidth": 5, "IpCount": 1}])
    [package_id] = answer["BandwidthPackageIds"]["BandwidthPackageId"]
    assert_id(package_id, "bwp")
    advance(DURATIONS["creating"] + 1)
    [package] = ali.packages(BandwidthPackageId=package_id)
    assert package["NatGatewayId"] == answer["NatGatewayId"]


def test_package_with_the_gateway_needs_a_legacy_account(ali2):
    ali2.expect("Forbidden.NatBandwidthPackage", "CreateNatGateway", status=403,
                VpcId=ali2.fx.vpc()["vpcId"], BandwidthPackage=[{"Bandwidth": 5, "IpCount": 1}])
    assert gateways(ali2) == []


# ---- what the service sells now: a new account (the fixture's second) ----

def test_a_new_account_gets_enhanced_gateways_billed_by_capacity_units(ali2, fx):
    vsw = fx.vswitch(0, 0)["vSwitchId"]
    gw = ali2.gateway(VSwitchId=vsw, Spec="Large")
    shown = ali2.nat_gateway(gw["NatGatewayId"])
    assert shown["NatType"] == "Enhanced"
    assert shown["InternetChargeType"] == "PayByLcu"
    assert shown["Spec"] == "", "billed by capacity units: no size"
    assert shown["NatGatewayPrivateInfo"]["VswitchId"] == vsw
    ali2.expect("OperationUnsupported.PayByLcu", "ModifyNatGatewaySpec", status=400,
                NatGatewayId=gw["NatGatewayId"], Spec="Middle")


def test_a_new_account_is_refused_what_is_no_longer_sold(ali2, fx):
    vpc, vsw = fx.vpc()["vpcId"], fx.vswitch(0, 0)["vSwitchId"]
    ali2.expect("MissingVSwitchId", "CreateNatGateway", status=400, VpcId=vpc)
    ali2.expect("Forbidden.NatPayBySpec", "CreateNatGateway", status=400,
                VpcId=vpc, NatType="Normal")
    ali2.expect("Forbidden.NatPayBySpec", "CreateNatGateway", status=400,
                VpcId=vpc, VSwitchId=vsw, InternetChargeType="PayBySpec")
    assert gateways(ali2) == []


def test_an_old_account_keeps_the_2020_defaults(ali, fx):
    gw = ali.gateway()
    shown = ali.nat_gateway(gw["NatGatewayId"])
    assert (shown["NatType"], shown["InternetChargeType"], shown["Spec"]) == \
        ("Normal", "PayBySpec", "Small")


def test_an_intranet_gateway_is_enhanced(ali, fx):
    ali.expect("OperationFailed.NatTypeNotEnhanced", "CreateNatGateway", status=400,
               VpcId=fx.vpc()["vpcId"], NetworkType="intranet", NatType="Normal")


def test_an_intranet_gateway_uses_its_private_ip_and_binds_no_eip(ali2, fx):
    vsw = fx.vswitch(0, 0)["vSwitchId"]
    gw = ali2.gateway(VSwitchId=vsw, NetworkType="intranet")
    shown = ali2.nat_gateway(gw["NatGatewayId"])
    assert shown["NetworkType"] == "intranet"
    private = shown["NatGatewayPrivateInfo"]["PrivateIpAddress"]
    [ip] = shown["IpLists"]["IpList"]
    assert ip["IpAddress"] == private
    ali2.call("CreateForwardEntry", ForwardTableId=gw["ForwardTableId"], ExternalIp=private,
              ExternalPort="5432", InternalIp="172.16.1.30", InternalPort="5432",
              IpProtocol="TCP")
    eip = fx.eips()[0]
    ali2.expect("OperationUnsupported.VpcNatGateway", "AssociateEipAddress", status=400,
                AllocationId=eip["allocationId"], InstanceId=gw["NatGatewayId"],
                InstanceType="Nat")


def test_at_most_one_bandwidth_package_with_the_gateway(ali):
    ali.expect("MissingParameter.BandwidthPackage", "CreateNatGateway", status=400,
               VpcId=ali.fx.vpc()["vpcId"],
               BandwidthPackage=[{"Bandwidth": 5, "IpCount": 1}, {"Bandwidth": 5, "IpCount": 1}])
    assert gateways(ali) == []


def test_tags_are_kept(ali):
    gw = ali.gateway(Tag=[{"Key": "team", "Value": "net"}])
    shown = ali.nat_gateway(gw["NatGatewayId"])
    assert items_of(shown, "Tags", "Tag") == [{"TagKey": "team", "TagValue": "net"}]
    assert [g["NatGatewayId"] for g in gateways(ali, Tag=[{"Key": "team", "Value": "net"}])] == [
        gw["NatGatewayId"]
    ]


# ---- describe ----

def test_describe_filters(ali, fx):
    first = ali.gateway(Name="alpha", Spec="Middle")
    second = ali.gateway(vpc=fx.vpc(1)["vpcId"], Name="beta")
    ids = lambda items: [g["NatGatewayId"] for g in items]  # noqa: E731
    assert ids(gateways(ali)) == [first["NatGatewayId"], second["NatGatewayId"]]
    assert ids(gateways(ali, NatGatewayId=second["NatGatewayId"])) == [second["NatGatewayId"]]
    assert ids(gateways(ali, VpcId=fx.vpc(1)["vpcId"])) == [second["NatGatewayId"]]
    assert ids(gateways(ali, Name="alpha")) == [first["NatGatewayId"]]
    assert ids(gateways(ali, Spec="Middle")) == [first["NatGatewayId"]]
    assert ids(gateways(ali, NatGatewayId="ngw-nosuch")) == []


def test_describe_shows_bound_eips_in_ip_lists(ali, fx):
    gw = ali.gateway()
    eip = fx.eips()[0]
    ali.bind_eip(gw["NatGatewayId"], eip)
    [ip] = items_of(ali.nat_gateway(gw["NatGatewayId"]), "IpLists", "IpList")
    assert ip["AllocationId"] == eip["allocationId"]
    assert ip["IpAddress"] == eip["ipAddress"]
    assert ip["UsingStatus"] == "idle"


def test_ip_list_using_status(ali, fx):
    gw = ali.gateway()
    dnat_ip = ali.bind_eip(gw["NatGatewayId"], fx.eips()[0])
    snat_ip = ali.bind_eip(gw["NatGatewayId"], fx.eips()[1])
    ali.dnat(gw, dnat_ip)
    ali.snat(gw, snat_ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    usage = {i["IpAddress"]: i["UsingStatus"]
             for i in items_of(ali.nat_gateway(gw["NatGatewayId"]), "IpLists", "IpList")}
    assert usage == {dnat_ip: "UsedByForwardTable", snat_ip: "UsedBySnatTable"}


def test_describe_dry_run(ali):
    ali.expect("DryRunOperation", "DescribeNatGateways", status=400, DryRun=True)


# ---- only queries while Creating / Modifying / Converting ----

def test_only_queries_while_creating(ali, fx):
    gw = ali.gateway(ready=False)
    gid = gw["NatGatewayId"]
    ali.expect("IncorrectStatus.NatGateway", "ModifyNatGatewayAttribute", NatGatewayId=gid, Name="x-y")
    ali.expect("IncorrectStatus.NatGateway", "ModifyNatGatewaySpec", NatGatewayId=gid, Spec="Middle")
    ali.expect("IncorrectStatus.NatGateway", "DeleteNatGateway", NatGatewayId=gid)
    ali.expect("IncorrectStatus.NatGateway", "UpdateNatGatewayNatType", NatGatewayId=gid,
               NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("IncorrectInstanceStatus", "AssociateEipAddress",
               AllocationId=fx.eips()[0]["allocationId"], InstanceId=gid, InstanceType="Nat")
    ali.expect("IncorrectStatus.NatGateway", "CreateBandwidthPackage", NatGatewayId=gid,
               Bandwidth=5, IpCount=1)
    assert ali.nat_gateway(gid)["Status"] == "Creating"
    assert ali.forward_entries(gw["ForwardTableId"]) == []


def test_only_queries_while_modifying(ali, fx):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    ip = ali.bind_eip(gid, fx.eips()[0])
    ali.call("ModifyNatGatewaySpec", NatGatewayId=gid, Spec="Large")
    ali.expect("IncorrectStatus.NatGateway", "ModifyNatGatewayAttribute", NatGatewayId=gid, Name="x-y")
    ali.expect("IncorrectStatus.NatGateway", "ModifyNatGatewaySpec", NatGatewayId=gid, Spec="Middle")
    ali.expect("IncorrectStatus.NatGateway", "DeleteNatGateway", NatGatewayId=gid, Force=True)
    ali.expect("IncorrectStatus.NatGateway", "CreateForwardEntry", ForwardTableId=gw["ForwardTableId"],
               ExternalIp=ip, ExternalPort="80", InternalIp="172.16.1.5", InternalPort="80",
               IpProtocol="TCP")
    ali.expect("IncorrectStatus.NatGateway", "CreateSnatEntry", SnatTableId=gw["SnatTableId"],
               SnatIp=ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("IncorrectInstanceStatus", "AssociateEipAddress",
               AllocationId=fx.eips()[1]["allocationId"], InstanceId=gid, InstanceType="Nat")


# ---- modify attribute ----

def test_modify_attribute(ali):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    ali.call("ModifyNatGatewayAttribute", NatGatewayId=gid, Name="renamed", Description="new words")
    shown = ali.nat_gateway(gid)
    assert (shown["Name"], shown["Description"], shown["Status"]) == ("renamed", "new words", "Available")
    ali.call("ModifyNatGatewayAttribute", NatGatewayId=gid, Description="only this")
    shown = ali.nat_gateway(gid)
    assert (shown["Name"], shown["Description"]) == ("renamed", "only this")


def test_modify_attribute_rules(ali):
    gid = ali.gateway()["NatGatewayId"]
    ali.expect("MissingNatGatewayId", "ModifyNatGatewayAttribute", Name="abc")
    ali.expect("InvalidNatGatewayId.NotFound", "ModifyNatGatewayAttribute", status=404,
               NatGatewayId="ngw-nosuch00000", Name="abc")
    for name in INVALID_NAMES:
        ali.expect("InvalidParameter.Name.Malformed", "ModifyNatGatewayAttribute", status=400,
                   NatGatewayId=gid, Name=name)
    for description in ("x", "https://x.example", "d" * 257):
        ali.expect("InvalidParameter.Description.Malformed", "ModifyNatGatewayAttribute",
                   status=400, NatGatewayId=gid, Description=description)
    ali.expect("MissingParameter", "ModifyNatGatewayAttribute", status=400, NatGatewayId=gid)


def test_modified_description_must_start_with_a_letter(ali):
    # Seed 4.2: the description "must start with a letter or a Chinese character".
    gid = ali.gateway()["NatGatewayId"]
    ali.expect("InvalidParameter.Description.Malformed", "ModifyNatGatewayAttribute", status=400,
               NatGatewayId=gid, Description="1st gateway")
    ali.call("ModifyNatGatewayAttribute", NatGatewayId=gid, Description="第一 gateway")


def test_eip_bind_mode_only_multi_binded_to_nat(ali):
    gid = ali.gateway()["NatGatewayId"]
    assert ali.nat_gateway(gid)["EipBindMode"] == "MULTI_BINDED"
    ali.call("ModifyNatGatewayAttribute", NatGatewayId=gid, EipBindMode="NAT")
    assert ali.nat_gateway(gid)["EipBindMode"] == "NAT"
    ali.expect("OperationUnsupported.EipBindMode", "ModifyNatGatewayAttribute",
               NatGatewayId=gid, EipBindMode="MULTI_BINDED")


# ---- modify spec ----

def test_modify_spec_is_asynchronous(ali, advance):
    gid = ali.gateway()["NatGatewayId"]
    ali.call("ModifyNatGatewaySpec", NatGatewayId=gid, Spec="Middle")
    shown = ali.nat_gateway(gid)
    assert shown["Status"] == "Modifying"
    advance(DURATIONS["modifying"] + 1)
    shown = ali.nat_gateway(gid)
    assert (shown["Status"], shown["Spec"]) == ("Available", "Middle")


def test_modify_spec_rules(ali):
    gid = ali.gateway(Spec="Middle")["NatGatewayId"]
    ali.expect("NATGW_MODIFY_SPEC_SAME", "ModifyNatGatewaySpec", status=400, NatGatewayId=gid,
               Spec="Middle")
    ali.expect("InvalidParameter.Spec.ValueNotSupported", "ModifyNatGatewaySpec", status=400,
               NatGatewayId=gid, Spec="Giant")
    ali.expect("MissingSpec", "ModifyNatGatewaySpec", NatGatewayId=gid)
    ali.expect("InvalidNatGatewayId.NotFound", "ModifyNatGatewaySpec", status=404,
               NatGatewayId="ngw-nosuch00000", Spec="Large")
    assert ali.nat_gateway(gid)["Status"] == "Available"


# ---- NatType conversion ----

def test_convert_normal_to_enhanced_with_visible_steps(ali, fx, advance):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    vswitch = fx.vswitch(0, 0)
    ali.call("UpdateNatGatewayNatType", NatGatewayId=gid, NatType="Enhanced",
             VSwitchId=vswitch["vSwitchId"])
    assert ali.nat_gateway(gid)["Status"] == "Converting"

    names_seen = []
    for _ in range(13):
        status = ali.call("GetNatGatewayConvertStatus", NatGatewayId=gid)
        assert status["NatGatewayId"] == gid
        assert status["DstNatType"] == "Enhanced"
        steps = status["ConvertSteps"]
        assert steps, status
        # Every step but the last is done; the last is processing until the end.
        assert all(s["StepStatus"] == "successful" for s in steps[:-1]), steps
        assert all(s["StepStartTime"].endswith("Z") for s in steps)
        names_seen.append([s["StepName"] for s in steps])
        advance(DURATIONS["converting"] / 12)
    final = ali.call("GetNatGatewayConvertStatus", NatGatewayId=gid)["ConvertSteps"]
    order = ["init", "check", "configure", "activate", "conf_delete", "end_success"]
    assert [s["StepName"] for s in final] == order
    assert all(s["StepStatus"] == "successful" for s in final)
    # Steps appear one after another, in order.
    assert names_seen[0] == ["init"]
    assert all(seen == order[: len(seen)] for seen in names_seen)
    assert len({len(seen) for seen in names_seen}) >= 4
    shown = ali.nat_gateway(gid)
    assert (shown["Status"], shown["NatType"]) == ("Available", "Enhanced")
    assert shown["NatGatewayPrivateInfo"]["VswitchId"] == vswitch["vSwitchId"]


def test_only_queries_while_converting(ali, fx):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    ali.call("UpdateNatGatewayNatType", NatGatewayId=gid, NatType="Enhanced",
             VSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("IncorrectStatus.NatGateway", "ModifyNatGatewayAttribute", NatGatewayId=gid, Name="abc")
    ali.expect("IncorrectStatus.NatGateway", "ModifyNatGatewaySpec", NatGatewayId=gid, Spec="Large")
    ali.expect("IncorrectStatus.NatGateway", "DeleteNatGateway", NatGatewayId=gid)
    ali.expect("IncorrectStatus.NatGateway", "UpdateNatGatewayNatType", NatGatewayId=gid,
               NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])
    assert ali.nat_gateway(gid)["Status"] == "Converting"


def test_conversion_is_one_way(ali, fx, advance):
    gid = ali.gateway()["NatGatewayId"]
    ali.expect("OperationFailed.NatTypeNotEnhanced", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Normal", VSwitchId=fx.vswitch()["vSwitchId"])
    ali.call("UpdateNatGatewayNatType", NatGatewayId=gid, NatType="Enhanced",
             VSwitchId=fx.vswitch()["vSwitchId"])
    advance(DURATIONS["converting"] + 1)
    ali.expect("OperationFailed.NatTypeAlreadyEnhanced", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("OperationFailed.NatTypeNotEnhanced", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Normal", VSwitchId=fx.vswitch()["vSwitchId"])


def test_enhanced_gateway_cannot_be_converted(ali, fx):
    gid = ali.gateway(NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])["NatGatewayId"]
    ali.expect("OperationFailed.NatTypeAlreadyEnhanced", "UpdateNatGatewayNatType",
               NatGatewayId=gid, NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])


def test_conversion_rules(ali, fx):
    gid = ali.gateway()["NatGatewayId"]
    ali.expect("OperationFailed.VSwitchNotBelongToVpc", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Enhanced", VSwitchId=fx.vswitch(1, 0)["vSwitchId"])
    ali.expect("NATGW_NOT_EXIST", "UpdateNatGatewayNatType", status=400,
               NatGatewayId="ngw-nosuch00000", NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("DryRunOperation", "UpdateNatGatewayNatType", status=400, NatGatewayId=gid,
               NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"], DryRun=True)
    assert ali.nat_gateway(gid)["Status"] == "Available"
    ali.expect("InvalidConvertTask.NotFound", "GetNatGatewayConvertStatus", status=404,
               NatGatewayId=gid)
    ali.expect("InvalidNatGatewayId.NotFound", "GetNatGatewayConvertStatus", status=404,
               NatGatewayId="ngw-nosuch00000")


def test_conversion_with_an_unknown_vswitch(ali):
    gid = ali.gateway()["NatGatewayId"]
    ali.expect("OperationFailed.VswitchNotExist", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Enhanced", VSwitchId="vsw-nosuch000000")


def test_conversion_refused_while_an_eip_is_in_a_middle_status(ali, fx):
    gid = ali.gateway()["NatGatewayId"]
    ali.bind_eip(gid, fx.eips()[0], settle=False)
    ali.expect("OperationFailed.EipInMiddleStatus", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])


def test_conversion_refused_while_entries_are_pending(ali, fx, advance):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    ip = ali.bind_eip(gid, fx.eips()[0])
    ali.dnat(gw, ip, settle=False)
    ali.expect("OperationFailed.DnatInMiddleStatus", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])
    advance(DURATIONS["pending"] + 1)
    ali.snat(gw, ip, SourceVSwitchId=fx.vswitch()["vSwitchId"], settle=False)
    ali.expect("OperationFailed.SnatInMiddleStatus", "UpdateNatGatewayNatType", status=400,
               NatGatewayId=gid, NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])
    advance(DURATIONS["pending"] + 1)
    ali.call("UpdateNatGatewayNatType", NatGatewayId=gid, NatType="Enhanced",
             VSwitchId=fx.vswitch()["vSwitchId"])


def test_conversion_refused_with_bandwidth_packages(ali, fx, advance):
    gid = ali.gateway()["NatGatewayId"]
    ali.package(gid)
    advance(DURATIONS["creating"] + 1)
    ali.expect("OperationFailed.NatGwBindWithBandwidthPackage", "UpdateNatGatewayNatType",
               NatGatewayId=gid, NatType="Enhanced", VSwitchId=fx.vswitch()["vSwitchId"])


# ---- delete ----

def test_delete_is_asynchronous(ali, advance):
    gid = ali.gateway()["NatGatewayId"]
    ali.call("DeleteNatGateway", NatGatewayId=gid)
    assert ali.nat_gateway(gid)["Status"] == "Deleting"
    ali.expect("IncorrectStatus.NatGateway", "DeleteNatGateway", NatGatewayId=gid)
    advance(DURATIONS["deleting"] + 1)
    assert ali.nat_gateway(gid) is None
    ali.expect("InvalidNatGatewayId.NotFound", "DeleteNatGateway", status=404, NatGatewayId=gid)


def test_delete_unknown_and_missing(ali):
    ali.expect("InvalidNatGatewayId.NotFound", "DeleteNatGateway", status=404,
               NatGatewayId="ngw-nosuch00000")
    ali.expect("MissingNatGatewayId", "DeleteNatGateway", status=400)


def test_delete_refused_while_eips_are_bound(ali, fx):
    gid = ali.gateway()["NatGatewayId"]
    ali.bind_eip(gid, fx.eips()[0])
    ali.expect("DependencyViolation.EIPS", "DeleteNatGateway", status=400, NatGatewayId=gid)
    ali.expect("DependencyViolation.EIPS", "DeleteNatGateway", NatGatewayId=gid, Force=False)
    assert ali.nat_gateway(gid)["Status"] == "Available"


def test_delete_refused_while_entries_remain(ali, fx, advance):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    ip = ali.bind_eip(gid, fx.eips()[0])
    entry = ali.dnat(gw, ip)
    ali.expect("DependencyViolation.ForwardEntry", "DeleteNatGateway", NatGatewayId=gid)
    ali.snat(gw, ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    ali.expect("DependencyViolation.SnatEntry", "DeleteNatGateway", NatGatewayId=gid)
    assert ali.forward_entries(gw["ForwardTableId"])[0]["ForwardEntryId"] == entry


def test_delete_refused_while_packages_remain(ali, advance):
    gid = ali.gateway()["NatGatewayId"]
    ali.package(gid)
    advance(DURATIONS["creating"] + 1)
    ali.expect("DependencyViolation.BandwidthPackages", "DeleteNatGateway", status=400,
               NatGatewayId=gid)


def test_force_delete_removes_everything(ali, fx, advance):
    gw = ali.gateway()
    gid = gw["NatGatewayId"]
    eip = fx.eips()[0]
    ip = ali.bind_eip(gid, eip)
    ali.dnat(gw, ip)
    ali.snat(gw, ip, SourceVSwitchId=fx.vswitch()["vSwitchId"])
    package = ali.package(gid)
    advance(DURATIONS["creating"] + 1)
    ali.call("DeleteNatGateway", NatGatewayId=gid, Force=True)
    assert ali.eip(eip["allocationId"])["Status"] == "Available"
    assert ali.eip(eip["allocationId"])["InstanceId"] == ""
    assert ali.packages(BandwidthPackageId=package) == []
    advance(DURATIONS["deleting"] + 1)
    assert ali.nat_gateway(gid) is None
    state = ali.emu.alibaba_state(ali.account_id)
    assert state["forwardEntries"] == {} and state["snatEntries"] == {}
    assert state["bandwidthPackages"] == {}
    # The EIP can be bound again elsewhere.
    other = ali.gateway()["NatGatewayId"]
    ali.bind_eip(other, eip)
    assert ali.eip(eip["allocationId"])["InstanceId"] == other


# ---- zones ----

def test_list_enhanced_zones(ali, ali_factory, fx):
    answer = ali.call("ListEnhanhcedNatGatewayAvailableZones")
    zones = answer["Zones"]
    assert isinstance(zones, list)
    assert [z["ZoneId"] for z in zones] == fx.region()["zones"]
    assert all(z["LocalName"] for z in zones)
    english = ali.call("ListEnhanhcedNatGatewayAvailableZones", AcceptLanguage="en-US")["Zones"]
    assert english[0]["LocalName"] != zones[0]["LocalName"]
    beijing = ali_factory(0, region="cn-beijing").call("ListEnhanhcedNatGatewayAvailableZones")
    assert [z["ZoneId"] for z in beijing["Zones"]] == fx.region("cn-beijing")["zones"]


def test_force_sent_as_python_true_is_accepted(ali, fx, advance):
    # CommonRequest.add_query_param("Force", True) puts str(True) == "True" on
    # the wire; the emulator reads booleans case-insensitively.
    gid = ali.gateway()["NatGatewayId"]
    ali.bind_eip(gid, fx.eips()[0])
    request = ali.request("DeleteNatGateway", NatGatewayId=gid)
    request.add_query_param("Force", True)
    ali.client.do_action_with_exception(request)
    advance(DURATIONS["deleting"] + 1)
    assert ali.nat_gateway(gid) is None


def test_tags_are_added_replaced_removed_and_filtered_on(ali):
    """TagResources / UnTagResources (ResourceType NATGATEWAY) as the official
    SDK sends them, and the Tag.N filter of DescribeNatGateways."""
    gid = ali.gateway(**{"Tag.1.Key": "team", "Tag.1.Value": "a"})["NatGatewayId"]

    def tags():
        shown = items_of(ali.nat_gateway(gid), "Tags", "Tag")
        return {t["TagKey"]: t["TagValue"] for t in shown}

    assert tags() == {"team": "a"}
    ali.call("TagResources", ResourceType="NATGATEWAY", **{
        "ResourceId.1": gid, "Tag.1.Key": "team", "Tag.1.Value": "b",
        "Tag.2.Key": "natop.dev/owner", "Tag.2.Value": "blue"})
    assert tags() == {"team": "b", "natop.dev/owner": "blue"}
    found = items_of(ali.call("DescribeNatGateways", **{
        "Tag.1.Key": "natop.dev/owner", "Tag.1.Value": "blue", "Tag.2.Key": "team"}),
        "NatGateways", "NatGateway")
    assert [g["NatGatewayId"] for g in found] == [gid]
    none = items_of(ali.call("DescribeNatGateways", **{
        "Tag.1.Key": "natop.dev/owner", "Tag.1.Value": "green"}), "NatGateways", "NatGateway")
    assert none == []
    ali.call("UnTagResources", ResourceType="NATGATEWAY", **{
        "ResourceId.1": gid, "TagKey.1": "team"})
    assert tags() == {"natop.dev/owner": "blue"}
    ali.expect("InvalidTagKey.Malformed", "TagResources", status=400, ResourceType="NATGATEWAY",
               **{"ResourceId.1": gid, "Tag.1.Key": "aliyun-x", "Tag.1.Value": "v"})
    ali.expect("InvalidResourceType.NotSupported", "TagResources", status=400,
               ResourceType="VSWITCH", **{"ResourceId.1": gid, "Tag.1.Key": "k"})
