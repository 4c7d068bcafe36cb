"""A sweep's comparison, written when a multirun ends: one table row per job and the hypervolume curves.

``python -m core.run -m seed=0,1 optimizer=sobol,random`` runs one search per combination, each in a numbered
directory under ``hydra.sweep.dir``. :class:`MultirunSummary` is a Hydra callback registered in
``conf/config.yaml`` (``hydra.callbacks.multirun_summary``). It runs in the launching process once every job has
returned, with any launcher (basic, ``joblib``, ``submitit_local``, ``submitit_slurm``, ``ray``), and writes, from
the jobs' stores, with :func:`core.report.comparison.write_comparison`:

* ``<sweep dir>/comparison.csv``: one row per job: its number (``job``) and task overrides (``overrides``, from
  the job's ``.hydra/overrides.yaml``), then ``write_comparison``'s columns (run directory, optimizer, seed,
  board, objectives, trials, counts per status, final hypervolume, Pareto size, wall time);
* ``<sweep dir>/hypervolume.png``: hypervolume against trials per optimizer, the mean over seeds with a ± one
  standard deviation band.

A job refused for bad input (``tinymoo: error: ...``, exit status 2 in a single run) does not end the sweep: it
writes its one-paragraph message to ``<job dir>/error.txt`` and returns, the remaining jobs run, and its row in
``comparison.csv`` carries the message in the ``error`` column. The command then exits 2 after the sweep, naming
the failed jobs. A job that died some other way before its first trial has no store and no row (a warning names
it). The callback never fails the sweep: an error is logged, and the jobs' own outputs are untouched.
``python -m core.search.multirun SWEEP_DIR`` writes the same files for a finished or interrupted sweep.

Launchers (each uses ``hydra.sweep.dir``; the callback works with all of them):

* ``hydra/launcher=joblib hydra.launcher.n_jobs=2``: local processes (``hydra-joblib-launcher``);
* ``hydra/launcher=submitit_slurm hydra.launcher.partition=<p> hydra.launcher.timeout_min=<m>
  hydra.launcher.cpus_per_task=<n>``: one SLURM job per search (``hydra-submitit-launcher``; SLURM's logs go to
  ``<sweep dir>/.submitit/``); ``hydra/launcher=submitit_local`` runs the same code path on this machine;
* ``hydra/launcher=ray``: Ray tasks on a local Ray instance, or on a running cluster with
  ``+hydra.launcher.ray.init.address=auto`` (``hydra-ray-launcher``).
"""

from __future__ import annotations

import csv
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from core.search.store import STORE_NAME

log = logging.getLogger(__name__)

JOB_COLUMNS = ("job", "overrides")  # put before core.report's comparison columns
ERROR_COLUMN = "error"  # put after them: a refused job's message (empty for the others)
ERROR_NAME = "error.txt"  # a refused job's message, in its own directory
_MAX_DEPTH = 3  # how deep below the sweep dir job directories are looked for (hydra.sweep.subdir may nest)


@dataclass
class Job:
    """One job directory of a sweep: its number and task overrides (from ``.hydra/``), and the message of a job
    refused for bad input (its ``error.txt``; None for the others)."""

    path: Path
    num: int | None
    overrides: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def has_store(self) -> bool:
        return (self.path / STORE_NAME).is_file()


def record_failed_job(job_dir: str | Path, message: str) -> None:
    """In a sweep job refused for bad input: keep its message for the sweep's comparison."""
    path = Path(job_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / ERROR_NAME).write_text(message + "\n")


# the refused jobs of the sweeps that ended in this process, (job dir, message): the callback fills it from the jobs'
# error.txt (whichever process or machine ran them), and core.run exits 2 if it is not empty
failed_jobs: list[tuple[str, str]] = []


def _read_yaml(path: Path) -> Any:
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False) if path.is_file() else None
    except Exception as exc:  # a half-written file of a killed job
        log.warning("multirun summary: cannot read %s: %s", path, exc)
        return None


def _read_job(path: Path) -> Job:
    hydra_cfg = _read_yaml(path / ".hydra" / "hydra.yaml")
    hydra_node = (hydra_cfg.get("hydra") or {}) if isinstance(hydra_cfg, dict) else {}
    num = (hydra_node.get("job") or {}).get("num")
    if not isinstance(num, int):
        num = int(path.name) if path.name.isdigit() else None
    overrides = _read_yaml(path / ".hydra" / "overrides.yaml")
    if not isinstance(overrides, list):
        overrides = list((hydra_node.get("overrides") or {}).get("task") or [])
    error = path / ERROR_NAME
    return Job(path, num, [str(o) for o in overrides], error.read_text().strip() if error.is_file() else None)


