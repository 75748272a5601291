"""The Helm chart charts/natop through the real Helm engine: lint, render with
default and other values, schema, and an install into the local API server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid

import helm_python as helm
import pytest
import yaml

from conftest import (
    CHART,
    ROOT,
    Kubectl,
    adopt_crds,
    container_args,
    find,
    one,
    render,
    wait_for,
)

KINDS = ["providerconfigs", "natgateways", "forwardentries", "snatentries",
         "bandwidthpackages", "ipv6internetbandwidths"]


def test_chart_lints_clean():
    result = helm.lint(str(CHART))
    assert result["errors"] == [], result
    assert result["messages"] == [], result


OPENSHIFT = {
    "podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
    "securityContext": {"runAsUser": None},
}


@pytest.mark.parametrize("values", [
    {},
    {"watchNamespaces": ["team-a", "team-b"], "ownerId": "prod"},
    OPENSHIFT,
    {"crds": {"enabled": False}},
    {"global": {"imageRegistry": "registry.example"}, "nameOverride": "nat",
     "extraArgs": ["--min-drift-interval=1m"]},
])
def test_chart_lints_clean_strictly(values):
    """`helm lint --strict`: warnings count as errors."""
    result = helm.lint(str(CHART), values, strict=True)
    assert result["errors"] == [], result
    assert result["messages"] == [], result


def rendered_crds(values: dict | None = None) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in render(values)
            if d["kind"] == "CustomResourceDefinition"}


def test_chart_crds_are_natops_crds(natop_bin):
    """The CRDs the chart renders are exactly what `natop crds` generates,
    plus the release's labels and the keep annotation."""
    generated = list(yaml.safe_load_all(subprocess.run(
        [natop_bin, "crds"], check=True, capture_output=True, text=True).stdout))
    generated = {d["metadata"]["name"]: d for d in generated if d}
    in_chart = rendered_crds()
    assert sorted(in_chart) == sorted(generated)
    for name, crd in in_chart.items():
        metadata = crd["metadata"]
        assert metadata.pop("annotations") == {"helm.sh/resource-policy": "keep"}, name
        assert metadata.pop("labels")["app.kubernetes.io/managed-by"] == "Helm", name
        assert crd == generated[name], name
    # Not in crds/: Helm would install those once, outside the release, and
    # never upgrade them.
    with helm.Chart.load(str(CHART)) as chart:
        assert chart.crds == []
    # Without keep, no annotation; disabled, no CRD at all.
    for crd in rendered_crds({"crds": {"keep": False}}).values():
        assert "annotations" not in crd["metadata"]
    assert rendered_crds({"crds": {"enabled": False}}) == {}


