"""Several runs compared from their stores: ``comparison.csv`` (one row per run) and ``hypervolume.png``
(mean ± standard deviation per optimizer)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.interfaces.trial import TrialStatus
from core.report.display import short_optimizer
from core.report.fronts import pareto_results
from core.search.objectives import OBJECTIVES
from core.search.store import STORE_NAME, Store
from core.search.timeline import hypervolume_history
from core.search.timeline import pyplot as _pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

COMPARISON_CSV = "comparison.csv"
COMPARISON_COLUMNS = (
    "run_dir", "optimizer", "seed", "board", "objectives", "n_trials", "n_trials_planned", "complete",
    "infeasible", "failed", "pending", "final_hv", "pareto_size", "wall_time_s",
)  # fmt: skip


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


def group_runs(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs grouped by optimizer (its class name); board and objectives join the label when they differ between
    runs, so runs whose hypervolumes are not comparable never share a band."""
    boards = {r.board for r in runs}
    objective_sets = {tuple(r.objectives) for r in runs}
    groups: dict[str, list[RunRecord]] = {}
    for r in runs:
        label = short_optimizer(r.optimizer)
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
    runs.sort(key=lambda r: (short_optimizer(r.optimizer), str(r.seed), str(r.run_dir)))
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
