"""Sweeps through Hydra launchers, and the multirun comparison (``core.search.multirun.MultirunSummary``).

The end-to-end sweeps run two tiny searches each (2 trials of one epoch); the unit tests build sweep
directories by hand.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.report import COMPARISON_COLUMNS
from core.search.multirun import ERROR_COLUMN, JOB_COLUMNS, MultirunSummary, find_jobs, summarize_sweep
from core.search.multirun import main as multirun_main
from core.search.store import STORE_NAME, Store
from tests.conftest import run_cli

TINY = ["search.n_trials=2", "trainer.max_epochs=1", "search.progress=false"]


def _rows(sweep: Path) -> list[dict[str, str]]:
    with (sweep / "comparison.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _check(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


# --------------------------------------------------------------------------------------- end-to-end sweeps
@pytest.mark.slow
def test_joblib_sweep_writes_comparison(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "seed=0", "optimizer=sobol,random", *TINY, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    _check(run_cli(*args, f"hydra.sweep.dir={sweep}", OMP_NUM_THREADS="1"))
    rows = _rows(sweep)
    assert len(rows) == 2, rows  # one row per job
    assert list(rows[0]) == [*JOB_COLUMNS, *COMPARISON_COLUMNS, ERROR_COLUMN]
    assert sorted(r["job"] for r in rows) == ["0", "1"]
    assert {r["optimizer"].rsplit(".", 1)[-1] for r in rows} == {"SobolSearch", "RandomSearch"}
    for r in rows:
        assert r["run_dir"] == r["job"]
        summary = json.loads((sweep / r["run_dir"] / "summary.json").read_text())
        assert r["board"] == "stm32f4" and r["seed"] == "0"
        assert int(r["n_trials"]) == 2
        assert float(r["final_hv"]) == pytest.approx(summary["hypervolume"], abs=1e-6)
        assert int(r["pareto_size"]) == summary["pareto_size"]
        choice = "sobol" if r["optimizer"].endswith("SobolSearch") else "random"
        assert f"optimizer={choice}" in r["overrides"].split()
    assert (sweep / "hypervolume.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None, reason="no submitit")
def test_submitit_local_sweep(tmp_path: Path) -> None:
    """``hydra/launcher=submitit_local``: the code path of ``submitit_slurm`` (same launcher, local executor)."""
    sweep = tmp_path / "sweep"
    args = ["-m", "seed=0,1", "optimizer=sobol", *TINY, "hydra/launcher=submitit_local"]
    _check(run_cli(*args, "hydra.launcher.timeout_min=10", f"hydra.sweep.dir={sweep}", OMP_NUM_THREADS="1"))
    for job in ("0", "1"):
        summary = json.loads((sweep / job / "summary.json").read_text())
        assert summary["counts"]["total"] == 2
        assert summary["seed"] == int(job)
    assert (sweep / ".submitit").is_dir()  # submitit's own job logs, which the comparison skips
    rows = sorted(_rows(sweep), key=lambda r: r["job"])
    assert [(r["job"], r["seed"], r["n_trials"]) for r in rows] == [("0", "0", "2"), ("1", "1", "2")]
    assert (sweep / "hypervolume.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None, reason="hydra-ray-launcher not installed"
)
def test_ray_sweep(tmp_path: Path) -> None:
    """``hydra/launcher=ray`` on a local Ray instance (2 CPUs, no dashboard)."""
    sweep = tmp_path / "sweep"
    ray = [
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
    ]
    _check(run_cli("-m", "seed=0,1", "optimizer=sobol", *TINY, *ray, f"hydra.sweep.dir={sweep}", OMP_NUM_THREADS="1"))
    rows = _rows(sweep)
    assert sorted((r["job"], r["n_trials"]) for r in rows) == [("0", "2"), ("1", "2")]
    assert (sweep / "hypervolume.png").stat().st_size > 0


# --------------------------------------------------------------------------------------- unit tests
def _fake_job(sweep: Path, num: int, overrides: list[str], history: list[float] | None, optimizer: str) -> Path:
    """A job directory as Hydra and the search leave it: ``.hydra/`` and (unless ``history`` is None) a store
    whose complete trials give, one objective at a time, the hypervolumes of ``history``."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": {"job": {"num": num}}}), job / ".hydra" / "hydra.yaml")
    if history is not None:
        seed = int(next(o.split("=")[1] for o in overrides if o.startswith("seed=")))
        with Store(job / STORE_NAME) as store:
            for key, value in {
                "objectives": ["error"],
                "reference": {"error": 1.0},
                "board": "stm32f4",
                "optimizer": f"plugins.optimizers.{optimizer}.{optimizer.title()}Search",
                "seed": seed,
                "n_trials": len(history),
            }.items():
                store.set_meta(key, value)
            store.add_pending([TrialSpec(i, [0.5], {}, {}, str(job)) for i in range(len(history))])
            for i, hv in enumerate(history):  # one objective, reference 1: hypervolume = 1 - best error
                store.finish(TrialResult(i, [0.5], {}, TrialStatus.COMPLETE, {"error": 1.0 - hv}))
    return job