def test_default_values_render_a_hardened_least_privilege_operator():
    docs = render()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["CustomResourceDefinition"] * 6 + [
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
        "Role", "RoleBinding", "Service", "Deployment",
    ])
    # No budget for one replica, no ServiceMonitor, NetworkPolicy or ProviderConfig.
    deployment = one(docs, "Deployment", "natop", "natop-system")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 1
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["image"] == "ghcr.io/natop/natop:0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container_args(deployment) == [
        "run", "--metrics-address=0.0.0.0:8080", "--log-level=info", "--log-format=json",
        "--drift-interval=10m", "--concurrency=8", "--secret-namespace=natop-system",
        "--leader-elect", "--leader-election-namespace=natop-system",
        "--leader-election-lease=natop-leader",
    ]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    # The only token: projected, short-lived.
    [volume] = pod["volumes"]
    token = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert token["expirationSeconds"] == 3600
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False

    # Cluster-wide: natop's kinds, their status and finalizers, events. No Secrets.
    rules = one(docs, "ClusterRole")["rules"]
    for rule in rules:
        assert "secrets" not in rule["resources"]
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        assert set(rule["apiGroups"]) <= {"natop.dev", "events.k8s.io", ""}
    # Without ownerId: one namespace read once, to derive the owner id.
    [namespaces] = [r for r in rules if r["apiGroups"] == [""]]
    assert namespaces == {"apiGroups": [""], "resources": ["namespaces"],
                          "resourceNames": ["kube-system"], "verbs": ["get"]}
    granted = {(r, v) for rule in rules for r in rule["resources"] for v in rule["verbs"]}
    for kind in KINDS:
        assert {(kind, "list"), (kind, "watch"), (kind, "patch"),
                (f"{kind}/status", "patch"), (f"{kind}/finalizers", "update")} <= granted
    assert ("events", "create") in granted
    assert not any(v in {"create", "delete", "update", "deletecollection"} for r, v in granted
                   if r in KINDS)
    # Secrets: a Role in the release namespace only, read-only.
    secrets = one(docs, "Role", "natop-secrets", "natop-system")
    assert secrets["rules"] == [{"apiGroups": [""], "resources": ["secrets"],
                                 "verbs": ["get", "list", "watch"]}]
    binding = one(docs, "RoleBinding", "natop-secrets", "natop-system")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "natop",
                                    "namespace": "natop-system"}]
    # Leases: in its own namespace, writes only to its Lease.
    lease_role = one(docs, "Role", "natop-leader-election", "natop-system")
    for rule in lease_role["rules"]:
        assert rule["resources"] == ["leases"]
        if rule["verbs"] != ["create"]:
            assert rule["resourceNames"] == ["natop-leader"]
    service = one(docs, "Service", "natop-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


OTHER_VALUES = {
    "image": {"repository": "registry.example/natop", "tag": "1.2.3"},
    "replicaCount": 3,
    "leaderElection": {"leaseName": "natop-blue"},
    "logLevel": "info,natop=debug",
    "logFormat": "text",
    "driftInterval": "2m",
    "concurrency": 4,
    "watchNamespaces": ["team-a", "team-b"],
    "labelSelector": "shard=blue",
    "ownerId": "prod-eu",
    "secretNamespaces": ["creds-a", "creds-b"],
    "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}],
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "networkPolicy": {"enabled": True, "apiServerCIDRs": ["10.0.0.1/32"], "apiServerPort": 6443},
    "providerConfig": {"create": True, "name": "blue", "region": "cn-beijing",
                       "allowedNamespaces": ["team-a", "team-b"],
                       "secretRef": {"name": "alibaba-blue"},
                       "rateLimit": {"qps": 5, "burst": 10}},
}


def test_other_values_render_what_they_ask_for():
    docs = render(OTHER_VALUES, name="blue", namespace="ops")
    deployment = one(docs, "Deployment", "blue-natop", "ops")
    assert deployment["spec"]["replicas"] == 3
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/natop:1.2.3"
    assert container_args(deployment) == [
        "run", "--metrics-address=0.0.0.0:8080", "--log-level=info,natop=debug",
        "--log-format=text", "--drift-interval=2m", "--concurrency=4",
        "--secret-namespace=creds-a,creds-b", "--watch-namespace=team-a,team-b",
        "--owner-id=prod-eu", "--label-selector=shard=blue", "--leader-elect", "--leader-election-namespace=ops",
        "--leader-election-lease=natop-blue",
    ]
    assert {"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"} in container["env"]
    # A Role reading Secrets in each allowed namespace, and none elsewhere.
    # With an owner id, no namespace is read.
    assert not [r for r in one(docs, "ClusterRole")["rules"] if r["apiGroups"] == [""]]
    roles = find(docs, "Role", "blue-natop-secrets")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["creds-a", "creds-b"]
    assert one(docs, "Role", "blue-natop-leader-election", "ops")["rules"][1]["resourceNames"] == ["natop-blue"]
    budget = one(docs, "PodDisruptionBudget", "blue-natop", "ops")
    assert budget["spec"]["maxUnavailable"] == 1
    monitor = one(docs, "ServiceMonitor", "blue-natop", "ops")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    policy = one(docs, "NetworkPolicy", "blue-natop", "ops")
    assert policy["spec"]["egress"][1] == {
        "ports": [{"port": 6443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}]}
    config = one(docs, "ProviderConfig", "blue")
    assert config["spec"] == {
        "provider": "Alibaba", "region": "cn-beijing",
        "allowedNamespaces": ["team-a", "team-b"],
        "credentials": {"secretRef": {"namespace": "ops", "name": "alibaba-blue"}},
        "rateLimit": {"qps": 5, "burst": 10},
    }


def test_namespace_selectors_let_natop_read_namespaces_and_nothing_else():
    def namespace_rules(values):
        docs = render(values, name="natop", namespace="natop-system")
        return [r for r in one(docs, "ClusterRole")["rules"] if r["resources"] == ["namespaces"]]
    assert namespace_rules({"ownerId": "prod"}) == []
    assert namespace_rules({"ownerId": "prod", "namespaceSelectors": True}) == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]
    assert namespace_rules({}) == [{"apiGroups": [""], "resources": ["namespaces"],
                                   "resourceNames": ["kube-system"], "verbs": ["get"]}]


