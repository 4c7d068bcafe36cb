"""quant_qat: int8 quantization-aware training shares the float model's tensors, hands the QAT-trained float model
back to the trial, converts to a real int8 model as accurate as post-training quantization, and falls back to
post-training calibration when QAT never started."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from torch import nn
from torchao.quantization.pt2e import disable_fake_quant, disable_observer, move_exported_model_to_eval

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.trial.checkpoint import load_float, load_int8
from core.trial.deployed_layout import DatasetInput
from core.trial.evaluate import evaluate_trial, quiet_lightning
from core.trial.int8 import Int8Model
from core.trial.int8_quantizer import Int8Scheme
from core.trial.training import LitClassifier, accuracy
from plugins.compressors.prune_structured import StructuredPruning
from plugins.compressors.quant_qat import Int8QuantizationAwareTraining
from plugins.datasets.digits import Digits
from plugins.models.small_cnn import SmallCNN

os.environ.setdefault("WANDB_MODE", "disabled")

QAT_TARGET = "plugins.compressors.quant_qat.Int8QuantizationAwareTraining"


def _quantized(model: nn.Module) -> bool:
    """The int8 model of core.trial.int8: a converted graph with int8 quantize/dequantize ops around every layer."""
    if not isinstance(model, Int8Model):
        return False
    ops = [str(n.target) for n in model.graph.graph.nodes if n.op == "call_function"]
    return sum("quantize_per_tensor" in o for o in ops) >= 3 and any("quantize_per_channel" in o for o in ops)


def _float_only(model: nn.Module) -> bool:
    from torchao.quantization.pt2e import FakeQuantizeBase, ObserverBase

    return not isinstance(model, torch.fx.GraphModule | DatasetInput) and not any(
        isinstance(m, FakeQuantizeBase | ObserverBase | torch.fx.GraphModule) for m in model.modules()
    )


def _fit(
    compressors: list[Any], epochs: int, seed: int = 0, limit_train_batches: float | int = 1.0, extra=()
) -> tuple[LitClassifier, pl.LightningDataModule]:
    """Train SmallCNN on digits with the compressors' callbacks, configured as ``core.trial.evaluate`` does."""
    quiet_lightning()
    pl.seed_everything(seed, workers=True, verbose=False)
    ds = Digits()
    dm = ds.datamodule(batch_size=64, seed=seed)
    lit = LitClassifier(SmallCNN().build(ds.input_shape, ds.num_classes), 0.01, 1e-4, ds.input_shape)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        callbacks=[cb for c in compressors for cb in c.callbacks()] + list(extra),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_train_batches=limit_train_batches,
    )
    trainer.fit(lit, datamodule=dm)
    return lit, dm


# --------------------------------------------------------------------------------------- numerics and sharing
def test_qat_scheme_has_the_numerics_of_quant_int8() -> None:
    """QAT's fake quantizers and post-training's observers: the same dtypes, ranges and schemes, and on a first
    observation the same scales and zero points (TFLite's: int8 -128..127 activations, -127..127 weights)."""
    ptq, qat = Int8Scheme().specs(), Int8Scheme(qat=True).specs()
    w = torch.randn(8, 4, 3, 3)
    a = torch.randn(16, 4, 5, 5) * 3 + 1
    for p_spec, q_spec, x in ((ptq[1], qat[1], w), (ptq[0], qat[0], a)):
        assert (p_spec.dtype, p_spec.quant_min, p_spec.quant_max, p_spec.qscheme, p_spec.ch_axis) == (
            q_spec.dtype, q_spec.quant_min, q_spec.quant_max, q_spec.qscheme, q_spec.ch_axis,
        )  # fmt: skip
        kwargs = {"dtype": p_spec.dtype, "quant_min": p_spec.quant_min, "quant_max": p_spec.quant_max}
        kwargs |= {"qscheme": p_spec.qscheme} | ({"ch_axis": p_spec.ch_axis} if p_spec.ch_axis is not None else {})
        observer, fake = p_spec.observer_or_fake_quant_ctr(**kwargs), q_spec.observer_or_fake_quant_ctr(**kwargs)
        observer(x)
        fake(x)  # the first observation of a moving average is the batch's own min/max
        scale, zero = observer.calculate_qparams()
        assert torch.allclose(fake.scale, scale) and torch.equal(fake.zero_point, zero.to(fake.zero_point.dtype))
    assert (ptq[0].dtype, ptq[0].quant_min, ptq[0].quant_max) == (torch.int8, -128, 127)
    assert (ptq[1].quant_min, ptq[1].quant_max, ptq[1].qscheme) == (-127, 127, torch.per_channel_symmetric)


