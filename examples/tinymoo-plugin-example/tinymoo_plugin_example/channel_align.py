"""``compressor=simd_align``: round every prunable layer group down to a multiple of 4 (or 8, 16) channels.

CMSIS-NN's int8 kernels work on channels in SIMD-sized blocks: with the DSP extension (Cortex-M4/M7/M33) the
GEMM loads four int8 values per 32-bit word and multiply-accumulates them pairwise (``SMLAD``), with scalar loops
for the channels left over; the Helium (MVE) kernels of Cortex-M55/M85 work on 16-byte vectors. A layer with 13
channels pays for the remainder loop on every output pixel, and its buffers are not word-multiples. A pruner
picks channel counts from a sparsity (``round((1 - s) * channels)``) with no regard for this;
:class:`SimdChannelAlignment`, listed after it, removes the few least important extra channels so that every
group ends on a multiple of ``multiple``:

    python -m core.run compressor=[prune_structured,simd_align,quant_int8] compressor.align.multiple=8

It uses tinymoo's channel surgery (:mod:`core.trial.prune_groups`): channels that meet in a residual add, pass through a
depthwise conv or are gated by a squeeze-excite multiply are one group and shrink together, so the aligned model
is a smaller dense network that the cost model and the exporter see as is.

Rules:

* a group of ``c`` channels keeps ``c - c % multiple`` channels (the least important go, by the L1/L2 norm of
  their filters); a group with fewer than ``multiple`` channels is left alone (channels cannot be added back);
* during training, it aligns at the start of each epoch in which the channel counts changed (right after a
  pruning step of a compressor listed before it, in the same epoch), so the epochs that follow fine-tune the
  aligned network; ``apply`` aligns once more after training (a pruner that prunes after training, or no pruner);
* ``restructure`` aligns the already-restructured model, so a candidate's known cost equals the trained one's.
  That holds for any pruning schedule whose groups end at fixed targets (``prune_structured``, ``prune_agp``):
  aligning in between and again at the end gives the same counts as aligning only at the end.

List it after every pruning compressor and before quantization: ``[pruner, simd_align, quant_int8]``.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import fx, nn

from core.api import Compressor, PruneGroup, find_prune_groups_cached, prune_to

log = logging.getLogger(__name__)

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


def aligned_channels(channels: int, multiple: int) -> int:
    """Channels a group of ``channels`` keeps: rounded down to ``multiple``, unchanged below ``multiple``."""
    return channels if channels < multiple else channels - channels % multiple


def channel_signature(model: nn.Module) -> tuple[tuple[str, int], ...]:
    """``(layer name, output channels)`` of every conv and linear layer: changes exactly when a pruner acts."""
    return tuple(
        (name, int(m.out_channels if isinstance(m, nn.Conv1d | nn.Conv2d) else m.out_features))
        for name, m in model.named_modules()
        if isinstance(m, _LAYERS)
    )


class SimdChannelAlignment(Compressor):
    """Rounds the channels of every prune group down to a multiple of ``multiple`` (see the module docstring).

    Args:
        multiple: the channel block, >= 1 (4 for CMSIS-NN's DSP kernels, 16 for Helium; 1 leaves the model as is).
        importance: ``l1`` or ``l2`` norm of each channel's filter weights; the least important channels go.
    """

    def __init__(self, multiple: int = 4, importance: str = "l1") -> None:
        if isinstance(multiple, bool) or int(multiple) != multiple or int(multiple) < 1:
            raise ValueError(f"multiple must be an integer >= 1, got {multiple!r}")
        if importance not in ("l1", "l2"):
            raise ValueError(f"importance must be 'l1' or 'l2', got {importance!r}")
        self.multiple = int(multiple)
        self.importance = importance
        self.removed = 0  # channels removed so far, over every alignment of this trial

    def target(self, group: PruneGroup) -> int:
        """The channels ``group`` keeps."""
        return aligned_channels(group.channels, self.multiple)

    def align(self, model: nn.Module, example_input: torch.Tensor, groups: list[PruneGroup] | None = None) -> int:
        """Align ``model`` in place; returns the channels removed."""
        removed = prune_to(model, example_input, self.target, self.importance, groups)
        self.removed += removed
        return removed

    # -- Compressor -------------------------------------------------------------------------------------------------
    def restructure(self, model: nn.Module, example_input: torch.Tensor) -> nn.Module:
        """Align the (already restructured) model; which channels go does not change the cost, only how many."""
        prune_to(model, example_input, self.target, self.importance, find_prune_groups_cached(model, example_input))
        return model

    def structure_key(self, model: nn.Module, example_input: torch.Tensor) -> Hashable:
        """What :meth:`restructure` does depends on nothing but ``multiple`` and the channel counts it is given.

        The caller combines the keys of all compressors of a trial, each computed on the same untrained model:
        the keys of the compressors before this one fix the counts it receives, so ``multiple`` completes the key.
        """
        return ("simd_align", self.multiple)

    def callbacks(self) -> list[pl.Callback]:
        return [_AlignAfterPruning(self)]

    def apply(self, model: nn.Module, datamodule: pl.LightningDataModule) -> nn.Module:
        """Align what training left unaligned (a pruner that acts after training, or a model never pruned)."""
        x, _ = next(iter(datamodule.val_dataloader()))
        removed = self.align(model, x[:1].to(next(model.parameters()).device))
        if removed:
            log.debug("simd_align: removed %d channels after training", removed)
        return model


class _AlignAfterPruning(pl.Callback):
    """Aligns at the start of every epoch in which the channel counts changed (after this epoch's pruning step)."""

    def __init__(self, owner: SimdChannelAlignment) -> None:
        self.owner = owner
        self.seen: tuple[tuple[str, int], ...] | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seen = channel_signature(pl_module.model)  # type: ignore[arg-type]

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        model: Any = pl_module.model
        if isinstance(model, fx.GraphModule):  # quantization-aware training runs: no compressor may reshape it
            return
        signature = channel_signature(model)
        if signature == self.seen:
            return
        example: Any = pl_module.example_input_array
        removed = self.owner.align(model, example.to(pl_module.device))
        self.seen = channel_signature(model)
        if removed:
            log.debug("simd_align epoch %d: removed %d channels", trainer.current_epoch, removed)
            # new, smaller parameters: rebuild the optimizer (the learning-rate schedule carries on by epoch)
            trainer.strategy.setup_optimizers(trainer)
