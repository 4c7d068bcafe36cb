"""One real trial on digits: train, prune, int8; failures (exception, NaN loss, timeout) become failed results."""

from __future__ import annotations

import signal
import time

import pytest
from omegaconf import OmegaConf

from core.errors import ConfigError, TrialTimeout
from core.interfaces.trial import TrialSpec, TrialStatus
from core.search.loop import Search
from core.trial.evaluate import evaluate_trial
from core.trial.training import alarm
from plugins.datasets.digits import Digits


def _spec(cfg, tmp_path, **overrides) -> TrialSpec:
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return TrialSpec(0, [0.5], dict(overrides), OmegaConf.to_container(cfg, resolve=True), str(tmp_path))


def test_int8_accuracy_close_to_float_and_pruned(make_cfg, tmp_path) -> None:
    cfg = make_cfg("model.depth=2", "model.width=16", "trainer.max_epochs=8", "compressor.prune.sparsity=0.25")
    result = evaluate_trial(_spec(cfg, tmp_path))
    assert result.status == TrialStatus.COMPLETE, result.error
    m = result.metrics
    assert m["float_val_accuracy"] > 0.9
    # the objective is the accuracy of the int8 model, within a few points of float
    assert abs(m["val_accuracy"] - m["float_val_accuracy"]) < 0.03
    assert result.objectives["error"] == 1.0 - m["val_accuracy"]
    assert m["params_after"] < m["params_before"]  # channels were really removed
    assert result.objectives["flash"] > 0 and result.objectives["ram"] > 0 and result.objectives["macs"] > 0
    assert (tmp_path / "logs" / "trial_0" / "metrics.csv").is_file()


def test_the_saved_int8_model_is_the_scored_one(make_cfg, tmp_path) -> None:
    """What core.tflm.export converts: the int8 graph rebuilt from the trial's files (no second calibration) has the
    accuracy the trial scored, exactly, and the same outputs."""
    import json

    from core.interfaces import DatasetPlugin
    from core.plugins import instantiate
    from core.trial.checkpoint import load_int8
    from core.trial.training import accuracy

    cfg = make_cfg("model.depth=2", "model.width=8", "trainer.max_epochs=3")
    result = evaluate_trial(_spec(cfg, tmp_path))
    assert result.status == TrialStatus.COMPLETE, result.error
    out = tmp_path / "models" / "0"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["int8"] == {
        "qat": False,
        "observer": "minmax",
        "activation_averaging": 0.01,
        "weight_averaging": 1.0,
    }
    model = load_int8(out, manifest["config"], manifest["int8"])
    dataset: DatasetPlugin = instantiate(manifest["config"]["dataset"], "dataset")
    dm = dataset.datamodule(batch_size=64, seed=int(manifest["config"]["seed"]))
    assert accuracy(model, dm.val_dataloader()) == result.metrics["val_accuracy"]
    assert accuracy(model, dm.test_dataloader()) == result.metrics["test_accuracy"]


def test_exception_becomes_failed_result(make_cfg, tmp_path) -> None:
    result = evaluate_trial(_spec(make_cfg(), tmp_path, **{"model.kernel_size": 4}))
    assert result.status == TrialStatus.FAILED
    assert "kernel_size must be odd" in result.error


def test_nan_loss_becomes_failed_result(make_cfg, tmp_path) -> None:
    result = evaluate_trial(_spec(make_cfg(), tmp_path, **{"optim.lr": 1e30}))
    assert result.status == TrialStatus.FAILED
    assert result.error.startswith("TrialDiverged: training loss became")


def test_timeout_becomes_failed_result(make_cfg, tmp_path) -> None:
    result = evaluate_trial(_spec(make_cfg(), tmp_path, **{"search.trial_timeout_s": 0.05, "trainer.max_epochs": 50}))
    assert result.status == TrialStatus.FAILED
    assert "TrialTimeout: trial exceeded search.trial_timeout_s=0.05 s" in result.error
    assert result.duration_s < 30


