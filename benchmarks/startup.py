"""Benchmark: start-up time of a fresh process (issue 14): imports, CLI start-up, and a process worker's first trial.

Every measurement runs in a fresh subprocess and is repeated ``--repeats`` times, round-robin over the
measurements (so a change in the machine's load spreads over all of them); the JSON keeps every time, the median
and the minimum. The measurements:

* ``import_interfaces``: ``python -c "import core.interfaces"`` (what every plugin module imports).
* ``worker_ready``: what a ``executor=process`` worker imports before it can receive a trial: the module of its
  target (``plugins.executors.process``, unpickled by ``multiprocessing``'s spawn) and torch (``limit_threads``).
* ``worker_trial_imports``: the same plus ``core.trial.evaluate``, which unpickling the trial function
  ``core.trial.evaluate.evaluate_trial`` imports before the first real trial can start.
* ``cli_help`` / ``cli_cfg_job``: ``python -m core.run --help`` and ``python -m core.run --cfg job`` (composes the
  quickstart config and prints it; no search).
* ``executor_first_result``: in a process that has already imported the executor, the time from constructing a
  one-worker :class:`plugins.executors.process.ProcessExecutor` to the first result of :func:`trivial_trial`
  (spawn, the worker's imports, one trial). ``executor_first_result_machinery`` does the same with
  :func:`machinery_trial`, which imports ``core.trial.evaluate`` first, as the real trial function's unpickling does.
  Both also time a second trial and a second ``map`` call on the same executor and record the worker's pid, to
  show that the worker stays warm between trials and batches.

Each import measurement also records (untimed, in its own subprocess) whether ``pytorch_lightning``,
``lightning``, ``torch`` and ``botorch`` end up in ``sys.modules``. ``python -X importtime`` finds the heavy
imports: ``python -X importtime -c "import core.interfaces" 2>&1 | sort -t'|' -k2 -n | tail``.

Usage: ``python -m benchmarks.startup --section before|after [--repeats 5]``; updates that section of
``benchmarks/results/startup.json`` (the other sections are kept) and prints a markdown table. Separate runs see
different loads on a shared machine, so ``--section interleaved --baseline DIR`` measures another checkout ``DIR``
(e.g. ``git archive <commit> | tar -x -C DIR``) in turn with this one, in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import git
from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "startup.json"
WATCHED = ("pytorch_lightning", "lightning", "torch", "botorch")

WORKER_READY = (
    "import plugins.executors.process\nfrom core.search.executor_support import limit_threads\nlimit_threads(1)\n"
)
IMPORTS: dict[str, list[str]] = {
    "import_interfaces": ["-c", "import core.interfaces"],
    "worker_ready": ["-c", WORKER_READY],
    "worker_trial_imports": ["-c", WORKER_READY + "import core.trial.evaluate\n"],
}
CLI: dict[str, list[str]] = {
    "cli_help": ["-m", "core.run", "--help"],
    "cli_cfg_job": ["-m", "core.run", "--cfg", "job"],
}
EXECUTOR_KINDS = ("trivial", "machinery")


# -- trial functions (module level, so a worker process can unpickle them) --------------------------------------------
def trivial_trial(spec: TrialSpec) -> TrialResult:
    """A trial that does nothing: returns a complete result naming the worker's pid."""
    return TrialResult(spec.trial_id, spec.x, spec.params, TrialStatus.COMPLETE, {"error": 0.0}, {"pid": os.getpid()})


def machinery_trial(spec: TrialSpec) -> TrialResult:
    """Imports the real trial machinery (``core.trial.evaluate``, as unpickling ``evaluate_trial`` does); returns."""
    import core.trial.evaluate  # noqa: F401

    return trivial_trial(spec)


def first_results(kind: str) -> dict[str, Any]:
    """Run in a fresh process: time a one-worker ProcessExecutor from construction to its first result, then a
    second trial and a second ``map`` call (batch) on the same, warm worker."""
    from plugins.executors.process import ProcessExecutor

    fn = {"trivial": trivial_trial, "machinery": machinery_trial}[kind]
    specs = [TrialSpec(i, [0.5], {}, {}, "") for i in range(3)]
    t0 = time.perf_counter()
    executor = ProcessExecutor(workers=1)
    try:
        results = executor.map(fn, specs[:2])
        first = next(results)
        t1 = time.perf_counter()
        second = next(results)
        t2 = time.perf_counter()
        for _ in results:
            pass
        (third,) = executor.map(fn, specs[2:])  # a second batch
        t3 = time.perf_counter()
    finally:
        executor.close()
    pids = [int(r.metrics["pid"]) for r in (first, second, third)]
    return {
        "first_s": t1 - t0,
        "second_trial_s": t2 - t1,
        "second_batch_s": t3 - t2,
        "one_worker_throughout": len(set(pids)) == 1 and pids[0] != os.getpid(),
    }


