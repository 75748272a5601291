"""Fault injection (`PUT /_emulator/faults`) as the SDKs see it, and the other
admin endpoints: state, calls, clock, reset."""

import time
import urllib.error

import pytest
import requests
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from ucloud.client import Client as UcloudClient
from ucloud.core.exc import HTTPStatusException, RetCodeException

from natop_support import DURATIONS, assert_id, items_of
from natop_support import fault_rule as rule


def ucloud_create(client, fx, index=0):
    return client.invoke("CreateBandwidthPackage", {
        "EIPId": fx.ucloud_region("cn-bj2")["eips"][index]["eipId"], "Bandwidth": 10, "TimeRange": 1,
    })


# ---- Alibaba ----

def test_throttling_for_one_action(ali, emulator):
    emulator.set_faults({"default": rule(), "actions": {"DescribeEipAddresses": rule(throttling=1.0)}})
    for _ in range(3):
        status, code, message = ali.error_of("DescribeEipAddresses")
        assert (status, code) == (400, "Throttling")
        assert "throttl" in message.lower()
    # Other actions are not affected.
    ali.expect("InvalidRegionId.NotFound", "DescribeNatGateways", RegionId="cn-nowhere")
    assert emulator.calls()["DescribeEipAddresses"] == {"Throttling": 3}


def test_default_rule_applies_to_every_action(ali, emulator):
    emulator.set_faults({"default": rule(throttling=1.0), "actions": {}})
    ali.expect("Throttling", "DescribeNatGateways", status=400)
    ali.expect("Throttling", "CreateNatGateway", status=400, VpcId="vpc-hz1natop0000000000")
    # An action listed with an empty rule is exempt from the default.
    emulator.set_faults({"default": rule(throttling=1.0), "actions": {"DescribeNatGateways": rule()}})
    ali.expect("InvalidRegionId.NotFound", "DescribeNatGateways", RegionId="cn-nowhere")


def test_throttling_makes_no_change(ali, emulator, fx):
    emulator.set_faults({"default": rule(), "actions": {"CreateNatGateway": rule(throttling=1.0)}})
    ali.expect("Throttling", "CreateNatGateway", VpcId=fx.vpc()["vpcId"])
    assert not emulator.alibaba_state(ali.account_id)["natGateways"]


def test_service_unavailable_and_internal_error(ali, emulator):
    emulator.set_faults({"default": rule(), "actions": {
        "DescribeNatGateways": rule(serviceUnavailable=1.0),
        "DescribeEipAddresses": rule(internalError=1.0),
    }})
    ali.expect("ServiceUnavailable", "DescribeNatGateways", status=503)
    ali.expect("InternalError", "DescribeEipAddresses", status=500)


def test_authentication_is_checked_before_faults(ali_factory, emulator):
    emulator.set_faults({"default": rule(throttling=1.0), "actions": {}})
    ali_factory(0, secret="wrong").expect("SignatureDoesNotMatch", "DescribeNatGateways")


def test_fault_rates_are_fractions_of_calls(ali, emulator):
    emulator.set_faults({"default": rule(), "actions": {"DescribeNothing": rule(throttling=0.5)}})
    codes = [ali.code_of("DescribeNothing") for _ in range(40)]
    throttled = codes.count("Throttling")
    assert 5 <= throttled <= 35, codes
    assert set(codes) == {"Throttling", "InvalidAction.NotFound"}


def test_latency(ali, emulator):
    emulator.set_faults({"default": rule(), "actions": {"DescribeNothing": rule(latencyMs=400)}})
    started = time.monotonic()
    ali.expect("InvalidAction.NotFound", "DescribeNothing")
    assert time.monotonic() - started >= 0.35


def test_commit_then_drop_on_create_nat_gateway(ali, emulator, fx):
    emulator.set_faults({"default": rule(), "actions": {"CreateNatGateway": rule(commitThenDrop=1.0)}})
    with pytest.raises(ClientException) as info:
        ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], Name="dropped")
    assert info.value.get_error_code() == "SDK.HttpError"
    gateways = emulator.alibaba_state(ali.account_id)["natGateways"]
    assert len(gateways) == 1
    [(gateway_id, record)] = gateways.items()
    assert_id(gateway_id, "ngw")
    assert record["wire"]["Name"] == "dropped"
    emulator.clear_faults()
    # The client never learnt the id, but the gateway is there to be found.
    answer = ali.call("DescribeNatGateways", VpcId=fx.vpc()["vpcId"])
    assert [g["NatGatewayId"] for g in items_of(answer, "NatGateways", "NatGateway")] == [gateway_id]
    assert emulator.calls()["CreateNatGateway"] == {"success": 1}


