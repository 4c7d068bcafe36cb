"""The real toolchain (the ``tflm`` extra): PyTorch -> int8 .tflite with litert-torch, run in TFLite-Micro.

* :func:`convert_int8`: PT2E post-training quantization (per-channel symmetric weights, per-tensor activations,
  int8 input and output) and conversion to a .tflite flatbuffer, with channel-last input for conv nets.
* :func:`arena_use`: the tensor arena TFLM allocates for a model (head = planned activations and scratch,
  tail = persistent data), read from the runtime's own allocation report.
* :func:`invoke`: run a batch of int8 inputs through the TFLM interpreter.
* :func:`as_2d`: a 1-D (time-series) model as the equivalent 2-D model of height 1, which converts to a clean
  NHWC graph (the converter would otherwise add TRANSPOSE/RESHAPE ops and their arena buffers).
* :func:`strip_names`: drop tensor names from a .tflite (TFLM never reads them; they are 10-30 % of a small
  model's flash).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

DEFAULT_ARENA_BYTES = 16 * 1024 * 1024


def require_tflm() -> None:
    """Raise a clear error when the ``tflm`` extra is not installed."""
    try:
        import litert_torch  # noqa: F401
        import tflite_micro  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"the TFLite-Micro toolchain is not installed ({exc}); install it with `pip install 'tinymoo[tflm]'` "
            "(litert-torch and tflite-micro)"
        ) from exc


def convert_int8(model: nn.Module, input_shape: tuple[int, ...], calibration: Iterable[torch.Tensor]) -> bytes:
    """An int8 .tflite of a float ``model`` (eval mode) for one input of ``input_shape`` (no batch dim, NCHW).

    Args:
        calibration: float input batches (any batch size) in the model's own layout, for activation ranges.
    """
    require_tflm()
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer, quant_config
    from torchao.quantization.pt2e import quantize_pt2e

    model = model.eval()
    if len(input_shape) == 2:  # (channels, length): convert as (channels, 1, length)
        model, input_shape = as_2d(model), (input_shape[0], 1, input_shape[1])
        calibration = [b.unsqueeze(2) for b in calibration]
    channel_last = len(input_shape) >= 2
    wrapped = litert_torch.to_channel_last_io(model, args=[0]) if channel_last else model

    def layout(x: torch.Tensor) -> torch.Tensor:
        return x.movedim(1, -1).contiguous() if channel_last else x

    example = (layout(torch.zeros(1, *input_shape)),)
    with _quiet():
        exported = torch.export.export(wrapped, example).module()
        quantizer = _int8_quantizer_class()().set_global(
            pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True)
        )
        prepared = quantize_pt2e.prepare_pt2e(exported, quantizer)
        with torch.no_grad():
            for batch in calibration:
                for x in batch:
                    prepared(layout(x[None]))
        quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
        edge = litert_torch.convert(quantized, example, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer))
    data = strip_names(bytes(edge.model_content()))
    check_all_int8(data)
    return data


def _int8_quantizer_class() -> type:
    """litert-torch's PT2E quantizer, extended to quantize every op that TFLM runs in int8.

    Under torch.export in this torch version litert-torch's annotators for ``add`` and ``mul`` find nothing (they
    look for source partitions that the exported graph no longer records), and it has none for ``hardswish`` or
    ``mean``. Such an op then stays float wherever no consumer happens to observe its output (a residual add at the
    end of a block, a squeeze-excite gate), and the .tflite gets DEQUANTIZE/QUANTIZE pairs around a float op.
    This annotates those ops with the same activation spec as every other op; an add followed by a ReLU/ReLU6 is
    quantized after the activation, so the converter still fuses it. ``avg_pool2d`` (and the flatten after it)
    shares its input's quantization, as AVERAGE_POOL_2D requires.
    """
    from litert_torch.quantize import pt2e_quantizer, pt2e_quantizer_utils
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    aten = torch.ops.aten
    binary = {aten.add.Tensor, aten.mul.Tensor}
    shared = {aten.avg_pool2d.default}  # AVERAGE_POOL_2D keeps its input's quantization, like MAX_POOL_2D
    unary = {aten.hardswish.default, aten.mean.dim, aten.mean.default}
    fused = {aten.relu.default, aten.relu6.default, aten.hardtanh.default}

    class Int8Quantizer(pt2e_quantizer.PT2EQuantizer):  # type: ignore[misc]
        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            model = super().annotate(model)
            config = self.global_config
            if config is None:
                return model
            act_in = pt2e_quantizer_utils.get_input_act_qspec(config)
            act_out = pt2e_quantizer_utils.get_output_act_qspec(config)
            for node in model.graph.nodes:
                if node.op != "call_function" or node.target not in binary | unary:
                    continue
                if "quantization_annotation" in node.meta:
                    continue
                args = node.args[:2] if node.target in binary else node.args[:1]
                inputs = {a: act_in for a in args if isinstance(a, torch.fx.Node)}
                users = list(node.users)
                if len(users) == 1 and users[0].target in fused and node.target in binary:
                    node.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map=inputs, _annotated=True
                    )
                    if "quantization_annotation" not in users[0].meta:
                        users[0].meta["quantization_annotation"] = QuantizationAnnotation(
                            output_qspec=act_out, _annotated=True
                        )
                    continue
                node.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map=inputs, output_qspec=act_out, _annotated=True
                )
            for node in model.graph.nodes:
                if node.op != "call_function" or node.target not in shared or "quantization_annotation" in node.meta:
                    continue
                x = node.args[0]
                if isinstance(x, torch.fx.Node):
                    node.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={x: SharedQuantizationSpec(x)},
                        output_qspec=SharedQuantizationSpec((x, node)),
                        _annotated=True,
                    )
            # the view/permute of a flatten after such a pool shares its quantization too (litert-torch propagated
            # inside super().annotate(), before the pool had any)
            pt2e_quantizer_utils.propagate_annotation(model)
            return model

    return Int8Quantizer


class NotInt8Error(RuntimeError):
    """The converter left part of the graph in float (e.g. a residual ADD it could not quantize)."""


def check_all_int8(data: bytes) -> None:
    """Raise :class:`NotInt8Error` unless every activation is int8 and no (de)quantize op is inside the graph."""
    from core.tflite_graph import TfliteGraph

    graph = TfliteGraph.from_bytes(data)
    floats = graph.float_tensors()
    stubs = [op for op in graph.op_names() if op in ("DEQUANTIZE", "QUANTIZE")]
    if floats or stubs:
        raise NotInt8Error(
            f"the converted graph is not all int8: {len(floats)} float activation tensor(s), ops {stubs or 'none'} "
            f"(ops: {', '.join(graph.op_names())}). An op the int8 quantizer does not annotate is a known cause, "
            "and so are degenerate activation ranges (an untrained model whose activations are all near zero)"
        )


def strip_names(data: bytes) -> bytes:
    """``data`` without tensor and subgraph names (same graph, weights, arena and outputs)."""
    import flatbuffers
    from tflite_micro import runtime

    model = runtime.convert_bytearray_to_object(bytearray(data))
    for sg in model.subgraphs:
        sg.name = None
        for t in sg.tensors:
            t.name = None
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def as_2d(model: nn.Module) -> nn.Module:
    """A copy of a 1-D model (input ``N x C x L``) as a 2-D one taking ``N x C x 1 x L``, with the same weights.

    Conv1d becomes Conv2d with kernel ``(1, k)``; BatchNorm/pooling become their 2-D versions over ``(1, k)``;
    a flatten or linear head sees the same values in the same order (the extra dimension has size 1).
    """
    import copy

    out = copy.deepcopy(model).eval()
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
            parent, _, leaf = name.rpartition(".")
            setattr(out.get_submodule(parent) if parent else out, leaf, new.eval())
    return out


def _one(v: object) -> int:
    return int(v[0]) if isinstance(v, tuple | list) else int(v)  # type: ignore[call-overload]


@dataclass(frozen=True)
class ArenaUse:
    """TFLM tensor-arena use in bytes: ``head`` (planned activations + scratch), ``tail`` (persistent)."""

    head: int
    tail: int
    total: int


def arena_use(data: bytes, arena_bytes: int = DEFAULT_ARENA_BYTES) -> ArenaUse:
    """Allocate ``data`` in the TFLM interpreter and read its allocation report (written to C stderr)."""
    require_tflm()
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena_bytes)
    report = _capture_fd2(interpreter.print_allocations)
    values = {k: int(v) for k, v in re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", report)}
    if set(values) != {"total", "head", "tail"}:
        raise RuntimeError(f"could not read TFLM's allocation report: {report[:500]!r}")
    return ArenaUse(values["head"], values["tail"], values["total"])


def invoke(data: bytes, inputs: np.ndarray, arena_bytes: int = DEFAULT_ARENA_BYTES) -> np.ndarray:
    """Outputs (int8 as stored) of ``inputs`` (int8, batch first, in the .tflite's layout) run one by one."""
    require_tflm()
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena_bytes)
    outs = []
    for x in inputs:
        interpreter.set_input(x[None], 0)
        interpreter.invoke()
        outs.append(np.array(interpreter.get_output(0))[0])
    return np.stack(outs)


def _capture_fd2(fn) -> str:  # type: ignore[no-untyped-def]
    """Run ``fn`` and return what it wrote to file descriptor 2 (C-level stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


@contextlib.contextmanager
def _quiet():  # type: ignore[no-untyped-def]
    """Silence the converter's progress lines and warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
            yield