@pytest.fixture
def slow_data(monkeypatch) -> None:
    """The digits plugin with a data loader that takes 30 s (a stuck network share, a huge file)."""
    real = Digits.datamodule

    def sleepy(self, batch_size: int, seed: int):
        time.sleep(30)
        return real(self, batch_size, seed)

    monkeypatch.setattr(Digits, "datamodule", sleepy)


def test_the_timeout_bounds_the_whole_trial_data_loading_included(make_cfg, tmp_path, slow_data) -> None:
    start = time.monotonic()
    result = evaluate_trial(_spec(make_cfg(), tmp_path, **{"search.trial_timeout_s": 1.0}))
    assert time.monotonic() - start < 10  # not the loader's 30 s
    assert result.status == TrialStatus.FAILED
    assert "TrialTimeout: trial exceeded search.trial_timeout_s=1 s" in result.error and "sleepy" in result.error


def test_data_slower_than_the_trial_timeout_is_refused_before_the_first_trial(make_cfg, tmp_path, slow_data) -> None:
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"search\.trial_timeout_s.*loading the data alone takes longer"):
        Search(make_cfg("search.trial_timeout_s=1", "search.progress=false"), tmp_path)
    assert time.monotonic() - start < 10


def test_the_alarm_restores_an_outer_timer_and_handler() -> None:
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(time.monotonic()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.5)
        start = time.monotonic()
        with pytest.raises(TrialTimeout, match=r"inner exceeded search.trial_timeout_s=0.2 s"), alarm(0.2, "inner"):
            time.sleep(5)
        assert time.monotonic() - start < 1.0
        time.sleep(2.0)  # the outer timer still fires, at about its original time
        assert len(fired) == 1 and 1.2 < fired[0] - start < 2.0
        with alarm(float("inf")):  # no limit: nothing is armed
            assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_layer_the_board_cannot_cost_is_refused_before_the_first_trial(make_cfg, tmp_path, monkeypatch) -> None:
    """SiLU has no int8 TFLite-Micro lowering: one error at start-up, not one failed trial per candidate."""
    from torch import nn

    from plugins.models.small_cnn import SmallCNN

    real = SmallCNN.build
    monkeypatch.setattr(SmallCNN, "build", lambda self, shape, n: nn.Sequential(nn.SiLU(), real(self, shape, n)))
    with pytest.raises(ConfigError, match=r"Config key 'model': TflmTarget \(stm32f4\) cannot cost this model.*SiLU"):
        Search(make_cfg("search.progress=false"), tmp_path)
    assert not (tmp_path / "trials.db").exists()


def test_board_too_small_is_infeasible_and_never_trained(make_cfg, tmp_path) -> None:
    cfg = make_cfg("hw.sram_bytes=16500", "hw.reserved_sram_bytes=16384", "trainer.max_epochs=1")
    result = evaluate_trial(_spec(cfg, tmp_path))
    assert result.status == TrialStatus.INFEASIBLE
    assert "does not fit stm32f4: SRAM" in result.error and "(not trained)" in result.error
    assert result.objectives["ram"] > 116
    assert "error" not in result.objectives and result.metrics["trained"] == 0.0
    assert not (tmp_path / "models" / "0").exists() and not (tmp_path / "logs").exists()


def test_train_infeasible_trains_and_measures_anyway(make_cfg, tmp_path) -> None:
    cfg = make_cfg(
        "hw.sram_bytes=16500", "hw.reserved_sram_bytes=16384", "trainer.max_epochs=1", "search.train_infeasible=true"
    )
    result = evaluate_trial(_spec(cfg, tmp_path))
    assert result.status == TrialStatus.INFEASIBLE
    assert "(not trained)" not in result.error
    assert 0.0 <= result.objectives["error"] <= 1.0 and result.metrics["trained"] == 1.0