def test_commit_then_drop_with_client_token_lets_the_retry_find_the_answer(ali, emulator, fx):
    emulator.set_faults({"default": rule(), "actions": {"CreateNatGateway": rule(commitThenDrop=1.0)}})
    with pytest.raises(ClientException):
        ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], ClientToken="drop-token-1")
    emulator.clear_faults()
    retried = ali.call("CreateNatGateway", VpcId=fx.vpc()["vpcId"], ClientToken="drop-token-1")
    assert list(emulator.alibaba_state(ali.account_id)["natGateways"]) == [retried["NatGatewayId"]]


# ---- UCloud ----

def test_ucloud_throttling_and_unavailable(ucloud, emulator, fx):
    client = ucloud()
    emulator.set_faults({"default": rule(), "actions": {
        "DescribeBandwidthPackage": rule(throttling=1.0),
        "DeleteBandwidthPackage": rule(serviceUnavailable=1.0),
    }})
    with pytest.raises(RetCodeException) as info:
        client.invoke("DescribeBandwidthPackage", {})
    assert info.value.code == 153
    with pytest.raises(RetCodeException) as info:
        client.invoke("DeleteBandwidthPackage", {"BandwidthPackageId": "bwpack-x"})
    assert info.value.code == 150


def test_ucloud_internal_error_is_http_502(ucloud, emulator):
    emulator.set_faults({"default": rule(), "actions": {"DescribeBandwidthPackage": rule(internalError=1.0)}})
    with pytest.raises(HTTPStatusException) as info:
        ucloud().invoke("DescribeBandwidthPackage", {})
    assert info.value.status_code == 502
    assert emulator.calls()["DescribeBandwidthPackage"] == {"HTTP502": 1}


def test_ucloud_sdk_retries_502_but_not_low_retcodes(ucloud, emulator, fx):
    keys = fx.ucloud_accounts[0]
    retrying = UcloudClient({
        "region": "cn-bj2", "public_key": keys["publicKey"], "private_key": keys["privateKey"],
        "base_url": emulator.base_url, "max_retries": 2,
    })
    emulator.set_faults({"default": rule(), "actions": {
        "DescribeBandwidthPackage": rule(internalError=1.0),
        "DeleteBandwidthPackage": rule(throttling=1.0),
    }})
    with pytest.raises(HTTPStatusException):
        retrying.invoke("DescribeBandwidthPackage", {})
    with pytest.raises(RetCodeException) as info:
        retrying.invoke("DeleteBandwidthPackage", {"BandwidthPackageId": "bwpack-x"})
    assert info.value.code == 153
    calls = emulator.calls()
    assert calls["DescribeBandwidthPackage"] == {"HTTP502": 3}
    assert calls["DeleteBandwidthPackage"] == {"153": 1}


def test_ucloud_commit_then_drop(ucloud, emulator, fx):
    emulator.set_faults({"default": rule(), "actions": {"CreateBandwidthPackage": rule(commitThenDrop=1.0)}})
    with pytest.raises(requests.exceptions.ConnectionError):
        ucloud_create(ucloud(), fx)
    packages = emulator.ucloud_state(fx.ucloud_user(0))["bandwidthPackages"]
    assert len(packages) == 1
    emulator.clear_faults()
    assert ucloud().invoke("DescribeBandwidthPackage", {})["TotalCount"] == 1


def test_alibaba_sdk_default_retry_policy_does_not_retry_vpc_calls(ali, emulator):
    # Pinned SDK behaviour: aliyun-python-sdk-core's default policy retries only
    # the APIs its retry_config.json lists (ECS 2014-05-26), so even with
    # auto_retry=True a VPC call that is throttled is sent once.
    retrying = AcsClient(ali.key_id, ali.secret, "cn-hangzhou")
    emulator.set_faults({"default": rule(throttling=1.0), "actions": {}})
    with pytest.raises(ServerException) as info:
        retrying.do_action_with_exception(ali.request("DescribeNatGateways"))
    assert info.value.get_error_code() == "Throttling"
    assert emulator.calls()["DescribeNatGateways"] == {"Throttling": 1}


