"""The experiment presets end to end through the CLI: the paper's two workloads on fixture files in the real
CIFAR-10 and DaLiAc formats (with epochs pinned from the command line), and the time-series quickstart."""

from __future__ import annotations

import csv
import json

import pytest

from core.run import pin_overridden_params
from tests.conftest import run_cli
from tests.dataset_fixtures import write_cifar10_fixture, write_daliac_fixture


def _trials(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "trials.csv") as f:
        return list(csv.DictReader(f))


def test_paper_experiments_compose_with_the_papers_settings(make_cfg) -> None:
    for name, model, dataset in (
        ("paper_cifar10_resnet18", "ResNet", "Cifar10"),
        ("paper_daliac_mobilenetv3", "MobileNetV3", "DaLiAc"),
    ):
        cfg = make_cfg(f"experiment={name}")
        assert cfg.model._target_.endswith(model) and cfg.dataset._target_.endswith(dataset)
        assert cfg.hw.name == "nrf52840" and cfg.search.n_trials == 150
        assert list(cfg.search.objectives) == ["error", "flash", "ram", "macs"]
        assert cfg.search.reference.flash == 1000 * 1024 and cfg.search.reference.ram == 256 * 1024
        assert cfg.search.reference.macs == 5e8  # 1e9 FLOPs
        assert cfg.optimizer._target_.endswith("MoboArs")
        assert list(cfg.compressor) == ["prune", "quant"] and cfg.compressor.prune._target_.endswith("Pruning")
        paths = {p.path for p in cfg.search_space.params.values()}
        assert {"trainer.max_epochs", "compressor.prune.final_sparsity", "optim.lr", "model.width_multiplier",
                "compressor.prune.start_epoch"} <= paths  # fmt: skip


def test_a_command_line_value_pins_a_searched_key(make_cfg) -> None:
    cfg = make_cfg("experiment=paper_cifar10_resnet18", "trainer.max_epochs=1")
    notes = pin_overridden_params(cfg, ["experiment=paper_cifar10_resnet18", "trainer.max_epochs=1"])
    assert "epochs" not in cfg.search_space.params and cfg.trainer.max_epochs == 1
    assert notes == ["search_space.params.epochs is not searched: the command line sets trainer.max_epochs"]


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["cifar10", "daliac"])
def test_paper_experiment_runs_end_to_end_on_fixture_data(tmp_path, workload) -> None:
    if workload == "cifar10":
        root, experiment = write_cifar10_fixture(tmp_path / "data"), "paper_cifar10_resnet18"
    else:  # windows of 1024 samples, as the paper: 1600 rows per activity and subject give 64 windows, 13 classes
        root, experiment = write_daliac_fixture(tmp_path / "data", rows_per_activity=1600), "paper_daliac_mobilenetv3"
    out = tmp_path / "run"
    proc = run_cli(
        f"experiment={experiment}",
        "search.n_trials=2",
        "trainer.max_epochs=1",
        f"dataset.root={root}",
        f"hydra.run.dir={out}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "search_space.params.epochs is not searched" in proc.stderr
    trials = _trials(out)
    assert len(trials) == 2 and all(t["status"] in ("complete", "infeasible") for t in trials), trials
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hypervolume"] > 0
    manifest = json.loads((out / "models" / "0" / "manifest.json").read_text())
    assert manifest["config"]["hw"]["name"] == "nrf52840"
    assert manifest["metrics"]["params_after"] < manifest["metrics"]["params_before"]  # AGP removed filters


@pytest.mark.slow
def test_time_series_quickstart_runs(tmp_path) -> None:
    out = tmp_path / "run"
    proc = run_cli(
        "experiment=quickstart_timeseries", "search.n_trials=3", "trainer.max_epochs=8", f"hydra.run.dir={out}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = _trials(out)
    assert len(trials) == 3
    manifest = json.loads((out / "models" / "0" / "manifest.json").read_text())
    assert manifest["config"]["hw"]["name"] == "esp32" and manifest["config"]["model"]["conv_dim"] == 1
