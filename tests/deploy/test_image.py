"""The release binary runs the way the image and the chart run it: as a
non-root user, with a read-only root filesystem, a read-only working directory
and no writable (indeed no existing) HOME. No container engine runs on these
machines, so the sandbox is a private mount namespace in which / is remounted
read-only, and setpriv drops to distroless's nonroot user."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, free_port, http_get, service_account_kubeconfig, wait_for

NONROOT = 65532


def sandbox(*command: str) -> list[str]:
    """`command` as uid/gid 65532 in a mount namespace whose / (and /tmp, when
    it is a mount of its own) is read-only, from the read-only directory /,
    with nothing in its environment but PATH and a HOME that does not exist."""
    script = (
        "set -e; mount -o remount,bind,ro /; "
        "if mountpoint -q /tmp; then mount -o remount,bind,ro /tmp; fi; "
        "cd /; "
        f"exec setpriv --reuid={NONROOT} --regid={NONROOT} --clear-groups -- "
        "env -i PATH=/usr/bin:/bin HOME=/nonexistent \"$@\""
    )
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sandbox",
            *command]


def readable_copy(source: str, directory: Path) -> str:
    """`source` copied where the nonroot user can read it (before the sandbox
    makes everything read-only)."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    for parent in directory.parents:
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)
    target = directory / Path(source).name
    shutil.copy(source, target)
    os.chmod(target, 0o755 if os.access(source, os.X_OK) else 0o644)
    return str(target)


@pytest.fixture
def shared(tmp_path) -> Path:
    return tmp_path / "shared"


def test_the_sandbox_is_what_it_claims(release_bin, shared):
    # The premise of the next test: nothing is writable, the user is not root.
    probe = subprocess.run(
        sandbox("sh", "-c", "id -u; echo $HOME; touch ./x 2>/dev/null && echo wrote || echo refused; "
                "touch /tmp/x 2>/dev/null && echo wrote-tmp || echo refused-tmp"),
        capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == [str(NONROOT), "/nonexistent", "refused", "refused-tmp"]


def test_release_binary_serves_health_read_only_non_root_without_home(
        release_bin, kubectl, crds, shared):
    kubectl("apply", "--server-side", "-k", str(ROOT / "deploy"))
    binary = readable_copy(release_bin, shared)
    config = service_account_kubeconfig(kubectl, "natop-system", "natop", shared / "kubeconfig")
    os.chmod(config, 0o644)
    version = subprocess.run(sandbox(binary, "--version"), capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and version.stdout.startswith("natop "), version
    port = free_port()
    process = subprocess.Popen(
        sandbox(binary, "run", f"--kubeconfig={config}", f"--metrics-address=127.0.0.1:{port}",
                "--secret-namespace=natop-system", "--log-format=json"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for("/healthz", lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 30)
        # Ready: connected to the API server and the controllers started.
        wait_for("/readyz", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200, 30)
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "natop_reconciles" in body
        assert process.poll() is None
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    # It never tried to write (nothing would have worked) and stopped cleanly.
    assert "Read-only file system" not in output and "Permission denied" not in output, output


def test_dockerfile_builds_a_static_non_root_image():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(stages) == 2, stages
    assert stages[0][1] == "build"
    final = stages[-1][0]
    assert final.startswith("gcr.io/distroless/static") or final == "scratch", final
    # The binary is built for musl (static), and the image runs as nonroot.
    assert "--target x86_64-unknown-linux-musl" in text and "--locked" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user == [f"{NONROOT}:{NONROOT}"]
    assert re.search(r'^ENTRYPOINT \["/natop"\]', text, re.M)
    # The chart's pod runs as the same user by default (a value, overridable).
    chart = (ROOT / "charts" / "natop" / "values.yaml").read_text()
    assert f"runAsUser: {NONROOT}" in chart
    # Every path the build copies exists (a missing one fails `docker build`).
    for source in re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
