"""Benchmark: how close one ``mobo_ars`` proposal round gets to the optimum of its own acquisition function.

``mobo_ars`` maximizes the closed-form log EHVI with an ARS ensemble (and, on all-continuous problems, an L-BFGS-B
polish). This measures what that search leaves on the table: after ``n`` Latin-hypercube evaluations, the log EHVI
of the round's first proposal, with and without the extra polish starts (``polish_starts``), against the best value
BoTorch's ``optimize_acqf`` finds on the same acquisition with many restarts (the reference optimizer). A gap near
zero means the proposal is the acquisition's optimum, and differences to other methods come from the model or the
acquisition, not from optimizing it.

Usage: ``python -m benchmarks.acquisition_gap [--problems ...] [--seeds 0 1 2] [--n 30]``; writes
``benchmarks/results/acquisition_gap.json`` and prints a markdown table. The defaults are the tuning problems and
seeds (``benchmarks.optimizers --profile quick``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from botorch.optim import optimize_acqf

from benchmarks.machine import git, machine_info
from benchmarks.optimizers import PROFILES
from benchmarks.proposal_time import told

OUT = Path(__file__).resolve().parent / "results" / "acquisition_gap.json"
TOLERANCE = 1e-3  # log EHVI within this of the reference optimum counts as reaching it


def gap_row(problem: str, seed: int, n: int, starts: list[int], restarts: int, raw: int) -> dict[str, Any]:
    """The log EHVI of one round's proposal for each ``polish_starts`` value, and ``optimize_acqf``'s optimum."""
    values = {}
    for k in starts:
        opt = told("mobo_ars", problem, n, seed, polish_starts=k)
        point = opt._round(np.random.default_rng(seed))[0]
        acq = opt._ehvi(opt._surrogate())
        with torch.no_grad():
            values[str(k)] = float(acq(torch.as_tensor(point, dtype=torch.double).reshape(1, 1, -1)))
    bounds = torch.stack([torch.zeros(opt.problem.dim), torch.ones(opt.problem.dim)]).double()
    torch.manual_seed(seed)
    _, best = optimize_acqf(acq, bounds, q=1, num_restarts=restarts, raw_samples=raw, options={"maxiter": 200})
    return {"problem": problem, "seed": seed, "n": n, "log_ehvi": values, "optimize_acqf": float(best)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.acquisition_gap")
    p.add_argument("--problems", nargs="+", default=list(PROFILES["quick"].problems))
    p.add_argument("--seeds", nargs="+", type=int, default=list(PROFILES["quick"].seeds))
    p.add_argument("--n", type=int, default=30, help="evaluations told before the round")
    p.add_argument("--starts", nargs="+", type=int, default=[0, 8], help="polish_starts values compared")
    p.add_argument("--restarts", type=int, default=20, help="optimize_acqf's num_restarts")
    p.add_argument("--raw-samples", type=int, default=1024, help="optimize_acqf's raw_samples")
    p.add_argument("--out", type=Path, default=OUT, help=f"default: benchmarks/results/{OUT.name}")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    rows = []
    for problem in args.problems:
        for seed in args.seeds:
            row = gap_row(problem, seed, args.n, args.starts, args.restarts, args.raw_samples)
            rows.append(row)
            print(problem, seed, row["log_ehvi"], f"optimize_acqf {row['optimize_acqf']:.4f}", flush=True)
    document = {
        "benchmark": "acquisition_gap",
        "command": " ".join(["python -m benchmarks.acquisition_gap", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine_info(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "date": datetime.date.today().isoformat(),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "rows": rows,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print("| polish_starts | cases at the optimum (within 1e-3) | largest gap | mean gap |")
    print("|---:|---:|---:|---:|")
    for k in args.starts:
        gaps = np.array([r["optimize_acqf"] - r["log_ehvi"][str(k)] for r in rows])
        print(f"| {k} | {int((gaps <= TOLERANCE).sum())} of {len(gaps)} | {gaps.max():.3f} | {gaps.mean():.4f} |")


if __name__ == "__main__":
    main()
