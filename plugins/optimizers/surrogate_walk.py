"""The environment ``mobo_ars``'s agents train on: a walk through the unit cube rewarded by an acquisition value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from botorch.models.model import Model

from core.api import DTYPE, Environment


def posterior_features(model: Model, y: torch.Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """The walk's optional extra observation (``state_features``): the posterior mean and std at each point,
    standardized by the outcomes ``y``."""
    mean, std = y.mean(0), y.std(0).clamp_min(1e-9)

    def features(points: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            post = model.posterior(torch.as_tensor(points, dtype=DTYPE))
            mu = (post.mean - mean) / std
            sd = post.variance.clamp_min(0).sqrt() / std
        return torch.cat([mu, sd], dim=-1).numpy()

    return features


class SurrogateWalk(Environment):
    """Vectorized walk through the unit cube, rewarded by an acquisition function on the GP surrogate.

    Args:
        start: start point, shape ``d``.
        reward: maps points ``n x d`` to acquisition values ``n``.
        horizon: steps per episode.
        max_step: largest move per coordinate and step (actions pass through ``tanh``).
        features: optional map of points ``n x d`` to extra observation features ``n x k``.
        keep: how many of the best distinct points every step visited (training rollouts included) to remember,
            with their rewards (:attr:`best_x`, :attr:`best_v`, best first).
    """

    def __init__(
        self,
        start: np.ndarray,
        reward: Callable[[np.ndarray], np.ndarray],
        horizon: int,
        max_step: float,
        features: Callable[[np.ndarray], np.ndarray] | None = None,
        feature_dim: int = 0,
        keep: int = 0,
    ) -> None:
        self.start = np.asarray(start, dtype=float)
        self.reward, self.features = reward, features
        self.horizon, self.max_step = int(horizon), float(max_step)
        self.action_dim = len(self.start)
        self.observation_dim = self.action_dim + (feature_dim if features is not None else 0)
        self._x = self.start[None, :]
        self.keep = int(keep)
        self.best_x, self.best_v = np.zeros((0, self.action_dim)), np.zeros(0)

    def _obs(self) -> np.ndarray:
        if self.features is None:
            return self._x.copy()
        return np.hstack([self._x, self.features(self._x)])

    def reset(self, n: int) -> np.ndarray:
        self._x = np.tile(self.start, (n, 1))
        return self._obs()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._x = np.clip(self._x + self.max_step * np.tanh(actions), 0.0, 1.0)
        values = self.reward(self._x)
        if self.keep:
            self._remember(self._x, values)
        return self._obs(), values

    def _remember(self, x: np.ndarray, values: np.ndarray) -> None:
        """Keep the ``keep`` best distinct points seen so far (ties: the earlier first)."""
        points, idx = np.unique(np.vstack([self.best_x, x]), axis=0, return_index=True)
        merged = np.concatenate([self.best_v, values])[idx]
        order = np.lexsort((idx, -merged))[: self.keep]  # best value first, then first seen
        self.best_x, self.best_v = points[order], merged[order]
