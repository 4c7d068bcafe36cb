"""Parallel executors: ``process`` (spawned worker processes) and ``ray`` (Ray tasks).

Each yields every result as it finishes (out of order), turns a worker killed mid-trial into a ``failed`` result
while the other trials complete, and gives a search the same trials as ``local`` at the same batch size.
The trial functions are module-level so that they pickle into the workers.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import time
from collections.abc import Iterator

import pytest

from core.interfaces.executor import Executor
from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.search.store import Store
from plugins.executors.process import ProcessExecutor
from tests.fake_trials import fake_objectives

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'tinymoo[ray]')")
SEARCH = ("search.progress=false", "logger=none", "optimizer=qlognehvi", "optimizer.n_init=2",
          "optimizer.num_restarts=2", "optimizer.raw_samples=32", "optimizer.maxiter=20", "optimizer.mc_samples=32",
          "search.objectives=[error,flash]", "search.n_trials=4")  # fmt: skip


# -- trial functions (run in the workers) -----------------------------------------------------------------------------
def fake_evaluate(spec: TrialSpec) -> TrialResult:
    """A deterministic stand-in for training: objectives from the point; even trial ids finish last.

    ``wait_for`` (a path) holds the trial until that file exists (a minute at most); ``done`` (a path) is created when
    the trial ends: an order between trials that no load on the machine can change."""
    time.sleep(float(spec.params.get("sleep", 0.6 if spec.trial_id % 2 == 0 else 0.0)))
    deadline = time.monotonic() + 60
    while "wait_for" in spec.params and not os.path.exists(str(spec.params["wait_for"])):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{spec.params['wait_for']} never appeared")
        time.sleep(0.02)
    if "done" in spec.params:
        open(str(spec.params["done"]), "w").close()
    objectives = fake_objectives(spec.x)
    metrics = {"pid": float(os.getpid()), "threads": float(__import__("torch").get_num_threads())}
    return TrialResult(spec.trial_id, spec.x, spec.params, TrialStatus.COMPLETE, objectives, metrics)


def crashing_evaluate(spec: TrialSpec) -> TrialResult:
    """Kills its own worker for the specs marked ``crash``: ``exit`` (os._exit(1)) or ``kill`` (SIGKILL)."""
    how = spec.params.get("crash")
    if how == "exit":
        os._exit(1)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_evaluate(spec)


def _spec(i: int, **params: object) -> TrialSpec:
    return TrialSpec(i, [0.1 * i, 0.5], dict(params), {"search": {"trial_timeout_s": 600}}, "/tmp")


def _check_out_of_order(executor, tmp_path, fn=fake_evaluate) -> list[TrialResult]:
    """Trial 0 waits until trial 2 has finished, so it ends last however long the workers take to start."""
    done = str(tmp_path / "trial2.done")
    specs = [_spec(0, sleep=0.0, wait_for=done), _spec(1, sleep=0.0), _spec(2, sleep=0.0, done=done)]
    started: list[int] = []
    results = list(executor.map(fn, specs, on_start=lambda s: started.append(s.trial_id)))
    assert sorted(started) == [0, 1, 2] and started[:2] == [0, 1]  # two slots: trial 2 waits for a free one
    assert sorted(r.trial_id for r in results) == [0, 1, 2]
    assert [r.trial_id for r in results][-1] == 0  # the slow first trial finishes last
    assert all(r.status == TrialStatus.COMPLETE for r in results)
    assert len({r.metrics["pid"] for r in results} - {float(os.getpid())}) >= 1  # ran elsewhere
    return results


def _check_crashes(executor) -> dict[int, TrialResult]:
    specs = [_spec(0, crash="exit"), _spec(1, sleep=0.2), _spec(2, crash="kill"), _spec(3, sleep=0.0)]
    results = {r.trial_id: r for r in executor.map(crashing_evaluate, specs)}
    assert sorted(results) == [0, 1, 2, 3]
    for i in (0, 2):
        assert results[i].status == TrialStatus.FAILED and "died" in str(results[i].error), results[i].error
    # trial 3 runs on a worker that replaced a dead one: the pool recovers
    assert results[1].status == results[3].status == TrialStatus.COMPLETE
    return results


class _Borrowed(Executor):
    """Lends a test's warm executor to a search, which closes what it is given at the end."""

    def __init__(self, inner: Executor) -> None:
        self.inner, self.n_workers = inner, inner.n_workers

    def map(self, fn, specs, on_start=None):  # type: ignore[no-untyped-def]
        return self.inner.map(fn, specs, on_start)


# -- process ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def process_executor() -> Iterator[ProcessExecutor]:
    ex = ProcessExecutor(workers=2, torch_threads=1)
    yield ex
    ex.close()


