"""Optimizer: proposes points in the unit cube (ask) and learns from their measured objectives (tell)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class KnownObjectives(Protocol):
    """Objectives that are cheap and exact for any point, without an evaluation (e.g. a model's flash and SRAM).

    Attributes:
        columns: indices into ``Problem.objective_names`` of the known objectives.
        free: (optional; absent means none) the unit-cube dimensions no known objective depends on, e.g. the
            training knobs of a TinyML search (``optim.lr``): moving a point along them changes only the modelled
            objectives, so an optimizer may choose them for each candidate by its acquisition alone.
    """

    columns: tuple[int, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The known objectives of points ``x`` (``n x d``), normalized like ``tell``'s ``y``: ``n x len(columns)``."""

    def excess(self, x: np.ndarray) -> np.ndarray:
        """How far each point is over the board's capacity (max relative overshoot, 0 where it fits), shape ``n``."""


@dataclass(frozen=True)
class Problem:
    """What an optimizer is told about the problem before the first ask.

    Attributes:
        dim: number of search dimensions ``d``; every point lies in ``[0, 1]^d``.
        objective_names: the ``m`` objectives, all minimized.
        ref_point: normalized reference point, shape ``m`` (objectives are divided by the board's reference
            point, so this is all ones by default); points worse than it add no hypervolume.
        seed: the search seed; an optimizer must be deterministic given it.
        known: the objectives the search can compute exactly without training (``None`` where none are), for
            optimizers that model only the rest (``optimizer.known_costs=true``).
        snap: maps points (``n x d``) to the point each one's configuration decodes back to: every int and
            categorical coordinate to the centre of its cell, float coordinates unchanged (``None``: every point is
            a configuration of its own). All points of a cell are the same trial, so an optimizer may propose,
            model and compare them as that one point (``optimizer.snap=true``).
    """

    dim: int
    objective_names: tuple[str, ...]
    ref_point: tuple[float, ...]
    seed: int
    known: KnownObjectives | None = field(default=None, compare=False, repr=False)
    snap: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False, repr=False)


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

    def set_pending(self, x: np.ndarray) -> None:  # noqa: B027 - optional hook
        """The points (``k x d``, possibly ``k = 0``) that were asked for and are still being evaluated.

        An asynchronous search (the default with a parallel executor) calls this before every ``ask``, so that a
        new proposal can avoid the regions that running trials already explore: BoTorch's ``X_pending``,
        fantasies, or the optimizer's own bookkeeping. The points are told later, in any order. The default
        ignores them, so an optimizer without pending support keeps working (its proposals may then repeat the
        regions of running trials).
        """

    def hurry(self) -> None:  # noqa: B027 - optional hook
        """A worker is idle and waits for the ``ask`` now running: return a good-enough point as soon as possible.

        An asynchronous search that proposes ahead (``search.lookahead``) runs ``ask`` in a background thread and
        calls this from the search's thread when a worker frees up before the proposal is ready. An optimizer
        whose proposals are anytime (e.g. ``mobo_ars``, which trains its agents in short updates) can stop early;
        the default ignores it, and the worker waits for the whole proposal.
        """

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