def test_prepare_shares_the_float_models_parameters_and_bn_buffers() -> None:
    """What the callback relies on for a 2-D model: training the QAT graph trains the float model's own tensors."""
    model = SmallCNN().build((1, 8, 8), 10)
    qat = Int8QuantizationAwareTraining()
    trained = qat.prepare(model, torch.zeros(1, 1, 8, 8))
    assert qat.shares_tensors and trained.graph is qat.prepared
    assert {id(p) for p in qat.prepared.parameters()} == {id(p) for p in model.parameters()}
    bn = model[1]

    # one optimizer step over the float model's parameters, through the fake-quantized forward
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    mean_before = bn.running_mean.clone()
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    nn.functional.cross_entropy(trained.train()(x), y).backward()
    assert all(p.grad is not None for p in model.parameters())  # straight-through gradients reach every weight
    opt.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    qat.restore_float()
    assert not torch.equal(mean_before, bn.running_mean)  # BN statistics reach the float model too
    torch.save(model, io.BytesIO())  # the float model stays a plain, picklable module


def test_a_one_d_model_trains_as_two_d_and_gets_the_trained_weights_back() -> None:
    """A 1-D model's QAT graph is its 2-D form (copies): the graph trains, and restore_float copies it back."""
    model = nn.Sequential(
        nn.Conv1d(3, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        nn.Linear(8, 4),
    )  # fmt: skip
    qat = Int8QuantizationAwareTraining()
    trained = qat.prepare(model, torch.zeros(1, 3, 40))
    assert not qat.shares_tensors
    opt = torch.optim.SGD(trained.parameters(), lr=0.5)
    x, y = torch.randn(32, 3, 40), torch.randint(0, 4, (32,))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(trained.train()(x), y).backward()
        opt.step()
    qat.restore_float()
    plain = copy.deepcopy(qat.prepared)  # a copy's train()/eval() switch only flags: move it to eval explicitly
    move_exported_model_to_eval(plain)
    plain.apply(disable_fake_quant)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), DatasetInput(plain, (3, 40))(x), atol=1e-4, rtol=1e-4)
    assert _quantized(qat.apply(model, None))  # type: ignore[arg-type]


def test_default_start_comes_after_the_default_pruning_schedules() -> None:
    """Pruning cannot edit a QAT model: by default QAT starts no earlier than either pruner's last step."""
    from plugins.compressors.prune_agp import AutomatedGradualPruning

    for epochs in range(1, 120):
        qat = Int8QuantizationAwareTraining().start_epoch(epochs)
        assert qat >= AutomatedGradualPruning().window(epochs)[1]
        assert qat >= min(round(0.5 * epochs), epochs - 1)  # prune_structured's default at_epoch_fraction


def test_start_epoch_clamps_to_the_last_epoch() -> None:
    assert Int8QuantizationAwareTraining().start_epoch(3) == 2
    assert Int8QuantizationAwareTraining().start_epoch(8) == 6
    assert Int8QuantizationAwareTraining().start_epoch(1) == 0
    assert Int8QuantizationAwareTraining(start_fraction=1.0).start_epoch(5) == 4
    assert Int8QuantizationAwareTraining(start_fraction=0.0).start_epoch(5) == 0
    with pytest.raises(ValueError, match="start_fraction"):
        Int8QuantizationAwareTraining(start_fraction=1.5)
    with pytest.raises(ValueError, match="weight_averaging"):
        Int8QuantizationAwareTraining(weight_averaging=0.0)


# --------------------------------------------------------------------------------------- training with QAT
@pytest.fixture(scope="module")
def fitted() -> tuple[Int8QuantizationAwareTraining, LitClassifier, pl.LightningDataModule]:
    qat = Int8QuantizationAwareTraining(start_fraction=0.34, freeze_epochs=1)
    lit, dm = _fit([qat], epochs=3)
    return qat, lit, dm


