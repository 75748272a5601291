"""The ecosystem docs work: the Argo CD health check, run by a Lua 5.1 engine
(Argo CD's gopher-lua speaks 5.1), and the Grafana dashboard, whose every
metric is one natop serves."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import lupa.lua51 as lua51
import pytest
import yaml

from conftest import ROOT, Emulator, Kubectl, Process, free_port, http_get, wait_for

DOCS = ROOT / "docs"
HEALTH = (DOCS / "argocd" / "health.lua").read_text()


def health(obj: dict) -> dict:
    runtime = lua51.LuaRuntime()
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(HEALTH)
    return {"status": result["status"], "message": result["message"]}


def gateway(generation: int = 2, observed: int | None = 2, conditions: list | None = None,
            deleting: bool = False) -> dict:
    obj: dict = {"apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
                 "metadata": {"name": "edge", "namespace": "demo", "generation": generation}}
    if deleting:
        obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if observed is not None or conditions is not None:
        obj["status"] = {"conditions": conditions or []}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
    return obj


def cond(type_: str, status: str, reason: str, message: str) -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}


READY = cond("Ready", "True", "Available", "gateway ngw-1 is Available")
NOT_READY = cond("Ready", "False", "Creating", "gateway ngw-1 is Creating")
RECONCILING = cond("Reconciling", "True", "Creating", "gateway ngw-1 is Creating")
STALLED = cond("Stalled", "True", "InvalidSpec", "spec.vSwitchId is required for Enhanced")
NOT_STALLED = cond("Stalled", "False", "Available", "nothing blocks")


@pytest.mark.parametrize("obj, status, says", [
    (gateway(observed=None), "Progressing", "observe generation 2"),
    (gateway(generation=3, observed=2, conditions=[READY]), "Progressing", "observe generation 3"),
    (gateway(conditions=[READY, cond("Reconciling", "False", "Available", "done"), NOT_STALLED]),
     "Healthy", "Available: gateway ngw-1 is Available"),
    (gateway(conditions=[NOT_READY, RECONCILING, NOT_STALLED]), "Progressing",
     "Creating: gateway ngw-1 is Creating"),
    (gateway(conditions=[cond("Ready", "False", "InvalidSpec", "x"), STALLED]), "Degraded",
     "InvalidSpec: spec.vSwitchId is required for Enhanced"),
    (gateway(conditions=[NOT_READY]), "Progressing", "Creating"),
    (gateway(conditions=[]), "Progressing", "waiting for natop to report Ready"),
    (gateway(conditions=[READY], deleting=True), "Progressing", "being deleted"),
    (gateway(conditions=[cond("Ready", "False", "Paused", "natop.dev/paused is true"),
                         cond("Reconciling", "True", "Paused", "natop.dev/paused is true"),
                         NOT_STALLED]),
     "Suspended", "Paused: natop.dev/paused is true"),
    (gateway(conditions=[cond("Ready", "False", "Paused", "deletion waits")], deleting=True),
     "Suspended", "deletion waits"),
    (gateway(conditions=[cond("Ready", "True", "Observed", "gateway ngw-1 exists (observed)"),
                         cond("Drifted", "True", "Drifted", "name is \"a\", the spec says \"b\""),
                         NOT_STALLED]),
     "Healthy", "(drifted: name is"),
    (gateway(conditions=[cond("Ready", "True", "Observed", "gateway ngw-1 matches"),
                         cond("Drifted", "False", "InSync", "matches the spec")]),
     "Healthy", "Observed: gateway ngw-1 matches"),
])
def test_argocd_health_check(obj, status, says):
    result = health(obj)
    assert result["status"] == status, result
    assert says in result["message"], result


def test_argocd_configmap_carries_the_health_check_verbatim():
    config = yaml.safe_load((DOCS / "argocd" / "argocd-cm.yaml").read_text())
    assert config["kind"] == "ConfigMap" and config["metadata"]["name"] == "argocd-cm"
    customizations = yaml.safe_load(config["data"]["resource.customizations"])
    assert list(customizations) == ["natop.dev/*"]
    assert customizations["natop.dev/*"]["health.lua"] == HEALTH


def exposed_metrics(natop_bin: str, kubectl: Kubectl, kubeconfig: str, wanted: set[str]) -> set[str]:
    """Every sample name `natop run` exposes (from its `# TYPE` lines) once it
    has done enough for `wanted` to appear: a NatGateway reconciled against an
    emulator that throttles nine calls in ten (retries, failed reconciles),
    through a ProviderConfig with a tight rate limit (waits)."""
    suffix = uuid.uuid4().hex[:6]
    namespace, name = f"natop-docs-{suffix}", f"docs-{suffix}"
    emulator = Emulator(natop_bin, "--fault-throttling", "0.9", "--seed", "3")
    try:
        return drive_until_exposed(natop_bin, kubectl, kubeconfig, wanted, emulator.endpoint,
                                   namespace, name)
    finally:
        emulator.stop()
        kubectl("-n", namespace, "patch", "natgateway", "gw", "--type=merge",
                "-p", '{"metadata":{"finalizers":null}}', check=False)
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        kubectl("delete", "providerconfig", name, "--wait=false", check=False)
        kubectl("patch", "providerconfig", name, "--type=merge",
                "-p", '{"metadata":{"finalizers":null}}', check=False)
        kubectl("-n", "natop-system", "delete", "secret", name, check=False)


def drive_until_exposed(natop_bin: str, kubectl: Kubectl, kubeconfig: str, wanted: set[str],
                        endpoint: str, namespace: str, name: str) -> set[str]:
    kubectl("create", "namespace", namespace)
    kubectl("-n", "natop-system", "create", "secret", "generic", name,
            "--from-literal=accessKeyId=LTAI5tNatopDemoKey01",
            "--from-literal=accessKeySecret=natop-demo-secret-01")
    objects = [
        {"apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": name},
         "spec": {"provider": "Alibaba", "region": "cn-hangzhou", "endpoint": endpoint,
                  "credentials": {"secretRef": {"namespace": "natop-system", "name": name}},
                  "allowedNamespaces": [namespace],
                  "rateLimit": {"qps": 1, "burst": 1}}},
        {"apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
         "metadata": {"name": "gw", "namespace": namespace},
         "spec": {"providerConfigRef": {"name": name}, "vpcId": "vpc-hz1natop0000000000",
                  "vSwitchId": "vsw-hz11natop000000000"}},
    ]
    for obj in objects:
        kubectl("create", "-f", "-", input=json.dumps(obj))
    port = free_port()
    operator = Process([natop_bin, "run", f"--kubeconfig={kubeconfig}",
                        f"--metrics-address=127.0.0.1:{port}", f"--watch-namespace={namespace}"],
                       env={"PATH": os.environ.get("PATH", ""), "POD_NAMESPACE": "natop-system"})

    def names() -> set[str]:
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
        found: set[str] = set()
        suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
        for metric, kind in re.findall(r"^# TYPE (\S+) (\S+)$", body if status == 200 else "", re.M):
            found.update(metric + s for s in suffixes.get(kind, [""]))
        return found

    try:
        wait_for("every metric of the dashboard", lambda: wanted <= names(), 90, interval=0.5)
        return names()
    except BaseException:
        print(sorted(names()))
        print(operator.output()[-3000:])
        raise
    finally:
        operator.stop()

def test_grafana_dashboard_uses_only_metrics_natop_serves(natop_bin, kubectl, kubeconfig, deployed):
    dashboard = json.loads((DOCS / "grafana" / "natop-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids repeat"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    exprs = []
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        for target in p["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", p["title"]
            exprs.append(target["expr"])
    used = {m for e in exprs for m in re.findall(r"\bnatop_[a-z_]+", e)}
    assert len(used) >= 6, used
    exposed = exposed_metrics(natop_bin, kubectl, kubeconfig, used)
    assert used <= exposed, f"not exposed by natop: {sorted(used - exposed)}"
    # Every kind of metric natop exposes is on the dashboard.
    families = {re.sub(r"_(total|bucket|sum|count)$", "", m) for m in exposed if m.startswith("natop_")}
    assert families <= {re.sub(r"_(total|bucket|sum|count)$", "", m) for m in used}, families


def test_docs_link_what_exists():
    readme = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\(((?:docs|deploy|charts)/[^)#]*)\)", readme):
        assert (ROOT / link).exists(), link
    flux = (DOCS / "flux.md").read_text()
    for path in re.findall(r"path: \./(\S+)", flux):
        if path != "nat":
            assert (ROOT / path).exists(), path
    assert Path(ROOT / "deploy" / "crds" / "kustomization.yaml").exists()
