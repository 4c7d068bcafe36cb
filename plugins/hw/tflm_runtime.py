"""The real toolchain (the ``tflm`` extra): PyTorch -> int8 .tflite with litert-torch, run in TFLite-Micro.

* :func:`convert_int8`: PT2E post-training quantization (per-channel symmetric weights, per-tensor activations,
  int8 input and output) and conversion to a .tflite flatbuffer, with channel-last input for conv nets.
* :func:`arena_use`: the tensor arena TFLM allocates for a model (head = planned activations and scratch,
  tail = persistent data), read from the runtime's own allocation report.
* :func:`invoke`: run a batch of int8 inputs through the TFLM interpreter.
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
    channel_last = len(input_shape) >= 2
    wrapped = litert_torch.to_channel_last_io(model, args=[0]) if channel_last else model

    def layout(x: torch.Tensor) -> torch.Tensor:
        return x.movedim(1, -1).contiguous() if channel_last else x

    example = (layout(torch.zeros(1, *input_shape)),)
    with _quiet():
        exported = torch.export.export(wrapped, example).module()
        quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
            pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True)
        )
        prepared = quantize_pt2e.prepare_pt2e(exported, quantizer)
        with torch.no_grad():
            for batch in calibration:
                for x in batch:
                    prepared(layout(x[None]))
        quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
        edge = litert_torch.convert(quantized, example, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer))
    return bytes(edge.model_content())


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
