"""Run reports, regenerated from the store alone.

Every run directory gets (:func:`write_outputs`, called by the search when it ends or is interrupted):

* ``trials.csv`` (every trial, pending ones included), ``pareto.csv`` (the feasible Pareto set), ``summary.json``;
* ``pareto.png``: an ``n x n`` scatter matrix of the run's objectives (any number >= 2): each off-diagonal
  panel plots one pair, the diagonal a histogram of one objective; feasible, infeasible and Pareto-optimal
  trials are drawn differently, the reference point (board budgets) is dotted;
* ``hypervolume.png``: hypervolume against trial number and, beside it, against wall-clock time (with the
  workers' utilisation; see :mod:`core.timeline`);
* ``report.html``: an interactive, fully offline plotly page (parallel coordinates, scatter matrix, the Pareto
  set as a table; see :mod:`core.report_html`). Skipped with a warning if it fails, so a search always ends with
  its other reports.

The Pareto front is the non-dominated set of the trials that fit the board (status ``complete``). Infeasible
trials whose objectives are all known (they were trained: ``search.train_infeasible=true``) and that no
measured trial dominates are also listed, marked ✗ in the console table and ``report.html``
(``summary["infeasible_pareto_trial_ids"]``): they show what a larger board or budget would buy. They are not
part of the front, of ``pareto.csv`` or of the hypervolume.

``python -m core.report RUN_DIR [RUN_DIR ...] [--out DIR]`` rewrites these files for finished, interrupted
and multirun directories (a Hydra sweep directory whose numbered job directories hold the stores). With
several runs it also writes a comparison (:func:`write_comparison`): ``comparison.csv`` (one row per run) and
``hypervolume.png`` (mean ± standard deviation per optimizer) into ``--out``, by default the sweep directory
or the runs' common parent.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.interfaces.trial import TrialResult, TrialStatus
from core.pareto import OBJECTIVES, hypervolume, normalize, pareto_mask
from core.store import STORE_NAME, Store
from core.timeline import Timeline, hypervolume_history, load_timeline, plot_hypervolume
from core.timeline import pyplot as _pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from rich.console import Console

log = logging.getLogger(__name__)

HTML_NAME = "report.html"
COMPARISON_CSV = "comparison.csv"
COMPARISON_COLUMNS = (
    "run_dir", "optimizer", "seed", "board", "objectives", "n_trials", "n_trials_planned", "complete",
    "infeasible", "failed", "pending", "final_hv", "pareto_size", "wall_time_s",
)  # fmt: skip

# objective -> (axis/column label, factor from stored unit to displayed unit)
DISPLAY: dict[str, tuple[str, float]] = {
    "error": ("error [%]", 100.0),
    "flash": ("flash [KiB]", 1.0 / 1024.0),
    "ram": ("SRAM [KiB]", 1.0 / 1024.0),
    "macs": ("MACs", 1.0),
    "latency": ("latency [ms]", 1000.0),
}

# marker styles shared by the plots: (matplotlib kwargs, legend label)
_FEASIBLE = {"c": "0.6", "marker": "o", "s": 12, "label": "fits the board"}
_INFEASIBLE = {"c": "tab:red", "marker": "x", "s": 16, "linewidths": 1.0, "label": "does not fit"}
_FRONT = {"c": "tab:blue", "marker": "*", "s": 70, "edgecolors": "k", "linewidths": 0.4, "label": "Pareto front"}


# -- objective values in human units --------------------------------------------------------------------------
def display_label(name: str) -> str:
    """Axis label of an objective in displayed units (``flash [KiB]``)."""
    return DISPLAY.get(name, (name, 1.0))[0]


def display_value(name: str, value: Any) -> float:
    """A stored objective value in displayed units (error in %, bytes in KiB, latency in ms); NaN if unknown."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v * DISPLAY.get(name, (name, 1.0))[1]


def format_value(name: str, value: Any) -> str:
    """A stored objective value as text in displayed units, ``-`` if unknown."""
    v = display_value(name, value)
    if not math.isfinite(v):
        return "-"
    if name == "macs":
        return f"{round(v):,}"
    if name == "latency":
        return f"{v:.3g}"
    return f"{v:.2f}" if name == "error" else f"{v:.1f}"