def test_a_provider_config_may_take_another_credential_source():
    role = "acs:ram::1380000000000002:role/natop"
    for credentials in [
        {"rrsa": {}},
        {"rrsa": {"roleArn": role, "sessionName": "natop-blue"}},
        {"assumeRole": {"roleArn": role, "externalId": "x1", "source": {"ecsRamRole": {}}}},
        {"ecsRamRole": {"roleName": "natop-node"}},
    ]:
        docs = render({"providerConfig": {"create": True, "credentials": credentials},
                       "serviceAccount": {"annotations": {
                           "pod-identity.alibabacloud.com/role-name": "natop"}}},
                      name="natop", namespace="natop-system")
        assert one(docs, "ProviderConfig", "default")["spec"]["credentials"] == credentials
        account = one(docs, "ServiceAccount", "natop", "natop-system")
        assert account["metadata"]["annotations"] == {
            "pod-identity.alibabacloud.com/role-name": "natop"}


@pytest.mark.parametrize("values, complaint", [
    ({"providerConfig": {"credentials": {"token": "x"}}}, "credentials"),
    ({"providerConfig": {"credentials": {"assumeRole": {"roleArn": "r"}}}}, "credentials"),
    ({"replicaCount": 0}, "replicaCount"),
    ({"logFormat": "xml"}, "logFormat"),
    ({"driftInterval": "soon"}, "driftInterval"),
    ({"concurrency": "8"}, "concurrency"),
    ({"watchNamespaces": ["Team_A"]}, "watchNamespaces"),
    ({"secretNamespaces": "natop-system"}, "secretNamespaces"),
    ({"replicas": 2}, "replicas"),
    ({"ownerId": "has space"}, "ownerId"),
    ({"providerConfig": {"provider": "AWS"}}, "provider"),
    ({"providerConfig": {"rateLimit": {"qps": 5}}}, "burst"),
    ({"serviceAccount": {"tokenExpirationSeconds": 60}}, "tokenExpirationSeconds"),
])
def test_the_schema_refuses_bad_values(values, complaint):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError) as refused:
            chart.validate_schema(values)
        assert complaint in str(refused.value)
        # Rendering refuses them too.
        with pytest.raises(helm.HelmError):
            chart.render(values, name="natop", namespace="natop-system")


@pytest.mark.parametrize("values, complaint", [
    ({"replicaCount": 2, "leaderElection": {"enabled": False}}, "needs leaderElection"),
    ({"providerConfig": {"create": True}}, "secretRef.name"),
    ({"providerConfig": {"create": True, "secretRef": {"name": "s"},
                         "credentials": {"rrsa": {}}}}, "not both"),
])
def test_templates_refuse_values_that_cannot_work(values, complaint):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError) as refused:
            chart.render(values, name="natop", namespace="natop-system")
    assert complaint in str(refused.value)


NATOP_CRDS = sorted(p.name.removesuffix(".yaml") for p in (CHART / "files" / "crds").glob("*.yaml"))


