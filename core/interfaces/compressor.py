"""Compressor: shrinks a model, during training (Lightning callbacks) and after it (``apply``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type hints only: importing this contract must not import Lightning or torch (start-up time)
    import pytorch_lightning as pl
    import torch
    from torch import nn


class Compressor(ABC):
    """One compression step (pruning, quantization, ...). Compressors run in config order.

    ``callbacks`` act while training (e.g. a pruning schedule); ``apply`` runs once after training on the
    trained model and returns the compressed model, which is what gets evaluated and costed. ``restructure``
    applies only the compressor's effect on the *architecture* to an untrained model, so the hardware cost of a
    candidate is known before (or without) training it.

    Attributes:
        quantizes: True for a compressor whose ``apply`` turns the float model into a quantized one. The trial
            saves the float model just before it. When ``apply`` returns a :class:`core.trial.int8.Int8Model`, the trial
            also saves its prepared graph's state, and ``python -m core.export`` lowers exactly that graph (the one
            scored); any other quantized model makes ``core.tflm.export`` quantize the float model post-training.
    """

    quantizes: bool = False

    def callbacks(self) -> list[pl.Callback]:
        """Lightning callbacks to attach to the trial's Trainer (default: none)."""
        return []

    @abstractmethod
    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        """Compress a trained model (eval mode). May return a new module; the input may be modified."""

    def restructure(self, model: nn.Module, example_input: torch.Tensor) -> nn.Module:
        """Apply this compressor's architectural change (e.g. which channels exist) to an untrained model.

        The result must have the same shapes as :meth:`apply` would produce after training, because the cost
        model sees it in place of the trained model (``optimizer.known_costs`` and skipping candidates that cannot
        fit). Default: no architectural change (e.g. quantization, which the int8 cost model already assumes).
        """
        return model

    def structure_key(self, model: nn.Module, example_input: torch.Tensor) -> Hashable | None:
        """A cheap key of what :meth:`restructure` would make of ``model``: equal keys mean equal shapes.

        Lets the cost of many candidates be looked up without restructuring a copy of the model each time.
        ``None`` means unknown (the caller then restructures). The default is exact for compressors that do not
        override :meth:`restructure` (no change) and unknown for those that do.
        """
        return () if type(self).restructure is Compressor.restructure else None
