"""Scrambled Sobol' sequence: space-filling, low-discrepancy sampling (a baseline; the quickstart uses mobo_ars)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.stats import qmc

from core.api import Optimizer, Problem


class SobolSearch(Optimizer):
    """Scrambled Sobol' points in order; resumes by fast-forwarding to the number already asked.

    Args:
        scramble: Owen-scramble the sequence (seeded), as recommended for QMC sampling.
    """

    def __init__(self, scramble: bool = True) -> None:
        self.scramble = scramble

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        self._engine = qmc.Sobol(d=problem.dim, scramble=self.scramble, seed=problem.seed)
        self._asked = 0

    def ask(self, n: int) -> np.ndarray:
        self._asked += n
        with warnings.catch_warnings():  # batches need not be powers of two; the sequence stays the same
            warnings.filterwarnings("ignore", "The balance properties of Sobol' points require n", UserWarning)
            return self._engine.random(n)

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        """Sobol sampling ignores results."""

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self._asked}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.setup(self.problem)
        self._engine.fast_forward(int(state["asked"]))
        self._asked = int(state["asked"])