@pytest.mark.compat
def test_installs_into_the_api_server_as_the_values_ask(kubeconfig, kubectl: Kubectl):
    """The real chart, with its CRDs, installed by Helm's engine. On a fresh
    cluster (the compatibility pass sets NATOP_FRESH_CLUSTER=1) Helm is the
    one that creates the CRDs; CRDs another tool installed are handed to the
    release first, as the README says."""
    chart = str(CHART)
    before = {name for name in NATOP_CRDS
              if kubectl("get", "crd", name, check=False).returncode == 0}
    if os.environ.get("NATOP_FRESH_CLUSTER") == "1":
        assert not before, f"the cluster is not fresh: {sorted(before)}"
    suffix = uuid.uuid4().hex[:6]
    namespace = f"natop-helm-{suffix}"
    creds = [f"natop-creds-{suffix}-a", f"natop-creds-{suffix}-b"]
    team = f"natop-team-{suffix}"
    for ns in [*creds, team]:
        kubectl("create", "namespace", ns)
    values = {
        "replicaCount": 2,
        "secretNamespaces": creds,
        "watchNamespaces": [team],
        "logFormat": "text",
        "driftInterval": "5m",
        "providerConfig": {"create": True, "name": f"helm-{suffix}",
                           "secretRef": {"namespace": creds[0], "name": "alibaba"}},
    }
    release = f"natop-{suffix}"
    adopt_crds(kubectl, sorted(before), release, namespace)
    with helm.Config(kubeconfig_path=kubeconfig, namespace=namespace) as config:
        # A ProviderConfig cannot be in the release that first creates its
        # CRD (Helm maps every kind before it applies anything): on a fresh
        # cluster it comes with the next upgrade, as the README says.
        first = values if before else {**values, "providerConfig": {"create": False}}
        installed = config.install(chart, release, first, namespace=namespace,
                                   create_namespace=True, timeout=120)
        if not before:
            installed = config.upgrade(chart, release, values, namespace=namespace, timeout=120)
        try:
            assert installed["status"] == "deployed", installed
            for name in NATOP_CRDS:
                kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
                crd = kubectl.json("get", "crd", name, "--show-managed-fields")
                if name not in before:
                    # Helm's engine (in this test's process) created it; Helm 4
                    # does so by server-side apply.
                    fields = crd["metadata"].get("managedFields", [])
                    by_helm = [(f["manager"], f["operation"]) for f in fields
                               if f["manager"] not in ("kube-apiserver", "kubectl", "natop-tests")]
                    assert by_helm, (name, fields)
                    assert all(op == "Apply" for _, op in by_helm), (name, by_helm)
                # The CEL rules are there, as the server stored them.
                rules = "x-kubernetes-validations" in (CHART / "files" / "crds" / f"{name}.yaml").read_text()
                assert rules == ("x-kubernetes-validations" in json.dumps(crd["spec"])), name
            deployment = kubectl.json("-n", namespace, "get", "deployment", release)
            assert deployment["spec"]["replicas"] == 2
            args = container_args(deployment)
            assert f"--secret-namespace={creds[0]},{creds[1]}" in args
            assert f"--watch-namespace={team}" in args
            assert "--drift-interval=5m" in args and "--log-format=text" in args
            assert f"--leader-election-namespace={namespace}" in args
            # Two replicas: a budget, with the API version this server has.
            budget = kubectl.json("-n", namespace, "get", "poddisruptionbudget", release)
            assert budget["spec"]["maxUnavailable"] == 1
            config_object = kubectl.json("get", "providerconfig", f"helm-{suffix}")
            assert config_object["spec"]["credentials"]["secretRef"] == {
                "namespace": creds[0], "name": "alibaba"}
            # The ServiceAccount reads Secrets exactly where the values say.
            account = f"system:serviceaccount:{namespace}:{release}"

            def can(*args: str) -> bool:
                out = kubectl("auth", "can-i", *args, "--as", account, check=False).stdout.strip()
                return out == "yes"

            for ns in creds:
                assert can("get", "secrets", "-n", ns)
                assert can("watch", "secrets", "-n", ns)
                assert not can("create", "secrets", "-n", ns)
            assert not can("get", "secrets", "-n", namespace)
            assert not can("get", "secrets", "-n", "kube-system")
            assert not can("list", "secrets", "--all-namespaces")
            assert can("patch", "natgateways.natop.dev", "-n", team)
            # The kinds only where natop watches.
            assert not can("patch", "natgateways.natop.dev", "-n", creds[0])
            assert not can("list", "natgateways.natop.dev", "--all-namespaces")
            assert can("list", "providerconfigs.natop.dev")
            assert can("update", "leases.coordination.k8s.io/natop-leader", "-n", namespace)
            assert not can("update", "leases.coordination.k8s.io/other", "-n", namespace)
            assert not can("create", "natgateways.natop.dev", "-n", team)
            assert not can("delete", "natgateways.natop.dev", "-n", team)
            assert not can("get", "configmaps", "-n", namespace)
        finally:
            config.uninstall(release)
    wait_for("the release's objects to go",
             lambda: kubectl("-n", namespace, "get", "deployment", release, check=False).returncode != 0,
             60)
    assert kubectl("get", "clusterrole", release, check=False).returncode != 0
    assert kubectl("-n", creds[0], "get", "role", f"{release}-secrets", check=False).returncode != 0
    # crds.keep (the default): the CRDs stay.
    for name in NATOP_CRDS:
        kubectl("get", "crd", name)
    for ns in [*creds, team, namespace]:
        kubectl("delete", "namespace", ns, "--wait=false")


