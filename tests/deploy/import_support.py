"""Helpers of test_import.py: the official Alibaba SDK against `natop emulator`
(the typed requests of aliyun-python-sdk-vpc through aliyun-python-sdk-core's
AcsClient), the emulator's admin endpoints (clock, call log), the cloud
estate the import tests build outside natop, and running `natop` commands.

The estate (`build_estate`), in account 1380000000000001 (the first demo
key, which may still use NAT bandwidth packages), cn-hangzhou, VPC
vpc-hz1natop0000000000:
- gateway A `edge-a`: Enhanced, PayByLcu, vSwitch vsw-hz11natop000000000,
  EIPs 47.97.1.11/.12/.13; 100 DNAT entries (the table's quota: two full
  pages at natop's page size of 50, cloud/alibaba/mod.rs MAX_PAGE_SIZE),
  2 SNAT entries (a vSwitch and a CIDR, both on .13);
- gateway B `Edge_B`: Normal, Small (the account may still buy them),
  EIPs 47.97.1.14/.15/.16/.17; 20 DNAT entries (one an IP mapping on .16),
  1 SNAT entry (vsw-hz12natop000000000 through the pool .15,.17), one NAT
  bandwidth package (5 Mbps, 2 IPs);
- an IPv6 internet bandwidth (10 Mbps) on ipv6-hz01natop00000000 of
  ipv6gw-hz1natop0000000000.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from aliyunsdkvpc.request.v20160428 import (
    AllocateIpv6InternetBandwidthRequest,
    AssociateEipAddressRequest,
    CreateForwardEntryRequest,
    CreateNatGatewayRequest,
    CreateSnatEntryRequest,
    DescribeEipAddressesRequest,
    DescribeForwardTableEntriesRequest,
    DescribeIpv6AddressesRequest,
    DescribeNatGatewaysRequest,
    DescribeSnatTableEntriesRequest,
)

from conftest import wait_for

# The SDK logs every error answer; the tests assert on them.
logging.getLogger("aliyunsdkcore").setLevel(logging.CRITICAL)

API_VERSION = "2016-04-28"
REGION = "cn-hangzhou"
VPC = "vpc-hz1natop0000000000"
VSWITCH_A = "vsw-hz11natop000000000"  # 172.16.1.0/24, cn-hangzhou-a
VSWITCH_B = "vsw-hz12natop000000000"  # 172.16.2.0/24, cn-hangzhou-b
IPV6_GATEWAY = "ipv6gw-hz1natop0000000000"
IPV6_ADDRESS = "ipv6-hz01natop00000000"

# The emulator's demo accounts (`natop emulator --print-default-fixture`).
ACCOUNT_1 = "1380000000000001"
KEY_1 = ("LTAI5tNatopDemoKey01", "natop-demo-secret-01")  # legacy packages allowed
KEY_2 = ("LTAI5tNatopDemoKey02", "natop-demo-secret-02")  # account 1380000000000002

# natop reads every listing at this page size (src/cloud/alibaba/mod.rs).
PAGE_SIZE = 50
# The emulator's quota of DNAT entries in one table (emulator/alibaba/entries/table.rs).
DNAT_TABLE_QUOTA = 100

DNAT_ON_A = 100
DNAT_ON_B = 20
SNAT_ON_A = 2
SNAT_ON_B = 1

# Transitions of the emulator (its defaults, virtual seconds), moved past
# with the admin clock instead of waited for.
CREATING_S = 60
PENDING_S = 3
ASSOCIATING_S = 3

NATOP_KINDS = ["natgateways", "forwardentries", "snatentries", "bandwidthpackages",
               "ipv6internetbandwidths"]

READ_ONLY_PREFIXES = ("Describe", "List", "Get")


def is_write(action: str) -> bool:
    return not action.startswith(READ_ONLY_PREFIXES)


# --------------------------------------------------------------------------
# The emulator's admin endpoints
# --------------------------------------------------------------------------


class Admin:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.endpoint}_emulator/{path}", data=data, method=method,
            headers={"content-type": "application/json"} if data is not None else {})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def advance(self, seconds: float) -> None:
        self._call("POST", "clock", {"advanceSeconds": seconds})

    def log(self, since: int = 0) -> list[dict]:
        """The call log after `since` (src/emulator/log.rs: seq, action,
        account, region, ids, outcome), oldest first."""
        return self._call("GET", f"log?since={since}")["calls"]

    def last_seq(self) -> int:
        calls = self.log(0)
        return calls[-1]["seq"] if calls else 0

    def calls(self) -> dict:
        """Call counts by action (`/_emulator/calls`)."""
        return self._call("GET", "calls")

    def state(self) -> dict:
        return self._call("GET", "state")

    def region(self, account: str = ACCOUNT_1, region: str = REGION) -> dict:
        return self.state()["world"]["alibaba"][account]["regions"][region]


def writes_since(admin: Admin, seq: int) -> list[dict]:
    return [c for c in admin.log(seq) if is_write(c["action"])]


# --------------------------------------------------------------------------
# The official SDK
# --------------------------------------------------------------------------


class Vpc:
    """aliyun-python-sdk-vpc's typed requests (CommonRequest for the legacy
    NAT bandwidth package actions, which that SDK no longer ships), sent by
    AcsClient to the emulator, SDK retries off."""

    def __init__(self, endpoint: str, key: tuple[str, str], region: str = REGION):
        parsed = urllib.parse.urlparse(endpoint)
        self.host = parsed.netloc
        self.client = AcsClient(key[0], key[1], region, auto_retry=False, max_retry_time=0,
                                timeout=15, connect_timeout=5)

    def _send(self, request) -> dict:
        request.set_endpoint(self.host)
        request.set_protocol_type("http")
        request.set_accept_format("json")
        try:
            return json.loads(self.client.do_action_with_exception(request))
        except ServerException as e:
            raise AssertionError(
                f"{request.get_action_name()} {request.get_query_params()} failed: "
                f"{e.get_http_status()} {e.get_error_code()}: {e.get_error_msg()}") from None

    def call(self, module, **params) -> dict:
        """A typed request: `module` is e.g. CreateNatGatewayRequest; every
        parameter through its setter."""
        request = getattr(module, module.__name__.rsplit(".", 1)[-1])()
        for name, value in params.items():
            setter = getattr(request, f"set_{name}")
            setter(value)
        return self._send(request)

    def common(self, action: str, **params) -> dict:
        request = CommonRequest(domain=self.host, version=API_VERSION, action_name=action)
        request.set_method("POST")
        for name, value in params.items():
            request.add_query_param(name, str(value))
        return self._send(request)

    # ---- listings ----

    def gateway(self, gateway_id: str) -> dict:
        answer = self.call(DescribeNatGatewaysRequest, NatGatewayId=gateway_id)
        [gateway] = items(answer, "NatGateways", "NatGateway")
        return gateway

    def eip(self, allocation_id: str) -> dict:
        answer = self.call(DescribeEipAddressesRequest, AllocationId=allocation_id)
        [eip] = items(answer, "EipAddresses", "EipAddress")
        return eip

    def forward_pages(self, table_id: str) -> list[dict]:
        """Every page of a DNAT table at natop's page size (the answers)."""
        pages = []
        number = 1
        while True:
            answer = self.call(DescribeForwardTableEntriesRequest, ForwardTableId=table_id,
                               PageNumber=number, PageSize=PAGE_SIZE)
            pages.append(answer)
            listed = sum(len(items(p, "ForwardTableEntries", "ForwardTableEntry")) for p in pages)
            if listed >= int(answer["TotalCount"]) or not items(
                    answer, "ForwardTableEntries", "ForwardTableEntry"):
                return pages
            number += 1

    def forward_entries(self, table_id: str) -> list[dict]:
        return [e for p in self.forward_pages(table_id)
                for e in items(p, "ForwardTableEntries", "ForwardTableEntry")]

    def snat_entries(self, table_id: str) -> list[dict]:
        answer = self.call(DescribeSnatTableEntriesRequest, SnatTableId=table_id,
                           PageSize=PAGE_SIZE)
        return items(answer, "SnatTableEntries", "SnatTableEntry")

    def package(self, package_id: str) -> dict:
        answer = self.common("DescribeBandwidthPackages", BandwidthPackageId=package_id)
        [package] = items(answer, "BandwidthPackages", "BandwidthPackage")
        return package

    def ipv6_address(self, address_id: str) -> dict:
        answer = self.call(DescribeIpv6AddressesRequest, Ipv6AddressId=address_id)
        [address] = items(answer, "Ipv6Addresses", "Ipv6Address")
        return address


