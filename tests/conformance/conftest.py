"""Conformance suite for `natop emulator`, driven by the official SDKs.

The emulator runs once per session as a subprocess on a free loopback port.
Every test starts from the fixture (`POST /_emulator/reset`, faults cleared).
The emulator's clock is slowed almost to a stop, so asynchronous states only
change when a test moves the clock with `advance(seconds)`.

Fixtures:
- `emulator`: the running emulator (base URL, admin endpoints: state, calls,
  set_faults, advance, set_speed, reset).
- `fx`: the default fixture (accounts, regions, VPCs, vSwitches, EIPs, IPv6).
  Alibaba keys 0 and 2 belong to one account (key rotation), key 1 to
  another; likewise UCloud key pairs 0 and 2 are one user, 1 another.
- `ali` / `ali2`: the official `aliyun-python-sdk-core` AcsClient for the
  first (legacy NAT bandwidth packages allowed) and second Alibaba account,
  SDK retries off; `ali.account_id` is the key's account. `ali.call(action, **params)` returns the parsed JSON;
  `ali.error_of(action, **params)` returns `(http_status, code, message)` of
  the ServerException the call must raise; `ali.expect(code, action, ...)`.
- `ali_factory(index, region, key_id, secret)`: other accounts/regions/keys
  (index 2: the first account's second key).
- `ucloud(region, account, public_key, private_key)`: official UCloud clients.
- `raw`: hand-signed Alibaba requests and raw UCloud form posts (urllib).
- `advance(seconds)`: move the emulator clock.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile

import pytest
from ucloud.client import Client as UcloudClient

from natop_support import (
    DURATIONS,
    FROZEN_SPEED,
    STARTUP_TIMEOUT_S,
    Ali,
    Emulator,
    FixtureData,
    Raw,
    natop_bin_path,
    read_listen_line,
)

# The SDKs log every error answer at ERROR/WARNING; the tests assert on them.
logging.getLogger("aliyunsdkcore").setLevel(logging.CRITICAL)
logging.getLogger("ucloud").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def natop_bin() -> str:
    return natop_bin_path()


@pytest.fixture(scope="session")
def fx(natop_bin) -> FixtureData:
    """The default fixture, read from `--print-default-fixture`."""
    out = subprocess.run(
        [natop_bin, "emulator", "--print-default-fixture"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return FixtureData.from_yaml(out)


@pytest.fixture(scope="session")
def emulator(natop_bin, request) -> Emulator:
    """`natop emulator` on a free loopback port for the whole session. Its log
    (stderr) is kept in a temporary file when a test failed, removed otherwise."""
    log = tempfile.NamedTemporaryFile(prefix="natop-emulator-", suffix=".log", delete=False)
    args = [
        natop_bin, "emulator",
        "--listen", "127.0.0.1:0",
        "--seed", "7",
        "--creating-seconds", str(DURATIONS["creating"]),
        "--pending-seconds", str(DURATIONS["pending"]),
        "--deleting-seconds", str(DURATIONS["deleting"]),
        "--modifying-seconds", str(DURATIONS["modifying"]),
        "--converting-seconds", str(DURATIONS["converting"]),
        "--associating-seconds", str(DURATIONS["associating"]),
        "--speed", str(FROZEN_SPEED),
    ]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    try:
        line = read_listen_line(process, STARTUP_TIMEOUT_S)
        match = re.search(r"natop emulator listening on (http://127\.0\.0\.1:(\d+)/)", line)
        if not match:
            raise RuntimeError(f"unexpected start line: {line!r}")
        emu = Emulator(match.group(1), int(match.group(2)), log.name, process)
        print(f"\nnatop emulator at {emu.base_url} (log: {log.name})")
        yield emu
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        if request.session.testsfailed:
            print(f"\nnatop emulator log: {log.name}")
        else:
            os.unlink(log.name)


@pytest.fixture(autouse=True)
def fresh(emulator) -> Emulator:
    """Every test starts from the fixture, with no faults and a still clock."""
    emulator.reset()
    emulator.clear_faults()
    emulator.set_speed(FROZEN_SPEED)
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def advance(emulator):
    """`advance(seconds)`: move the emulator's clock forward."""
    return emulator.advance


@pytest.fixture
def ali(emulator, fx) -> Ali:
    """The first Alibaba account (legacy NAT bandwidth packages allowed), cn-hangzhou."""
    account = fx.alibaba_accounts[0]
    assert account["legacyBandwidthPackages"] is True
    return Ali(emulator, fx, account["accessKeyId"], account["accessKeySecret"])


@pytest.fixture
def ali2(emulator, fx) -> Ali:
    """The second Alibaba account (no legacy NAT bandwidth packages), cn-hangzhou."""
    account = fx.alibaba_accounts[1]
    assert account["legacyBandwidthPackages"] is False
    return Ali(emulator, fx, account["accessKeyId"], account["accessKeySecret"])


@pytest.fixture
def ali_factory(emulator, fx):
    """`ali_factory(account_index=0, region="cn-hangzhou", secret=None)`."""

    def make(index: int = 0, region: str = "cn-hangzhou", key_id: str | None = None,
             secret: str | None = None) -> Ali:
        account = fx.alibaba_accounts[index]
        return Ali(
            emulator, fx, key_id or account["accessKeyId"], secret or account["accessKeySecret"], region
        )

    return make


@pytest.fixture
def raw(emulator, fx) -> Raw:
    return Raw(emulator, fx)


@pytest.fixture
def ucloud(emulator, fx):
    """`ucloud(region="cn-bj2", account=0, public_key=None, private_key=None)`:
    an official UCloud SDK client without retries."""

    def make(region: str = "cn-bj2", account: int = 0, public_key: str | None = None,
             private_key: str | None = None) -> UcloudClient:
        keys = fx.ucloud_accounts[account]
        return UcloudClient({
            "region": region,
            "public_key": public_key or keys["publicKey"],
            "private_key": private_key or keys["privateKey"],
            "base_url": emulator.base_url,
            "max_retries": 0,
            "timeout": 15,
        })

    return make
