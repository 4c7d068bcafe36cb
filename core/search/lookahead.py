"""Proposals computed ahead: the next point of an asynchronous search is proposed while the trials run.

In an asynchronous search (``search.schedule=async``) a free worker pulls its next trial from the search, which
asks the optimizer for it. A model-based proposal takes seconds, and without lookahead the worker waits for it.
With ``search.lookahead`` the search starts the next proposal in a background thread as soon as it dispatches a
trial, with every point then running (the one just dispatched included) as the optimizer's pending points, so the
next free worker takes a point that is ready. Results that arrive meanwhile are queued and told to the optimizer
at the start of the following proposal: a proposal is at most one dispatch behind the results.

One thread owns the optimizer while a proposal runs; the search touches it only between proposals. Store writes
stay in the search's thread: a finished proposal hands back the optimizer states to store with it (after the
tells, and after the ask), so a killed search resumes exactly as without lookahead (untold results are told
again; a proposal never dispatched was never stored).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.interfaces.optimizer import Optimizer


@dataclass
class Proposal:
    """One finished proposal: the point, the trials it told first, and the optimizer states to store."""

    x: np.ndarray
    told: list[int]  # trial ids told to the optimizer before the ask
    told_state: dict[str, Any] | None  # the optimizer state after those tells (None: nothing told)
    state: dict[str, Any]  # the optimizer state after the ask


@dataclass
class _Tell:
    ids: list[int]
    x: np.ndarray
    y: np.ndarray
    feasible: np.ndarray


@dataclass
class Lookahead:
    """Runs ``optimizer.tell`` (queued results), ``set_pending`` and ``ask(1)`` in a background thread.

    Args:
        optimizer: the search's optimizer; owned by the thread while a proposal runs.
        dim: the search space's dimension (points are clipped to the unit cube).
    """

    optimizer: Optimizer
    dim: int
    _queue: list[_Tell] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _result: Proposal | BaseException | None = None

    def queue_tell(self, ids: list[int], x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        """Queue observations; the next proposal tells them to the optimizer before it asks."""
        with self._lock:
            self._queue.append(_Tell(list(ids), x, y, feasible))

    def start(self, pending: np.ndarray) -> None:
        """Start the next proposal: it tells what is queued now, then asks with ``pending`` (``k x dim``) as the
        points still running. Results queued after this call wait for the following proposal, so the tells and the
        pending points are one consistent snapshot of the search."""
        if self._thread is not None:
            raise RuntimeError("a proposal is already running; take() it first")
        self._result = None
        queued = self._take_queue()
        self._thread = threading.Thread(
            target=self._propose, args=(queued, pending), name="tinymoo-lookahead", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def take(self) -> Proposal:
        """Wait for the running proposal and return it (re-raising what the optimizer raised). A worker waits for
        it meanwhile, so an unfinished proposal is hurried (``Optimizer.hurry``)."""
        if self._thread is None:
            raise RuntimeError("no proposal is running")
        if self._result is None:
            self.optimizer.hurry()
        self._thread.join()
        self._thread = None
        result, self._result = self._result, None
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        return result

    def drain(self) -> list[int]:
        """Tell the queued observations now (no proposal may be running); the trial ids told."""
        if self._thread is not None:
            raise RuntimeError("a proposal is running; take() it first")
        return self._tell(self._take_queue())

    def _take_queue(self) -> list[_Tell]:
        with self._lock:
            queued, self._queue = self._queue, []
        return queued

    def _tell(self, queued: list[_Tell]) -> list[int]:
        ids: list[int] = []
        if queued:
            self.optimizer.tell(
                np.vstack([t.x for t in queued]),
                np.vstack([t.y for t in queued]),
                np.concatenate([t.feasible for t in queued]),
            )
            ids = [i for t in queued for i in t.ids]
        return ids

    def _propose(self, queued: list[_Tell], pending: np.ndarray) -> None:
        try:
            told = self._tell(queued)
            told_state = self.optimizer.state_dict() if told else None
            self.optimizer.set_pending(pending)
            x = np.clip(np.asarray(self.optimizer.ask(1), dtype=float).reshape(1, self.dim), 0.0, 1.0)[0]
            self._result = Proposal(x, told, told_state, self.optimizer.state_dict())
        except BaseException as exc:  # handed to the search's thread by take()
            self._result = exc
