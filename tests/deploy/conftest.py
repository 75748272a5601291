"""Shared helpers of the shipping suite (tests/deploy).

Environment (tests/deploy/run.sh sets it): NATOP_BIN (debug binary),
NATOP_RELEASE_BIN (release binary), NATOP_TEST_KUBECONFIG (the local control
plane's admin kubeconfig).

Fixtures:
- `natop_bin`, `release_bin`, `kubeconfig`: the paths above.
- `kubectl`: kubectl with the admin kubeconfig (`kubectl(*args)`, `.json(*args)`).
- `crds`: natop's CRDs installed as a user does: `kubectl apply --server-side
  -k deploy/crds`.
- `deployed`: deploy/ applied (namespace natop-system, ServiceAccount, RBAC).
- `emulator`: `natop emulator` on a free loopback port, 20 times faster than
  real time, stopped after the test.
- `tmp_path`: pytest's own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "natop"
DEPLOY = ROOT / "deploy"
SAMPLES = DEPLOY / "samples"
SAMPLE_ENDPOINT = "http://127.0.0.1:8787/"


def required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"{name} is not set: run the suite with tests/deploy/run.sh")
    return value


@pytest.fixture(scope="session")
def natop_bin() -> str:
    return required_env("NATOP_BIN")


@pytest.fixture(scope="session")
def release_bin() -> str:
    return required_env("NATOP_RELEASE_BIN")


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    return required_env("NATOP_TEST_KUBECONFIG")


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.25,
             describe: Callable[[], str] | None = None) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` s,
    saying what `describe` finds then."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    state = f"; {describe()}" if describe is not None else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r}){state}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """(status, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, ""


class Kubectl:
    def __init__(self, kubeconfig: str):
        self.kubeconfig = kubeconfig

    def __call__(self, *args: str, input: str | None = None, check: bool = True,
                 timeout: float = 120) -> subprocess.CompletedProcess:
        process = subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, *args],
            input=input, capture_output=True, text=True, timeout=timeout,
        )
        if check and process.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({process.returncode}):\n{process.stderr}")
        return process

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def kubectl(kubeconfig) -> Kubectl:
    return Kubectl(kubeconfig)


@pytest.fixture(scope="session")
def crds(kubectl) -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "-k", str(DEPLOY / "crds"))
    for path in sorted((DEPLOY / "crds").glob("*.natop.dev.yaml")):
        name = path.name.removesuffix(".yaml")
        kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")


@pytest.fixture
def deployed(kubectl, crds) -> None:
    """deploy/ applied: the natop-system namespace, ServiceAccount and RBAC."""
    kubectl("apply", "--server-side", "-k", str(DEPLOY))


def adopt_crds(kubectl: Kubectl, names: list[str], release: str, namespace: str) -> None:
    """Hand CRDs another tool installed to a Helm release (the README's
    migration step): Helm takes over objects carrying its ownership metadata."""
    for name in names:
        kubectl("label", "--overwrite", "crd", name, "app.kubernetes.io/managed-by=Helm")
        kubectl("annotate", "--overwrite", "crd", name, f"meta.helm.sh/release-name={release}",
                f"meta.helm.sh/release-namespace={namespace}")


def render(values: dict | None = None, name: str = "natop", namespace: str = "natop-system") -> list[dict]:
    """The chart's objects rendered by the real Helm engine."""
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values or {}, name=name, namespace=namespace, is_install=True)
    docs: list[dict] = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def find(docs: list[dict], kind: str, name: str | None = None, namespace: str | None = None) -> list[dict]:
    return [
        d for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


def one(docs: list[dict], kind: str, name: str | None = None, namespace: str | None = None) -> dict:
    found = find(docs, kind, name, namespace)
    assert len(found) == 1, f"expected one {kind} {name or ''} in {namespace or 'any namespace'}, got {len(found)}"
    return found[0]


class Process:
    """A child process with its output in a log file, stopped with SIGTERM."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, name: str = "natop",
                 **popen: Any):
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, **popen,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class Emulator:
    def __init__(self, natop_bin: str, *extra: str):
        self.process = subprocess.Popen(
            [natop_bin, "emulator", "--listen", "127.0.0.1:0", "--speed", "20", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        )
        found: list[str] = []

        def reader() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if "listening on" in line and not found:
                    found.append(line.split("listening on", 1)[1].strip())
            # Keep draining so the emulator never blocks on a full pipe.

        threading.Thread(target=reader, daemon=True).start()
        try:
            self.endpoint: str = wait_for("the emulator's address", lambda: found and found[0], 30)
        except BaseException:
            self.stop()
            raise

    def state(self) -> Any:
        status, body = http_get(self.endpoint + "_emulator/state")
        assert status == 200, status
        return json.loads(body)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def emulator(natop_bin) -> Iterator[Emulator]:
    e = Emulator(natop_bin)
    try:
        yield e
    finally:
        e.stop()


def service_account_kubeconfig(kubectl: Kubectl, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig that authenticates as `namespace/account` with a fresh token."""
    token = kubectl("-n", namespace, "create", "token", account, "--duration=1h").stdout.strip()
    config = yaml.safe_load(kubectl("config", "view", "--minify", "--raw").stdout)
    cluster = config["clusters"][0]["cluster"]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "local", "user": account,
                                                   "namespace": namespace}}],
        "current-context": account,
    }))
    return path


def samples_for(endpoint: str, into: Path) -> Path:
    """deploy/samples/ with the emulator's endpoint in the ProviderConfig."""
    into.mkdir(parents=True, exist_ok=True)
    for path in sorted(SAMPLES.glob("*.yaml")):
        text = path.read_text()
        if path.name.startswith("20-"):
            assert SAMPLE_ENDPOINT in text
        (into / path.name).write_text(text.replace(SAMPLE_ENDPOINT, endpoint))
    return into


def container_args(deployment: dict) -> list[str]:
    return deployment["spec"]["template"]["spec"]["containers"][0]["args"]
