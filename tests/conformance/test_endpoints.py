"""natop's Alibaba Cloud endpoint data is the official SDK's, and natop picks
the endpoint the SDK picks in every region that data names.

The data (src/cloud/alibaba/endpoints.json) is a copy of what the packages
ship: aliyun-python-sdk-vpc's and aliyun-python-sdk-sts's endpoint maps and
rules, aliyun-python-sdk-core's region list and global endpoints. The choice is
compared with the SDK's own resolver (its endpoint rules, offline: a region
the data does not know would make the SDK ask the location service).
"""

import json
import os
import subprocess
from pathlib import Path

import aliyunsdkcore
import pytest
from aliyunsdkcore.endpoint.endpoint_resolver_rules import EndpointResolverRules
from aliyunsdkcore.endpoint.resolver_endpoint_request import ResolveEndpointRequest
from aliyunsdksts.endpoint import endpoint_data as sts_data
from aliyunsdkvpc.endpoint import endpoint_data as vpc_data

ROOT = Path(__file__).resolve().parents[2]
NATOP_DATA = json.loads((ROOT / "src/cloud/alibaba/endpoints.json").read_text())
CORE = json.loads(
    (Path(aliyunsdkcore.__file__).parent / "data" / "endpoints.json").read_text())
PRODUCTS = {"vpc": vpc_data, "sts": sts_data}


@pytest.fixture(scope="module")
def chosen(natop_bin) -> dict:
    """What `natop endpoints` says for every region its data knows."""
    out = subprocess.run([natop_bin, "endpoints"], check=True, capture_output=True,
                         text=True, env={**os.environ, "RUST_LOG": "off"})
    return json.loads(out.stdout)


def test_the_data_is_the_sdks():
    assert NATOP_DATA["regions"] == sorted(CORE["regions"])
    for code, sdk in PRODUCTS.items():
        ours = NATOP_DATA["products"][code]
        assert ours["map"] == sdk.getEndpointMap(), code
        assert ours["rule"] == sdk.getEndpointRegional(), code
        assert ours["global"] == CORE["global_endpoints"].get(code), code
    assert "aliyun-python-sdk-vpc" in NATOP_DATA["source"]


def sdk_choice(code: str, region: str) -> str:
    request = ResolveEndpointRequest(region, code, "", "openAPI")
    request.endpoint_map = PRODUCTS[code].getEndpointMap()
    request.endpoint_regional = PRODUCTS[code].getEndpointRegional()
    request.request_network = "public"
    request.product_suffix = ""
    return EndpointResolverRules().resolve(request)


def test_natop_picks_what_the_sdk_picks_in_every_region(chosen):
    regions = sorted(set(CORE["regions"]).union(
        *(sdk.getEndpointMap().keys() for sdk in PRODUCTS.values())))
    assert sorted(chosen) == regions
    for region in regions:
        for code in PRODUCTS:
            expected = sdk_choice(code, region)
            assert expected, f"the SDK resolves {code} in {region} offline"
            assert chosen[region][code] == f"https://{expected}/", (region, code)
