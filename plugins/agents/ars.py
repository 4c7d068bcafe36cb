"""``agent=ars``: Augmented Random Search (Mania, Guy, Recht 2018), version V2-t with a linear policy.

Each iteration samples ``directions`` Gaussian perturbations ``delta`` of the policy matrix ``M``, rolls out
``M + noise*delta`` and ``M - noise*delta`` (all in one vectorized batch), keeps the ``top`` directions by
``max(r+, r-)`` and updates ``M <- M + step_size / (top * sigma_R) * sum (r+ - r-) delta``. Observations are
normalized with running mean and standard deviation of all states visited during training (V2). The policy is
affine (a constant 1 is appended to the normalized observation): with fixed-start episodes the start state
normalizes to ~0, and a purely linear policy could not move away from it in a chosen direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.api import Agent, Environment


class ARS(Agent):
    """Linear-policy ARS.

    Args:
        directions: perturbation directions per iteration (N).
        top: best directions used in the update (b <= N).
        step_size: learning rate (alpha).
        noise: perturbation scale (nu).
        normalize: normalize observations with running statistics (ARS V2).
    """

    def __init__(
        self, directions: int = 8, top: int = 4, step_size: float = 0.05, noise: float = 0.05, normalize: bool = True
    ) -> None:
        if not 1 <= int(top) <= int(directions):
            raise ValueError(f"need 1 <= top <= directions, got top={top}, directions={directions}")
        if step_size <= 0 or noise <= 0:
            raise ValueError(f"step_size and noise must be > 0, got {step_size}, {noise}")
        self.directions, self.top = int(directions), int(top)
        self.step_size, self.noise, self.normalize = float(step_size), float(noise), bool(normalize)
        self.policy: np.ndarray | None = None
        self._count = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    # -- policy ---------------------------------------------------------------------------------------------
    def _init(self, env: Environment) -> None:
        if self.policy is None or self.policy.shape != (env.action_dim, env.observation_dim + 1):
            self.policy = np.zeros((env.action_dim, env.observation_dim + 1))
            self._count, self._mean, self._m2 = 0, np.zeros(env.observation_dim), np.zeros(env.observation_dim)

    def _normalized(self, obs: np.ndarray) -> np.ndarray:
        """Normalized observations with the constant bias input appended (``n x obs_dim+1``)."""
        if self.normalize and self._count >= 2 and self._mean is not None and self._m2 is not None:
            std = np.sqrt(self._m2 / (self._count - 1))
            obs = (obs - self._mean) / np.where(std > 1e-8, std, 1.0)
        return np.hstack([obs, np.ones((len(obs), 1))])

    def _observe(self, obs: np.ndarray) -> None:
        """Welford update of the running observation statistics with a batch ``n x obs_dim``."""
        assert self._mean is not None and self._m2 is not None
        for row in obs:
            self._count += 1
            delta = row - self._mean
            self._mean += delta / self._count
            self._m2 += delta * (row - self._mean)

    def act(self, observations: np.ndarray) -> np.ndarray:
        assert self.policy is not None, "train() or load_state_dict() first"
        return self._normalized(np.atleast_2d(observations)) @ self.policy.T

    # -- training -------------------------------------------------------------------------------------------
    def train(self, env: Environment, iterations: int, rng: np.random.Generator) -> None:
        self._init(env)
        assert self.policy is not None
        n, shape = self.directions, self.policy.shape
        for _ in range(int(iterations)):
            deltas = rng.standard_normal((n, *shape))
            policies = np.concatenate([self.policy + self.noise * deltas, self.policy - self.noise * deltas])
            returns = self._batched_returns(env, policies)
            r_plus, r_minus = returns[:n], returns[n:]
            best = np.argsort(-np.maximum(r_plus, r_minus), kind="stable")[: self.top]
            sigma = np.concatenate([r_plus[best], r_minus[best]]).std()
            if sigma < 1e-12:
                continue  # flat rewards: no direction is better than another
            grad = np.tensordot(r_plus[best] - r_minus[best], deltas[best], axes=1)
            self.policy = self.policy + self.step_size / (self.top * sigma) * grad

    def _batched_returns(self, env: Environment, policies: np.ndarray) -> np.ndarray:
        """Total reward of each policy (``k x action x obs``) over one episode, all in one vectorized rollout."""
        obs = env.reset(len(policies))
        total = np.zeros(len(policies))
        for _ in range(env.horizon):
            self._observe(obs)
            actions = np.einsum("kao,ko->ka", policies, self._normalized(obs))
            obs, reward = env.step(actions)
            total += reward
        return total

    # -- state ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": None if self.policy is None else self.policy.tolist(),
            "count": self._count,
            "mean": None if self._mean is None else self._mean.tolist(),
            "m2": None if self._m2 is None else self._m2.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy = None if state["policy"] is None else np.array(state["policy"], dtype=float)
        self._count = int(state["count"])
        self._mean = None if state["mean"] is None else np.array(state["mean"], dtype=float)
        self._m2 = None if state["m2"] is None else np.array(state["m2"], dtype=float)