def find_jobs(sweep_dir: str | Path) -> list[Job]:
    """The job directories of a sweep, in job-number order: every directory below ``sweep_dir`` that holds a
    ``.hydra/`` or a store (hidden directories such as submitit's ``.submitit/`` are skipped)."""
    root = Path(sweep_dir)
    found: list[Path] = []

    def walk(d: Path, depth: int) -> None:
        for child in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (child / ".hydra").is_dir() or (child / STORE_NAME).is_file():
                found.append(child)
            elif depth < _MAX_DEPTH:
                walk(child, depth + 1)

    if root.is_dir():
        walk(root, 1)
    jobs = [_read_job(p) for p in found]
    return sorted(jobs, key=lambda j: (j.num is None, j.num if j.num is not None else 0, str(j.path)))


def _add_job_columns(csv_path: Path, jobs: list[Job]) -> None:
    """Prepend ``job`` and ``overrides`` to each row of a comparison, matched by its ``run_dir`` column; append the
    ``error`` column and one row for each job refused for bad input."""
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    by_path = {j.path.resolve(): j for j in jobs}
    for row in rows:
        run_dir = Path(row.get("run_dir", ""))
        job = by_path.get((run_dir if run_dir.is_absolute() else csv_path.parent / run_dir).resolve())
        row["job"] = "" if job is None or job.num is None else str(job.num)
        row["overrides"] = "" if job is None else " ".join(job.overrides)
        row[ERROR_COLUMN] = (job.error if job is not None else None) or ""
    for job in jobs:
        if not job.has_store and job.error is not None:
            rows.append(
                {
                    "job": "" if job.num is None else str(job.num),
                    "overrides": " ".join(job.overrides),
                    "run_dir": os.path.relpath(job.path, csv_path.parent),
                    ERROR_COLUMN: job.error,
                }
            )
    rows.sort(key=lambda r: (r["job"] == "", int(r["job"]) if r["job"] else 0))
    fields = [*JOB_COLUMNS, *(c for c in columns if c not in (*JOB_COLUMNS, ERROR_COLUMN)), ERROR_COLUMN]
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)


def summarize_sweep(sweep_dir: str | Path) -> Path | None:
    """Write ``comparison.csv`` and ``hypervolume.png`` into ``sweep_dir``; returns the csv (None: no job has a
    store or a recorded error)."""
    from core.report.comparison import write_comparison

    root = Path(sweep_dir)
    jobs = find_jobs(root)
    refused = [j for j in jobs if not j.has_store and j.error is not None]
    missing = [j for j in jobs if not j.has_store and j.error is None]
    if missing:
        log.warning(
            "multirun summary: no %s in job(s) %s (failed before the first trial?)",
            STORE_NAME,
            ", ".join(str(j.path.relative_to(root)) for j in missing),
        )
    for job in refused:
        log.warning("multirun summary: job %s was refused: %s", job.path.relative_to(root), job.error)
    with_store = [j for j in jobs if j.has_store]
    if not with_store and not refused:
        log.warning("multirun summary: no job directory with a %s under %s", STORE_NAME, root)
        return None
    csv_path = write_comparison([j.path for j in with_store], root)
    _add_job_columns(csv_path, [*with_store, *refused])
    return csv_path


class MultirunSummary(Callback):
    """Hydra callback: when a multirun ends, compare its jobs (see the module docstring). Never raises."""

    def __init__(self) -> None:
        self.sweep_dir: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # the directory the launcher resolves now: a ``${now:...}`` in it must not move on to a later second
        try:
            self.sweep_dir = str(config.hydra.sweep.dir)
        except Exception as exc:
            log.warning("multirun summary: cannot resolve hydra.sweep.dir: %s", exc)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            sweep_dir = self.sweep_dir or str(config.hydra.sweep.dir)
            failed_jobs.extend((str(j.path), j.error or "") for j in find_jobs(sweep_dir) if j.error is not None)
            path = summarize_sweep(sweep_dir)
            if path is not None:
                log.info("multirun summary: %s and %s", path, path.with_name("hypervolume.png"))
        except Exception as exc:  # the jobs' results matter more than their summary: never fail the sweep
            log.warning("multirun summary failed: %s: %s", type(exc).__name__, exc, exc_info=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m core.search.multirun SWEEP_DIR [...]``: (re)write the comparison of finished sweeps."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m core.search.multirun SWEEP_DIR [SWEEP_DIR ...]", file=sys.stderr)
        return 2
    status = 0
    for arg in argv:
        path = summarize_sweep(arg)
        if path is None:
            print(f"tinymoo: error: {arg}: no job directory with a {STORE_NAME} here", file=sys.stderr)
            status = 2
        else:
            print(path)
    return status


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
