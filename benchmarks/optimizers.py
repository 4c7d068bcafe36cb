"""Benchmark: tinymoo's optimizers on synthetic multi-objective problems (BoTorch test functions).

Usage::

    python -m benchmarks.optimizers --profile quick            # tuning problems, seeds 0-2; ~1 h on 2 cores
    python -m benchmarks.optimizers --profile heldout          # held-out problems, seeds 100-104 (the README's)
    python -m benchmarks.optimizers --profile heldout --resume # continue an interrupted benchmark
    python -m benchmarks.optimizers --problems BraninCurrin --methods sobol random --budget 8 --seeds 0 1 \\
        --workers 2 --out-dir /tmp/bench                         # a smoke test

**Problems** (:mod:`benchmarks.problems`) come in two sets. The *tuning* set -- BraninCurrin (d=2, m=2), ZDT1
(d=6, m=2), DTLZ2 (d=6, m=3), VehicleSafety (d=5, m=3) -- is the one the optimizers' defaults were tuned on
(seeds 0-2, the ``quick`` profile), so results there are optimistic. The *held-out* set -- DTLZ2_m4 (d=7, m=4),
DTLZ7_m4 (d=7, m=4), ZDT3 (d=6, m=2), DTLZ5_m3 (d=6, m=3), CarSideImpact (d=7, m=4) -- was not used for tuning;
the ``heldout`` profile runs it on fresh seeds 100-104 and is what the README reports. Every problem is used in
the minimization convention (``negate=False``). An optimizer sees the unit cube and objectives divided by the
problem's reference point (so its reference point is all ones, as in a tinymoo search) and is run sequentially
(q=1: ``ask(1)`` -> evaluate -> ``tell``). The hypervolume after every evaluation is measured in the raw objective
space, so the final value compares with the problem's ``max_hv``; the log10 hypervolume regret is
``log10(max_hv - hv)``. The wall time of every ``ask`` is the proposal time.

**Profiles** (``--profile``; ``--problems``, ``--seeds``, ``--budget`` and ``--n-init`` override them):

* ``quick``: the tuning problems, budget 60, n_init 10, seeds 0 1 2.
* ``heldout``: the held-out problems, budget 60, n_init 10, seeds 100-104.
* ``paper``: the tuning problems, budget 150, n_init 10, seeds 0-4.

Methods are optimizer config names (``conf/optimizer/<name>.yaml``); a method that is not registered or fails to
build is skipped with a warning and listed under ``skipped``. Every (problem, method, seed) is an independent run
in its own worker process (spawned, one torch thread each). Results go to ``<out-dir>/optimizers_<profile>.json``
(rewritten after every finished run, so an interrupted benchmark keeps its results; ``--resume`` skips runs
already there), ``.md`` (tables) and ``.png`` (hypervolume vs evaluations). The TinyML searches are benchmarked
by :mod:`benchmarks.tinyml`; a TinyML section left in an older results file here is ignored and dropped when the
file is rewritten.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import logging
import math
import multiprocessing
import os
import shlex
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems import HELD_OUT_PROBLEMS, PROBLEMS, TUNING_PROBLEMS

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "benchmarks" / "results"
DEFAULT_METHODS: tuple[str, ...] = (
    "mobo_ars",
    "mobo_ars_paper",
    "qlognehvi",
    "qlognparego",
    "turbo",
    "nsga2",
    "sobol",
    "random",
)
REGRET_FLOOR = 1e-12  # regret below this (max_hv is itself an estimate for some problems) is clamped


@dataclass(frozen=True)
class Profile:
    """A named benchmark setting.

    Attributes:
        budget: evaluations per run (initial design included).
        n_init: initial design size of model-based optimizers (``n_init``) and NSGA-II's ``pop_size``.
        seeds: seeds of the runs.
        problems: the problems (names in :data:`benchmarks.problems.PROBLEMS`).
    """

    budget: int
    n_init: int
    seeds: tuple[int, ...]
    problems: tuple[str, ...] = TUNING_PROBLEMS


PROFILES: dict[str, Profile] = {
    "quick": Profile(budget=60, n_init=10, seeds=(0, 1, 2), problems=TUNING_PROBLEMS),
    "heldout": Profile(budget=60, n_init=10, seeds=(100, 101, 102, 103, 104), problems=HELD_OUT_PROBLEMS),
    "paper": Profile(budget=150, n_init=10, seeds=(0, 1, 2, 3, 4), problems=TUNING_PROBLEMS),
}


# -- method configs -----------------------------------------------------------------------------------------------
def compose_config(overrides: Sequence[str]) -> Any:
    """``conf/config.yaml`` composed with ``overrides``, exactly as ``python -m core.run`` would."""
    from hydra import compose, initialize_config_module

    from core.plugins import register_search_path_plugin

    register_search_path_plugin()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def method_config(name: str, n_init: int, pop_size: int | None = None) -> dict[str, Any]:
    """Load ``optimizer/<name>.yaml``, override its initial-design size, and check that it builds.

    The optimizer node is composed with the rest of the run config, so interpolations such as mobo_ars'
    ``agent: ${agent}`` resolve as in a real search (with the default ``agent`` option).

    Args:
        name: the optimizer's config name (``qlognehvi``, ``sobol``, ...); its yaml may come from tinymoo's
            config tree or from a registered config package.
        n_init: value for the ``n_init`` key, where the config has one.
        pop_size: value for the ``pop_size`` key, where the config has one (default: ``n_init``).

    Returns:
        The resolved config node (``_target_`` plus knobs) as a plain dict.

    Raises:
        hydra.errors.HydraException: no such config.
        core.errors.TinymooError: the target is not a registered plugin or its constructor failed.
    """
    from omegaconf import OmegaConf, open_dict

    from core.plugins import instantiate

    node = compose_config([f"optimizer={name}"]).optimizer
    with open_dict(node):
        if "n_init" in node:
            node.n_init = int(n_init)
        if "pop_size" in node:
            node.pop_size = int(pop_size if pop_size is not None else n_init)
    container = OmegaConf.to_container(node, resolve=True)  # resolved while still attached to the full config
    assert isinstance(container, dict)
    config = {str(k): v for k, v in container.items()}
    instantiate(OmegaConf.create(config), "optimizer")
    return config


def expensive_evaluations(config: dict[str, Any]) -> dict[str, Any]:
    """The optimizer config for synthetic problems, which stand in for expensive trials: no proposal time share.

    A synthetic evaluation takes microseconds, so an optimizer that limits its proposal time to a share of the
    trial time (``mobo_ars``' ``time_share``) would serve every proposal after the first from its cheap fallback.
    """
    return {**config, "time_share": None} if "time_share" in config else dict(config)


def resolve_methods(
    names: Sequence[str], n_init: int, pop_size: int | None
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """Build every method's config; returns ``({name: config}, skipped)`` with a reason for each skipped one."""
    configs: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, str]] = []
    for name in dict.fromkeys(names):
        try:
            configs[name] = method_config(name, n_init, pop_size)
        except Exception as exc:  # not registered, not written yet, or a constructor that rejects its knobs
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            print(f"warning: skipping optimizer {name!r}: {reason}", file=sys.stderr)
            skipped.append({"method": name, "reason": reason})
    return configs, skipped


