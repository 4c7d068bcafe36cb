"""Structured (channel) pruning, the analysis: find which channels can be removed together.

The analysis traces the model with torch.fx and groups channels that must shrink together (dependency groups):
a conv's output channels, the BatchNorm and depthwise conv that follow it, the layers that read them, and,
across a residual add or a squeeze-excite multiply, every other layer whose channels meet there. A group is
prunable only if it never reaches the graph output, a concat, a reshape or an unknown op. The removal itself is
:mod:`core.trial.surgery`.
"""

from __future__ import annotations

import copy
import operator
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

CONV = (nn.Conv1d, nn.Conv2d)
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
    torch.nn.functional.hardsigmoid, torch.nn.functional.hardtanh, torch.nn.functional.leaky_relu,
}  # fmt: skip
_POOL_FUNCTIONS = {
    torch.nn.functional.max_pool1d, torch.nn.functional.max_pool2d, torch.nn.functional.avg_pool1d,
    torch.nn.functional.avg_pool2d, torch.nn.functional.adaptive_avg_pool1d, torch.nn.functional.adaptive_avg_pool2d,
}  # fmt: skip
_PASS_METHODS = {"relu", "sigmoid", "tanh", "contiguous"}
_BINARY_FUNCTIONS = {
    operator.add,
    operator.mul,
    operator.sub,
    operator.truediv,
    torch.add,
    torch.mul,
    torch.sub,
    torch.div,
}


@dataclass
class PruneGroup:
    """A set of coupled channels: every layer whose channel count must change together.

    Attributes:
        producers: qualified names of the Conv/Linear layers whose output channels are removed. More than one when
            their outputs meet in an add or multiply (a residual stream, a squeeze-excite gate).
        channels: the current number of channels.
        channel_modules: layers sliced along their channels: BatchNorms and depthwise convs (whose input and
            output channels are the same channels).
        consumers: ``(name, factor)`` of Conv/Linear layers whose input shrinks; ``factor`` is how many input
            features each channel spans (``H*W`` after a flatten, else 1).
    """

    producers: list[str]
    channels: int
    channel_modules: list[str] = field(default_factory=list)
    consumers: list[tuple[str, int]] = field(default_factory=list)

    @property
    def producer(self) -> str:
        """The first producer (the group's name in logs and tests)."""
        return self.producers[0]


@dataclass
class _Space:
    """The channel dimension shared by some tensors, while the graph is analysed (merged with union-find)."""

    producers: list[str] = field(default_factory=list)
    channel_modules: list[str] = field(default_factory=list)
    consumers: list[tuple[str, int]] = field(default_factory=list)
    blocked: bool = False
    channels: set[int] = field(default_factory=set)


class _Spaces:
    def __init__(self) -> None:
        self.parent: list[int] = []
        self.data: list[_Space] = []

    def new(self, blocked: bool = False) -> int:
        self.parent.append(len(self.parent))
        self.data.append(_Space(blocked=blocked))
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def get(self, i: int) -> _Space:
        return self.data[self.find(i)]

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        lo, hi = min(ra, rb), max(ra, rb)  # keep the earlier space as root: groups come out in graph order
        sa, sb = self.data[lo], self.data[hi]
        sa.producers += sb.producers
        sa.channel_modules += sb.channel_modules
        sa.consumers += sb.consumers
        sa.blocked = sa.blocked or sb.blocked
        sa.channels |= sb.channels
        self.parent[hi] = lo
        return lo