def objective_value(result: TrialResult, name: str) -> float:
    """A trial's stored objective value, NaN when missing (e.g. the error of an untrained candidate)."""
    try:
        return float(result.objectives.get(name, math.nan))
    except (TypeError, ValueError):
        return math.nan


# -- Pareto sets and hypervolume ------------------------------------------------------------------------------
def pareto_results(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[TrialResult]:
    """The feasible, non-dominated trials, sorted by their first objective."""
    ok = [r for r in results if r.status == TrialStatus.COMPLETE]
    if not ok:
        return []
    y = np.array([normalize(r.objectives, objectives, ref) for r in ok])
    front = [r for r, keep in zip(ok, pareto_mask(y), strict=True) if keep]
    return sorted(front, key=lambda r: r.objectives[objectives[0]])


def infeasible_front(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[TrialResult]:
    """Infeasible trials with every objective known that no measured trial (feasible or not) dominates,
    sorted by their first objective: what a larger board would add to the front."""
    measured = [r for r in results if r.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE)]
    y = np.array([normalize(r.objectives, objectives, ref) for r in measured]).reshape(-1, len(objectives))
    known = np.all(np.isfinite(y), axis=1)
    if not np.any(known):
        return []
    candidates = [r for r, k in zip(measured, known, strict=True) if k]
    keep = pareto_mask(y[known])
    out = [r for r, k in zip(candidates, keep, strict=True) if k and r.status == TrialStatus.INFEASIBLE]
    return sorted(out, key=lambda r: r.objectives[objectives[0]])


def front_hypervolume(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> float:
    """Hypervolume of the feasible (complete) trials, objectives normalized by ``ref`` (reference all ones)."""
    done = [r for r in results if r.status == TrialStatus.COMPLETE]
    if not done:
        return 0.0
    y = np.array([normalize(r.objectives, objectives, ref) for r in done])
    return hypervolume(y, [1.0] * len(objectives))


# -- one run --------------------------------------------------------------------------------------------------
def write_outputs(store: Store, run_dir: str | Path) -> dict[str, Any]:
    """Write every report file for the run in ``run_dir``; returns the summary dict."""
    run_dir = Path(run_dir)
    results = store.results()
    objectives: list[str] = store.get_meta("objectives") or list(OBJECTIVES[:4])
    ref: dict[str, float] = store.get_meta("reference") or {}
    front = pareto_results(results, objectives, ref) if ref else []
    front_ids = {r.trial_id for r in front}
    extra_ids = {r.trial_id for r in infeasible_front(results, objectives, ref)} if ref else set()
    timeline = load_timeline(store, results)
    _write_trials_csv(run_dir / "trials.csv", results, front_ids, timeline)
    _write_trials_csv(run_dir / "pareto.csv", front, front_ids, timeline)
    history = hypervolume_history(results, objectives, ref) if ref else []
    counts = store.counts()
    summary: dict[str, Any] = {
        "board": store.get_meta("board"),
        "optimizer": store.get_meta("optimizer"),
        "seed": store.get_meta("seed"),
        "n_trials": store.get_meta("n_trials"),
        "counts": {**counts, "total": sum(counts.values())},
        "objectives": objectives,
        "reference_point": ref,
        "hypervolume": history[-1] if history else 0.0,
        "hypervolume_history": history,
        "pareto_size": len(front),
        "pareto_trial_ids": sorted(front_ids),
        "infeasible_pareto_trial_ids": sorted(extra_ids),
        "wall_time_s": store.get_meta("wall_time_s", 0.0),
        "trial_time_s": float(sum(r.duration_s for r in results)),
        "workers": timeline.workers,
        "schedule": timeline.schedule,
        "worker_utilisation": timeline.utilisation,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if ref:
        plot_pareto(run_dir / "pareto.png", results, front_ids, objectives, ref)
        title = f"{_short_optimizer(summary['optimizer'])} on {summary['board']}, seed {summary['seed']}"
        plot_hypervolume(run_dir / "hypervolume.png", history, title=title, timeline=timeline)
    _write_html(run_dir / HTML_NAME, results, summary, extra_ids, timeline)
    return summary


def _write_html(
    path: Path, results: list[TrialResult], summary: dict[str, Any], extra_ids: set[int], timeline: Timeline
) -> None:
    """``report.html``; never fails the caller (a search must end with its reports even if plotly breaks)."""
    try:
        from core.report_html import write_html

        write_html(path, results, summary, extra_ids, title=str(path.parent), timeline=timeline)
    except Exception as exc:
        log.warning("%s not written: %s: %s", path.name, type(exc).__name__, exc)


def _write_trials_csv(path: Path, results: list[TrialResult], front_ids: set[int], timeline: Timeline) -> None:
    """One row per trial; ``started_s``/``finished_s``: seconds since the run's first trial start (empty: unknown)."""
    param_keys = sorted({k for r in results for k in r.params})
    metric_keys = sorted({k for r in results for k in r.metrics})
    header = ["trial_id", "status", "pareto", *param_keys, *OBJECTIVES, *metric_keys, "duration_s", "started_s",
              "finished_s", "message"]  # fmt: skip
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in results:
            times = timeline.trials.get(r.trial_id) or (None, None)
            w.writerow(
                [r.trial_id, r.status.value, r.trial_id in front_ids]
                + [r.params.get(k, "") for k in param_keys]
                + [r.objectives.get(k, "") for k in OBJECTIVES]
                + [r.metrics.get(k, "") for k in metric_keys]
                + [round(r.duration_s, 3), *("" if t is None else round(t, 3) for t in times), r.error or ""]
            )


def plot_pareto(
    path: str | Path | None,
    results: list[TrialResult],
    front_ids: set[int],
    objectives: list[str],
    ref: dict[str, float],
) -> Figure:
    """Scatter matrix of the objectives: an ``n x n`` grid for ``n`` objectives (``n >= 2``).

    Panel ``(i, j)`` plots objective ``j`` (x) against objective ``i`` (y); the diagonal holds a stacked
    histogram of objective ``i``. Feasible trials are grey dots, infeasible ones red crosses, the Pareto front
    blue stars; dotted lines mark the reference point (the board's budgets). Cost axes are logarithmic (a few
    KiB of model against budgets of hundreds). Missing values (NaN: an untrained candidate has no error) are
    left out of the panels that need them. Writes ``path`` (if given) and returns the closed figure.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator, NullLocator

    m = len(objectives)
    measured = [r for r in results if r.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE)]
    groups = [
        ([r for r in measured if r.status == TrialStatus.COMPLETE and r.trial_id not in front_ids], _FEASIBLE),
        ([r for r in measured if r.status == TrialStatus.INFEASIBLE], _INFEASIBLE),
        ([r for r in measured if r.trial_id in front_ids], _FRONT),
    ]
    values = {
        name: [np.array([display_value(name, objective_value(r, name)) for r in g], dtype=float) for g, _ in groups]
        for name in objectives
    }
    log_axis = {}
    for name in objectives:
        v = np.concatenate(values[name])
        v = v[np.isfinite(v)]
        log_axis[name] = name != "error" and len(v) > 0 and bool(np.all(v > 0))

    size = 2.35 * m + 0.5
    fig, axes = plt.subplots(m, m, figsize=(size, size + 0.35), squeeze=False, sharex="col", sharey="row")
    for i, yname in enumerate(objectives):
        for j, xname in enumerate(objectives):
            ax = axes[i][j]
            if i == j:  # bars in axes-fraction height: the panel keeps the row's y axis for its tick labels
                _histogram(ax, values[xname], [style for _, style in groups], log_axis[xname])
                ax.text(0.04, 0.96, display_label(xname), transform=ax.transAxes, va="top", fontsize=9,
                        fontweight="bold", bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1})  # fmt: skip
            else:
                for k, (group, style) in enumerate(groups):
                    if group:
                        ax.scatter(values[xname][k], values[yname][k], **style)
                _refline(ax.axhline, display_value(yname, ref.get(yname)))
            _refline(ax.axvline, display_value(xname, ref.get(xname)))
            ax.grid(alpha=0.25, which="major")
            ax.tick_params(labelsize=7)
            if i == m - 1:
                ax.set_xlabel(display_label(xname), fontsize=8)
            if j == 0:
                ax.set_ylabel(display_label(yname), fontsize=8)
    for k, name in enumerate(objectives):  # shared axes: set each scale once, on the column's / row's first panel
        if log_axis[name]:
            axes[0][k].set_xscale("log")
            axes[0][k].xaxis.set_minor_locator(NullLocator())
            axes[k][0].set_yscale("log")
            axes[k][0].yaxis.set_minor_locator(NullLocator())
        else:
            axes[0][k].xaxis.set_major_locator(MaxNLocator(4))
            axes[k][0].yaxis.set_major_locator(MaxNLocator(4))
    handles = [
        plt.Line2D([], [], ls="", marker=s["marker"], color=s["c"], markersize=7 if s is _FRONT else 5)
        for g, s in groups
        if g
    ]
    labels = [str(s["label"]) for g, s in groups if g]
    if handles:
        fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(1, 0.975), ncol=len(handles), fontsize=8,
                   frameon=False)  # fmt: skip
    untrained = sum(1 for r in measured if not all(math.isfinite(objective_value(r, n)) for n in objectives))
    note = f", {untrained} without every objective (not trained)" if untrained else ""
    fig.suptitle(
        f"{len(measured)} measured trials, {len(front_ids)} on the Pareto front{note}; dotted: reference point",
        x=0.01,
        y=0.995,
        ha="left",
        va="top",
        fontsize=9,
    )
    # fixed margins in inches: tight_layout over n^2 log axes costs seconds
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=0.75 / w, right=1 - 0.15 / w, bottom=0.6 / h, top=1 - 0.5 / h, wspace=0.1, hspace=0.1)
    if path is not None:
        fig.savefig(path, dpi=90)
    plt.close(fig)
    return fig


def _refline(draw: Any, value: float) -> None:
    if math.isfinite(value):
        draw(value, c="k", lw=0.6, ls=":")


def _histogram(ax: Axes, values: list[np.ndarray], styles: list[dict[str, Any]], log_axis: bool) -> None:
    """Stacked histogram of one objective on the scatter matrix's diagonal; 'no data' when empty."""
    finite = [v[np.isfinite(v)] for v in values]
    allv = np.concatenate(finite) if finite else np.zeros(0)
    if len(allv) == 0:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.5")
        return
    lo, hi = float(allv.min()), float(allv.max())
    if hi <= lo:
        lo, hi = (lo * 0.9, hi * 1.1) if lo > 0 else (lo - 0.5, hi + 0.5)
    edges = np.geomspace(lo, hi, 13) if log_axis else np.linspace(lo, hi, 13)
    counts = [np.histogram(v, bins=edges)[0] for v in finite]
    top = max(float(np.sum(counts, axis=0).max()), 1.0)
    bottom = np.zeros(len(edges) - 1)
    trans = ax.get_xaxis_transform()  # x in data, y in axes fraction: the bars never move the shared y axis
    for c, style in zip(counts, styles, strict=True):
        if c.any():
            height = 0.8 * c / top
            ax.bar(edges[:-1], height, width=np.diff(edges), bottom=bottom, align="edge", color=style["c"],
                   alpha=0.85, transform=trans, linewidth=0)  # fmt: skip
            bottom = bottom + height


# -- several runs ---------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """What the comparison needs of one run, read from its store."""

    run_dir: Path
    optimizer: str
    seed: Any
    board: str
    objectives: list[str]
    n_trials_planned: Any
    counts: dict[str, int]
    history: list[float] = field(default_factory=list)  # hypervolume after each finished trial
    pareto_size: int = 0
    wall_time_s: float = 0.0

    @property
    def final_hv(self) -> float:
        return self.history[-1] if self.history else 0.0

    @property
    def n_finished(self) -> int:
        return sum(self.counts.values()) - self.counts.get(TrialStatus.PENDING.value, 0)


def load_run(run_dir: str | Path) -> RunRecord:
    """Read one run's store (``RUN_DIR/trials.db``, which must exist) into a :class:`RunRecord`."""
    run_dir = Path(run_dir)
    with Store(run_dir / STORE_NAME) as store:
        results = store.results()
        objectives: list[str] = store.get_meta("objectives") or list(OBJECTIVES[:4])
        ref: dict[str, float] = store.get_meta("reference") or {}
        finished = [r for r in results if r.status != TrialStatus.PENDING]
        return RunRecord(
            run_dir=run_dir,
            optimizer=str(store.get_meta("optimizer") or "?"),
            seed=store.get_meta("seed"),
            board=str(store.get_meta("board") or "?"),
            objectives=objectives,
            n_trials_planned=store.get_meta("n_trials"),
            counts=store.counts(),
            history=hypervolume_history(finished, objectives, ref) if ref else [],
            pareto_size=len(pareto_results(results, objectives, ref)) if ref else 0,
            wall_time_s=float(store.get_meta("wall_time_s", 0.0) or 0.0),
        )


def _short_optimizer(target: Any) -> str:
    return str(target or "?").rsplit(".", 1)[-1]


def group_runs(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs grouped by optimizer (its class name); board and objectives join the label when they differ between
    runs, so runs whose hypervolumes are not comparable never share a band."""
    boards = {r.board for r in runs}
    objective_sets = {tuple(r.objectives) for r in runs}
    groups: dict[str, list[RunRecord]] = {}
    for r in runs:
        label = _short_optimizer(r.optimizer)
        if len(boards) > 1:
            label += f" @ {r.board}"
        if len(objective_sets) > 1:
            label += f" [{','.join(r.objectives)}]"
        groups.setdefault(label, []).append(r)
    return dict(sorted(groups.items()))


def mean_std(histories: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trial number: the mean and sample standard deviation over the runs that reached it, and their
    count (runs may have different lengths, e.g. an interrupted one)."""
    n = max((len(h) for h in histories), default=0)
    y = np.full((len(histories), n), np.nan)
    for i, h in enumerate(histories):
        y[i, : len(h)] = h
    count = np.sum(np.isfinite(y), axis=0)
    mean = np.array([np.nanmean(c) if k else np.nan for c, k in zip(y.T, count, strict=True)])
    std = np.array([np.nanstd(c, ddof=1) if k > 1 else 0.0 for c, k in zip(y.T, count, strict=True)])
    return mean, std, count


def plot_hypervolume_comparison(path: str | Path | None, groups: dict[str, list[RunRecord]]) -> Figure:
    """Hypervolume against trial number per group: the mean over its runs, a ± one standard deviation band
    where at least two runs reached that trial, and each run as a thin line. Returns the closed figure."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 3.9))
    for label, runs in groups.items():
        histories = [r.history for r in runs if r.history]
        if not histories:
            continue
        mean, std, count = mean_std(histories)
        x = np.arange(1, len(mean) + 1)
        (line,) = ax.plot(x, mean, lw=1.8, label=f"{label} (n={len(histories)})")
        band = count >= 2
        if np.any(band):
            ax.fill_between(x, mean - std, mean + std, where=band, alpha=0.2, color=line.get_color(), lw=0)
        if len(histories) > 1:
            for h in histories:
                ax.plot(np.arange(1, len(h) + 1), h, lw=0.6, alpha=0.35, color=line.get_color())
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("hypervolume")
    ax.set_title("hypervolume: mean ± std over runs", fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    plt.close(fig)
    return fig


def write_comparison(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    """Compare runs from their stores: ``OUT_DIR/comparison.csv`` (one row per run, :data:`COMPARISON_COLUMNS`)
    and ``OUT_DIR/hypervolume.png`` (mean ± std per optimizer, x = trial number). Returns the csv's path.

    Directories without a ``trials.db`` (a sweep job that failed before its first trial) are skipped with a
    warning. If ``out_dir`` is itself a run directory, the files go to ``OUT_DIR/comparison/`` so the run's own
    ``hypervolume.png`` is not overwritten.
    """
    out = Path(out_dir)
    if (out / STORE_NAME).is_file():
        out = out / "comparison"
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for d in run_dirs:
        if (Path(d) / STORE_NAME).is_file():
            runs.append(load_run(d))
        else:
            log.warning("comparison: %s has no %s; skipped", d, STORE_NAME)
    runs.sort(key=lambda r: (_short_optimizer(r.optimizer), str(r.seed), str(r.run_dir)))
    path = out / COMPARISON_CSV
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COMPARISON_COLUMNS)
        for r in runs:
            w.writerow(
                [
                    _relative(r.run_dir, out),
                    r.optimizer,
                    "" if r.seed is None else r.seed,
                    r.board,
                    " ".join(r.objectives),
                    r.n_finished,
                    "" if r.n_trials_planned is None else r.n_trials_planned,
                    r.counts.get("complete", 0),
                    r.counts.get("infeasible", 0),
                    r.counts.get("failed", 0),
                    r.counts.get("pending", 0),
                    round(r.final_hv, 6),
                    r.pareto_size,
                    round(r.wall_time_s, 2),
                ]
            )
    plot_hypervolume_comparison(out / "hypervolume.png", group_runs(runs))
    return path


def _relative(path: Path, root: Path) -> str:
    p, r = path.resolve(), root.resolve()
    return str(p.relative_to(r)) if p.is_relative_to(r) else str(p)


def find_run_dirs(path: str | Path) -> list[Path]:
    """``[path]`` for a run directory; for a multirun (sweep) directory, its job directories that hold a store,
    in job-number order; ``[]`` otherwise."""
    path = Path(path)
    if (path / STORE_NAME).is_file():
        return [path]
    if not path.is_dir():
        return []
    jobs = [p for p in path.iterdir() if p.is_dir() and (p / STORE_NAME).is_file()]
    return sorted(jobs, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def print_comparison(csv_path: Path, console: Console) -> None:
    """A short table per optimizer group from a written comparison (mean ± std of the final hypervolume)."""
    from rich.table import Table

    rows = list(csv.DictReader(csv_path.open()))
    by: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by.setdefault(_short_optimizer(r["optimizer"]), []).append(r)
    table = Table(title=f"Comparison of {len(rows)} runs")
    for col in ("optimizer", "runs", "final HV", "Pareto size", "trials"):
        table.add_column(col, justify="left" if col == "optimizer" else "right")
    for name, rs in sorted(by.items()):
        hv = np.array([float(r["final_hv"]) for r in rs])
        sd = f" ± {np.std(hv, ddof=1):.4f}" if len(hv) > 1 else ""
        table.add_row(
            name,
            str(len(rs)),
            f"{hv.mean():.4f}{sd}",
            f"{np.mean([int(r['pareto_size']) for r in rs]):.1f}",
            f"{np.mean([int(r['n_trials']) for r in rs]):.0f}",
        )
    console.print(table)
    console.print(f"comparison: {csv_path} and {csv_path.with_name('hypervolume.png')}")


def main(argv: list[str] | None = None) -> int:
    """Regenerate the reports of each run directory given on the command line (and compare several)."""
    from rich.console import Console

    from core.progress import SearchProgress

    parser = argparse.ArgumentParser(
        prog="python -m core.report",
        description="Regenerate a run's reports from its store; compare several runs (or a multirun sweep).",
    )
    parser.add_argument("dirs", nargs="*", metavar="RUN_DIR", help="run directories or multirun sweep directories")
    parser.add_argument(
        "--out", type=Path, default=None, help="where the comparison of several runs goes (default: the sweep "
        "directory, or the runs' common parent)"
    )  # fmt: skip
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.dirs:
        print("usage: python -m core.report RUN_DIR [RUN_DIR ...] [--out DIR]", file=sys.stderr)
        return 2
    console = Console() if sys.stdout.isatty() else Console(width=200)
    status = 0
    runs: list[Path] = []
    sweeps: list[Path] = []
    for arg in args.dirs:
        found = find_run_dirs(arg)
        if not found:
            print(
                f"tinymoo: error: {arg}: no {STORE_NAME} here; pass a tinymoo run directory "
                f"(or a multirun directory whose job directories hold one)",
                file=sys.stderr,
            )
            status = 2
            continue
        if found != [Path(arg)]:
            sweeps.append(Path(arg))
        runs.extend(found)
    for run_dir in runs:
        with Store(run_dir / STORE_NAME) as store:
            summary = write_outputs(store, run_dir)
        SearchProgress.print_pareto(run_dir, summary, console)
    if len(runs) > 1:
        if args.out is not None:
            out = args.out
        elif len(sweeps) == 1 and len(args.dirs) == 1:
            out = sweeps[0]
        else:
            out = Path(os.path.commonpath([str(p.resolve()) for p in runs]))
        print_comparison(write_comparison(runs, out), console)
    return status


if __name__ == "__main__":
    sys.exit(main())
