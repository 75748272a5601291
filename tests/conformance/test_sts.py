"""STS, RAM and the instance metadata service through the official SDKs
(aliyun-python-sdk-sts AssumeRoleRequest and AssumeRoleWithOIDCRequest, the
core SDK's StsTokenCredential for VPC calls) against an emulator started from
a fixture with RAM policies, roles, an OIDC provider and an instance role.

The OIDC provider's key pair is made here (python `cryptography`); the tests
sign their own RS256 tokens with it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from email.utils import parsedate_to_datetime

import pytest
import yaml
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest
from aliyunsdksts.request.v20150401.AssumeRoleWithOIDCRequest import AssumeRoleWithOIDCRequest
from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from natop_support import (
    API_VERSION,
    FROZEN_SPEED,
    STARTUP_TIMEOUT_S,
    Emulator,
    iso_utc,
    percent_encode,
    read_listen_line,
    rpc_signature,
)

ACCOUNT_1 = "1380000000000001"
ACCOUNT_2 = "1380000000000002"
DEPLOY_ROLE = f"acs:ram::{ACCOUNT_2}:role/natop-deploy"
EXTERNAL_ROLE = f"acs:ram::{ACCOUNT_2}:role/natop-external"
RRSA_ROLE = f"acs:ram::{ACCOUNT_1}:role/natop-rrsa"
PROVIDER_ARN = f"acs:ram::{ACCOUNT_1}:oidc-provider/cluster"
ISSUER = "https://oidc.natop.test/cluster"
KID = "natop-conformance"
SUBJECT = "system:serviceaccount:natop:natop"

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks() -> dict:
    numbers = KEY.public_key().public_numbers()

    def whole(i: int) -> str:
        return b64url(i.to_bytes((i.bit_length() + 7) // 8, "big"))

    return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
                      "n": whole(numbers.n), "e": whole(numbers.e)}]}


def jwt(claims: dict, kid: str = KID) -> str:
    """An RS256 JWT signed with the provider's key."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = KEY.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64url(signature)}"


