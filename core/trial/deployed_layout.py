"""The input layout a model has on the board: channel-last (NHWC), and a 1-D model as a 2-D one of height 1.

TFLite's kernels are channel-last, and the converter gives a 1-D convolution TRANSPOSE/RESHAPE ops (and their arena
buffers) that a 2-D convolution of height 1 does not need. So tinymoo's int8 stack (:mod:`core.trial.int8`) captures
every model in its deployed form: :func:`as_2d` for a 1-D model, then :class:`ChannelLast`, whose input is what the
firmware feeds the .tflite. :func:`to_deployed` turns a batch in the dataset's own layout (``N x C x H x W`` or
``N x C x L``) into that input.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def deployed_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The deployed input of one sample of ``input_shape`` (dataset layout, no batch dim): ``(C, H, W)`` ->
    ``(H, W, C)``, ``(C, L)`` -> ``(1, L, C)``, a flat ``(F,)`` unchanged."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        shape = (shape[0], 1, shape[1])
    return (*shape[1:], shape[0]) if len(shape) >= 2 else shape


def to_deployed(x: torch.Tensor, input_shape: tuple[int, ...]) -> torch.Tensor:
    """A batch in the dataset's layout (batch first) in the deployed layout (:func:`deployed_shape`)."""
    if len(input_shape) == 2:
        x = x.unsqueeze(2)
    return x.movedim(1, -1).contiguous() if len(input_shape) >= 2 else x


class ChannelLast(nn.Module):
    """``model`` taking its input channel-last: ``N x H x W x C`` in, the model's own ``N x C x H x W`` inside."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.m = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m(x.movedim(-1, 1))


class DatasetInput(nn.Module):
    """A module (or captured graph) taking the deployed layout, fed batches in the dataset's own layout."""

    def __init__(self, graph: nn.Module, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.graph = graph
        self.input_shape = tuple(int(s) for s in input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(to_deployed(x, self.input_shape))  # type: ignore[no-any-return]


def deployed_form(model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    """``model`` as it is deployed: :func:`as_2d` for a 1-D model, wrapped in :class:`ChannelLast` (not for a flat
    input). A 2-D model's parameters stay the model's own tensors; a 1-D model's are copies."""
    if len(input_shape) == 2:
        model = as_2d(model)
    return ChannelLast(model) if len(input_shape) >= 2 else model


def as_2d(model: nn.Module) -> nn.Module:
    """A copy of a 1-D model (input ``N x C x L``) as a 2-D one taking ``N x C x 1 x L``, with the same weights.

    Conv1d becomes Conv2d with kernel ``(1, k)``; BatchNorm/pooling become their 2-D versions over ``(1, k)``;
    a flatten or linear head sees the same values in the same order (the extra dimension has size 1). Module
    names stay the same, so a parameter ``name`` of the copy holds ``model``'s ``name`` with a height of 1.
    """
    out = copy.deepcopy(model)
    for name, m in list(out.named_modules()):
        new: nn.Module | None = None
        if isinstance(m, nn.Conv1d):
            conv = nn.Conv2d(
                m.in_channels,
                m.out_channels,
                (1, m.kernel_size[0]),
                (1, m.stride[0]),
                (0, m.padding[0]) if not isinstance(m.padding, str) else m.padding,
                (1, m.dilation[0]),
                m.groups,
                m.bias is not None,
                m.padding_mode,
            )
            conv.weight.data = m.weight.data.unsqueeze(2).clone()
            if m.bias is not None and conv.bias is not None:
                conv.bias.data = m.bias.data.clone()
            new = conv
        elif isinstance(m, nn.BatchNorm1d):
            bn = nn.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
            bn.load_state_dict(m.state_dict())
            new = bn
        elif isinstance(m, nn.MaxPool1d):
            new = nn.MaxPool2d(
                (1, _one(m.kernel_size)), (1, _one(m.stride)), (0, _one(m.padding)), ceil_mode=m.ceil_mode
            )
        elif isinstance(m, nn.AvgPool1d):
            new = nn.AvgPool2d((1, _one(m.kernel_size)), (1, _one(m.stride)), (0, _one(m.padding)), m.ceil_mode)
        elif isinstance(m, nn.AdaptiveAvgPool1d):
            if _one(m.output_size) != 1:
                raise ValueError(f"{name}: only global AdaptiveAvgPool1d(1) can be converted, got {m.output_size}")
            new = nn.AdaptiveAvgPool2d(1)
        if new is not None:
            new.train(m.training)
            parent, _, leaf = name.rpartition(".")
            setattr(out.get_submodule(parent) if parent else out, leaf, new)
    return out


def copy_back(deployed: nn.Module, model: nn.Module, input_shape: tuple[int, ...]) -> None:
    """Copy the parameters and buffers of ``deployed`` (a :func:`deployed_form` of ``model``, or a graph captured
    from one with the same names) into ``model``'s own tensors, reshaped to them (a 2-D kernel of height 1 back to
    1-D)."""
    source = dict(deployed.named_parameters()) | dict(deployed.named_buffers())
    prefix = "m." if len(input_shape) >= 2 else ""
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            s = source.get(prefix + name)
            if s is None:
                raise KeyError(f"{prefix + name} is not in the deployed model")
            if s is not t:
                t.copy_(s.reshape(t.shape))


def _one(v: object) -> int:
    return int(v[0]) if isinstance(v, tuple | list) else int(v)  # type: ignore[call-overload]
