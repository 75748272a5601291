"""Which account a key belongs to, through the official SDKs: Alibaba STS
GetCallerIdentity (aliyun-python-sdk-sts) and UCloud UAccount GetUserInfo
(ucloud-sdk-python3); the notFoundProxy fault as those SDKs see it; and the
call log (`GET /_emulator/log`) naming accounts, not keys."""

import json

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest
from ucloud.core.exc import HTTPStatusException

from natop_support import NOT_FOUND_PROXY_PAGE, STS_API_VERSION
from natop_support import fault_rule as rule


def caller_identity(emulator, account: dict) -> dict:
    """GetCallerIdentity with the official STS request class, at the emulator."""
    client = AcsClient(
        account["accessKeyId"], account["accessKeySecret"], "cn-hangzhou",
        auto_retry=False, max_retry_time=0, timeout=15, connect_timeout=5,
    )
    request = GetCallerIdentityRequest()
    request.set_endpoint(f"127.0.0.1:{emulator.port}")
    request.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(request))


# ---- Alibaba STS ----

def test_sts_sdk_names_the_fixture_account_of_every_key(emulator, fx):
    answers = [caller_identity(emulator, account) for account in fx.alibaba_accounts]
    assert len(answers) == 3
    for account, answer in zip(fx.alibaba_accounts, answers):
        assert answer["AccountId"] == str(account["accountId"]), answer
        assert answer["IdentityType"] == "RAMUser"
        assert answer["Arn"] == f"acs:ram::{answer['AccountId']}:user/natop"
        for field in ("RequestId", "UserId", "PrincipalId"):
            assert isinstance(answer[field], str) and answer[field], (field, answer)
    first, second, rotated = answers
    assert first["AccountId"] == rotated["AccountId"] == "1380000000000001"
    assert first["UserId"] == rotated["UserId"]
    assert second["AccountId"] == "1380000000000002"
    assert first["RequestId"] != rotated["RequestId"]


def test_sts_checks_the_signature_like_the_vpc_api(emulator, fx):
    account = dict(fx.alibaba_accounts[0], accessKeySecret="not-the-secret")
    with pytest.raises(ServerException) as info:
        caller_identity(emulator, account)
    assert info.value.get_http_status() == 400
    assert info.value.get_error_code() in ("SignatureDoesNotMatch", "InvalidAccessKeySecret")


def test_the_version_decides_the_product(ali):
    # An STS action with the VPC version, a VPC action with the STS version:
    # each product refuses an api it does not have.
    ali.expect("InvalidAction.NotFound", "GetCallerIdentity", status=404)
    request = ali.request("DescribeNatGateways")
    request.set_version(STS_API_VERSION)
    with pytest.raises(ServerException) as info:
        ali.client.do_action_with_exception(request)
    assert (info.value.get_http_status(), info.value.get_error_code()) == (404, "InvalidAction.NotFound")
    request = ali.request("DescribeNatGateways")
    request.set_version("2014-05-26")
    with pytest.raises(ServerException) as info:
        ali.client.do_action_with_exception(request)
    assert info.value.get_error_code() == "InvalidVersion"


def test_the_keys_of_one_account_share_its_gateways(ali, ali_factory, emulator):
    rotated = ali_factory(2)
    assert rotated.account_id == ali.account_id
    made = ali.gateway(ready=False)
    [listed] = rotated.call("DescribeNatGateways")["NatGateways"]["NatGateway"]
    assert listed["NatGatewayId"] == made["NatGatewayId"]
    assert list(emulator.alibaba_state(rotated.account_id)["natGateways"]) == [made["NatGatewayId"]]


# ---- UCloud UAccount ----

def test_ucloud_sdk_get_user_info_names_the_user_of_every_key_pair(ucloud, fx):
    users = []
    for index, keys in enumerate(fx.ucloud_accounts):
        answer = ucloud(account=index).uaccount().get_user_info()
        [user] = answer["DataSet"]
        assert user["UserId"] == keys["userId"], answer
        assert "@" in user["UserEmail"] and user["CompanyName"]
        users.append(user)
    assert [u["UserId"] for u in users] == [50000001, 50000002, 50000001]
    assert users[0] == users[2]


# ---- notFoundProxy ----

def test_not_found_proxy_is_a_bare_404_to_the_alibaba_sdk(ali, emulator, fx):
    emulator.set_faults({"default": rule(), "actions": {"CreateNatGateway": rule(notFoundProxy=1.0)}})
    with pytest.raises(ServerException) as info:
        ali.client.do_action_with_exception(
            ali.request("CreateNatGateway", VpcId=fx.vpc()["vpcId"])
        )
    error = info.value
    assert error.get_http_status() == 404
    # No service body: the SDK has no code of the service to report.
    assert error.get_error_code() == "SDK.UnknownServerError"
    assert error.get_request_id() is None
    assert NOT_FOUND_PROXY_PAGE in error.get_error_msg()
    assert not emulator.alibaba_state(ali.account_id)["natGateways"], "nothing was created"
    assert emulator.calls()["CreateNatGateway"] == {"notFoundProxy": 1}
    # The STS SDK sees the same page.
    emulator.set_faults({"default": rule(notFoundProxy=1.0), "actions": {}})
    with pytest.raises(ServerException) as info:
        caller_identity(emulator, fx.alibaba_accounts[0])
    assert (info.value.get_http_status(), info.value.get_error_code()) == (404, "SDK.UnknownServerError")


def test_not_found_proxy_fails_the_ucloud_sdk(ucloud, emulator, fx):
    emulator.set_faults({"default": rule(notFoundProxy=1.0), "actions": {}})
    client = ucloud()
    with pytest.raises(HTTPStatusException) as info:
        client.invoke("DeleteBandwidthPackage", {"BandwidthPackageId": "bwpack-x"})
    assert info.value.status_code == 404
    with pytest.raises(HTTPStatusException):
        client.uaccount().get_user_info()
    assert emulator.calls()["DeleteBandwidthPackage"] == {"notFoundProxy": 1}


# ---- the call log ----

def test_the_call_log_names_accounts_and_resource_ids(ali, ali_factory, ucloud, emulator, fx):
    start = emulator.log()
    mark = start[-1]["seq"] if start else 0
    made = ali_factory(2).gateway(ready=False, ClientToken="log-token")
    ali.expect("InvalidNatGatewayId.NotFound", "DeleteNatGateway", NatGatewayId="ngw-none")
    ucloud(account=2).uaccount().get_user_info()
    calls = emulator.log(mark)
    assert [c["action"] for c in calls] == ["CreateNatGateway", "DeleteNatGateway", "GetUserInfo"]
    create, delete, user = calls
    assert create["account"] == "1380000000000001" and create["outcome"] == "success"
    assert create["ids"] == {"VpcId": fx.vpc()["vpcId"]}
    assert delete["ids"] == {"NatGatewayId": "ngw-none"}
    assert delete["outcome"] == "InvalidNatGatewayId.NotFound"
    assert user["account"] == fx.ucloud_user(2) == fx.ucloud_user(0)
    assert [c["seq"] for c in calls] == sorted(c["seq"] for c in calls)
    assert all(c["seq"] > mark for c in calls)
    assert made["NatGatewayId"] not in json.dumps(calls[1:])
    emulator.reset()
    assert emulator.log() == []