# -- measurement ------------------------------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("WANDB_MODE", "offline")
    env.setdefault("HYDRA_FULL_ERROR", "1")
    return env


def _run(args: list[str], root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python <args>`` in a fresh subprocess whose working directory (so the code imported) is ``root``."""
    proc = subprocess.run(
        [sys.executable, *args], cwd=root, env=_env(), capture_output=True, text=True, check=False, timeout=600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def time_command(args: list[str], root: Path = ROOT) -> float:
    """Wall seconds of ``python <args>`` in a fresh subprocess."""
    t = time.perf_counter()
    _run(args, root)
    return time.perf_counter() - t


def loaded_modules(code: str, root: Path = ROOT) -> dict[str, bool]:
    """Which of :data:`WATCHED` are in ``sys.modules`` after running ``code`` in a fresh subprocess (untimed)."""
    probe = code + f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {WATCHED!r}}}))\n"
    return json.loads(_run(["-c", probe], root).stdout.strip().splitlines()[-1])


def executor_once(kind: str, root: Path = ROOT) -> dict[str, Any]:
    code = f"import json\nfrom benchmarks.startup import first_results\nprint(json.dumps(first_results({kind!r})))"
    return json.loads(_run(["-c", code], root).stdout.strip().splitlines()[-1])


def summarize(times: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "times_s": [round(t, 3) for t in times],
    }


def measure(repeats: int, roots: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Every measurement ``repeats`` times in each checkout of ``roots`` (label -> directory), round-robin over
    measurements and checkouts; returns label -> measurement name -> summary."""
    raw = {label: {name: [] for name in [*IMPORTS, *CLI]} for label in roots}
    extra: dict[str, dict[str, dict[str, list[Any]]]] = {label: {k: {} for k in EXECUTOR_KINDS} for label in roots}
    for r in range(repeats):
        for name, args in {**IMPORTS, **CLI}.items():
            for label, root in roots.items():
                raw[label][name].append(time_command(args, root))
        for kind in EXECUTOR_KINDS:
            for label, root in roots.items():
                for key, value in executor_once(kind, root).items():
                    extra[label][kind].setdefault(key, []).append(value)
        print(f"repeat {r + 1}/{repeats} done", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for label, root in roots.items():
        out: dict[str, Any] = {}
        for name, args in IMPORTS.items():
            loads = loaded_modules(args[1], root)
            out[name] = {"command": ["python", *args], **summarize(raw[label][name]), "loads": loads}
        for name, args in CLI.items():
            out[name] = {"command": ["python", *args], **summarize(raw[label][name])}
        for kind in EXECUTOR_KINDS:
            d = extra[label][kind]
            out[f"executor_first_result{'' if kind == 'trivial' else '_' + kind}"] = {
                "trial_function": f"benchmarks.startup.{kind}_trial",
                **summarize(d["first_s"]),
                "second_trial": summarize(d["second_trial_s"]),
                "second_batch": summarize(d["second_batch_s"]),
                "one_worker_throughout": all(d["one_worker_throughout"]),
            }
        results[label] = out
    return results


def git_state() -> dict[str, Any]:
    return {"commit": git("rev-parse", "HEAD"), "dirty_files": git("status", "--porcelain").splitlines()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.startup")
    p.add_argument(
        "--section",
        choices=["before", "after", "interleaved"],
        required=True,
        help="which section of the JSON to write; interleaved needs --baseline",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        help="with --section interleaved: another checkout (e.g. `git archive HEAD | tar -x -C DIR`) measured in "
        "turn with this one, so that both see the same machine load",
    )
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--note", default="", help="free text stored with the section (e.g. what changed)")
    args = p.parse_args(argv)
    if (args.section == "interleaved") != (args.baseline is not None):
        p.error("--baseline goes with --section interleaved, and only with it")
    roots = {"this_tree": ROOT} if args.baseline is None else {"baseline": args.baseline.resolve(), "this_tree": ROOT}
    from benchmarks.machine import machine_info

    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results = measure(args.repeats, roots)
    section = {
        "date": started,
        **git_state(),
        "note": args.note,
        "machine": machine_info(),
        "load_avg_1_5_15": {"start": [round(x, 2) for x in load_before], "end": [round(x, 2) for x in os.getloadavg()]},
        "repeats": args.repeats,
        "measurements": results if args.baseline is not None else results["this_tree"],
    }
    if args.baseline is not None:
        section["baseline"] = str(args.baseline)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data.setdefault("benchmark", "startup")
    data[args.section] = section
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    labels = list(results)
    print("| measurement | " + " | ".join(f"{label} median s | {label} min s" for label in labels) + " |")
    print("|---|" + "---:|---:|" * len(labels))
    for name in results[labels[0]]:
        cells = [f"{results[label][name]['median_s']:.2f} | {results[label][name]['min_s']:.2f}" for label in labels]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
