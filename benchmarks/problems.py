"""Synthetic multi-objective test problems (BoTorch test functions) for the optimizer benchmark.

Every problem is used in BoTorch's *minimization* convention (``negate=False``): its ``ref_point`` is then the
positive minimization reference point and ``max_hv`` the hypervolume of the true Pareto front with respect to it.
An optimizer sees the unit cube (mapped linearly onto the problem's ``bounds``) and objectives divided by the
reference point, so its reference point is all ones, exactly like a tinymoo search. Hypervolume is measured in
the raw objective space so it is comparable to BoTorch's ``max_hv``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.pareto import hypervolume

DTYPE = torch.double


def _factories() -> dict[str, Callable[[], Any]]:
    from botorch.test_functions.multi_objective import DTLZ2, ZDT1, BraninCurrin, VehicleSafety

    return {
        "BraninCurrin": lambda: BraninCurrin(negate=False, dtype=DTYPE),
        "ZDT1": lambda: ZDT1(dim=6, num_objectives=2, negate=False, dtype=DTYPE),
        "DTLZ2": lambda: DTLZ2(dim=6, num_objectives=3, negate=False, dtype=DTYPE),
        "VehicleSafety": lambda: VehicleSafety(negate=False, dtype=DTYPE),
    }


PROBLEMS: tuple[str, ...] = ("BraninCurrin", "ZDT1", "DTLZ2", "VehicleSafety")


@dataclass
class SyntheticProblem:
    """A BoTorch test problem seen through the unit cube, minimized.

    Attributes:
        name: the problem's name (a key of :data:`PROBLEMS`).
        dim: number of inputs ``d``.
        num_objectives: number of objectives ``m``.
        lower / upper: the problem's box bounds (``d`` each).
        ref_raw: positive minimization reference point in raw objective units (``m``).
        max_hv: hypervolume of the true Pareto front with respect to ``ref_raw`` (BoTorch's value).
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
        return cls(
            name=name,
            dim=int(fn.dim),
            num_objectives=int(fn.num_objectives),
            lower=bounds[0],
            upper=bounds[1],
            ref_raw=ref,
            max_hv=float(fn.max_hv),
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
