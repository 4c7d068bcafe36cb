"""Benchmark: does a second worker pay off? Throughput, worker utilisation and hypervolume at equal wall time of
the asynchronous search against one worker and against the synchronous (batch) search.

Issue 14's target, on this 2-core machine with one torch thread per worker: with 2 workers the asynchronous search
runs >= 1.8x as many trials per hour as with 1 worker, for ``sobol`` and for ``mobo_ars`` (the default optimizer);
its workers are busy >= 90 % of the time; and its hypervolume at equal wall time is >= the synchronous search's.

What runs. Per scenario (``--scenarios``: ``sobol``, ``mobo_ars``: the optimizer) and seed (``--seeds``), one
search per run (``--runs``), one at a time, each ``python -m core.run`` in its own subprocess and temporary run
dir, on the task (``--task``) with that seed, ``search.n_trials`` (``--trials``) and ``trainer.max_epochs``
(``--epochs``; the searched ``epochs`` parameter is removed with ``~search_space.params.epochs``),
``executor.torch_threads=1`` and ``logger=none``. Tasks: ``quickstart`` (small CNN on digits, STM32F4 costs, the
board's reference point: every candidate is tiny next to the board, so every search's HV saturates near 0.97) or
one of :mod:`benchmarks.tinyml`'s reported tasks (``digits``, ``basic_motions``, ``osuleaf``, ``acsf1``) with its
fixed epochs (unless ``--epochs``) and its reference point, where HV stays well below 1 and so tells searches
apart. A run is ``EXECUTOR:WORKERS[:SCHEDULE]`` with SCHEDULE ``async`` (the default; ``search.lookahead`` auto: on
with 2 or more workers), ``nolookahead`` (asynchronous, ``search.lookahead=false``: a freed worker waits while the
next point is proposed) or ``batch`` (``search.schedule=batch``: ask ``WORKERS`` trials, wait for all of them,
tell). The default runs:

* ``process:1``: the baseline. One worker process, so asynchronous == sequential; it runs in a worker process
  (not ``executor=local``) so that the start-up costs are the same as with 2 workers.
* ``process:2:batch``: the synchronous search with 2 workers.
* ``process:2:nolookahead``: the asynchronous search with 2 workers, each next point proposed when a worker frees.
* ``process:2``: the asynchronous search with 2 workers, the next point proposed while the trials run (lookahead).
* ``ray:2``: the asynchronous search on a local Ray runtime (only when ``import ray`` works; ``--no-ray`` drops it).

What is measured, from each run's store (``trials.db``) after the search:

* ``trials_per_hour``: finished trials / the search's wall time (store meta ``wall_time_s``: from opening the
  store to the end of the last trial; excludes Python and hydra start-up), and ``trials_per_hour_incl_startup``:
  over the subprocess's whole wall time.
* ``utilisation``: busy trial-seconds / (workers * span), a trial busy from its ``started_at`` to its
  ``finished_at`` (:meth:`core.search.store.Store.timings`) and the span from the first start to the last finish (as
  ``summary.json``'s ``worker_utilisation``, which is copied as ``summary_worker_utilisation`` when present).
  A trial's ``started_at`` is its dispatch, so a worker's start-up (spawn, imports) counts as busy time of its
  first trial; ``utilisation_in_trial`` counts only the time measured inside the workers (``duration_s``), and
  ``first_trials_overhead_s`` is the mean dispatch-to-finish time of the first ``workers`` trials beyond their
  ``duration_s`` (mostly worker start-up).
* ``hv_trace``: ``[elapsed_s, hypervolume, trial_id]`` after every finished trial in finishing order, elapsed since
  the first trial start; hypervolume as the reports compute it (:func:`core.report.front_hypervolume`: complete
  trials, objectives normalized by the run's reference point, reference all ones). ``final_hv``.
* ``trial_s_median``: median start-to-finish time of a trial; ``worker_trial_s_median``: the same as measured
  inside the worker (``duration_s``).
* ``tell_ask_s_mean``: mean main-process time from a trial's finish to the next trial's proposal being stored
  (store the result, tell, ask): the time a freed worker waits for its next trial.

Derived per scenario (``derived``), all from runs of the same invocation:

* ``ratio_to_1_worker``: each run's ``trials_per_hour`` / ``process:1``'s (and ``..._incl_startup``).
* ``equal_time_s``: the shorter span of ``process:2`` (async) and ``process:2:batch``: when the faster of them
  finished. ``hv_at_equal_time``: each run's hypervolume at that time (the last value of its trace at or before
  it), so the asynchronous search's hypervolume can be compared to the synchronous one's at equal wall time.
* ``targets``: the issue's three checks for ``process:2`` (async).

Over seeds (``paired``, per scenario, when it ran on more than one seed): the mean ± std over seeds of each run's
ratio to 1 worker and utilisation, and of the paired difference in HV at equal wall time, async minus batch: one
seed's difference is noise-level on its own, the mean over seeds is the check.

Output: ``benchmarks/results/scaling.json`` (``--out``: machine, git commit, command, settings, every run's raw
data, derived values), a markdown table printed and written next to it (``scaling.md``). ``--report-only`` rewrites
the markdown from the JSON without running anything.

Usage: ``python -m benchmarks.scaling [--task quickstart] [--trials 30] [--epochs 30] [--seeds 0 ...]
[--scenarios sobol mobo_ars] [--runs process:1 process:2:batch process:2:nolookahead process:2 ray:2] [--no-ray]
[--out PATH] [--report-only]``.
Run it on a quiet machine: other load slows trials unevenly and lowers the measured speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.machine import git
from core.search.timeline import worker_utilisation

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "scaling.json"
SCENARIOS = {"sobol": "sobol", "mobo_ars": "mobo_ars"}  # scenario -> optimizer
BASELINE = "process:1:async"
ASYNC2 = "process:2:async"
BATCH2 = "process:2:batch"
DEFAULT_RUNS = ("process:1", "process:2:batch", "process:2:nolookahead", "process:2", "ray:2")
SCHEDULES = ("async", "batch", "nolookahead")
TARGETS = {"speedup": 1.8, "utilisation": 0.9}


# -- pure parts -----------------------------------------------------------------------------------------------
def parse_run(text: str) -> tuple[str, int, str]:
    """``EXECUTOR:WORKERS[:SCHEDULE]`` -> ``(executor, workers, schedule)``; schedule defaults to ``async``."""
    parts = text.split(":")
    if not 2 <= len(parts) <= 3 or not parts[1].isdigit() or int(parts[1]) < 1:
        raise ValueError(f"a run is EXECUTOR:WORKERS[:SCHEDULE], e.g. process:2 or process:2:batch; got {text!r}")
    schedule = parts[2] if len(parts) == 3 else "async"
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r} in {text!r}")
    return parts[0], int(parts[1]), schedule


def run_label(executor: str, workers: int, schedule: str) -> str:
    return f"{executor}:{workers}:{schedule}"


def hv_at(trace: Sequence[Sequence[float]], t: float) -> float:
    """The hypervolume of a ``[[elapsed_s, hv, ...], ...]`` trace at time ``t``: after the last trial finished at
    or before ``t`` (0 before the first)."""
    hv = 0.0
    for point in trace:
        if point[0] <= t + 1e-9:
            hv = float(point[1])
    return hv


def tell_ask_gaps(created: dict[int, float], finished: dict[int, float]) -> list[float]:
    """For each trial proposed after some trial had finished: its proposal's store time minus the latest finish
    before it (storing the result, telling and asking, while the freed worker waits)."""
    ends = sorted(finished.values())
    gaps = []
    for c in created.values():
        before = [f for f in ends if f <= c]
        if before:
            gaps.append(c - before[-1])
    return gaps


def derive(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios to ``process:1``, hypervolume at equal wall time of async vs batch (2 workers), the target checks.
    Adds ``ratio_to_1_worker`` and ``hv_at_equal_time`` to each run; returns the scenario's derived values."""
    by = {r["run"]: r for r in runs}
    base = by.get(BASELINE)
    out: dict[str, Any] = {"baseline": BASELINE if base else None}
    for r in runs:
        if base:
            r["ratio_to_1_worker"] = round(r["trials_per_hour"] / base["trials_per_hour"], 3)
            r["ratio_to_1_worker_incl_startup"] = round(
                r["trials_per_hour_incl_startup"] / base["trials_per_hour_incl_startup"], 3
            )
    a, b = by.get(ASYNC2), by.get(BATCH2)
    equal = min(a["span_s"], b["span_s"]) if a and b else None
    out["equal_time_s"] = None if equal is None else round(equal, 2)
    for r in runs:
        r["hv_at_equal_time"] = None if equal is None else hv_at(r["hv_trace"], equal)
    out["ratios_to_1_worker"] = {r["run"]: r.get("ratio_to_1_worker") for r in runs}
    out["utilisation"] = {r["run"]: r["utilisation"] for r in runs}
    out["hv_at_equal_time"] = {r["run"]: r["hv_at_equal_time"] for r in runs}
    targets: dict[str, Any] = {}
    if a and base:
        targets["speedup_ge_1.8"] = a["ratio_to_1_worker"] >= TARGETS["speedup"]
    if a and a["utilisation"] is not None:
        targets["utilisation_ge_0.9"] = a["utilisation"] >= TARGETS["utilisation"]
    if a and b:
        targets["hv_async_ge_batch_at_equal_time"] = a["hv_at_equal_time"] >= b["hv_at_equal_time"]
    out["targets"] = targets
    return out


