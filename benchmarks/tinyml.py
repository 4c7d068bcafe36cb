"""Benchmark: tinymoo's optimizers on real TinyML searches (train, prune, int8, TFLM cost model), 4 objectives.

Usage::

    python -m benchmarks.tinyml --profile quick --workers 1 --resume     # hours on 2 cores; resumable
    python -m benchmarks.tinyml --tasks digits --methods sobol mobo_ars --seeds 0 --budget 12 --out-dir /tmp/b
    python -m benchmarks.tinyml --report-only                             # rewrite .md/.png from the JSON

**Tasks** (:data:`TASKS`, all offline, through :class:`core.search.loop.Search` exactly as ``python -m core.run``):

* ``digits``: scikit-learn digits (1 x 8 x 8, 10 classes), 2-D ``small_cnn``, STM32F4, the quickstart space;
* ``basic_motions``: aeon's BasicMotions IMU set (6 x 100, 4 classes), 1-D ``small_cnn``, ESP32;
* ``osuleaf``: aeon's OSULeaf (1 x 427, 6 classes), 1-D ``small_cnn``, nRF52840, the time-series space
  (depth up to 4, width up to 48): a longer input where SRAM and MACs trade against error;
* ``acsf1``: aeon's ACSF1 appliance power traces (1 x 1460, 10 classes), the same space and board as ``osuleaf``:
  the longest input aeon bundles (added on 2026-12-08, after the three above, because ``basic_motions`` and
  ``digits`` saturate by trial 45-60; fixed before any optimizer ran on it).

Training is short and fixed (``trainer.max_epochs`` per task, the ``epochs`` search parameter removed), so a trial
takes seconds; the objectives are error (1 - int8 validation accuracy), flash, SRAM and MACs, q=1.

**Reference point.** The board's budgets are so large next to these nets that every candidate sits in a corner of
the cost axes and every method scores HV ~0.96. So each task's reference is set where the search space lives,
by a rule fixed before any optimizer ran: error: ``1 - 1/classes`` (chance level adds nothing); each cost: the
75th percentile of the exact costs (known costs, no training) of 256 scrambled Sobol' points of the space
(seed 0), capped at the board's budget. Measured with Sobol' (seed 0, 40 trials): the largest sampled cost left
HV at 0.65-0.83 (the cost axes carried little volume), the median at 0.06-0.21, the 75th percentile at 0.25-0.46.
The board's feasibility is unchanged (a candidate that cannot fit is still infeasible).

**Output** (``benchmarks/results/tinyml_<profile>.json``, rewritten after every run): per run the HV after every
trial, the final HV, infeasible/failed counts, every proposal's time, every trial's wall time and the elapsed
wall time after every trial; per task and method mean ± std over seeds, HV at equal trials and at equal wall time
(the mean total wall time of the fastest method). ``.md`` holds the tables, ``.png`` HV vs trials and HV vs
wall-clock time with mean ± std bands.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.optimizers import (
    OUT_DIR,
    REPO,
    _init_size,
    _interrupt,
    _mean_std,
    compose_config,
    execute_all,
    resolve_methods,
    rewrite_reports,
    write_json,
)

METHODS: tuple[str, ...] = ("mobo_ars", "mobo_ars_paper", "qlognehvi", "qlognparego", "nsga2", "sobol")
OBJECTIVES = ("error", "flash", "ram", "macs")
REFERENCE_SAMPLES = 256
REFERENCE_QUANTILE = 0.75  # of the sampled exact costs (see the module docstring)


@dataclass(frozen=True)
class Task:
    """A TinyML search problem: Hydra overrides of ``conf/config.yaml`` (fixed epochs included)."""

    overrides: tuple[str, ...]
    description: str
    tuning: bool = False  # for tuning defaults only (benchmarks/tinyml_tuning.py); never in the reported tables


def _aeon(name: str, hw: str, batch_size: int, epochs: int) -> tuple[str, ...]:
    """Overrides of a task on one of aeon's bundled sets: 1-D ``small_cnn`` in the time-series space."""
    return (
        "dataset=aeon_bundled",
        f"dataset.name={name}",
        "model=small_cnn",
        "model.conv_dim=1",
        f"hw={hw}",
        "search_space=quickstart_timeseries",
        f"data.batch_size={batch_size}",
        f"trainer.max_epochs={epochs}",
    )


