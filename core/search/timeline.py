"""The run's trial timeline: when each trial ran, how busy the workers were, and the hypervolume against time.

A search records the Unix time at which each trial's latest evaluation attempt started and the time at which it
finished (:meth:`core.search.store.Store.timings`). From those this module computes, for the reports
(:func:`core.report.write_outputs`, ``report.html``):

* each trial's start and finish in seconds since the run's first trial start (:func:`relative_times`);
* the workers' utilisation, the share of the available worker time that trials used (:func:`worker_utilisation`);
* the hypervolume after each finished trial in finishing order, against those seconds
  (:func:`hypervolume_over_time`): what a user gets for the wall-clock time they pay for;
* ``hypervolume.png`` (:func:`plot_hypervolume`): the hypervolume against trial number
  (:func:`hypervolume_history`) and, in a second panel, against wall-clock time.

Stores written before trials recorded their start time have no timeline: the functions return ``None`` or empty
series for them. The time axis is wall-clock time since the first start, so a resumed run's axis includes the
time the search was stopped between its sessions.

Nothing here imports the report modules, which import this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from core.interfaces.trial import TrialResult, TrialStatus
from core.search.objectives import OBJECTIVES
from core.search.pareto import hypervolume, normalize

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from core.search.store import Store

Timings = Sequence[tuple[int, float | None, float | None]]  # (trial_id, started_at, finished_at), Unix times


class TrialTimes(NamedTuple):
    """A trial's start and finish in seconds since the run's first trial start (``None``: not recorded)."""

    started_s: float | None
    finished_s: float | None


class HVPoint(NamedTuple):
    """The hypervolume right after one trial finished."""

    elapsed_s: float  # seconds since the run's first trial start
    hypervolume: float  # normalized objectives, reference point all ones (as everywhere in the reports)
    trial_id: int  # the trial that had just finished


@dataclass
class Timeline:
    """Everything the reports show about time, for one run (see :func:`load_timeline`)."""

    workers: int  # the executor's worker count (1 when the store does not say)
    schedule: str | None  # "async" or "batch" (None when the store does not say)
    trials: dict[int, TrialTimes] = field(default_factory=dict)  # by trial id
    utilisation: float | None = None
    hypervolume: list[HVPoint] = field(default_factory=list)  # finishing order


def origin(timings: Timings) -> float | None:
    """Time zero of the timeline: the run's first trial start, ``None`` when no start was recorded.

    (In a store begun before start times were recorded and resumed after, an earlier finish counts as the
    start, so no time on the timeline is negative.)
    """
    starts = [s for _, s, _ in timings if s is not None]
    if not starts:
        return None
    return min(starts + [f for _, _, f in timings if f is not None])


def relative_times(timings: Timings) -> dict[int, TrialTimes]:
    """Each trial's start and finish in seconds since the first trial start, by trial id; ``None`` where a time
    is not recorded (a pending trial has no finish; a store from before start times has no times at all)."""
    t0 = origin(timings)
    if t0 is None:
        return {tid: TrialTimes(None, None) for tid, _, _ in timings}
    return {tid: TrialTimes(None if s is None else s - t0, None if f is None else f - t0) for tid, s, f in timings}


def worker_utilisation(timings: Timings, workers: int | None = 1) -> float | None:
    """The share of the workers' time spent evaluating trials:

        sum over finished trials of (finished_at - started_at) / (workers * span)

    where ``span`` is the wall time from the first start to the last finish of those trials. Only trials with
    both times recorded count (a pending trial has no finish). ``started_at`` is the trial's latest attempt.
    1.0 means every worker was busy all the time; a batch search waiting for the slowest trial of each batch
    scores lower. ``workers`` defaults to 1 when unknown. ``None`` when no trial has both times (a store from
    before start times) or the span is zero. A resumed run's span includes the time it was stopped.
    """
    done = [(s, f) for _, s, f in timings if s is not None and f is not None]
    if not done:
        return None
    span = max(f for _, f in done) - min(s for s, _ in done)
    if span <= 0:
        return None
    busy = sum(max(f - s, 0.0) for s, f in done)
    return busy / (max(int(workers or 1), 1) * span)


def hypervolume_trace(
    results: Iterable[TrialResult], objectives: Sequence[str], ref: Mapping[str, float]
) -> list[float]:
    """The hypervolume (objectives normalized by ``ref``, reference point all ones) of the complete trials among
    ``results[: i + 1]``, for each ``i``, in the order given: one value per result, whatever its status.

    Only the current non-dominated set is kept; a point that it weakly dominates (or that is outside the
    reference box, or has a missing objective) leaves the hypervolume unchanged and costs no computation.
    """
    ones = [1.0] * len(objectives)
    front: list[np.ndarray] = []
    hv, out = 0.0, []
    for r in results:
        if r.status == TrialStatus.COMPLETE:
            y = normalize(r.objectives, objectives, ref)
            useful = bool(np.all(np.isfinite(y)) and np.all(y < 1.0))
            if useful and not any(np.all(p <= y) for p in front):
                front = [p for p in front if not np.all(y <= p)] + [y]
                hv = hypervolume(np.array(front), ones)
        out.append(hv)
    return out


def hypervolume_over_time(
    results: Iterable[TrialResult], timings: Timings, objectives: Sequence[str], ref: Mapping[str, float]
) -> list[HVPoint]:
    """The hypervolume after each finished trial, in finishing order (ties by trial id), against seconds since
    the first trial start. Empty when no start time was recorded or without a reference point."""
    t0 = origin(timings)
    if t0 is None or not ref:
        return []
    finished_at = {tid: f for tid, _, f in timings if f is not None}
    done = [r for r in results if r.status != TrialStatus.PENDING and r.trial_id in finished_at]
    done.sort(key=lambda r: (finished_at[r.trial_id], r.trial_id))
    trace = hypervolume_trace(done, objectives, ref)
    return [HVPoint(finished_at[r.trial_id] - t0, hv, r.trial_id) for r, hv in zip(done, trace, strict=True)]


def hypervolume_history(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[float]:
    """Hypervolume (normalized space, reference all ones) after each trial, in trial-id order."""
    return hypervolume_trace(sorted(results, key=lambda r: r.trial_id), objectives, ref)


def load_timeline(store: Store, results: list[TrialResult] | None = None) -> Timeline:
    """A run's :class:`Timeline` from its store (``results``: ``store.results()``, if already read)."""
    results = store.results() if results is None else results
    timings = store.timings()
    objectives: list[str] = store.get_meta("objectives") or list(OBJECTIVES[:4])
    ref: dict[str, float] = store.get_meta("reference") or {}
    workers = max(int(store.get_meta("workers") or 1), 1)
    return Timeline(
        workers=workers,
        schedule=store.get_meta("schedule"),
        trials=relative_times(timings),
        utilisation=worker_utilisation(timings, workers),
        hypervolume=hypervolume_over_time(results, timings, objectives, ref),
    )


