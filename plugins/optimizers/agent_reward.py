"""The reward an agent of ``mobo_ars`` sees: an acquisition function on batches of points, clamped to finite
values, and penalized below every acquisition value where the exact costs cannot fit the board or lie beyond the
reference point (ARS needs finite rewards, and a penalty that grows with the overshoot leads it back)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction

from core.api import DTYPE, KnownObjectives, ignore_jitter_warnings

LOG_FLOOR = -1e3  # acquisition values below (log EHVI < 1e-434: nothing to gain) are clamped here
INFEASIBLE_REWARD = LOG_FLOOR - 1.0  # below every acquisition value; minus 100 per unit of relative overshoot


def scored_until(
    reward: Callable[[np.ndarray], np.ndarray], points: np.ndarray, done: Callable[[], bool] | None, chunk: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """``points`` and their rewards; with ``done``, only the leading chunks scored until ``done()`` (one at least)."""
    if done is None:
        return points, reward(points)
    values: list[np.ndarray] = []
    for lo in range(0, len(points), chunk):
        values.append(reward(points[lo : lo + chunk]))
        if done():
            break
    scored = np.concatenate(values)
    return points[: len(scored)], scored


def batched_reward(
    acq: AcquisitionFunction,
    known: KnownObjectives | None = None,
    ref_point: tuple[float, ...] = (),
    snap: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """Evaluate a q=1 acquisition function on ``n x d`` points (at ``snap(points)`` where given); values are clamped
    to ``[LOG_FLOOR, 1e3]``.

    With known costs, points that cannot fit the board or whose exact costs lie beyond the reference point get
    :data:`INFEASIBLE_REWARD` minus 100 per unit of relative overshoot (the larger of the two), so an agent that
    starts outside the region that can gain anything is still led back into it.
    """

    def reward(points: np.ndarray) -> np.ndarray:
        with torch.no_grad(), warnings.catch_warnings():
            ignore_jitter_warnings()
            at = points if snap is None else snap(points)
            values = acq(torch.as_tensor(at, dtype=DTYPE).unsqueeze(1)).numpy()
        values = np.clip(np.nan_to_num(values, nan=LOG_FLOOR, neginf=LOG_FLOOR, posinf=1e3), LOG_FLOOR, 1e3)
        if known is not None:
            over = known.excess(points)
            if ref_point:
                ref = np.asarray(ref_point, dtype=float)[list(known.columns)]
                over = np.maximum(over, (known(points) / ref - 1.0).max(axis=1, initial=0.0))
            # capped: an architecture that cannot be built is infinitely over, and ARS needs finite rewards
            values = np.where(over > 0, INFEASIBLE_REWARD - 100.0 * np.minimum(over, 1e3), values)
        return values

    return reward
