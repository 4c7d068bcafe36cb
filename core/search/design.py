"""The initial design of a model-based search: the points evaluated before any surrogate is fit.

``lhs``: a scrambled Latin hypercube in the unit cube, blind to the costs.

``costed`` (with known costs, i.e. in a TinyML search): the exact costs of every point are known before training,
so the design need not spend trials on architectures that cannot fit the board or whose flash, SRAM or MACs lie
beyond the reference point (they add no hypervolume, whatever their error). It draws ``oversample`` times as many
Latin-hypercube points, keeps those that fit and lie inside the reference in every known objective, and picks
``n`` of them spread out in the unit cube (greedy maximin distance, starting from the first). Where fewer than
``n`` qualify, the rest are the least violating of the others: fitting the board first, then the smallest overshoot
of the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import qmc

from core.interfaces.optimizer import KnownObjectives

DESIGNS = ("lhs", "costed")


def latin_hypercube(n: int, dim: int, seed: int) -> np.ndarray:
    """``n x dim`` Latin-hypercube sample in the unit cube (scrambled, seeded)."""
    return qmc.LatinHypercube(d=dim, seed=seed).random(n) if n > 0 else np.zeros((0, dim))


def costed_design(
    n: int, dim: int, seed: int, known: KnownObjectives, ref_point: Sequence[float], oversample: int = 8
) -> np.ndarray:
    """``n x dim`` design points that fit the board and lie inside ``ref_point`` in the known objectives, spread
    out (see the module docstring); ``ref_point`` is the problem's normalized reference, all objectives."""
    if n <= 0:
        return np.zeros((0, dim))
    pool = latin_hypercube(max(1, int(oversample)) * n, dim, seed)
    costs = np.asarray(known(pool), dtype=float).reshape(len(pool), -1)
    ref = np.asarray(ref_point, dtype=float)[list(known.columns)]
    over = np.where(np.isfinite(costs), costs - ref, np.inf).max(axis=1)  # > 0: beyond the reference somewhere
    excess = np.asarray(known.excess(pool), dtype=float).reshape(len(pool))
    good = np.flatnonzero((excess <= 0) & (over < 0))
    chosen = list(_spread(pool[good], n)) if len(good) else []
    picked = [int(good[i]) for i in chosen]
    if len(picked) < n:
        order = np.lexsort((over, excess > 0))
        rest = order[~np.isin(order, good)]
        picked.extend(int(i) for i in rest[: n - len(picked)])
    return pool[picked]


def _spread(points: np.ndarray, n: int) -> list[int]:
    """Indices of up to ``n`` of ``points``, greedily farthest from those already chosen (the first goes first)."""
    chosen = [0]
    nearest = np.linalg.norm(points - points[0], axis=1)
    while len(chosen) < min(n, len(points)):
        i = int(np.argmax(nearest))
        chosen.append(i)
        nearest = np.minimum(nearest, np.linalg.norm(points - points[i], axis=1))
    return chosen
