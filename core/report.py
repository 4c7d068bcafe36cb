"""Run reports, regenerated from the store alone: trials.csv, pareto.csv, summary.json and plots.

``python -m core.report RUN_DIR [RUN_DIR ...]`` rewrites them for finished or interrupted runs.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from core.interfaces.trial import TrialResult, TrialStatus
from core.pareto import OBJECTIVES, hypervolume, normalize, pareto_mask
from core.store import STORE_NAME, Store


def pareto_results(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[TrialResult]:
    """The feasible, non-dominated trials, sorted by their first objective."""
    ok = [r for r in results if r.status == TrialStatus.COMPLETE]
    if not ok:
        return []
    y = np.array([normalize(r.objectives, objectives, ref) for r in ok])
    front = [r for r, keep in zip(ok, pareto_mask(y), strict=True) if keep]
    return sorted(front, key=lambda r: r.objectives[objectives[0]])


def front_hypervolume(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> float:
    """Hypervolume of the feasible (complete) trials, objectives normalized by ``ref`` (reference all ones)."""
    done = [r for r in results if r.status == TrialStatus.COMPLETE]
    if not done:
        return 0.0
    y = np.array([normalize(r.objectives, objectives, ref) for r in done])
    return hypervolume(y, [1.0] * len(objectives))


def hypervolume_history(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[float]:
    """Hypervolume (normalized space, reference all ones) after each trial, in trial-id order."""
    out, pts = [], []
    hv = 0.0
    for r in sorted(results, key=lambda r: r.trial_id):
        if r.status == TrialStatus.COMPLETE:
            pts.append(normalize(r.objectives, objectives, ref))
            hv = hypervolume(np.array(pts), [1.0] * len(objectives))
        out.append(hv)
    return out


def write_outputs(store: Store, run_dir: str | Path) -> dict[str, Any]:
    """Write every report file for the run in ``run_dir``; returns the summary dict."""
    run_dir = Path(run_dir)
    results = store.results()
    objectives: list[str] = store.get_meta("objectives") or list(OBJECTIVES[:4])
    ref: dict[str, float] = store.get_meta("reference") or {}
    front = pareto_results(results, objectives, ref) if ref else []
    front_ids = {r.trial_id for r in front}
    _write_trials_csv(run_dir / "trials.csv", results, front_ids)
    _write_trials_csv(run_dir / "pareto.csv", front, front_ids)
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
        "wall_time_s": store.get_meta("wall_time_s", 0.0),
        "trial_time_s": float(sum(r.duration_s for r in results)),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if ref:
        plot_pareto(run_dir / "pareto.png", results, front_ids, objectives, ref)
        plot_hypervolume(run_dir / "hypervolume.png", history)
    return summary


def _write_trials_csv(path: Path, results: list[TrialResult], front_ids: set[int]) -> None:
    param_keys = sorted({k for r in results for k in r.params})
    metric_keys = sorted({k for r in results for k in r.metrics})
    header = ["trial_id", "status", "pareto", *param_keys, *OBJECTIVES, *metric_keys, "duration_s", "message"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in results:
            w.writerow(
                [r.trial_id, r.status.value, r.trial_id in front_ids]
                + [r.params.get(k, "") for k in param_keys]
                + [r.objectives.get(k, "") for k in OBJECTIVES]
                + [r.metrics.get(k, "") for k in metric_keys]
                + [round(r.duration_s, 3), r.error or ""]
            )


def plot_pareto(
    path: Path, results: list[TrialResult], front_ids: set[int], objectives: list[str], ref: dict[str, float]
) -> None:
    """Pairwise objective scatter (lower triangle, cost axes logarithmic); Pareto points highlighted,
    infeasible points marked, board limits dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in results if r.objectives]
    m = len(objectives)
    fig, axes = plt.subplots(m - 1, m - 1, figsize=(3.2 * (m - 1), 3.2 * (m - 1)), squeeze=False)
    for i in range(1, m):
        for j in range(m - 1):
            ax = axes[i - 1][j]
            if j >= i:
                ax.axis("off")
                continue
            for group, style in (
                (
                    [r for r in measured if r.status == TrialStatus.COMPLETE and r.trial_id not in front_ids],
                    {"c": "0.6", "marker": "o", "s": 14, "label": "feasible"},
                ),
                (
                    [r for r in measured if r.status == TrialStatus.INFEASIBLE],
                    {"c": "tab:red", "marker": "x", "s": 18, "label": "does not fit"},
                ),
                (
                    [r for r in measured if r.trial_id in front_ids],
                    {"c": "tab:blue", "marker": "*", "s": 60, "label": "Pareto"},
                ),
            ):
                if group:
                    ax.scatter(
                        [r.objectives.get(objectives[j], math.nan) for r in group],
                        [r.objectives.get(objectives[i], math.nan) for r in group],
                        **style,
                    )
            ax.axvline(ref[objectives[j]], c="k", lw=0.6, ls=":")
            ax.axhline(ref[objectives[i]], c="k", lw=0.6, ls=":")
            # costs span decades (a few KiB of model against a board limit of hundreds): log axes keep both visible
            if objectives[j] != "error":
                ax.set_xscale("log")
            if objectives[i] != "error":
                ax.set_yscale("log")
            ax.grid(alpha=0.25, which="both")
            ax.set_xlabel(_label(objectives[j]))
            ax.set_ylabel(_label(objectives[i]))
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right")
    fig.suptitle(f"{len(measured)} measured trials, {len(front_ids)} on the Pareto front (dotted: board limit)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_hypervolume(path: Path, history: list[float]) -> None:
    """Hypervolume (normalized objectives, reference all ones) against trials."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(history) + 1), history, drawstyle="steps-post")
    ax.set_xlabel("trials")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("hypervolume")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _label(name: str) -> str:
    return {"flash": "flash [B]", "ram": "SRAM [B]", "macs": "MACs", "latency": "latency [s]"}.get(name, name)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the reports of each run directory given on the command line."""
    from rich.console import Console

    from core.progress import SearchProgress

    argv = sys.argv[1:] if argv is None else argv
    console = Console() if sys.stdout.isatty() else Console(width=200)
    if not argv:
        print("usage: python -m core.report RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    status = 0
    for arg in argv:
        db = Path(arg) / STORE_NAME
        if not db.is_file():
            print(f"tinymoo: error: {arg}: no {STORE_NAME} here; pass a tinymoo run directory", file=sys.stderr)
            status = 2
            continue
        with Store(db) as store:
            summary = write_outputs(store, arg)
        SearchProgress.print_pareto(Path(arg), summary, console)
    return status


if __name__ == "__main__":
    sys.exit(main())