def test_notes_tell_the_next_steps():
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render({}, name="natop", namespace="natop-system", is_install=True)
    notes = next(v for k, v in out.items() if k.endswith("NOTES.txt"))
    assert "rollout status deployment/natop" in notes
    assert "create secret generic" in notes and "natop-system" in notes
    assert "kubectl get natop -A" in notes


def test_deploy_manifests_are_the_chart_rendered_with_defaults():
    import generate

    committed = (ROOT / "deploy" / "natop.yaml").read_text()
    assert committed == generate.manifests(), "deploy/natop.yaml drifted: run `make manifests`"
    # Every object of the default render is in it but the CRDs (deploy/crds),
    # and nothing else.
    objects = [d for d in yaml.safe_load_all(committed) if d]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in objects) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in render()
        if d["kind"] != "CustomResourceDefinition")


NAMESPACED_KINDS = [k for k in KINDS if k != "providerconfigs"]


def granted(rules: list[dict]) -> set[tuple[str, str]]:
    return {(r, v) for rule in rules for r in rule["resources"] for v in rule["verbs"]}


def test_watched_namespaces_get_roles_and_nothing_cluster_wide_for_the_kinds():
    docs = render({"watchNamespaces": ["a", "b", "a"]}, name="blue", namespace="ops")
    cluster = granted(one(docs, "ClusterRole", "blue-natop")["rules"])
    for kind in NAMESPACED_KINDS:
        for suffix in ["", "/status", "/finalizers"]:
            assert not any(r == kind + suffix for r, _ in cluster), (kind + suffix, cluster)
    assert not any(r == "events" for r, _ in cluster)
    # ProviderConfigs are cluster-scoped: the ClusterRole keeps them.
    assert {("providerconfigs", "watch"), ("providerconfigs/status", "patch"),
            ("providerconfigs/finalizers", "update")} <= cluster
    roles = {r["metadata"]["namespace"]: r for r in find(docs, "Role", "blue-natop-objects")}
    # A and b, once each; `default` for the events about ProviderConfigs.
    assert sorted(roles) == ["a", "b", "default"]
    for namespace in ["a", "b"]:
        rules = granted(roles[namespace]["rules"])
        for kind in NAMESPACED_KINDS:
            assert {(kind, "list"), (kind, "watch"), (kind, "patch"),
                    (f"{kind}/status", "patch"), (f"{kind}/finalizers", "update")} <= rules
        assert ("events", "create") in rules
        binding = one(docs, "RoleBinding", "blue-natop-objects", namespace)
        assert binding["roleRef"]["name"] == "blue-natop-objects"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "blue-natop",
                                        "namespace": "ops"}]
    assert granted(roles["default"]["rules"]) == {("events", "create"), ("events", "patch")}
    # Every namespace: the ClusterRole has the kinds and no Role is made for them.
    docs = render({}, name="blue", namespace="ops")
    assert {(k, "watch") for k in KINDS} <= granted(one(docs, "ClusterRole")["rules"])
    assert find(docs, "Role", "blue-natop-objects") == []