def ram_fixture(default: dict) -> dict:
    """The default fixture plus RAM: key 2 (account 1) may describe and assume
    roles only; account 2's deploy role trusts account 1 and may not create
    NAT gateways; a role wanting an external id; an RRSA role of account 1,
    also the instance's role."""
    fixture = json.loads(json.dumps(default))
    ali = fixture["alibaba"]
    for account in ali["accounts"]:
        account["accountId"] = str(account["accountId"])
    ali["accounts"][2]["policies"] = ["describe-and-assume"]
    ali["policies"] = [
        {"name": "describe-and-assume", "document": {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": ["vpc:Describe*", "sts:AssumeRole"], "Resource": "*"}]}},
        {"name": "no-new-gateways", "document": {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "vpc:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "vpc:CreateNatGateway", "Resource": "*"}]}},
    ]
    ali["roles"] = [
        {"roleArn": DEPLOY_ROLE, "maxSessionDuration": 7200, "policies": ["no-new-gateways"],
         "trust": {"accounts": [ACCOUNT_1]}},
        {"roleArn": EXTERNAL_ROLE, "trust": {"accounts": [ACCOUNT_1], "externalId": "ext-42"}},
        {"roleArn": RRSA_ROLE, "trust": {"oidc": {
            "providerArn": PROVIDER_ARN, "audiences": ["sts.aliyuncs.com"],
            "subjects": ["system:serviceaccount:natop:*"]}}},
    ]
    ali["oidcProviders"] = [{"arn": PROVIDER_ARN, "issuerUrl": ISSUER,
                             "clientIds": ["sts.aliyuncs.com"], "jwks": jwks()}]
    ali["instanceRole"] = RRSA_ROLE
    return fixture


@pytest.fixture(scope="module")
def ram_emu(natop_bin, fx, request) -> Emulator:
    """A second emulator, started from the RAM fixture, clock frozen."""
    directory = tempfile.mkdtemp(prefix="natop-sts-")
    path = os.path.join(directory, "fixture.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(ram_fixture(fx.raw), f)
    log = open(os.path.join(directory, "emulator.log"), "w")
    process = subprocess.Popen(
        [natop_bin, "emulator", "--listen", "127.0.0.1:0", "--seed", "11",
         "--fixture", path, "--speed", str(FROZEN_SPEED)],
        stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        line = read_listen_line(process, STARTUP_TIMEOUT_S)
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+)/)", line)
        assert match, line
        yield Emulator(match.group(1), int(match.group(2)), log.name, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(autouse=True)
def fresh_ram(ram_emu):
    ram_emu.reset()
    ram_emu.set_speed(FROZEN_SPEED)
    yield


def client(fx, index: int = 0) -> AcsClient:
    account = fx.alibaba_accounts[index]
    return AcsClient(account["accessKeyId"], account["accessKeySecret"], "cn-hangzhou",
                     auto_retry=False, max_retry_time=0, timeout=15, connect_timeout=5)


def sts_client(credentials: dict) -> AcsClient:
    credential = StsTokenCredential(
        credentials["AccessKeyId"], credentials["AccessKeySecret"], credentials["SecurityToken"]
    )
    return AcsClient(region_id="cn-hangzhou", credential=credential, auto_retry=False,
                     max_retry_time=0, timeout=15, connect_timeout=5)


def at(emu: Emulator, request):
    request.set_endpoint(f"127.0.0.1:{emu.port}")
    request.set_protocol_type("http")
    return request


def do(emu: Emulator, acs: AcsClient, request) -> dict:
    return json.loads(acs.do_action_with_exception(at(emu, request)))


def error(emu: Emulator, acs: AcsClient, request) -> tuple[int, str, str]:
    with pytest.raises(ServerException) as info:
        acs.do_action_with_exception(at(emu, request))
    e = info.value
    return e.get_http_status(), e.get_error_code(), e.get_error_msg()


def assume_role(role_arn: str, session: str = "natop", **extra) -> AssumeRoleRequest:
    request = AssumeRoleRequest()
    request.set_RoleArn(role_arn)
    request.set_RoleSessionName(session)
    for name, value in extra.items():
        getattr(request, f"set_{name}")(value)
    return request


def vpc(emu: Emulator, action: str, **params) -> CommonRequest:
    request = CommonRequest(domain=f"127.0.0.1:{emu.port}", version=API_VERSION,
                            action_name=action)
    request.set_protocol_type("http")
    request.set_method("POST")
    request.set_accept_format("json")
    request.add_query_param("RegionId", "cn-hangzhou")
    for name, value in params.items():
        request.add_query_param(name, value)
    return request


def oidc_request(token: str, role_arn: str = RRSA_ROLE, **extra) -> AssumeRoleWithOIDCRequest:
    request = AssumeRoleWithOIDCRequest()
    request.set_OIDCProviderArn(extra.pop("provider", PROVIDER_ARN))
    request.set_RoleArn(role_arn)
    request.set_RoleSessionName("rrsa")
    request.set_OIDCToken(token)
    return request


def claims(emu: Emulator, aud="sts.aliyuncs.com", sub=SUBJECT, ttl=600) -> dict:
    now = emu.now_s()
    return {"iss": ISSUER, "sub": sub, "aud": aud, "iat": now, "exp": now + ttl}


def gateways(emu: Emulator, acs: AcsClient) -> list[dict]:
    answer = do(emu, acs, vpc(emu, "DescribeNatGateways"))
    return (answer.get("NatGateways") or {}).get("NatGateway", [])


# ---- AssumeRole ----

def test_assume_role_credentials_work_with_the_vpc_sdk_in_the_roles_account(ram_emu, fx):
    made = do(ram_emu, client(fx, 1), vpc(
        ram_emu, "CreateNatGateway", VpcId=fx.vpc()["vpcId"],
        VSwitchId=fx.vswitch()["vSwitchId"], NatType="Enhanced"))
    answer = do(ram_emu, client(fx, 0), assume_role(DEPLOY_ROLE, DurationSeconds=1800))
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("STS.")
    assert credentials["SecurityToken"].startswith("CAIS")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", credentials["Expiration"])
    assert credentials["Expiration"] == iso_utc(ram_emu.now_s() + 1800)
    assert answer["AssumedRoleUser"]["Arn"] == f"acs:ram::{ACCOUNT_2}:assumed-role/natop-deploy/natop"

    role = sts_client(credentials)
    listed = gateways(ram_emu, role)
    assert [g["NatGatewayId"] for g in listed] == [made["NatGatewayId"]], "the role account's"
    who = do(ram_emu, role, GetCallerIdentityRequest())
    assert who["IdentityType"] == "AssumedRoleUser"
    assert who["AccountId"] == ACCOUNT_2
    assert who["Arn"] == answer["AssumedRoleUser"]["Arn"]
    assert who["PrincipalId"] == answer["AssumedRoleUser"]["AssumedRoleId"]
    # The role's policy denies CreateNatGateway.
    status, code, _ = error(ram_emu, role, vpc(ram_emu, "CreateNatGateway", VpcId=fx.vpc()["vpcId"]))
    assert (status, code) == (403, "Forbidden.RAM")


def test_sts_credentials_expire_on_the_emulators_clock(ram_emu, fx):
    answer = do(ram_emu, client(fx, 0), assume_role(DEPLOY_ROLE, DurationSeconds=900))
    role = sts_client(answer["Credentials"])
    ram_emu.advance(899)
    assert gateways(ram_emu, role) == []
    ram_emu.advance(2)
    status, code, message = error(ram_emu, role, vpc(ram_emu, "DescribeNatGateways"))
    assert (status, code) == (400, "InvalidSecurityToken.Expired")
    assert message == "Specified SecurityToken is expired."
    assert answer["Credentials"]["SecurityToken"] not in json.dumps(ram_emu.log())


@pytest.mark.parametrize("index, role, extra, status, code", [
    (0, f"acs:ram::{ACCOUNT_2}:role/none", {}, 404, "EntityNotExist.Role"),
    (1, DEPLOY_ROLE, {}, 403, "NoPermission"),
    (0, EXTERNAL_ROLE, {}, 403, "NoPermission"),
    (0, EXTERNAL_ROLE, {"ExternalId": "ext-41"}, 403, "NoPermission"),
    (0, DEPLOY_ROLE, {"DurationSeconds": 7201}, 400, "InvalidParameter.DurationSeconds"),
    (0, DEPLOY_ROLE, {"DurationSeconds": 600}, 400, "InvalidParameter.DurationSeconds"),
    (0, DEPLOY_ROLE, {"Policy": "{not json"}, 400, "InvalidParameter.PolicyGrammar"),
])
def test_assume_role_refusals(ram_emu, fx, index, role, extra, status, code):
    got = error(ram_emu, client(fx, index), assume_role(role, **extra))
    assert got[:2] == (status, code), got
    if code == "EntityNotExist.Role":
        assert got[2] == f"The role not exists: {role}."


def test_assume_role_session_name_and_external_id(ram_emu, fx):
    got = error(ram_emu, client(fx, 0), assume_role(DEPLOY_ROLE, session="x"))
    assert got[:2] == (400, "InvalidParameter.RoleSessionName")
    ok = do(ram_emu, client(fx, 0), assume_role(EXTERNAL_ROLE, ExternalId="ext-42"))
    assert ok["Credentials"]["AccessKeyId"].startswith("STS.")


# ---- RAM on VPC calls ----

def signed_raw(emu: Emulator, key: dict, action: str, **params) -> tuple[int, dict]:
    """A hand-signed POST (query parameters), to read the whole error body."""
    query = {"Action": action, "Version": API_VERSION, "Format": "JSON",
             "AccessKeyId": key["accessKeyId"], "SignatureMethod": "HMAC-SHA1",
             "SignatureVersion": "1.0", "SignatureNonce": uuid.uuid4().hex,
             "Timestamp": iso_utc(__import__("time").time()), "RegionId": "cn-hangzhou", **params}
    query["Signature"] = rpc_signature("POST", query, key["accessKeySecret"])
    url = emu.base_url + "?" + "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                                        for k, v in query.items())
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=15) as a:
            return a.status, json.loads(a.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_policy_without_create_nat_gateway_is_forbidden_ram(ram_emu, fx):
    limited = client(fx, 2)
    assert gateways(ram_emu, limited) == []
    status, code, message = error(
        ram_emu, limited, vpc(ram_emu, "CreateNatGateway", VpcId=fx.vpc()["vpcId"]))
    assert (status, code) == (403, "Forbidden.RAM")
    assert "not authorized" in message
    status, body = signed_raw(ram_emu, fx.alibaba_accounts[2], "CreateNatGateway",
                              VpcId=fx.vpc()["vpcId"])
    assert (status, body["Code"]) == (403, "Forbidden.RAM")
    detail = body["AccessDeniedDetail"]
    assert detail["AuthAction"] == "vpc:CreateNatGateway"
    assert detail["AuthPrincipalType"] == "SubUser"
    assert detail["PolicyType"] == "AccountLevelIdentityBasedPolicy"
    assert detail["NoPermissionType"] == "ImplicitDeny"
    assert detail["EncodedDiagnosticMessage"]
    assert ram_emu.calls()["CreateNatGateway"] == {"Forbidden.RAM": 2}
    assert ram_emu.alibaba_state(ACCOUNT_1)["natGateways"] == {}
    # The same key may assume a role (sts:AssumeRole is allowed).
    do(ram_emu, limited, assume_role(DEPLOY_ROLE))


# ---- AssumeRoleWithOIDC ----

def test_assume_role_with_oidc_through_the_sdk(ram_emu, fx):
    token = jwt(claims(ram_emu))
    answer = do(ram_emu, client(fx, 1), oidc_request(token))
    info = answer["OIDCTokenInfo"]
    assert (info["Subject"], info["Issuer"], info["ClientIds"]) == (SUBJECT, ISSUER, "sts.aliyuncs.com")
    assert answer["AssumedRoleUser"]["Arn"] == f"acs:ram::{ACCOUNT_1}:assumed-role/natop-rrsa/rrsa"
    who = do(ram_emu, sts_client(answer["Credentials"]), GetCallerIdentityRequest())
    assert (who["IdentityType"], who["AccountId"]) == ("AssumedRoleUser", ACCOUNT_1)
    assert token not in json.dumps(ram_emu.log())


def test_assume_role_with_oidc_unsigned_form_body(ram_emu):
    form = {"Action": "AssumeRoleWithOIDC", "Version": "2015-04-01", "Format": "JSON",
            "OIDCProviderArn": PROVIDER_ARN, "RoleArn": RRSA_ROLE, "RoleSessionName": "rrsa",
            "OIDCToken": jwt(claims(ram_emu)), "Timestamp": iso_utc(__import__("time").time())}
    request = urllib.request.Request(
        ram_emu.base_url, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"content-type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=15) as answer:
        body = json.loads(answer.read())
    assert body["Credentials"]["AccessKeyId"].startswith("STS.")


@pytest.mark.parametrize("case, code", [
    ("audience", "AuthenticationFail.OIDCToken.AudienceNotMatch"),
    ("expired", "AuthenticationFail.OIDCToken.Expired"),
    ("subject", "AuthenticationFail.NoPermission"),
    ("issuer", "AuthenticationFail.OIDCToken.IssuerNotMatch"),
    ("signature", "AuthenticationFail.OIDCToken.InvalidSignature"),
    ("garbage", "AuthenticationFail.OIDCToken.Invalid"),
    ("provider", "AuthenticationFail.NoPermission"),
])
def test_assume_role_with_oidc_refusals(ram_emu, fx, case, code):
    c = claims(ram_emu)
    provider = PROVIDER_ARN
    if case == "audience":
        c["aud"] = "someone-else"
    elif case == "subject":
        c["sub"] = "system:serviceaccount:kube-system:default"
    elif case == "issuer":
        c["iss"] = "https://elsewhere.test"
    elif case == "provider":
        provider = f"acs:ram::{ACCOUNT_1}:oidc-provider/unknown"
    token = jwt(c)
    if case == "expired":
        ram_emu.advance(601)
    elif case == "signature":
        head, payload, _ = token.split(".")
        forged = dict(c, sub="system:serviceaccount:natop:admin")
        token = f"{head}.{b64url(json.dumps(forged).encode())}.{token.split('.')[2]}"
    elif case == "garbage":
        token = "not-a-jwt"
    status, got, message = error(ram_emu, client(fx, 0), oidc_request(token, provider=provider))
    assert (status, got) == (401, code), message
    if case == "expired":
        assert message == "This JsonWebToken is expired."
    if case == "audience":
        assert message == "Invalid audience."


# ---- the instance metadata service and the Date header ----

def http(emu: Emulator, method: str, path: str, headers: dict | None = None):
    request = urllib.request.Request(emu.base_url + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, answer.read().decode(), answer.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def test_instance_metadata_credentials(ram_emu, fx):
    status, token, _ = http(ram_emu, "PUT", "latest/api/token",
                            {"X-aliyun-ecs-metadata-token-ttl-seconds": "300"})
    assert status == 200 and token
    auth = {"X-aliyun-ecs-metadata-token": token}
    base = "latest/meta-data/ram/security-credentials/"
    assert http(ram_emu, "GET", base, auth)[:2] == (200, "natop-rrsa")
    status, body, _ = http(ram_emu, "GET", base + "natop-rrsa", auth)
    assert status == 200
    credentials = json.loads(body)
    assert credentials["Code"] == "Success"
    assert credentials["Expiration"] == iso_utc(ram_emu.now_s() + 6 * 3600)
    assert credentials["LastUpdated"] == iso_utc(ram_emu.now_s())
    who = do(ram_emu, sts_client(credentials), GetCallerIdentityRequest())
    assert who["AccountId"] == ACCOUNT_1
    assert http(ram_emu, "GET", base + "another-role", auth)[0] == 404
    assert http(ram_emu, "GET", base, {"X-aliyun-ecs-metadata-token": "forged"})[0] == 401
    assert http(ram_emu, "PUT", "latest/api/token")[0] == 400
    ram_emu.advance(301)
    assert http(ram_emu, "GET", base, auth)[0] == 401
    assert http(ram_emu, "GET", base)[0] == 200, "without a token header: served"


def test_every_answer_is_dated_by_the_emulators_clock(ram_emu, fx):
    ram_emu.advance(3 * 86400)
    now = ram_emu.now_s()
    for status, _, headers in (
        http(ram_emu, "GET", "latest/meta-data/ram/security-credentials/"),
        http(ram_emu, "GET", "?Action=DescribeNatGateways"),
    ):
        assert status in (200, 400), status
        date = parsedate_to_datetime(headers["Date"]).timestamp()
        assert abs(date - now) <= 2, (headers["Date"], now)
