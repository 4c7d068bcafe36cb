"""Executor: runs trial specs (sequentially or in parallel) and yields results as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence

from core.interfaces.trial import TrialResult, TrialSpec

EvaluateFn = Callable[[TrialSpec], TrialResult]
StartFn = Callable[[TrialSpec], None]


class Executor(ABC):
    """Maps trials to results. ``n_workers`` is how many trials it runs at once (the search asks for that many)."""

    n_workers: int = 1

    @abstractmethod
    def map(self, fn: EvaluateFn, specs: Sequence[TrialSpec], on_start: StartFn | None = None) -> Iterator[TrialResult]:
        """Evaluate every spec with ``fn``; yield each result as soon as it is done (any order).

        Args:
            fn: the trial function (picklable for executors that use other processes).
            specs: the trials to run.
            on_start: called in the calling process when a trial is actually dispatched (the search counts
                attempts with it).

        A spec whose evaluation crashes a worker process must still yield a ``failed`` result.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers (default: nothing to release)."""