def test_name_overrides_name_every_resource():
    def names(values):
        return sorted((d["kind"], d["metadata"]["name"]) for d in render(values, name="blue", namespace="ops")
                      if d["kind"] != "CustomResourceDefinition")
    overridden = names({"fullnameOverride": "nat-ops", "watchNamespaces": ["a"]})
    assert overridden == sorted([
        ("ServiceAccount", "nat-ops"), ("ClusterRole", "nat-ops"), ("ClusterRoleBinding", "nat-ops"),
        ("Role", "nat-ops-objects"), ("RoleBinding", "nat-ops-objects"),
        ("Role", "nat-ops-objects"), ("RoleBinding", "nat-ops-objects"),
        ("Role", "nat-ops-secrets"), ("RoleBinding", "nat-ops-secrets"),
        ("Role", "nat-ops-leader-election"), ("RoleBinding", "nat-ops-leader-election"),
        ("Service", "nat-ops-metrics"), ("Deployment", "nat-ops"),
    ])
    assert all(name.startswith("blue-nat") and "natop" not in name
               for _, name in names({"nameOverride": "nat"}))
    docs = render({"nameOverride": "nat"}, name="blue", namespace="ops")
    deployment = one(docs, "Deployment", "blue-nat")
    assert deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "nat"
    assert one(docs, "Service", "blue-nat-metrics")["spec"]["selector"] == \
        deployment["spec"]["selector"]["matchLabels"]
    assert one(docs, "ClusterRoleBinding", "blue-nat")["subjects"][0]["name"] == "blue-nat"


def test_extra_args_volumes_and_mounts_reach_the_pod():
    docs = render({
        "extraArgs": ["--min-drift-interval=1m", "--log-level=debug"],
        "extraEnv": [{"name": "SSL_CERT_DIR", "value": "/etc/natop/ca"}],
        "extraVolumes": [{"name": "ca", "configMap": {"name": "corporate-ca"}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/natop/ca", "readOnly": True}],
    })
    deployment = one(docs, "Deployment", "natop")
    pod = deployment["spec"]["template"]["spec"]
    args = container_args(deployment)
    assert args[-2:] == ["--min-drift-interval=1m", "--log-level=debug"]
    assert args[0] == "run"
    [container] = pod["containers"]
    assert {"name": "SSL_CERT_DIR", "value": "/etc/natop/ca"} in container["env"]
    assert [v["name"] for v in pod["volumes"]] == ["kube-api-access", "ca"]
    assert pod["volumes"][1] == {"name": "ca", "configMap": {"name": "corporate-ca"}}
    assert container["volumeMounts"][1] == {"name": "ca", "mountPath": "/etc/natop/ca",
                                            "readOnly": True}


def test_an_openshift_style_security_context_passes_the_schema_and_fixes_no_uid():
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(OPENSHIFT)
    pod = one(render(OPENSHIFT), "Deployment")["spec"]["template"]["spec"]
    security = pod["securityContext"]
    assert "runAsUser" not in security and "runAsGroup" not in security
    assert "fsGroup" not in security
    assert security["runAsNonRoot"] is True
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]["securityContext"]
    assert "runAsUser" not in container
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    # Replaced entirely, when asked.
    pod = one(render({"podSecurityContext": {"runAsNonRoot": True, "fsGroup": 1000}}),
              "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["fsGroup"] == 1000


@pytest.mark.parametrize("values, complaint", [
    ({"crds": {"install": True}}, "install"),
    ({"extraArgs": "--flag"}, "extraArgs"),
    ({"extraVolumes": [{"configMap": {"name": "x"}}]}, "name"),
    ({"extraVolumeMounts": [{"name": "ca"}]}, "mountPath"),
    ({"podSecurityContext": {"runAsUser": 0}}, "runAsUser"),
    ({"fullnameOverride": "Not_A_Name"}, "fullnameOverride"),
    ({"global": "x"}, "global"),
])
def test_the_schema_refuses_bad_new_values(values, complaint):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError) as refused:
            chart.validate_schema(values)
    assert complaint in str(refused.value)


def test_renders_as_a_subchart_with_global_values(tmp_path):
    """A parent chart with natop in charts/: Helm passes `global` to natop,
    whose strict schema must take it, and natop's values under `natop:`."""
    parent = tmp_path / "platform"
    (parent / "charts").mkdir(parents=True)
    (parent / "templates").mkdir()
    (parent / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": "platform", "version": "1.0.0",
        "dependencies": [{"name": "natop", "version": "0.1.0"}],
    }))
    (parent / "values.yaml").write_text(yaml.safe_dump({
        "global": {"imageRegistry": "registry.example", "labels": {"team": "net"}},
        "natop": {"fullnameOverride": "platform-nat", "watchNamespaces": ["team-a"]},
    }))
    (parent / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-platform\n"
        "data:\n  registry: {{ .Values.global.imageRegistry }}\n")
    shutil.copytree(CHART, parent / "charts" / "natop")
    with helm.Chart.load(str(parent)) as chart:
        out = chart.render({"global": {"environment": "prod"}}, name="platform",
                           namespace="platform", is_install=True)
    docs = [d for template, text in out.items() if not template.endswith("NOTES.txt")
            for d in yaml.safe_load_all(text) if d]
    deployment = one(docs, "Deployment", "platform-nat", "platform")
    assert "--watch-namespace=team-a" in container_args(deployment)
    assert one(docs, "ConfigMap", "platform-platform")["data"]["registry"] == "registry.example"
    assert len(find(docs, "CustomResourceDefinition")) == 6
    # Without `global` allowed, the schema would refuse exactly this render.
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema({"global": {"environment": "prod", "imageRegistry": "r"}})