def items(answer: dict, outer: str, inner: str) -> list:
    wrapper = answer.get(outer)
    if wrapper in (None, "", []):
        return []
    found = wrapper.get(inner, []) if isinstance(wrapper, dict) else wrapper
    return [found] if isinstance(found, dict) else list(found)


# --------------------------------------------------------------------------
# The estate natop imports
# --------------------------------------------------------------------------


@dataclass
class Gateway:
    id: str
    forward_table: str
    snat_table: str
    dnat: dict[str, dict] = field(default_factory=dict)  # id -> the create parameters
    snat: dict[str, dict] = field(default_factory=dict)
    packages: list[str] = field(default_factory=list)


@dataclass
class Estate:
    a: Gateway
    b: Gateway
    package: str
    ipv6_bandwidth: str

    @property
    def gateways(self) -> list[Gateway]:
        return [self.a, self.b]

    def kind_of(self) -> dict[str, str]:
        """Every cloud id with the kind natop gives it."""
        kinds = {self.ipv6_bandwidth: "Ipv6InternetBandwidth", self.package: "BandwidthPackage"}
        for g in self.gateways:
            kinds[g.id] = "NatGateway"
            kinds.update({i: "ForwardEntry" for i in g.dnat})
            kinds.update({i: "SnatEntry" for i in g.snat})
        return kinds

    def gateway_of(self) -> dict[str, str]:
        """Entry and package ids -> their gateway's id."""
        owner = {self.package: self.b.id}
        for g in self.gateways:
            owner.update({i: g.id for i in [*g.dnat, *g.snat]})
        return owner