def test_the_search_process_leaves_the_workers_cpus_while_trials_run() -> None:
    """With the workers' threads on every CPU, the search's own torch work (the optimizer's GP fits, proposed in the
    same process while trials run) gets the CPUs they leave, at least 1: two threads on two cores that two workers
    keep busy made a GP fit 20x slower (oversubscribed thread pools spin). Restored when the trials are done."""
    import torch

    from core.search.executor_support import available_cpus

    before = torch.get_num_threads()
    ex = ProcessExecutor(workers=2, torch_threads=max(1, available_cpus()))  # every CPU busy with trials
    try:
        during = []
        for _ in ex.map(fake_evaluate, [_spec(0, sleep=0.0), _spec(1, sleep=0.0)]):
            during.append(torch.get_num_threads())
    finally:
        ex.close()
    assert during == [1, 1]
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_process_yields_results_as_they_finish(process_executor, tmp_path) -> None:
    results = _check_out_of_order(process_executor, tmp_path)
    assert {r.metrics["threads"] for r in results} == {1.0}  # torch_threads applied in the workers


@pytest.mark.slow
def test_process_worker_death_fails_only_its_trial(process_executor) -> None:
    results = _check_crashes(process_executor)
    assert "exit code 1" in str(results[0].error) and "SIGKILL" in str(results[2].error)


def test_process_settings() -> None:
    ex = ProcessExecutor(workers=None, torch_threads=None)
    cpus = len(os.sched_getaffinity(0))
    assert ex.n_workers == cpus and ex.torch_threads == 1
    assert ProcessExecutor(workers=1).torch_threads == cpus
    with pytest.raises(ValueError, match=r"executor\.workers"):
        ProcessExecutor(workers=0)
    pulled: list[TrialSpec] = []

    def specs() -> Iterator[TrialSpec]:
        pulled.append(_spec(0))
        yield pulled[-1]

    with pytest.raises(TypeError, match="picklable"):
        list(ex.map(lambda s: fake_evaluate(s), specs()))
    assert pulled == []  # refused before a spec was pulled: an asynchronous search asks (and stores) on each pull


def test_process_kills_a_trial_past_its_timeout() -> None:
    ex = ProcessExecutor(workers=1, kill_grace_s=0.0)
    try:
        spec = TrialSpec(0, [0.1], {"sleep": 30.0}, {"search": {"trial_timeout_s": 0.5}}, "/tmp")
        start = time.monotonic()
        (result,) = ex.map(fake_evaluate, [spec])
        assert result.status == TrialStatus.FAILED and "killed after" in str(result.error)
        assert time.monotonic() - start < 20
    finally:
        ex.close()


# -- ray --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_executor() -> Iterator[object]:
    if not HAS_RAY:
        pytest.skip("ray is not installed")
    from plugins.executors.ray_executor import RayExecutor

    ex = RayExecutor(workers=2, torch_threads=1)
    yield ex
    ex.close()


@needs_ray
@pytest.mark.slow
def test_ray_yields_results_as_they_finish(ray_executor, tmp_path) -> None:
    results = _check_out_of_order(ray_executor, tmp_path)
    assert {r.metrics["threads"] for r in results} == {1.0}


@needs_ray
@pytest.mark.slow
def test_ray_worker_death_fails_only_its_trial(ray_executor) -> None:
    _check_crashes(ray_executor)


def test_ray_missing_says_how_to_install(monkeypatch) -> None:
    from core.errors import PluginError
    from plugins.executors.ray_executor import RayExecutor

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(PluginError, match=r"pip install 'tinymoo\[ray\]'"):
        RayExecutor()


# -- the search gives the same trials with every executor -------------------------------------------------------------
def _trials(run_dir) -> list[tuple[list[float], dict, dict]]:
    with Store(run_dir / "trials.db") as s:
        return [(r.x, r.params, r.objectives) for r in s.results()]


@pytest.mark.slow
def test_search_is_identical_with_local_process_and_ray(make_cfg, tmp_path, request, process_executor) -> None:
    # batches: the same trials whatever the executor (asynchronous runs depend on the completion order)
    from core.search.loop import Search

    runs = {
        "local": (("executor=local", "search.batch_size=2"), None),
        "process": (("executor=process", "executor.workers=2", "search.schedule=batch"), process_executor),
    }
    if HAS_RAY:
        runs["ray"] = (
            ("executor=ray", "executor.workers=2", "search.schedule=batch"),
            request.getfixturevalue("ray_executor"),
        )
    trials = {}
    for name, (overrides, warm) in runs.items():
        search = Search(make_cfg(*SEARCH, *overrides), tmp_path / name, evaluate=fake_evaluate)
        assert search.batch_size == 2 and type(search.executor).__name__ == type(warm or search.executor).__name__
        if warm is not None:  # the search's executor is built from the config; run it on the warm workers
            search.executor = _Borrowed(warm)
        search.run()
        trials[name] = _trials(tmp_path / name)
    assert len(trials["local"]) == 4
    for name in runs:
        assert trials[name] == trials["local"], name


@pytest.mark.slow
def test_process_close_ends_the_workers(process_executor) -> None:
    list(process_executor.map(fake_evaluate, [_spec(0, sleep=0.0)]))
    workers = [w.process for w in process_executor._all]
    assert workers and all(p.is_alive() for p in workers)
    process_executor.close()
    assert not any(p.is_alive() for p in workers) and not process_executor._all