def chart_copy_with_own_crds(into, group: str):
    """A copy of the chart whose CRDs are natop's under another API group, so
    that installing, upgrading and uninstalling them leaves natop's alone."""
    copy = into / "natop"
    shutil.copytree(CHART, copy)
    tag = group.split(".")[0]
    for path in (copy / "files" / "crds").glob("*.yaml"):
        text = path.read_text().replace("natop.dev", group)
        # Nor their names: kubectl's discovery cache remembers these CRDs
        # after they are gone, and `kubectl get natop` (the category) or
        # `kubectl get ngw` would then name a resource that no longer exists.
        text = re.sub(r"(categories:\n\s*- )natop\n", r"\1natop-test\n", text)
        text = re.sub(r"(shortNames:\n\s*- )(\S+)\n", rf"\g<1>\g<2>{tag}\n", text)
        path.write_text(text)
    return copy


def crd_exists(kubectl: Kubectl, name: str) -> bool:
    return kubectl("get", "crd", name, check=False).returncode == 0


def watch_caches_ready(kubectl: Kubectl, names: list[str]) -> bool:
    """Whether the API server's watch cache of each CRD `plural.group` has
    initialized (its own metric says so)."""
    metrics = kubectl("get", "--raw", "/metrics").stdout
    for name in names:
        plural, group = name.split(".", 1)
        series = (f'apiserver_watch_cache_initializations_total{{group="{group}",'
                  f'resource="{plural}"}}')
        if series not in metrics:
            return False
    return True


def crd_states(kubectl: Kubectl, names: list[str]) -> str:
    """What the API server says of each CRD still there: its finalizers and
    conditions, for a failure message."""
    states = []
    for name in names:
        crd = kubectl("get", "crd", name, "-o", "json", check=False)
        if crd.returncode != 0:
            continue
        doc = json.loads(crd.stdout)
        conditions = [(c["type"], c["status"], c.get("reason"), c.get("message"))
                      for c in doc.get("status", {}).get("conditions", [])]
        states.append(f"{name}: finalizers {doc['metadata'].get('finalizers')}, "
                      f"conditions {conditions}")
    return "; ".join(states)


