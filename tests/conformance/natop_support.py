"""Shared helpers of the natop emulator conformance suite: the emulator's admin
endpoints, the official Alibaba SDK wrapped for one account, hand-signed
requests, and the fixture as `natop emulator --print-default-fixture` prints it.
The pytest fixtures that build these live in conftest.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

API_VERSION = "2016-04-28"
STS_API_VERSION = "2015-04-01"

# What nginx answers a path it has no route for: the notFoundProxy fault.
NOT_FOUND_PROXY_PAGE = (
    "<html><head><title>404 Not Found</title></head>"
    "<body><h1>404 Not Found</h1></body></html>"
)

# Transition durations the emulator is started with (virtual seconds).
DURATIONS = {
    "creating": 60,
    "pending": 30,
    "deleting": 30,
    "modifying": 60,
    "converting": 120,
    "associating": 30,
}

# Id formats of what the emulator creates: prefix + lower-case alphanumerics.
ID_PATTERNS = {
    prefix: re.compile(rf"^{re.escape(prefix)}-[a-z0-9]+$")
    for prefix in ("ngw", "ftb", "stb", "fwd", "snat", "bwp", "eip", "ipv6bw", "bwpack", "nateip")
}

STARTUP_TIMEOUT_S = 30.0


def fault_rule(**rates) -> dict:
    """A complete fault rule (`PUT /_emulator/faults`): every rate 0 unless given."""
    base = {"throttling": 0.0, "serviceUnavailable": 0.0, "internalError": 0.0,
            "notFoundProxy": 0.0, "latencyMs": 0, "commitThenDrop": 0.0, "pageShift": 0.0,
            "listLagMs": 0}
    base.update(rates)
    return base


def assert_id(value: str, prefix: str) -> None:
    """`value` is `prefix-` followed by lower-case alphanumerics."""
    assert isinstance(value, str) and ID_PATTERNS[prefix].match(value), (
        f"{value!r} is not a {prefix}- id"
    )


# --------------------------------------------------------------------------
# The fixture as `natop emulator --print-default-fixture` prints it
# --------------------------------------------------------------------------


@dataclass
class FixtureData:
    """The default fixture, with accessors for the common lookups."""

    raw: dict

    @classmethod
    def from_yaml(cls, text: str) -> FixtureData:
        """The fixture from the YAML `--print-default-fixture` prints."""
        return cls(yaml.safe_load(text))

    @property
    def alibaba_accounts(self) -> list[dict]:
        return self.raw["alibaba"]["accounts"]

    @property
    def ucloud_accounts(self) -> list[dict]:
        return self.raw["ucloud"]["accounts"]

    def account_id_of(self, access_key_id: str) -> str | None:
        """The account an Alibaba access key belongs to (None: not in the fixture)."""
        for account in self.alibaba_accounts:
            if account["accessKeyId"] == access_key_id:
                return str(account["accountId"])
        return None

    def ucloud_user(self, index: int = 0) -> str:
        """The user id of a UCloud key pair, as the world's state keys it."""
        return str(self.ucloud_accounts[index]["userId"])

    def region(self, region_id: str = "cn-hangzhou") -> dict:
        return next(r for r in self.raw["alibaba"]["regions"] if r["regionId"] == region_id)

    def vpc(self, index: int = 0, region_id: str = "cn-hangzhou") -> dict:
        return self.region(region_id)["vpcs"][index]

    def vswitch(self, vpc: int = 0, index: int = 0, region_id: str = "cn-hangzhou") -> dict:
        return self.vpc(vpc, region_id)["vSwitches"][index]

    def eips(self, region_id: str = "cn-hangzhou") -> list[dict]:
        return self.region(region_id)["eips"]

    def ipv6_gateway(self, region_id: str = "cn-hangzhou") -> dict:
        return self.region(region_id)["ipv6Gateways"][0]

    def ucloud_region(self, region: str = "cn-bj2") -> dict:
        return next(r for r in self.raw["ucloud"]["regions"] if r["region"] == region)


# --------------------------------------------------------------------------
# The emulator process and its admin endpoints
# --------------------------------------------------------------------------


