"""Agent + Environment: reinforcement learning on a (surrogate) environment, as used by mobo_ars.

Environments are *vectorized*: ``n`` episodes advance in lockstep, so an agent that evaluates many perturbed
policies (ARS) pays one batched surrogate call per step instead of one per episode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Environment(ABC):
    """A vectorized, fixed-horizon episodic environment with continuous observations and actions.

    Attributes:
        observation_dim: size of one observation.
        action_dim: size of one action.
        horizon: steps per episode.
    """

    observation_dim: int
    action_dim: int
    horizon: int

    @abstractmethod
    def reset(self, n: int) -> np.ndarray:
        """Start ``n`` episodes. Returns observations, shape ``n x observation_dim``."""

    @abstractmethod
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply actions (``n x action_dim``). Returns ``(observations n x observation_dim, rewards n)``."""


class Agent(ABC):
    """A policy trained on an :class:`Environment` (ARS is one implementation)."""

    @abstractmethod
    def train(self, env: Environment, iterations: int, rng: np.random.Generator) -> None:
        """Improve the policy for ``iterations`` updates on ``env``; all randomness comes from ``rng``."""

    @abstractmethod
    def act(self, observations: np.ndarray) -> np.ndarray:
        """Deterministic actions for observations (``n x observation_dim`` -> ``n x action_dim``)."""

    def rollout(self, env: Environment) -> tuple[np.ndarray, np.ndarray]:
        """One deterministic episode. Returns visited observations (``horizon+1 x obs_dim``) and rewards."""
        obs = env.reset(1)
        visited, rewards = [obs[0]], []
        for _ in range(env.horizon):
            obs, reward = env.step(self.act(obs))
            visited.append(obs[0])
            rewards.append(float(reward[0]))
        return np.array(visited), np.array(rewards)

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """A JSON-serializable snapshot of the policy."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict`."""
