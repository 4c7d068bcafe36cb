"""Objective values in human units: error in %, flash and SRAM in KiB, latency in ms (tables, plots, HTML)."""

from __future__ import annotations

import math
from typing import Any

from core.interfaces.trial import TrialResult

# objective -> (axis/column label, factor from stored unit to displayed unit)
DISPLAY: dict[str, tuple[str, float]] = {
    "error": ("error [%]", 100.0),
    "flash": ("flash [KiB]", 1.0 / 1024.0),
    "ram": ("SRAM [KiB]", 1.0 / 1024.0),
    "macs": ("MACs", 1.0),
    "latency": ("latency [ms]", 1000.0),
}


# -- objective values in human units --------------------------------------------------------------------------
def display_label(name: str) -> str:
    """Axis label of an objective in displayed units (``flash [KiB]``)."""
    return DISPLAY.get(name, (name, 1.0))[0]


def display_value(name: str, value: Any) -> float:
    """A stored objective value in displayed units (error in %, bytes in KiB, latency in ms); NaN if unknown."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v * DISPLAY.get(name, (name, 1.0))[1]


def format_value(name: str, value: Any) -> str:
    """A stored objective value as text in displayed units, ``-`` if unknown."""
    v = display_value(name, value)
    if not math.isfinite(v):
        return "-"
    if name == "macs":
        return f"{round(v):,}"
    if name == "latency":
        return f"{v:.3g}"
    return f"{v:.2f}" if name == "error" else f"{v:.1f}"


def objective_value(result: TrialResult, name: str) -> float:
    """A trial's stored objective value, NaN when missing (e.g. the error of an untrained candidate)."""
    try:
        return float(result.objectives.get(name, math.nan))
    except (TypeError, ValueError):
        return math.nan


def short_optimizer(target: Any) -> str:
    """An optimizer's class name: the last part of its ``_target_`` (``plugins.optimizers.sobol.SobolOptimizer``)."""
    return str(target or "?").rsplit(".", 1)[-1]