@dataclass
class Emulator:
    """A running emulator: its base URL and the admin endpoints."""

    base_url: str
    port: int
    log_path: str
    process: subprocess.Popen = field(repr=False)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}_emulator/{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
        return json.loads(text) if text else None

    def state(self) -> dict:
        return self.admin("GET", "state")

    def calls(self) -> dict:
        return self.admin("GET", "calls")

    def log(self, since: int = 0) -> list[dict]:
        """The call log after `since`, oldest first."""
        return self.admin("GET", f"log?since={since}")["calls"]

    def set_faults(self, config: dict) -> Any:
        return self.admin("PUT", "faults", config)

    def clear_faults(self) -> None:
        self.set_faults({"default": {}, "actions": {}})

    def advance(self, seconds: float) -> dict:
        return self.admin("POST", "clock", {"advanceSeconds": seconds})

    def set_speed(self, speed: float) -> dict:
        return self.admin("POST", "clock", {"speed": speed})

    def clock(self) -> dict:
        return self.admin("GET", "clock")

    def now_s(self) -> int:
        return int(self.clock()["nowMs"] // 1000)

    def reset(self) -> None:
        self.admin("POST", "reset", {})

    def alibaba_state(self, account_id: str, region_id: str = "cn-hangzhou") -> dict:
        """One account's resources in a region (the world is keyed by account
        id: every access key of an account shares them)."""
        return self.state()["world"]["alibaba"][account_id]["regions"][region_id]

    def ucloud_state(self, user_id: str, region: str = "cn-bj2") -> dict:
        """One UCloud user's resources in a region."""
        return self.state()["world"]["ucloud"][user_id]["regions"][region]


# A clock speed that keeps virtual time still during a test: asynchronous
# transitions complete only when a test advances the clock.
FROZEN_SPEED = 1e-9


def natop_bin_path() -> str:
    path = os.environ.get("NATOP_BIN")
    if not path:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = os.path.join(root, "target", "debug", "natop")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"natop binary not found at {path}; set NATOP_BIN or run run.sh")
    return path


def read_listen_line(process: subprocess.Popen, timeout: float) -> str:
    """The `listening on` line, or an error after `timeout` seconds."""
    found: list[str] = []

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if "listening on" in line:
                found.append(line)
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    if not found:
        raise RuntimeError(f"the emulator did not print its address within {timeout} s")
    return found[0]


# --------------------------------------------------------------------------
# Alibaba Cloud: the official SDK, and hand-signed requests
# --------------------------------------------------------------------------


def flatten(params: dict) -> dict[str, str]:
    """Flatten parameters the way the Alibaba RPC API expects them: lists
    1-based (`X.1`), structs in lists as `X.1.Key`, booleans `true`/`false`,
    `None` omitted."""
    out: dict[str, str] = {}

    def put(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value, start=1):
                put(f"{name}.{i}", item)
        elif isinstance(value, dict):
            for key, item in value.items():
                put(f"{name}.{key}", item)
        else:
            out[name] = str(value)

    for name, value in params.items():
        put(name, value)
    return out


class AlibabaCallFailed(AssertionError):
    pass


class Ali:
    """The official Alibaba SDK against the emulator, for one account."""

    def __init__(self, emu: Emulator, fx: FixtureData, key_id: str, secret: str,
                 region: str = "cn-hangzhou"):
        self.emu = emu
        self.fx = fx
        self.key_id = key_id
        self.account_id = fx.account_id_of(key_id)
        self.secret = secret
        self.region = region
        # auto_retry=False: the SDK's retry policy is off, so every error code
        # is seen exactly once and no ClientToken is added behind our back.
        self.client = AcsClient(
            key_id, secret, region, auto_retry=False, max_retry_time=0,
            timeout=15, connect_timeout=5,
        )

    def request(self, action: str, **params) -> CommonRequest:
        req = CommonRequest(
            domain=f"127.0.0.1:{self.emu.port}", version=API_VERSION, action_name=action
        )
        req.set_protocol_type("http")
        req.set_method("POST")
        req.set_accept_format("json")
        for name, value in flatten(params).items():
            req.add_query_param(name, value)
        return req

    def call(self, action: str, **params) -> dict:
        """Call `action`; the parsed JSON answer. A ServerException fails the test."""
        try:
            body = self.client.do_action_with_exception(self.request(action, **params))
        except ServerException as e:
            raise AlibabaCallFailed(
                f"{action} {params} failed: {e.get_http_status()} {e.get_error_code()}: "
                f"{e.get_error_msg()}"
            ) from None
        return json.loads(body)

    def error_of(self, action: str, **params) -> tuple[int, str, str]:
        """(http status, code, message) of the error `action` must answer."""
        try:
            body = self.client.do_action_with_exception(self.request(action, **params))
        except ServerException as e:
            return e.get_http_status(), e.get_error_code(), e.get_error_msg()
        raise AssertionError(f"{action} {params} succeeded but an error was expected: {body}")

    def code_of(self, action: str, **params) -> str:
        return self.error_of(action, **params)[1]

    def expect(self, code: str, action: str, status: int | None = None, **params) -> str:
        """Assert `action` fails with `code` (and `status` when given); returns the message."""
        got_status, got_code, message = self.error_of(action, **params)
        assert got_code == code, (
            f"{action} {params}: expected {code}, got {got_status} {got_code}: {message}"
        )
        if status is not None:
            assert got_status == status, (
                f"{action} {params}: expected HTTP {status} for {code}, got {got_status}"
            )
        return message

    # ---- scenario helpers ----

    def advance(self, seconds: float) -> None:
        self.emu.advance(seconds)

    def gateway(self, vpc: str | None = None, ready: bool = True, **params) -> dict:
        """Create a NAT gateway (default: first VPC of the region), wait until
        it is Available when `ready`; the create answer plus the table ids."""
        if vpc is None:
            vpc = self.fx.vpc(0, self.region)["vpcId"]
        answer = self.call("CreateNatGateway", VpcId=vpc, **params)
        answer["ForwardTableId"] = answer["ForwardTableIds"]["ForwardTableId"][0]
        answer["SnatTableId"] = answer["SnatTableIds"]["SnatTableId"][0]
        if ready:
            self.advance(DURATIONS["creating"] + 1)
        return answer

    def nat_gateway(self, gateway_id: str) -> dict | None:
        """The gateway as DescribeNatGateways shows it, or None."""
        answer = self.call("DescribeNatGateways", NatGatewayId=gateway_id)
        items = items_of(answer, "NatGateways", "NatGateway")
        return items[0] if items else None

    def bind_eip(self, gateway_id: str, eip: dict, settle: bool = True) -> str:
        """Associate the fixture EIP with the gateway; its IP."""
        self.call(
            "AssociateEipAddress", AllocationId=eip["allocationId"],
            InstanceId=gateway_id, InstanceType="Nat",
        )
        if settle:
            self.advance(DURATIONS["associating"] + 1)
        return eip["ipAddress"]

    def eip(self, allocation_id: str) -> dict:
        answer = self.call("DescribeEipAddresses", AllocationId=allocation_id)
        items = items_of(answer, "EipAddresses", "EipAddress")
        assert len(items) == 1, answer
        return items[0]

    def dnat(self, gw: dict, external_ip: str, external_port="80", internal_ip="172.16.1.10",
             internal_port="8080", protocol="TCP", settle: bool = True, **extra) -> str:
        answer = self.call(
            "CreateForwardEntry", ForwardTableId=gw["ForwardTableId"], ExternalIp=external_ip,
            ExternalPort=external_port, InternalIp=internal_ip, InternalPort=internal_port,
            IpProtocol=protocol, **extra,
        )
        if settle:
            self.advance(DURATIONS["pending"] + 1)
        return answer["ForwardEntryId"]

    def snat(self, gw: dict, snat_ip: str, settle: bool = True, **source) -> str:
        answer = self.call(
            "CreateSnatEntry", SnatTableId=gw["SnatTableId"], SnatIp=snat_ip, **source
        )
        if settle:
            self.advance(DURATIONS["pending"] + 1)
        return answer["SnatEntryId"]

    def forward_entries(self, table_id: str, **filters) -> list[dict]:
        answer = self.call("DescribeForwardTableEntries", ForwardTableId=table_id, **filters)
        return items_of(answer, "ForwardTableEntries", "ForwardTableEntry")

    def snat_entries(self, table_id: str, **filters) -> list[dict]:
        answer = self.call("DescribeSnatTableEntries", SnatTableId=table_id, **filters)
        return items_of(answer, "SnatTableEntries", "SnatTableEntry")

    def package(self, gateway_id: str, bandwidth=5, ip_count=2, **extra) -> str:
        answer = self.call(
            "CreateBandwidthPackage", NatGatewayId=gateway_id, Bandwidth=bandwidth,
            IpCount=ip_count, **extra,
        )
        return answer["BandwidthPackageId"]

    def packages(self, **filters) -> list[dict]:
        answer = self.call("DescribeBandwidthPackages", **filters)
        return items_of(answer, "BandwidthPackages", "BandwidthPackage")

    def package_ips(self, package_id: str) -> list[dict]:
        [package] = self.packages(BandwidthPackageId=package_id)
        return items_of(package, "PublicIpAddresses", "PublicIpAddresse")


def items_of(answer: dict, outer: str, inner: str) -> list:
    """The list under `outer.inner` (missing or empty → [])."""
    wrapper = answer.get(outer)
    if wrapper in (None, "", []):
        return []
    items = wrapper.get(inner, []) if isinstance(wrapper, dict) else wrapper
    if isinstance(items, dict):
        items = [items]
    return list(items)


def percent_encode(text: str) -> str:
    """RFC 3986 encoding as the RPC signature wants it (cloud-api.md §1)."""
    return urllib.parse.quote(str(text), safe="-_.~")


def rpc_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items(), key=lambda kv: percent_encode(kv[0]))
    )
    return f"{method}&%2F&{percent_encode(canonical)}"