def _create_gateway(vpc: Vpc, **params) -> Gateway:
    answer = vpc.call(CreateNatGatewayRequest, VpcId=VPC, **params)
    return Gateway(answer["NatGatewayId"], answer["ForwardTableIds"]["ForwardTableId"][0],
                   answer["SnatTableIds"]["SnatTableId"][0])


def _settled(admin: Admin, what: str, check, seconds: float) -> Any:
    """Move the clock past a transition, then poll until `check` holds."""
    admin.advance(seconds + 1)
    return wait_for(what, check, 30)


def _dnat(vpc: Vpc, admin: Admin, gateway: Gateway, **params) -> str:
    answer = vpc.call(CreateForwardEntryRequest, ForwardTableId=gateway.forward_table, **params)
    entry_id = answer["ForwardEntryId"]
    gateway.dnat[entry_id] = params
    # A table takes one write at a time: the entry must be Available first.
    admin.advance(PENDING_S + 1)
    return entry_id


def _snat(vpc: Vpc, admin: Admin, gateway: Gateway, **params) -> str:
    answer = vpc.call(CreateSnatEntryRequest, SnatTableId=gateway.snat_table, **params)
    gateway.snat[answer["SnatEntryId"]] = params
    admin.advance(PENDING_S + 1)
    return answer["SnatEntryId"]


