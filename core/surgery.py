"""Structured (channel) pruning surgery: find which output channels can be removed and physically remove them.

The analysis traces the model with torch.fx and, for every Conv/Linear *producer*, follows its output through
channel-preserving ops (BatchNorm, activations, pooling, dropout, flatten) to the *consumers* whose input
channels must shrink with it. A producer is prunable only if every path ends in a supported consumer (a
groups=1 Conv or a Linear); outputs that reach the graph output, an add/concat or any unknown op are left
intact. Removal edits the existing modules' parameters in place, so the model keeps its structure and the
cost model sees the smaller network.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import cast

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

_CONV = (nn.Conv1d, nn.Conv2d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d)
# elementwise: channel-preserving on any rank
_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid,
    nn.ELU, nn.Dropout, nn.Identity,
)  # fmt: skip
# pooling: channel-preserving only on batched N x C x ... inputs (on a 2-D tensor they would pool channels)
_POOL_MODULES = (
    nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
)  # fmt: skip
_ELEMENTWISE_FUNCTIONS = {
    torch.relu, torch.nn.functional.relu, torch.nn.functional.relu6, torch.nn.functional.hardswish,
    torch.nn.functional.silu, torch.nn.functional.gelu, torch.nn.functional.dropout, torch.sigmoid, torch.tanh,
}  # fmt: skip
_POOL_FUNCTIONS = {
    torch.nn.functional.max_pool1d, torch.nn.functional.max_pool2d, torch.nn.functional.avg_pool1d,
    torch.nn.functional.avg_pool2d, torch.nn.functional.adaptive_avg_pool1d, torch.nn.functional.adaptive_avg_pool2d,
}  # fmt: skip
_PASS_METHODS = {"relu", "sigmoid", "tanh", "contiguous"}


@dataclass
class PruneGroup:
    """A producer layer and the layers its output channels feed.

    Attributes:
        producer: qualified name of the Conv/Linear whose output channels are removed.
        channel_modules: BatchNorms sliced along their channels.
        consumers: ``(name, factor)`` of Conv/Linear layers whose input shrinks; ``factor`` is how many input
            features each channel spans (``H*W`` after a flatten, else 1).
    """

    producer: str
    channels: int
    channel_modules: list[str] = field(default_factory=list)
    consumers: list[tuple[str, int]] = field(default_factory=list)


def find_prune_groups(model: nn.Module, example_input: torch.Tensor) -> list[PruneGroup]:
    """Every producer whose output channels can be removed consistently, in graph order."""
    gm = fx.symbolic_trace(model)
    ShapeProp(gm).propagate(example_input)
    modules = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[str(node.target)] = calls.get(str(node.target), 0) + 1
    groups = []
    for node in gm.graph.nodes:
        if node.op != "call_module" or not isinstance(modules[node.target], (*_CONV, nn.Linear)):
            continue
        m = modules[node.target]
        if isinstance(m, _CONV) and m.groups != 1:
            continue
        if isinstance(m, nn.Linear) and _rank(node) != 2:  # only N x C outputs have a channel dim to prune
            continue
        channels = m.out_channels if isinstance(m, _CONV) else m.out_features
        group = PruneGroup(str(node.target), channels)
        if not _follow(node, modules, group, flattened=1, seen=set()):
            continue
        members = [group.producer, *group.channel_modules, *(name for name, _ in group.consumers)]
        if any(calls.get(name, 0) != 1 for name in members):  # shared modules would be sliced twice
            continue
        groups.append(group)
    return groups


_GROUP_CACHE: OrderedDict[tuple, list[PruneGroup]] = OrderedDict()
_GROUP_CACHE_SIZE = 64


def find_prune_groups_cached(model: nn.Module, example_input: torch.Tensor) -> list[PruneGroup]:
    """:func:`find_prune_groups`, memoized on the model's structure (class, ``repr``, parameter shapes, input shape).

    For costing many untrained candidates of one architecture family quickly (``Compressor.restructure``); the
    training path always traces afresh. Returns copies, since removal updates ``PruneGroup.channels``.
    """
    key = (
        type(model).__module__,
        type(model).__qualname__,
        repr(model),
        tuple((k, tuple(v.shape)) for k, v in model.state_dict().items()),
        tuple(example_input.shape),
    )
    if key not in _GROUP_CACHE:
        _GROUP_CACHE[key] = find_prune_groups(model, example_input)
        while len(_GROUP_CACHE) > _GROUP_CACHE_SIZE:
            _GROUP_CACHE.popitem(last=False)
    _GROUP_CACHE.move_to_end(key)
    return copy.deepcopy(_GROUP_CACHE[key])


def _follow(node: fx.Node, modules: dict[str, nn.Module], group: PruneGroup, flattened: int, seen: set) -> bool:
    """Walk users of ``node``; True if all paths end in supported consumers."""
    if not node.users:
        return False
    for user in node.users:
        if user in seen:
            continue
        seen.add(user)
        if user.op == "call_module":
            target = str(user.target)
            m = modules[target]
            if isinstance(m, _CONV) and m.groups == 1 and flattened == 1:
                group.consumers.append((target, 1))
                continue
            if isinstance(m, nn.Linear) and _rank(node) == 2:
                group.consumers.append((target, flattened))
                continue
            if isinstance(m, _BN) and flattened == 1:
                group.channel_modules.append(target)
                if not _follow(user, modules, group, flattened, seen):
                    return False
                continue
            if isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) == (1, -1) and flattened == 1:
                if not _follow(user, modules, group, _spatial(node), seen):
                    return False
                continue
            if isinstance(m, _ELEMENTWISE_MODULES) or (isinstance(m, _POOL_MODULES) and _rank(node) >= 3):
                if not _follow(user, modules, group, flattened, seen):
                    return False
                continue
            return False
        first = user.args[0] is node if user.args else False
        if (
            user.op == "call_function"
            and first
            and (user.target in _ELEMENTWISE_FUNCTIONS or (user.target in _POOL_FUNCTIONS and _rank(node) >= 3))
        ):
            if not _follow(user, modules, group, flattened, seen):
                return False
            continue
        if user.op == "call_function" and first and user.target is torch.flatten and _flattens_channels(user):
            if flattened != 1 or not _follow(user, modules, group, _spatial(node), seen):
                return False
            continue
        if user.op == "call_method" and user.target in _PASS_METHODS:
            if not _follow(user, modules, group, flattened, seen):
                return False
            continue
        return False
    return True


def _rank(node: fx.Node) -> int:
    """Number of dims of a node's output (0 when unknown)."""
    meta = node.meta.get("tensor_meta")
    return len(meta.shape) if meta is not None and hasattr(meta, "shape") else 0


