"""Uniform random search over the unit cube: the simplest baseline."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.api import Optimizer, Problem


class RandomSearch(Optimizer):
    """Independent uniform points; deterministic given the problem seed."""

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        self._rng = np.random.default_rng(problem.seed)

    def ask(self, n: int) -> np.ndarray:
        return self._rng.random((n, self.problem.dim))

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        """Random search ignores results."""

    def state_dict(self) -> dict[str, Any]:
        return {"bit_generator": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rng.bit_generator.state = state["bit_generator"]
