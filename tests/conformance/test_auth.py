"""Alibaba RPC authentication as the gateway does it (cloud-api.md §1–2):
signature version 1.0, nonce replay, timestamp window, access keys, missing
protocol parameters, unknown actions and regions."""

import time
import uuid

from natop_support import iso_utc, rpc_signature, rpc_string_to_sign

# An action the emulator does not serve: authentication is checked before the
# action, so reaching InvalidAction.NotFound proves the request was accepted.
UNSERVED = "DescribeNothingAtAll"


def test_signature_matches_the_public_test_vectors():
    base = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Version": "2014-05-26",
    }
    old = {**base, "TimeStamp": "2016-02-23T12:46:24Z"}
    new = {**base, "Timestamp": "2016-02-23T12:46:24Z"}
    assert rpc_signature("GET", old, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    assert rpc_signature("GET", new, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_sdk_signed_call_is_accepted(ali):
    status, code, message = ali.error_of(UNSERVED)
    assert (status, code) == (404, "InvalidAction.NotFound")
    assert UNSERVED in message


def test_sdk_signature_with_special_characters_and_many_list_items(ali):
    # Space, '*', '~', '/', non-ASCII and X.10 sorting before X.2.
    ali.expect(
        "InvalidAction.NotFound", UNSERVED, status=404,
        Name="网关 a*b~c/d+e=f&g", Description="x" * 300,
        Item=[f"v{i}" for i in range(1, 12)],
    )


def test_sdk_body_parameters_are_signed_too(ali):
    request = ali.request(UNSERVED)
    request.add_body_params("Description", "in the body: a*b c")
    try:
        ali.client.do_action_with_exception(request)
    except Exception as e:  # noqa: BLE001 - the SDK's ServerException
        assert e.get_error_code() == "InvalidAction.NotFound", e
    else:
        raise AssertionError("an unserved action succeeded")


def test_hand_signed_get_and_post_are_accepted(raw):
    for method in ("GET", "POST"):
        answer = raw.alibaba(UNSERVED, method=method)
        assert (answer.status, answer.code) == (404, "InvalidAction.NotFound"), answer
        assert answer.body["RequestId"]


def test_error_body_has_the_service_fields(raw):
    answer = raw.alibaba(UNSERVED)
    assert set(answer.body) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_replayed_nonce_is_refused(raw, emulator):
    params = raw.alibaba_params(UNSERVED, nonce=str(uuid.uuid4()))
    url = raw.signed_url(params)
    first = raw.send(url)
    assert first.code == "InvalidAction.NotFound", first
    second = raw.send(url)
    assert (second.status, second.code) == (400, "SignatureNonceUsed"), second
    assert emulator.calls()[UNSERVED] == {"InvalidAction.NotFound": 1, "SignatureNonceUsed": 1}


def test_sdk_uses_a_new_nonce_per_call(ali):
    for _ in range(3):
        ali.expect("InvalidAction.NotFound", UNSERVED)


def test_same_nonce_from_another_account_is_not_a_replay(raw, fx):
    nonce = str(uuid.uuid4())
    first = raw.alibaba(UNSERVED, nonce=nonce)
    assert first.code == "InvalidAction.NotFound", first
    other = fx.alibaba_accounts[1]
    second = raw.alibaba(
        UNSERVED, nonce=nonce, key_id=other["accessKeyId"], secret=other["accessKeySecret"]
    )
    assert second.code == "InvalidAction.NotFound", second


def test_stale_timestamp_is_refused(raw):
    answer = raw.alibaba(UNSERVED, timestamp=iso_utc(time.time() - 3600))
    assert (answer.status, answer.code) == (400, "InvalidTimeStamp.Expired"), answer


def test_future_timestamp_is_refused(raw):
    answer = raw.alibaba(UNSERVED, timestamp=iso_utc(time.time() + 3600))
    assert (answer.status, answer.code) == (400, "InvalidTimeStamp.Expired"), answer


def test_timestamp_inside_the_window_is_accepted(raw):
    answer = raw.alibaba(UNSERVED, timestamp=iso_utc(time.time() - 10 * 60))
    assert answer.code == "InvalidAction.NotFound", answer


def test_timestamp_window_uses_wall_time_not_the_emulator_clock(raw, advance):
    advance(6 * 3600)
    answer = raw.alibaba(UNSERVED)
    assert answer.code == "InvalidAction.NotFound", answer


def test_malformed_timestamp(raw):
    answer = raw.alibaba(UNSERVED, timestamp="yesterday")
    assert (answer.status, answer.code) == (400, "InvalidTimeStamp.Format"), answer


def test_wrong_secret_with_the_sdk(ali_factory):
    client = ali_factory(0, secret="not-the-secret")
    status, code, message = client.error_of(UNSERVED)
    assert (status, code) == (400, "SignatureDoesNotMatch")
    marker = "server string to sign is:"
    assert marker in message
    server_sts = message.split(marker, 1)[1]
    assert server_sts.startswith("POST&%2F&AccessKeyId%3D" + client.key_id)
    assert f"Action%3D{UNSERVED}" in server_sts


def test_server_string_to_sign_is_the_sdks_byte_for_byte(ali_factory):
    client = ali_factory(0, secret="not-the-secret")
    request = client.request(UNSERVED, Name="网关 a*b~c", Item=[f"v{i}" for i in range(1, 12)])
    try:
        client.client.do_action_with_exception(request)
    except Exception as e:  # noqa: BLE001 - the SDK's ServerException
        message = e.get_error_msg()
    else:
        raise AssertionError("a wrong secret was accepted")
    # CommonRequest signs through an inner RpcRequest, which keeps the SDK's
    # string to sign (the outer one stays empty, so the SDK does not rewrite
    # the code to InvalidAccessKeySecret).
    sdk_sts = request.request.string_to_sign
    assert sdk_sts and message.endswith("server string to sign is:" + sdk_sts)
    assert "SignatureType%3D%26" in sdk_sts  # the SDK signs an empty SignatureType


def test_wrong_secret_message_carries_exactly_our_string_to_sign(raw):
    params = raw.alibaba_params(UNSERVED, Name="a b*c~")
    answer = raw.send(raw.signed_url(params, secret="wrong-secret"))
    assert (answer.status, answer.code) == (400, "SignatureDoesNotMatch"), answer
    expected = rpc_string_to_sign("GET", params)
    assert answer.body["Message"].endswith("server string to sign is:" + expected)


def test_signature_of_another_method_does_not_match(raw):
    params = raw.alibaba_params(UNSERVED)
    url = raw.signed_url(params, method="GET")
    answer = raw.send(url, method="POST")
    assert (answer.status, answer.code) == (400, "SignatureDoesNotMatch"), answer
    assert "server string to sign is:POST&%2F&" in answer.body["Message"]


def test_tampered_parameter_does_not_match(raw):
    params = raw.alibaba_params(UNSERVED, Name="original")
    url = raw.signed_url(params).replace("Name=original", "Name=changed")
    answer = raw.send(url)
    assert answer.code == "SignatureDoesNotMatch", answer


def test_unknown_access_key(ali_factory, raw):
    client = ali_factory(0, key_id="LTAI5tNoSuchKey000000")
    assert client.error_of(UNSERVED)[:2] == (404, "InvalidAccessKeyId.NotFound")
    answer = raw.alibaba(UNSERVED, key_id="LTAI5tNoSuchKey000000")
    assert (answer.status, answer.code) == (404, "InvalidAccessKeyId.NotFound"), answer


def test_missing_protocol_parameters(raw):
    for name in ("AccessKeyId", "SignatureNonce", "Timestamp", "SignatureMethod", "Version"):
        params = raw.alibaba_params(UNSERVED, **{name: None})
        answer = raw.send(raw.signed_url(params))
        assert (answer.status, answer.code) == (400, f"Missing{name}"), (name, answer)
    unsigned = raw.alibaba_params(UNSERVED)
    query = "&".join(f"{k}={v}" for k, v in unsigned.items())
    answer = raw.send(f"{raw.emu.base_url}?{query}")
    assert (answer.status, answer.code) == (400, "MissingSignature"), answer


def test_missing_action(raw):
    params = raw.alibaba_params("", Action=None)
    answer = raw.send(raw.signed_url(params))
    assert (answer.status, answer.code) == (400, "MissingAction"), answer


def test_unsupported_signature_method(raw):
    params = raw.alibaba_params(UNSERVED, SignatureMethod="HMAC-SHA256")
    answer = raw.send(raw.signed_url(params))
    assert (answer.status, answer.code) == (400, "InvalidSignatureMethod"), answer


def test_unknown_version(raw):
    params = raw.alibaba_params(UNSERVED, Version="2014-05-26")
    answer = raw.send(raw.signed_url(params))
    assert (answer.status, answer.code) == (400, "InvalidVersion"), answer


def test_unknown_action(ali):
    status, code, _ = ali.error_of("CreateNothing")
    assert (status, code) == (404, "InvalidAction.NotFound")


def test_seed_spelling_of_the_zones_action_is_unknown(ali):
    ali.expect("InvalidAction.NotFound", "ListEnhancedNatGatewayAvailableZones", status=404)


def test_unknown_region(ali):
    for action in ("DescribeNatGateways", "DescribeEipAddresses", "CreateNatGateway"):
        ali.expect(
            "InvalidRegionId.NotFound", action, status=404,
            RegionId="cn-nowhere", VpcId="vpc-hz1natop0000000000",
        )


def test_missing_region_id(raw):
    # The SDK always adds the client's RegionId; only a hand-made request can omit it.
    answer = raw.alibaba("DescribeNatGateways", RegionId=None)
    assert (answer.status, answer.code) == (400, "MissingRegionId"), answer


def test_region_of_the_client_is_sent_by_the_sdk(ali_factory):
    beijing = ali_factory(0, region="cn-beijing")
    # Reaches the action (InvalidAction for an unserved one), so the region exists.
    beijing.expect("InvalidAction.NotFound", UNSERVED)
    nowhere = ali_factory(0, region="cn-nowhere")
    nowhere.expect("InvalidRegionId.NotFound", "DescribeNatGateways")
