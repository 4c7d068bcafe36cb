"""The asynchronous search (``search.schedule``): one trial asked per free worker, no batch barrier.

With a streaming executor (``process``, ``ray``) the search asks the optimizer for one point whenever a worker is
free, tells each result as soon as it arrives and hands the optimizer the points still running
(``Optimizer.set_pending``). These tests run real searches on warm worker pools with a fake, sleeping trial
function (module-level, so that it pickles into the workers), check the store and what the optimizer was told and
asked, kill a search with SIGKILL mid-flight and resume it, and check the schedule settings.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import ConfigError
from core.interfaces.executor import Executor
from core.interfaces.optimizer import Optimizer
from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.search.store import Store
from plugins.executors.process import ProcessExecutor
from plugins.optimizers.random_search import RandomSearch
from tests.fake_trials import fake_objectives

# Light imports only at module level: every worker process imports this module to unpickle the trial function.
# (core.search.loop pulls in Lightning, ~10 s on a busy machine; the tests import it when they run.)

HAS_RAY = importlib.util.find_spec("ray") is not None
FAST = ("search.progress=false", "logger=none", "optimizer=random")
SLEEPS = (0.2, 1.0)  # even trial ids are fast, odd ones slow: a batch would wait for the slow one


# -- trial function (runs in the workers) -----------------------------------------------------------------------------
def alternating_evaluate(spec: TrialSpec) -> TrialResult:
    """A stand-in for training: sleeps ``fake_sleep[trial_id % 2]`` seconds (``+fake_sleep=[fast,slow]`` in the
    config; default 0.2 s / 1.0 s), then returns objectives computed from the point."""
    sleeps = spec.config.get("fake_sleep") or SLEEPS
    time.sleep(float(sleeps[spec.trial_id % 2]))
    objectives = fake_objectives(spec.x)
    return TrialResult(spec.trial_id, spec.x, spec.params, TrialStatus.COMPLETE, objectives, {"pid": os.getpid()})


# -- optimizers (registered as test plugins by the `test_optimizers` fixture) -----------------------------------------
class RecordingRandom(RandomSearch):
    """Random points that log every ``set_pending``, ``ask`` and ``tell`` in order: ``(kind, rows)``."""

    def setup(self, problem: Any) -> None:
        super().setup(problem)
        self.events: list[tuple[str, list[tuple[float, ...]]]] = []

    def _log(self, kind: str, x: np.ndarray) -> None:
        rows = np.asarray(x, dtype=float).reshape(-1, self.problem.dim)
        self.events.append((kind, [tuple(map(float, row)) for row in rows]))

    def set_pending(self, x: np.ndarray) -> None:
        self._log("pending", x)

    def ask(self, n: int) -> np.ndarray:
        x = super().ask(n)
        self._log("ask", x)
        return x

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        self._log("tell", x)

    def of(self, kind: str) -> list[list[tuple[float, ...]]]:
        return [rows for k, rows in self.events if k == kind]


class MinimalOptimizer(Optimizer):
    """A third-party optimizer written against the interface before ``set_pending`` existed: ask, tell and state
    only (uniform random points; counts its tells)."""

    def ask(self, n: int) -> np.ndarray:
        state = getattr(self, "_state", {"asked": 0, "told": 0})
        rng = np.random.default_rng([self.problem.seed, state["asked"]])
        self._state = {**state, "asked": state["asked"] + n}
        return rng.random((n, self.problem.dim))

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        state = getattr(self, "_state", {"asked": 0, "told": 0})
        self._state = {**state, "told": state["told"] + len(x)}

    def state_dict(self) -> dict[str, Any]:
        return dict(getattr(self, "_state", {"asked": 0, "told": 0}))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._state = dict(state)


class Spy(Optimizer):
    """Wraps the search's optimizer after it is built (the stored config names the real one) and logs, in order,
    every ``set_pending``, ``ask`` and ``tell``: ``(kind, rows)``."""

    def __init__(self, inner: Optimizer) -> None:
        self.inner = inner
        self.events: list[tuple[str, list[tuple[float, ...]]]] = []

    def _log(self, kind: str, x: np.ndarray) -> None:
        self.events.append((kind, [tuple(map(float, row)) for row in np.asarray(x, dtype=float)]))

    def setup(self, problem: Any) -> None:
        self.inner.setup(problem)

    def set_pending(self, x: np.ndarray) -> None:
        self._log("pending", x)
        self.inner.set_pending(x)

    def ask(self, n: int) -> np.ndarray:
        x = self.inner.ask(n)
        self._log("ask", x)
        return x

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        self._log("tell", x)
        self.inner.tell(x, y, feasible)

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state)

    @property
    def told(self) -> list[tuple[float, ...]]:
        return [row for kind, rows in self.events if kind == "tell" for row in rows]


@pytest.fixture
def test_optimizers(monkeypatch) -> None:
    """Register this module's optimizers as ``tinymoo.optimizers`` plugins (instantiate builds only registered
    classes), so a config can name them: ``optimizer._target_=tests.test_async_search.RecordingRandom``."""
    import core.plugins as plugins

    real = plugins.discover
    extra = tuple(
        plugins.PluginInfo(
            "optimizer", cls.__name__.lower(), f"{__name__}.{cls.__name__}", "tinymoo-tests", "0", None, cls
        )
        for cls in (RecordingRandom, MinimalOptimizer, TimedRandom)
    )
    monkeypatch.setattr(plugins, "discover", lambda group: real(group) + (extra if group == "optimizer" else ()))


# -- warm executors, lent to searches ----------------------------------------------------------------------------------
class Lent(Executor):
    """Lends a warm executor to a search (which closes what it is given) and records the specs it pulls."""

    streams = True

    def __init__(self, inner: Executor) -> None:
        self.inner, self.n_workers, self.specs = inner, inner.n_workers, []

    def map(self, fn, specs, on_start=None):  # type: ignore[no-untyped-def]
        def pulled() -> Iterator[TrialSpec]:  # lazily: the search asks the optimizer only when a worker is free
            for spec in specs:
                self.specs.append(spec)
                yield spec

        return self.inner.map(fn, pulled(), on_start)


def _warm(executor: Executor) -> Executor:
    """Run one trial on every worker so that the workers exist and have imported this module."""
    spec = TrialSpec(0, [0.5], {}, {"fake_sleep": [0.5, 0.5], "search": {"trial_timeout_s": 600}}, "/tmp")
    specs = [TrialSpec(i, spec.x, {}, spec.config, spec.run_dir) for i in range(executor.n_workers)]
    assert all(r.status == TrialStatus.COMPLETE for r in executor.map(alternating_evaluate, specs))
    return executor


@pytest.fixture(scope="module")
def process_pool() -> Iterator[ProcessExecutor]:
    ex = ProcessExecutor(workers=2, torch_threads=1)
    try:
        yield _warm(ex)  # type: ignore[misc]
    finally:
        ex.close()


@pytest.fixture(scope="module")
def ray_pool() -> Iterator[Executor]:
    if not HAS_RAY:
        pytest.skip("ray is not installed (pip install 'tinymoo[ray]')")
    from plugins.executors.ray_executor import RayExecutor

    ex = RayExecutor(workers=2, torch_threads=1)
    try:
        yield _warm(ex)
    finally:
        ex.close()  # shuts down the local Ray runtime if this executor started it


@pytest.fixture(params=["process", pytest.param("ray", marks=pytest.mark.slow)])
def pool(request) -> tuple[str, Executor]:
    return request.param, request.getfixturevalue(f"{request.param}_pool")


def _search(cfg, run_dir: Path, evaluate=alternating_evaluate) -> Any:
    from core.search.loop import Search

    return Search(cfg, run_dir, evaluate=evaluate)


def _run(cfg, run_dir: Path, pool: Executor, evaluate=alternating_evaluate) -> tuple[Any, Lent]:
    search = _search(cfg, run_dir, evaluate)
    lent = Lent(pool)
    search.executor = lent
    search.run()
    return search, lent


def _barrier_broken(timings: list[tuple[int, float | None, float | None]], workers: int = 2) -> bool:
    """True if some trial started before a trial of an earlier round of ``workers`` trials had finished (a batch
    search starts round r only after every trial of round r-1 is done)."""
    return any(
        s is not None and f is not None and s < f
        for c, s, _ in timings
        for j, _, f in timings
        if j // workers < c // workers
    )


def _overlap(a: tuple[int, float | None, float | None], b: tuple[int, float | None, float | None]) -> bool:
    return max(a[1], b[1]) < min(a[2], b[2])  # type: ignore[type-var]


# -- 1. async search on process and ray workers ------------------------------------------------------------------------
@pytest.mark.slow
def test_async_search_runs_every_trial_once_without_a_barrier(make_cfg, tmp_path, test_optimizers, pool) -> None:
    name, executor = pool
    n = 6
    cfg = make_cfg(*FAST, f"executor={name}", "executor.workers=2", "search.schedule=async", f"search.n_trials={n}",
                   "search.lookahead=false",  # each result told as it arrives (lookahead: see its tests)
                   "optimizer._target_=tests.test_async_search.RecordingRandom")  # fmt: skip
    search, _ = _run(cfg, tmp_path, executor)
    assert search.asynchronous
    with Store(tmp_path / "trials.db") as store:
        results, timings = store.results(), store.timings()
        assert store.get_meta("schedule") == "async" and store.get_meta("workers") == 2
        assert store.untold_ids() == [] and store.counts()["pending"] == 0
        told = dict(store._db.execute("SELECT trial_id, told FROM trials").fetchall())
    assert [r.trial_id for r in results] == list(range(n))
    assert all(r.status == TrialStatus.COMPLETE for r in results) and all(told.values())
    assert {r.metrics["pid"] for r in results} - {os.getpid()}, "trials ran in this process"

    opt: RecordingRandom = search.optimizer  # type: ignore[assignment]
    told_rows = [row for rows in opt.of("tell") for row in rows]
    by_x = {tuple(r.x): r.trial_id for r in results}
    assert len(by_x) == n and sorted(by_x[row] for row in told_rows) == list(range(n))  # each told exactly once
    assert [len(rows) for rows in opt.of("tell")] == [1] * n  # as each one finished, never in batches
    assert [len(rows) for rows in opt.of("ask")] == [1] * n  # one point per free worker

    # no barrier: trial 2 started when fast trial 0 finished, while slow trial 1 was still running
    assert _overlap(timings[1], timings[2]) and timings[2][1] < timings[1][2], timings
    assert _barrier_broken(timings)


@pytest.mark.slow
def test_batch_schedule_waits_for_the_whole_batch(make_cfg, tmp_path, process_pool) -> None:
    # the control for the barrier check above: the same trials in batches of 2 never overlap across batches
    cfg = make_cfg(*FAST, "executor=process", "executor.workers=2", "search.schedule=batch", "search.n_trials=4")
    search, _ = _run(cfg, tmp_path, process_pool)
    assert not search.asynchronous
    with Store(tmp_path / "trials.db") as store:
        assert store.get_meta("schedule") == "batch" and store.counts()["complete"] == 4
        timings = store.timings()
    assert _overlap(timings[0], timings[1]) and not _barrier_broken(timings), timings


# -- 2. pending points reach the optimizer -----------------------------------------------------------------------------
@pytest.mark.slow
def test_running_points_are_passed_as_pending(make_cfg, tmp_path, test_optimizers, pool) -> None:
    name, executor = pool
    cfg = make_cfg(*FAST, f"executor={name}", "executor.workers=2", "search.n_trials=6", "search.lookahead=false",
                   "optimizer._target_=tests.test_async_search.RecordingRandom")  # fmt: skip
    search, _ = _run(cfg, tmp_path, executor)
    assert search.asynchronous
    opt: RecordingRandom = search.optimizer  # type: ignore[assignment]
    kinds = [k for k, _ in opt.events]
    assert kinds.count("ask") == 6 and all(k == "pending" for k, a in itertools.pairwise(kinds) if a == "ask")

    asked: list[tuple[float, ...]] = []
    told: set[tuple[float, ...]] = set()
    saw_the_other = 0
    for kind, rows in opt.events:
        if kind == "pending":
            running = [x for x in asked if x not in told]
            assert all(x in asked and x not in told for x in rows), (rows, asked, told)  # asked, not yet told
            assert sorted(rows) == sorted(running)  # and every such point: nothing running is left out
            assert len(rows) <= 1  # two workers: at most the other one is busy when one asks
            saw_the_other += len(rows) == 1
        elif kind == "ask":
            asked.extend(rows)
        else:
            told.update(rows)
    assert opt.events[0] == ("pending", [])  # the first ask: nothing running
    assert saw_the_other >= 1  # an ask while the other worker's trial ran saw exactly that point
    assert len(told) == len(asked) == 6


# -- 3. an optimizer without pending support ---------------------------------------------------------------------------
@pytest.mark.slow
def test_optimizer_without_set_pending_still_runs_async(make_cfg, tmp_path, test_optimizers, process_pool) -> None:
    assert "set_pending" not in vars(MinimalOptimizer)
    cfg = make_cfg("search.progress=false", "logger=none", "optimizer=random", "executor=process",
                   "executor.workers=2", "search.schedule=async", "search.n_trials=4",
                   "optimizer._target_=tests.test_async_search.MinimalOptimizer")  # fmt: skip
    search, _ = _run(cfg, tmp_path, process_pool)
    assert type(search.optimizer) is MinimalOptimizer and search.asynchronous
    assert search.optimizer.state_dict() == {"asked": 4, "told": 4}
    with Store(tmp_path / "trials.db") as store:
        assert store.counts()["complete"] == 4 and store.untold_ids() == []
        assert store.get_meta("schedule") == "async"
        assert store.get_meta("optimizer_state") == {"asked": 4, "told": 4}


# -- 4. SIGKILL mid-search, then resume --------------------------------------------------------------------------------
DRIVER = """\
import sys