# -- one run (executed in a worker process) -------------------------------------------------------------------------
def _init_worker(child: bool = True) -> None:
    """Worker setup: one torch thread (runs are parallel processes), quiet warnings and Lightning logs.

    On Linux a worker process (``child``) also asks the kernel to end it when the parent dies, so a killed
    benchmark leaves no orphaned runs behind; runs in the benchmark's own process (one worker) do not, so a
    benchmark started in the background outlives the shell that started it.
    """
    if child and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ.setdefault("WANDB_MODE", "disabled")
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # only allowed before any inter-op work
        torch.set_num_interop_threads(1)
    warnings.simplefilter("ignore")
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _time_stats(times: Sequence[float], skip: int = 0) -> dict[str, float | None]:
    later = list(times[skip:])
    return {
        "proposal_time_median_s": float(np.median(times)) if len(times) else None,
        "proposal_time_max_s": float(np.max(times)) if len(times) else None,
        "proposal_time_median_after_init_s": float(np.median(later)) if later else None,
    }


def log10_regret(max_hv: float, hv: float) -> float:
    """``log10(max_hv - hv)``, with the regret clamped at :data:`REGRET_FLOOR` (``max_hv`` may be an estimate)."""
    return math.log10(max(max_hv - hv, REGRET_FLOOR))


