"""Normalized objectives, non-dominated sort and hypervolume (all objectives minimized; the names are
:mod:`core.search.objectives`'s).

Objectives are normalized by the board's reference point (``y / ref``), so the reference point becomes all
ones and the hypervolume of a run is a number in ``[0, 1]`` that is comparable across boards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated


def normalize(values: Mapping[str, float], names: Sequence[str], ref: Mapping[str, float]) -> np.ndarray:
    """Objective dict -> normalized vector ``y[i] = values[name_i] / ref[name_i]`` of shape ``m``.

    A missing objective is NaN (e.g. the error of a candidate that was never trained because it cannot fit).
    """
    return np.array([float(values.get(n, np.nan)) / float(ref[n]) for n in names], dtype=float)


def pareto_mask(y: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``y`` (``n x m``, minimized). Duplicates keep one copy."""
    if len(y) == 0:
        return np.zeros(0, dtype=bool)
    return is_non_dominated(-torch.as_tensor(y, dtype=torch.double), deduplicate=True).numpy()


def hypervolume(y: np.ndarray, ref_point: Sequence[float]) -> float:
    """Hypervolume dominated by rows of ``y`` (``n x m``, minimized) and bounded by ``ref_point`` (``m``).

    Rows that do not strictly dominate the reference point contribute nothing.
    """
    y = np.asarray(y, dtype=float).reshape(-1, len(ref_point))
    ref = np.asarray(ref_point, dtype=float)
    y = y[np.all(np.isfinite(y), axis=1) & np.all(y < ref, axis=1)]
    if len(y) == 0:
        return 0.0
    y = y[pareto_mask(y)]
    hv = Hypervolume(ref_point=-torch.as_tensor(ref, dtype=torch.double))
    return float(hv.compute(-torch.as_tensor(y, dtype=torch.double)))
