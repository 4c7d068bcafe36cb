"""Helpers for executors that run trials in other processes or machines (``executor=process``, ``executor=ray``):
CPU counting, per-worker thread limits (and the search process's own, while workers run), setting validation,
failed results and the hard kill deadline.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else ``os.cpu_count()``)."""
    with contextlib.suppress(AttributeError, OSError):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_count(key: str, value: Any, allow_none: bool = True) -> int | None:
    """Validate a positive integer setting (``None`` passes through when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"executor.{key} must be a positive integer{' or null' if allow_none else ''}, got {value!r}")
    return value


def default_threads(torch_threads: int | None, workers: int) -> int:
    """``torch_threads`` if set, else the available CPUs shared evenly among ``workers`` (at least 1)."""
    return torch_threads if torch_threads is not None else max(1, available_cpus() // workers)


@contextlib.contextmanager
def thread_env(threads: int) -> Iterator[None]:
    """Set the BLAS/OpenMP thread variables in ``os.environ`` while child processes are started, then restore."""
    saved = {k: os.environ.get(k) for k in THREAD_ENV_VARS}
    os.environ.update({k: str(threads) for k in THREAD_ENV_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def limit_threads(threads: int) -> None:
    """In a worker: use ``threads`` torch (intra-op) threads, and tell OpenMP/MKL and any child process the same."""
    os.environ.update({k: str(threads) for k in THREAD_ENV_VARS})
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # only allowed before the first inter-op parallel work
        torch.set_num_interop_threads(threads)


@contextlib.contextmanager
def host_threads(busy_cpus: int) -> Iterator[None]:
    """While trials run in worker processes on this machine and keep ``busy_cpus`` CPUs busy: this process (the
    search's, whose optimizer fits GPs and scores acquisitions while they run) uses the CPUs they leave, at least
    one, for torch; restored afterwards. Oversubscribed cores make torch's thread pool spin: with 2 workers on 2
    cores, a GP fit that takes 0.13 s with 1 thread took 2.4 s with 2, longer than the proposal's deadline."""
    import torch

    before = torch.get_num_threads()
    want = max(1, available_cpus() - int(busy_cpus))
    if want < before:
        torch.set_num_threads(want)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def failed_result(spec: TrialSpec, error: str, duration_s: float = 0.0) -> TrialResult:
    """A ``failed`` result for ``spec`` with ``error`` as its message."""
    return TrialResult(spec.trial_id, spec.x, spec.params, TrialStatus.FAILED, {}, {}, error, duration_s)


def hard_deadline(spec: TrialSpec, grace_s: float | None) -> float | None:
    """Seconds after dispatch at which a still-running trial is killed: its ``search.trial_timeout_s`` + grace."""
    if grace_s is None:
        return None
    timeout = (spec.config.get("search") or {}).get("trial_timeout_s")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        return None
    return float(timeout) + float(grace_s)
