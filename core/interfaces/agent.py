"""Agent + Environment: reinforcement learning on a (surrogate) environment, as used by mobo_ars."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Environment(ABC):
    """An episodic environment with continuous states and actions (e.g. a walk over a GP surrogate)."""

    observation_dim: int
    action_dim: int
    horizon: int

    @abstractmethod
    def reset(self) -> np.ndarray:
        """Start an episode. Returns the first observation, shape ``observation_dim``."""

    @abstractmethod
    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """Apply an action (shape ``action_dim``). Returns ``(observation, reward, done)``."""


class Agent(ABC):
    """A policy trained on an :class:`Environment` (ARS is one implementation)."""

    @abstractmethod
    def train(self, env: Environment, iterations: int) -> None:
        """Improve the policy for ``iterations`` updates on ``env``."""

    @abstractmethod
    def act(self, observation: np.ndarray) -> np.ndarray:
        """The deterministic action for an observation."""

    def rollout(self, env: Environment) -> tuple[list[np.ndarray], float]:
        """Run the deterministic policy for one episode. Returns the observations visited and the return."""
        obs = env.reset()
        visited, total = [obs], 0.0
        for _ in range(env.horizon):
            obs, reward, done = env.step(self.act(obs))
            visited.append(obs)
            total += reward
            if done:
                break
        return visited, total

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """A JSON-serializable snapshot of the policy."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a snapshot from :meth:`state_dict`."""
