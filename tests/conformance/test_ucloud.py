"""UCloud UNet bandwidth packages (seed 004, cloud-api.md §4) through the
official `ucloud-sdk-python3` client, plus raw form posts for what the SDK
cannot send."""

import hashlib
import json
import urllib.parse

import pytest
from ucloud.core.exc import RetCodeException

from natop_support import assert_id, ucloud_signature

MISSING_SIGNATURE = 170
SIGNATURE_ERROR = 171
USER_NOT_EXIST = 172
PARAMS_ERROR = 230
EIP_NOT_FOUND = 260
PACKAGE_NOT_FOUND = 261
EIP_PAY_MODE = 262


def ret_code(client, action, args=None):
    with pytest.raises(RetCodeException) as info:
        client.invoke(action, args or {})
    return info.value.code, info.value.message


def eip(fx, region="cn-bj2", index=0):
    return fx.ucloud_region(region)["eips"][index]


def shared_eip(fx, region="cn-bj2"):
    eips = fx.ucloud_region(region)["eips"]
    assert eips[-1]["payMode"] == "ShareBandwidth"
    return eips[-1]


def describe(client, **args):
    return client.invoke("DescribeBandwidthPackage", args)


def test_public_signature_vector():
    params = {
        "Action": "DescribeUHostInstance",
        "Region": "cn-bj2",
        "Limit": "10",
        "PublicKey": "ucloudsomeone@example.com1296235120854146120",
    }
    assert (
        ucloud_signature(params, "46f09bb9fab4f12dfc160dae12273d5332b5debe")
        == "cba5cf5ec4d4233d206b1b54951e3787350a642f"
    )


def test_create_describe_delete(ucloud, fx, emulator):
    client = ucloud()
    target = eip(fx)
    now = emulator.now_s()
    created = client.invoke(
        "CreateBandwidthPackage", {"EIPId": target["eipId"], "Bandwidth": 20, "TimeRange": 2}
    )
    assert created["RetCode"] == 0
    assert created["Action"] == "CreateBandwidthPackageResponse"
    package_id = created["BandwidthPackageId"]
    assert_id(package_id, "bwpack")

    listed = describe(client)
    assert listed["Action"] == "DescribeBandwidthPackageResponse"
    assert listed["TotalCount"] == 1
    [item] = listed["DataSets"]
    assert item["BandwidthPackageId"] == package_id
    assert item["EIPId"] == target["eipId"]
    assert item["Bandwidth"] == 20
    assert abs(item["EnableTime"] - now) <= 2
    assert item["DisableTime"] == item["EnableTime"] + 2 * 3600
    assert abs(item["CreateTime"] - now) <= 2
    assert item["EIPAddr"][0]["IP"] == target["ip"]
    assert item["EIPAddr"][0]["OperatorName"]

    deleted = client.invoke("DeleteBandwidthPackage", {"BandwidthPackageId": package_id})
    assert deleted["RetCode"] == 0
    assert describe(client)["TotalCount"] == 0
    assert describe(client)["DataSets"] == []


def test_explicit_enable_time_in_the_future(ucloud, fx, emulator):
    client = ucloud()
    start = emulator.now_s() + 3600
    client.invoke(
        "CreateBandwidthPackage",
        {"EIPId": eip(fx)["eipId"], "Bandwidth": 2, "TimeRange": 3, "EnableTime": start},
    )
    [item] = describe(client)["DataSets"]
    assert item["EnableTime"] == start
    assert item["DisableTime"] == start + 3 * 3600


def test_enable_time_in_the_past_is_refused(ucloud, fx, emulator):
    client = ucloud()
    code, _ = ret_code(client, "CreateBandwidthPackage", {
        "EIPId": eip(fx)["eipId"], "Bandwidth": 2, "TimeRange": 1,
        "EnableTime": emulator.now_s() - 3600,
    })
    assert code == PARAMS_ERROR


