"""Benchmark: trials per hour of the quickstart task with 1 and 2 workers on the local, process and ray executors.

Every run is ``python -m core.run`` on the quickstart (small CNN on digits, STM32F4 costs) with the same seed,
``search.n_trials``, a pinned ``trainer.max_epochs`` (so it is not searched) and ``executor=<name>
executor.workers=<n>``. The ``sobol`` scenarios measure the executors: Sobol' proposals take no time, and every run
evaluates the same points in the same order, so each trial's duration can be compared across runs. The
``mobo_ars`` scenario runs the quickstart's own optimizer, whose proposals run in the main process between batches
while the workers wait (and whose points depend on the batch size).

From the run's store the benchmark also splits the search's wall time into what bounds the speed-up:

* ``steady_trials_per_hour``: throughput after the first batch (without worker start-up and first-trial warm-up).
* ``trial_s_mean``: mean trial duration as measured inside the worker (``duration_s``); its ratio between the
  2-worker and the 1-worker run (``per_trial_slowdown``, median over trials) shows how much slower a trial runs
  when two run at once (fewer torch threads each, shared caches and memory bandwidth, other load on the machine).
* ``first_batch_overhead_s``: the first batch's span minus the shortest time its trials could take on the
  workers: worker start-up (spawn, imports).
* ``between_batches_s``: main-process time from the end of one batch to the next dispatch (tell, ask, store).
* ``batch_idle_worker_s``: worker-seconds within the batches not spent in trials: start-up in the first batch,
  then waiting for the slowest trial of each batch (the search tells and asks once per batch).
* ``outside_batches_s``: search wall time outside the batches (setup, the first ask).

Scenarios (``--scenarios``): ``sobol_epochs4`` (trials of ~0.4 s: worker start-up weighs heavily),
``sobol_epochs30`` (trials of a few seconds: the executors' steady throughput), ``sobol_epochs30_40trials``
(the same over 40 trials, process executor only: fixed costs amortized) and ``mobo_ars_epochs30`` (the
quickstart's optimizer, local vs 2 workers).

Usage: ``python -m benchmarks.scaling [--trials 16] [--scenarios sobol_epochs30] [--runs local:1 process:2]``;
writes ``benchmarks/results/scaling.json`` and prints markdown tables.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine_info

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "scaling.json"
ALL_RUNS = ("local:1", "process:1", "process:2", "ray:1", "ray:2")
SCENARIOS: dict[str, dict[str, Any]] = {
    # the suggested setting: a trial takes ~0.4 s on the quickstart, so worker start-up weighs heavily
    "sobol_epochs4": {"optimizer": "sobol", "epochs": 4, "runs": ALL_RUNS},
    # trials of ~2-3 s: the executors' steady throughput
    "sobol_epochs30": {"optimizer": "sobol", "epochs": 30, "runs": ALL_RUNS},
    # a longer search: the per-worker fixed costs (start-up, first-trial warm-up) amortized over more trials
    # (process:2:8 asks 8 candidates per round: a worker that finishes early takes the next one of the round)
    "sobol_epochs30_40trials": {
        "optimizer": "sobol",
        "epochs": 30,
        "trials": 40,
        "runs": ("process:1", "process:2", "process:2:8"),
    },
    # the quickstart's optimizer: its proposals run in the main process between batches
    "mobo_ars_epochs30": {"optimizer": "mobo_ars", "epochs": 30, "runs": ("local:1", "process:2", "ray:2")},
}


def torch_threads_per_worker(executor: str, workers: int) -> int:
    """The torch threads each trial gets: the executors' default (available CPUs // workers); local: torch's own."""
    cpus = len(os.sched_getaffinity(0))
    return cpus if executor == "local" else max(1, cpus // workers)


def run_once(
    executor: str, workers: int, seed: int, n_trials: int, optimizer: str, epochs: int, batch: int | None = None
) -> dict[str, Any]:
    """One search in a temporary run dir; returns timings, throughput and the wall-time breakdown.

    ``batch``: ``search.batch_size`` (default: 1 for local, else the worker count).
    """
    overrides = [
        f"seed={seed}",
        f"search.n_trials={n_trials}",
        f"trainer.max_epochs={epochs}",
        f"optimizer={optimizer}",
        f"executor={executor}",
        "logger=none",
        "search.progress=false",
    ]
    overrides += [] if executor == "local" else [f"executor.workers={workers}"]
    batch_size = batch or (1 if executor == "local" else workers)
    overrides += [f"search.batch_size={batch_size}"]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["WANDB_MODE"] = "disabled"
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "core.run", *overrides, f"hydra.run.dir={run_dir}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{executor}:{workers} failed:\n{proc.stderr[-4000:]}")
        summary = json.loads((run_dir / "summary.json").read_text())
        trials = _trials(run_dir / "trials.db")
    search_wall = float(summary["wall_time_s"])
    n = summary["counts"]["total"]
    row: dict[str, Any] = {
        "executor": executor if batch is None else f"{executor} (batch {batch})",
        "workers": workers,
        "batch_size": batch_size,
        "torch_threads_per_worker": torch_threads_per_worker(executor, workers),
        "n_trials": n,
        "counts": summary["counts"],
        "process_wall_s": round(wall, 2),
        "search_wall_s": round(search_wall, 2),
        "trials_per_hour": round(3600 * n / search_wall, 1),
        "trials_per_hour_incl_startup": round(3600 * n / wall, 1),
        "hypervolume": round(summary["hypervolume"], 4),
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "overrides": overrides,
    }
    row.update(_breakdown(trials, workers, search_wall))
    row["trial_durations_s"] = [round(t["duration_s"], 3) for t in trials]
    row["trial_x"] = [t["x"] for t in trials]
    return row


def _trials(db: Path) -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT trial_id, x, duration_s, created_at, finished_at FROM trials ORDER BY trial_id")
    out = [
        {"trial_id": i, "x": json.loads(x), "duration_s": float(d), "created_at": float(c), "finished_at": float(f)}
        for i, x, d, c, f in rows
    ]
    con.close()
    return out


def _breakdown(trials: list[dict[str, Any]], workers: int, search_wall: float) -> dict[str, float]:
    """Split the search's wall time: trials, worker start-up, main-process gaps, batch imbalance."""
    batches: dict[float, list[dict[str, Any]]] = {}
    for t in trials:  # one batch = the trials added to the store together (same created_at)
        batches.setdefault(t["created_at"], []).append(t)
    ordered = [batches[k] for k in sorted(batches)]
    spans = [max(t["finished_at"] for t in b) - b[0]["created_at"] for b in ordered]
    between = sum(
        nxt[0]["created_at"] - max(t["finished_at"] for t in prev) for prev, nxt in itertools.pairwise(ordered)
    )
    idle = sum(min(len(b), workers) * s - sum(t["duration_s"] for t in b) for b, s in zip(ordered, spans, strict=True))
    first = ordered[0]
    first_end = max(t["finished_at"] for t in first)
    last_end = max(t["finished_at"] for t in trials)
    steady = (len(trials) - len(first)) / (last_end - first_end) * 3600 if last_end > first_end else float("nan")
    durations = [t["duration_s"] for t in trials]
    return {
        "batches": len(ordered),
        "steady_trials_per_hour": round(steady, 1),
        "trial_s_mean": round(statistics.mean(durations), 3),
        "trial_s_sum": round(sum(durations), 2),
        "worker_busy_fraction": round(sum(durations) / (workers * search_wall), 3),
        "first_batch_overhead_s": round(spans[0] - _makespan_bound([t["duration_s"] for t in first], workers), 2),
        "between_batches_s": round(between, 2),
        "batch_idle_worker_s": round(idle, 2),
        "outside_batches_s": round(search_wall - sum(spans) - between, 2),
    }


