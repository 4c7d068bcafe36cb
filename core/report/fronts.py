"""A run's Pareto set, the infeasible trials no measured one dominates, and the front's hypervolume."""

from __future__ import annotations

import numpy as np

from core.interfaces.trial import TrialResult, TrialStatus
from core.search.pareto import hypervolume, normalize, pareto_mask


def pareto_results(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[TrialResult]:
    """The feasible, non-dominated trials, sorted by their first objective."""
    ok = [r for r in results if r.status == TrialStatus.COMPLETE]
    if not ok:
        return []
    y = np.array([normalize(r.objectives, objectives, ref) for r in ok])
    front = [r for r, keep in zip(ok, pareto_mask(y), strict=True) if keep]
    return sorted(front, key=lambda r: r.objectives[objectives[0]])


def infeasible_front(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[TrialResult]:
    """Infeasible trials with every objective known that no measured trial (feasible or not) dominates,
    sorted by their first objective: what a larger board would add to the front."""
    measured = [r for r in results if r.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE)]
    y = np.array([normalize(r.objectives, objectives, ref) for r in measured]).reshape(-1, len(objectives))
    known = np.all(np.isfinite(y), axis=1)
    if not np.any(known):
        return []
    candidates = [r for r, k in zip(measured, known, strict=True) if k]
    keep = pareto_mask(y[known])
    out = [r for r, k in zip(candidates, keep, strict=True) if k and r.status == TrialStatus.INFEASIBLE]
    return sorted(out, key=lambda r: r.objectives[objectives[0]])


def front_hypervolume(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> float:
    """Hypervolume of the feasible (complete) trials, objectives normalized by ``ref`` (reference all ones)."""
    done = [r for r in results if r.status == TrialStatus.COMPLETE]
    if not done:
        return 0.0
    y = np.array([normalize(r.objectives, objectives, ref) for r in done])
    return hypervolume(y, [1.0] * len(objectives))
