"""`natop import`, `natop status` and `natop plan` end to end.

An estate made outside natop with the official Alibaba SDK in `natop
emulator` (import_support.py: 2 NAT gateways, 120 DNAT entries, 3 SNAT
entries, a NAT bandwidth package, an IPv6 internet bandwidth) is imported
into manifests; the API server accepts them; natop observes every object to
Ready without a single write call; `natop status` shows the tree; `natop
plan` finds nothing to change, then exactly the one edit made to a copy.
Also: an account or region with nothing in it, unknown credentials, and
`kubectl natop status` as a kubectl plugin.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import Emulator, Kubectl, Process, free_port, wait_for
from import_support import (
    ACCOUNT_1,
    DNAT_ON_A,
    DNAT_ON_B,
    IPV6_ADDRESS,
    IPV6_GATEWAY,
    KEY_1,
    KEY_2,
    NATOP_KINDS,
    PAGE_SIZE,
    SNAT_ON_A,
    SNAT_ON_B,
    VPC,
    VSWITCH_A,
    VSWITCH_B,
    Admin,
    CreateNatGatewayRequest,
    Estate,
    Vpc,
    build_estate,
    clean_env,
    is_write,
    natop,
    show,
    writes_since,
)

API_VERSION = "natop.dev/v1alpha1"
EXTERNAL_ID = "natop.dev/external-id"
IPV6_FILE = "ipv6-internet-bandwidths.yaml"
# A DNS-1123 subdomain: what every object name must be.
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
READY_TIMEOUT = 360
# Every object of the estate: 2 gateways, 120 DNAT, 3 SNAT, 1 package, 1 IPv6 bandwidth.
EXPECTED_COUNTS = {"NatGateway": 2, "ForwardEntry": DNAT_ON_A + DNAT_ON_B,
                   "SnatEntry": SNAT_ON_A + SNAT_ON_B, "BandwidthPackage": 1,
                   "Ipv6InternetBandwidth": 1}
EXPECTED_TOTAL = 127


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def provider_config(kubectl: Kubectl, namespace: str, name: str, endpoint: str) -> None:
    """A Secret with the first demo key in `namespace` and a ProviderConfig
    `name` pointing at the emulator, as deploy/samples/ has them."""
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "alibaba-credentials", "namespace": namespace},
        "type": "Opaque",
        "stringData": {"accessKeyId": KEY_1[0], "accessKeySecret": KEY_1[1]},
    }))
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps({
        "apiVersion": API_VERSION, "kind": "ProviderConfig",
        "metadata": {"name": name},
        "spec": {"provider": "Alibaba", "region": "cn-hangzhou", "endpoint": endpoint,
                 "allowedNamespaces": [namespace],
                 "credentials": {"secretRef": {"namespace": namespace,
                                               "name": "alibaba-credentials"}}},
    }))


def parse_mapping(stdout: str) -> list[dict]:
    rows = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        assert len(fields) == 4, f"not <id>\\t<Kind>\\t<ns>/<name>\\t<file>: {line!r}"
        cloud_id, kind, qualified, file = fields
        assert qualified.count("/") == 1, line
        namespace, name = qualified.split("/")
        rows.append({"id": cloud_id, "kind": kind, "namespace": namespace, "name": name,
                     "file": Path(file).name, "line": line})
    return rows


def load_manifests(directory: Path) -> dict[str, list[dict]]:
    """Every document of every file of `directory`, by file name."""
    return {path.name: [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            for path in sorted(directory.iterdir())}


def ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in status.get("conditions", [])) and \
        status.get("observedGeneration") == obj["metadata"].get("generation")


def summary(objects: list[dict]) -> str:
    out = []
    for o in objects:
        condition = next((c for c in (o.get("status") or {}).get("conditions", [])
                          if c["type"] == "Ready"), None)
        state = f"{condition['status']}/{condition['reason']}: {condition.get('message', '')}" \
            if condition else "-"
        out.append(f"{o['kind']}/{o['metadata']['name']}={state}")
    return "\n".join(out)


def natop_objects(kubectl: Kubectl, namespace: str) -> list[dict]:
    return kubectl.json("-n", namespace, "get", ",".join(NATOP_KINDS))["items"]


def remove_objects(kubectl: Kubectl, namespace: str, operator: Process | None) -> None:
    """Delete natop's objects of `namespace`: with natop running (their
    finalizers need it), else orphaned (finalizers removed)."""
    if operator is not None and operator.alive():
        kubectl("-n", namespace, "delete", ",".join(NATOP_KINDS), "--all", "--wait=false",
                check=False)
        kubectl("-n", namespace, "wait", "--for=delete", "--timeout=120s",
                ",".join(NATOP_KINDS), "--all", check=False, timeout=150)
    left = kubectl("-n", namespace, "get", ",".join(NATOP_KINDS), "-o", "name", check=False)
    for name in left.stdout.split():
        kubectl("-n", namespace, "patch", name, "--type=merge",
                "-p", '{"metadata":{"finalizers":null}}', check=False)
        kubectl("-n", namespace, "delete", name, "--wait=false", check=False)


def lines_with(text: str, *needles: str) -> list[str]:
    return [line for line in text.splitlines() if all(n in line for n in needles)]


# --------------------------------------------------------------------------
# What import must write
# --------------------------------------------------------------------------


def check_mapping(rows: list[dict], estate: Estate, namespace: str, out: Path) -> dict[str, dict]:
    """The mapping: one line per cloud object, valid unique names, the right
    files. Returns the rows by cloud id."""
    kinds = estate.kind_of()
    assert len(rows) == EXPECTED_TOTAL, f"{len(rows)} mapping lines"
    by_id = {r["id"]: r for r in rows}
    assert len(by_id) == len(rows), "a cloud id is mapped twice"
    assert sorted(by_id) == sorted(kinds), (
        f"missing: {sorted(set(kinds) - set(by_id))}, unexpected: {sorted(set(by_id) - set(kinds))}")
    for cloud_id, row in by_id.items():
        assert row["kind"] == kinds[cloud_id], row["line"]
        assert row["namespace"] == namespace, row["line"]
        assert len(row["name"]) <= 253 and OBJECT_NAME.match(row["name"]), row["line"]
    for kind, count in EXPECTED_COUNTS.items():
        assert sum(r["kind"] == kind for r in rows) == count, kind
        names = [r["name"] for r in rows if r["kind"] == kind]
        assert len(set(names)) == len(names), f"two {kind} objects share a name: {sorted(names)}"

    # A file per gateway (<gateway object name>.yaml) with its entries and
    # packages; the IPv6 bandwidths in their own file.
    owner = estate.gateway_of()
    for cloud_id, row in by_id.items():
        if row["kind"] == "NatGateway":
            expected = f"{row['name']}.yaml"
        elif row["kind"] == "Ipv6InternetBandwidth":
            expected = IPV6_FILE
        else:
            expected = f"{by_id[owner[cloud_id]]['name']}.yaml"
        assert row["file"] == expected, row["line"]
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted({r["file"] for r in rows}), files
    assert len(files) == 3, files
    return by_id


def check_manifests(out: Path, by_id: dict[str, dict], estate: Estate, namespace: str,
                    config: str) -> dict[str, dict]:
    """Every document: the object the mapping names, in its file, adopting
    its cloud id under Observe, with the cloud's settings. Returns the
    documents by cloud id."""
    docs: dict[str, dict] = {}
    for file, documents in load_manifests(out).items():
        for doc in documents:
            assert doc["apiVersion"] == API_VERSION, doc
            cloud_id = doc["metadata"].get("annotations", {}).get(EXTERNAL_ID)
            assert cloud_id in by_id, f"{file}: {doc['kind']}/{doc['metadata'].get('name')}"
            assert cloud_id not in docs, f"{cloud_id} written twice"
            row = by_id[cloud_id]
            assert (doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace"),
                    file) == (row["kind"], row["name"], namespace, row["file"])
            assert doc["spec"]["managementPolicy"] == "Observe", doc
            docs[cloud_id] = doc
    assert len(docs) == EXPECTED_TOTAL

    name_of = {i: r["name"] for i, r in by_id.items()}
    a, b = estate.a, estate.b
    eips = {a.id: {"eip-hz01natop00000000", "eip-hz02natop00000000", "eip-hz03natop00000000"},
            b.id: {"eip-hz04natop00000000", "eip-hz05natop00000000", "eip-hz06natop00000000",
                   "eip-hz07natop00000000"}}
    for gateway in estate.gateways:
        spec = docs[gateway.id]["spec"]
        assert spec["providerConfigRef"]["name"] == config
        assert spec["vpcId"] == VPC
        assert set(spec.get("eipAllocationIds", [])) == eips[gateway.id], spec
        for entry_id, params in gateway.dnat.items():
            entry = docs[entry_id]["spec"]
            assert entry["natGatewayRef"]["name"] == name_of[gateway.id], entry
            got = (entry.get("externalIp"), str(entry["externalPort"]), entry["internalIp"],
                   str(entry["internalPort"]), entry["ipProtocol"], entry.get("name"))
            want = (params["ExternalIp"], params["ExternalPort"], params["InternalIp"],
                    params["InternalPort"], params["IpProtocol"], params.get("ForwardEntryName"))
            assert got == want, f"{entry_id}: {json.dumps(entry)}"
        for entry_id, params in gateway.snat.items():
            entry = docs[entry_id]["spec"]
            assert entry["natGatewayRef"]["name"] == name_of[gateway.id], entry
            assert sorted(entry["snatIps"]) == sorted(params["SnatIp"].split(",")), entry
            assert (entry.get("sourceVSwitchId"), entry.get("sourceCIDR"), entry.get("name")) == (
                params.get("SourceVSwitchId"), params.get("SourceCIDR"),
                params.get("SnatEntryName")), f"{entry_id}: {json.dumps(entry)}"
    gateway_a, gateway_b = docs[a.id]["spec"], docs[b.id]["spec"]
    assert (gateway_a["natType"], gateway_a["vSwitchId"], gateway_a["name"]) == (
        "Enhanced", VSWITCH_A, "edge-a")
    assert (gateway_b["natType"], gateway_b["name"]) == ("Normal", "Edge_B")
    package = docs[estate.package]["spec"]["alibaba"]
    assert package["natGatewayRef"]["name"] == name_of[b.id]
    assert (package["bandwidth"], package["ipCount"], package.get("name")) == (5, 2, "legacy-pkg")
    ipv6 = docs[estate.ipv6_bandwidth]["spec"]
    assert ipv6["providerConfigRef"]["name"] == config
    assert (ipv6["ipv6GatewayId"], ipv6["ipv6AddressId"], ipv6["bandwidth"],
            ipv6["internetChargeType"]) == (IPV6_GATEWAY, IPV6_ADDRESS, 10, "PayByBandwidth")
    return docs


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------


def test_import_status_and_plan_of_an_account_natop_never_writes_to(
        kubeconfig, kubectl: Kubectl, crds, emulator: Emulator, natop_bin, tmp_path):
    # 1. The estate, made outside natop.
    estate = build_estate(emulator.endpoint)
    admin = Admin(emulator.endpoint)
    vpc = Vpc(emulator.endpoint, KEY_1)
    pages = vpc.forward_pages(estate.a.forward_table)
    assert [len(p["ForwardTableEntries"]["ForwardTableEntry"]) for p in pages] == [
        PAGE_SIZE, PAGE_SIZE]
    assert int(pages[0]["TotalCount"]) == DNAT_ON_A

    suffix = uuid.uuid4().hex[:6]
    namespace, config = f"natop-import-{suffix}", f"import-{suffix}"
    kubectl("create", "namespace", namespace)
    operator: Process | None = None
    try:
        # 2. Import through a ProviderConfig and its Secret.
        provider_config(kubectl, namespace, config, emulator.endpoint)
        out = tmp_path / "imported"
        before_import = admin.last_seq()
        imported = natop(natop_bin, "import", "--provider-config", config, "--out", str(out),
                         "-n", namespace, "--kubeconfig", kubeconfig)
        assert imported.returncode == 0, show(imported)
        assert "panicked" not in imported.stderr
        import_calls = admin.log(before_import)
        assert [c for c in import_calls if is_write(c["action"])] == []
        # Table A holds exactly two full pages: read in two calls, no third
        # (empty) page asked for, nothing read twice.
        table_a = [c for c in import_calls if c["action"] == "DescribeForwardTableEntries"
                   and {estate.a.forward_table, estate.a.id} & set(c["ids"].values())]
        assert len(table_a) == 2, table_a
        # The 120 entries come over 3 pages in all: two of table A, one of B.
        dnat_pages = [c for c in import_calls if c["action"] == "DescribeForwardTableEntries"]
        assert len(dnat_pages) == 3, dnat_pages
        by_id = check_mapping(parse_mapping(imported.stdout), estate, namespace, out)
        check_manifests(out, by_id, estate, namespace, config)

        # 3. The API server accepts them; natop observes them to Ready
        # without one write.
        dry = kubectl("apply", "--dry-run=server", "-f", str(out))
        assert dry.stdout.count("(server dry run)") == EXPECTED_TOTAL, dry.stdout
        kubectl("apply", "-n", namespace, "-f", str(out))
        before_run = admin.last_seq()
        port = free_port()
        operator = Process(
            [natop_bin, "run", f"--kubeconfig={kubeconfig}", f"--watch-namespace={namespace}",
             f"--secret-namespace={namespace}", "--drift-interval=1m",
             f"--metrics-address=127.0.0.1:{port}", f"--owner-id=import-{suffix}"],
            env=clean_env(POD_NAMESPACE=namespace, POD_NAME="natop-import-test"))

        def all_ready():
            assert operator.alive(), operator.output()[-3000:]
            objects = natop_objects(kubectl, namespace)
            if len(objects) == EXPECTED_TOTAL and all(ready(o) for o in objects):
                return objects
            return None

        try:
            objects = wait_for("every imported object Ready", all_ready, READY_TIMEOUT,
                               interval=1)
        except BaseException:
            print(summary(natop_objects(kubectl, namespace)))
            print(operator.output()[-5000:])
            raise
        assert ready(kubectl.json("get", "providerconfig", config))
        assert {(o["status"]["id"], o["kind"], o["metadata"]["name"]) for o in objects} == {
            (i, r["kind"], r["name"]) for i, r in by_id.items()}
        assert writes_since(admin, before_run) == []
        assert any(c["account"] == ACCOUNT_1 for c in admin.log(before_run))

        # 4. natop status: the tree, and JSON.
        tree = natop(natop_bin, "status", "-n", namespace, "--color", "never",
                     "--kubeconfig", kubeconfig, timeout=120)
        assert tree.returncode == 0, show(tree)
        text = tree.stdout
        assert "\x1b[" not in text
        for gateway in estate.gateways:
            assert lines_with(text, by_id[gateway.id]["name"], gateway.id), text[:3000]
            assert lines_with(text, "DNAT table", gateway.forward_table), text[:3000]
            assert lines_with(text, "SNAT table", gateway.snat_table), text[:3000]
        for cloud_id, row in by_id.items():
            found = lines_with(text, row["name"], cloud_id)
            assert len(found) == 1 and re.search(r"\bTrue\b", found[0]), (cloud_id, found)
        assert not re.search(r"\b(False|Unknown)\b", text), text[:3000]
        assert lines_with(text, by_id[estate.package]["name"], estate.package)
        assert lines_with(text, by_id[estate.ipv6_bandwidth]["name"], estate.ipv6_bandwidth)
        # The tree: under each gateway's line, exactly its entries and packages.
        blocks = tree_blocks(text)
        for gateway in estate.gateways:
            [block] = [b for head, b in blocks if gateway.id in head]
            below = set(re.findall(r"\b(?:fwd|snat|bwp)-[a-z0-9]+", "\n".join(block)))
            assert below == {*gateway.dnat, *gateway.snat, *gateway.packages}, block[:20]

        # --watch ends (exit 0) at once when everything is Ready.
        watched = natop(natop_bin, "status", "-n", namespace, "--watch", "--timeout", "60s",
                        "--interval", "1s", "--color", "never", "--kubeconfig", kubeconfig,
                        timeout=120)
        assert watched.returncode == 0, show(watched)
        assert lines_with(watched.stdout, by_id[estate.a.id]["name"], estate.a.id)

        as_json = natop(natop_bin, "status", "-n", namespace, "-o", "json",
                        "--kubeconfig", kubeconfig, timeout=120)
        assert as_json.returncode == 0, show(as_json)
        status = json.loads(as_json.stdout)
        assert status["allReady"] is True
        assert len(status["gateways"]) == 2

        # 5. natop plan: nothing to do for what was imported...
        plan = natop(natop_bin, "plan", str(out), "--kubeconfig", kubeconfig)
        assert plan.returncode == 0, show(plan)
        assert any(line.startswith("No changes") for line in plan.stdout.splitlines()), \
            show(plan)
        assert markers(plan.stdout) == [], show(plan)

        # ... and exactly one change for one edited entry of gateway B.
        edited_id = list(estate.b.dnat)[5]
        old_port = estate.b.dnat[edited_id]["InternalPort"]
        new_port = str(int(old_port) + 1000)
        edited = tmp_path / "edited"
        shutil.copytree(out, edited)
        edit_internal_port(edited / by_id[edited_id]["file"], edited_id, new_port)
        changed = natop(natop_bin, "plan", str(edited), "--kubeconfig", kubeconfig)
        assert changed.returncode == 2, show(changed)
        lines = [line for line in changed.stdout.splitlines() if line.strip()]
        assert lines[-1] == "Plan: 0 to create, 1 to modify, 0 to delete.", show(changed)
        [marker] = markers(changed.stdout)
        assert by_id[edited_id]["name"] in marker, show(changed)
        # `field: old -> new` (the spec's form), the values quoted or not.
        assert re.search(rf'(?m)^\s*internalPort: "?{old_port}"? -> "?{new_port}"?$',
                         changed.stdout), show(changed)
        assert "Observe" in changed.stdout, show(changed)

        # With --prune, an object dropped from the manifests: observed, so
        # deleting it leaves the cloud alone, and the plan says so.
        pruned = tmp_path / "pruned"
        shutil.copytree(out, pruned)
        (pruned / IPV6_FILE).unlink()
        orphaned = natop(natop_bin, "plan", str(pruned), "--prune", "-o", "json",
                         "--kubeconfig", kubeconfig)
        assert orphaned.returncode == 0, show(orphaned)
        result = json.loads(orphaned.stdout)
        assert [(c["action"], c["kind"], c["id"]) for c in result["changes"]] == [
            ("orphan", "Ipv6InternetBandwidth", estate.ipv6_bandwidth)], show(orphaned)
        assert result["unchanged"] == EXPECTED_TOTAL - 1, show(orphaned)

        # Nothing above wrote to the cloud; deleting the observed objects
        # (natop still running) leaves the estate as it was.
        kubectl("-n", namespace, "delete", ",".join(NATOP_KINDS), "--all", "--wait=false")
        wait_for("the imported objects to go", lambda: natop_objects(kubectl, namespace) == [],
                 180, interval=1)
        assert writes_since(admin, before_run) == []
        region = admin.region()
        assert {table: len(region[table]) for table in
                ("natGateways", "forwardEntries", "snatEntries", "bandwidthPackages")} == {
            "natGateways": 2, "forwardEntries": 120, "snatEntries": 3, "bandwidthPackages": 1}
        assert vpc.ipv6_address(IPV6_ADDRESS)["Ipv6InternetBandwidth"][
            "Ipv6InternetBandwidthId"] == estate.ipv6_bandwidth
    finally:
        try:
            remove_objects(kubectl, namespace, operator)
        finally:
            if operator is not None:
                operator.stop()
            kubectl("delete", "providerconfig", config, "--ignore-not-found", "--wait=false",
                    check=False)
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def tree_blocks(text: str) -> list[tuple[str, list[str]]]:
    """`natop status` text as (top-level line, the lines under it) pairs: a
    top-level line starts with neither a space nor a tree-drawing character."""
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line and not line[0].isspace() and line[0] not in "│├└":
            blocks.append((line, []))
        elif blocks:
            blocks[-1][1].append(line)
    return blocks


def markers(plan_output: str) -> list[str]:
    """The header lines of a plan's change blocks (`+ create`, `~ modify`,
    `- delete`, `! drift`)."""
    return [line for line in plan_output.splitlines()
            if re.match(r"^\s*[+~!-] ", line) and not line.startswith("Plan:")]


def edit_internal_port(path: Path, cloud_id: str, port: str) -> None:
    """Set spec.internalPort of the document adopting `cloud_id` (same YAML type)."""
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    [doc] = [d for d in documents if d["metadata"]["annotations"][EXTERNAL_ID] == cloud_id]
    doc["spec"]["internalPort"] = int(port) if isinstance(doc["spec"]["internalPort"], int) \
        else port
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))


# Keys of the other account (it has nothing) and of the first account in a
# region where it has nothing; the first account has a gateway in cn-hangzhou.
EMPTY = {
    "other-account": (KEY_2, "cn-hangzhou", "1380000000000002"),
    "empty-region": (KEY_1, "cn-beijing", ACCOUNT_1),
}



@pytest.mark.parametrize("case", sorted(EMPTY))
def test_import_of_nothing_writes_nothing(emulator: Emulator, natop_bin, tmp_path, case):
    key, region, account = EMPTY[case]
    admin = Admin(emulator.endpoint)
    Vpc(emulator.endpoint, KEY_1).call(
        CreateNatGatewayRequest, VpcId=VPC, NatType="Enhanced", VSwitchId=VSWITCH_B,
        InternetChargeType="PayByLcu", Name="elsewhere")
    out = tmp_path / "nothing"
    before = admin.last_seq()
    result = natop(natop_bin, "import", "--out", str(out), "--region", region,
                   "--endpoint", emulator.endpoint,
                   env=clean_env(ALIBABA_CLOUD_ACCESS_KEY_ID=key[0],
                                 ALIBABA_CLOUD_ACCESS_KEY_SECRET=key[1]))
    assert result.returncode == 0, show(result)
    assert "nothing to import" in result.stderr, show(result)
    assert "panicked" not in result.stderr
    assert result.stdout.strip() == "", show(result)
    assert not out.exists()
    calls = admin.log(before)
    assert calls, "import called nothing"
    assert [c for c in calls if is_write(c["action"])] == []
    assert {(c["account"], c["region"]) for c in calls if c["region"]} == {(account, region)}


def test_import_with_unknown_credentials_fails_clearly(emulator: Emulator, natop_bin, tmp_path):
    secret = "natop-unknown-secret-42"
    out = tmp_path / "refused"
    result = natop(natop_bin, "import", "--out", str(out), "--region", "cn-hangzhou",
                   "--endpoint", emulator.endpoint, "--access-key-id", "LTAI5tNatopNoSuchKey9",
                   env=clean_env(ALIBABA_CLOUD_ACCESS_KEY_SECRET=secret))
    assert result.returncode == 1, show(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, show(result)
    assert "InvalidAccessKeyId.NotFound" in errors[0], show(result)
    assert "panicked" not in result.stderr
    assert secret not in result.stderr + result.stdout
    assert result.stdout.strip() == ""
    assert not out.exists()


def test_status_as_a_kubectl_plugin(kubeconfig, kubectl: Kubectl, crds, natop_bin, tmp_path):
    namespace = f"natop-plugin-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        objects = [
            {"kind": "NatGateway", "metadata": {"name": "edge"},
             "spec": {"vpcId": VPC, "vSwitchId": VSWITCH_A, "natType": "Enhanced"}},
            {"kind": "ForwardEntry", "metadata": {"name": "web"},
             "spec": {"natGatewayRef": {"name": "edge"}, "externalIp": "47.97.1.11",
                      "externalPort": 443, "internalIp": "172.16.1.10", "internalPort": 8443,
                      "ipProtocol": "TCP"}},
            # Its gateway object is not there: grouped under the gateway's name.
            {"kind": "SnatEntry", "metadata": {"name": "stray"},
             "spec": {"natGatewayRef": {"name": "gone"}, "snatIps": ["47.97.1.12"],
                      "sourceVSwitchId": VSWITCH_A}},
        ]
        for obj in objects:
            obj["apiVersion"] = API_VERSION
            obj["metadata"]["namespace"] = namespace
            kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj))

        plugins = tmp_path / "plugins"
        plugins.mkdir()
        (plugins / "kubectl-natop").symlink_to(os.path.abspath(natop_bin))
        direct = natop(natop_bin, "status", "-n", namespace, "--color", "never",
                       "--kubeconfig", kubeconfig, timeout=60)
        plugin = subprocess.run(
            ["kubectl", "natop", "status", "-n", namespace, "--color", "never"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
            env=clean_env(PATH=f"{plugins}{os.pathsep}{os.environ.get('PATH', '')}",
                          KUBECONFIG=kubeconfig))
        assert direct.returncode == 0, show(direct)
        assert plugin.returncode == 0, show(plugin)
        assert plugin.stdout == direct.stdout
        for needle in ("edge", "web", "stray", "gone"):
            assert needle in plugin.stdout, (needle, plugin.stdout)
        # Nothing has reconciled them: no object is Ready.
        assert not re.search(r"\bTrue\b", plugin.stdout), plugin.stdout
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