def test_qat_restores_the_trained_float_model_and_converts_it(fitted) -> None:
    qat, lit, dm = fitted
    assert qat.started_epoch == 1 and qat.frozen  # QAT from epoch 1 of 3, ranges and BN frozen for the last one
    model = lit.model.cpu().eval()
    assert model is qat.float_model and _float_only(model)
    loaded = torch.load(io.BytesIO(_saved(model)), weights_only=False)
    assert _float_only(loaded)

    # the float model is the QAT-trained network: the QAT graph without its fake quantization
    plain = copy.deepcopy(qat.prepared).cpu()
    move_exported_model_to_eval(plain)
    plain.apply(disable_fake_quant)
    plain.apply(disable_observer)
    plain = DatasetInput(plain, (1, 8, 8))
    x = torch.cat([b for b, _ in dm.val_dataloader()])
    with torch.no_grad():
        assert torch.allclose(model(x), plain(x), atol=1e-4, rtol=1e-4)
        assert torch.allclose(loaded(x), plain(x), atol=1e-4, rtol=1e-4)

    # the int8 model computes what QAT trained: the fake-quantized graph
    fake = copy.deepcopy(qat.prepared).cpu()
    move_exported_model_to_eval(fake)
    fake.apply(disable_observer)
    fake = DatasetInput(fake, (1, 8, 8))
    int8 = qat.apply(model, dm)
    assert _quantized(int8)
    with torch.no_grad():
        agree = (int8(x).argmax(1) == fake(x).argmax(1)).float().mean().item()
    assert agree >= 0.98
    float_acc, int8_acc = accuracy(model, dm.val_dataloader()), accuracy(int8, dm.val_dataloader())
    print(f"\n3 epochs, QAT from epoch 1: float {float_acc:.4f}, int8 {int8_acc:.4f}")
    assert float_acc > 0.9 and int8_acc >= float_acc - 0.02
    assert _quantized(qat.apply(model, dm))  # apply converts a copy: it can run again


def test_validation_does_not_move_the_quantization_ranges(fitted) -> None:
    qat, _, _ = fitted
    cb = qat.callbacks()[0]
    qat.frozen = False
    try:
        cb.on_validation_start(None, None)  # type: ignore[arg-type]
        assert all(int(m.observer_enabled) == 0 for m in _fake_quants(qat.prepared))
        cb.on_validation_end(None, None)  # type: ignore[arg-type]
        assert all(int(m.observer_enabled) == 1 for m in _fake_quants(qat.prepared))
    finally:
        qat.prepared.apply(disable_observer)  # as it was (frozen)
        qat.frozen = True


def test_one_epoch_runs_qat_from_epoch_zero() -> None:
    qat = Int8QuantizationAwareTraining()
    lit, dm = _fit([qat], epochs=1, limit_train_batches=4)
    assert qat.started_epoch == 0 and lit.model is qat.float_model
    assert _quantized(qat.apply(lit.model.cpu().eval(), dm))


def test_qat_never_started_falls_back_to_post_training_calibration(caplog) -> None:
    class StopAfterFirstEpoch(pl.Callback):
        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            trainer.should_stop = True

    qat = Int8QuantizationAwareTraining(start_fraction=1.0)
    lit, dm = _fit([qat], epochs=3, limit_train_batches=4, extra=[StopAfterFirstEpoch()])
    assert qat.prepared is None and _float_only(lit.model)
    with caplog.at_level(logging.WARNING, logger="plugins.compressors.quant_qat"):
        int8 = qat.apply(lit.model.cpu().eval(), dm)
    assert "never started" in caplog.text and _quantized(int8)


def test_a_model_changed_after_qat_started_is_an_error() -> None:
    qat = Int8QuantizationAwareTraining()
    lit, dm = _fit([qat], epochs=1, limit_train_batches=2)
    model = lit.model.cpu().eval()
    with pytest.raises(RuntimeError, match="different model"):
        qat.apply(copy.deepcopy(model), dm)
    StructuredPruning(sparsity=0.5).prune(model, torch.zeros(1, 1, 8, 8))
    with pytest.raises(RuntimeError, match="start_fraction"):
        qat.apply(model, dm)


