"""`make demo` as a new user meets it: the samples become Ready, and neither
--exit-when-ready nor Ctrl-C leaves a process behind. Each run has its own
state directory (NATOP_DEMO_DIR), its own control plane and emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

from conftest import ROOT, wait_for

TIMEOUT = 420


def demo(state: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, NATOP_DEMO_DIR=str(state))
    env.pop("KUBECONFIG", None)
    # A session of its own, like a terminal's foreground job.
    return subprocess.Popen(
        ["make", "--no-print-directory", "demo", *([f"DEMO_ARGS={' '.join(args)}"] if args else [])],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)


def processes_using(state: Path) -> list[str]:
    """Processes whose command line, working directory or open files are in
    `state`: everything the demo started (the control plane's flags, the
    emulator's and natop's logs, natop's kubeconfig)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            paths = [os.readlink(f"/proc/{pid}/cwd")]
            fd_dir = f"/proc/{pid}/fd"
            paths += [os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir)]
        except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
            continue
        if str(state) in cmdline or any(p.startswith(str(state)) for p in paths):
            found.append(f"{pid}: {cmdline[:200]}")
    return found


class Output:
    """The output of `process`, read on a thread as it comes."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float) -> None:
        wait_for(f"{marker!r} in the demo's output",
                 lambda: marker in self.text() or not self.thread.is_alive(), timeout, interval=0.5)
        assert marker in self.text(), self.text()[-4000:]


def test_demo_runs_to_ready_and_exits_with_nothing_left(tmp_path):
    state = tmp_path / "demo"
    process = demo(state, "--exit-when-ready")
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        raise AssertionError(f"the demo did not finish in {TIMEOUT} s:\n{output[-4000:]}")
    assert process.returncode == 0, output[-4000:]
    assert "every sample is Ready" in output
    assert "8/8 Ready" in output
    assert f"export KUBECONFIG={state}/cluster/kubeconfig" in output
    assert "kubectl get natop -A" in output
    # The first builds take minutes: it says so.
    assert "about 20 minutes" in output
    assert processes_using(state) == []


def test_ctrl_c_stops_everything_the_demo_started(tmp_path):
    state = tmp_path / "demo"
    process = demo(state)
    output = Output(process)
    try:
        output.wait_for("press Ctrl-C to stop", TIMEOUT)
        running = processes_using(state)
        # The control plane (etcd, kube-apiserver, kube-controller-manager),
        # the emulator and natop.
        assert len(running) >= 5, running
        # Ctrl-C: the terminal signals the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=90)
        output.thread.join(10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=90)
    assert "stopping everything the demo started" in output.text(), output.text()[-4000:]
    wait_for("every demo process to exit", lambda: processes_using(state) == [], 30)
