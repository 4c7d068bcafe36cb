"""Compressor: shrinks a model, during training (Lightning callbacks) and after it (``apply``)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import pytorch_lightning as pl
from torch import nn


class Compressor(ABC):
    """One compression step (pruning, quantization, ...). Compressors run in config order.

    ``callbacks`` act while training (e.g. a pruning schedule); ``apply`` runs once after training on the
    trained model and returns the compressed model, which is what gets evaluated and costed.
    """

    def callbacks(self) -> list[pl.Callback]:
        """Lightning callbacks to attach to the trial's Trainer (default: none)."""
        return []

    @abstractmethod
    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        """Compress a trained model (eval mode). May return a new module; the input may be modified."""
