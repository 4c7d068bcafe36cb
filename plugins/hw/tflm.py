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
from typing import Any

import torch
from torch import nn

from core.api import Buffer, ConfigError, Cost, HardwareTarget, plan
from plugins.hw.tflite_lowering import LoweredGraph, lower

# -- persistent arena ("tail") -----------------------------------------------------------------------------------------
# Struct sizes are exact for TFLM's 64-bit host build (its allocation report lists them); ``pointer_bytes: 4``
# halves these pointer-sized structs for 32-bit MCUs. The kernel data sizes (per op type: each kernel's OpData and
# what its Prepare allocates, with alignment) are least-squares fits to the host build on the zoo of
# tests/tflm_zoo.py (38 nets when fitted; on today's 41 the max error is 1.8 %).
EVAL_TENSOR_BYTES = 24  # TfLiteEvalTensor, one per tensor (constants included)
NODE_BYTES = 64  # NodeAndRegistration, one per op
IO_TENSOR_BYTES = 2 * 64 + 64  # persistent TfLiteTensor of the input and output, and their quantization data
FIXED_TAIL_BYTES = 542  # subgraph and allocator bookkeeping (fitted)
WEIGHTED_OP_DATA_BYTES = 107  # OpData of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (fitted)
OP_DATA_BYTES = {  # OpData of the other ops (fitted)
    "MAX_POOL_2D": 75,
    "AVERAGE_POOL_2D": 75,
    "PAD": 61,
    "PADV2": 61,
    "MEAN": 80,
    "SUM": 80,
    "ADD": 72,
    "MUL": 58,
    "CONCATENATION": 123,
    "RESHAPE": 35,
    "TRANSPOSE": 9,
    "HARD_SWISH": 29,
}
OTHER_OP_DATA_BYTES = 79  # an op type not in OP_DATA_BYTES (none the lowering makes today)
REQUANT_BYTES_PER_CHANNEL = 8  # per-channel int32 output multiplier + int32 shift

# -- flatbuffer (tinymoo's export: names stripped) --------------------------------------------------------------------
QPARAM_BYTES_PER_CHANNEL = 12  # float32 scale + int64 zero point, for the weight and again for the bias
# Fitted on the 41 nets of the zoo, converted from tinymoo's int8 graphs (core/trial/int8.py), by `python -m
# benchmarks.cost_model_fit` (non-negative least squares on the relative error; max error 2.4 %): a fixed part
# (header, signature, metadata), per distinct op type its operator code, and per op its operator table entry,
# builtin options and its tensors' tables (shape, quantization, buffer). Op types of one kind share a value
# (PAD/PADV2, MAX/AVERAGE_POOL_2D, MEAN/SUM, CONCATENATION/ADD); HARD_SWISH is set, not fitted (it always comes
# with a MUL in the zoo's nets).
FLATBUFFER_FIXED_BYTES = 328
FLATBUFFER_OP_CODE_BYTES = 116
FLATBUFFER_OP_BYTES = {
    "CONV_2D": 284,
    "DEPTHWISE_CONV_2D": 255,
    "FULLY_CONNECTED": 373,
    "MAX_POOL_2D": 144,
    "AVERAGE_POOL_2D": 144,
    "PAD": 135,
    "PADV2": 135,
    "MEAN": 190,
    "SUM": 190,
    "ADD": 133,
    "MUL": 186,
    "HARD_SWISH": 150,
    "CONCATENATION": 133,
    "RESHAPE": 140,
    "TRANSPOSE": 90,
}
FLATBUFFER_OTHER_OP_BYTES = 150  # an op type not in FLATBUFFER_OP_BYTES (none the lowering makes today)

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
# TFLM's host build, which core.tflm.runtime runs (the tflite-micro wheel): its structs have 8-byte pointers and it
# runs the reference kernels, so its arena has no CMSIS-NN scratch buffers
HOST_SETTINGS: dict[str, Any] = {"core": "x86-64", "pointer_bytes": 8, "kernels": "reference"}


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
    return len(g.tensors) + sum(2 if op.weight_bytes else 0 for op in g.ops) + len(g.constants())


