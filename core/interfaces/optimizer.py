"""Optimizer: proposes points in the unit cube (ask) and learns from their measured objectives (tell)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Problem:
    """What an optimizer is told about the problem before the first ask.

    Attributes:
        dim: number of search dimensions ``d``; every point lies in ``[0, 1]^d``.
        objective_names: the ``m`` objectives, all minimized.
        ref_point: normalized reference point, shape ``m`` (objectives are divided by the board's reference
            point, so this is all ones by default); points worse than it add no hypervolume.
        seed: the search seed; an optimizer must be deterministic given it.
    """

    dim: int
    objective_names: tuple[str, ...]
    ref_point: tuple[float, ...]
    seed: int


class Optimizer(ABC):
    """Ask/tell multi-objective optimizer over the unit cube.

    Subclasses take their knobs as constructor keyword arguments (from ``conf/optimizer/<name>.yaml``) and get
    the problem through :meth:`setup`. ``tell`` receives normalized, minimized objectives; failed trials arrive
    as rows of NaN so an optimizer can avoid proposing them again.
    """

    problem: Problem

    def setup(self, problem: Problem) -> None:
        """Bind the problem; called once before the first ``ask`` (and before ``load_state_dict``)."""
        self.problem = problem

    @abstractmethod
    def ask(self, n: int) -> np.ndarray:
        """Propose ``n`` points. Returns an array of shape ``n x d`` in ``[0, 1]``."""

    @abstractmethod
    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        """Report results.

        Args:
            x: evaluated points, ``n x d``.
            y: normalized objectives, ``n x m``, minimized; NaN rows for failed trials.
            feasible: ``n`` booleans, False where the model does not fit the board or the trial failed.
        """

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """A JSON-serializable snapshot sufficient to resume exactly (RNG state included)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict`; called after :meth:`setup`."""