TASKS: dict[str, Task] = {
    "digits": Task(
        ("dataset=digits", "model=small_cnn", "hw=stm32f4", "search_space=quickstart", "trainer.max_epochs=8"),
        "digits 1x8x8, 2-D small_cnn, stm32f4, 8 epochs",
    ),
    "basic_motions": Task(
        ("experiment=quickstart_timeseries", "trainer.max_epochs=30"),
        "BasicMotions 6x100, 1-D small_cnn, esp32, 30 epochs",
    ),
    "osuleaf": Task(
        _aeon("OSULeaf", "nrf52840", batch_size=32, epochs=20),
        "OSULeaf 1x427, 1-D small_cnn, nrf52840, 20 epochs",
    ),
    # added 2026-12-08, fixed before any optimizer ran on it: the longest input aeon bundles (basic_motions and
    # digits saturate by trial 45-60, so a second task where SRAM and MACs trade against error)
    "acsf1": Task(
        _aeon("ACSF1", "nrf52840", batch_size=16, epochs=20),
        "ACSF1 1x1460, 1-D small_cnn, nrf52840, 20 epochs",
    ),
    # tuning tasks: mobo_ars's defaults are chosen on these (and seeds that are not reported), never on the above
    "arrowhead": Task(
        _aeon("ArrowHead", "nrf52840", batch_size=16, epochs=20),
        "ArrowHead 1x251, 1-D small_cnn, nrf52840, 20 epochs (tuning)",
        tuning=True,
    ),
    "japanese_vowels": Task(
        _aeon("JapaneseVowels_eq", "esp32", batch_size=32, epochs=15),
        "JapaneseVowels 12x29, 1-D small_cnn, esp32, 15 epochs (tuning)",
        tuning=True,
    ),
}
REPORTED_TASKS: tuple[str, ...] = tuple(t for t, task in TASKS.items() if not task.tuning)


@dataclass(frozen=True)
class Profile:
    """Budget (trials per run, initial design included), initial design size and seeds."""

    budget: int
    n_init: int
    seeds: tuple[int, ...]


PROFILES: dict[str, Profile] = {
    "quick": Profile(budget=60, n_init=10, seeds=(0, 1, 2, 3, 4)),
    "full": Profile(budget=100, n_init=10, seeds=(0, 1, 2, 3, 4)),
}


# -- the reference point -------------------------------------------------------------------------------------------
def task_reference(task: str) -> dict[str, float]:
    """The task's reference point by the rule of the module docstring (deterministic; costs in bytes and MACs)."""
    from scipy.stats import qmc

    from core.plugins import instantiate
    from core.search.checks import reference_point
    from core.search.space import SearchSpace
    from core.trial.known_costs import KnownCosts, cost_objectives

    cfg = compose_config(base_overrides(task))
    space = SearchSpace.from_config(cfg.search_space.get("params"), cfg)
    board = reference_point(cfg, instantiate(cfg.hw, "hw"), OBJECTIVES)
    known = KnownCosts(cfg, space, OBJECTIVES, board)
    points = qmc.Sobol(space.dim, seed=0).random(REFERENCE_SAMPLES)
    costs = [cost_objectives(known.cost(p)) for p in points]
    classes = int(instantiate(cfg.dataset, "dataset").num_classes)
    ref = {"error": 1.0 - 1.0 / classes}
    for name in OBJECTIVES[1:]:
        ref[name] = float(min(np.quantile([c[name] for c in costs], REFERENCE_QUANTILE), board[name]))
    return ref


def base_overrides(task: str) -> list[str]:
    """The task's overrides, with the searched ``epochs`` parameter removed (training length is fixed)."""
    return [*TASKS[task].overrides, "~search_space.params.epochs", f"search.objectives=[{','.join(OBJECTIVES)}]"]


