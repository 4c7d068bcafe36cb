"""Parallel trials as Ray tasks (``executor=ray``): on a local Ray runtime or on an existing Ray cluster.

Needs Ray (``pip install 'tinymoo[ray]'``). One task per trial reserves ``cpus_per_trial`` CPUs (and
``gpus_per_trial`` GPUs); at most ``workers`` tasks are in flight. The next trial is taken from the search only
when a slot is free (``streams``: the search asks the optimizer for it then), and ``on_start`` is called when it
is submitted. Results are yielded with ``ray.wait`` as they finish. A trial whose worker dies (Ray's
``WorkerCrashedError``, ``OutOfMemoryError``, a lost node) or whose task raises yields a ``failed`` result and the
search goes on; Ray never retries a trial (``max_retries=0``). One Ray runtime serves the executor's lifetime:
it is started (or connected to) on the first batch and shut down by :meth:`close` if this executor started it;
a runtime that was already initialized in this process is used as is and left running.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import time
from collections.abc import Iterable, Iterator
from typing import Any

from core.api import (
    ConfigError,
    EvaluateFn,
    Executor,
    PluginError,
    StartFn,
    TrialResult,
    TrialSpec,
    available_cpus,
    check_count,
    failed_result,
    hard_deadline,
    host_threads,
    limit_threads,
    thread_env,
)

INSTALL_HINT = "pip install 'tinymoo[ray]'"


def _ray_trial(fn: EvaluateFn, spec: TrialSpec, threads: int) -> TrialResult:
    """The Ray task: limit torch's threads in this worker, then run one trial."""
    limit_threads(threads)
    return fn(spec)


def _require_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        raise PluginError(f"executor=ray needs Ray, which is not installed; install it with `{INSTALL_HINT}`.")


def _positive(key: str, value: Any, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value >= 0 if zero_ok else value > 0):
        raise ValueError(f"executor.{key} must be a number {'>= 0' if zero_ok else '> 0'}, got {value!r}")
    return float(value)