def run_synthetic(task: dict[str, Any]) -> dict[str, Any]:
    """One synthetic run: ``budget`` evaluations of ``ask(1)`` -> evaluate -> ``tell``.

    Args:
        task: ``problem``, ``method``, ``seed``, ``budget``, ``n_init`` and ``config`` (the optimizer node).

    Returns:
        The run's record (hypervolume history, final/max hypervolume, regret, proposal times, wall time).
    """
    import torch
    from omegaconf import OmegaConf

    from benchmarks.problems import HypervolumeTracker, SyntheticProblem
    from core.interfaces.optimizer import Problem
    from core.plugins import instantiate

    start = time.perf_counter()
    seed = int(task["seed"])
    torch.manual_seed(seed)
    np.random.seed(seed)
    problem = SyntheticProblem.make(task["problem"])
    optimizer = instantiate(OmegaConf.create(task["config"]), "optimizer")
    m = problem.num_objectives
    optimizer.setup(Problem(problem.dim, tuple(f"f{i}" for i in range(m)), (1.0,) * m, seed))
    tracker = HypervolumeTracker(problem.ref_raw)
    hv_history: list[float] = []
    ask_times: list[float] = []
    for _ in range(int(task["budget"])):
        t0 = time.perf_counter()
        x = optimizer.ask(1)
        ask_times.append(time.perf_counter() - t0)
        x = np.clip(np.asarray(x, dtype=float).reshape(1, problem.dim), 0.0, 1.0)
        y_raw = problem.evaluate_raw(x)
        optimizer.tell(x, problem.normalize(y_raw), np.ones(1, dtype=bool))
        hv_history.append(tracker.add(y_raw))
    final = hv_history[-1] if hv_history else 0.0
    skip = _init_size(task)
    return {
        "problem": task["problem"],
        "method": task["method"],
        "seed": seed,
        "budget": int(task["budget"]),
        "n_init": int(task["n_init"]),
        "dim": problem.dim,
        "num_objectives": m,
        "config": task["config"],
        "hv_history": hv_history,
        "final_hv": final,
        "max_hv": problem.max_hv,
        "log10_regret": log10_regret(problem.max_hv, final),
        **_time_stats(ask_times, skip),
        "proposal_times_s": [round(t, 6) for t in ask_times],
        "total_time_s": time.perf_counter() - start,
    }


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one synthetic task in a worker; never raises (a failure comes back as ``{"error": ...}``).

    Returns:
        ``{"task": task, "result": record}`` (see :func:`run_synthetic`) or ``{"task": task, "error": message,
        "traceback": text}``.
    """
    try:
        return {"task": task, "result": run_synthetic(task)}
    except Exception as exc:
        return {"task": task, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


# -- aggregation ----------------------------------------------------------------------------------------------------
def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def aggregate(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (problem, method): final HV and log10 regret mean ± std over seeds, pooled median proposal time,
    and the mean ± std hypervolume history (for the plot)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["problem"], r["method"]), []).append(r)
    out = []
    for (problem, method), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        hv_mean, hv_std = _mean_std([r["final_hv"] for r in rs])
        regrets = [r["log10_regret"] for r in rs]
        reg_mean, reg_std = _mean_std(regrets) if all(v is not None for v in regrets) else (None, None)
        times = [t for r in rs for t in r["proposal_times_s"]]
        later = [t for r in rs for t in r["proposal_times_s"][_init_size(r) :]]
        n = min(len(r["hv_history"]) for r in rs)
        hist = np.array([r["hv_history"][:n] for r in rs], dtype=float)
        out.append(
            {
                "problem": problem,
                "method": method,
                "n_runs": len(rs),
                "seeds": [r["seed"] for r in rs],
                "max_hv": rs[0]["max_hv"],
                "final_hv_mean": hv_mean,
                "final_hv_std": hv_std,
                "log10_regret_mean": reg_mean,
                "log10_regret_std": reg_std,
                "proposal_time_median_s": float(np.median(times)) if times else None,
                "proposal_time_median_after_init_s": float(np.median(later)) if later else None,
                "proposal_time_max_s": float(np.max(times)) if times else None,
                "total_time_mean_s": float(np.mean([r["total_time_s"] for r in rs])),
                "hv_history_mean": hist.mean(axis=0).tolist(),
                "hv_history_std": (hist.std(axis=0, ddof=1) if len(rs) > 1 else np.zeros(n)).tolist(),
            }
        )
    return sorted(out, key=lambda a: (a["problem"], a["method"]))


def _init_size(run: dict[str, Any]) -> int:
    """Asks of the run's initial design (``n_init`` or ``pop_size`` of its optimizer config; 0 if neither)."""
    config = run.get("config") or {}
    return int(config.get("n_init", config.get("pop_size", 0)) or 0)


