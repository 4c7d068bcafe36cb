"""The command line as a user runs it: end-to-end output files, bad-input messages, and multirun sweeps."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def test_end_to_end_four_trials(tmp_path) -> None:
    run_dir = tmp_path / "run"
    proc = run_cli("search.n_trials=4", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    assert "Pareto front on stm32f4" in proc.stdout and "hypervolume" in proc.stdout

    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert [int(r["trial_id"]) for r in rows] == [0, 1, 2, 3]
    for r in rows:
        assert r["status"] in ("complete", "infeasible", "failed")
        for key in ("model.depth", "model.width", "trainer.lr", "compressor.prune.sparsity"):
            assert r[key] != ""
        if r["status"] != "failed":
            assert 0.0 <= float(r["error"]) <= 1.0
            assert float(r["flash"]) > 0 and float(r["ram"]) > 0 and float(r["macs"]) > 0
            assert (run_dir / "models" / r["trial_id"] / "model.pt").is_file()

    summary = json.loads((run_dir / "summary.json").read_text())
    pareto = list(csv.DictReader((run_dir / "pareto.csv").open()))
    assert summary["counts"]["total"] == 4 and summary["n_trials"] == 4
    assert summary["objectives"] == ["error", "flash", "ram", "macs"]
    assert summary["reference_point"]["flash"] == 512 * 1024 - 80 * 1024
    assert summary["pareto_size"] == len(pareto) >= 1
    assert {int(r["trial_id"]) for r in pareto} == set(summary["pareto_trial_ids"])
    assert all(r["pareto"] == "True" for r in pareto)
    # the summary's hypervolume is reproducible from trials.csv alone
    done = [r for r in rows if r["status"] == "complete"]
    ref = summary["reference_point"]
    y = np.array([[float(r[k]) / ref[k] for k in summary["objectives"]] for r in done])
    from core.pareto import hypervolume

    assert summary["hypervolume"] == pytest.approx(hypervolume(y, [1.0] * 4))
    assert summary["wall_time_s"] > 0
    for png in ("pareto.png", "hypervolume.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run_dir / ".hydra" / "config.yaml").is_file()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["hw=nosuch"], ["Config key 'hw': unknown option 'nosuch'", "Valid choices: esp32, esp32s3, nrf52840"]),
        (["optimizer=bayes"], ["Config key 'optimizer': unknown option 'bayes'", "random", "sobol"]),
        (["search_space.params.lr.low=1.0"], ["Config key 'search_space.params.lr': low (1.0) must be smaller"]),
        (["search_space.params.depth.type=integer"], ["search_space.params.depth.type", "Valid choices: categorical"]),
        (["dataset=array_file", "dataset.path=/nonexistent/data.npz"],
         ["Config key 'dataset.path': '/nonexistent/data.npz' does not exist", "numpy.savez"]),
        (["optimizer._target_=os.system"], ["Config key 'optimizer._target_'", "not a registered",
                                            "plugins.optimizers.sobol.SobolSearch"]),
        (["search.objectives=[error,energy]"], ["Config key 'search.objectives'", "Valid choices: error, flash"]),
        (["search.n_trials=0"], ["Config key 'search.n_trials': must be an integer >= 1"]),
        (["search.n_trials=abc"], ["Config key 'search.n_trials': must be an integer >= 1, got 'abc' (str)"]),
        (["search.n_trials=2.5"], ["Config key 'search.n_trials': must be an integer >= 1, got 2.5 (float)"]),
        (["seed=abc"], ["Config key 'seed': must be an integer >= 0, got 'abc'"]),
        (["search.batch_size=abc"], ["Config key 'search.batch_size': must be an integer >= 1"]),
        (["trainer.max_epochs=1.5"], ["Config key 'trainer.max_epochs': must be an integer >= 1"]),
        (["hw.core=z80"], ["Config key 'hw.core': unknown CPU core 'z80'", "Valid choices: cortex-m0", "xtensa-lx6"]),
        (["hw.flash_bytes=lots"], ["Config key 'hw.flash_bytes': must be an integer >= 1, got 'lots'"]),
        (["hw.clock_hz=-5"], ["Config key 'hw.clock_hz': must be a number > 0, got -5"]),
    ],
)  # fmt: skip
def test_bad_input_gives_one_paragraph(tmp_path, args, fragments) -> None:
    proc = run_cli(*args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err
    message = [line for line in err.splitlines() if line.startswith("tinymoo: error:")]
    assert len(message) == 1, err
    for fragment in fragments:
        assert fragment in message[0]


def test_corrupt_dataset_file(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    proc = run_cli("dataset=array_file", f"dataset.path={bad}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert "is not a readable .npz file" in proc.stderr and "Traceback" not in proc.stderr


def test_verbose_shows_traceback(tmp_path) -> None:
    proc = run_cli("search_space.params.lr.low=1.0", "hydra.verbose=true", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr


def test_own_data_from_array_file(tmp_path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    x = rng.normal(size=(120, 2, 64)).astype(np.float32) + y[:, None, None]  # separable 1-D series
    np.savez(tmp_path / "series.npz", x=x, y=y)
    proc = run_cli(
        "dataset=array_file", f"dataset.path={tmp_path / 'series.npz'}", "model.conv_dim=1",
        "search.n_trials=2", "search.progress=false", f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["counts"]["complete"] + summary["counts"]["infeasible"] == 2


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_multirun_sweep(tmp_path, launcher) -> None:
    extra = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"] if launcher == "joblib" else []
    proc = run_cli(
        "-m", "seed=0,1", "optimizer=sobol,random", "search.n_trials=2", "search.progress=false", "logger=none",
        "~search_space.params.epochs", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}", *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summaries = [json.loads((tmp_path / str(i) / "summary.json").read_text()) for i in range(4)]
    assert sorted((s["seed"], s["optimizer"].rsplit(".", 1)[-1]) for s in summaries) == [
        (0, "RandomSearch"), (0, "SobolSearch"), (1, "RandomSearch"), (1, "SobolSearch"),
    ]  # fmt: skip
    assert all(s["counts"]["total"] == 2 for s in summaries)
