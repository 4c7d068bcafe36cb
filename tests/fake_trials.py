"""What the executor and search tests' stand-in trial functions report: objectives computed from the point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fake_objectives(point: Sequence[float]) -> dict[str, float]:
    """Error, flash, SRAM and MACs as smooth functions of the point (deterministic; no training)."""
    x = np.asarray(point, dtype=float)
    return {
        "error": float(np.mean((x - 0.3) ** 2)),
        "flash": float(4e5 * np.mean(x)),
        "ram": float(1e5 * np.mean(x) ** 2),
        "macs": float(1e7 * x[0]),
    }
