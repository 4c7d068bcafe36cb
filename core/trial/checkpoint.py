"""A trial's models on disk: weights only, the architecture rebuilt from the trial's config.

A run directory is meant to be shared and downloaded, so nothing in it may run code when it is loaded: the
trained, pruned float model is saved as a state dict (``models/<trial>/float_model.pt``) and read back with
``torch.load(..., weights_only=True)``. Its architecture comes from the trial's manifest: the model factory with
the trial's config, then each compressor's ``restructure`` (the pruned channel counts, as for known costs), and
the saved tensors are loaded into it strictly, so a file whose shapes do not match is refused.

The int8 model the trial scored is saved the same way: ``models/<trial>/int8_state.pt`` holds the state of its
prepared graph (weights, observed or QAT-learned ranges; :mod:`core.trial.int8`), and the manifest its
:class:`~core.trial.int8_quantizer.Int8Scheme`. :func:`load_int8` captures and prepares the float model again, loads
that state and converts it: the graph the trial scored, with the same scales and no second calibration.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from core.errors import TinymooError
from core.interfaces import Compressor, DatasetPlugin, ModelFactory
from core.plugins import instantiate

if TYPE_CHECKING:
    from core.trial.int8 import Int8Model

FLOAT_MODEL = "float_model.pt"
INT8_STATE = "int8_state.pt"


class CheckpointError(TinymooError):
    """A saved model that cannot be loaded safely or does not match the trial's architecture."""


def save_float(model: nn.Module, out: Path) -> None:
    """Save the trained float model's weights (a state dict of tensors) to ``out/float_model.pt``."""
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / FLOAT_MODEL)


def rebuild(cfg: DictConfig | dict[str, Any]) -> nn.Module:
    """The untrained architecture of a trial: the model factory, then every compressor's ``restructure``."""
    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    dataset: DatasetPlugin = instantiate(cfg.dataset, "dataset")
    shape = tuple(dataset.input_shape)
    factory: ModelFactory = instantiate(cfg.model, "model")
    model = factory.build(shape, int(dataset.num_classes)).eval()
    example = torch.zeros(1, *shape)
    nodes = cfg.get("compressor") or {}
    for name, node in nodes.items():
        compressor: Compressor = instantiate(node, "compressor", key=f"compressor.{name}")
        model = compressor.restructure(model, example)
    return model.eval()


def _load_tensors(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict of tensors from ``path``, loaded weights-only (a pickled object is refused, not run)."""
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist: the trial saved no {what} (did it finish?).")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(
            f"{path} is not a plain state dict of tensors and was not loaded (nothing in it was run): "
            f"{str(exc).splitlines()[0]}. Only weights written by tinymoo's own trials are accepted; rerun the "
            "trial to regenerate it."
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds {type(state).__name__}, not a state dict of tensors.")
    return state


def load_float(out: Path, cfg: DictConfig | dict[str, Any]) -> nn.Module:
    """The trial's float model: :func:`rebuild` with the weights of ``out/float_model.pt`` (weights only).

    Raises:
        CheckpointError: the file is missing, is not a plain state dict of tensors (e.g. a pickled object,
            which is refused without running it), or does not fit the rebuilt architecture.
    """
    model = rebuild(cfg)
    _load_strict(
        model,
        out / FLOAT_MODEL,
        "the architecture rebuilt from the trial's config (the model factory, then each compressor's restructure)",
        " A compressor that changes shapes must implement Compressor.restructure.",
    )
    return model.eval()


def _load_strict(module: nn.Module, path: Path, what: str, hint: str = "") -> None:
    """Load the tensors of ``path`` (:func:`_load_tensors`) into ``module``, every key and shape matching."""
    state = _load_tensors(path, path.stem.replace("_", " "))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit {what}: {str(exc).splitlines()[0]}.{hint}") from exc


def save_int8(model: Int8Model, out: Path) -> dict[str, Any]:
    """Save the state of ``model``'s prepared graph to ``out/int8_state.pt``; returns its scheme for the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state, out / INT8_STATE)
    return model.scheme.as_dict()


def load_int8(
    out: Path, cfg: DictConfig | dict[str, Any], scheme: dict[str, Any], float_model: nn.Module | None = None
) -> Int8Model:
    """The int8 model the trial scored: its float model (``float_model`` if the caller has loaded it already, else
    :func:`load_float`) captured and prepared with ``scheme`` (the manifest's ``int8``), the saved prepared state
    loaded strictly, and converted.

    Raises:
        CheckpointError: a missing or unsafe file, or a state that does not fit the prepared graph.
    """
    from core.trial.int8 import from_prepared, prepare
    from core.trial.int8_quantizer import Int8Scheme

    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    dataset: DatasetPlugin = instantiate(cfg.dataset, "dataset")
    shape = tuple(int(s) for s in dataset.input_shape)
    try:
        int8 = Int8Scheme(**scheme)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{out / 'manifest.json'}: its int8 scheme {scheme!r} is not valid ({exc}).") from exc
    prepared = prepare(float_model if float_model is not None else load_float(out, cfg), shape, int8)
    _load_strict(prepared, out / INT8_STATE, "the int8 graph prepared from the trial's float model")
    return from_prepared(prepared, shape, int8)