def find_prune_groups(model: nn.Module, example_input: torch.Tensor) -> list[PruneGroup]:
    """Every set of coupled channels that can be removed consistently, in graph order.

    Each tensor's channel dimension (dim 1) belongs to a *space*. A groups=1 Conv, or a Linear on ``N x F``
    inputs, starts a new space (it is the space's producer) and consumes its input's space. Ops that keep the
    channel order (BatchNorm, activations, pooling, dropout, spatial means, flatten, ops with a scalar) keep
    the space; a depthwise conv keeps it too, its weights sliced like a BatchNorm's; an add or multiply of two
    tensors merges their spaces. A space is prunable when it has a producer and is never seen by anything else:
    the graph input or output, a concat, a reshape, a grouped conv, an unknown op, or a module called twice.
    """
    gm = fx.symbolic_trace(model)
    ShapeProp(gm).propagate(example_input)
    modules = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[str(node.target)] = calls.get(str(node.target), 0) + 1
    spaces = _Spaces()
    space_of: dict[fx.Node, tuple[int, int]] = {}  # node -> (space, features per channel)

    def block_inputs(node: fx.Node) -> None:
        for a in node.all_input_nodes:
            if a in space_of:
                spaces.get(space_of[a][0]).blocked = True

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            space_of[node] = (spaces.new(blocked=True), 1)
            continue
        if node.op == "get_attr":
            continue
        if node.op == "output":
            block_inputs(node)
            continue
        rank = _rank(node)
        if rank == 0:  # not a tensor (x.size(), x.dim(), ...): uses no channels
            if not (node.op == "call_method" and node.target in ("size", "dim")) and node.target is not getattr:
                block_inputs(node)
            continue
        src = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        inp = space_of.get(src) if src is not None else None
        out = _propagate(node, modules, spaces, space_of, inp, rank)
        if out is None:
            block_inputs(node)
            space_of[node] = (spaces.new(blocked=True), 1)
        else:
            space_of[node] = out
            space = spaces.get(out[0])
            if rank >= 2 and out[1] == 1:  # after a flatten, dim 1 holds channels x pixels
                space.channels.add(int(node.meta["tensor_meta"].shape[1]))

    groups = []
    for i in range(len(spaces.parent)):
        if spaces.find(i) != i:
            continue
        sp = spaces.data[i]
        if sp.blocked or not sp.producers or len(sp.channels) != 1:
            continue
        if any(f != 1 and not isinstance(modules[name], nn.Linear) for name, f in sp.consumers):
            continue
        members = [*sp.producers, *sp.channel_modules, *(name for name, _ in sp.consumers)]
        if any(calls.get(name, 0) != 1 for name in members):  # shared modules would be sliced twice
            continue
        groups.append(
            PruneGroup(list(sp.producers), next(iter(sp.channels)), list(sp.channel_modules), list(sp.consumers))
        )
    return groups


def _propagate(
    node: fx.Node,
    modules: dict[str, nn.Module],
    spaces: _Spaces,
    space_of: dict[fx.Node, tuple[int, int]],
    inp: tuple[int, int] | None,
    rank: int,
) -> tuple[int, int] | None:
    """The (space, factor) of ``node``'s output, recording producers/consumers; None if the op is not understood."""
    if inp is None:
        return None
    space, factor = inp
    if node.op == "call_module":
        target = str(node.target)
        m = modules[target]
        if isinstance(m, CONV):
            if factor != 1:
                return None
            if m.groups == 1:
                spaces.get(space).consumers.append((target, 1))
                new = spaces.new()
                spaces.get(new).producers.append(target)
                return (new, 1)
            if m.groups == m.in_channels == m.out_channels:  # depthwise: channel i in -> channel i out
                spaces.get(space).channel_modules.append(target)
                return (space, 1)
            return None
        if isinstance(m, nn.Linear):
            src_rank = _rank(node.args[0]) if isinstance(node.args[0], fx.Node) else 0
            if src_rank != 2 or rank != 2:  # only N x C -> N x F linears have a channel dim on both sides
                return None
            spaces.get(space).consumers.append((target, factor))
            new = spaces.new()
            spaces.get(new).producers.append(target)
            return (new, 1)
        if isinstance(m, _BN) and factor == 1:
            spaces.get(space).channel_modules.append(target)
            return inp
        if isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) == (1, -1) and factor == 1:
            return (space, _spatial(node.args[0]))  # type: ignore[arg-type]
        if isinstance(m, _ELEMENTWISE_MODULES) or (isinstance(m, _POOL_MODULES) and rank >= 3):
            return inp
        return None
    if node.op == "call_function":
        first = bool(node.args) and node.args[0] is not None
        if not first:
            return None
        if node.target in _ELEMENTWISE_FUNCTIONS or (node.target in _POOL_FUNCTIONS and rank >= 3):
            return inp
        if node.target is torch.flatten and _flattens_channels(node) and factor == 1:
            return (space, _spatial(node.args[0]))  # type: ignore[arg-type]
        if node.target in (torch.mean, torch.sum, torch.amax) and factor == 1 and _reduces_spatial_only(node):
            return inp
        if node.target in _BINARY_FUNCTIONS:
            return _binary(node, spaces, space_of, inp, rank)
        return None
    if node.op == "call_method":
        if node.target in _PASS_METHODS:
            return inp
        if node.target in ("mean", "sum", "amax") and factor == 1 and _reduces_spatial_only(node):
            return inp
        if node.target in ("add", "mul", "sub", "div"):
            return _binary(node, spaces, space_of, inp, rank)
    return None


