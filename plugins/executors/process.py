"""Parallel trials in N worker processes on this machine (``executor=process``).

Each worker is a ``spawn``-started process (forking a process that has loaded torch is unsafe) that lives as long
as the executor and runs one trial at a time, so imports and torch start-up are paid once per worker, not once
per trial. Each worker limits torch to ``torch_threads`` threads (default: the available CPUs divided by the
worker count) so that N workers do not oversubscribe the cores.

The executor takes the next trial from the search only when a worker is idle (``streams``: the search asks the
optimizer for it then), so ``on_start`` is called exactly when a trial really starts. A worker that dies in a
trial (``os._exit``, a segfault, SIGKILL from the OOM killer) yields a ``failed`` result for that trial naming the
exit code; a fresh worker takes its place and the other trials go on. A trial still running ``kill_grace_s``
seconds after its ``search.trial_timeout_s`` (stuck where the trial's own deadline is never checked) is killed the
same way. Workers end with the executor (:meth:`close`), and on
Linux the kernel also ends them when the process that started them dies.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import sys
import time
import traceback
import weakref
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from typing import Any

from core.api import (
    EvaluateFn,
    Executor,
    StartFn,
    TrialResult,
    TrialSpec,
    available_cpus,
    check_count,
    default_threads,
    failed_result,
    hard_deadline,
    host_threads,
    limit_threads,
    thread_env,
)


def describe_exit(code: int | None) -> str:
    """``exit code 1`` / ``exit code -9 = SIGKILL, e.g. from the out-of-memory killer``."""
    if code is None:
        return "exit code unknown"
    text = f"exit code {code}"
    if code < 0:
        with contextlib.suppress(ValueError):
            name = signal.Signals(-code).name
            text += f" = {name}" + (", e.g. from the out-of-memory killer" if name == "SIGKILL" else "")
    return text


# -- the worker process -----------------------------------------------------------------------------------------------
def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when the parent dies (Linux); exit now if it is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _worker_main(conn: Connection, threads: int, parent_pid: int) -> None:
    """Worker loop: receive ``(fn, spec)``, send back ``("ok", result)`` or ``("error", message)``; ``None`` ends."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the search's to handle; it then ends the workers
    limit_threads(threads)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the executor is gone
            return
        except Exception:  # the trial function could not be unpickled here (e.g. a module this process lacks)
            conn.send(("error", "the trial could not be received by the worker:\n" + traceback.format_exc()))
            continue
        if msg is None:
            return
        fn, spec = msg
        try:
            reply: tuple[str, Any] = ("ok", fn(spec))
        except Exception as exc:  # the trial function should record its own failures; never lose the worker to one
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result did not pickle
            conn.send(("error", f"the trial's result could not be sent back: {type(exc).__name__}: {exc}"))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx: Any, threads: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main, args=(child, threads, os.getpid()), name="tinymoo-trial-worker", daemon=False
        )
        with thread_env(threads):  # the worker's OpenMP/MKL read these at start-up
            self.process.start()
        child.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to exit; terminate, then kill it if it does not."""
        if self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
            self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
        self.conn.close()

    def kill(self) -> None:
        """End the worker now (it may be in the middle of a trial)."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self.process.join(5.0)


def _stop_all(workers: list[_Worker]) -> None:
    for w in workers:
        w.stop()
    workers.clear()