def run_overrides(spec: dict[str, Any]) -> list[str]:
    """Hydra overrides of one run."""
    ref = spec["reference"]
    return [
        *base_overrides(spec["problem"]),
        f"optimizer={spec['method']}",
        f"seed={int(spec['seed'])}",
        f"search.n_trials={int(spec['budget'])}",
        "search.progress=false",
        "logger=none",
        *[f"search.reference.{k}={float(v)!r}" for k, v in ref.items()],
        *[f"optimizer.{k}={spec['config'][k]}" for k in ("n_init", "pop_size") if k in spec["config"]],
        *spec.get("extra", []),
    ]


# -- one run (in a worker process) ------------------------------------------------------------------------------------
def run_task(spec: dict[str, Any]) -> dict[str, Any]:
    """One search in a temporary run directory; times every ask and every trial.

    Returns:
        The run's record: HV after every trial (normalized objectives, reference all ones), the elapsed wall time
        after every trial, proposal and trial times, counts.
    """
    from core.interfaces.trial import TrialResult, TrialSpec
    from core.search.loop import Search
    from core.trial.evaluate import evaluate_trial

    start = time.perf_counter()
    overrides = run_overrides(spec)
    cfg = compose_config(overrides)
    ask_times: list[float] = []
    trial_times: list[float] = []
    elapsed: list[float] = []

    def timed_evaluate(trial: TrialSpec) -> TrialResult:
        t0 = time.perf_counter()
        result = evaluate_trial(trial)
        trial_times.append(time.perf_counter() - t0)
        return result

    with tempfile.TemporaryDirectory(prefix="tinymoo-bench-") as tmp:
        search = Search(cfg, Path(tmp) / "run", evaluate=timed_evaluate, show_progress=False)
        ask = search.optimizer.ask

        def timed_ask(n: int) -> np.ndarray:
            t0 = time.perf_counter()
            out = ask(n)
            ask_times.append(time.perf_counter() - t0)
            return out

        search.optimizer.ask = timed_ask  # type: ignore[method-assign]
        log_trial = search.logger.log_trial

        def clock(result: TrialResult, hv: float) -> None:
            elapsed.append(time.perf_counter() - start)
            log_trial(result, hv)

        search.logger.log_trial = clock  # type: ignore[method-assign]
        summary = search.run().summary
    history = [float(v) for v in summary["hypervolume_history"]]
    counts = summary["counts"]
    return {
        "problem": spec["problem"],
        "method": spec["method"],
        "seed": int(spec["seed"]),
        "budget": int(spec["budget"]),
        "n_init": int(spec["n_init"]),
        "reference": spec["reference"],
        "config": spec["config"],
        "overrides": overrides,
        "hv_history": history,
        "final_hv": history[-1] if history else 0.0,
        "elapsed_s": [round(t, 3) for t in elapsed],
        "proposal_times_s": [round(t, 4) for t in ask_times],
        "trial_times_s": [round(t, 3) for t in trial_times],
        "proposal_time_median_s": float(np.median(ask_times[_init_size(spec) :] or ask_times or [0.0])),
        "infeasible": int(counts.get("infeasible", 0)),
        "failed": int(counts.get("failed", 0)),
        "pareto_size": summary["pareto_size"],
        "total_time_s": time.perf_counter() - start,
    }


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one spec in a worker; never raises (a failure comes back as ``{"error": ...}``)."""
    try:
        return {"task": spec, "result": run_task(spec)}
    except Exception as exc:
        return {"task": spec, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


# -- aggregation ---------------------------------------------------------------------------------------------------
def hv_at_time(run: dict[str, Any], t: float) -> float:
    """The run's hypervolume at wall time ``t`` seconds (0 before its first trial finished)."""
    i = int(np.searchsorted(np.asarray(run["elapsed_s"]), t, side="right"))
    return float(run["hv_history"][i - 1]) if i > 0 else 0.0


