"""Refit the flatbuffer sizes of the TFLM cost model (``plugins/hw/tflm.py``) on the zoo of ``tests/tflm_zoo.py``.

    python -m benchmarks.cost_model_fit        # converts every zoo net (about 2 minutes), prints the constants

Each net is converted the way ``core.tflm.export`` converts a trial (:func:`core.tflm.runtime.convert_int8`). What the
lowering knows exactly (weights, biases, per-channel quantization parameters, small constants) is subtracted from
the .tflite's size; the rest is fitted, by non-negative least squares on the relative error, as a fixed size, one
size per op (by op type) and one per distinct op type (its operator code). Op types of one kind share a size
(``SHARED``), and ``HARD_SWISH`` keeps its set value (it only ever comes with a MUL in the zoo, so the fit cannot
separate them).
Paste the printed constants into ``plugins/hw/tflm.py``; ``tests/test_tflm.py`` then checks them.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

SHARED = {"CONCATENATION": "ADD", "SUM": "MEAN", "PADV2": "PAD", "AVERAGE_POOL_2D": "MAX_POOL_2D"}
SET = {"HARD_SWISH": 150}


def measure() -> list[dict[str, object]]:
    """Per zoo net: its lowered op list, the exactly known bytes and the real .tflite size."""
    from core.tflm.runtime import convert_int8
    from plugins.hw.tflite_lowering import lower
    from plugins.hw.tflm import flatbuffer_bytes
    from tests.tflm_zoo import ZOO

    rows: list[dict[str, object]] = []
    for name, (factory, shape) in ZOO.items():
        torch.manual_seed(0)
        model = factory().eval()
        data = convert_int8(model, shape, [torch.randn(16, *shape)])
        g = lower(model, shape)
        parts = flatbuffer_bytes(g)
        known = parts["weight_bytes"] + parts["bias_bytes"] + parts["qparam_bytes"] + sum(g.constants().values())
        rows.append({"name": name, "ops": g.op_names(), "known": known, "real": len(data)})
    return rows


def fit(rows: list[dict[str, object]]) -> tuple[dict[str, int], int, int, float]:
    """``(bytes per op type, bytes per distinct op type, fixed bytes, max relative error)``."""
    from scipy.optimize import lsq_linear

    types = sorted({SHARED.get(o, o) for r in rows for o in r["ops"]} - set(SET))  # type: ignore[attr-defined]
    x, exact, real = [], [], []
    for r in rows:
        ops = [SHARED.get(o, o) for o in r["ops"]]  # type: ignore[attr-defined]
        x.append([ops.count(t) for t in types] + [len(set(r["ops"])), 1.0])  # type: ignore[arg-type]
        exact.append(float(r["known"]) + sum(SET.get(o, 0) for o in ops))  # type: ignore[arg-type]
        real.append(float(r["real"]))  # type: ignore[arg-type]
    a, known, size = np.array(x, float), np.array(exact), np.array(real)
    coef = np.round(lsq_linear(a / size[:, None], (size - known) / size, bounds=(0, np.inf)).x)
    per_op = dict(zip(types, coef[:-2].astype(int).tolist(), strict=True))
    per_op |= {t: per_op[s] for t, s in SHARED.items() if s in per_op} | SET
    error = float(np.max(np.abs((a @ coef + known) / size - 1)))
    return per_op, int(coef[-2]), int(coef[-1]), error


def main() -> int:
    per_op, code, fixed, error = fit(measure())
    print(f"FLATBUFFER_FIXED_BYTES = {fixed}")
    print(f"FLATBUFFER_OP_CODE_BYTES = {code}")
    print("FLATBUFFER_OP_BYTES = {")
    for op, size in sorted(per_op.items(), key=lambda kv: -kv[1]):
        print(f'    "{op}": {size},')
    print(f"}}  # max relative error on the zoo: {100 * error:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