# -- output files ---------------------------------------------------------------------------------------------------
def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _fmt(mean: float | None, std: float | None, digits: int = 4) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}g} ± {(std or 0.0):.2g}"


def _table(
    aggs: list[dict[str, Any]],
    key: str,
    best: Callable[[Sequence[float]], float],
    headers: dict[str, str],
    pooled: dict[str, float],
) -> list[str]:
    """Markdown table: rows = methods, columns = problems (cells ``mean ± std`` of ``key``; best mean bold),
    then the method's median proposal time ``pooled[method]`` (over all its runs)."""
    problems = list(headers)
    methods = list(dict.fromkeys(a["method"] for a in aggs))
    cell = {(a["problem"], a["method"]): a for a in aggs}
    best_of: dict[str, float | None] = {}
    for p in problems:
        values = [cell[(p, m)][f"{key}_mean"] for m in methods if (p, m) in cell]
        values = [v for v in values if v is not None]
        best_of[p] = best(values) if values else None
    lines = [
        "| method | " + " | ".join(headers[p] for p in problems) + " | median proposal time [s] |",
        "|---|" + "---:|" * (len(problems) + 1),
    ]
    for m in methods:
        cells = []
        for p in problems:
            a = cell.get((p, m))
            if a is None:
                cells.append("n/a")
                continue
            mean = a[f"{key}_mean"]
            text = _fmt(mean, a[f"{key}_std"])
            cells.append(f"**{text}**" if mean is not None and mean == best_of[p] else text)
        cells.append(f"{pooled[m]:.3g}" if m in pooled else "n/a")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def _ordered_problems(sec: dict[str, Any]) -> list[str]:
    """The problems of a section's aggregate, in the order of its settings (the profile's), others last."""
    order = list((sec.get("settings") or {}).get("problems") or [])
    present = list(dict.fromkeys(a["problem"] for a in sec.get("aggregate") or []))
    return sorted(present, key=lambda p: order.index(p) if p in order else len(order))


def _problem_sets(problems: Sequence[str]) -> list[str]:
    """Markdown lines saying which of ``problems`` are tuning problems and which are held out."""
    tuning = [p for p in problems if p in TUNING_PROBLEMS]
    held_out = [p for p in problems if p in HELD_OUT_PROBLEMS]
    lines = []
    if tuning:
        lines.append(f"Tuning problems (the optimizers' defaults were tuned on them; optimistic): {', '.join(tuning)}.")
    if held_out:
        lines.append(f"Held-out problems (not used for tuning): {', '.join(held_out)}.")
    return [" ".join(lines), ""] if lines else []