class ProcessExecutor(Executor):
    """Runs up to ``workers`` trials at once, each in its own worker process on this machine.

    Args:
        workers: trials at once (worker processes); ``None``: one per available CPU.
        torch_threads: torch/OpenMP threads in each worker; ``None``: the available CPUs divided by ``workers``.
        kill_grace_s: a trial still running this long after its ``search.trial_timeout_s`` is killed (its worker
            replaced) and recorded as failed; ``None``: never kill.
    """

    streams = True

    def __init__(self, workers: int | None = 2, torch_threads: int | None = None, kill_grace_s: float | None = 60.0):
        self.n_workers = check_count("workers", workers) or available_cpus()
        self.torch_threads = default_threads(check_count("torch_threads", torch_threads), self.n_workers)
        if kill_grace_s is not None and (isinstance(kill_grace_s, bool) or not kill_grace_s >= 0):
            raise ValueError(f"executor.kill_grace_s must be >= 0 or null, got {kill_grace_s!r}")
        self.kill_grace_s = kill_grace_s
        self._ctx = mp.get_context("spawn")
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _stop_all, self._all)

    def _take_idle(self) -> _Worker:
        while self._idle:
            w = self._idle.pop()
            if w.process.is_alive():
                return w
            self._retire(w)  # died while idle: nothing was lost, just replace it
        w = _Worker(self._ctx, self.torch_threads)
        self._all.append(w)
        return w

    def _retire(self, w: _Worker) -> None:
        w.kill()
        w.conn.close()
        if w in self._all:
            self._all.remove(w)

    def map(self, fn: EvaluateFn, specs: Iterable[TrialSpec], on_start: StartFn | None = None) -> Iterator[TrialResult]:
        # the search proposes in this process while the trials run: leave their CPUs to them
        with host_threads(self.n_workers * self.torch_threads):
            yield from self._map(fn, specs, on_start)

    def _map(
        self, fn: EvaluateFn, specs: Iterable[TrialSpec], on_start: StartFn | None = None
    ) -> Iterator[TrialResult]:
        try:  # before the first spec is pulled: an asynchronous search asks (and stores a trial) on each pull
            ForkingPickler.dumps(fn)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError(
                "executor=process sends the trial function and its spec to worker processes, so the "
                f"function must be picklable (defined at module level): {exc}"
            ) from exc
        queue, more = iter(specs), True  # pulled one spec per free worker (an asynchronous search asks then)
        busy: dict[_Worker, tuple[TrialSpec, float, float | None]] = {}  # worker -> (spec, started, kill at)
        try:
            while True:
                while more and len(busy) < self.n_workers:
                    spec = next(queue, None)
                    if spec is None:
                        more = False
                        break
                    payload = ForkingPickler.dumps((fn, spec))  # a spec is plain data; fn was checked above
                    worker = self._take_idle()
                    if on_start is not None:
                        on_start(spec)
                    started = time.monotonic()
                    limit = hard_deadline(spec, self.kill_grace_s)
                    with contextlib.suppress(OSError, ValueError):  # a worker that just died: the wait reports it
                        worker.conn.send_bytes(payload)
                    busy[worker] = (spec, started, None if limit is None else started + limit)
                if not busy:
                    return
                yield from self._collect(busy)
        finally:
            for w in busy:  # abandoned mid-batch (an exception or Ctrl-C in the caller): their results are stale
                self._retire(w)

    def _collect(self, busy: dict[_Worker, tuple[TrialSpec, float, float | None]]) -> Iterator[TrialResult]:
        """Wait until at least one busy worker finishes, dies or overruns; yield those trials' results."""
        now = time.monotonic()
        kill_ats = [k for (_, _, k) in busy.values() if k is not None]
        timeout = max(0.0, min(kill_ats) - now) if kill_ats else None
        handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait(handles, timeout))
        for w in list(busy):
            spec, started, kill_at = busy[w]
            elapsed = time.monotonic() - started
            result: TrialResult | None = None
            if w.conn in ready or w.process.sentinel in ready:
                try:
                    kind, value = w.conn.recv() if w.conn.poll() else ("died", None)
                except (EOFError, OSError):
                    kind, value = "died", None
                except Exception as exc:  # a result this process cannot unpickle
                    kind, value = "error", f"its result could not be read: {type(exc).__name__}: {exc}"
                if kind == "ok":
                    result = value
                elif kind == "error":
                    result = failed_result(spec, f"worker process: {value}", elapsed)
                else:
                    w.process.join(5.0)
                    result = failed_result(
                        spec,
                        f"the worker process running this trial died ({describe_exit(w.process.exitcode)}); "
                        "a fresh worker replaces it",
                        elapsed,
                    )
                    self._retire(w)
            elif kill_at is not None and time.monotonic() >= kill_at:
                self._retire(w)
                result = failed_result(
                    spec,
                    f"killed after {elapsed:.0f} s: still running {self.kill_grace_s} s after search.trial_timeout_s "
                    "(executor.kill_grace_s); a fresh worker replaces it",
                    elapsed,
                )
            if result is not None:
                del busy[w]
                if w in self._all:
                    self._idle.append(w)
                yield result

    def close(self) -> None:
        """End every worker process."""
        self._idle.clear()
        _stop_all(self._all)
