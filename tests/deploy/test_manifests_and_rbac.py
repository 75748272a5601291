"""deploy/ and deploy/samples/ against the local API server, and natop running
with exactly the chart's RBAC: the token of deploy/'s ServiceAccount, the
Deployment's own arguments."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import (
    DEPLOY,
    ROOT,
    SAMPLES,
    Emulator,
    Kubectl,
    Process,
    container_args,
    free_port,
    http_get,
    samples_for,
    service_account_kubeconfig,
    wait_for,
)

NAMESPACE = "natop-system"
SAMPLE_NAMESPACE = "natop-demo"
NATOP_KINDS = ["natgateways", "forwardentries", "snatentries", "bandwidthpackages",
               "ipv6internetbandwidths"]


def sample_objects() -> list[dict]:
    docs = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


@pytest.mark.compat
def test_kustomizations_build(kubectl: Kubectl):
    built = [d for d in yaml.safe_load_all(kubectl("kustomize", str(DEPLOY)).stdout) if d]
    committed = [d for d in yaml.safe_load_all((DEPLOY / "natop.yaml").read_text()) if d]
    assert len(built) == len(committed) + 1
    assert {"kind": "Namespace", "name": NAMESPACE} in [
        {"kind": d["kind"], "name": d["metadata"]["name"]} for d in built]
    crds = [d for d in yaml.safe_load_all(kubectl("kustomize", str(DEPLOY / "crds")).stdout) if d]
    assert sorted(d["metadata"]["name"] for d in crds) == sorted(
        p.name.removesuffix(".yaml") for p in (ROOT / "crds").glob("*.yaml"))


def test_samples_cover_every_kind_with_comments():
    kinds = {d["kind"] for d in sample_objects()}
    assert {"Namespace", "Secret", "ProviderConfig", "NatGateway", "ForwardEntry", "SnatEntry",
            "BandwidthPackage", "Ipv6InternetBandwidth"} <= kinds
    for path in SAMPLES.glob("*.yaml"):
        assert path.read_text().startswith("#"), f"{path.name} starts without a comment"


def ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    for c in status.get("conditions", []):
        if c["type"] == "Ready":
            return (c["status"] == "True"
                    and status.get("observedGeneration") == obj["metadata"].get("generation"))
    return False


def summary(objects: list[dict]) -> str:
    out = []
    for o in objects:
        reason = next((c["reason"] for c in (o.get("status") or {}).get("conditions", [])
                       if c["type"] == "Ready"), "-")
        out.append(f"{o['kind']}/{o['metadata']['name']}={reason}")
    return " ".join(out)


@pytest.mark.compat
def test_operator_with_the_charts_rbac_reconciles_every_sample_and_cleans_up(
        kubectl: Kubectl, crds, emulator: Emulator, natop_bin, tmp_path):
    # deploy/, server-side, twice (the second apply changes nothing and fails nothing).
    for _ in range(2):
        kubectl("apply", "--server-side", "-k", str(DEPLOY))
    deployment = kubectl.json("-n", NAMESPACE, "get", "deployment", "natop")
    samples = samples_for(emulator.endpoint, tmp_path / "samples")
    kubectl("apply", "--server-side", "-f", str(samples))

    # natop as the Deployment would run it: its arguments (the metrics address
    # moved to loopback), its ServiceAccount's token, POD_NAMESPACE/POD_NAME.
    config = service_account_kubeconfig(kubectl, NAMESPACE, "natop", tmp_path / "natop.kubeconfig")
    args = [a for a in container_args(deployment) if not a.startswith("--metrics-address=")]
    assert args[0] == "run"
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "POD_NAMESPACE": NAMESPACE, "POD_NAME": "natop-test"}
    operator = Process([natop_bin, *args, f"--metrics-address=127.0.0.1:{port}",
                        f"--kubeconfig={config}"], env=env)
    expected = [d for d in sample_objects() if d["apiVersion"].startswith("natop.dev/")]
    try:
        def mine() -> list[dict]:
            # Only the samples: other tests may have left objects elsewhere.
            # (`get natop` lists the cluster-scoped ProviderConfigs too.)
            return [o for o in kubectl.json("-n", SAMPLE_NAMESPACE, "get", "natop")["items"]
                    if o["metadata"].get("namespace") == SAMPLE_NAMESPACE
                    ] + [kubectl.json("get", "providerconfig", "default")]

        def all_ready():
            assert operator.alive(), operator.output()[-3000:]
            objects = mine()
            if len(objects) == len(expected) and all(ready(o) for o in objects):
                return objects
            return None

        try:
            objects = wait_for("every sample Ready", all_ready, 240, interval=1)
        except BaseException:
            print(summary(mine()))
            print(operator.output()[-5000:])
            raise
        assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == sorted(
            (d["kind"], d["metadata"]["name"]) for d in expected)
        # The cloud holds what the samples describe.
        region = emulator.state()["world"]["alibaba"]["1380000000000001"]["regions"]["cn-hangzhou"]
        assert len(region["natGateways"]) == 1
        assert len(region["forwardEntries"]) == 3
        assert len(region["snatEntries"]) == 1
        assert len(region["bandwidthPackages"]) == 1
        # Nothing was refused for want of a permission ("User ... cannot list
        # resource ..."; objects other tests left in terminating namespaces
        # may be refused events for another reason).
        denied = re.findall(r"cannot [a-z]+ resource[^,]{0,120}", operator.output())
        assert denied == [], denied[:5]
        status, body = http_get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200, body

        # Deleting the samples deletes what natop made in the cloud.
        for kind in NATOP_KINDS:
            kubectl("-n", SAMPLE_NAMESPACE, "delete", kind, "--all", "--wait=false")
        wait_for("the samples' objects to go", lambda: not any(
            kubectl.json("-n", SAMPLE_NAMESPACE, "get", kind)["items"] for kind in NATOP_KINDS), 180,
            interval=1)
        region = emulator.state()["world"]["alibaba"]["1380000000000001"]["regions"]["cn-hangzhou"]
        for table in ["natGateways", "forwardEntries", "snatEntries", "bandwidthPackages"]:
            assert region[table] == {} or all(
                v.get("wire", {}).get("Status") == "Deleting" for v in region[table].values()), table
        address = region["ipv6Addresses"]["ipv6-hz01natop00000000"]["wire"]
        assert address.get("NetworkType", "Private") == "Private", address
    finally:
        # The objects go while natop still runs (their finalizers need it),
        # then the rest of the samples.
        try:
            if operator.alive():
                for kind in NATOP_KINDS:
                    kubectl("-n", SAMPLE_NAMESPACE, "delete", kind, "--all", "--wait=false",
                            check=False)
                kubectl("-n", SAMPLE_NAMESPACE, "wait", "--for=delete", "--timeout=120s",
                        ",".join(NATOP_KINDS), "--all", check=False, timeout=150)
        finally:
            operator.stop()
            kubectl("delete", "--wait=false", "--ignore-not-found", "-f", str(samples), check=False)


def test_the_service_account_cannot_read_secrets_where_it_was_not_granted(
        kubectl: Kubectl, crds, emulator: Emulator, natop_bin, tmp_path):
    kubectl("apply", "--server-side", "-k", str(DEPLOY))
    other = f"natop-other-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", other)
    try:
        secret = {"accessKeyId": "LTAI5tNatopDemoKey01", "accessKeySecret": "natop-demo-secret-01"}
        for ns in (NAMESPACE, other):
            kubectl("-n", ns, "create", "secret", "generic", "rbac-probe",
                    *[f"--from-literal={k}={v}" for k, v in secret.items()])
        config = service_account_kubeconfig(kubectl, NAMESPACE, "natop", tmp_path / "natop.kubeconfig")
        as_natop = Kubectl(str(config))
        # Granted: its own namespace. Not granted: any other.
        assert as_natop("-n", NAMESPACE, "get", "secret", "rbac-probe", check=False).returncode == 0
        refused = as_natop("-n", other, "get", "secret", "rbac-probe", check=False)
        assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
        refused = as_natop("get", "secrets", "-A", check=False)
        assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()

        # natop told it may read the other namespace (the flag), but not granted
        # it (RBAC): the ProviderConfig says so, and the secret never shows.
        name = f"rbac-{other}"
        kubectl("apply", "--server-side", "-f", "-", input=json.dumps({
            "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": name},
            "spec": {"provider": "Alibaba", "region": "cn-hangzhou", "endpoint": emulator.endpoint,
                     "credentials": {"secretRef": {"namespace": other, "name": "rbac-probe"}}},
        }))
        port = free_port()
        env = {"PATH": os.environ.get("PATH", ""), "POD_NAMESPACE": NAMESPACE}
        operator = Process([natop_bin, "run", f"--kubeconfig={config}",
                            f"--metrics-address=127.0.0.1:{port}",
                            f"--secret-namespace={NAMESPACE},{other}"], env=env)
        try:
            def refused_condition():
                obj = kubectl.json("get", "providerconfig", name)
                ready_condition = [c for c in (obj.get("status") or {}).get("conditions", [])
                                   if c["type"] == "Ready"]
                if ready_condition and ready_condition[0]["status"] == "False" and \
                        "forbidden" in ready_condition[0]["message"].lower():
                    return ready_condition[0]
                return None

            condition = wait_for("the ProviderConfig to report the refusal", refused_condition, 60)
            assert secret["accessKeySecret"] not in json.dumps(condition)
            assert secret["accessKeySecret"] not in operator.output()
        finally:
            operator.stop()
    finally:
        kubectl("delete", "providerconfig", f"rbac-{other}", "--ignore-not-found", check=False)
        kubectl("-n", NAMESPACE, "delete", "secret", "rbac-probe", "--ignore-not-found", check=False)
        kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_deploy_files_are_listed_in_the_kustomization():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["namespace.yaml", "natop.yaml"]
    assert all((DEPLOY / r).exists() for r in kustomization["resources"])
    assert Path(DEPLOY / "crds" / "kustomization.yaml").exists()


def test_operator_with_namespaced_rbac_reconciles_only_the_watched_namespaces(
        kubeconfig, kubectl: Kubectl, crds, emulator: Emulator, natop_bin, tmp_path):
    """The chart with `watchNamespaces: [a, b]` grants natop's kinds in a and b
    only; natop, with exactly that RBAC and the Deployment's arguments,
    reconciles a and b and leaves c alone."""
    import helm_python as helm

    suffix = uuid.uuid4().hex[:6]
    release, namespace = f"natop-ns-{suffix}", f"natop-ns-{suffix}"
    a, b, c = (f"natop-ns-{suffix}-{x}" for x in "abc")
    for ns in (a, b, c):
        kubectl("create", "namespace", ns)
    values = {"watchNamespaces": [a, b], "ownerId": f"ns-{suffix}", "crds": {"enabled": False}}
    config_name = f"ns-{suffix}"
    operator = None
    with helm.Config(kubeconfig_path=kubeconfig, namespace=namespace) as helm_config:
        helm_config.install(str(ROOT / "charts" / "natop"), release, values, namespace=namespace,
                            create_namespace=True, timeout=120)
        try:
            kubectl("-n", namespace, "create", "secret", "generic", "alibaba",
                    "--from-literal=accessKeyId=LTAI5tNatopDemoKey01",
                    "--from-literal=accessKeySecret=natop-demo-secret-01")
            kubectl("apply", "--server-side", "-f", "-", input=json.dumps({
                "apiVersion": "natop.dev/v1alpha1", "kind": "ProviderConfig",
                "metadata": {"name": config_name},
                "spec": {"provider": "Alibaba", "region": "cn-hangzhou",
                         "endpoint": emulator.endpoint, "allowedNamespaces": [a, b, c],
                         "credentials": {"secretRef": {"namespace": namespace,
                                                       "name": "alibaba"}}},
            }))
            for ns in (a, b, c):
                kubectl("apply", "--server-side", "-f", "-", input=json.dumps({
                    "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
                    "metadata": {"name": "edge", "namespace": ns},
                    "spec": {"vpcId": "vpc-hz1natop0000000000", "natType": "Normal",
                             "specification": "Small", "name": f"gw-{ns}",
                             "providerConfigRef": {"name": config_name}},
                }))
            deployment = kubectl.json("-n", namespace, "get", "deployment", release)
            token = service_account_kubeconfig(kubectl, namespace, release,
                                               tmp_path / "natop.kubeconfig")
            args = [x for x in container_args(deployment) if not x.startswith("--metrics-address=")]
            assert f"--watch-namespace={a},{b}" in args
            port = free_port()
            env = {"PATH": os.environ.get("PATH", ""), "POD_NAMESPACE": namespace,
                   "POD_NAME": "natop-test"}
            operator = Process([natop_bin, *args, f"--metrics-address=127.0.0.1:{port}",
                                f"--kubeconfig={token}"], env=env)

            def gateway(ns: str) -> dict:
                return kubectl.json("-n", ns, "get", "natgateway", "edge")

            def both_ready():
                assert operator.alive(), operator.output()[-3000:]
                return all(ready(gateway(ns)) for ns in (a, b))

            try:
                wait_for("the gateways in a and b to be Ready", both_ready, 180, interval=1)
            except BaseException:
                print(summary([gateway(ns) for ns in (a, b, c)]))
                print(operator.output()[-5000:])
                raise
            config = kubectl.json("get", "providerconfig", config_name)
            assert ready(config), config.get("status")
            # c: no status, no finalizer, nothing in the cloud.
            untouched = gateway(c)
            assert "status" not in untouched, untouched["status"]
            assert not untouched["metadata"].get("finalizers"), untouched["metadata"]
            region = emulator.state()["world"]["alibaba"]["1380000000000001"]["regions"][
                "cn-hangzhou"]
            names = sorted(g["wire"].get("Name") for g in region["natGateways"].values())
            assert names == sorted([f"gw-{a}", f"gw-{b}"]), names
            # Nothing was refused: no forbidden list, watch, patch or event.
            output = operator.output()
            denied = re.findall(r"(?i)(forbidden|cannot [a-z]+ resource)[^\n]{0,160}", output)
            assert denied == [], denied[:5]
        finally:
            try:
                if operator is not None and operator.alive():
                    for ns in (a, b):
                        kubectl("-n", ns, "delete", "natgateway", "edge", "--wait=false",
                                check=False)
                    for ns in (a, b):
                        kubectl("-n", ns, "wait", "--for=delete", "--timeout=120s",
                                "natgateway/edge", check=False, timeout=150)
            finally:
                if operator is not None:
                    operator.stop()
                kubectl("delete", "providerconfig", config_name, "--ignore-not-found",
                        "--wait=false", check=False)
                helm_config.uninstall(release)
                for ns in (a, b, c, namespace):
                    kubectl("delete", "namespace", ns, "--wait=false", check=False)
