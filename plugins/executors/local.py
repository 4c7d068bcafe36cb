"""Sequential in-process executor: one trial at a time, in the search's own process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.api import EvaluateFn, Executor, StartFn, TrialResult, TrialSpec


class LocalExecutor(Executor):
    """Runs trials one after another; the trial function records its own failures."""

    n_workers = 1
    streams = True  # the next spec is pulled only after the previous result was handled

    def map(self, fn: EvaluateFn, specs: Iterable[TrialSpec], on_start: StartFn | None = None) -> Iterator[TrialResult]:
        for spec in specs:
            if on_start is not None:
                on_start(spec)
            yield fn(spec)