def test_summary_of_a_hand_made_sweep(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sweep = tmp_path / "sweep"
    (sweep / ".submitit" / "123").mkdir(parents=True)  # hidden: never a job
    for num, (seed, opt, hist) in enumerate(
        [(0, "sobol", [0.1, 0.3]), (1, "sobol", [0.2, 0.5, 0.6]), (0, "random", [0.1, 0.2]), (1, "random", None)]
    ):
        _fake_job(sweep, num, [f"seed={seed}", f"optimizer={opt}", "search.n_trials=2"], hist, opt)
    (sweep / "10").mkdir()  # an empty directory is no job
    assert [j.num for j in find_jobs(sweep)] == [0, 1, 2, 3]

    MultirunSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    rows = {r["job"]: r for r in _rows(sweep)}
    assert sorted(rows) == ["0", "1", "2"]  # job 3 failed before its first trial: no store, no row
    assert "3" in caplog.text and "no trials.db" in caplog.text
    assert rows["1"]["overrides"] == "seed=1 optimizer=sobol search.n_trials=2"
    assert rows["1"]["run_dir"] == "1" and rows["1"]["seed"] == "1" and rows["1"]["n_trials"] == "3"
    assert float(rows["1"]["final_hv"]) == pytest.approx(0.6)
    assert rows["2"]["optimizer"].endswith("RandomSearch")
    assert (sweep / "hypervolume.png").read_bytes()[:4] == b"\x89PNG"


def test_nested_job_dirs_and_overrides_from_hydra_yaml(tmp_path: Path) -> None:
    """``hydra.sweep.subdir`` may nest (``${optimizer}/${seed}``); without ``overrides.yaml`` the overrides come
    from ``hydra.yaml``."""
    sweep = tmp_path / "sweep"
    job = _fake_job(sweep / "sobol", 7, ["seed=0"], [0.5], "sobol")
    (job / ".hydra" / "overrides.yaml").unlink()
    hydra = {"hydra": {"job": {"num": 7}, "overrides": {"task": ["seed=0", "optimizer=sobol"]}}}
    OmegaConf.save(OmegaConf.create(hydra), job / ".hydra" / "hydra.yaml")
    assert summarize_sweep(sweep) == sweep / "comparison.csv"
    (row,) = _rows(sweep)
    assert (row["job"], row["run_dir"], row["overrides"]) == ("7", "sobol/7", "seed=0 optimizer=sobol")


def test_callback_never_fails_the_sweep(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cb = MultirunSummary()
    cb.on_multirun_end(OmegaConf.create({}))  # no hydra.sweep.dir at all
    cb.on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "nowhere")}}}))
    blocker = tmp_path / "sweep"
    _fake_job(blocker, 0, ["seed=0"], [0.5], "sobol")
    (blocker / "comparison.csv").mkdir()  # cannot be written as a file
    cb.on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(blocker)}}}))
    assert "multirun summary failed" in caplog.text
    assert summarize_sweep(tmp_path / "nowhere") is None


def test_sweep_dir_is_taken_at_multirun_start(tmp_path: Path) -> None:
    """``${now:...}`` in hydra.sweep.dir must resolve to the directory the launcher used, not a later second."""
    sweep = tmp_path / "a"
    _fake_job(sweep, 0, ["seed=0"], [0.5], "sobol")
    cb = MultirunSummary()
    cb.on_multirun_start(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    cb.on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "b")}}}))
    assert len(_rows(sweep)) == 1


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "sweep"
    _fake_job(sweep, 0, ["seed=0"], [0.5], "sobol")
    assert multirun_main([str(sweep)]) == 0
    assert capsys.readouterr().out.strip() == str(sweep / "comparison.csv")
    assert multirun_main([str(tmp_path / "empty")]) == 2
    assert multirun_main([]) == 2


def test_callback_is_registered(make_cfg) -> None:
    cfg = make_cfg(return_hydra_config=True)
    assert cfg.hydra.callbacks.multirun_summary._target_ == "core.search.multirun.MultirunSummary"