class RayExecutor(Executor):
    """Runs up to ``workers`` trials at once as Ray tasks.

    Args:
        workers: trials at once; ``None``: one per available CPU (local) or the cluster's CPUs / ``cpus_per_trial``.
        address: ``None`` starts a local Ray runtime with ``workers * cpus_per_trial`` CPUs; ``"auto"`` or
            ``"ray://host:10001"`` connects to an existing cluster.
        cpus_per_trial: Ray CPUs each trial task reserves.
        gpus_per_trial: Ray GPUs each trial task reserves.
        torch_threads: torch/OpenMP threads per trial; ``None``: the local CPUs divided by ``workers``, or
            ``cpus_per_trial`` (at least 1) on a cluster.
        kill_grace_s: a trial still running this long after its ``search.trial_timeout_s`` is cancelled (its
            worker killed) and recorded as failed; ``None``: never.
        runtime_env: Ray ``runtime_env`` for the job (e.g. ``working_dir`` and ``pip`` for a remote cluster).
        log_to_driver: show the trials' stdout/stderr in this process.
    """

    streams = True

    def __init__(
        self,
        workers: int | None = 2,
        address: str | None = None,
        cpus_per_trial: float = 1,
        gpus_per_trial: float = 0,
        torch_threads: int | None = None,
        kill_grace_s: float | None = 60.0,
        runtime_env: dict[str, Any] | None = None,
        log_to_driver: bool = False,
    ) -> None:
        _require_ray()
        self.address = str(address) if address else None
        self.cpus_per_trial = _positive("cpus_per_trial", cpus_per_trial)
        self.gpus_per_trial = _positive("gpus_per_trial", gpus_per_trial, zero_ok=True)
        threads = check_count("torch_threads", torch_threads)
        if kill_grace_s is not None:
            _positive("kill_grace_s", kill_grace_s, zero_ok=True)
        self.kill_grace_s = kill_grace_s
        self.runtime_env = dict(runtime_env) if runtime_env else None
        self.log_to_driver = bool(log_to_driver)
        self._owns_runtime = False
        self._started = False
        self._remote: Any = None
        workers = check_count("workers", workers)
        if self.address is not None:  # connect now: a bad address fails before the search touches its run dir
            self._start()
        if workers is None and self.address is not None:  # the cluster decides the worker count
            import ray

            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus_per_trial))
        self.n_workers = workers or available_cpus()
        if threads is None:
            local_share = available_cpus() // self.n_workers
            threads = max(1, int(self.cpus_per_trial) if self.address is not None else local_share)
        self.torch_threads = threads

    def _start(self) -> None:
        """Start (or connect to) the Ray runtime once, and build the remote trial function."""
        if self._started:
            return
        import ray

        if not ray.is_initialized():
            common: dict[str, Any] = {
                "log_to_driver": self.log_to_driver,
                "logging_level": logging.WARNING,
                "runtime_env": self.runtime_env,
            }
            if self.address is None:
                cpus = max(1, math.ceil(self.n_workers * self.cpus_per_trial))
                with thread_env(self.torch_threads):  # the local raylet, and so its workers, inherit these
                    ray.init(num_cpus=cpus, include_dashboard=False, **common)
            else:
                try:
                    ray.init(address=self.address, **common)
                except Exception as exc:  # ConnectionError, an auth error, a missing ray[client], ...
                    first = (str(exc).strip().splitlines() or [""])[0]
                    raise ConfigError(
                        "executor.address",
                        f"cannot connect to the Ray cluster at {self.address!r} ({type(exc).__name__}: {first})",
                        hint="Check that the head is up (`ray status` there) and reachable; a cluster with token "
                        "authentication needs RAY_AUTH_MODE=token and its token (~/.ray/auth_token or RAY_AUTH_TOKEN) "
                        "set before Python starts; ray:// addresses need `pip install 'ray[client]'`.",
                    ) from exc
            self._owns_runtime = True
        self._remote = ray.remote(_ray_trial).options(
            num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial, max_retries=0, retry_exceptions=False
        )
        self._started = True

    def map(self, fn: EvaluateFn, specs: Iterable[TrialSpec], on_start: StartFn | None = None) -> Iterator[TrialResult]:
        # the search proposes in this process while the trials run: leave their CPUs to them
        with host_threads(0 if self.address is not None else self.n_workers * self.torch_threads):
            yield from self._map(fn, specs, on_start)

    def _map(
        self, fn: EvaluateFn, specs: Iterable[TrialSpec], on_start: StartFn | None = None
    ) -> Iterator[TrialResult]:
        import ray

        queue, more = iter(specs), True  # pulled one spec per free slot (an asynchronous search asks then)
        in_flight: dict[Any, tuple[TrialSpec, float, float | None]] = {}  # ref -> (spec, submitted, cancel at)
        fn_ref = None
        try:
            while True:
                while more and len(in_flight) < self.n_workers:
                    spec = next(queue, None)
                    if spec is None:
                        more = False
                        break
                    if fn_ref is None:
                        self._start()
                        fn_ref = ray.put(fn)
                    if on_start is not None:
                        on_start(spec)
                    started = time.monotonic()
                    limit = hard_deadline(spec, self.kill_grace_s)
                    ref = self._remote.remote(fn_ref, spec, self.torch_threads)
                    in_flight[ref] = (spec, started, None if limit is None else started + limit)
                if not in_flight:
                    return
                cancel_ats = [k for (_, _, k) in in_flight.values() if k is not None]
                timeout = max(0.0, min(cancel_ats) - time.monotonic()) if cancel_ats else None
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout)
                for ref in done:
                    spec, started, _ = in_flight.pop(ref)
                    yield self._result(ref, spec, time.monotonic() - started)
                now = time.monotonic()
                for ref, (spec, started, cancel_at) in list(in_flight.items()):
                    if cancel_at is not None and now >= cancel_at:
                        del in_flight[ref]
                        ray.cancel(ref, force=True)
                        yield failed_result(
                            spec,
                            f"cancelled after {now - started:.0f} s: still running {self.kill_grace_s} s after "
                            "search.trial_timeout_s (executor.kill_grace_s)",
                            now - started,
                        )
        finally:
            for ref in in_flight:  # abandoned mid-batch (an exception or Ctrl-C in the caller)
                with contextlib.suppress(Exception):  # best effort; the task may have just finished
                    ray.cancel(ref, force=True)

    @staticmethod
    def _result(ref: Any, spec: TrialSpec, elapsed: float) -> TrialResult:
        """The trial's result, or a ``failed`` one saying why Ray could not produce it."""
        import ray
        from ray import exceptions as rex

        try:
            result: TrialResult = ray.get(ref)
            return result
        except rex.RayTaskError as exc:  # the trial function raised (it should record its own failures)
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return failed_result(spec, f"Ray task raised {type(cause).__name__}: {cause}", elapsed)
        except rex.RayError as exc:  # WorkerCrashedError, OutOfMemoryError, NodeDiedError, ObjectLostError, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return failed_result(
                spec, f"the Ray worker running this trial died ({type(exc).__name__}: {first}); not retried", elapsed
            )

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._owns_runtime:
            import ray

            ray.shutdown()
        self._owns_runtime = False
        self._started = False
        self._remote = None
