"""``compressor=prune_agp``: Automated Gradual Pruning (Zhu & Gupta 2017) of whole filters, during training.

Sparsity rises from ``initial_sparsity`` to ``final_sparsity`` along AGP's cubic schedule

    s(t) = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_end - t_0)) ** 3,

one pruning step every ``frequency`` epochs from ``start_epoch`` to ``end_epoch``; training goes on between the
steps, so the network recovers while it shrinks, and the epochs after ``end_epoch`` fine-tune the final network.
Each step physically removes the least important filters of every dependency group (``core.trial.prune_groups``:
channels that meet in a residual add, a depthwise conv or a squeeze-excite gate shrink together), so the costed model
is the really smaller network. The sparsity of a group is relative to its original channel count.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import fx, nn

from core.api import (
    Compressor,
    PruneGroup,
    find_prune_groups,
    find_prune_groups_cached,
    keep_count,
    prune_group_channels,
    prune_to,
)

log = logging.getLogger(__name__)


class AutomatedGradualPruning(Compressor):
    """AGP filter pruning on a cubic schedule.

    Args:
        final_sparsity: fraction of each group's filters removed in the end, in ``[0, 1)``.
        initial_sparsity: sparsity of the first step, in ``[0, final_sparsity]``.
        start_epoch: epoch (0-based) of the first pruning step.
        end_epoch: epoch of the last step; ``null`` = three quarters into training. Clamped to the last epoch,
            so short runs still reach the final sparsity.
        frequency: epochs between pruning steps (>= 1).
        importance: ``l1`` or ``l2`` norm of each filter's weights (summed over a group's producers).
    """

    def __init__(
        self,
        final_sparsity: float = 0.5,
        initial_sparsity: float = 0.0,
        start_epoch: int = 0,
        end_epoch: int | None = None,
        frequency: int = 1,
        importance: str = "l1",
    ) -> None:
        if not 0.0 <= float(final_sparsity) < 1.0:
            raise ValueError(f"final_sparsity must be in [0, 1), got {final_sparsity}")
        if not 0.0 <= float(initial_sparsity) <= float(final_sparsity):
            raise ValueError(
                f"initial_sparsity must be in [0, final_sparsity={final_sparsity}], got {initial_sparsity}"
            )
        if int(start_epoch) < 0:
            raise ValueError(f"start_epoch must be >= 0, got {start_epoch}")
        if end_epoch is not None and int(end_epoch) < int(start_epoch):
            raise ValueError(f"end_epoch must be >= start_epoch={start_epoch}, got {end_epoch}")
        if int(frequency) < 1:
            raise ValueError(f"frequency must be >= 1, got {frequency}")
        if importance not in ("l1", "l2"):
            raise ValueError(f"importance must be 'l1' or 'l2', got {importance!r}")
        self.final_sparsity = float(final_sparsity)
        self.initial_sparsity = float(initial_sparsity)
        self.start_epoch = int(start_epoch)
        self.end_epoch = None if end_epoch is None else int(end_epoch)
        self.frequency = int(frequency)
        self.importance = importance
        self.original: dict[tuple[str, ...], int] = {}  # group producers -> channels before any pruning
        self.history: list[tuple[int, float, int]] = []  # (epoch, sparsity, channels removed) per step
        self.done = False

    # -- the schedule ---------------------------------------------------------------------------------------------
    def window(self, max_epochs: int) -> tuple[int, int]:
        """First and last pruning epoch for a run of ``max_epochs`` epochs."""
        last = max(int(max_epochs) - 1, 0)
        end = round(0.75 * max_epochs) if self.end_epoch is None else self.end_epoch
        end = min(end, last)
        return min(self.start_epoch, end), end

    def sparsity_at(self, epoch: int, max_epochs: int) -> float | None:
        """The target sparsity of a pruning step at ``epoch``, or None when no step falls on it."""
        start, end = self.window(max_epochs)
        if epoch < start or epoch > end:
            return None
        if epoch != end and (epoch - start) % self.frequency:
            return None
        if end == start:
            return self.final_sparsity
        progress = (epoch - start) / (end - start)
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - progress) ** 3

    # -- pruning ---------------------------------------------------------------------------------------------------
    def step(self, model: nn.Module, example_input: torch.Tensor, sparsity: float) -> int:
        """Shrink every group to ``1 - sparsity`` of its original channels; returns the channels removed."""
        if isinstance(model, fx.GraphModule):
            raise RuntimeError(
                "prune_agp cannot prune a model that quantization-aware training has already converted; end the "
                "pruning schedule (compressor.prune.end_epoch) before QAT starts (compressor.quant.start_fraction)"
            )
        groups = find_prune_groups(model, example_input)
        for g in groups:
            self.original.setdefault(tuple(g.producers), g.channels)

        def target(g: PruneGroup) -> int:
            return keep_count(self.original.get(tuple(g.producers), g.channels), sparsity)

        return prune_to(model, example_input, target, self.importance, groups)

    def restructure(self, model: nn.Module, example_input: torch.Tensor) -> nn.Module:
        """The final network's shapes: every group at ``final_sparsity`` of its original channels."""
        groups = find_prune_groups_cached(model, example_input)
        prune_to(model, example_input, lambda g: keep_count(g.channels, self.final_sparsity), self.importance, groups)
        return model

    def structure_key(self, model: nn.Module, example_input: torch.Tensor) -> Hashable:
        return tuple(keep_count(c, self.final_sparsity) for c in prune_group_channels(model, example_input))

    def callbacks(self) -> list[pl.Callback]:
        return [_AgpSchedule(self)]

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        """Finish the schedule if training stopped before its last step (e.g. fewer epochs than planned)."""
        if not self.done:
            x, _ = next(iter(datamodule.val_dataloader()))
            removed = self.step(model.eval(), x[:1], self.final_sparsity)
            self.history.append((-1, self.final_sparsity, removed))
            self.done = True
        return model


class _AgpSchedule(pl.Callback):
    def __init__(self, owner: AutomatedGradualPruning) -> None:
        self.owner = owner

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epochs = int(trainer.max_epochs or 1)
        sparsity = self.owner.sparsity_at(trainer.current_epoch, epochs)
        if sparsity is None or self.owner.done:
            return
        example: Any = pl_module.example_input_array
        removed = self.owner.step(pl_module.model, example.to(pl_module.device), sparsity)  # type: ignore[arg-type]
        self.owner.history.append((trainer.current_epoch, sparsity, removed))
        log.debug("AGP epoch %d: sparsity %.3f, removed %d channels", trainer.current_epoch, sparsity, removed)
        if trainer.current_epoch == self.owner.window(epochs)[1]:
            self.owner.done = True
        if removed:
            # new, smaller parameters: rebuild the optimizer; the cosine learning rate carries on (by epoch)
            trainer.strategy.setup_optimizers(trainer)