def _flattens_channels(node: fx.Node) -> bool:
    """True for ``torch.flatten(x, 1)`` / ``torch.flatten(x, 1, -1)``: batch kept, channel dim first."""
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
    return (start, end) == (1, -1)


def _spatial(node: fx.Node) -> int:
    """Elements per channel of a node's output (product of dims after the channel dim)."""
    shape = node.meta["tensor_meta"].shape
    n = 1
    for d in shape[2:]:
        n *= int(d)
    return n


def channel_importance(model: nn.Module, group: PruneGroup, norm: str = "l1") -> torch.Tensor:
    """Per-output-channel importance of the producer: L1 or L2 norm of its weights (shape ``channels``)."""
    w = cast(torch.Tensor, model.get_submodule(group.producer).weight).detach()
    flat = w.reshape(w.shape[0], -1)
    if norm == "l1":
        return flat.abs().sum(1)
    if norm == "l2":
        return flat.pow(2).sum(1).sqrt()
    raise ValueError(f"unknown importance norm {norm!r}; valid choices: l1, l2")


def remove_channels(model: nn.Module, group: PruneGroup, keep: torch.Tensor) -> None:
    """Keep only output channels ``keep`` (sorted indices) of the group's producer, fixing its users in place."""
    keep = torch.as_tensor(keep, dtype=torch.long).sort().values
    if keep.numel() == 0:
        raise ValueError(f"cannot remove every channel of {group.producer}")
    prod = model.get_submodule(group.producer)
    _slice_param(prod, "weight", keep, 0)
    _slice_param(prod, "bias", keep, 0)
    setattr(prod, "out_channels" if isinstance(prod, _CONV) else "out_features", keep.numel())
    for name in group.channel_modules:
        bn = model.get_submodule(name)
        for attr in ("weight", "bias", "running_mean", "running_var"):
            _slice_param(bn, attr, keep, 0)
        setattr(bn, "num_features", keep.numel())  # noqa: B010 - typed as Tensor | Module
    for name, factor in group.consumers:
        cons = model.get_submodule(name)
        idx = (keep[:, None] * factor + torch.arange(factor)[None, :]).reshape(-1) if factor > 1 else keep
        _slice_param(cons, "weight", idx, 1)
        setattr(cons, "in_channels" if isinstance(cons, _CONV) else "in_features", idx.numel())
    group.channels = keep.numel()


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
    """Remove ``sparsity`` of the output channels of every prunable layer (least important first).

    Args:
        groups: the model's prune groups, if already known (default: found by tracing ``model``).

    Returns:
        The number of channels removed in total. At least one channel is kept per layer.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    removed = 0
    was_training = model.training
    model.eval()
    for group in find_prune_groups(model, example_input) if groups is None else groups:
        n_keep = keep_count(group.channels, sparsity)
        if n_keep >= group.channels:
            continue
        keep = channel_importance(model, group, norm).topk(n_keep).indices
        removed += group.channels - n_keep
        remove_channels(model, group, keep)
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