def test_package_disappears_after_disable_time(ucloud, fx, advance):
    client = ucloud()
    client.invoke("CreateBandwidthPackage", {"EIPId": eip(fx)["eipId"], "Bandwidth": 5, "TimeRange": 1})
    client.invoke("CreateBandwidthPackage", {"EIPId": eip(fx, index=1)["eipId"], "Bandwidth": 5, "TimeRange": 3})
    advance(3600 - 30)
    assert describe(client)["TotalCount"] == 2
    advance(60)
    listed = describe(client)
    assert listed["TotalCount"] == 1
    assert listed["DataSets"][0]["EIPId"] == eip(fx, index=1)["eipId"]
    advance(2 * 3600)
    assert describe(client)["TotalCount"] == 0


def test_expired_package_cannot_be_deleted(ucloud, fx, advance):
    client = ucloud()
    package_id = client.invoke(
        "CreateBandwidthPackage", {"EIPId": eip(fx)["eipId"], "Bandwidth": 5, "TimeRange": 1}
    )["BandwidthPackageId"]
    advance(3601)
    code, _ = ret_code(client, "DeleteBandwidthPackage", {"BandwidthPackageId": package_id})
    assert code == PACKAGE_NOT_FOUND


@pytest.mark.parametrize("bandwidth", [2, 800])
def test_bandwidth_bounds_accepted(ucloud, fx, bandwidth):
    client = ucloud()
    client.invoke(
        "CreateBandwidthPackage", {"EIPId": eip(fx)["eipId"], "Bandwidth": bandwidth, "TimeRange": 1}
    )
    assert describe(client)["DataSets"][0]["Bandwidth"] == bandwidth


@pytest.mark.parametrize("bandwidth", [0, 1, 801, 5000])
def test_bandwidth_out_of_range(ucloud, fx, bandwidth):
    code, message = ret_code(ucloud(), "CreateBandwidthPackage", {
        "EIPId": eip(fx)["eipId"], "Bandwidth": bandwidth, "TimeRange": 1,
    })
    assert code == PARAMS_ERROR, message


@pytest.mark.parametrize("missing", ["Bandwidth", "EIPId", "TimeRange"])
def test_required_parameters(ucloud, fx, missing):
    args = {"EIPId": eip(fx)["eipId"], "Bandwidth": 10, "TimeRange": 1}
    del args[missing]
    code, message = ret_code(ucloud(), "CreateBandwidthPackage", args)
    assert code == PARAMS_ERROR
    assert missing in message


def test_time_range_must_be_positive(ucloud, fx):
    code, _ = ret_code(ucloud(), "CreateBandwidthPackage", {
        "EIPId": eip(fx)["eipId"], "Bandwidth": 10, "TimeRange": 0,
    })
    assert code == PARAMS_ERROR


def test_unknown_eip(ucloud):
    code, _ = ret_code(ucloud(), "CreateBandwidthPackage", {
        "EIPId": "eip-nosuch", "Bandwidth": 10, "TimeRange": 1,
    })
    assert code == EIP_NOT_FOUND


def test_eip_of_another_region_is_not_found(ucloud, fx):
    code, _ = ret_code(ucloud("cn-sh2"), "CreateBandwidthPackage", {
        "EIPId": eip(fx, "cn-bj2")["eipId"], "Bandwidth": 10, "TimeRange": 1,
    })
    assert code == EIP_NOT_FOUND


def test_shared_bandwidth_eip_is_refused(ucloud, fx):
    for region in ("cn-bj2", "cn-sh2"):
        code, _ = ret_code(ucloud(region), "CreateBandwidthPackage", {
            "EIPId": shared_eip(fx, region)["eipId"], "Bandwidth": 10, "TimeRange": 1,
        })
        assert code == EIP_PAY_MODE


