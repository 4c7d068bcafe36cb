"""``compressor=prune_structured``: L1/L2-norm channel pruning that physically removes channels.

During training, a callback prunes at ``at_epoch_fraction`` of the epochs and the remaining epochs fine-tune
the smaller network. If training is too short to reach that epoch, ``apply`` prunes after training instead.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from core.api import Compressor, find_prune_groups_cached, keep_count, prune_by_fraction, prune_group_channels

log = logging.getLogger(__name__)


class StructuredPruning(Compressor):
    """Removes the ``sparsity`` fraction of least-important output channels of every prunable layer.

    Args:
        sparsity: fraction of channels removed per layer, in ``[0, 1)``.
        importance: ``l1`` or ``l2`` norm of each output channel's weights.
        at_epoch_fraction: when to prune during training, as a fraction of ``max_epochs`` in ``[0, 1]``.
    """

    def __init__(self, sparsity: float = 0.5, importance: str = "l1", at_epoch_fraction: float = 0.5) -> None:
        if not 0.0 <= float(sparsity) < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
        if importance not in ("l1", "l2"):
            raise ValueError(f"importance must be 'l1' or 'l2', got {importance!r}")
        if not 0.0 <= float(at_epoch_fraction) <= 1.0:
            raise ValueError(f"at_epoch_fraction must be in [0, 1], got {at_epoch_fraction}")
        self.sparsity = float(sparsity)
        self.importance = importance
        self.at_epoch_fraction = float(at_epoch_fraction)
        self.done = False
        self.removed = 0

    def prune(self, model: nn.Module, example_input: torch.Tensor) -> None:
        """Prune ``model`` in place once (later calls do nothing)."""
        if self.done:
            return
        self.removed = prune_by_fraction(model, example_input, self.sparsity, self.importance)
        self.done = True
        log.debug("pruned %d channels", self.removed)

    def restructure(self, model: nn.Module, example_input: torch.Tensor) -> nn.Module:
        """Remove the same number of channels per layer as training would (which ones does not change the cost)."""
        groups = find_prune_groups_cached(model, example_input)
        prune_by_fraction(model, example_input, self.sparsity, self.importance, groups=groups)
        return model

    def structure_key(self, model: nn.Module, example_input: torch.Tensor) -> Hashable:
        """The channels kept per prune group, which is all that :meth:`restructure` changes."""
        return tuple(keep_count(c, self.sparsity) for c in prune_group_channels(model, example_input))

    def callbacks(self) -> list[pl.Callback]:
        return [_PruneDuringTraining(self)]

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        if not self.done:
            x, _ = next(iter(datamodule.val_dataloader()))
            self.prune(model, x[:1])
        return model


class _PruneDuringTraining(pl.Callback):
    def __init__(self, owner: StructuredPruning) -> None:
        self.owner = owner

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epochs = int(trainer.max_epochs or 1)
        at = min(round(self.owner.at_epoch_fraction * epochs), epochs - 1)
        if self.owner.done or trainer.current_epoch < at or (at == 0 and epochs == 1):
            return
        example: Any = pl_module.example_input_array
        self.owner.prune(pl_module.model, example.to(pl_module.device))  # type: ignore[operator]
        # the parameters were replaced: rebuild the optimizer over the smaller network, and restart the cosine
        # schedule at the peak rate for the fine-tuning phase
        pl_module.schedule_start_epoch = trainer.current_epoch
        trainer.strategy.setup_optimizers(trainer)