# ---- Admin endpoints ----

def test_faults_are_validated_and_readable(emulator):
    with pytest.raises(urllib.error.HTTPError) as info:
        emulator.set_faults({"default": rule(throttling=1.5), "actions": {}})
    assert info.value.code == 400
    config = {"default": rule(latencyMs=5), "actions": {"DescribeNatGateways": rule(throttling=0.25)}}
    emulator.set_faults(config)
    assert emulator.admin("GET", "faults") == config


def test_calls_count_outcomes_by_action(ali, ucloud, emulator, fx):
    ali.expect("InvalidAction.NotFound", "DescribeNothing")
    ali.expect("InvalidAction.NotFound", "DescribeNothing")
    ali.expect("InvalidRegionId.NotFound", "DescribeNatGateways", RegionId="cn-nowhere")
    client = ucloud()
    ucloud_create(client, fx)
    client.invoke("DescribeBandwidthPackage", {})
    with pytest.raises(RetCodeException):
        client.invoke("DeleteBandwidthPackage", {"BandwidthPackageId": "bwpack-none"})
    calls = emulator.calls()
    assert calls["DescribeNothing"] == {"InvalidAction.NotFound": 2}
    assert calls["DescribeNatGateways"] == {"InvalidRegionId.NotFound": 1}
    assert calls["CreateBandwidthPackage"] == {"success": 1}
    assert calls["DescribeBandwidthPackage"] == {"success": 1}
    assert calls["DeleteBandwidthPackage"] == {"261": 1}
    emulator.reset()
    assert emulator.calls() == {}


def test_state_shows_the_fixture(emulator, fx):
    state = emulator.state()
    assert "clockMs" in state
    world = state["world"]
    # Three keys, two accounts: the world holds each account once.
    account_ids = {str(a["accountId"]) for a in fx.alibaba_accounts}
    assert len(fx.alibaba_accounts) == 3 and len(account_ids) == 2
    assert set(world["alibaba"]) == account_ids
    for account_id in account_ids:
        for region in ("cn-hangzhou", "cn-beijing"):
            eips = world["alibaba"][account_id]["regions"][region]["eips"]
            assert sorted(eips) == sorted(e["allocationId"] for e in fx.eips(region))
            assert all(r["wire"]["Status"] == "Available" for r in eips.values())
    assert set(world["ucloud"]) == {str(a["userId"]) for a in fx.ucloud_accounts}
    assert len(world["ucloud"]) == 2


def test_reset_returns_to_the_fixture(ucloud, emulator, fx):
    ucloud_create(ucloud(), fx)
    assert ucloud().invoke("DescribeBandwidthPackage", {})["TotalCount"] == 1
    emulator.reset()
    assert ucloud().invoke("DescribeBandwidthPackage", {})["TotalCount"] == 0


def test_clock_advance(emulator):
    before = emulator.clock()["nowMs"]
    answer = emulator.advance(3600)
    assert answer["nowMs"] - before >= 3_600_000
    assert emulator.clock()["nowMs"] >= answer["nowMs"]


def test_clock_speed(emulator):
    try:
        emulator.set_speed(1000)
        before = emulator.clock()["nowMs"]
        time.sleep(0.1)
        assert emulator.clock()["nowMs"] - before >= 50_000
        assert emulator.clock()["speed"] == 1000
    finally:
        emulator.set_speed(1e-9)


def test_clock_requests_are_validated(emulator):
    for body in ({"advanceSeconds": 1, "speed": 2}, {}, {"advanceSeconds": -5}, {"speed": 0}):
        with pytest.raises(urllib.error.HTTPError) as info:
            emulator.admin("POST", "clock", body)
        assert info.value.code == 400, body


def test_advance_completes_due_transitions_in_state(ali, emulator, fx):
    gateway = ali.gateway(ready=False)
    record = emulator.alibaba_state(ali.account_id)["natGateways"][gateway["NatGatewayId"]]
    assert record["wire"]["Status"] == "Creating"
    emulator.advance(DURATIONS["creating"] + 1)
    record = emulator.alibaba_state(ali.account_id)["natGateways"][gateway["NatGatewayId"]]
    assert record["wire"]["Status"] == "Available"