# -- plots ----------------------------------------------------------------------------------------------------
def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_hypervolume(
    path: str | Path | None, history: list[float], title: str | None = None, timeline: Timeline | None = None
) -> Figure:
    """Hypervolume (normalized objectives, reference all ones) against trial number; dots mark the trials that
    improved it. With a ``timeline``, a second panel plots it against wall-clock time. Writes ``path`` (if given)
    and returns the closed figure."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    n = 1 if timeline is None else 2  # the two panels share the hypervolume axis
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.2), sharey=True)
    ax = axes if timeline is None else axes[0]
    x = np.arange(1, len(history) + 1)
    y = np.asarray(history, dtype=float)
    ax.plot(x, y, drawstyle="steps-post")
    if len(y):
        better = np.diff(np.concatenate([[0.0], y])) > 0
        ax.plot(x[better], y[better], "o", ms=3, color="tab:blue")
        ax.set_title(f"{title + ': ' if title else ''}HV {y[-1]:.4f} after {len(y)} trials", fontsize=9)
    elif title:
        ax.set_title(title, fontsize=9)
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("hypervolume")
    ax.grid(alpha=0.3)
    if timeline is not None:
        _draw_hypervolume_time(axes[1], timeline)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    plt.close(fig)
    return fig


def _draw_hypervolume_time(ax: Axes, timeline: Timeline) -> None:
    """Draw the hypervolume against wall-clock time on ``ax`` (a step curve from zero; dots where it rose)."""
    points = timeline.hypervolume
    scale, unit = time_unit(points[-1].elapsed_s if points else 0.0)
    ax.set_xlabel(f"wall-clock time since the first trial start [{unit}]")
    ax.grid(alpha=0.3)
    if not points:
        ax.text(0.5, 0.5, "no trial times recorded", transform=ax.transAxes, ha="center", va="center",
                fontsize=8, color="0.5")  # fmt: skip
        return
    x = np.array([0.0] + [p.elapsed_s / scale for p in points])
    y = np.array([0.0] + [p.hypervolume for p in points])
    ax.plot(x, y, drawstyle="steps-post", color="tab:green")
    better = np.diff(y, prepend=0.0) > 0
    ax.plot(x[better], y[better], "o", ms=3, color="tab:green")
    ax.set_title(f"{describe(timeline)}: HV {y[-1]:.4f} after {x[-1]:.3g} {unit}", fontsize=9)


def time_unit(seconds: float) -> tuple[float, str]:
    """A readable unit for a time axis that reaches ``seconds``: ``(seconds per unit, unit)``."""
    if seconds >= 3 * 3600:
        return 3600.0, "h"
    if seconds >= 600:
        return 60.0, "min"
    return 1.0, "s"


def describe(timeline: Timeline) -> str:
    """``4 workers (async), 87% busy``: the worker count, schedule and utilisation in words."""
    text = f"{timeline.workers} worker{'s' if timeline.workers != 1 else ''}"
    if timeline.schedule:
        text += f" ({timeline.schedule})"
    if timeline.utilisation is not None:
        text += f", {timeline.utilisation:.0%} busy"
    return text