def _binary(
    node: fx.Node, spaces: _Spaces, space_of: dict[fx.Node, tuple[int, int]], inp: tuple[int, int], rank: int
) -> tuple[int, int] | None:
    """add/sub/mul/div: with a number the space is kept; two tensors with the same channels share one space."""
    other = node.args[1] if len(node.args) > 1 else None
    if isinstance(other, int | float):
        return inp
    if not isinstance(other, fx.Node) or other not in space_of:
        return None
    shape, other_shape = node.meta["tensor_meta"].shape, _shape_of(other)
    if rank < 2 or other_shape is None or len(other_shape) != rank or other_shape[1] != shape[1]:
        return None  # broadcasting over channels, or another rank: the channels are not aligned
    if space_of[other][1] != inp[1]:
        return None
    return (spaces.union(inp[0], space_of[other][0]), inp[1])


def _shape_of(node: fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _reduces_spatial_only(node: fx.Node) -> bool:
    """``x.mean(dims)`` over dims after the channel dim (negative or positive), keeping batch and channels."""
    arg: Any = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    if arg is None:
        return False
    rank = _rank(node.args[0]) if isinstance(node.args[0], fx.Node) else 0
    dims = [arg] if isinstance(arg, int) else list(arg)
    if not all(isinstance(d, int) for d in dims):
        return False
    return rank >= 3 and all((d + rank if d < 0 else d) >= 2 for d in dims)


_GROUP_CACHE: OrderedDict[tuple, list[PruneGroup]] = OrderedDict()
# architectures remembered; a search space's distinct architectures (the quickstart has 174) should all fit
_GROUP_CACHE_SIZE = 2048


def _cached_groups(model: nn.Module, example_input: torch.Tensor) -> list[PruneGroup]:
    """The memoized groups themselves (callers must not modify them)."""
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
    return _GROUP_CACHE[key]


def find_prune_groups_cached(model: nn.Module, example_input: torch.Tensor) -> list[PruneGroup]:
    """:func:`find_prune_groups`, memoized on the model's structure (class, ``repr``, parameter shapes, input shape).

    For costing many untrained candidates of one architecture family quickly (``Compressor.restructure``); the
    training path always traces afresh. Returns copies, since removal updates ``PruneGroup.channels``.
    """
    return copy.deepcopy(_cached_groups(model, example_input))


def prune_group_channels(model: nn.Module, example_input: torch.Tensor) -> tuple[int, ...]:
    """The channel count of every prune group of ``model`` (memoized like :func:`find_prune_groups_cached`, no
    copies): all a pruner's ``structure_key`` needs."""
    return tuple(g.channels for g in _cached_groups(model, example_input))


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
