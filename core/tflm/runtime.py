"""The real toolchain (the ``tflm`` extra): PyTorch -> int8 .tflite with litert-torch, run in TFLite-Micro.

* :func:`lower_int8`: the .tflite flatbuffer of an int8 model of :mod:`core.trial.int8` (the graph a trial scored),
  lowered by litert-torch: int8 input and output, channel-last input for conv nets, 1-D nets as 2-D.
* :func:`convert_int8`: the same for a float model, quantized post-training first.
* :func:`arena_use`: the tensor arena TFLM allocates for a model (head = planned activations and scratch,
  tail = persistent data), read from the runtime's own allocation report.
* :func:`invoke`: run a batch of int8 inputs through the TFLM interpreter.
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

from core.trial.deployed_layout import deployed_shape
from core.trial.int8 import Int8Model, post_training_int8
from core.trial.int8_quantizer import Int8Scheme

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


def lower_int8(model: Int8Model) -> bytes:
    """The .tflite of an int8 model (:mod:`core.trial.int8`): litert-torch lowers exactly its converted graph (the same
    scales; nothing is calibrated again), with batch 1 and the deployed (channel-last) input."""
    require_tflm()
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer, quant_config

    example = (torch.zeros(1, *deployed_shape(model.input_shape)),)
    # litert-torch reads only the static (not dynamic) mode of this config; the graph is quantized already
    config = quant_config.QuantConfig(
        pt2e_quantizer=pt2e_quantizer.PT2EQuantizer().set_global(
            pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True)
        )
    )
    with _quiet():
        edge = litert_torch.convert(model.graph, example, quant_config=config)
    data = strip_names(bytes(edge.model_content()))
    check_all_int8(data)
    return data


def convert_int8(
    model: nn.Module,
    input_shape: tuple[int, ...],
    calibration: Iterable[torch.Tensor],
    scheme: Int8Scheme | None = None,
) -> bytes:
    """The .tflite of a float ``model``: post-training int8 (:func:`core.trial.int8.post_training_int8`, calibrated on
    float ``calibration`` batches in the model's own layout), then :func:`lower_int8`."""
    return lower_int8(post_training_int8(model, tuple(input_shape), list(calibration), scheme or Int8Scheme()))


class NotInt8Error(RuntimeError):
    """The converter left part of the graph in float (e.g. a residual ADD it could not quantize)."""


def check_all_int8(data: bytes) -> None:
    """Raise :class:`NotInt8Error` unless every activation is int8 and no (de)quantize op is inside the graph."""
    from core.tflm.tflite_graph import TfliteGraph

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
