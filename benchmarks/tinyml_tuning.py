"""Tuning ``mobo_ars``'s defaults on TinyML tasks and seeds that the TinyML benchmark never reports.

Usage::

    python -m benchmarks.tinyml_tuning --variants default cost_inputs --seeds 100 101 102 --resume

Every variant is ``optimizer=mobo_ars`` plus Hydra overrides (:data:`VARIANTS`), run through the same pipeline
as :mod:`benchmarks.tinyml` (train, prune, int8, TFLM cost model; fixed epochs, 4 objectives, q=1) on its tuning
tasks only (``Task.tuning``: ArrowHead and JapaneseVowels, never digits, BasicMotions or OSULeaf), with seeds from
100 up (the benchmark reports seeds 0-4). Runs on the same task and seed share the initial design, so the table
gives each variant's paired difference in final HV from ``default``, mean ± std over those pairs.

Output: ``benchmarks/results/tinyml_tuning.json`` and ``.md`` (rewritten after every run). Runs that no longer match
today's configs (the default changed since they ran, so ``--resume`` runs them again) are not dropped: they move to
``superseded``, stamped with when, and the markdown pairs them with the runs of the default they were made with.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.optimizers import OUT_DIR, execute_all, method_config, write_json
from benchmarks.tinyml import TASKS, task_reference

VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "cost_inputs": ("++optimizer.cost_inputs=true",),
    "no_cost_inputs": ("++optimizer.cost_inputs=false",),
    "no_time_share": ("optimizer.time_share=null",),
    "time_share_3": ("optimizer.time_share=3.0",),
    "time_share_025": ("optimizer.time_share=0.25",),
    "posterior_front": ("++optimizer.front=posterior",),
    "posterior_front_no_ts": ("optimizer.time_share=null", "++optimizer.front=posterior"),
    "believed_front": ("++optimizer.front=believed",),
    "visited": ("++optimizer.candidates=visited",),
    "visited_no_ts": ("optimizer.time_share=null", "++optimizer.candidates=visited"),
    "explore_2": ("++optimizer.explore=2.0",),
    "iterations_3": ("optimizer.iterations=3",),
    "prior_worst": ("++optimizer.prior_quantile=0.0",),
    "prior_q25": ("++optimizer.prior_quantile=0.25",),
    "costed_design": ("++optimizer.init_design=costed",),
    "snap": ("++optimizer.snap=true",),
    "cost_trend": ("++optimizer.cost_trend=true",),
    "global_3": ("optimizer.global_agents=3",),
    "agents_8": ("optimizer.n_agents=8",),
    "horizon_12": ("optimizer.horizon=12",),
    "raw_2048": ("optimizer.raw_samples=2048",),
    "free_17": ("++optimizer.free_search=17",),
}
# Variants that are another optimizer, run on the same tasks and seeds as the baselines to beat.
BASELINES: dict[str, str] = {"qlognehvi": "qlognehvi", "sobol": "sobol"}
TUNING_TASKS: tuple[str, ...] = tuple(t for t, task in TASKS.items() if task.tuning)
BUDGET, N_INIT = 60, 10


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """One run (in a worker); never raises."""
    from benchmarks import tinyml

    out = tinyml.execute(spec)
    if "result" in out:
        out["result"]["variant"] = spec["variant"]
        out["result"]["extra"] = list(spec["extra"])
    return out


def _key(r: dict[str, Any]) -> tuple[str, str, int]:
    return (str(r["problem"]), str(r["variant"]), int(r["seed"]))


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task and variant: mean final HV and the paired difference from ``default`` (same task and seed)."""
    base = {(r["problem"], int(r["seed"])): r["final_hv"] for r in runs if r["variant"] == "default"}
    rows = []
    for task in sorted({r["problem"] for r in runs}):
        for variant in dict.fromkeys(r["variant"] for r in runs if r["problem"] == task):
            rs = [r for r in runs if r["problem"] == task and r["variant"] == variant]
            diffs = [r["final_hv"] - base[(task, int(r["seed"]))] for r in rs if (task, int(r["seed"])) in base]
            asks = [r["proposal_time_median_s"] for r in rs]
            rows.append(
                {
                    "task": task,
                    "variant": variant,
                    "seeds": sorted(int(r["seed"]) for r in rs),
                    "final_hv_mean": float(np.mean([r["final_hv"] for r in rs])),
                    "diff_mean": float(np.mean(diffs)) if diffs else None,
                    "diff_std": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None,
                    "ask_median_s": float(np.median(asks)),
                }
            )
    return rows


def _table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| task | variant | overrides | seeds | final HV | difference | median ask [s] |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for row in rows:
        diff = "" if row["diff_mean"] is None else f"{row['diff_mean']:+.4f}"
        if row["diff_std"] is not None:
            diff += f" ± {row['diff_std']:.4f}"
        extra = f"optimizer={BASELINES[row['variant']]}" if row["variant"] in BASELINES else None
        extra = extra or " ".join(VARIANTS.get(row["variant"], ())) or "(none)"
        lines.append(
            f"| {row['task']} | {row['variant']} | `{extra}` | {len(row['seeds'])} | {row['final_hv_mean']:.4f} "
            f"| {diff} | {row['ask_median_s']:.2f} |"
        )
    return lines


