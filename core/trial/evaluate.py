"""One trial: build the data, model and compressors from the trial config, train, compress, measure, cost.

``evaluate_trial`` never raises for a problem with the candidate itself: a crash, a NaN loss or a timeout
becomes a ``failed`` :class:`TrialResult` carrying the message, so the search goes on.
"""

from __future__ import annotations

import logging
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from core.errors import TrialDiverged, TrialTimeout
from core.interfaces import Compressor, DatasetPlugin, HardwareTarget, ModelFactory, SearchLogger
from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.plugins import instantiate
from core.trial.checkpoint import save_float, save_int8
from core.trial.int8 import Int8Model
from core.trial.known_costs import architecture_cost, cost_objectives
from core.trial.training import Alarm, Deadline, LitClassifier, accuracy, alarm, count_parameters, trial_trainer

log = logging.getLogger(__name__)


def quiet_lightning() -> None:
    """Silence Lightning's per-Trainer banners and tips; trials are many and short."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")


def build_compressors(config: DictConfig) -> list[Compressor]:
    """Instantiate ``compressor.<name>`` nodes in config order."""
    nodes = config.get("compressor") or {}
    return [instantiate(node, "compressor", key=f"compressor.{name}") for name, node in nodes.items()]


def evaluate_trial(spec: TrialSpec) -> TrialResult:
    """Train, compress and cost one candidate; never raises for candidate problems."""
    start = time.monotonic()
    timer = Alarm()
    try:
        with alarm(_limit(spec), "trial") as timer:  # the whole trial, data loading included
            status, objectives, metrics, error = _run(spec, start)
    except (TrialTimeout, TrialDiverged) as exc:
        status, objectives, metrics, error = TrialStatus.FAILED, {}, {}, f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        log.debug("trial %d failed:\n%s", spec.trial_id, traceback.format_exc())
        status, objectives, metrics = TrialStatus.FAILED, {}, {}
        # a library may have wrapped the alarm's TrialTimeout in an error of its own
        error = f"TrialTimeout: {timer.fired}" if timer.fired else f"{type(exc).__name__}: {exc}"
    return TrialResult(spec.trial_id, spec.x, spec.params, status, objectives, metrics, error, time.monotonic() - start)


def _limit(spec: TrialSpec) -> float:
    return float((spec.config.get("search") or {}).get("trial_timeout_s") or 0) or float("inf")


def _run(spec: TrialSpec, start: float) -> tuple[TrialStatus, dict[str, float], dict[str, float], str | None]:
    quiet_lightning()
    cfg = OmegaConf.create(spec.config)
    limit = float(cfg.search.trial_timeout_s)
    deadline = Deadline(start + limit, limit)

    dataset: DatasetPlugin = instantiate(cfg.dataset, "dataset")
    factory: ModelFactory = instantiate(cfg.model, "model")
    hw: HardwareTarget = instantiate(cfg.hw, "hw")
    if not bool(cfg.search.get("train_infeasible", False)):
        # the cost depends only on the architecture: a candidate that cannot fit is never trained
        cost = architecture_cost(
            factory.build(dataset.input_shape, dataset.num_classes), build_compressors(cfg), hw, dataset.input_shape
        )
        violations = hw.violations(cost)
        if violations:
            skipped = {f"cost_{k}": float(v) for k, v in cost.details.items()} | {"trained": 0.0}
            why = f"does not fit {hw.name}: " + "; ".join(violations) + " (not trained)"
            return TrialStatus.INFEASIBLE, cost_objectives(cost), skipped, why

    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    dm = dataset.datamodule(batch_size=int(cfg.data.batch_size), seed=int(cfg.seed))
    deadline.check("data loading")
    model = factory.build(dataset.input_shape, dataset.num_classes)
    compressors = build_compressors(cfg)
    logger: SearchLogger = instantiate(cfg.logger, "logger")
    params_before = count_parameters(model)

    lit = LitClassifier(model, cfg.optim.lr, cfg.optim.weight_decay, dataset.input_shape)
    callbacks: list[pl.Callback] = [deadline]
    for c in compressors:
        callbacks.extend(c.callbacks())
    trainer = trial_trainer(cfg.trainer, callbacks, logger.trial_logger(spec.trial_id, spec.run_dir) or False)
    trainer.fit(lit, datamodule=dm)
    model = lit.model.cpu().eval()
    metrics: dict[str, float] = {"float_val_accuracy": accuracy(model, dm.val_dataloader())}
    metrics["params_before"] = float(params_before)
    metrics["trained"] = 1.0

    out_dir = Path(spec.run_dir) / "models" / str(spec.trial_id)
    deployable: torch.nn.Module | None = None  # the float model the int8 graph was made from (the architecture)
    for c in compressors:
        if c.quantizes and deployable is None:
            deployable = _save_float(model, out_dir)
        model = c.apply(model, dm)
        deadline.check(f"compression ({type(c).__name__})")
    if deployable is None:
        deployable = _save_float(model, out_dir)
    metrics["params_after"] = float(_param_count_any(model))

    # The objective is the accuracy of the compressed model, run as is: for an int8 step, the converted int8 graph
    # that core.tflm.export lowers to the .tflite (core.trial.int8), with TFLM's rounding of averages.
    val_acc = accuracy(model, dm.val_dataloader())
    metrics["val_accuracy"] = val_acc
    metrics["test_accuracy"] = accuracy(model, dm.test_dataloader())
    deadline.check("evaluation")

    # the board's cost depends only on the architecture: the cost model lowers the float model as the converter
    # lowers its int8 graph (tests/test_tflm.py checks the two agree op for op)
    cost = hw.cost(deployable, dataset.input_shape)
    metrics.update({f"cost_{k}": float(v) for k, v in cost.details.items()})
    objectives = {"error": 1.0 - val_acc, **cost_objectives(cost)}
    _save_model(model, out_dir, spec, objectives, metrics)
    violations = hw.violations(cost)
    if violations:
        return (
            TrialStatus.INFEASIBLE,
            objectives,
            metrics,
            f"does not fit {hw.name}: " + "; ".join(violations),
        )
    return TrialStatus.COMPLETE, objectives, metrics, None


def _param_count_any(model: torch.nn.Module) -> int:
    """Weight elements of the compressed model: an int8 model's quantized weights (BatchNorm folded), or a float
    model's parameters."""
    if isinstance(model, Int8Model):
        return model.weight_count()
    return sum(p.numel() for p in model.parameters())


def _save_float(model: torch.nn.Module, out: Path) -> torch.nn.Module:
    """Save the (pruned, trained) float model's weights to ``models/<trial>/float_model.pt`` for export
    (:mod:`core.trial.checkpoint`); returns a copy (a later compressor may change the model in place)."""
    import copy

    save_float(model, out)
    return copy.deepcopy(model).eval()


def _save_model(
    model: torch.nn.Module, out: Path, spec: TrialSpec, objectives: dict[str, Any], metrics: dict[str, float]
) -> None:
    """Write the int8 model's state (:func:`core.trial.checkpoint.save_int8`) and a manifest (config included) to
    ``models/<trial>/``; the float model is already there (``float_model.pt``)."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "trial_id": spec.trial_id,
        "params": spec.params,
        "objectives": objectives,
        "metrics": metrics,
        "config": spec.config,
    }
    if isinstance(model, Int8Model):
        manifest["int8"] = save_int8(model, out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
