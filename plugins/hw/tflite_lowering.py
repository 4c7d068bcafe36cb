"""Predict the int8 TFLite graph the converter makes of a PyTorch model, without converting it.

The float model (trained or not, pruned or not) is traced with torch.fx and shape-propagated. Each node is
lowered the way litert-torch's converter lowers it (checked against real conversions in ``tests/test_tflm.py``):

* Conv1d/Conv2d (+ BatchNorm + ReLU/ReLU6, fused) -> ``CONV_2D`` or ``DEPTHWISE_CONV_2D``; 1-D layers run as 2-D
  with height 1 (tinymoo's export rewrites them so). A convolution whose PyTorch padding is neither TF's SAME
  nor VALID padding (e.g. a stride-2 3x3 conv with padding 1 on an even input) gets a ``PAD`` op before it,
  whose padded output is a real arena buffer.
* Linear -> ``FULLY_CONNECTED``; residual add -> ``ADD`` (a following ReLU is fused); concatenation ->
  ``CONCATENATION``; max/avg pooling -> ``MAX_POOL_2D``/``AVERAGE_POOL_2D``, after a ``PADV2`` (max) or ``PAD``
  (average) where PyTorch's padding (with ``ceil_mode``'s extra) is not TF's SAME or VALID padding (an average
  pool with padding always gets the ``PAD``); global average pooling -> ``MEAN``.
* Flatten of a ``C x H x W`` tensor with ``C > 1`` and ``H*W > 1`` -> ``TRANSPOSE`` (back to PyTorch's channel
  order) + ``RESHAPE``; other flattens are a ``RESHAPE``, or nothing after a global pool or when one pixel
  (``H*W == 1``) goes into a Linear (``FULLY_CONNECTED`` flattens it itself).
* Equal small constants (paddings, axes, permutations, shapes, scalars) are one tensor, as the converter stores
  them (:meth:`LoweredGraph.constants`).
* Anything else raises :class:`LoweringError`, one paragraph naming the layer and the supported ones.
* Hard-swish -> ``HARD_SWISH``; ``torch.mean`` over the spatial dims (squeeze-excite) -> ``MEAN``; a product of
  two tensors (the SE gate) -> ``MUL``.
* An op with a scalar constant (``x + 3``, ``x * (1/6)``: hard-sigmoid) -> ``ADD``/``MUL`` with a quantized
  constant, in place (channel-last, like every other op: tinymoo's int8 graph is captured channel-last).
* BatchNorm, ReLU, ReLU6 (also after a scalar add), dropout and identity are folded into their producer.

Every op's output is an int8 tensor; constants (weights, int32 biases, per-channel quantization parameters) go
to flash. Lifetimes follow TFLM's allocation-info builder, so :func:`core.tflm.planner.plan` gives the
arena head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from core.api import Buffer
from plugins.hw.tflite_ops import SUPPORTED, op_kind, op_name, unsupported

_AXES = ("axes", (1, 2))  # the spatial axes of a MEAN/SUM


class LoweringError(ValueError):
    """The model contains an op the TFLite lowering does not know; its cost cannot be predicted exactly."""


@dataclass
class LoweredTensor:
    """An int8 activation tensor: ``shape`` in NHWC (or ``N x F``), alive from op ``first`` to op ``last``."""

    shape: tuple[int, ...]
    first: int
    last: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape)


@dataclass
class LoweredOp:
    """One TFLite operator with the ids of its activation inputs/outputs and its constant payload."""

    op: str
    inputs: list[int]
    output: int
    weight_bytes: int = 0
    bias_bytes: int = 0
    channels: int = 0  # per-channel quantization: output channels of the weight (0 = per-tensor or none)
    macs: int = 0
    consts: int = 0  # constant tensors besides weight/bias (axes, shapes, paddings)
    const_bytes: int = 0
    # the constants' values, one key each: the converter stores equal constants (the same paddings, axes,
    # permutation or shape) once, as one tensor; empty = every constant is distinct
    const_keys: tuple[object, ...] = ()


@dataclass
class LoweredGraph:
    """The predicted TFLite graph: activation tensors (id = index) and ops in execution order."""

    tensors: list[LoweredTensor] = field(default_factory=list)
    ops: list[LoweredOp] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def add_tensor(self, shape: tuple[int, ...]) -> int:
        step = len(self.ops)
        self.tensors.append(LoweredTensor(tuple(int(s) for s in shape), step, step))
        return len(self.tensors) - 1

    def add_op(self, op: LoweredOp) -> None:
        step = len(self.ops)
        for i in op.inputs:
            self.tensors[i].last = max(self.tensors[i].last, step)
        self.tensors[op.output].first = step
        self.tensors[op.output].last = max(self.tensors[op.output].last, step)
        self.ops.append(op)

    def buffers(self) -> list[Buffer]:
        """Arena buffers (tensor order), graph outputs alive until the last op."""
        end = len(self.ops) - 1
        return [Buffer(t.nbytes, t.first, end if i in self.outputs else t.last) for i, t in enumerate(self.tensors)]

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    def op_names(self) -> list[str]:
        return [op.op for op in self.ops]

    def constants(self) -> dict[object, int]:
        """The graph's distinct small constants (axes, shapes, paddings, scalars; not weights or biases): bytes by
        value key. Equal values are one tensor and one buffer in the converted graph."""
        out: dict[object, int] = {}
        for i, op in enumerate(self.ops):
            keys = op.const_keys or tuple((i, j) for j in range(op.consts))
            for key in keys:
                out.setdefault(key, op.const_bytes // max(op.consts, 1))
        return out


def lower(model: nn.Module, input_shape: tuple[int, ...]) -> LoweredGraph:
    """The TFLite graph the converter would make of ``model`` for one input of ``input_shape`` (no batch)."""
    gm = model if isinstance(model, fx.GraphModule) else fx.symbolic_trace(model)
    was_training = gm.training
    gm.eval()
    with torch.no_grad():
        ShapeProp(gm).propagate(torch.zeros(1, *input_shape))
    gm.train(was_training)
    modules = dict(gm.named_modules())
    g = LoweredGraph()
    tensor_of: dict[fx.Node, int] = {}  # fx node -> the lowered tensor holding its value
    pooled: set[int] = set()  # tensors produced by a global pool (a flatten after them is free)

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            tensor_of[node] = g.add_tensor(_nhwc(_shape(node)))
            g.inputs.append(tensor_of[node])
            continue
        if node.op == "get_attr":
            continue
        if node.op == "output":
            for a in node.all_input_nodes:
                if a in tensor_of:
                    g.outputs.append(tensor_of[a])
            continue
        src = next((a for a in node.all_input_nodes if a in tensor_of), None)
        kind = op_kind(node, modules)
        if kind == "fold":
            if src is None:
                raise LoweringError(f"cannot lower {node.format_node()}: no tensor input")
            tensor_of[node] = tensor_of[src]
            continue
        if src is None:
            raise LoweringError(f"cannot lower {node.format_node()}: no tensor input")
        x = tensor_of[src]
        if kind == "scalar":
            out = g.add_tensor(g.tensors[x].shape)
            op = "MUL" if op_name(node.target) in ("mul", "truediv", "div", "mul_scalar") else "ADD"
            scalar = next(a for a in node.args[:2] if isinstance(a, int | float))
            g.add_op(LoweredOp(op, [x], out, consts=1, const_bytes=1, const_keys=(("scalar", op, float(scalar)),)))
            tensor_of[node] = out
            continue
        if kind == "conv":
            tensor_of[node] = _lower_conv(g, x, modules[str(node.target)], _shape(src), _shape(node))
        elif kind == "linear":
            m = modules[str(node.target)]
            out = g.add_tensor(_nhwc(_shape(node)))
            in_f, out_f = int(m.in_features), int(m.out_features)
            g.add_op(
                LoweredOp(
                    "FULLY_CONNECTED",
                    [x],
                    out,
                    in_f * out_f,
                    4 * out_f,
                    out_f,
                    math.prod(_shape(node)[:-1]) * in_f * out_f,
                )
            )
            tensor_of[node] = out
        elif kind in ("maxpool", "avgpool"):
            tensor_of[node] = _lower_pool(g, x, node, modules[str(node.target)], _shape(src), _shape(node))
        elif kind == "gap":
            shape = _shape(node)
            out = g.add_tensor((shape[0], shape[1]))
            spatial = math.prod(_shape(src)[2:])
            g.add_op(
                LoweredOp("SUM" if spatial == 1 else "MEAN", [x], out, consts=1, const_bytes=8, const_keys=(_AXES,))
            )
            tensor_of[node] = out
            pooled.add(out)
        elif kind == "flatten":
            into_linear = _feeds_only_linear(node, modules)
            tensor_of[node] = _lower_flatten(g, x, _shape(src), _shape(node), x in pooled, into_linear)
        elif kind in ("add", "mul"):
            ins = [tensor_of[a] for a in node.all_input_nodes if a in tensor_of]
            out = g.add_tensor(_nhwc(_shape(node)))
            g.add_op(LoweredOp(kind.upper(), ins, out))
            tensor_of[node] = out
        elif kind == "hardswish":
            out = g.add_tensor(g.tensors[x].shape)
            g.add_op(LoweredOp("HARD_SWISH", [x], out))
            tensor_of[node] = out
        elif kind == "mean" and len(_shape(node)) > 2 and math.prod(_shape(src)[2:]) == 1:
            tensor_of[node] = x  # a keepdim mean over one pixel is the identity: the converter drops it
        elif kind == "mean":
            out = g.add_tensor(_nhwc(_shape(node)))
            g.add_op(LoweredOp("MEAN", [x], out, consts=1, const_bytes=8, const_keys=(_AXES,)))
            tensor_of[node] = out
            if len(_shape(node)) == 2:
                pooled.add(out)
        elif kind == "cat":
            ins = [tensor_of[a] for a in node.all_input_nodes if a in tensor_of]
            out = g.add_tensor(_nhwc(_shape(node)))
            g.add_op(LoweredOp("CONCATENATION", ins, out))
            tensor_of[node] = out
        else:
            raise LoweringError(unsupported(node, modules))
    return g


def _lower_conv(g: LoweredGraph, x: int, m: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    k, s, d = _pair(m.kernel_size, 1), _pair(m.stride, 1), _pair(m.dilation, 1)
    p = _pair(m.padding, 0) if not isinstance(m.padding, str) else (0, 0)
    spatial_in = _spatial(in_shape)
    if not _tf_padding_matches(spatial_in, k, s, p, d):
        padded = (in_shape[0], spatial_in[0] + 2 * p[0], spatial_in[1] + 2 * p[1], in_shape[1])
        pad_out = g.add_tensor(padded)
        g.add_op(LoweredOp("PAD", [x], pad_out, consts=1, const_bytes=4 * 2 * 4, const_keys=(("pad", p, p),)))
        x = pad_out
    c_in, c_out, groups = (int(getattr(m, a)) for a in ("in_channels", "out_channels", "groups"))
    depthwise = (groups == c_in and groups > 1) or c_in == 1
    out = g.add_tensor(_nhwc(out_shape))
    w = c_out * (c_in // groups) * k[0] * k[1]
    macs = math.prod(out_shape) * (c_in // groups) * k[0] * k[1]
    g.add_op(LoweredOp("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x], out, w, 4 * c_out, c_out, macs))
    return out


def _lower_flatten(
    g: LoweredGraph, x: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...], pooled: bool, into_linear: bool
) -> int:
    if pooled or len(in_shape) <= 2:
        return x
    channels, spatial = in_shape[1], math.prod(in_shape[2:])
    if spatial == 1 and into_linear:  # FULLY_CONNECTED flattens a 1x1xC input itself: the converter drops the RESHAPE
        return x
    if channels > 1 and spatial > 1:  # NHWC -> NCHW so the flattened order is PyTorch's
        t = g.add_tensor(g.tensors[x].shape)
        g.add_op(LoweredOp("TRANSPOSE", [x], t, consts=1, const_bytes=16, const_keys=(("perm", True),)))
        x = t
    out = g.add_tensor(tuple(out_shape))
    g.add_op(LoweredOp("RESHAPE", [x], out, consts=1, const_bytes=8, const_keys=(("shape", tuple(out_shape)),)))
    return out


def _lower_pool(
    g: LoweredGraph, x: int, node: fx.Node, m: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> int:
    """MAX_POOL_2D / AVERAGE_POOL_2D, after the pad the converter inserts where PyTorch's padding is not TF's.

    The converter keeps a pool whose padding (PyTorch's symmetric ``p`` plus, with ``ceil_mode``, the extra
    right-hand padding of the last window) is TF's VALID or SAME padding; otherwise it pads explicitly first:
    ``PADV2`` with the int8 minimum before a max pool, a zero ``PAD`` before an average pool. An average pool
    with padding always gets the ``PAD`` (PyTorch counts the padded zeros, TF's SAME does not).
    """
    name = type(m).__name__
    one_d = len(in_shape) == 3
    k, s, p = (
        _pool_pair(getattr(m, a), one_d, 0 if a == "padding" else 1) for a in ("kernel_size", "stride", "padding")
    )
    d = _pool_pair(getattr(m, "dilation", 1), one_d, 1)
    avg = name.startswith("AvgPool")
    refuse = ""
    if d != (1, 1):
        refuse = "dilation"
    elif getattr(m, "return_indices", False):
        refuse = "return_indices=True"
    elif avg and getattr(m, "divisor_override", None) is not None:
        refuse = "divisor_override"
    elif avg and any(p) and not getattr(m, "count_include_pad", True):
        refuse = "padding with count_include_pad=False"
    size, out = _spatial(in_shape), _spatial(out_shape)
    extra = tuple(max((o - 1) * si + ki - (n + 2 * pi), 0) for n, o, ki, si, pi in zip(size, out, k, s, p, strict=True))
    if avg and any(extra) and not refuse:
        refuse = "ceil_mode=True where it adds a partial window"
    if refuse:
        raise LoweringError(
            f"cannot lower layer '{node.target}' ({name}) to TFLite-Micro int8: {refuse} is not supported "
            f"(the converter leaves it in float or rescales it with extra ops). {SUPPORTED}"
        )
    same = all(
        (-(-n // si) == o) and _same_pads(n, ki, si, 1) == (pi, pi + ei)
        for n, o, ki, si, pi, ei in zip(size, out, k, s, p, extra, strict=True)
    )
    valid = not any(p) and not any(extra)
    if (avg and any(p)) or not (valid or same):
        padded = (in_shape[0], size[0] + 2 * p[0] + extra[0], size[1] + 2 * p[1] + extra[1], in_shape[1])
        pad_out = g.add_tensor(padded)
        key = ("pad", p, tuple(pi + ei for pi, ei in zip(p, extra, strict=True)))
        if avg:
            g.add_op(LoweredOp("PAD", [x], pad_out, consts=1, const_bytes=4 * 2 * 4, const_keys=(key,)))
        else:  # paddings and the pad value (int8 -128; 32 + 1 bytes, counted as 2 x 16)
            g.add_op(LoweredOp("PADV2", [x], pad_out, consts=2, const_bytes=2 * 16, const_keys=(key, ("pad value",))))
        x = pad_out
    out_t = g.add_tensor(_nhwc(out_shape))
    g.add_op(LoweredOp("AVERAGE_POOL_2D" if avg else "MAX_POOL_2D", [x], out_t))
    return out_t


def _same_pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TF's SAME padding (before, after) of one dimension."""
    eff = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


def _pool_pair(v: object, one_d: bool, height: int) -> tuple[int, int]:
    """A pooling parameter as (height, width): an int is square in 2-D; a 1-D pool's height gets ``height``."""
    if isinstance(v, tuple | list):
        return (int(v[0]), int(v[1])) if len(v) == 2 else (height, int(v[0]))
    return (height, int(v)) if one_d else (int(v), int(v))  # type: ignore[call-overload]


def _feeds_only_linear(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """Whether every consumer of ``node`` (looking through folded layers such as dropout) is a Linear layer."""
    users = list(node.users)
    if not users:
        return False
    for u in users:
        kind = op_kind(u, modules)
        if kind == "fold":
            if not _feeds_only_linear(u, modules):
                return False
        elif kind != "linear":
            return False
    return True


def _tf_padding_matches(
    size: tuple[int, int], k: tuple[int, int], s: tuple[int, int], p: tuple[int, int], d: tuple[int, int]
) -> bool:
    """Whether PyTorch's symmetric padding equals TF's VALID (all zero) or SAME padding in every dimension."""
    if all(pi == 0 for pi in p):
        return True
    for n, ki, si, pi, di in zip(size, k, s, p, d, strict=True):
        eff = (ki - 1) * di + 1
        out = -(-n // si)
        total = max((out - 1) * si + eff - n, 0)
        if (total // 2, total - total // 2) != (pi, pi):
            return False
    return True


def _shape(node: fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        raise LoweringError(f"no tensor shape for {node.format_node()}")
    return tuple(int(v) for v in meta.shape)


def _nhwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    """PyTorch NCHW / NCL shape -> TFLite NHWC (1-D as height 1); ``N x F`` unchanged."""
    if len(shape) == 4:
        n, c, h, w = shape
        return (n, h, w, c)
    if len(shape) == 3:
        n, c, length = shape
        return (n, 1, length, c)
    return shape


def _spatial(shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[2], shape[3]) if len(shape) == 4 else (1, shape[2])


def _pair(v: object, height: int) -> tuple[int, int]:
    """A 1-D or 2-D conv parameter as (height, width); a 1-D value gets ``height`` (1 for sizes, 0 for padding)."""
    if isinstance(v, tuple | list):
        return (int(v[0]), int(v[1])) if len(v) == 2 else (height, int(v[0]))
    return (int(v), int(v))  # type: ignore[call-overload]
