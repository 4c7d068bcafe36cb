"""A board running TensorFlow Lite for Microcontrollers: flash, SRAM, MACs and latency as TFLM would see them.

The fast path (``measure: estimate``, what the search uses) never converts the model:

1. :func:`plugins.hw.tflite_lowering.lower` predicts the int8 TFLite graph the converter makes (ops, converter-
   inserted PADs, activation tensors and constants);
2. SRAM = tensor arena = *head* + *tail*:
   * head: TFLM's greedy memory planner replayed over the activation tensors and, with ``kernels: cmsis-nn``, the
     scratch buffers CMSIS-NN's int8 kernels request (:func:`cmsis_nn_scratch`);
   * tail (persistent): per-tensor and per-op runtime structs, per-op kernel data and 8 bytes of requantization
     data (multiplier + shift) per output channel (:func:`persistent_bytes`);
   plus ``reserved_sram_bytes`` that the board keeps for stack, heap and application (checked, not costed);
3. flash = the .tflite flatbuffer as tinymoo exports it (tensor names stripped): int8 weights, int32 biases,
   per-channel scales (float32) and zero points (int64) of weights and biases, and the flatbuffer's per-tensor,
   per-op and fixed overhead (:func:`flatbuffer_bytes`); the runtime's code size is taken off the board's
   capacity (``runtime_flash_bytes``);
4. MACs of conv/linear layers, latency = MACs x ``cycles_per_mac`` / ``clock_hz``.

``measure: tflm`` (the ``tflm`` extra) instead converts every candidate with litert-torch and takes flash and SRAM
from the real .tflite and the real TFLite-Micro interpreter (host build: reference kernels, 64-bit structs), about
5 s per candidate; the estimate stays in the details for comparison.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.errors import ConfigError
from core.interfaces.hardware import Cost, HardwareTarget
from core.tflm_planner import Buffer, plan
from plugins.hw.tflite_lowering import LoweredGraph, lower

# -- persistent arena ("tail") -----------------------------------------------------------------------------------------
# Struct sizes are exact for TFLM's 64-bit host build (its allocation report lists them); ``pointer_bytes: 4``
# halves these pointer-sized structs for 32-bit MCUs. The kernel data sizes are least-squares fits to the host
# build on the zoo of tests/tflm_zoo.py (max error 3.4 %).
EVAL_TENSOR_BYTES = 24  # TfLiteEvalTensor, one per tensor (constants included)
NODE_BYTES = 64  # NodeAndRegistration, one per op
IO_TENSOR_BYTES = 2 * 64 + 64  # persistent TfLiteTensor of the input and output, and their quantization data
FIXED_TAIL_BYTES = 500  # subgraph and allocator bookkeeping (fitted)
WEIGHTED_OP_DATA_BYTES = 107  # OpData of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (fitted)
OTHER_OP_DATA_BYTES = 79  # OpData of pooling, mean, add, pad, reshape, ... (fitted)
REQUANT_BYTES_PER_CHANNEL = 8  # per-channel int32 output multiplier + int32 shift

# -- flatbuffer (tinymoo's export: names stripped) --------------------------------------------------------------------
QPARAM_BYTES_PER_CHANNEL = 12  # float32 scale + int64 zero point, for the weight and again for the bias
# Fitted on the zoo (max error 3.6 %): the fixed part (header, op codes, signature, metadata) and, per op, its
# operator table entry, builtin options and its tensors' shape and quantization tables.
FLATBUFFER_FIXED_BYTES = 740
FLATBUFFER_OP_BYTES = 248

KERNELS = ("cmsis-nn", "reference")
# CPU cores a board may name (the cost model uses clock_hz and cycles_per_mac; the core documents the board)
CORES = (
    "cortex-m0",
    "cortex-m0plus",
    "cortex-m3",
    "cortex-m4",
    "cortex-m4f",
    "cortex-m7",
    "cortex-m23",
    "cortex-m33",
    "cortex-m55",
    "cortex-m85",
    "xtensa-lx6",
    "xtensa-lx7",
    "riscv32",
    "x86-64",  # the host build of TFLM, which the cost model is checked against
)
MEASURE_MODES = ("estimate", "tflm")


def cmsis_nn_scratch(g: LoweredGraph) -> list[Buffer]:
    """Scratch buffers CMSIS-NN's int8 kernels request, each alive only during its op.

    From CMSIS-NN's ``*_get_buffer_size`` functions for cores with the DSP extension (Cortex-M4/M7/M33):
    ``arm_convolve_s8`` im2col of two columns, ``2 * C_in * K_h * K_w`` int16 values, none for 1x1 convolutions
    (``arm_convolve_1x1_s8_fast``); ``arm_depthwise_conv_s8_opt``: ``C * K_h * K_w`` int16 values.
    """
    out = []
    for i, op in enumerate(g.ops):
        if op.op == "CONV_2D" and op.channels:
            per_filter = op.weight_bytes // op.channels  # C_in * K_h * K_w
            kernel = per_filter // g.tensors[op.inputs[0]].shape[-1]
            if kernel > 1:
                out.append(Buffer(2 * per_filter * 2, i, i))
        elif op.op == "DEPTHWISE_CONV_2D" and op.channels:
            out.append(Buffer(op.weight_bytes * 2, i, i))
    return out


def n_tensors(g: LoweredGraph) -> int:
    """Tensors of the converted graph: activations, weights and biases, and small constants (axes, shapes)."""
    return len(g.tensors) + sum(2 if op.weight_bytes else 0 for op in g.ops) + sum(op.consts for op in g.ops)


def persistent_bytes(g: LoweredGraph, pointer_bytes: int = 8) -> int:
    """TFLM's persistent arena ("tail") for graph ``g`` (see the module constants)."""
    structs = EVAL_TENSOR_BYTES * n_tensors(g) + NODE_BYTES * len(g.ops) + IO_TENSOR_BYTES + FIXED_TAIL_BYTES
    op_data = sum(WEIGHTED_OP_DATA_BYTES if op.channels else OTHER_OP_DATA_BYTES for op in g.ops)
    requant = REQUANT_BYTES_PER_CHANNEL * sum(op.channels for op in g.ops)
    return math.ceil(structs * pointer_bytes / 8) + op_data + requant


