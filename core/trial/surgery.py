"""Channel removal: physically remove the least important channels of each prune group.

The groups come from :mod:`core.trial.prune_groups`. Removal edits the existing modules' parameters in place, so
the model keeps its structure and the cost model sees the smaller network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from core.trial.prune_groups import CONV, PruneGroup, find_prune_groups


def channel_importance(model: nn.Module, group: PruneGroup, norm: str = "l1") -> torch.Tensor:
    """Per-channel importance of a group: the L1 or L2 norm of its producers' weights for that channel, together.

    Returns a tensor of shape ``channels``.
    """
    if norm not in ("l1", "l2"):
        raise ValueError(f"unknown importance norm {norm!r}; valid choices: l1, l2")
    total = torch.zeros(group.channels)
    for name in group.producers:
        w = cast(torch.Tensor, model.get_submodule(name).weight).detach().cpu()
        flat = w.reshape(w.shape[0], -1)
        total += flat.abs().sum(1) if norm == "l1" else flat.pow(2).sum(1)
    return total if norm == "l1" else total.sqrt()


def remove_channels(model: nn.Module, group: PruneGroup, keep: torch.Tensor) -> None:
    """Keep only channels ``keep`` (indices) of a group, slicing its producers, channel modules and consumers."""
    keep = torch.as_tensor(keep, dtype=torch.long).sort().values
    if keep.numel() == 0:
        raise ValueError(f"cannot remove every channel of {group.producer}")
    n = keep.numel()
    for name in group.producers:
        prod = model.get_submodule(name)
        _slice_param(prod, "weight", keep, 0)
        _slice_param(prod, "bias", keep, 0)
        setattr(prod, "out_channels" if isinstance(prod, CONV) else "out_features", n)
    for name in group.channel_modules:
        m = model.get_submodule(name)
        if isinstance(m, CONV):  # depthwise: one filter per channel
            _slice_param(m, "weight", keep, 0)
            _slice_param(m, "bias", keep, 0)
            m.in_channels = m.out_channels = m.groups = n
            continue
        for attr in ("weight", "bias", "running_mean", "running_var"):
            _slice_param(m, attr, keep, 0)
        setattr(m, "num_features", n)  # noqa: B010 - typed as Tensor | Module
    for name, factor in group.consumers:
        cons = model.get_submodule(name)
        idx = (keep[:, None] * factor + torch.arange(factor)[None, :]).reshape(-1) if factor > 1 else keep
        _slice_param(cons, "weight", idx, 1)
        setattr(cons, "in_channels" if isinstance(cons, CONV) else "in_features", idx.numel())
    group.channels = n


def keep_count(channels: int, sparsity: float) -> int:
    """Channels kept of ``channels`` at ``sparsity`` (at least one)."""
    return max(1, round(channels * (1.0 - sparsity)))


def prune_by_fraction(
    model: nn.Module,
    example_input: torch.Tensor,
    sparsity: float,
    norm: str = "l1",
    groups: list[PruneGroup] | None = None,
) -> int:
    """Remove ``sparsity`` of the channels of every prune group (least important first).

    Args:
        groups: the model's prune groups, if already known (default: found by tracing ``model``).

    Returns:
        The number of channels removed in total. At least one channel is kept per group.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    return prune_to(model, example_input, lambda g: keep_count(g.channels, sparsity), norm, groups)


def prune_to(
    model: nn.Module,
    example_input: torch.Tensor,
    keep: Callable[[PruneGroup], int],
    norm: str = "l1",
    groups: list[PruneGroup] | None = None,
) -> int:
    """Shrink every prune group to ``keep(group)`` channels, removing the least important ones.

    Groups already at or below their target are left alone. Returns the number of channels removed.
    """
    removed = 0
    was_training = model.training
    model.eval()
    for group in find_prune_groups(model, example_input) if groups is None else groups:
        n_keep = max(1, int(keep(group)))
        if n_keep >= group.channels:
            continue
        kept = channel_importance(model, group, norm).topk(n_keep).indices
        removed += group.channels - n_keep
        remove_channels(model, group, kept)
    model.train(was_training)
    return removed


def _slice_param(module: nn.Module, attr: str, idx: torch.Tensor, dim: int) -> None:
    t = getattr(module, attr, None)
    if t is None:
        return
    new = t.detach().index_select(dim, idx.to(t.device)).clone()
    if isinstance(t, nn.Parameter):
        setattr(module, attr, nn.Parameter(new, requires_grad=t.requires_grad))
    else:
        module.register_buffer(attr, new)