def persistent_bytes(g: LoweredGraph, pointer_bytes: int = 8) -> int:
    """TFLM's persistent arena ("tail") for graph ``g`` (see the module constants)."""
    structs = EVAL_TENSOR_BYTES * n_tensors(g) + NODE_BYTES * len(g.ops) + IO_TENSOR_BYTES + FIXED_TAIL_BYTES
    op_data = sum(
        WEIGHTED_OP_DATA_BYTES if op.channels else OP_DATA_BYTES.get(op.op, OTHER_OP_DATA_BYTES) for op in g.ops
    )
    requant = REQUANT_BYTES_PER_CHANNEL * sum(op.channels for op in g.ops)
    return math.ceil(structs * pointer_bytes / 8) + op_data + requant


def flatbuffer_bytes(g: LoweredGraph) -> dict[str, int]:
    """Breakdown of the exported .tflite's size for graph ``g``."""
    weights = sum(op.weight_bytes for op in g.ops)
    biases = sum(op.bias_bytes for op in g.ops)
    qparams = 2 * QPARAM_BYTES_PER_CHANNEL * sum(op.channels for op in g.ops)
    per_op = sum(FLATBUFFER_OP_BYTES.get(op.op, FLATBUFFER_OTHER_OP_BYTES) for op in g.ops)
    codes = FLATBUFFER_OP_CODE_BYTES * len({op.op for op in g.ops})
    overhead = FLATBUFFER_FIXED_BYTES + codes + per_op + sum(g.constants().values())
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
            from core.api import require_tflm

            require_tflm()
        if pointer_bytes not in (4, 8):
            raise ValueError(f"pointer_bytes must be 4 or 8, got {pointer_bytes}")
        self.name, self.core = name, core
        self.flash_bytes, self.sram_bytes = int(flash_bytes), int(sram_bytes)
        self.runtime_flash_bytes, self.reserved_sram_bytes = int(runtime_flash_bytes), int(reserved_sram_bytes)
        self.clock_hz, self.cycles_per_mac = float(clock_hz), float(cycles_per_mac)
        self.max_macs, self.max_latency_s = int(max_macs), float(max_latency_s)
        self.kernels, self.pointer_bytes, self.measure = kernels, int(pointer_bytes), measure

    def host_settings(self) -> TflmTarget:
        """This board's cost model with the settings of TFLM's host build (x86-64 core, 8-byte pointers, reference
        kernels, fast path): the estimate that :func:`core.tflm.runtime.arena_use` measures, like for like."""
        return TflmTarget(
            f"{self.name} (host build settings)", self.flash_bytes, self.sram_bytes, self.runtime_flash_bytes,
            self.reserved_sram_bytes, self.clock_hz, HOST_SETTINGS["core"], self.cycles_per_mac, self.max_macs,
            self.max_latency_s, kernels=HOST_SETTINGS["kernels"], pointer_bytes=HOST_SETTINGS["pointer_bytes"],
        )  # fmt: skip

    def settings(self) -> dict[str, Any]:
        """The settings the estimate depends on besides the model."""
        return {"core": self.core, "pointer_bytes": self.pointer_bytes, "kernels": self.kernels}

    def cost(self, model: nn.Module, input_shape: tuple[int, ...]) -> Cost:
        g = lower(model, input_shape)
        scratch = cmsis_nn_scratch(g) if self.kernels == "cmsis-nn" else []
        _, head = plan(g.buffers() + scratch)
        tail = persistent_bytes(g, self.pointer_bytes)
        flash_parts = flatbuffer_bytes(g)
        details: dict[str, float] = {
            **flash_parts,
            "arena_head_bytes": head,
            "arena_tail_bytes": tail,
            "ops": len(g.ops),
        }
        if scratch:  # how much CMSIS-NN's scratch buffers add to the head the reference kernels would need
            details["cmsis_nn_scratch_head_bytes"] = head - plan(g.buffers())[1]
        flash, ram = sum(flash_parts.values()), head + tail
        if self.measure == "tflm":
            from core.api import arena_use, convert_int8

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