def build_estate(endpoint: str) -> Estate:
    """Create the estate (module docstring) with the official SDK and wait
    until every part of it is Available."""
    vpc = Vpc(endpoint, KEY_1)
    admin = Admin(endpoint)

    a = _create_gateway(vpc, NatType="Enhanced", VSwitchId=VSWITCH_A, InternetChargeType="PayByLcu",
                        Name="edge-a", Description="imported gateway A")
    b = _create_gateway(vpc, NatType="Normal", Spec="Small", InternetChargeType="PayBySpec",
                        Name="Edge_B")
    _settled(admin, "both gateways Available", lambda: all(
        vpc.gateway(g.id)["Status"] == "Available" for g in (a, b)), CREATING_S)

    eips = {a.id: ["eip-hz01natop00000000", "eip-hz02natop00000000", "eip-hz03natop00000000"],
            b.id: ["eip-hz04natop00000000", "eip-hz05natop00000000", "eip-hz06natop00000000",
                   "eip-hz07natop00000000"]}
    for gateway_id, allocations in eips.items():
        for allocation in allocations:
            vpc.call(AssociateEipAddressRequest, AllocationId=allocation, InstanceId=gateway_id,
                     InstanceType="Nat")
    _settled(admin, "the EIPs bound", lambda: all(
        vpc.eip(e)["Status"] == "InUse" and vpc.eip(e)["InstanceId"] == g
        for g, allocations in eips.items() for e in allocations), ASSOCIATING_S)

    # Gateway A: 100 DNAT entries on .11 and .12, TCP and UDP, a port range,
    # names of several shapes (one `web`, which gateway B has too; every
    # tenth without a name).
    for i in range(DNAT_ON_A):
        params: dict[str, Any] = {
            "ExternalIp": "47.97.1.11" if i < 50 else "47.97.1.12",
            "ExternalPort": str(10000 + i),
            "InternalIp": f"172.16.1.{10 + i}",
            "InternalPort": "8080",
            "IpProtocol": "TCP" if i % 2 == 0 else "UDP",
        }
        if i == 98:
            params.update(ExternalPort="20000/20009", InternalPort="30000/30009")
        if i == 0:
            params["ForwardEntryName"] = "web"
        elif i == 1:
            params["ForwardEntryName"] = "Api_Gateway.v2"
        elif i % 10 != 9:
            params["ForwardEntryName"] = f"svc-{i:03d}"
        _dnat(vpc, admin, a, **params)
    _snat(vpc, admin, a, SnatIp="47.97.1.13", SourceVSwitchId=VSWITCH_A, SnatEntryName="office")
    _snat(vpc, admin, a, SnatIp="47.97.1.13", SourceCIDR="172.16.3.0/24")

    # Gateway B: 19 port mappings on .14 and an IP mapping on .16.
    for i in range(DNAT_ON_B - 1):
        params = {
            "ExternalIp": "47.97.1.14",
            "ExternalPort": str(440 + i),
            "InternalIp": f"172.16.2.{10 + i}",
            "InternalPort": str(8440 + i),
            "IpProtocol": "TCP",
            "ForwardEntryName": "web" if i == 0 else f"app-{i:02d}",
        }
        _dnat(vpc, admin, b, **params)
    _dnat(vpc, admin, b, ExternalIp="47.97.1.16", ExternalPort="Any", InternalIp="172.16.2.200",
          InternalPort="Any", IpProtocol="Any", ForwardEntryName="ip-mapping")
    _snat(vpc, admin, b, SnatIp="47.97.1.15,47.97.1.17", SourceVSwitchId=VSWITCH_B,
          SnatEntryName="egress-b")

    package = vpc.common("CreateBandwidthPackage", NatGatewayId=b.id, Bandwidth=5, IpCount=2,
                         Name="legacy-pkg")["BandwidthPackageId"]
    b.packages.append(package)
    ipv6 = vpc.call(AllocateIpv6InternetBandwidthRequest, Ipv6GatewayId=IPV6_GATEWAY,
                    Ipv6AddressId=IPV6_ADDRESS, Bandwidth=10,
                    InternetChargeType="PayByBandwidth")["InternetBandwidthId"]
    estate = Estate(a, b, package, ipv6)

    def everything_available() -> bool:
        for g in estate.gateways:
            if vpc.gateway(g.id)["Status"] != "Available":
                return False
            dnat = vpc.forward_entries(g.forward_table)
            snat = vpc.snat_entries(g.snat_table)
            if sorted(e["ForwardEntryId"] for e in dnat) != sorted(g.dnat) or \
                    sorted(e["SnatEntryId"] for e in snat) != sorted(g.snat):
                return False
            if any(e["Status"] != "Available" for e in [*dnat, *snat]):
                return False
        if vpc.package(package)["Status"] != "Available":
            return False
        address = vpc.ipv6_address(IPV6_ADDRESS)
        return (address["Status"] == "Available" and address["NetworkType"] == "Public"
                and address["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"] == ipv6)

    _settled(admin, "every resource of the estate Available", everything_available, CREATING_S)
    return estate


# --------------------------------------------------------------------------
# Running natop
# --------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without anything that would steer natop
    (credentials, endpoint, kubeconfig, colour), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALIBABA_CLOUD_", "NATOP_", "UCLOUD_"))
           and k not in ("KUBECONFIG", "NO_COLOR", "CLICOLOR_FORCE", "FORCE_COLOR")}
    env.update(extra)
    return env


def natop(natop_bin: str, *args: str, env: dict[str, str] | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([natop_bin, *args], capture_output=True, text=True,
                          env=env if env is not None else clean_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL)


def show(process: subprocess.CompletedProcess) -> str:
    return (f"exit {process.returncode}\n--- stdout (tail) ---\n{process.stdout[-4000:]}"
            f"\n--- stderr (tail) ---\n{process.stderr[-4000:]}")
