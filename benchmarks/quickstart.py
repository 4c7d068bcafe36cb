"""Benchmark: the quickstart (`python -m core.run`, 20 mobo_ars trials on digits / stm32f4) for several seeds.

Usage: ``python -m benchmarks.quickstart [--seeds 0 1 2]``; writes ``benchmarks/results/quickstart.json`` and
prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import machine_info

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "quickstart.json"


def run_once(seed: int, overrides: list[str] | None = None) -> dict:
    """Run the quickstart with ``seed`` and Hydra ``overrides`` in a temporary run dir; returns timings, results."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "core.run",
                f"seed={seed}",
                f"hydra.run.dir={tmp}/run",
                "search.progress=false",
                *(overrides or []),
            ],
            cwd=REPO,
            env={**os.environ, "WANDB_MODE": "disabled"},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
        best = _most_accurate(Path(tmp) / "run" / "trials.csv")
    return {
        "seed": seed,
        "process_wall_s": round(wall, 2),
        "search_wall_s": round(summary["wall_time_s"], 2),
        "trial_time_s": round(summary["trial_time_s"], 2),
        "n_trials": summary["counts"]["total"],
        "counts": summary["counts"],
        "hypervolume": round(summary["hypervolume"], 4),
        "pareto_size": summary["pareto_size"],
        # the most accurate trained model (by int8 validation accuracy) and its int8 test accuracy
        "best_val_accuracy": best.get("val_accuracy"),
        "best_test_accuracy": best.get("test_accuracy"),
    }


def _most_accurate(trials_csv: Path) -> dict[str, float]:
    with open(trials_csv) as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_accuracy")]
    if not rows:
        return {}
    top = max(rows, key=lambda r: float(r["val_accuracy"]))
    return {k: round(float(top[k]), 4) for k in ("val_accuracy", "test_accuracy") if top.get(k)}


def main() -> None:
    """Run every seed, write the JSON and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--overrides", nargs="*", default=[], help="Hydra overrides, e.g. optimizer=mobo_ars_known")
    parser.add_argument("--name", default="quickstart", help="results file: benchmarks/results/<name>.json")
    args = parser.parse_args()
    runs = [run_once(s, args.overrides) for s in args.seeds]
    command = " ".join(["python -m core.run seed=<seed>", *args.overrides])
    result = {"benchmark": "quickstart", "command": command, "machine": machine_info(), "runs": runs}
    out = OUT.with_name(f"{args.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| seed | process wall [s] | search wall [s] | trials | failed | hypervolume | Pareto size | best int8 acc |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['seed']} | {r['process_wall_s']} | {r['search_wall_s']} | {r['n_trials']} | "
              f"{r['counts']['failed']} | {r['hypervolume']} | {r['pareto_size']} | "
              f"{r['best_val_accuracy']} / {r['best_test_accuracy']} |")  # fmt: skip


if __name__ == "__main__":
    main()