def write_markdown(path: Path, data: dict[str, Any]) -> None:
    """The report: final hypervolume and log10 regret tables (rows: methods, columns: problems)."""
    lines = [f"# Optimizer benchmark (`{data.get('profile')}` profile)", ""]
    machine = data.get("machine") or {}
    lines += [
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, Python {machine.get('python')}, "
        f"torch {machine.get('torch')}; one torch thread per run. Updated {data.get('updated')}.",
        "",
        f"Command: `{data.get('command')}`",
        "",
    ]
    sec = data.get("synthetic") or {}
    aggs = sec.get("aggregate") or []
    settings = sec.get("settings") or {}
    if aggs or sec.get("skipped") or sec.get("failed"):
        lines += ["## Synthetic problems", ""]
        if sec.get("note"):
            lines += [f"**Note:** {sec['note']}", ""]
        problems = _ordered_problems(sec)
        lines += _problem_sets(problems)
        lines += [
            f"q=1; budget {settings.get('budget')} evaluations, n_init {settings.get('n_init')}, seeds "
            f"{settings.get('seeds')}. Cells: mean ± sample std over seeds; best mean in bold. Proposal time: median "
            "wall time of `ask(1)` over all evaluations of all runs of the method (initial design included).",
            "",
        ]
        pooled = {}
        for m in dict.fromkeys(a["method"] for a in aggs):
            times = [t for r in sec.get("runs", []) if r["method"] == m for t in r["proposal_times_s"]]
            if times:
                pooled[m] = float(np.median(times))
        max_hv = {a["problem"]: a["max_hv"] for a in aggs}
        heads = {p: f"{p} (max {max_hv[p]:.4g})" for p in problems}
        lines += ["### Final hypervolume (raw objective space; higher is better)", ""]
        lines += _table(aggs, "final_hv", max, heads, pooled)
        lines += ["", "### log10 hypervolume regret, log10(max_hv - hv) (lower is better)", ""]
        lines += _table(aggs, "log10_regret", min, {p: p for p in problems}, pooled)
        lines.append("")
        for s in sec.get("skipped") or []:
            lines.append(f"- skipped `{s['method']}`: {s['reason']}")
        for f in sec.get("failed") or []:
            lines.append(f"- failed `{f['method']}` on {f['problem']} seed {f['seed']}: {f['error']}")
        if sec.get("skipped") or sec.get("failed"):
            lines.append("")
    path.write_text("\n".join(lines))