def estimate_vs_measurement(
    hw: HardwareTarget, model: nn.Module, input_shape: tuple[int, ...], head: int, tail: int, tflite_bytes: int
) -> dict[str, Any]:
    """The estimates next to a measurement in TFLM's host build (``head``/``tail`` of the arena, the .tflite size).

    Three clearly separate things: ``host_estimate`` (the cost model run with the host build's settings, which must
    agree with the measurement: the head byte for byte), ``board_estimate`` (the cost model with the board's own
    settings, what the search optimized) and ``board_estimate_parts`` (which parts of the board estimate the host
    measurement verifies and which are modelled only).
    """
    measured = {"flash_bytes": tflite_bytes, "arena_head_bytes": head, "arena_tail_bytes": tail}
    if not isinstance(hw, TflmTarget):
        cost = hw.cost(model, input_shape)
        return {
            "host_estimate": None,
            "board_estimate": {"board": getattr(hw, "name", type(hw).__name__), "flash_bytes": cost.flash_bytes,
                               "ram_bytes": cost.ram_bytes},
            "board_estimate_parts": {"verified": [], "modelled": [f"all of it ({type(hw).__name__} is not the TFLM "
                                                                  "cost model)"]},
        }  # fmt: skip
    host = hw.host_settings().cost(model, input_shape)
    board_hw = hw if hw.measure == "estimate" else _estimating(hw)
    board = board_hw.cost(model, input_shape)
    h = {
        "settings": host_settings_text(),
        **HOST_SETTINGS,
        "flash_bytes": host.flash_bytes,
        "arena_head_bytes": host.details["arena_head_bytes"],
        "arena_tail_bytes": host.details["arena_tail_bytes"],
        "arena_total_bytes": host.ram_bytes,
    }
    h["ratio_to_measured"] = {
        "flash": round(host.flash_bytes / max(tflite_bytes, 1), 4),
        "arena_head": round(h["arena_head_bytes"] / max(head, 1), 4),
        "arena_tail": round(h["arena_tail_bytes"] / max(tail, 1), 4),
    }
    h["head_matches_measured"] = h["arena_head_bytes"] == head
    scratch = int(board.details.get("cmsis_nn_scratch_head_bytes", 0))
    b = {
        "board": hw.name,
        **hw.settings(),
        "flash_bytes": board.flash_bytes,
        "runtime_flash_bytes": hw.runtime_flash_bytes,
        "arena_head_bytes": board.details["arena_head_bytes"],
        "cmsis_nn_scratch_head_bytes": scratch,
        "arena_tail_bytes": board.details["arena_tail_bytes"],
        "ram_bytes": board.ram_bytes,
        "reserved_sram_bytes": hw.reserved_sram_bytes,
    }
    verified = [
        f"arena head without kernel scratch ({b['arena_head_bytes'] - scratch} B): TFLM's memory planner over the "
        f"predicted graph, the same on every board; with the host's settings it is {h['arena_head_bytes']} B "
        f"against {head} B measured",
        f"flash of the model ({b['flash_bytes']} B): the .tflite, the same on every board; "
        f"{h['ratio_to_measured']['flash']:.3f} x the measured {tflite_bytes} B",
    ]
    modelled = []
    if hw.pointer_bytes != HOST_SETTINGS["pointer_bytes"]:
        modelled.append(
            f"arena tail at {hw.pointer_bytes}-byte pointers ({b['arena_tail_bytes']} B): the host's tail "
            f"({h['arena_tail_bytes']} B estimated, {tail} B measured) with its pointer-sized structs scaled; "
            "not measured on the board"
        )
    else:
        ratio = h["ratio_to_measured"]["arena_tail"]
        verified.append(f"arena tail ({b['arena_tail_bytes']} B): {ratio:.3f} x the measured {tail} B")
    if hw.kernels == "cmsis-nn":
        modelled.append(
            f"CMSIS-NN scratch buffers (+{scratch} B of head): from CMSIS-NN's buffer-size functions; the host build "
            "runs the reference kernels, which request none"
        )
    modelled.append(
        f"runtime code ({hw.runtime_flash_bytes} B of flash) and reserved SRAM ({hw.reserved_sram_bytes} B): the "
        "board file's figures, taken off its capacities"
    )
    return {
        "measured": {"where": "TFLM host build (" + host_settings_text() + ")", **measured},
        "host_estimate": h,
        "board_estimate": b,
        "board_estimate_parts": {"verified": verified, "modelled": modelled},
    }


def host_settings_text() -> str:
    return (
        f"{HOST_SETTINGS['core']}, {HOST_SETTINGS['pointer_bytes']}-byte pointers, {HOST_SETTINGS['kernels']} kernels"
    )


def _estimating(hw: TflmTarget) -> TflmTarget:
    """``hw`` with ``measure: estimate`` (the board estimate never converts the model)."""
    import copy

    out = copy.copy(hw)
    out.measure = "estimate"
    return out
