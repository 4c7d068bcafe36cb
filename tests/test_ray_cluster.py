"""A search on an existing Ray cluster: ``executor=ray executor.address=<head>:<port>``.

A module fixture starts a real one-node cluster with the ``ray`` CLI (``ray start --head --block`` in its own
process group, unique ports, a short ``--temp-dir`` and its own auth token, as Ray >= 2.5x enables token
authentication by default), and tears exactly that cluster down again (SIGTERM to ``ray start``, then SIGKILL to
what is left of its processes), never ``ray stop``, which would stop every Ray of this user.

The search itself runs in a subprocess driver, as a user's ``python -m core.run`` would: Ray reads its auth
settings (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN``) once, when it is imported, and a local ``ray.init`` elsewhere in
this test session sets ``RAY_AUTH_MODE`` in this process, so an in-process driver would depend on test order. The
trial function records where it ran, which proves the trials ran as tasks of that cluster.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.search.store import Store
from tests.fake_trials import fake_objectives

REPO = Path(__file__).resolve().parents[1]
RAY_CLI = Path(sys.executable).with_name("ray")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (tinymoo[ray])"),
    pytest.mark.skipif(not RAY_CLI.is_file(), reason=f"no ray CLI next to {sys.executable}"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the cluster's processes"),
]


# -- the trial function (runs in the cluster's Ray workers) -----------------------------------------------------------
def cluster_evaluate(spec: TrialSpec) -> TrialResult:
    """Writes where it ran (pid, parent pid, the Ray cluster's GCS address) to ``<run_dir>/ran/<id>.json``,
    sleeps 0.2 s (even ids) or 0.8 s (odd ids), and returns objectives computed from the point."""
    import ray

    ctx = ray.get_runtime_context()
    where = {"pid": os.getpid(), "parent": os.getppid(), "gcs_address": ctx.gcs_address, "node": ctx.get_node_id()}
    ran = Path(spec.run_dir) / "ran"
    ran.mkdir(exist_ok=True)
    (ran / f"{spec.trial_id}.json").write_text(json.dumps(where))
    time.sleep(0.2 if spec.trial_id % 2 == 0 else 0.8)
    objectives = fake_objectives(spec.x)
    return TrialResult(spec.trial_id, spec.x, spec.params, TrialStatus.COMPLETE, objectives, {"pid": os.getpid()})


DRIVER = """\
import os
import sys

print("driver pid", os.getpid(), flush=True)

from hydra import compose, initialize_config_module

from core.plugins import register_search_path_plugin
from core.search.loop import Search
from tests.test_ray_cluster import cluster_evaluate

register_search_path_plugin()
with initialize_config_module(config_module="conf", version_base="1.3"):
    cfg = compose(config_name="config", overrides=sys.argv[2:])
Search(cfg, sys.argv[1], evaluate=cluster_evaluate).run()
"""


# -- the cluster ---------------------------------------------------------------------------------------------------
@dataclass
class Head:
    """A running one-node Ray cluster started by this module."""

    port: int
    token: str
    proc: subprocess.Popen  # type: ignore[type-arg]
    temp_dir: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of a process that talks to this cluster (driver or head)."""
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        return {
            **env,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            "PYTHONPATH": path,
            "RAY_USAGE_STATS_ENABLED": "0",
            "WANDB_MODE": "disabled",
            "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        }


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _procs() -> dict[int, tuple[int, int, str, str]]:
    """``pid -> (parent, process group, start time, command line)`` of every live process (Linux /proc)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] != "Z":  # a zombie is dead, only not yet reaped
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    out[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[19], cmdline)
    return out


def _cluster(head: Head) -> dict[int, str]:
    """``pid -> start time`` of this cluster's live processes: the head's process group, anything naming its temp
    dir, and their descendants (Ray's workers make themselves process-group leaders and rename themselves)."""
    procs = _procs()
    ours = {pid for pid, (_, pgid, _, cmd) in procs.items() if pgid == head.proc.pid or str(head.temp_dir) in cmd}
    grew = True
    while grew:
        more = {pid for pid, (ppid, *_) in procs.items() if ppid in ours} - ours
        ours |= more
        grew = bool(more)
    return {pid: procs[pid][2] for pid in ours}


def _stop(head: Head) -> list[int]:
    """Stop this cluster only: SIGTERM to ``ray start --block`` (it shuts its processes down), then SIGKILL to
    whatever of it is left after a grace period. Returns the processes that survived even that."""
    seen = _cluster(head)
    with contextlib.suppress(ProcessLookupError):
        head.proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.proc.wait(20)

    def alive() -> dict[int, str]:
        now = {pid: start for pid, (_, _, start, _) in _procs().items()}
        return {pid: start for pid, start in {**seen, **_cluster(head)}.items() if now.get(pid) == start}

    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in alive():  # same pid and start time: still the process that was ours
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if head.proc.poll() is None:
        head.proc.kill()
    head.proc.wait(10)
    time.sleep(0.5)
    return sorted(alive())


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    temp_dir = Path(tempfile.mkdtemp(prefix="tmr", dir="/tmp"))  # short: Ray's socket paths live under it
    port, dashboard, agent = _free_ports(3)
    log_path = temp_dir / "head.log"
    head = Head(port, secrets.token_hex(32), None, temp_dir)  # type: ignore[arg-type]
    args = [str(RAY_CLI), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
            "--num-cpus=2", "--include-dashboard=false", f"--dashboard-port={dashboard}",
            f"--dashboard-agent-listen-port={agent}",
            f"--temp-dir={temp_dir}", "--disable-usage-stats"]  # fmt: skip
    with log_path.open("w") as log:
        head.proc = subprocess.Popen(
            args, cwd=temp_dir, env=head.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log_path.read_text():
            assert head.proc.poll() is None, f"ray start failed:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"ray start took too long:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.2)
        yield head
    finally:
        left = _stop(head)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not left, f"processes of the test cluster survived its teardown: {left}"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- the search -----------------------------------------------------------------------------------------------------
def test_search_runs_on_an_existing_cluster(ray_head: Head, tmp_path: Path) -> None:
    n = 6
    run_dir = tmp_path / "run"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    overrides = ["search.progress=false", "logger=none", "optimizer=random", "search.schedule=async",
                 f"search.n_trials={n}", "executor=ray", f"executor.address={ray_head.address}",
                 "executor.workers=2"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(driver), str(run_dir), *overrides],
        cwd=REPO,
        env=ray_head.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    driver_pid = int(proc.stdout.split("driver pid", 1)[1].split()[0])

    with Store(run_dir / "trials.db") as store:
        results, timings = store.results(), store.timings()
        assert store.get_meta("schedule") == "async" and store.get_meta("workers") == 2
        assert store.counts()["pending"] == 0 and store.untold_ids() == []
    assert [r.trial_id for r in results] == list(range(n))
    assert all(r.status == TrialStatus.COMPLETE for r in results), [r.error for r in results]
    # two trials at once on the cluster's two CPUs
    assert any(max(a[1], b[1]) < min(a[2], b[2]) for a in timings for b in timings if a[0] < b[0]), timings

    # every trial ran as a task of this cluster: in a worker process its raylet started, not in the driver or here
    where = {int(p.stem): json.loads(p.read_text()) for p in (run_dir / "ran").glob("*.json")}
    cluster = _cluster(ray_head)
    assert sorted(where) == list(range(n))
    for w in where.values():
        assert w["gcs_address"].endswith(f":{ray_head.port}"), w
        assert w["parent"] in cluster, w  # a worker process the cluster's raylet started
        assert w["pid"] not in (os.getpid(), driver_pid), w
    assert {r.metrics["pid"] for r in results} == {w["pid"] for w in where.values()}
    assert len({w["node"] for w in where.values()}) == 1

    # tinymoo only connected to the cluster: it is still up for the next search
    assert ray_head.proc.poll() is None and _listening(ray_head.port)