def _makespan_bound(durations: list[float], workers: int) -> float:
    """The shortest time ``workers`` can run these trials in: the longest trial, or the work shared evenly."""
    return max(max(durations), sum(durations) / min(len(durations), workers))


def _compare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per executor: 2-worker / 1-worker throughput, and how much slower each trial ran with two at once."""
    out = []
    by_key = {(r["executor"], r["workers"]): r for r in rows}
    base = by_key.get(("local", 1))
    for name in dict.fromkeys(r["executor"] for r in rows):
        one, two = by_key.get((name.split(" (")[0], 1)), by_key.get((name, 2))
        if two is None:
            continue
        cmp: dict[str, Any] = {"executor": name}
        for label, ref in (("vs_1_worker", one), ("vs_local", base)):
            if ref is None:
                continue
            cmp[f"speedup_{label}"] = round(two["trials_per_hour"] / ref["trials_per_hour"], 3)
            cmp[f"steady_speedup_{label}"] = round(two["steady_trials_per_hour"] / ref["steady_trials_per_hour"], 3)
            if ref["trial_x"] == two["trial_x"]:  # same points: compare each trial's duration
                ratios = [b / a for a, b in zip(ref["trial_durations_s"], two["trial_durations_s"], strict=True) if a]
                slowdown = statistics.median(ratios)
                cmp[f"per_trial_slowdown_{label}"] = round(slowdown, 3)
                cmp[f"trial_bound_speedup_{label}"] = round(2 / slowdown, 3)
        out.append(cmp)
    return out


def _table(rows: list[dict[str, Any]], comparisons: list[dict[str, Any]]) -> str:
    lines = [
        "| executor | workers | torch threads/worker | search wall [s] | trials/h | after 1st batch trials/h "
        "| mean trial [s] | worker busy | start-up [s] | between batches [s] | batch idle [worker-s] | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['executor']} | {r['workers']} | {r['torch_threads_per_worker']} | {r['search_wall_s']} | "
            f"{r['trials_per_hour']:.0f} | {r['steady_trials_per_hour']:.0f} | {r['trial_s_mean']} | "
            f"{r['worker_busy_fraction']:.0%} | {r['first_batch_overhead_s']} | {r['between_batches_s']} | "
            f"{r['batch_idle_worker_s']} | {r['load_1min_before']}-{r['load_1min_after']} |"
        )
    lines += [
        "",
        "| executor | 2 w / 1 w | after 1st batch | 2 w / local | after 1st batch | per-trial slowdown at 2 w "
        "| speed-up bound by that slowdown |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = ("speedup", "steady_speedup", "per_trial_slowdown", "trial_bound_speedup")
    for c in comparisons:
        one = [c.get(f"{k}_vs_1_worker", "-") for k in keys]
        loc = [c.get(f"{k}_vs_local", "-") for k in keys]
        slow = one[2] if one[2] != "-" else loc[2]
        bound = one[3] if one[3] != "-" else loc[3]
        lines.append(f"| {c['executor']} | {one[0]} | {one[1]} | {loc[0]} | {loc[1]} | {slow} | {bound} |")
    return "\n".join(lines)


def main() -> None:
    """Run every scenario's executor/worker combinations, write the JSON and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--runs", nargs="+", help="executor:workers[:batch_size] for every scenario, e.g. process:2")
    parser.add_argument("--name", default="scaling", help="results file: benchmarks/results/<name>.json")
    args = parser.parse_args()
    scenarios = []
    for name in args.scenarios:
        sc = SCENARIOS[name]
        rows = []
        for item in args.runs or sc["runs"]:
            parts = item.split(":")
            executor, workers = parts[0], parts[1] if len(parts) > 1 else "1"
            batch = parts[2] if len(parts) > 2 else ""
            n_trials = int(sc.get("trials", args.trials))
            row = run_once(
                executor,
                int(workers),
                args.seed,
                n_trials,
                sc["optimizer"],
                sc["epochs"],
                int(batch) if batch else None,
            )
            print(f"{name} {item}: {row['search_wall_s']} s, {row['trials_per_hour']} trials/h", file=sys.stderr)
            rows.append(row)
        scenarios.append(sc | {"name": name, "runs": rows, "speedup": _compare(rows)})
    result = {
        "benchmark": "scaling",
        "command": "python -m core.run seed=<seed> search.n_trials=<n> trainer.max_epochs=<epochs> "
        "optimizer=<optimizer> executor=<executor> executor.workers=<workers> logger=none search.progress=false",
        "machine": machine_info() | {"load_avg_at_end": [round(v, 2) for v in os.getloadavg()]},
        "scenarios": scenarios,
    }
    out = OUT.with_name(f"{args.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for sc in scenarios:
        print(f"\n### {sc['name']}: optimizer={sc['optimizer']}, trainer.max_epochs={sc['epochs']}, "
              f"{sc['runs'][0]['n_trials']} trials\n")  # fmt: skip
        print(_table(sc["runs"], sc["speedup"]))


if __name__ == "__main__":
    main()
