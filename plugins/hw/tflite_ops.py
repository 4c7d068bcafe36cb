"""Which TFLite op a traced PyTorch node becomes, and the error for a node that becomes none.

:func:`op_kind` classifies the nodes :func:`plugins.hw.tflite_lowering.lower` walks; :func:`unsupported` is the
paragraph it raises for a layer litert-torch's int8 converter cannot lower.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn

_FOLDED_MODULES = {"BatchNorm1d", "BatchNorm2d", "ReLU", "ReLU6", "Dropout", "Identity"}
_FOLDED_FUNCTIONS = {torch.relu, nn.functional.relu, nn.functional.relu6, nn.functional.dropout}
_FOLDED_METHODS = {"relu", "contiguous"}
_ADD_FUNCTIONS = {operator.add, torch.add}
# binary ops by name (operator.add and torch.add are both "add"; see op_name)
_SCALAR_OPS = {"add", "mul", "sub", "truediv", "div", "add_scalar", "mul_scalar"}
_HARDSWISH_FUNCTIONS = {nn.functional.hardswish}
_MEAN_FUNCTIONS = {torch.mean}
_CAT_FUNCTIONS = {torch.cat, torch.concat}
_FLATTEN_FUNCTIONS = {torch.flatten}
_FLATTEN_METHODS = {"flatten", "view", "reshape"}


SUPPORTED = (
    "Supported layers: Conv1d/Conv2d (any stride, dilation, groups), Linear, BatchNorm1d/2d (folded), ReLU/ReLU6, "
    "Hardswish, Dropout/Identity, MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d(1) (global pooling), Flatten, "
    "torch.mean over the spatial dims, residual add, product of two tensors, scalar add/mul/div (hard-sigmoid) "
    "and torch.cat."
)


def unsupported(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    """One paragraph naming the layer the lowering cannot handle, and what it supports."""
    if node.op == "call_module":
        m = modules[str(node.target)]
        what = f"layer '{node.target}' ({type(m).__name__})"
        if type(m).__name__.startswith("AdaptiveAvgPool"):
            what += f" with output size {m.output_size} (only global pooling, output size 1, is supported)"
    elif node.op == "call_function":
        what = f"function call '{node.name}' ({op_name(node.target)})"
    else:
        what = f"{node.op} '{node.name}' ({node.target})"
    return (
        f"cannot lower {what} to TFLite-Micro int8: the cost model predicts only the graphs litert-torch's int8 "
        f"converter makes of the layers it supports, so this model's flash and SRAM cannot be estimated. "
        f"{SUPPORTED} Replace the layer (e.g. SiLU/GELU by ReLU or Hardswish) or take it out of the search space."
    )


def op_kind(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    """What a traced node lowers to: ``conv``, ``linear``, ``fold`` (into its producer), ``maxpool``, ``avgpool``,
    ``gap``, ``flatten``, ``hardswish``, ``scalar``, ``mul``, ``mean``, ``add``, ``cat`` or ``unknown``."""
    if node.op == "call_module":
        m = modules[str(node.target)]
        name = type(m).__name__
        if hasattr(m, "in_channels") and hasattr(m, "kernel_size"):
            return "conv"
        if hasattr(m, "in_features") and hasattr(m, "out_features"):
            return "linear"
        if name in _FOLDED_MODULES:
            return "fold"
        if name.startswith("MaxPool"):
            return "maxpool"
        if name.startswith("AvgPool"):
            return "avgpool"
        if name.startswith("AdaptiveAvgPool"):
            size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size,)
            return "gap" if all(s == 1 for s in size) else "unknown"
        if name == "Flatten":
            return "flatten"
        if name == "Hardswish":
            return "hardswish"
        return "unknown"
    if node.op == "call_function":
        if node.target in _FOLDED_FUNCTIONS:
            return "fold"
        name = op_name(node.target)
        if name in _SCALAR_OPS and _has_scalar(node):
            return "scalar"
        if name == "mul":
            return "mul"
        if node.target in _HARDSWISH_FUNCTIONS:
            return "hardswish"
        if node.target in _MEAN_FUNCTIONS:
            return "mean"
        if node.target in _ADD_FUNCTIONS or "add" in getattr(node.target, "__name__", ""):
            return "add"
        if node.target in _CAT_FUNCTIONS or "cat" in getattr(node.target, "__name__", ""):
            return "cat"
        if node.target in _FLATTEN_FUNCTIONS:
            return "flatten"
        return "unknown"
    if node.op == "call_method":
        if node.target in _FOLDED_METHODS:
            return "fold"
        if node.target in _FLATTEN_METHODS:
            return "flatten"
        if node.target == "add":
            return "add"
        if node.target == "mean":
            return "mean"
    return "unknown"


def op_name(target: object) -> str:
    """``add`` for operator.add and torch.add alike."""
    return str(getattr(target, "__name__", target)).rsplit(".", 1)[-1]


def _has_scalar(node: fx.Node) -> bool:
    """A binary op with exactly one tensor operand (the other a Python number)."""
    tensors = [a for a in node.args[:2] if isinstance(a, fx.Node)]
    return len(tensors) == 1 and any(isinstance(a, int | float) for a in node.args[:2])