def write_plot(path: Path, data: dict[str, Any]) -> None:
    """One panel per problem: hypervolume vs evaluations, mean ± std band per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sec = data.get("synthetic") or {}
    aggs = sec.get("aggregate") or []
    problems = _ordered_problems(sec)
    if not problems:
        return
    methods = list(dict.fromkeys(a["method"] for a in aggs))
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    ncols = min(len(problems), 3)
    nrows = math.ceil(len(problems) / ncols)
    width = max(4.6 * ncols, 9.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 3.6 * nrows + 1.0), squeeze=False)
    for ax, problem in zip(axes.flat, problems):
        for a in aggs:
            if a["problem"] != problem:
                continue
            mean, std = np.asarray(a["hv_history_mean"]), np.asarray(a["hv_history_std"])
            x = np.arange(1, len(mean) + 1)
            ax.plot(x, mean, color=colors[a["method"]], label=a["method"], lw=1.5)
            ax.fill_between(x, mean - std, mean + std, color=colors[a["method"]], alpha=0.18, lw=0)
            if a["max_hv"] is not None:
                ax.axhline(a["max_hv"], color="k", ls=":", lw=1)
        kind = " (held out)" if problem in HELD_OUT_PROBLEMS else " (tuning)" if problem in TUNING_PROBLEMS else ""
        ax.set_title(problem + kind)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("hypervolume")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colors[m], lw=2, label=m) for m in methods]
    handles.append(plt.Line2D([], [], color="k", ls=":", lw=1, label="max HV"))
    ncol = min(len(handles), int(width // 1.6))
    legend_h = 0.3 * math.ceil(len(handles) / ncol) + 0.2  # inches
    height = fig.get_figheight()
    fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False)
    fig.suptitle(f"Optimizer benchmark ({data.get('profile')}): hypervolume, mean ± std over seeds")
    fig.tight_layout(rect=(0, legend_h / height, 1, 1 - 0.4 / height))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_reports(json_path: Path, data: dict[str, Any]) -> None:
    """Write the markdown table and the plot next to the JSON."""
    write_markdown(json_path.with_suffix(".md"), data)
    write_plot(json_path.with_suffix(".png"), data)


# -- the driver -----------------------------------------------------------------------------------------------------
def _key(r: dict[str, Any]) -> tuple[str, str, int]:
    return (str(r["problem"]), str(r["method"]), int(r["seed"]))


def _settings_match(run: dict[str, Any], settings: dict[str, Any]) -> bool:
    return all(run.get(k) == settings.get(k) for k in ("budget", "n_init"))


def _section_state(
    old: dict[str, Any] | None,
    settings: dict[str, Any],
    skipped: list[dict[str, str]],
    resume: bool,
    configs: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A fresh section, or (with ``resume``) the old one's runs of known problems made with the same budget/n_init
    by a method still benchmarked, with its current config (a retuned method is run again)."""
    runs = []
    if resume and old:
        runs = [
            r
            for r in old.get("runs", [])
            if str(r.get("problem")) in PROBLEMS
            and _settings_match(r, settings)
            and str(r["method"]) in configs
            and r.get("config") == configs[str(r["method"])]
        ]
        dropped = len(old.get("runs", [])) - len(runs)
        if dropped:
            print(f"warning: --resume drops {dropped} stored run(s) made with other settings", file=sys.stderr)
    return {"settings": settings, "skipped": skipped, "runs": runs, "failed": [], "aggregate": aggregate(runs)}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.optimizers",
        description="Benchmark tinymoo's optimizers on synthetic multi-objective problems.",
    )
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="quick",
        help="quick: tuning problems, seeds 0-2; heldout: held-out problems, seeds 100-104; paper: tuning problems, "
        "budget 150, seeds 0-4 (default: quick)",
    )
    p.add_argument(
        "--problems",
        nargs="+",
        choices=PROBLEMS,
        help=f"default: the profile's (tuning: {' '.join(TUNING_PROBLEMS)}; held out: {' '.join(HELD_OUT_PROBLEMS)})",
    )
    p.add_argument("--methods", nargs="+", help=f"optimizer config names; default: {' '.join(DEFAULT_METHODS)}")
    p.add_argument("--budget", type=int, help="evaluations per run (default: the profile's)")
    p.add_argument("--n-init", type=int, help="initial design of model-based optimizers (default: the profile's)")
    p.add_argument("--pop-size", type=int, help="population size where a config has pop_size (default: n_init)")
    p.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the profile's)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel runs (default: CPU count)")
    p.add_argument("--out-dir", type=Path, default=OUT_DIR, help=f"default: {OUT_DIR.relative_to(REPO)}")
    p.add_argument("--resume", action="store_true", help="keep finished runs of the JSON and skip them")
    p.add_argument("--report-only", action="store_true", help="only rewrite the .md and .png from the JSON")
    args = p.parse_args(argv)
    for name in ("budget", "n_init", "pop_size", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    return args


def _tasks(settings: dict[str, Any], configs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    base = {k: settings[k] for k in ("budget", "n_init")}
    return [
        {"problem": problem, "method": method, "seed": seed, "config": config, **base}
        for problem in settings["problems"]
        for method, config in configs.items()
        for seed in settings["seeds"]
    ]


def _cost(task: dict[str, Any]) -> float:
    """Rough relative cost, to start the longest runs first."""
    model_based = "n_init" in task["config"]
    return (50.0 if model_based else 1.0) * task["budget"]


def _record(data: dict[str, Any], out: dict[str, Any]) -> str:
    """Store one finished task's outcome in ``data``; returns a one-line description."""
    task = out["task"]
    sec = data["synthetic"]
    key = _key(task)
    sec["runs"] = [r for r in sec["runs"] if _key(r) != key]
    sec["failed"] = [f for f in sec["failed"] if _key(f) != key]
    label = f"{task['problem']} / {task['method']} / seed {task['seed']}"
    if "error" in out:
        sec["failed"].append(
            {"problem": task["problem"], "method": task["method"], "seed": task["seed"], "error": out["error"]}
        )
        print(out["traceback"], file=sys.stderr)
        return f"{label}: FAILED ({out['error']})"
    r = out["result"]
    sec["runs"].append(r)
    sec["runs"].sort(key=_key)
    sec["aggregate"] = aggregate(sec["runs"])
    return (
        f"{label}: hv {r['final_hv']:.4g} / max {r['max_hv']:.4g}, log10 regret {r['log10_regret']:.3f}; "
        f"ask median {r['proposal_time_median_s']:.3g} s, max {r['proposal_time_max_s']:.3g} s; "
        f"total {r['total_time_s']:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (1 if any run failed)."""
    args = parse_args(argv)
    from benchmarks.machine import machine_info

    profile = PROFILES[args.profile]
    json_path = Path(args.out_dir) / f"optimizers_{args.profile}.json"
    old: dict[str, Any] = json.loads(json_path.read_text()) if json_path.exists() else {}
    if args.report_only:
        return rewrite_reports(json_path, old, write_reports)

    n_init = args.n_init or profile.n_init
    settings = {
        "budget": args.budget or profile.budget,
        "n_init": n_init,
        "pop_size": args.pop_size or n_init,
        "q": 1,
        "seeds": list(args.seeds if args.seeds is not None else profile.seeds),
        "problems": list(dict.fromkeys(args.problems or profile.problems)),
        "methods": list(dict.fromkeys(args.methods or DEFAULT_METHODS)),
    }
    configs, skipped = resolve_methods(settings["methods"], n_init, settings["pop_size"])
    configs = {name: expensive_evaluations(c) for name, c in configs.items()}
    # only the synthetic section is kept: a TinyML section of an older file (now benchmarks.tinyml's) is dropped
    data: dict[str, Any] = {
        "benchmark": "optimizers",
        "profile": args.profile,
        "command": " ".join(
            ["python -m benchmarks.optimizers", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
        ),
        "machine": {**machine_info(), "workers": args.workers, "worker_torch_threads": 1},
        "updated": None,
        "synthetic": _section_state(old.get("synthetic"), settings, skipped, args.resume, configs),
    }
    tasks = _tasks(settings, configs)
    done = {_key(r) for r in data["synthetic"]["runs"]}
    # seed-major (all problems x methods for the first seed, then the next), longest runs first within a seed:
    # a benchmark stopped early still covers every problem and method
    todo = sorted((t for t in tasks if _key(t) not in done), key=lambda t: (t["seed"], -_cost(t)))
    if len(todo) < len(tasks):
        print(f"resume: {len(tasks) - len(todo)} of {len(tasks)} runs already done")

    def save() -> None:
        data["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
        write_json(json_path, data)

    save()
    n_failed = 0
    start = time.perf_counter()
    # a SIGTERM (e.g. from a job scheduler) ends the run like Ctrl-C: results so far are saved and reported
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for i, out in enumerate(execute_all(todo, args.workers), 1):
            n_failed += "error" in out
            line = _record(data, out)
            save()
            print(f"[{i}/{len(todo)} {time.perf_counter() - start:.0f} s] {line}", flush=True)
    finally:
        save()
        write_reports(json_path, data)
    print(f"wrote {json_path}, {json_path.with_suffix('.md').name}, {json_path.with_suffix('.png').name}")
    print(json_path.with_suffix(".md").read_text())
    return 1 if n_failed else 0


def rewrite_reports(json_path: Path, data: dict[str, Any], write: Callable[[Path, dict[str, Any]], None]) -> int:
    """``--report-only``: rewrite the .md and .png from the stored results; exit status 2 when there are none."""
    if not data:
        print(f"error: {json_path} does not exist", file=sys.stderr)
        return 2
    write(json_path, data)
    print(f"wrote {json_path.with_suffix('.md')} and {json_path.with_suffix('.png')}")
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def execute_all(
    tasks: Sequence[dict[str, Any]],
    workers: int,
    fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Any:
    """Yield every task's outcome as it finishes: in worker processes, or in this process with one worker.

    Args:
        tasks: the tasks (picklable dicts).
        workers: parallel worker processes (spawned, set up by :func:`_init_worker`); 1 runs them here.
        fn: the runner, called as ``fn(task)``; it must never raise and, for ``workers > 1``, be importable by
            name (a module-level function of an importable module). Default: :func:`execute`.
    """
    if not tasks:
        return
    # pickle the worker functions by their importable names, also when this file runs as __main__
    from benchmarks import optimizers as this

    run = fn if fn is not None else this.execute
    if workers <= 1:
        this._init_worker(child=False)
        for task in tasks:
            yield run(task)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx, initializer=this._init_worker)
    try:
        futures = [pool.submit(run, t) for t in tasks]
        for future in cf.as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    sys.exit(main())