def rpc_signature(method: str, params: dict[str, str], secret: str) -> str:
    digest = hmac.new(
        (secret + "&").encode(), rpc_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def iso_utc(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


@dataclass
class RawAnswer:
    status: int
    body: dict

    @property
    def code(self) -> str | None:
        return self.body.get("Code")


class Raw:
    """Hand-signed Alibaba RPC requests and raw UCloud form posts."""

    def __init__(self, emu: Emulator, fx: FixtureData):
        self.emu = emu
        self.fx = fx

    def alibaba_params(self, action: str, key_id: str | None = None, timestamp: str | None = None,
                       nonce: str | None = None, **params) -> dict[str, str]:
        """Protocol parameters (unsigned) for `action` plus `params` (None omits one)."""
        account = self.fx.alibaba_accounts[0]
        base = {
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": key_id or account["accessKeyId"],
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "Timestamp": timestamp or iso_utc(time.time()),
            "RegionId": "cn-hangzhou",
        }
        base.update(flatten({k: v for k, v in params.items()}))
        for k, v in params.items():
            if v is None:
                base.pop(k, None)
        return {k: v for k, v in base.items() if v is not None}

    def signed_url(self, params: dict[str, str], secret: str | None = None,
                   method: str = "GET") -> str:
        secret = secret if secret is not None else self.fx.alibaba_accounts[0]["accessKeySecret"]
        signed = dict(params)
        signed["Signature"] = rpc_signature(method, params, secret)
        query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in signed.items())
        return f"{self.emu.base_url}?{query}"

    def send(self, url: str, method: str = "GET", data: bytes | None = None,
             headers: dict | None = None) -> RawAnswer:
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:
                return RawAnswer(answer.status, json.loads(answer.read() or b"{}"))
        except urllib.error.HTTPError as e:
            return RawAnswer(e.code, json.loads(e.read() or b"{}"))

    def alibaba(self, action: str, secret: str | None = None, method: str = "GET",
                **params) -> RawAnswer:
        params = self.alibaba_params(action, **params)
        return self.send(self.signed_url(params, secret, method), method=method)

    def ucloud_post(self, params: dict[str, str]) -> dict:
        """POST a form to the UCloud side as it is (no signing); the JSON answer."""
        data = urllib.parse.urlencode(params).encode()
        answer = self.send(
            self.emu.base_url, method="POST", data=data,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status == 200, answer
        return answer.body


# --------------------------------------------------------------------------
# UCloud: the official SDK
# --------------------------------------------------------------------------


def ucloud_signature(params: dict[str, str], private_key: str) -> str:
    """cloud-api.md §4: sorted name+value pairs, then the private key, SHA-1 hex."""
    text = "".join(f"{k}{v}" for k, v in sorted(params.items())) + private_key
    return hashlib.sha1(text.encode()).hexdigest()