# --------------------------------------------------------------------------------------- real trials
def _saved(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save(model, buf)
    return buf.getvalue()


def _fake_quants(model: nn.Module) -> list[Any]:
    from torchao.quantization.pt2e import FakeQuantizeBase

    return [m for m in model.modules() if isinstance(m, FakeQuantizeBase)]


def _trial(make_cfg: Any, run_dir: Path, compressors: str, *overrides: str) -> TrialResult:
    cfg = make_cfg(f"compressor=[{compressors}]", "trainer.max_epochs=3", "seed=0", "logger=none", *overrides)
    spec = TrialSpec(0, [0.5], {}, OmegaConf.to_container(cfg, resolve=True), str(run_dir))
    return evaluate_trial(spec)


@pytest.fixture(scope="module")
def trials(make_cfg, tmp_path_factory) -> dict[str, Any]:
    """The same 3-epoch trial (seed 0, pruning at epoch 2) with post-training int8 and with QAT from epoch 2."""
    captured: list[nn.Module] = []
    apply = Int8QuantizationAwareTraining.apply

    def spy(self: Int8QuantizationAwareTraining, model: nn.Module, datamodule: Any) -> nn.Module:
        captured.append(out := apply(self, model, datamodule))
        return out

    out: dict[str, Any] = {}
    out["ptq_dir"] = tmp_path_factory.mktemp("ptq")
    out["ptq"] = _trial(make_cfg, out["ptq_dir"], "prune_structured,quant_int8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Int8QuantizationAwareTraining, "apply", spy)
        out["qat_dir"] = tmp_path_factory.mktemp("qat")
        out["qat"] = _trial(make_cfg, out["qat_dir"], "prune_structured,quant_qat")
    out["qat_int8"] = captured
    return out


@pytest.mark.slow
def test_qat_trial_is_at_least_as_accurate_as_post_training_int8(trials) -> None:
    ptq, qat = trials["ptq"], trials["qat"]
    assert ptq.status == TrialStatus.COMPLETE, ptq.error
    assert qat.status == TrialStatus.COMPLETE, qat.error
    p, q = ptq.metrics["val_accuracy"], qat.metrics["val_accuracy"]
    print(
        f"\nint8 val accuracy, 3 epochs, pruned: post-training {p:.4f} (float {ptq.metrics['float_val_accuracy']:.4f})"
        f", QAT {q:.4f} (float {qat.metrics['float_val_accuracy']:.4f})"
    )
    assert q >= p - 0.01
    assert qat.metrics["params_after"] < qat.metrics["params_before"]  # pruned before QAT
    # the objective is measured on a real int8 model
    (int8,) = trials["qat_int8"]
    assert _quantized(int8)
    # the deployable float model is a plain float module, the pruned QAT-trained network
    out = trials["qat_dir"] / "models" / "0"
    float_model = load_float(out, json.loads((out / "manifest.json").read_text())["config"])
    assert _float_only(float_model)
    assert sum(p.numel() for p in float_model.parameters()) < qat.metrics["params_before"]
    ds = Digits()
    dm = ds.datamodule(batch_size=64, seed=0)
    assert accuracy(float_model, dm.val_dataloader()) == pytest.approx(qat.metrics["float_val_accuracy"])
    # the int8 model saved with the trial is the one it scored: rebuilt from disk, the same accuracy exactly
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["int8"]["qat"] is True
    rebuilt = load_int8(out, manifest["config"], manifest["int8"])
    assert accuracy(rebuilt, dm.val_dataloader()) == qat.metrics["val_accuracy"]
    x = torch.cat([b for b, _ in dm.val_dataloader()])
    with torch.no_grad():
        assert torch.equal(rebuilt(x), int8(x))


@pytest.mark.slow
def test_pruning_after_qat_started_fails_the_trial(make_cfg, tmp_path) -> None:
    result = _trial(
        make_cfg,
        tmp_path,
        "prune_structured,quant_qat",
        "compressor.quant.start_fraction=0.0",
        "compressor.prune.at_epoch_fraction=1.0",
        "trainer.limit_train_batches=2",
    )
    assert result.status == TrialStatus.FAILED


@pytest.mark.slow
def test_qat_trial_exports_to_tflm_with_the_torch_int8_accuracy(trials) -> None:
    pytest.importorskip("litert_torch")
    pytest.importorskip("tflite_micro")
    from core.tflm.export import export_trial

    assert trials["qat"].status == TrialStatus.COMPLETE, trials["qat"].error
    record = export_trial(trials["qat_dir"], 0)
    tflm, torch_int8 = record["tflm_test_accuracy"], record["pytorch_int8_test_accuracy"]
    print(
        f"\nQAT trial test accuracy: TFLite-Micro int8 {tflm:.4f}, PyTorch int8 {torch_int8:.4f}, same prediction "
        f"on {record['prediction_agreement']:.4f}"
    )
    # the .tflite is the graph the trial scored, QAT's ranges included
    assert torch_int8 == trials["qat"].metrics["test_accuracy"] and "quantization-aware" in record["quantized_by"]
    assert record["prediction_agreement"] >= 0.99 and abs(tflm - torch_int8) <= 0.005