def test_delete_unknown_and_twice(ucloud, fx):
    client = ucloud()
    code, _ = ret_code(client, "DeleteBandwidthPackage", {"BandwidthPackageId": "bwpack-nosuch"})
    assert code == PACKAGE_NOT_FOUND
    package_id = client.invoke(
        "CreateBandwidthPackage", {"EIPId": eip(fx)["eipId"], "Bandwidth": 10, "TimeRange": 1}
    )["BandwidthPackageId"]
    client.invoke("DeleteBandwidthPackage", {"BandwidthPackageId": package_id})
    code, _ = ret_code(client, "DeleteBandwidthPackage", {"BandwidthPackageId": package_id})
    assert code == PACKAGE_NOT_FOUND


def test_delete_requires_the_id(ucloud):
    code, _ = ret_code(ucloud(), "DeleteBandwidthPackage", {})
    assert code == PARAMS_ERROR


def test_no_idempotency_a_repeated_create_makes_a_second_package(ucloud, fx):
    client = ucloud()
    args = {"EIPId": eip(fx)["eipId"], "Bandwidth": 10, "TimeRange": 1}
    first = client.invoke("CreateBandwidthPackage", dict(args))["BandwidthPackageId"]
    second = client.invoke("CreateBandwidthPackage", dict(args))["BandwidthPackageId"]
    assert first != second
    assert describe(client)["TotalCount"] == 2


def test_limit_and_offset(ucloud, fx, advance):
    client = ucloud()
    ids = []
    for i in range(5):
        ids.append(client.invoke(
            "CreateBandwidthPackage", {"EIPId": eip(fx, index=i)["eipId"], "Bandwidth": 10, "TimeRange": 5}
        )["BandwidthPackageId"])
        advance(1)  # distinct CreateTime, so the order is the creation order
    pages = [describe(client, Limit=2, Offset=offset) for offset in (0, 2, 4, 6)]
    assert [p["TotalCount"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["DataSets"]) for p in pages] == [2, 2, 1, 0]
    seen = [d["BandwidthPackageId"] for p in pages for d in p["DataSets"]]
    assert seen == ids


def test_default_limit_is_20(ucloud, fx):
    client = ucloud()
    for i in range(22):
        client.invoke("CreateBandwidthPackage", {
            "EIPId": eip(fx, index=i % 11)["eipId"], "Bandwidth": 10, "TimeRange": 1,
        })
    listed = describe(client)
    assert listed["TotalCount"] == 22
    assert len(listed["DataSets"]) == 20
    assert len(describe(client, Offset=20)["DataSets"]) == 2


def test_regions_are_separate(ucloud, fx):
    ucloud("cn-bj2").invoke(
        "CreateBandwidthPackage", {"EIPId": eip(fx, "cn-bj2")["eipId"], "Bandwidth": 10, "TimeRange": 1}
    )
    assert describe(ucloud("cn-sh2"))["TotalCount"] == 0
    assert describe(ucloud("cn-bj2"))["TotalCount"] == 1


def test_unknown_or_missing_region(ucloud):
    code, _ = ret_code(ucloud("cn-nowhere"), "DescribeBandwidthPackage")
    assert code == PARAMS_ERROR
    code, message = ret_code(ucloud(region=None), "DescribeBandwidthPackage")
    assert code == PARAMS_ERROR
    assert "Region" in message


def test_accounts_see_only_their_own_packages(ucloud, fx):
    mine = ucloud(account=0)
    theirs = ucloud(account=1)
    package_id = mine.invoke(
        "CreateBandwidthPackage", {"EIPId": eip(fx)["eipId"], "Bandwidth": 10, "TimeRange": 1}
    )["BandwidthPackageId"]
    assert describe(theirs)["TotalCount"] == 0
    code, _ = ret_code(theirs, "DeleteBandwidthPackage", {"BandwidthPackageId": package_id})
    assert code == PACKAGE_NOT_FOUND
    assert describe(mine)["TotalCount"] == 1


def test_unknown_public_key(ucloud):
    code, _ = ret_code(ucloud(public_key="nobody@example.com"), "DescribeBandwidthPackage")
    assert code == USER_NOT_EXIST


