"""Benchmark: proposal time of the model-based optimizers at n = 60 and n = 150 observations.

The optimizer is told ``n`` evaluations (a Latin-hypercube design over the problem, so the front is that of a
space-filling sample, not of an optimized run) and ``ask(1)`` is timed ``repeats`` times, in one process with one
torch thread (the setting of one run of ``benchmarks.optimizers``, which runs two such processes on 2 cores).

Usage: ``python -m benchmarks.proposal_time [--methods ...] [--sizes 60 150] [--fresh]``; writes
``benchmarks/results/proposal_time.json`` and prints a markdown table. The rows measured now replace the stored
ones of the same method, problem and n; the others stay (each row names its commit and date), unless ``--fresh``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from benchmarks.machine import git, machine_info
from benchmarks.optimizers import expensive_evaluations, method_config
from benchmarks.problems import PROBLEMS, SyntheticProblem
from core.interfaces.optimizer import Problem
from core.plugins import instantiate
from core.search.design import latin_hypercube

OUT = Path(__file__).resolve().parent / "results" / "proposal_time.json"


def told(method: str, problem_name: str, n: int, seed: int = 0, **overrides: Any) -> Any:
    """Optimizer ``method`` (its benchmark config with ``overrides``), set up with ``seed`` and told ``n`` evaluations
    of ``problem_name`` at a Latin hypercube (seed ``seed + 1``) after its own initial design was asked for."""
    problem = SyntheticProblem.make(problem_name)
    m = problem.num_objectives
    config = {**expensive_evaluations(method_config(method, 10)), **overrides}
    opt = instantiate(OmegaConf.create(config), "optimizer")
    opt.setup(Problem(problem.dim, tuple(f"f{i}" for i in range(m)), (1.0,) * m, seed))
    x = latin_hypercube(n, problem.dim, seed + 1)
    opt.ask(min(n, 10))  # consume the initial design
    opt.tell(x, problem.normalize(problem.evaluate_raw(x)), np.ones(n, dtype=bool))
    return opt


def time_asks(method: str, problem_name: str, n: int, repeats: int) -> list[float]:
    """Seconds per ``ask(1)`` after telling ``n`` evaluations of ``problem_name``."""
    opt = told(method, problem_name, n)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        opt.ask(1)
        times.append(time.perf_counter() - t)
    return times


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.proposal_time")
    p.add_argument("--methods", nargs="+", default=["mobo_ars", "mobo_ars_paper", "qlognehvi", "qlognparego"])
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    p.add_argument("--sizes", nargs="+", type=int, default=[60, 150])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--fresh", action="store_true", help="drop the stored rows of methods and problems not measured")
    args = p.parse_args(argv)
    stamp = {"commit": git("rev-parse", "--short", "HEAD"), "date": datetime.date.today().isoformat()}
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    for method in args.methods:
        for problem in args.problems:
            for n in args.sizes:
                times = time_asks(method, problem, n, args.repeats)
                asks = [round(t, 3) for t in times]
                rows.append({"method": method, "problem": problem, "n": n, "ask_s": asks, **stamp})
                print(f"{method} {problem} n={n}: median {statistics.median(times):.2f} s", flush=True)
    measured = {(r["method"], r["problem"], r["n"]) for r in rows}
    old = [] if args.fresh or not OUT.exists() else json.loads(OUT.read_text()).get("rows", [])
    kept = [r for r in old if (r["method"], r["problem"], r["n"]) not in measured]
    document = {"benchmark": "proposal_time", "machine": machine_info(), "rows": kept + rows}
    OUT.write_text(json.dumps(document, indent=2) + "\n")
    print("| method | " + " | ".join(f"{pr} n={n}" for pr in args.problems for n in args.sizes) + " |")
    print("|---|" + "---:|" * (len(args.problems) * len(args.sizes)))
    for method in args.methods:
        cells = [
            f"{statistics.median(r['ask_s']):.2f}"
            for pr in args.problems
            for n in args.sizes
            for r in rows
            if r["method"] == method and r["problem"] == pr and r["n"] == n
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