@pytest.mark.compat
def test_helm_upgrade_changes_the_crds_and_uninstall_keeps_them(kubeconfig, kubectl: Kubectl,
                                                                tmp_path):
    suffix = uuid.uuid4().hex[:6]
    group = f"t{suffix}.natop.test"
    chart = chart_copy_with_own_crds(tmp_path, group)
    gateways = f"natgateways.{group}"
    names = [p.name.removesuffix(".yaml").replace("natop.dev", group)
             for p in (chart / "files" / "crds").glob("*.yaml")]
    assert len(names) == 6 and gateways in names
    namespace = f"natop-crds-{suffix}"
    release = f"natop-crds-{suffix}"
    values = {"rbac": {"create": False}, "ownerId": "crd-test"}
    try:
        with helm.Config(kubeconfig_path=kubeconfig, namespace=namespace) as config:
            config.install(str(chart), release, values, namespace=namespace,
                           create_namespace=True, timeout=120)
            for name in names:
                kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
            crd = kubectl.json("get", "crd", gateways)
            assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
            columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
            assert "Upgraded" not in columns

            # The next chart version changes a CRD: a printer column and a field.
            path = chart / "files" / "crds" / "natgateways.natop.dev.yaml"
            doc = yaml.safe_load(path.read_text())
            version = doc["spec"]["versions"][0]
            version["additionalPrinterColumns"].append(
                {"name": "Upgraded", "type": "string", "jsonPath": ".spec.upgradedField"})
            version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
                "upgradedField"] = {"type": "string", "description": "added by the upgrade"}
            path.write_text(yaml.safe_dump(doc))
            upgraded = config.upgrade(str(chart), release, values, namespace=namespace,
                                      timeout=120)
            assert upgraded["status"] == "deployed", upgraded

            def upgraded_crd():
                crd = kubectl.json("get", "crd", gateways)
                version = crd["spec"]["versions"][0]
                columns = [c["name"] for c in version["additionalPrinterColumns"]]
                fields = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
                return "Upgraded" in columns and "upgradedField" in fields

            wait_for("the API server's CRD to change", upgraded_crd, 30)
            # An object of the kind, to see that uninstall keeps it.
            kubectl("create", "namespace", f"{namespace}-objects")
            kubectl("apply", "--server-side", "-f", "-", input=json.dumps({
                "apiVersion": f"{group}/v1alpha1", "kind": "NatGateway",
                "metadata": {"name": "kept", "namespace": f"{namespace}-objects"},
                "spec": {"vpcId": "vpc-kept", "vSwitchId": "vsw-kept", "upgradedField": "x",
                         "providerConfigRef": {"name": "default"}},
            }))
            config.uninstall(release)
        wait_for("the release's Deployment to go", lambda: kubectl(
            "-n", namespace, "get", "deployment", release, check=False).returncode != 0, 60)
        for name in names:
            assert crd_exists(kubectl, name), name
        kept = kubectl.json("-n", f"{namespace}-objects", "get", f"natgateways.{group}", "kept")
        assert kept["spec"]["upgradedField"] == "x"
    finally:
        for name in names:
            kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false", check=False)
        for ns in [namespace, f"{namespace}-objects"]:
            kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false", check=False)


def test_without_keep_uninstall_deletes_the_crds(kubeconfig, kubectl: Kubectl, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    group = f"t{suffix}.natop.test"
    chart = chart_copy_with_own_crds(tmp_path, group)
    names = [p.name.removesuffix(".yaml").replace("natop.dev", group)
             for p in (chart / "files" / "crds").glob("*.yaml")]
    namespace = f"natop-crds-{suffix}"
    release = f"natop-crds-{suffix}"
    values = {"rbac": {"create": False}, "ownerId": "crd-test", "crds": {"keep": False}}
    try:
        with helm.Config(kubeconfig_path=kubeconfig, namespace=namespace) as config:
            config.install(str(chart), release, values, namespace=namespace,
                           create_namespace=True, timeout=120)
            for name in names:
                crd = kubectl.json("get", "crd", name)
                assert "helm.sh/resource-policy" not in crd["metadata"].get("annotations", {})
            # As a user would: the kinds are served and used before the
            # release goes. A CRD deleted the instant it was made finds its
            # watch cache still initializing; the API server's CRD finalizer
            # then fails to list its objects and backs off exponentially, for
            # about as long again as the cache took (Kubernetes', not natop's).
            for name in names:
                kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
                kubectl("get", name, "--all-namespaces")
            wait_for("the API server to cache the kinds",
                     lambda: watch_caches_ready(kubectl, names), 60)
            config.uninstall(release)
        # The uninstall itself deleted every CRD: each is gone or terminating
        # the moment it returns, with no waiting.
        for name in names:
            crd = kubectl("get", "crd", name, "-o", "json", check=False)
            if crd.returncode == 0:
                assert json.loads(crd.stdout)["metadata"].get("deletionTimestamp"), name
        wait_for("the CRDs to go", lambda: not any(crd_exists(kubectl, n) for n in names), 120,
                 describe=lambda: crd_states(kubectl, names))
    finally:
        for name in names:
            kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false", check=False)
        kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False)