def write_markdown(path: Path, data: dict[str, Any]) -> None:
    lines = [
        "# mobo_ars tuning on TinyML tasks the benchmark does not report",
        "",
        f"Machine: {data['machine']}. Updated {data['updated']}.",
        "",
        f"Command: `{data['command']}`",
        "",
        f"Budget {BUDGET}, n_init {N_INIT}, 4 objectives, q=1. Tasks: "
        + "; ".join(f"`{t}`: {TASKS[t].description}" for t in data["tasks"])
        + ". Difference: final HV minus `default`'s on the same task and seed, mean ± std over seeds.",
        "",
        *_table(data["summary"]),
    ]
    superseded = data.get("superseded", [])
    for stamp in sorted({r["superseded"] for r in superseded}, reverse=True):
        lines += [
            "",
            f"Runs superseded {stamp}: made with an earlier `default` (the overrides applied to mobo_ars.yaml as it "
            "was then), each variant paired with that default's runs:",
            "",
            *_table(summarize([r for r in superseded if r["superseded"] == stamp])),
        ]
    path.write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", choices=sorted([*VARIANTS, *BASELINES]), default=["default"])
    p.add_argument("--tasks", nargs="+", choices=TUNING_TASKS, default=list(TUNING_TASKS))
    p.add_argument("--seeds", nargs="+", type=int, default=[100, 101, 102])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out-dir", type=Path, default=OUT_DIR)
    p.add_argument("--resume", action="store_true", help="keep finished runs with the same config and overrides")
    p.add_argument(
        "--merge", nargs="+", type=Path, default=[], help="with --resume: also keep the finished runs of these JSONs"
    )
    args = p.parse_args(argv)
    from benchmarks.machine import machine_info

    json_path = Path(args.out_dir) / "tinyml_tuning.json"
    old = json.loads(json_path.read_text()) if json_path.exists() else {}
    seen = {_key(r) for r in old.get("runs", [])}
    for other in args.merge:  # runs made by another invocation (e.g. with another --out-dir, in parallel)
        for r in json.loads(Path(other).read_text()).get("runs", []):
            if _key(r) not in seen:
                old.setdefault("runs", []).append(r)
                seen.add(_key(r))
    kept = {r["variant"] for r in old.get("runs", [])} & {*VARIANTS, *BASELINES} if args.resume else set()
    configs = {v: method_config(BASELINES.get(v, "mobo_ars"), N_INIT, N_INIT) for v in {*args.variants, *kept}}
    references = {t: task_reference(t) for t in args.tasks}
    data: dict[str, Any] = {
        "benchmark": "tinyml_tuning",
        "command": " ".join(
            ["python -m benchmarks.tinyml_tuning", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
        ),
        "machine": {**machine_info(), "workers": args.workers, "worker_torch_threads": 1},
        "tasks": list(args.tasks),
        "references": references,
        "runs": [],
        "failed": [],
        "superseded": list(old.get("superseded", [])),
    }
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for r in old.get("runs", []):
        if args.resume and r["problem"] not in references:  # another task's run: kept as it is
            data["runs"].append(r)
            data["tasks"] = list(dict.fromkeys([*data["tasks"], r["problem"]]))
        elif (
            args.resume
            and r.get("reference") == references[r["problem"]]
            and r["variant"] in configs
            and r.get("config") == configs[r["variant"]]
            and r.get("extra") == list(VARIANTS.get(r["variant"], ()))
        ):
            data["runs"].append(r)
        else:
            data["superseded"].append({**r, "superseded": stamp})
    done = {_key(r) for r in data["runs"]}
    specs = [
        {
            "problem": t,
            "method": BASELINES.get(v, "mobo_ars"),
            "variant": v,
            "extra": list(VARIANTS.get(v, ())),
            "seed": s,
            "budget": BUDGET,
            "n_init": N_INIT,
            "reference": references[t],
            "config": configs[v],
        }
        for s in args.seeds
        for t in args.tasks
        for v in args.variants
        if (t, v, s) not in done
    ]

    def save() -> None:
        data["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
        data["summary"] = summarize(data["runs"])
        write_json(json_path, data)
        write_markdown(json_path.with_suffix(".md"), data)

    save()
    from benchmarks import tinyml_tuning as this

    for out in execute_all(specs, args.workers, this.execute):
        spec = out["task"]
        if "error" in out:
            data["failed"].append({k: spec[k] for k in ("problem", "variant", "seed")} | {"error": out["error"]})
            print(out["traceback"], file=sys.stderr)
        else:
            r = out["result"]
            data["runs"].append(r)
            print(f"{spec['problem']}/{spec['variant']}/seed {spec['seed']}: hv {r['final_hv']:.4f}", flush=True)
        save()
    return 1 if data["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
