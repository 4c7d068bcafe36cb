"""Benchmark: how fast the exact costs of untrained candidates come (``core.trial.known_costs.KnownCosts``).

``mobo_ars`` scores thousands of points per proposal round with the exact flash, SRAM and MACs of their
architectures; on the quickstart about 90 % of a round is spent in :class:`KnownCosts` on architectures it has not
costed before (a restructured model lowered through the TFLM cost model). This measures that cost directly: for
each task, a fresh ``KnownCosts`` costs ``--points`` scrambled Sobol' points of the task's space (the same points
every time), and the record keeps the wall time, the distinct architectures (``misses``) and the time per miss.

Separate runs see different loads on a shared machine, so ``--baseline DIR`` measures another checkout ``DIR``
(e.g. ``git worktree add --detach DIR <commit>``) in turn with this one, ``--repeats`` times round-robin, in the same
invocation; the table gives the per-task ratio of the medians.

Usage: ``python -m benchmarks.known_costs [--points 1500] [--repeats 3] [--baseline DIR]``; writes
``benchmarks/results/known_costs.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "known_costs.json"
TASKS: dict[str, list[str]] = {
    "quickstart": [],  # digits, small_cnn (2-D), structured pruning, stm32f4
    "quickstart_timeseries": ["experiment=quickstart_timeseries"],  # BasicMotions, 1-D small_cnn, esp32
}


def measure(overrides: list[str], points: int) -> dict[str, Any]:
    """Cost ``points`` Sobol' points of the space composed with ``overrides`` with a fresh ``KnownCosts``."""
    import numpy as np
    import torch
    from hydra import compose, initialize_config_module
    from scipy.stats import qmc

    from core.plugins import instantiate, register_search_path_plugin
    from core.search.checks import reference_point
    from core.search.objectives import validate_objectives
    from core.search.space import SearchSpace
    from core.trial.known_costs import KnownCosts

    torch.set_num_threads(1)
    register_search_path_plugin()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    objectives = validate_objectives(cfg.search.objectives)
    space = SearchSpace.from_config(cfg.search_space.get("params"), cfg)
    reference = reference_point(cfg, instantiate(cfg.hw, "hw"), objectives)
    known = KnownCosts(cfg, space, objectives, reference)
    with warnings.catch_warnings():  # any count will do: these points are a workload, not an integration rule
        warnings.filterwarnings("ignore", "The balance properties of Sobol", UserWarning)
        x = qmc.Sobol(space.dim, seed=0).random(points)
    start = time.perf_counter()
    costs = known(x)
    seconds = time.perf_counter() - start
    return {
        "points": points,
        "dim": space.dim,
        "misses": known.misses,
        "seconds": seconds,
        "ms_per_miss": 1e3 * seconds / max(known.misses, 1),
        "finite": int(np.isfinite(costs).all(axis=1).sum()),
        "checksum": float(np.nansum(np.where(np.isfinite(costs), costs, 0.0))),
    }


def _run(checkout: Path, task: str, points: int) -> dict[str, Any]:
    """:func:`measure` in a fresh process on ``checkout``'s code (this file run as a script there, so a checkout from
    before this benchmark existed can be measured too; its own imports and caches, one torch thread)."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    command = [sys.executable, __file__, "--measure", task, "--points", str(points)]
    proc = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{checkout} {task}: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout, measured in turn")
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT.relative_to(REPO)}")
    parser.add_argument("--measure", choices=sorted(TASKS), help=argparse.SUPPRESS)  # one measurement (see _run)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(TASKS[args.measure], args.points)))
        return 0
    checkouts = {"this": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {c: {t: [] for t in args.tasks} for c in checkouts}
    for _ in range(args.repeats):
        for task in args.tasks:
            for name, path in checkouts.items():
                runs[name][task].append(_run(path, task, args.points))
    from benchmarks.machine import git, machine_info

    data: dict[str, Any] = {
        "machine": machine_info(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "baseline": str(args.baseline) if args.baseline else None,
        "points": args.points,
        "runs": runs,
    }
    print("| task | checkout | misses | median s | ms per miss | vs baseline |\n|---|---|---:|---:|---:|---:|")
    for task in args.tasks:
        medians = {c: statistics.median(r["seconds"] for r in runs[c][task]) for c in checkouts}
        for c in checkouts:
            first = runs[c][task][0]
            ratio = f"{medians['baseline'] / medians[c]:.2f}x faster" if c == "this" and "baseline" in medians else ""
            print(
                f"| {task} | {c} | {first['misses']} | {medians[c]:.2f} | "
                f"{1e3 * medians[c] / max(first['misses'], 1):.2f} | {ratio} |"
            )
        if "baseline" in runs:  # the same costs, whichever checkout computed them
            same = runs["this"][task][0]["checksum"] == runs["baseline"][task][0]["checksum"]
            data.setdefault("same_costs", {})[task] = same
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