def flatbuffer_bytes(g: LoweredGraph) -> dict[str, int]:
    """Breakdown of the exported .tflite's size for graph ``g``."""
    weights = sum(op.weight_bytes for op in g.ops)
    biases = sum(op.bias_bytes for op in g.ops)
    qparams = 2 * QPARAM_BYTES_PER_CHANNEL * sum(op.channels for op in g.ops)
    overhead = FLATBUFFER_FIXED_BYTES + FLATBUFFER_OP_BYTES * len(g.ops) + sum(op.const_bytes for op in g.ops)
    return {
        "weight_bytes": weights,
        "bias_bytes": biases,
        "qparam_bytes": qparams,
        "flatbuffer_overhead_bytes": overhead,
    }


class TflmTarget(HardwareTarget):
    """A microcontroller board running TFLite-Micro (see the module docstring).

    Args:
        name / core / clock_hz: the board, its CPU core and clock.
        flash_bytes / sram_bytes: capacities in bytes.
        runtime_flash_bytes: TFLM interpreter + kernels code in flash, bytes.
        reserved_sram_bytes: SRAM kept out of the tensor arena (stack, heap, application), bytes.
        cycles_per_mac: average cycles per int8 MAC of the board's kernels.
        max_macs / max_latency_s: budgets (reference point of the ``macs`` and ``latency`` objectives).
        kernels: ``cmsis-nn`` (optimized Arm kernels, with their scratch buffers) or ``reference``.
        pointer_bytes: pointer size of the target (4 on 32-bit MCUs; 8 reproduces the host build).
        measure: ``estimate`` (the fast path) or ``tflm`` (convert and measure in the real runtime).
    """

    def __init__(
        self,
        name: str,
        flash_bytes: int,
        sram_bytes: int,
        runtime_flash_bytes: int,
        reserved_sram_bytes: int,
        clock_hz: float,
        core: str,
        cycles_per_mac: float,
        max_macs: int,
        max_latency_s: float,
        kernels: str = "cmsis-nn",
        pointer_bytes: int = 4,
        measure: str = "estimate",
    ) -> None:
        if core not in CORES:
            raise ConfigError("hw.core", f"unknown CPU core {core!r}", choices=CORES)
        sizes = {"flash_bytes": flash_bytes, "sram_bytes": sram_bytes, "max_macs": max_macs}
        sizes |= {"runtime_flash_bytes": runtime_flash_bytes, "reserved_sram_bytes": reserved_sram_bytes}
        for key, value in sizes.items():
            low = 0 if key.startswith(("runtime", "reserved")) else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"hw.{key}", f"must be an integer >= {low}, got {value!r}")
        rates = {"clock_hz": clock_hz, "cycles_per_mac": cycles_per_mac, "max_latency_s": max_latency_s}
        for key, number in rates.items():
            if isinstance(number, bool) or not isinstance(number, int | float) or not number > 0:
                raise ConfigError(f"hw.{key}", f"must be a number > 0, got {number!r}")
        if flash_bytes <= runtime_flash_bytes or sram_bytes <= reserved_sram_bytes:
            raise ValueError(
                f"board {name}: runtime_flash_bytes/reserved_sram_bytes leave no room "
                f"(flash {flash_bytes} vs {runtime_flash_bytes}, SRAM {sram_bytes} vs {reserved_sram_bytes})"
            )
        if kernels not in KERNELS:
            raise ValueError(f"kernels must be one of {', '.join(KERNELS)}, got {kernels!r}")
        if measure not in MEASURE_MODES:
            raise ValueError(f"measure must be one of {', '.join(MEASURE_MODES)}, got {measure!r}")
        if measure == "tflm":
            from core.tflm_runtime import require_tflm

            require_tflm()
        if pointer_bytes not in (4, 8):
            raise ValueError(f"pointer_bytes must be 4 or 8, got {pointer_bytes}")
        self.name, self.core = name, core
        self.flash_bytes, self.sram_bytes = int(flash_bytes), int(sram_bytes)
        self.runtime_flash_bytes, self.reserved_sram_bytes = int(runtime_flash_bytes), int(reserved_sram_bytes)
        self.clock_hz, self.cycles_per_mac = float(clock_hz), float(cycles_per_mac)
        self.max_macs, self.max_latency_s = int(max_macs), float(max_latency_s)
        self.kernels, self.pointer_bytes, self.measure = kernels, int(pointer_bytes), measure

    def cost(self, model: nn.Module, input_shape: tuple[int, ...]) -> Cost:
        g = lower(model, input_shape)
        scratch = cmsis_nn_scratch(g) if self.kernels == "cmsis-nn" else []
        _, head = plan(g.buffers() + scratch)
        tail = persistent_bytes(g, self.pointer_bytes)
        flash_parts = flatbuffer_bytes(g)
        details = {**flash_parts, "arena_head_bytes": head, "arena_tail_bytes": tail, "ops": len(g.ops)}
        flash, ram = sum(flash_parts.values()), head + tail
        if self.measure == "tflm":
            from core.tflm_runtime import arena_use, convert_int8

            # sizes do not depend on the calibration data, only on the architecture
            data = convert_int8(
                model, input_shape, [torch.randn(8, *input_shape, generator=torch.Generator().manual_seed(0))]
            )
            arena = arena_use(data)
            details.update({"estimated_flash_bytes": flash, "estimated_ram_bytes": ram, "tflm_head_bytes": arena.head,
                            "tflm_tail_bytes": arena.tail})  # fmt: skip
            flash, ram = len(data), arena.total
        macs = g.macs
        return Cost(int(flash), int(ram), int(macs), macs * self.cycles_per_mac / self.clock_hz, details)
