"""The command line as a user runs it: end-to-end output files, bad-input messages, and multirun sweeps."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, run_cli

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
        for key in ("model.depth", "model.width", "optim.lr", "compressor.prune.sparsity"):
            assert r[key] != ""
        if r["status"] != "failed":
            assert 0.0 <= float(r["error"]) <= 1.0
            assert float(r["flash"]) > 0 and float(r["ram"]) > 0 and float(r["macs"]) > 0
            out = run_dir / "models" / r["trial_id"]
            assert (out / "float_model.pt").is_file() and (out / "int8_state.pt").is_file()

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
    from core.search.pareto import hypervolume

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
        (["serach.n_trials=3"], ["Config key 'serach.n_trials': does not exist", "Did you mean 'search.n_trials'?",
                                 "Valid choices: agent, compressor"]),
        (["sead=1"], ["Config key 'sead': does not exist", "Did you mean 'seed'?"]),
        (["+search.n_trail=5"], ["Config key 'search.n_trail': '+' adds a key that tinymoo never reads under 'search'",
                                 "Did you mean 'search.n_trials'?", "search.n_trials, search.objectives"]),
        (["-m", "serach.n_trials=3,4"], ["Config key 'serach.n_trials': does not exist"]),
        (["+trainer.accumulate_grad_batch=2"], ["Config key 'trainer.accumulate_grad_batch': is not an argument",
                                               "Did you mean trainer.accumulate_grad_batches?"]),
        (["optim.lr=fast"], ["Config key 'optim.lr': must be a number > 0, got 'fast' (str)"]),
        (["model.conv_dim=1"], ["Config key 'model': SmallCNN fails on the dataset's input of shape (1, 8, 8)",
                                "conv_dim=1 needs inputs of rank 2", "model.conv_dim: 2 for images"]),
        (["+search_space.params.board.path=hw._target_", "+search_space.params.board.type=categorical",
          "+search_space.params.board.choices=[os.system]"],
         ["Config key 'search_space.params.board.path': 'hw._target_' cannot be searched"]),
        (["search.trial_timeout_s=0"], ["Config key 'search.trial_timeout_s': must be a positive number, got 0"]),
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


@pytest.mark.parametrize(
    "arg",
    [
        "search.n_trials=0",
        "optim.lr=fast",
        "trainer.limit_train_batches=0",
        "search_space.params.lr.low=1.0",
        "search_space.params.depth.type=integer",
        "search.objectives=[error,energy]",
        "search.trial_timeout_s=0",
        "search.schedule=sometimes",
        "search.lookahead=maybe",
    ],
)
def test_bad_plain_input_is_refused_before_torch_loads(tmp_path, arg) -> None:
    """The plain values (numbers, objective names, the search space, the schedule) are checked before torch,
    Lightning and BoTorch are imported: about a second, not ten."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['core.run', {arg!r}, 'hydra.run.dir={tmp_path / 'run'}']\n"
        "try:\n    runpy.run_module('core.run', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, [m for m in ('torch', 'pytorch_lightning', 'botorch') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "2 []", proc.stdout + proc.stderr
    named = proc.stderr.split("Config key '", 1)[-1].split("'", 1)[0]  # the key, or the parameter a bound belongs to
    assert named and arg.split("=")[0].startswith(named), proc.stderr


@pytest.mark.parametrize(
    ("x_fix", "y_fix", "fragment"),
    [
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, x), None, "1 NaN or infinite value"),
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 9, np.inf, x), None, "1 NaN or infinite value"),
        (None, lambda y: np.zeros_like(y), "every sample has the label [0]"),
        (lambda x: x[:3], lambda y: y[:3], "the data holds 3 samples; at least 10"),
    ],
    ids=["nan", "inf", "one-class", "three-samples"],
)
def test_data_no_search_can_learn_from_is_refused_before_training(tmp_path, x_fix, y_fix, fragment) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3, 16)).astype(np.float32), np.arange(60) % 3
    path = tmp_path / "data.npz"
    np.savez(path, x=x_fix(x) if x_fix else x, y=y_fix(y) if y_fix else y)
    proc = run_cli(
        "dataset=array_file", f"dataset.path={path}", "model.conv_dim=1", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and fragment in proc.stderr and "Config key 'dataset'" in proc.stderr
    assert not (tmp_path / "run" / "trials.db").exists()  # refused before the first trial


def test_a_refused_sweep_job_is_recorded_and_the_others_run(tmp_path) -> None:
    proc = run_cli(
        "-m", "search.n_trials=1,0", "optimizer=sobol", "search.progress=false", "logger=none",
        "~search_space.params.epochs", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "1 sweep job(s) were refused, the others ran" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads((tmp_path / "0" / "summary.json").read_text())["counts"]["total"] == 1
    assert "must be an integer >= 1" in (tmp_path / "1" / "error.txt").read_text()
    rows = list(csv.DictReader((tmp_path / "comparison.csv").open()))
    assert [r["job"] for r in rows] == ["0", "1"]
    assert rows[0]["error"] == "" and rows[0]["final_hv"] != ""
    assert "search.n_trials" in rows[1]["error"] and rows[1]["overrides"].startswith("search.n_trials=0")


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
