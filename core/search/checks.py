"""The checks a search makes before its first trial, so bad input is one paragraph, not a failed trial each.

The trainer settings every trial reads (its plain numbers: :mod:`core.search.config_values`), the reference point,
and a dry run of the data, the model and the board's cost model.
"""

from __future__ import annotations

import difflib
import inspect

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from core.errors import ConfigError, DatasetError, TinymooError
from core.interfaces import DatasetPlugin, HardwareTarget, ModelFactory
from core.plugins import instantiate
from core.search.space import SearchSpace
from core.trial.training import TRIAL_TRAINER_ARGS, Alarm, alarm


def check_trainer(cfg: DictConfig) -> None:
    """The keys of ``trainer``, checked once before the first trial: it goes to ``pytorch_lightning.Trainer`` as it
    is, so each must be an argument of it that a trial does not set itself (the numbers every trial reads are
    :func:`core.search.config_values.check_values`'s)."""
    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in cfg.trainer:
        if key in TRIAL_TRAINER_ARGS:
            raise ConfigError(
                f"trainer.{key}",
                "is set by tinymoo for every trial, so the trainer config must not set it",
                hint=f"Remove trainer.{key}.",
            )
        if key not in accepted:
            near = difflib.get_close_matches(str(key), sorted(accepted), n=1)
            raise ConfigError(
                f"trainer.{key}",
                "is not an argument of pytorch_lightning.Trainer (the trainer config holds only those; the learning "
                "rate and weight decay are optim.lr and optim.weight_decay, the batch size is data.batch_size)",
                hint=f"Did you mean trainer.{near[0]}?" if near else None,
            )


def reference_point(cfg: DictConfig, hw: HardwareTarget, objectives: tuple[str, ...]) -> dict[str, float]:
    """Reference value per objective: the board's, overridden by ``search.reference.<name>`` when set."""
    ref = hw.reference()
    overrides = cfg.search.get("reference") or {}
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in ref:
            raise ConfigError(f"search.reference.{name}", "is not an objective", choices=ref)
        ref[name] = float(value)
    for name in objectives:
        if not ref[name] > 0:
            raise ConfigError(f"search.reference.{name}", f"must be > 0, got {ref[name]}")
    return {n: ref[n] for n in objectives}


def check_data(cfg: DictConfig, dataset: DatasetPlugin, limit: float) -> None:
    """Load the data once, as a trial would: bad data (NaN, one class, too few samples) is refused here."""
    timer = Alarm()
    try:
        with alarm(limit, "loading the dataset") as timer:
            dataset.datamodule(batch_size=int(cfg.data.batch_size), seed=int(cfg.seed))
    except Exception as exc:
        if timer.fired is not None:  # the TrialTimeout itself, or a library's error wrapping it
            raise ConfigError(
                "search.trial_timeout_s",
                f"{timer.fired}: loading the data alone takes longer, so every trial would time out",
                hint="Raise search.trial_timeout_s, or make the dataset load faster.",
            ) from exc
        if isinstance(exc, TinymooError):
            raise
        raise DatasetError(  # a plugin's datamodule() may raise anything
            f"Config key 'dataset': {type(dataset).__name__}.datamodule() fails ({type(exc).__name__}: {exc})."
        ) from exc


def check_model_runs(
    cfg: DictConfig, space: SearchSpace, hw: HardwareTarget, dataset: DatasetPlugin, tries: int = 5
) -> None:
    """Build the model at a few points of the space and run a zero batch through it: a model that fails at every
    one (``model.conv_dim=1`` on images) is a config error, not a search whose every trial fails."""
    shape, classes = tuple(dataset.input_shape), int(dataset.num_classes)
    points = [np.full(space.dim, 0.5), *np.random.default_rng(0).random((tries - 1, space.dim))]
    first: Exception | None = None
    for x in points:
        trial_cfg = space.apply(cfg, space.decode(x))
        try:  # a point may be invalid for the factory's constructor too (an even kernel size)
            factory: ModelFactory = instantiate(trial_cfg.model, "model")
            model = factory.build(shape, classes).eval()
            with torch.no_grad():
                out = model(torch.zeros(2, *shape))
            if tuple(out.shape) != (2, classes):
                raise ValueError(f"it outputs shape {tuple(out.shape)}, not (batch, {classes} classes)")
        except Exception as exc:  # any failure of a user's model; kept if no point works
            first = first or exc
            continue
        check_costable(hw, model, shape)
        return
    raise ConfigError(
        "model",
        f"{str(cfg.model.get('_target_')).rsplit('.', 1)[-1]} fails on the dataset's input of shape {shape} "
        f"with {classes} classes at "
        f"{len(points)} points of the search space ({type(first).__name__}: {first})",
        hint="Check the model's settings (for example model.conv_dim: 2 for images, 1 for time series) against "
        "the dataset.",
    )


def check_costable(hw: HardwareTarget, model: torch.nn.Module, shape: tuple[int, ...]) -> None:
    """The board's cost model must handle the model family (every trial has the same layers): a layer the
    toolchain cannot lower (SiLU, AdaptiveMaxPool2d, ...) is one error now, not one failed trial each."""
    try:
        hw.cost(model, shape)
    except TinymooError:
        raise
    except Exception as exc:  # the board's own error type (e.g. the TFLite lowering's LoweringError)
        raise ConfigError(
            "model",
            f"{type(hw).__name__} ({hw.name}) cannot cost this model: {type(exc).__name__}: {exc}",
            hint="Use layers the board's toolchain supports, or another model.",
        ) from exc