if __name__ == "__main__":  # the spawned workers re-import this file as __mp_main__: run the search only here
    from hydra import compose, initialize_config_module

    from core.plugins import register_search_path_plugin
    from core.search.loop import Search
    from tests.test_async_search import alternating_evaluate

    register_search_path_plugin()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=sys.argv[2:])
    Search(cfg, sys.argv[1], evaluate=alternating_evaluate).run()
"""


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; workers die with the parent on Linux")
def test_sigkill_mid_search_then_resume_keeps_every_trial(make_cfg, tmp_path, process_pool) -> None:
    from tests.conftest import REPO, wait_for_finished

    n = 8
    run_dir = tmp_path / "run"
    overrides = (*FAST, "executor=process", "executor.workers=2", "executor.torch_threads=1",
                 "search.schedule=async", f"search.n_trials={n}", "+fake_sleep=[0.3,1.5]")  # fmt: skip
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {
        **os.environ,
        "WANDB_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    log = (tmp_path / "driver.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(run_dir), *overrides], cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        db = run_dir / "trials.db"
        wait_for_finished(db, proc, 2, timeout=180)
        assert proc.poll() is None, (
            f"the search ended before it could be killed: {(tmp_path / 'driver.log').read_text()}"
        )
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        log.close()
    assert proc.returncode == -signal.SIGKILL
    assert workers, "no worker processes were found"
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), "worker processes outlived the killed search"

    with sqlite3.connect(db) as con:  # the store as the kill left it
        rows = con.execute("SELECT trial_id, status, x, objectives, told, attempts FROM trials").fetchall()
    before = {t: (x, obj) for t, status, x, obj, _, _ in rows if status != "pending"}
    told_before = {t for t, _, _, _, told, _ in rows if told}
    pending = {t: x for t, status, x, _, _, _ in rows if status == "pending"}
    running = {t for t, status, _, _, _, attempts in rows if status == "pending" and attempts >= 1}
    assert 2 <= len(before) < n and running, rows

    search = _search(make_cfg(*overrides, "search.resume=true"), run_dir)
    spy = search.optimizer = Spy(search.optimizer)
    search.executor = lent = Lent(process_pool)
    search.run()

    # the trials left pending ran first, at their stored points; then new ones
    resumed = [(s.trial_id, json.dumps(s.x)) for s in lent.specs]
    assert resumed[: len(pending)] == sorted(pending.items())
    assert all(t > max(t for t, *_ in rows) for t, _ in resumed[len(pending) :])
    with Store(db) as store:
        after = store.results()
        assert store.counts()["pending"] == 0 and store.untold_ids() == []
        told_after = {t for (t,) in store._db.execute("SELECT trial_id FROM trials WHERE told=1")}
    assert [r.trial_id for r in after] == list(range(n))  # exactly n, none repeated or lost
    assert all(r.status == TrialStatus.COMPLETE for r in after)
    assert len({tuple(r.x) for r in after}) == n  # the resumed optimizer asked no point again
    for r in after:
        if r.trial_id in before:  # finished before the kill: kept as it was, not re-run
            assert (json.dumps(r.x), json.dumps(r.objectives)) == before[r.trial_id]
        if r.trial_id in pending:
            assert json.dumps(r.x) == pending[r.trial_id]
    # told: every trial exactly once, across the killed run and the resume
    ids = {tuple(r.x): r.trial_id for r in after}
    told_now = [ids[x] for x in spy.told]
    assert len(told_now) == len(set(told_now)) and not set(told_now) & told_before
    assert set(told_now) | told_before == set(range(n)) == told_after
    # each new ask saw as pending exactly the trials still running (restarted ones included)
    running_now = {tuple(json.loads(x)) for x in pending.values()}
    for kind, rows in spy.events:
        if kind == "pending":
            assert sorted(rows) == sorted(running_now), (rows, running_now)
        elif kind == "ask":
            running_now |= set(rows)
        else:
            running_now -= set(rows)


# -- 5. lookahead: the next point is proposed while the trials run ----------------------------------------------------
class TimedRandom(RecordingRandom):
    """RecordingRandom that also notes, for every ask, the thread it ran in and when it returned (``time.time()``,
    the store's clock)."""

    def setup(self, problem: Any) -> None:
        super().setup(problem)
        self.asks: list[tuple[str, float]] = []

    def ask(self, n: int) -> np.ndarray:
        x = super().ask(n)
        self.asks.append((threading.current_thread().name, time.time()))
        return x


def _replay_pending(events: list[tuple[str, list[tuple[float, ...]]]]) -> None:
    """Every ``set_pending`` names exactly the points asked and not yet told at that moment."""
    running: set[tuple[float, ...]] = set()
    for kind, rows in events:
        if kind == "pending":
            assert sorted(rows) == sorted(running), (rows, running)
        elif kind == "ask":
            running |= set(rows)
        else:
            running -= set(rows)


@pytest.mark.slow
def test_lookahead_proposes_while_the_trials_run(make_cfg, tmp_path, test_optimizers, process_pool) -> None:
    n = 6
    cfg = make_cfg(*FAST, "executor=process", "executor.workers=2", f"search.n_trials={n}",
                   "optimizer._target_=tests.test_async_search.TimedRandom")  # fmt: skip
    search, _ = _run(cfg, tmp_path, process_pool)
    assert search.asynchronous and search.lookahead  # auto: on with two workers
    opt: TimedRandom = search.optimizer  # type: ignore[assignment]
    with Store(tmp_path / "trials.db") as store:
        results, timings = store.results(), store.timings()
        assert store.untold_ids() == [] and store.counts()["pending"] == 0
        told = dict(store._db.execute("SELECT trial_id, told FROM trials").fetchall())
    assert [r.trial_id for r in results] == list(range(n)) and all(told.values())
    assert all(r.status == TrialStatus.COMPLETE for r in results)
    by_x = {tuple(r.x): r.trial_id for r in results}
    told_rows = [row for rows in opt.of("tell") for row in rows]
    assert sorted(by_x[row] for row in told_rows) == list(range(n))  # each told exactly once
    assert [by_x[rows[0]] for rows in opt.of("ask")] == list(range(n))  # asked in trial order, one at a time
    _replay_pending(opt.events)  # tells and pending points are one consistent snapshot per proposal
    # every point is asked in the background thread; each one after the first was started when the trial before it
    # was dispatched, and was ready before that trial (0.2 s or 1 s of sleep) had finished
    assert {name for name, _ in opt.asks} == {"tinymoo-lookahead"}, opt.asks
    finished = {t: f for t, _, f in timings}
    for k in range(1, n):
        assert opt.asks[k][1] < finished[k - 1], (k, opt.asks, timings)


class Anytime(MinimalOptimizer):
    """An optimizer whose ``ask`` runs until it is hurried (or 60 s pass), then proposes; counts its hurries."""

    def setup(self, problem: Any) -> None:
        super().setup(problem)
        self.hurried = threading.Event()
        self.hurries = 0

    def hurry(self) -> None:
        self.hurries += 1
        self.hurried.set()

    def ask(self, n: int) -> np.ndarray:
        self.hurried.wait(60)
        self.hurried.clear()
        return super().ask(n)


def test_lookahead_hurries_a_proposal_only_while_a_worker_waits_for_it() -> None:
    from core.interfaces.optimizer import Problem
    from core.search.lookahead import Lookahead

    opt = Anytime()
    opt.setup(Problem(dim=2, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=0))
    ahead = Lookahead(opt, 2)
    ahead.start(np.zeros((1, 2)))
    time.sleep(0.2)  # the proposal runs: taking it means a worker waits, so it is hurried and returns at once
    began = time.monotonic()
    assert ahead.take().x.shape == (2,) and opt.hurries == 1
    assert time.monotonic() - began < 30
    opt.hurried.set()  # the next proposal finishes on its own, before it is taken: no hurry
    ahead.start(np.zeros((1, 2)))
    while ahead._result is None:
        time.sleep(0.01)
    ahead.take()
    assert opt.hurries == 1


def test_lookahead_with_one_worker_is_one_dispatch_behind(make_cfg, tmp_path, test_optimizers) -> None:
    # one in-process worker, lookahead forced on: the ask for trial i runs while trial i-1 does, with exactly that
    # point pending and trials 0..i-2 told, whatever the timing (so one worker stays deterministic)
    n = 5
    cfg = make_cfg(*FAST, "executor=local", "search.lookahead=true", f"search.n_trials={n}", "+fake_sleep=[0.1,0.1]",
                   "optimizer._target_=tests.test_async_search.TimedRandom")  # fmt: skip
    search = _search(cfg, tmp_path)
    search.run()
    assert search.lookahead
    opt: TimedRandom = search.optimizer  # type: ignore[assignment]
    asked = [rows[0] for rows in opt.of("ask")]
    pending = opt.of("pending")
    told_before_ask: list[list[tuple[float, ...]]] = []
    told: list[tuple[float, ...]] = []
    for kind, rows in opt.events:
        if kind == "tell":
            told.extend(rows)
        elif kind == "ask":
            told_before_ask.append(list(told))
    assert len(asked) == n and pending[0] == []
    for i in range(1, n):
        assert pending[i] == [asked[i - 1]]
        assert told_before_ask[i] == asked[: i - 1]
    assert sorted(told) == sorted(asked)  # the last results are told when the search ends
    with Store(tmp_path / "trials.db") as store:
        assert store.untold_ids() == [] and store.counts()["complete"] == n


def test_lookahead_auto_is_off_for_one_worker_and_batches(make_cfg, tmp_path) -> None:
    assert not _search(make_cfg(*FAST, "executor=local"), tmp_path / "a").lookahead
    cfg = make_cfg(*FAST, "executor=process", "executor.workers=2", "search.schedule=batch", "search.lookahead=true")
    assert not _search(cfg, tmp_path / "b").lookahead  # lookahead is part of the asynchronous schedule


def test_bad_lookahead_is_refused_with_the_choices(make_cfg, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"Config key 'search\.lookahead'.*'sometimes'") as info:
        _search(make_cfg(*FAST, "search.lookahead=sometimes"), tmp_path)
    assert "Valid choices: auto, false, true" in str(info.value)


# -- 6. schedule settings ----------------------------------------------------------------------------------------------
def test_async_with_a_batch_size_is_refused(make_cfg, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"Config key 'search\.batch_size'.*search\.schedule=async") as info:
        _search(make_cfg(*FAST, "search.schedule=async", "search.batch_size=2"), tmp_path)
    assert "search.batch_size=null" in str(info.value)  # says how to fix it


def test_unknown_schedule_is_refused_with_the_choices(make_cfg, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"Config key 'search\.schedule'.*'bogus'") as info:
        _search(make_cfg(*FAST, "search.schedule=bogus"), tmp_path)
    assert info.value.key == "search.schedule" and info.value.choices == ["async", "auto", "batch"]
    assert "Valid choices: async, auto, batch" in str(info.value)