def test_wrong_private_key(ucloud):
    code, _ = ret_code(ucloud(private_key="not-the-private-key"), "DescribeBandwidthPackage")
    assert code == SIGNATURE_ERROR


def test_unknown_action(ucloud):
    code, _ = ret_code(ucloud(), "DescribeUHostInstance")
    assert code == 161


def _signed(fx, params, account=0):
    keys = fx.ucloud_accounts[account]
    params = {**params, "PublicKey": keys["publicKey"]}
    params["Signature"] = ucloud_signature(params, keys["privateKey"])
    return params


def test_missing_signature_raw_post(raw, fx):
    body = raw.ucloud_post({
        "Action": "DescribeBandwidthPackage", "Region": "cn-bj2",
        "PublicKey": fx.ucloud_accounts[0]["publicKey"],
    })
    assert body["RetCode"] == MISSING_SIGNATURE, body
    assert body["Action"] == "DescribeBandwidthPackageResponse"
    assert body["Message"]


def test_empty_signature_raw_post(raw, fx):
    body = raw.ucloud_post({
        "Action": "DescribeBandwidthPackage", "Region": "cn-bj2",
        "PublicKey": fx.ucloud_accounts[0]["publicKey"], "Signature": "",
    })
    assert body["RetCode"] == MISSING_SIGNATURE, body


def test_missing_action_raw_post(raw, fx):
    body = raw.ucloud_post(_signed(fx, {"Region": "cn-bj2"}))
    assert body["RetCode"] == 160, body


def test_raw_form_post_json_body_and_get_are_accepted(raw, fx, emulator):
    params = _signed(fx, {"Action": "DescribeBandwidthPackage", "Region": "cn-bj2", "Limit": "5"})
    assert raw.ucloud_post(params)["RetCode"] == 0
    answer = raw.send(
        emulator.base_url, method="POST", data=json.dumps(params).encode(),
        headers={"content-type": "application/json"},
    )
    assert answer.status == 200 and answer.body["RetCode"] == 0, answer
    answer = raw.send(emulator.base_url + "?" + urllib.parse.urlencode(params))
    assert answer.status == 200 and answer.body["RetCode"] == 0, answer


def test_tampered_raw_post_is_a_signature_error(raw, fx):
    params = _signed(fx, {"Action": "DescribeBandwidthPackage", "Region": "cn-bj2", "Limit": "5"})
    params["Limit"] = "6"
    assert raw.ucloud_post(params)["RetCode"] == SIGNATURE_ERROR


def test_sdk_signature_is_the_documented_algorithm(fx):
    # The SDK's own signer agrees with cloud-api.md §4 (and so with our helper).
    from ucloud.core.auth import Credential

    keys = fx.ucloud_accounts[0]
    params = {"Action": "DescribeBandwidthPackage", "Region": "cn-bj2", "Limit": "5"}
    sdk = Credential(keys["publicKey"], keys["privateKey"]).verify_ac(dict(params))
    assert sdk == ucloud_signature({**params, "PublicKey": keys["publicKey"]}, keys["privateKey"])
    text = "".join(f"{k}{v}" for k, v in sorted({**params, "PublicKey": keys["publicKey"]}.items()))
    assert sdk == hashlib.sha1((text + keys["privateKey"]).encode()).hexdigest()


def test_retcode_errors_do_not_change_state(ucloud, fx, emulator):
    client = ucloud()
    ret_code(client, "CreateBandwidthPackage", {"EIPId": eip(fx)["eipId"], "Bandwidth": 1, "TimeRange": 1})
    ret_code(client, "CreateBandwidthPackage", {"EIPId": shared_eip(fx)["eipId"], "Bandwidth": 10, "TimeRange": 1})
    assert describe(client)["TotalCount"] == 0
    regions = emulator.state()["world"]["ucloud"][fx.ucloud_user(0)]["regions"]
    assert all(not r["bandwidthPackages"] for r in regions.values())