def paired(scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario run on more than one seed: mean ± std over seeds of every run's ratio to 1 worker and
    utilisation, and of the paired difference in HV at equal wall time, ``process:2`` (async) minus batch."""

    def stats(values: list[float]) -> dict[str, Any]:
        return {
            "mean": round(statistics.mean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "n": len(values),
        }

    out: dict[str, Any] = {}
    for name in dict.fromkeys(sc["name"] for sc in scenarios):
        mine = [sc for sc in scenarios if sc["name"] == name]
        if len(mine) < 2:
            continue
        runs: dict[str, dict[str, Any]] = {}
        for label in dict.fromkeys(r["run"] for sc in mine for r in sc["runs"]):
            rows = [r for sc in mine for r in sc["runs"] if r["run"] == label]
            ratios = [r["ratio_to_1_worker"] for r in rows if r.get("ratio_to_1_worker") is not None]
            utils = [r["utilisation"] for r in rows if r.get("utilisation") is not None]
            runs[label] = {
                "ratio_to_1_worker": stats(ratios) if ratios else None,
                "utilisation": stats(utils) if utils else None,
            }
        diffs = []
        for sc in mine:
            by = {r["run"]: r for r in sc["runs"]}
            if ASYNC2 in by and BATCH2 in by and by[ASYNC2].get("hv_at_equal_time") is not None:
                diffs.append(by[ASYNC2]["hv_at_equal_time"] - by[BATCH2]["hv_at_equal_time"])
        entry: dict[str, Any] = {"seeds": [sc.get("seed") for sc in mine], "runs": runs}
        if diffs:
            entry["hv_async_minus_batch_at_equal_time"] = stats(diffs) | {"async_ge": sum(d >= 0 for d in diffs)}
            entry["hv_async_ge_batch_on_mean"] = statistics.mean(diffs) >= 0
        out[name] = entry
    return out


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _pm(v: dict[str, Any] | None, spec: str) -> str:
    return "-" if v is None else f"{format(v['mean'], spec)} ± {format(v['std'], spec)}"


def markdown(result: dict[str, Any]) -> str:
    """The README table: one row per scenario and run, then the target checks."""
    s = result["settings"]
    m = result["machine"]
    seeds = s.get("seeds", [s.get("seed")])
    epochs = "the task's" if s.get("epochs") is None else s["epochs"]
    lines = [
        f"Scaling (`{result.get('command', 'python -m benchmarks.scaling')}`): {s.get('task', 'quickstart')} task, "
        f"{s['trials']} trials, `trainer.max_epochs`: {epochs}, seed{'s' if len(seeds) > 1 else ''} "
        f"{', '.join(map(str, seeds))}, 1 torch thread per worker; {m.get('cpu')}, {m.get('cores')} cores; commit "
        f"{result.get('git_commit', '?')[:7]}{' (dirty)' if result.get('git_dirty') else ''}.",
        "",
        "| scenario | seed | run | trials/h | ratio to 1 worker | utilisation | in trials | HV at equal time "
        "| final HV |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sc in result["scenarios"]:
        eq = sc["derived"].get("equal_time_s")
        seed = sc.get("seed", s.get("seed"))
        for r in sc["runs"]:
            hv_eq = r.get("hv_at_equal_time")
            lines.append(
                f"| {sc['name']} | {seed} | {r['run']} | {r['trials_per_hour']:.0f} | "
                f"{_fmt(r.get('ratio_to_1_worker'), '.2f')} | {_fmt(r['utilisation'], '.0%')} | "
                f"{_fmt(r.get('utilisation_in_trial'), '.0%')} | "
                f"{'-' if hv_eq is None else f'{hv_eq:.4f} (at {eq:.1f} s)'} | {r['final_hv']:.4f} |"
            )
        for item in sc.get("skipped", []):
            lines.append(f"| {sc['name']} | {seed} | {item['run']} | skipped: {item['reason']} | | | | | |")
    lines += [
        "",
        "trials/h: finished trials per hour of the search's wall time (without process start-up); ratio: to "
        f"`{BASELINE}` of the same invocation; utilisation: busy trial-seconds / (workers x span from the first "
        "start to the last finish), a trial busy from its dispatch, so its worker's start-up counts; in trials: "
        "the same with only the time measured inside the workers; HV at equal time: at the wall time (since the "
        "first trial start) when the "
        f"faster of `{ASYNC2}` and `{BATCH2}` finished.",
        "",
    ]
    for sc in result["scenarios"]:
        t = sc["derived"].get("targets", {})
        if t:
            checks = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in t.items())
            lines.append(f"- {sc['name']}, seed {sc.get('seed', s.get('seed'))} ({ASYNC2}): {checks}")
    over = result.get("paired") or {}
    if over:
        lines += [
            "",
            "Over seeds (mean ± std); HV difference: async minus batch at equal wall time, paired by seed:",
            "",
            "| scenario | run | seeds | ratio to 1 worker | utilisation | HV difference (async - batch) |",
            "|---|---|---|---|---|---|",
        ]
        for name, entry in over.items():
            diff = entry.get("hv_async_minus_batch_at_equal_time")
            for label, v in entry["runs"].items():
                cell = "-"
                if label == ASYNC2 and diff:
                    cell = f"{diff['mean']:+.4f} ± {diff['std']:.4f} (async >= batch on {diff['async_ge']}/{diff['n']})"
                lines.append(
                    f"| {name} | {label} | {len(entry['seeds'])} | {_pm(v['ratio_to_1_worker'], '.2f')} | "
                    f"{_pm(v['utilisation'], '.0%')} | {cell} |"
                )
    return "\n".join(lines) + "\n"


# -- running --------------------------------------------------------------------------------------------------
def _space_has_epochs() -> bool:
    import yaml

    space = yaml.safe_load((REPO / "conf" / "search_space" / "quickstart.yaml").read_text())
    return "epochs" in (space.get("params") or {})


def task_overrides(task: str) -> list[str]:
    """The overrides that make ``task`` (see the module docstring): the quickstart less its searched epochs, or a
    :mod:`benchmarks.tinyml` task with its fixed epochs and its reference point."""
    if task == "quickstart":
        return ["~search_space.params.epochs"] if _space_has_epochs() else []
    from benchmarks import tinyml

    if task not in tinyml.REPORTED_TASKS:
        raise ValueError(f"task must be quickstart or one of {', '.join(tinyml.REPORTED_TASKS)}, got {task!r}")
    ref = tinyml.task_reference(task)
    return [*tinyml.base_overrides(task), *[f"search.reference.{k}={float(v)!r}" for k, v in ref.items()]]


def overrides_for(
    optimizer: str,
    executor: str,
    workers: int | str,
    schedule: str,
    trials: int,
    epochs: int | None,
    seed: int | str,
    task: Sequence[str] | None = None,
) -> list[str]:
    """The ``python -m core.run`` overrides of one run; ``task``: :func:`task_overrides` (default: the
    quickstart's); ``epochs`` ``None``: the task's own."""
    out = [
        f"seed={seed}",
        f"search.n_trials={trials}",
        *(task_overrides("quickstart") if task is None else task),
        *([] if epochs is None else [f"trainer.max_epochs={epochs}"]),
        f"optimizer={optimizer}",
        f"executor={executor}",
        f"executor.workers={workers}",
        "executor.torch_threads=1",
        f"search.schedule={'async' if schedule == 'nolookahead' else schedule}",
        *(["search.lookahead=false"] if schedule == "nolookahead" else []),
        "logger=none",
        "search.progress=false",
    ]
    return out


def read_run(run_dir: Path) -> dict[str, Any]:
    """Everything measured from a finished run's store (and ``summary.json``)."""
    from core.interfaces.trial import TrialStatus
    from core.report import front_hypervolume
    from core.search.store import STORE_NAME, Store

    db = run_dir / STORE_NAME
    with Store(db) as store:
        results = store.results()
        timings = store.timings()
        objectives = store.get_meta("objectives")
        ref = store.get_meta("reference") or {}
        workers = int(store.get_meta("workers") or 1)
        schedule = store.get_meta("schedule")
        search_wall = float(store.get_meta("wall_time_s", 0.0) or 0.0)
        counts = store.counts()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    created = {int(t): float(c) for t, c in con.execute("SELECT trial_id, created_at FROM trials")}
    con.close()
    starts = [s for _, s, _ in timings if s is not None]
    finished = {t: f for t, _, f in timings if f is not None}
    t0 = min(starts) if starts else None
    by_id = {r.trial_id: r for r in results}
    done = sorted(
        (tid for tid in finished if by_id[tid].status != TrialStatus.PENDING), key=lambda tid: (finished[tid], tid)
    )
    trace: list[list[float]] = []
    hv = 0.0
    for i, tid in enumerate(done):
        if by_id[tid].status == TrialStatus.COMPLETE and ref:
            hv = front_hypervolume([by_id[j] for j in done[: i + 1]], objectives, ref)
        trace.append([round(finished[tid] - t0, 3) if t0 is not None else float("nan"), round(hv, 6), tid])
    spans = [f - s for _, s, f in timings if s is not None and f is not None]
    in_trial = sum(by_id[t].duration_s for t in done)
    span = trace[-1][0] if trace else 0.0
    first = sorted((s, t) for t, s, f in timings if s is not None and f is not None)[:workers]
    overhead = [finished[t] - s - by_id[t].duration_s for s, t in first]
    gaps = tell_ask_gaps(created, finished)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    n = len(done)
    util = worker_utilisation(timings, workers)
    return {
        "workers": workers,
        "schedule": schedule,
        "n_trials": n,
        "counts": counts,
        "search_wall_s": round(search_wall, 2),
        "trials_per_hour": round(3600 * n / search_wall, 1) if search_wall > 0 else 0.0,
        "span_s": span,
        "utilisation": None if util is None else round(util, 4),
        "utilisation_in_trial": round(in_trial / (workers * span), 4) if span > 0 else None,
        "first_trials_overhead_s": round(statistics.mean(overhead), 2) if overhead else None,
        "summary_worker_utilisation": summary.get("worker_utilisation"),
        "final_hv": trace[-1][1] if trace else 0.0,
        "summary_hypervolume": summary.get("hypervolume"),
        "trial_s_median": round(statistics.median(spans), 3) if spans else None,
        "worker_trial_s_median": round(statistics.median(r.duration_s for r in results), 3) if results else None,
        "tell_ask_s_mean": round(statistics.mean(gaps), 3) if gaps else None,
        "tell_ask_s": [round(g, 3) for g in gaps],
        "hv_trace": trace,
        "trial_s": {str(t): round(f - s, 3) for t, s, f in timings if s is not None and f is not None},
    }


def run_once(
    optimizer: str,
    executor: str,
    workers: int,
    schedule: str,
    trials: int,
    epochs: int | None,
    seed: int,
    timeout: float,
    task: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One search in a temporary run dir, as a subprocess; returns its measurements."""
    overrides = overrides_for(optimizer, executor, workers, schedule, trials, epochs, seed, task)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["WANDB_MODE"] = "disabled"
    with tempfile.TemporaryDirectory(prefix="tinymoo-scaling-") as tmp:
        run_dir = Path(tmp) / "run"
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "core.run", *overrides, f"hydra.run.dir={run_dir}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr[-3000:]}")
        row = read_run(run_dir)
    row = {
        "run": run_label(executor, workers, schedule),
        "executor": executor,
        "torch_threads_per_worker": 1,
        "process_wall_s": round(wall, 2),
        "trials_per_hour_incl_startup": round(3600 * row["n_trials"] / wall, 1),
        **row,
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "overrides": overrides,
    }
    stored_as = "async" if schedule == "nolookahead" else schedule  # the store records the schedule, not lookahead
    if row["schedule"] != stored_as or row["workers"] != workers:
        raise RuntimeError(
            f"asked for {workers} workers ({schedule}), the store says {row['workers']} ({row['schedule']})"
        )
    return row


def ray_available() -> str | None:
    """``None`` when ``import ray`` works, else why not."""
    try:
        import ray  # noqa: F401
    except Exception as exc:
        return f"import ray failed ({type(exc).__name__}: {exc})"
    return None


def write_report(result: dict[str, Any], out: Path) -> str:
    """Write ``out``'s ``.md`` from ``result``; returns the markdown."""
    text = markdown(result)
    out.with_suffix(".md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Run every scenario's runs one after the other, write the JSON and the markdown, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="quickstart", help="quickstart (default) or a reported tinyml task")
    parser.add_argument("--trials", type=int, default=30, help="search.n_trials of every run (default 30)")
    parser.add_argument(
        "--epochs", type=int, help="trainer.max_epochs of every trial (default: 30 on the quickstart, else the task's)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="a search per seed (default 0)")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument(
        "--runs",
        nargs="+",
        default=list(DEFAULT_RUNS),
        help=f"EXECUTOR:WORKERS[:async|batch] (default: {' '.join(DEFAULT_RUNS)})",
    )
    parser.add_argument("--no-ray", action="store_true", help="drop the ray runs")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one run may take (default 3600)")
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON (the markdown goes next to it as .md)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the markdown from --out's JSON")
    args = parser.parse_args(argv)
    out: Path = args.out
    if args.report_only:
        print(write_report(json.loads(out.read_text()), out), end="")
        return 0
    epochs = 30 if args.epochs is None and args.task == "quickstart" else args.epochs
    try:
        runs = [parse_run(r) for r in args.runs]
        task = task_overrides(args.task)
    except ValueError as exc:
        parser.error(str(exc))
    skipped_ray = "--no-ray" if args.no_ray else (ray_available() if any(e == "ray" for e, _, _ in runs) else None)
    command = "python -m benchmarks.scaling " + shlex.join(sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = {
        "benchmark": "scaling",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "command": command.strip(),
        "run_command": "python -m core.run "
        + " ".join(
            overrides_for("<optimizer>", "<executor>", "<workers>", "<schedule>", args.trials, epochs, "<seed>", task)
        )
        + " hydra.run.dir=<tmp>",
        "machine": None,  # filled in at the end (with the load average then)
        "settings": {
            "task": args.task,
            "trials": args.trials,
            "epochs": epochs,
            "seeds": args.seeds,
            "scenarios": args.scenarios,
            "runs": [run_label(*r) for r in runs],
            "torch_threads_per_worker": 1,
        },
        "targets": TARGETS,
        "scenarios": [],
    }
    from benchmarks.machine import machine_info

    failed = 0
    for seed in args.seeds:
        for name in args.scenarios:
            sc: dict[str, Any] = {"name": name, "seed": seed, "optimizer": SCENARIOS[name], "runs": [], "skipped": []}
            for executor, workers, schedule in runs:
                label = run_label(executor, workers, schedule)
                if executor == "ray" and skipped_ray:
                    sc["skipped"].append({"run": label, "reason": skipped_ray})
                    continue
                print(f"{name} seed {seed} {label} ...", file=sys.stderr, flush=True)
                try:
                    row = run_once(
                        SCENARIOS[name], executor, workers, schedule, args.trials, epochs, seed, args.timeout, task
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    failed += 1
                    sc["skipped"].append({"run": label, "reason": f"failed: {str(exc)[-2000:]}"})
                    print(f"{name} seed {seed} {label} failed: {exc}", file=sys.stderr, flush=True)
                    continue
                print(
                    f"{name} seed {seed} {label}: {row['search_wall_s']} s search, {row['trials_per_hour']} "
                    f"trials/h, utilisation {row['utilisation']}, final HV {row['final_hv']}",
                    file=sys.stderr,
                    flush=True,
                )
                sc["runs"].append(row)
            sc["derived"] = derive(sc["runs"])
            result["scenarios"].append(sc)
    result["paired"] = paired(result["scenarios"])
    result["machine"] = machine_info() | {"load_avg_at_end": [round(v, 2) for v in os.getloadavg()]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(write_report(result, out), end="")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