def aggregate(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (task, method): final HV, HV at equal wall time, proposal times, counts and mean ± std curves."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["problem"], r["method"]), []).append(r)
    # equal wall time per task: the smallest mean total wall time of any method there
    walls: dict[str, float] = {}
    for (task, _), rs in groups.items():
        mean_wall = float(np.mean([r["elapsed_s"][-1] for r in rs if r["elapsed_s"]] or [0.0]))
        walls[task] = min(walls.get(task, np.inf), mean_wall)
    out = []
    for (task, method), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        n = min(len(r["hv_history"]) for r in rs)
        hist = np.array([r["hv_history"][:n] for r in rs], dtype=float)
        grid = np.linspace(0.0, max(r["elapsed_s"][-1] for r in rs if r["elapsed_s"]), 200)
        timed = np.array([[hv_at_time(r, t) for t in grid] for r in rs])
        hv_mean, hv_std = _mean_std([r["final_hv"] for r in rs])
        eq_mean, eq_std = _mean_std([hv_at_time(r, walls[task]) for r in rs])
        later = [t for r in rs for t in r["proposal_times_s"][_init_size(r) :]]
        out.append(
            {
                "problem": task,
                "method": method,
                "n_runs": len(rs),
                "seeds": [r["seed"] for r in rs],
                "final_hvs": [r["final_hv"] for r in rs],
                "final_hv_mean": hv_mean,
                "final_hv_std": hv_std,
                "equal_time_s": walls[task],
                "hv_at_equal_time_mean": eq_mean,
                "hv_at_equal_time_std": eq_std,
                "proposal_time_median_s": float(np.median(later)) if later else None,
                "trial_time_median_s": float(np.median([t for r in rs for t in r["trial_times_s"]])),
                "wall_time_mean_s": float(np.mean([r["elapsed_s"][-1] for r in rs if r["elapsed_s"]])),
                "infeasible_mean": float(np.mean([r["infeasible"] for r in rs])),
                "failed_total": int(sum(r["failed"] for r in rs)),
                "hv_history_mean": hist.mean(axis=0).tolist(),
                "hv_history_std": (hist.std(axis=0, ddof=1) if len(rs) > 1 else np.zeros(n)).tolist(),
                "time_grid_s": grid.tolist(),
                "hv_time_mean": timed.mean(axis=0).tolist(),
                "hv_time_std": (timed.std(axis=0, ddof=1) if len(rs) > 1 else np.zeros(len(grid))).tolist(),
            }
        )
    return out


# -- reports -------------------------------------------------------------------------------------------------------
DEFAULT, RIVAL, FLOOR = "mobo_ars", "qlognehvi", "sobol"  # issue 11's checks: the default, the method to beat, Sobol'
MAX_PROPOSAL_S = 5.0


def checks(aggs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task, the default against the rest: is its mean final HV the highest; its gap to ``qlognehvi`` and the
    pooled std ``sqrt((s1^2 + s2^2) / 2)``; its median proposal time; its HV at equal wall time against Sobol's."""
    cell = {(a["problem"], a["method"]): a for a in aggs}
    out = []
    for task in dict.fromkeys(a["problem"] for a in aggs):
        mine = cell.get((task, DEFAULT))
        if mine is None:
            continue
        others = [a for a in aggs if a["problem"] == task and a["method"] != DEFAULT]
        runner = max(others, key=lambda a: a["final_hv_mean"], default=None)
        rival, floor = cell.get((task, RIVAL)), cell.get((task, FLOOR))
        row: dict[str, Any] = {
            "problem": task,
            "seeds": len(mine["seeds"]),
            "highest_final_hv": runner is None or mine["final_hv_mean"] > runner["final_hv_mean"],
            "runner_up": None if runner is None else runner["method"],
            "proposal_time_median_s": mine["proposal_time_median_s"],
            "proposal_time_ok": (mine["proposal_time_median_s"] or 0.0) <= MAX_PROPOSAL_S,
        }
        if rival is not None:
            gap = mine["final_hv_mean"] - rival["final_hv_mean"]
            pooled = float(np.sqrt(((mine["final_hv_std"] or 0.0) ** 2 + (rival["final_hv_std"] or 0.0) ** 2) / 2))
            row |= {"gap_to_rival": gap, "pooled_std": pooled, "beats_rival_by_pooled_std": gap > pooled}
            theirs = dict(zip(rival["seeds"], rival.get("final_hvs", []), strict=False))
            diffs = [
                v - theirs[s] for s, v in zip(mine["seeds"], mine.get("final_hvs", []), strict=False) if s in theirs
            ]
            if diffs:  # the seed fixes the data split: pair the runs of the same seed
                row |= {
                    "paired_seeds": len(diffs),
                    "paired_mean": float(np.mean(diffs)),
                    "paired_std": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0,
                    "paired_higher": int(sum(d > 0 for d in diffs)),
                }
        if floor is not None:
            row["equal_time_not_below_sobol"] = mine["hv_at_equal_time_mean"] >= floor["hv_at_equal_time_mean"]
        out.append(row)
    return out


def _check_lines(aggs: Sequence[dict[str, Any]]) -> list[str]:
    rows = checks(aggs)
    if not rows:
        return []

    def yes(v: Any) -> str:
        return "n/a" if v is None else ("yes" if v else "**no**")

    lines = [
        f"## Checks: `{DEFAULT}` against the others",
        "",
        f"| task | seeds | highest mean final HV (runner-up) | minus `{RIVAL}` | pooled std | ahead by more | "
        f"paired by seed (higher) | median proposal ≤ {MAX_PROPOSAL_S:g} s | at equal time ≥ `{FLOOR}` |",
        "|---|---:|---|---:|---:|---|---:|---|---|",
    ]
    for r in rows:
        gap, pooled = r.get("gap_to_rival"), r.get("pooled_std")
        paired = (
            f"{r['paired_mean']:+.4f} ± {r['paired_std']:.4f} ({r['paired_higher']} of {r['paired_seeds']})"
            if "paired_mean" in r
            else "n/a"
        )
        lines.append(
            f"| {r['problem']} | {r['seeds']} | {yes(r['highest_final_hv'])} ({r['runner_up']}) | "
            f"{'n/a' if gap is None else f'{gap:+.4f}'} | {'n/a' if pooled is None else f'{pooled:.4f}'} | "
            f"{yes(r.get('beats_rival_by_pooled_std'))} | {paired} | {yes(r['proposal_time_ok'])} "
            f"({r['proposal_time_median_s'] or 0.0:.2f} s) | {yes(r.get('equal_time_not_below_sobol'))} |"
        )
    return [
        *lines,
        "",
        f"Paired: `{DEFAULT}` minus `{RIVAL}` on the same seed (which fixes the data split), mean ± std over the seeds "
        "both ran, and on how many the default is higher.",
        "",
    ]


def _cell(mean: float | None, std: float | None, best: bool) -> str:
    if mean is None:
        return "n/a"
    text = f"{mean:.4f} ± {(std or 0.0):.4f}"
    return f"**{text}**" if best else text


def write_markdown(path: Path, data: dict[str, Any]) -> None:
    """Tables: final HV (equal trials) and HV at equal wall time per task, then times and counts."""
    aggs = data.get("aggregate") or []
    tasks = list(dict.fromkeys(a["problem"] for a in aggs))
    methods = [m for m in data["settings"]["methods"] if any(a["method"] == m for a in aggs)]
    cell = {(a["problem"], a["method"]): a for a in aggs}
    machine = data.get("machine") or {}
    s = data["settings"]
    lines = [
        f"# TinyML optimizer benchmark (`{data['profile']}` profile)",
        "",
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores; one torch thread per run, "
        f"{machine.get('workers')} run(s) at a time. Updated {data.get('updated')}.",
        "",
        f"Command: `{data.get('command')}`",
        "",
        f"4 objectives ({', '.join(OBJECTIVES)}), q=1, budget {s['budget']} trials, n_init {s['n_init']}, seeds "
        f"{s['seeds']}. HV in normalized objectives (reference all ones). Cells: mean ± sample std over seeds, best "
        "mean in bold.",
        "",
    ]
    for key, title in (
        ("final_hv", "Final hypervolume (equal trials)"),
        ("hv_at_equal_time", "Hypervolume at equal wall time (the fastest method's mean wall time per run)"),
    ):
        lines += [f"## {title}", "", "| method | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
        best = {t: max(cell[(t, m)][f"{key}_mean"] for m in methods if (t, m) in cell) for t in tasks}
        for m in methods:
            cells = []
            for t in tasks:
                a = cell.get((t, m))
                cells.append(_cell(a[f"{key}_mean"], a[f"{key}_std"], a[f"{key}_mean"] == best[t]) if a else "n/a")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        if key == "hv_at_equal_time":
            lines.append(
                "| (equal time [s]) | "
                + " | ".join(
                    f"{cell[(t, methods[0])]['equal_time_s']:.0f}" if (t, methods[0]) in cell else "" for t in tasks
                )
                + " |"
            )
        lines.append("")
    lines += _check_lines(aggs)
    lines += [
        "## Times and counts",
        "",
        "| task | method | runs | median proposal [s] | median trial [s] | mean wall per run [s] | infeasible/run "
        "| failed |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for a in aggs:
        prop = a["proposal_time_median_s"]
        lines.append(
            f"| {a['problem']} | {a['method']} | {a['n_runs']} | {prop if prop is None else f'{prop:.2f}'} | "
            f"{a['trial_time_median_s']:.2f} | {a['wall_time_mean_s']:.0f} | {a['infeasible_mean']:.1f} | "
            f"{a['failed_total']} |"
        )
    lines += ["", "References (error, flash B, SRAM B, MACs):", ""]
    for t, ref in (data.get("references") or {}).items():
        lines.append(f"- {t}: " + ", ".join(f"{k} {v:.6g}" for k, v in ref.items()))
    for f in data.get("failed") or []:
        lines.append(f"- failed `{f['method']}` on {f['problem']} seed {f['seed']}: {f['error']}")
    path.write_text("\n".join(lines) + "\n")


def write_plot(path: Path, data: dict[str, Any]) -> None:
    """Two rows: HV vs trials and HV vs wall-clock time, one column per task, mean ± std band per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    aggs = data.get("aggregate") or []
    tasks = list(dict.fromkeys(a["problem"] for a in aggs))
    if not tasks:
        return
    methods = list(dict.fromkeys(a["method"] for a in aggs))
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.8 * len(tasks), 7.4), squeeze=False)
    for j, task in enumerate(tasks):
        for a in (a for a in aggs if a["problem"] == task):
            c = colors[a["method"]]
            for row, (x, mean, std) in enumerate(
                (
                    (np.arange(1, len(a["hv_history_mean"]) + 1), a["hv_history_mean"], a["hv_history_std"]),
                    (np.asarray(a["time_grid_s"]), a["hv_time_mean"], a["hv_time_std"]),
                )
            ):
                mean, std = np.asarray(mean), np.asarray(std)
                axes[row, j].plot(x, mean, color=c, lw=1.5, label=a["method"])
                axes[row, j].fill_between(x, mean - std, mean + std, color=c, alpha=0.15, lw=0)
        axes[0, j].set_title(task)
        axes[0, j].set_xlabel("trials")
        axes[1, j].set_xlabel("wall-clock time [s]")
        for row in range(2):
            axes[row, j].set_ylabel("hypervolume")
            axes[row, j].grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=colors[m], lw=2, label=m) for m in methods]
    fig.legend(handles=handles, loc="lower center", ncol=len(methods), frameon=False)
    fig.suptitle(f"TinyML benchmark ({data['profile']}): hypervolume, mean ± std over seeds")
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the driver ----------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tinyml", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), help=f"default: {' '.join(REPORTED_TASKS)}")
    p.add_argument("--methods", nargs="+", help=f"optimizer config names; default: {' '.join(METHODS)}")
    p.add_argument("--budget", type=int, help="trials per run (default: the profile's)")
    p.add_argument("--n-init", type=int, help="initial design size (default: the profile's)")
    p.add_argument("--seeds", nargs="+", type=int, help="default: the profile's")
    p.add_argument("--workers", type=int, default=1, help="parallel runs (default 1)")
    p.add_argument("--out-dir", type=Path, default=OUT_DIR, help=f"default: {OUT_DIR.relative_to(REPO)}")
    p.add_argument("--resume", action="store_true", help="keep finished runs of the JSON and skip them")
    p.add_argument("--report-only", action="store_true", help="only rewrite the .md and .png from the JSON")
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        help="with --resume: also keep the matching runs of these result files (a benchmark split across processes "
        "or machines with --tasks/--seeds/--out-dir)",
    )
    return p.parse_args(argv)


def _key(r: dict[str, Any]) -> tuple[str, str, int]:
    return (str(r["problem"]), str(r["method"]), int(r["seed"]))


def write_reports(json_path: Path, data: dict[str, Any]) -> None:
    """The markdown tables and the plot next to the JSON."""
    write_markdown(json_path.with_suffix(".md"), data)
    write_plot(json_path.with_suffix(".png"), data)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (1 if any run failed)."""
    args = parse_args(argv)
    from benchmarks.machine import machine_info

    profile = PROFILES[args.profile]
    json_path = Path(args.out_dir) / f"tinyml_{args.profile}.json"
    old: dict[str, Any] = json.loads(json_path.read_text()) if json_path.exists() else {}
    if args.report_only:
        return rewrite_reports(json_path, old, write_reports)
    n_init = args.n_init or profile.n_init
    settings = {
        "budget": args.budget or profile.budget,
        "n_init": n_init,
        "seeds": list(args.seeds if args.seeds is not None else profile.seeds),
        "tasks": list(dict.fromkeys(args.tasks or REPORTED_TASKS)),
        "methods": list(dict.fromkeys(args.methods or METHODS)),
    }
    configs, skipped = resolve_methods(settings["methods"], n_init, n_init)
    references = {t: task_reference(t) for t in settings["tasks"]}
    data: dict[str, Any] = {
        "benchmark": "tinyml",
        "profile": args.profile,
        "command": " ".join(["python -m benchmarks.tinyml", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
        "machine": {**machine_info(), "workers": args.workers, "worker_torch_threads": 1},
        "settings": settings,
        "references": references,
        "tasks": {t: TASKS[t].description for t in settings["tasks"]},
        "skipped": skipped,
        "failed": [],
        "runs": [],
    }
    if args.resume:  # keep runs made with the same settings (a retuned method's runs are redone)
        merged = [r for f in args.merge for r in json.loads(Path(f).read_text()).get("runs", [])]
        for r in [*old.get("runs", []), *merged]:
            same = (
                r["problem"] in references
                and r.get("reference") == references[r["problem"]]
                and r.get("config") == configs.get(r["method"])
                and all(r.get(k) == settings[k] for k in ("budget", "n_init"))
            )
            if same and _key(r) not in {_key(k) for k in data["runs"]}:
                data["runs"].append(r)
    done = {_key(r) for r in data["runs"]}
    specs = [
        {
            "problem": t,
            "method": m,
            "seed": s,
            "budget": settings["budget"],
            "n_init": n_init,
            "reference": references[t],
            "config": configs[m],
        }
        for s in settings["seeds"]
        for t in settings["tasks"]
        for m in configs
        if (t, m, s) not in done
    ]
    if done:
        print(f"resume: {len(done)} runs already done, {len(specs)} to go")

    def save() -> None:
        data["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
        data["aggregate"] = aggregate(data["runs"]) if data["runs"] else []
        write_json(json_path, data)

    save()
    signal.signal(signal.SIGTERM, _interrupt)
    start = time.perf_counter()
    try:
        from benchmarks import tinyml as this

        for i, out in enumerate(execute_all(specs, args.workers, this.execute), 1):
            spec = out["task"]
            label = f"{spec['problem']}/{spec['method']}/seed {spec['seed']}"
            if "error" in out:
                data["failed"].append({k: spec[k] for k in ("problem", "method", "seed")} | {"error": out["error"]})
                print(out["traceback"], file=sys.stderr)
                line = f"{label}: FAILED ({out['error']})"
            else:
                r = out["result"]
                data["runs"].append(r)
                line = (
                    f"{label}: hv {r['final_hv']:.4f}, ask median {r['proposal_time_median_s']:.2f} s, "
                    f"wall {r['elapsed_s'][-1] if r['elapsed_s'] else 0:.0f} s, infeasible {r['infeasible']}"
                )
            save()
            print(f"[{i}/{len(specs)} {time.perf_counter() - start:.0f} s] {line}", flush=True)
    finally:
        save()
        write_reports(json_path, data)
    return 1 if data["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
