"""Free-dimension scan: each candidate's training knobs chosen by the acquisition, its architecture kept.

In a TinyML search the exact costs depend only on the architecture; the training knobs (``optim.lr``, ...) move
only the error (``KnownObjectives.free``). So for a candidate architecture the best training setting is the one
whose predicted error gives the largest log EHVI, found by scanning those dimensions alone: the costs are cached
for the architecture, and each scanned value costs one GP evaluation. ARS moves in bounded steps and leaves such a
knob wherever a rollout ended; the scan puts it at the best value of a grid, the bounds included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def free_searched(
    score: Callable[[np.ndarray], np.ndarray],
    points: np.ndarray,
    dims: Sequence[int],
    grid_size: int,
    values: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``points`` (``n x d``), each moved along every dimension of ``dims`` in turn (one coordinate pass) to the
    best of ``grid_size`` evenly spaced values in ``[0, 1]`` by ``score``, kept where none beats it; and their
    scores. ``values``: the points' scores, if known already."""
    points = np.array(points, dtype=float, copy=True)
    values = score(points) if values is None else np.asarray(values, dtype=float).copy()
    if not len(dims) or not len(points):
        return points, values
    grid = np.linspace(0.0, 1.0, grid_size)
    rows = np.arange(len(points))
    for d in dims:
        trial = np.repeat(points, len(grid), axis=0)
        trial[:, d] = np.tile(grid, len(points))
        scores = score(trial).reshape(len(points), len(grid))
        best = np.argmax(scores, axis=1)
        better = scores[rows, best] > values
        points[better, d] = grid[best[better]]
        values[better] = scores[rows, best][better]
    return points, values
