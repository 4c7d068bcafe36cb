"""Benchmark: the TFLM cost model's estimate against the real toolchain, per net of the test zoo.

For every net of ``tests/tflm_zoo.py``: the time of one ``TflmTarget.cost`` call (the search's fast path, on the
float model), the time to quantize the model (:mod:`core.trial.int8`), lower it with litert-torch and allocate it in the
TFLite-Micro interpreter (what ``hw.measure=tflm`` would cost), and estimate/TFLM ratios of the arena head, the
persistent tail and the .tflite size. The estimate uses the host build's settings (reference kernels, 8-byte
pointers) so it is comparable with the host interpreter.

Usage: ``python -m benchmarks.cost_model``; writes ``benchmarks/results/cost_model.json`` and prints a markdown
table. Needs the ``tflm`` extra.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.machine import machine_info
from core.tflm.runtime import NotInt8Error, arena_use, convert_int8
from plugins.hw.tflm import TflmTarget
from tests.tflm_zoo import ZOO

OUT = Path(__file__).resolve().parent / "results" / "cost_model.json"


def host_board() -> TflmTarget:
    """stm32f4's capacities with the host interpreter's settings (reference kernels, 64-bit structs)."""
    return TflmTarget(
        "host",
        524288,
        131072,
        81920,
        16384,
        180e6,
        "x86-64",
        1.5,
        12_000_000,
        0.1,
        kernels="reference",
        pointer_bytes=8,
    )


def _median_ms(fn: Callable[[], Any], repeats: int = 9) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(name: str) -> dict[str, Any]:
    """One zoo net: estimate and its time, conversion + TFLM allocation and its time."""
    factory, shape = ZOO[name]
    board = host_board()
    torch.manual_seed(0)
    model = factory().eval()
    x = torch.randn(16, *shape)
    est = board.cost(model, shape)
    t = time.perf_counter()
    try:
        data = convert_int8(model, shape, [x])
    except NotInt8Error as exc:  # a net whose graph the converter leaves partly in float
        return {"net": name, "input_shape": list(shape), "convert_error": str(exc).split(". ")[0],
                "estimate_ms": round(_median_ms(lambda: board.cost(model, shape)), 2),
                "head_estimate": est.details["arena_head_bytes"], "tail_estimate": est.details["arena_tail_bytes"],
                "flash_estimate": est.flash_bytes}  # fmt: skip
    convert_s = time.perf_counter() - t
    t = time.perf_counter()
    real = arena_use(data)
    measure_s = time.perf_counter() - t
    return {
        "net": name,
        "input_shape": list(shape),
        "estimate_ms": round(_median_ms(lambda: board.cost(model, shape)), 2),
        "convert_s": round(convert_s, 2),
        "tflm_allocate_s": round(measure_s, 3),
        "head_estimate": est.details["arena_head_bytes"],
        "head_tflm": real.head,
        "tail_estimate": est.details["arena_tail_bytes"],
        "tail_tflm": real.tail,
        "flash_estimate": est.flash_bytes,
        "tflite_bytes": len(data),
        "head_ratio": round(est.details["arena_head_bytes"] / real.head, 4),
        "tail_ratio": round(est.details["arena_tail_bytes"] / real.tail, 4),
        "flash_ratio": round(est.flash_bytes / len(data), 4),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| net | estimate [ms] | quantize + convert + TFLM [s] | speed-up | head est/TFLM | tail est/TFLM "
        "| flash est/.tflite |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "convert_error" in r:
            lines.append(f"| {r['net']} | {r['estimate_ms']} | conversion fails | n/a | n/a | n/a | n/a |")
            continue
        total = r["convert_s"] + r["tflm_allocate_s"]
        speedup = total * 1000 / max(r["estimate_ms"], 1e-6)
        lines.append(
            f"| {r['net']} | {r['estimate_ms']} | {total:.2f} | {speedup:.0f}x "
            f"| {r['head_estimate']}/{r['head_tflm']} = {r['head_ratio']:.3f} "
            f"| {r['tail_estimate']}/{r['tail_tflm']} = {r['tail_ratio']:.3f} "
            f"| {r['flash_estimate']}/{r['tflite_bytes']} = {r['flash_ratio']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure every zoo net and write the JSON."""
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # the search costs candidates in one thread per trial; also steadier timings
    rows = []
    for name in ZOO:
        rows.append(measure(name))
        print(name, "done", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"benchmark": "cost_model", "machine": machine_info(), "nets": rows}, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
