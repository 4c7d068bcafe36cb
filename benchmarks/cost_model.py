"""Benchmark: time per `AnalyticTarget.cost` call on float and int8 small CNNs (the search's fast path).

Usage: ``python -m benchmarks.cost_model``; writes ``benchmarks/results/cost_model.json``. Reports medians of
repeated calls and, as the machine-independent figure, the ratio to one int8 forward pass of the same model.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from pathlib import Path

import torch

from benchmarks.machine import machine_info
from core.datamodule import ArrayDataModule
from plugins.compressors.quant_int8 import Int8PostTrainingQuantization
from plugins.hw.analytic import AnalyticTarget
from plugins.models.small_cnn import SmallCNN

OUT = Path(__file__).resolve().parent / "results" / "cost_model.json"
CASES = [
    ("digits depth2 w16", (1, 8, 8), {"depth": 2, "width": 16}),
    ("digits depth3 w32", (1, 8, 8), {"depth": 3, "width": 32}),
    ("cifar-size depth3 w32", (3, 32, 32), {"depth": 3, "width": 32}),
    ("imu-series depth3 w32 1-D", (6, 128), {"depth": 3, "width": 32, "conv_dim": 1}),
]


def _median_ms(fn, repeats: int = 15) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    """Time every case and write the JSON."""
    warnings.filterwarnings("ignore")
    board = AnalyticTarget("stm32f4", 524288, 131072, 81920, 16384, 180e6, "cortex-m4f", 1.5, 12_000_000, 0.1)
    rows = []
    for name, shape, kw in CASES:
        torch.manual_seed(0)
        model = SmallCNN(**kw).build(shape, 10).eval()
        x = torch.randn(64, *shape)
        dm = ArrayDataModule(x.numpy(), torch.arange(64).remainder(10).numpy(), 16, 0)
        q = Int8PostTrainingQuantization(calibration_batches=2).apply(model, dm)
        one = x[:1]
        with torch.no_grad():
            fwd = _median_ms(lambda q=q, one=one: q(one))
        rows.append({
            "case": name,
            "input_shape": list(shape),
            "float_cost_ms": round(_median_ms(lambda m=model, s=shape: board.cost(m, s)), 2),
            "int8_cost_ms": round(_median_ms(lambda m=q, s=shape: board.cost(m, s)), 2),
            "int8_forward_ms": round(fwd, 3),
            "macs": board.cost(model, shape).macs,
        })  # fmt: skip
        rows[-1]["int8_cost_over_forward"] = round(rows[-1]["int8_cost_ms"] / max(fwd, 1e-6), 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"benchmark": "cost_model", "machine": machine_info(), "cases": rows}, indent=2) + "\n")
    print("| case | float cost() [ms] | int8 cost() [ms] | int8 forward [ms] | cost/forward |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['float_cost_ms']} | {r['int8_cost_ms']} | {r['int8_forward_ms']} | "
              f"{r['int8_cost_over_forward']} |")  # fmt: skip


if __name__ == "__main__":
    main()
