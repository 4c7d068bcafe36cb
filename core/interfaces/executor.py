"""Executor: runs trial specs (sequentially or in parallel) and yields results as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

from core.interfaces.trial import TrialResult, TrialSpec

EvaluateFn = Callable[[TrialSpec], TrialResult]
StartFn = Callable[[TrialSpec], None]


class Executor(ABC):
    """Maps trials to results. ``n_workers`` is how many trials it runs at once.

    Attributes:
        n_workers: trials at once.
        streams: ``True`` if :meth:`map` takes ``specs`` from an iterator lazily, one spec whenever a worker is
            free and only after every result that finished before has been yielded and handled. The search is then
            asynchronous: it asks the optimizer for each trial at the moment a worker needs one, told of every
            result so far and of the trials still running. ``False`` (the default, safe for any executor): the
            search hands ``map`` a batch of ``n_workers`` trials and waits for all of them before asking again.
    """

    n_workers: int = 1
    streams: bool = False

    @abstractmethod
    def map(self, fn: EvaluateFn, specs: Iterable[TrialSpec], on_start: StartFn | None = None) -> Iterator[TrialResult]:
        """Evaluate every spec with ``fn``; yield each result as soon as it is done (any order).

        Args:
            fn: the trial function (picklable for executors that use other processes).
            specs: the trials to run: a sequence, or with ``streams`` an iterator that yields the next trial only
                when it is pulled (it may ask an optimizer; pull it only for a free worker).
            on_start: called in the calling process when a trial is actually dispatched (the search counts
                attempts with it).

        A spec whose evaluation crashes a worker process must still yield a ``failed`` result.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers (default: nothing to release)."""
