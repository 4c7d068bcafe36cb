"""Synthetic multi-objective test problems (BoTorch test functions) for the optimizer benchmark.

Every problem is used in BoTorch's *minimization* convention (``negate=False``): its ``ref_point`` is then the
positive minimization reference point and ``max_hv`` the hypervolume of the true Pareto front with respect to it.
An optimizer sees the unit cube (mapped linearly onto the problem's ``bounds``) and objectives divided by the
reference point, so its reference point is all ones, exactly like a tinymoo search. Hypervolume is measured in
the raw objective space so it is comparable to BoTorch's ``max_hv``.

The problems come in two sets:

* :data:`TUNING_PROBLEMS` -- BraninCurrin (d=2, m=2), ZDT1 (d=6, m=2), DTLZ2 (d=6, m=3) and VehicleSafety
  (d=5, m=3). The optimizers' default settings were tuned on these four, with seeds 0-2 (the ``quick`` profile
  of :mod:`benchmarks.optimizers`), so results on them are optimistic.
* :data:`HELD_OUT_PROBLEMS` -- DTLZ2_m4 (d=7, m=4), DTLZ7_m4 (d=7, m=4, disconnected front), ZDT3 (d=6, m=2,
  disconnected front), DTLZ5_m3 (d=6, m=3, degenerate curve-shaped front) and CarSideImpact (d=7, m=4). They
  were not looked at while tuning; the README reports this set, on seeds 100-104 (the ``heldout`` profile).

:data:`PROBLEMS` is both, tuning set first.

``max_hv`` is BoTorch's where BoTorch has one (exact for DTLZ2, ZDT1 and ZDT3; approximations from a computed
Pareto front for BraninCurrin, VehicleSafety and CarSideImpact). BoTorch has none for DTLZ5 and DTLZ7; the
values used here (:data:`MAX_HV`) are derived in closed form below and were checked offline against the
hypervolume of dense samples of the true Pareto front, which approach them from below.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.search.pareto import hypervolume

DTYPE = torch.double

# Hypervolumes of the true Pareto front for configurations where BoTorch has no ``max_hv``.
#
# DTLZ5 (d=6, m=3, reference 10 in every objective). Its front is the curve (c/sqrt2, c/sqrt2, s) with
# c = cos(t), s = sin(t), t in [0, pi/2] (x_3.. = 0.5, g = 0; every point with g > 0 is dominated by it). A point
# y >= 0 is dominated by the curve iff 2 min(y_0, y_1)^2 + y_2^2 >= 1, so the part of the box [0, r]^3 it leaves
# undominated is int_0^1 (2 r rho - rho^2) dy_2 with rho = sqrt((1 - y_2^2) / 2), i.e.
# max_hv = r^3 - r pi / (2 sqrt2) + 1/3 = 989.22612598793... for r = 10. Offline check: the hypervolume of 100 /
# 1000 / 3000 evenly spaced front points is 989.1731 / 989.2208 / 989.2244.
#
# DTLZ7 (d=7, m=4, reference r = 15). BoTorch's g is 1 + 9/k sum(x_m), so the front has x_m = 0, g = 1 and
# f_m = 2 h = 2 m - 2 sum_i q(f_i) with q(t) = t/2 (1 + sin(3 pi t)), f_i = x_i in [0, 1] (i < m). The objective
# is separable, so y is dominated iff y_m >= 2 m - 2 sum_i Q(min(y_i, 1)) with Q(t) = max_{s <= t} q(s), and
# max_hv = (r - 2m) r^(m-1) + 2 (m-1) r^(m-2) int_0^r Q(y) dy. The 1-D integral was evaluated with scipy
# (q's local maxima at t = 0.2514118 and 0.8594009, the plateau of the first one ending at 0.6316265):
# int_0^1 Q = 0.3644172963, Q(1) = 0.8464978172, max_hv = 40115.772095967... Offline check: the formula gives
# 189.430773 for m=2 (20000 front points: 189.430753) and 2757.9232 for m=3 (30 x 30 front points: 2757.50,
# 15 x 15: 2757.04); for m=4, 6^3 / 9^3 / 12^3 front points give 40049.1 / 40080.8 / 40086.7 (the gap of a
# grid sample shrinks like 1/n per axis).
MAX_HV: dict[str, float] = {
    "DTLZ5_m3": 10.0**3 - 10.0 * math.pi / (2.0 * math.sqrt(2.0)) + 1.0 / 3.0,
    "DTLZ7_m4": 40115.77209596745,
}


def _factories() -> dict[str, Callable[[], Any]]:
    from botorch.test_functions.multi_objective import (
        DTLZ2,
        DTLZ5,
        DTLZ7,
        ZDT1,
        ZDT3,
        BraninCurrin,
        CarSideImpact,
        VehicleSafety,
    )

    return {
        # tuning set
        "BraninCurrin": lambda: BraninCurrin(negate=False, dtype=DTYPE),
        "ZDT1": lambda: ZDT1(dim=6, num_objectives=2, negate=False, dtype=DTYPE),
        "DTLZ2": lambda: DTLZ2(dim=6, num_objectives=3, negate=False, dtype=DTYPE),
        "VehicleSafety": lambda: VehicleSafety(negate=False, dtype=DTYPE),
        # held-out set
        "DTLZ2_m4": lambda: DTLZ2(dim=7, num_objectives=4, negate=False, dtype=DTYPE),
        "DTLZ7_m4": lambda: DTLZ7(dim=7, num_objectives=4, negate=False, dtype=DTYPE),
        "ZDT3": lambda: ZDT3(dim=6, num_objectives=2, negate=False, dtype=DTYPE),
        "DTLZ5_m3": lambda: DTLZ5(dim=6, num_objectives=3, negate=False, dtype=DTYPE),
        "CarSideImpact": lambda: CarSideImpact(negate=False, dtype=DTYPE),
    }


TUNING_PROBLEMS: tuple[str, ...] = ("BraninCurrin", "ZDT1", "DTLZ2", "VehicleSafety")
HELD_OUT_PROBLEMS: tuple[str, ...] = ("DTLZ2_m4", "DTLZ7_m4", "ZDT3", "DTLZ5_m3", "CarSideImpact")
PROBLEMS: tuple[str, ...] = TUNING_PROBLEMS + HELD_OUT_PROBLEMS


@dataclass
class SyntheticProblem:
    """A BoTorch test problem seen through the unit cube, minimized.

    Attributes:
        name: the problem's name (a key of :data:`PROBLEMS`).
        dim: number of inputs ``d``.
        num_objectives: number of objectives ``m``.
        lower / upper: the problem's box bounds (``d`` each).
        ref_raw: positive minimization reference point in raw objective units (``m``).
        max_hv: hypervolume of the true Pareto front with respect to ``ref_raw`` (BoTorch's value, or
            :data:`MAX_HV`'s where BoTorch has none).
    """

    name: str
    dim: int
    num_objectives: int
    lower: np.ndarray
    upper: np.ndarray
    ref_raw: np.ndarray
    max_hv: float
    _fn: Any

    @classmethod
    def make(cls, name: str) -> SyntheticProblem:
        """Build problem ``name`` (one of :data:`PROBLEMS`).

        Raises:
            KeyError: unknown problem name.
        """
        factories = _factories()
        if name not in factories:
            raise KeyError(f"unknown problem {name!r}; choose from {sorted(factories)}")
        fn = factories[name]()
        ref = fn.ref_point.detach().cpu().numpy().astype(float)
        if fn.negate or not np.all(ref > 0):  # BoTorch: ref_point == _ref_point (positive) when negate=False
            raise ValueError(f"{name}: expected a positive minimization reference point, got {ref.tolist()}")
        bounds = fn.bounds.detach().cpu().numpy().astype(float)
        max_hv = MAX_HV.get(name)
        if max_hv is None:  # BoTorch raises NotImplementedError where it has no value
            max_hv = float(fn.max_hv)
        return cls(
            name=name,
            dim=int(fn.dim),
            num_objectives=int(fn.num_objectives),
            lower=bounds[0],
            upper=bounds[1],
            ref_raw=ref,
            max_hv=float(max_hv),
            _fn=fn,
        )

    def to_bounds(self, x_unit: np.ndarray) -> np.ndarray:
        """Map unit-cube points (``n x d``) linearly onto the problem's bounds."""
        x = np.clip(np.asarray(x_unit, dtype=float).reshape(-1, self.dim), 0.0, 1.0)
        return self.lower + x * (self.upper - self.lower)

    def evaluate_raw(self, x_unit: np.ndarray) -> np.ndarray:
        """Noise-free raw objectives (``n x m``, minimized) at unit-cube points ``x_unit`` (``n x d``)."""
        x = torch.as_tensor(self.to_bounds(x_unit), dtype=DTYPE)
        with torch.no_grad():
            y = self._fn.evaluate_true(x)
        return y.detach().cpu().numpy().astype(float).reshape(-1, self.num_objectives)

    def normalize(self, y_raw: np.ndarray) -> np.ndarray:
        """Raw objectives -> what the optimizer sees: ``y / ref_raw`` (reference point all ones)."""
        return np.asarray(y_raw, dtype=float) / self.ref_raw


class HypervolumeTracker:
    """Hypervolume of a growing set of minimized points, recomputed only when the front changes.

    Args:
        ref: reference point (``m``); points that do not strictly dominate it add nothing.
    """

    def __init__(self, ref: np.ndarray) -> None:
        self.ref = np.asarray(ref, dtype=float)
        self.front = np.zeros((0, len(self.ref)))
        self.value = 0.0

    def add(self, y: np.ndarray) -> float:
        """Add points (``n x m``) one by one; returns the hypervolume afterwards."""
        for row in np.asarray(y, dtype=float).reshape(-1, len(self.ref)):
            if not (np.all(np.isfinite(row)) and np.all(row < self.ref)):
                continue
            if len(self.front) and np.any(np.all(self.front <= row, axis=1)):
                continue  # weakly dominated: adds no volume
            keep = ~np.all(row <= self.front, axis=1)
            self.front = np.vstack([self.front[keep], row])
            self.value = hypervolume(self.front, self.ref)
        return self.value
