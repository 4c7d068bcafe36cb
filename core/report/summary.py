"""One run's files: ``trials.csv``, ``pareto.csv``, ``summary.json``, the plots and ``report.html``."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from core.interfaces.trial import TrialResult
from core.report.display import short_optimizer
from core.report.fronts import infeasible_front, pareto_results
from core.report.plots import plot_pareto
from core.search.objectives import OBJECTIVES
from core.search.store import Store
from core.search.timeline import Timeline, hypervolume_history, load_timeline, plot_hypervolume

log = logging.getLogger(__name__)

HTML_NAME = "report.html"


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
        title = f"{short_optimizer(summary['optimizer'])} on {summary['board']}, seed {summary['seed']}"
        plot_hypervolume(run_dir / "hypervolume.png", history, title=title, timeline=timeline)
    _write_html(run_dir / HTML_NAME, results, summary, extra_ids, timeline)
    return summary


def _write_html(
    path: Path, results: list[TrialResult], summary: dict[str, Any], extra_ids: set[int], timeline: Timeline
) -> None:
    """``report.html``; never fails the caller (a search must end with its reports even if plotly breaks)."""
    try:
        from core.report.html_page import write_html

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
