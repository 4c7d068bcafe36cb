"""``optimizer=mobo_ars``: multi-objective BO guided by an ensemble of competing ARS agents.

Deutel et al., "Combining Multi-Objective Bayesian Optimization with Reinforcement Learning for TinyML"
(arXiv 2305.14109). Each proposal round:

1. fit one GP per objective (``ModelListGP``, unit-cube inputs, standardized outcomes);
2. cluster the current Pareto set (inputs) with k-means into ``n_agents`` clusters; each agent starts at a
   cluster centre (random points fill in while the front is smaller than the ensemble);
3. train each agent (a copy of the configured ``agent``, e.g. ARS) for ``iterations`` updates on a surrogate
   walk: the state is the current point (optionally with the posterior mean and std), an action is a bounded
   step ``max_step * tanh(a)`` in the unit cube, and the reward of a step is the acquisition value of the new
   point: ``ehvi`` = the closed-form log expected hypervolume improvement (:mod:`core.search.log_ehvi`; the default),
   ``ei`` = MC log expected improvement (qLogEI) of an augmented Chebyshev scalarization under the agent's own
   random simplex weights, over the best scalarized observation (ParEGO; the paper), or ``nehvi`` = qLogNEHVI;
4. roll out every trained policy deterministically; each agent proposes the best point of its trajectory (on
   all-continuous problems without known costs, polished by a few L-BFGS-B steps on the log EHVI: ``polish``, and
   optionally the best raw Sobol' points of the global agents too: ``polish_starts``), and the best ``q`` distinct
   proposals across the ensemble are evaluated next, ranked by one common criterion
   (``select=ehvi``: the log EHVI of every proposal) or by each agent's own reward (``select=reward``, the
   paper: with ``ei`` those values come from different random scalarizations and do not compare).

With known costs (``known_costs=auto``, the default, in every TinyML search) the GPs model only the error; flash,
SRAM, MACs and latency come from the exact function of the architecture (``Problem.known``, a BoTorch
deterministic model). The log EHVI is then exact in the costs and Gaussian in the error, and its cost does not
grow with the number of objectives. A step onto a candidate that cannot fit the board, or whose exact costs lie
beyond the reference point, earns a penalty that grows with how far it overshoots, below every acquisition value.
ARS needs no gradients, so integer and categorical knobs and the piecewise-constant costs are no obstacle.
"""

from __future__ import annotations

import copy
import functools
import time
import warnings
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from scipy.stats import qmc
from sklearn.cluster import KMeans

from core.api import (
    Agent,
    LogExpectedHypervolumeImprovement,
    ModelBasedOptimizer,
    Problem,
    Surrogate,
    believed_at,
    ignore_jitter_warnings,
    x_pending,
)
from plugins.optimizers.acquisition_polish import polished
from plugins.optimizers.agent_reward import LOG_FLOOR, batched_reward, scored_until
from plugins.optimizers.free_search import free_searched
from plugins.optimizers.paper_rewards import log_nehvi, scalarized_log_ei
from plugins.optimizers.surrogate_walk import SurrogateWalk, posterior_features

REWARDS = ("auto", "ehvi", "ei", "nehvi")
SELECTS = ("ehvi", "reward")
FRONTS = ("observed", "posterior", "sampled", "believed")
CANDIDATES = ("rollout", "visited")
CHEAP_FREE_SEARCHED = 8  # pooled candidates a cheap ask moves along the free dimensions (free_search)


class MoboArs(ModelBasedOptimizer):
    """MOBO with an ensemble of RL agents trained on the surrogate (the paper's ARS-MOBOpt).

    Args:
        agent: the agent template (copied per cluster and round), e.g. ``plugins.agents.ars.ARS``.
        n_init: Latin-hypercube initial design size.
        n_agents: ensemble size L (= k-means clusters of the Pareto set).
        iterations: ARS updates I per agent and round.
        horizon: rollout length H.
        max_step: bound of one step per coordinate in the unit cube.
        reward: ``ehvi`` (closed-form log EHVI), ``ei`` (scalarized log-EI, the paper), ``nehvi`` (qLogNEHVI) or
            ``auto`` (= ehvi).
        mc_samples: quasi-MC samples of the acquisition value (``ei`` and ``nehvi``).
        state_features: append the standardized posterior mean and std to the agent's observation.
        known_costs: take the cost objectives from the exact function instead of GPs: ``true``, ``false`` or
            ``auto`` (whenever the problem has them; see the module docstring).
        select: rank the agents' proposals by their log EHVI (``ehvi``) or by each agent's reward (``reward``).
        global_agents: extra agents (beyond the paper) that start at the best of ``raw_samples`` scrambled Sobol'
            points by their acquisition value, so the ensemble also searches away from the current front.
        raw_samples: size of that Sobol' candidate set.
        time_share: most seconds spent proposing per second of trial time, over the search so far (``None``: no
            limit). When over it, no agents are trained: the next point is the best of the last round's costed
            candidates (``pool_size`` of the points its rollouts and raw sets visited) by the log EHVI of a
            surrogate refit on all observations, or, once those are used up, a feasible scrambled Sobol' point.
            Cheap trials then get cheap proposals; with trials of minutes it never binds. With trials running
            (pending points: a parallel search), a round also stops once it has taken ``time_share`` x the median
            trial time / (the number running + 1), about when the next worker frees, or as soon as a worker waits
            for it (``Optimizer.hurry``), so that workers rarely wait for a proposal (see :meth:`_round`).
        pool_size: candidates kept from each round for those cheap asks.
        cost_inputs: with known costs, the error GP also sees the exact log costs of each point as inputs
            (:class:`core.search.surrogate.CostInputs`).
        cost_trend: with known costs, the error GP's prior mean is linear in the exact log costs (learned) instead
            of a constant, so far from the trials it expects what the trials' trend says (smaller, worse).
        front: the front the log EHVI improves on: ``observed`` (the measured objectives of the non-dominated
            feasible trials) or ``posterior`` (every feasible trial at the GPs' posterior mean, exact costs kept:
            a trial whose error was measured luckily low does not set the bar; the Pareto cells come from those)
            or ``sampled`` (``front_samples`` joint posterior draws of the GPs at those trials, exact costs kept, and
            the log of the mean EHVI over the draws: the noisy front of BoTorch's qLogNEHVI, in closed form per draw)
            or ``believed`` (the ``posterior`` front, and the GPs conditioned on those means at the trials, noise-free:
            a candidate at or next to a trial has almost no variance left there, so it gains only what the mean
            promises, as under qLogNEHVI's joint sampling of candidate and baseline; without it a GP that smooths
            its trials sees improvement in re-measuring them).
        front_samples: the draws of ``front=sampled``.
        candidates: what each agent proposes: ``rollout`` (the best point of its trained policy's deterministic
            rollout, the paper) or ``visited`` (the best point by its reward of every step it took, training
            rollouts included: those values were computed anyway); the round's cheap-ask pool keeps the best
            ``pool_size`` of those visited points too.
        explore: the log EHVI (reward, ranking and cheap asks) sees the error GP's posterior standard deviation
            times this (``1``: the plain expectation; larger: optimism where the error is uncertain).
        prior_quantile: ``null``: the error GP learns its prior mean; a number in ``[0, 1]``: its prior mean is fixed
            at that quantile of the observed errors, ``0`` the worst (:func:`core.search.surrogate.fit_gp`), so that
            unexplored regions, such as the tiniest models, are not expected to be as accurate as the average.
        init_design: ``lhs`` or ``costed`` (with known costs, a design of points that fit and lie inside the
            reference; :mod:`core.search.design`).
        snap: propose, model and score every point as the point its configuration decodes back to (int and
            categorical coordinates at their cell's centre; ``Problem.snap``): the agents' rewards are then constant
            over a cell, which ARS, needing no gradients, does not mind (:class:`core.api.ModelBasedOptimizer`).
        polish: L-BFGS-B iterations on the log EHVI from each agent's proposal, where every input is continuous and
            no cost is known (:mod:`plugins.optimizers.acquisition_polish`); a polished point replaces its start if
            its log EHVI is higher (with ``select=ehvi``). ``0``: off.
        polish_starts: with ``polish``, also polish the best this many points of the global agents' raw
            Sobol' sets (by the log EHVI they were scored with) and add them to the proposals, the multi-start
            of BoTorch's ``optimize_acqf``: the agents start near the front, and a disconnected front's best gap
            may lie far from every cluster. ``0``: the agents' proposals only.
        free_search: with known costs, the grid points per *free* dimension (``KnownObjectives.free``: the
            training knobs, e.g. ``optim.lr``, on which no cost depends) at which each proposal, each pooled
            candidate and the best candidates of a cheap ask are scored (one coordinate pass, the bounds included):
            each takes its best value by the log EHVI. The costs do not move along those dimensions, so this
            chooses the training setting for each architecture the agents found, at a few GP evaluations per
            candidate; ARS's bounded steps reach a bound (a learning rate at its top, say) only slowly. ``0``: off.
    """

    def __init__(
        self,
        agent: Agent,
        n_init: int = 10,
        n_agents: int = 4,
        iterations: int = 10,
        horizon: int = 6,
        max_step: float = 0.15,
        reward: str = "ei",
        mc_samples: int = 64,
        state_features: bool = False,
        known_costs: bool | str = False,
        global_agents: int = 0,
        raw_samples: int = 512,
        select: str = "reward",
        time_share: float | None = None,
        pool_size: int = 128,
        cost_inputs: bool = False,
        front: str = "observed",
        candidates: str = "rollout",
        explore: float = 1.0,
        prior_quantile: float | None = None,
        init_design: str = "lhs",
        snap: bool = False,
        polish: int = 0,
        cost_trend: bool = False,
        polish_starts: int = 0,
        front_samples: int = 16,
        free_search: int = 0,
    ) -> None:
        super().__init__(n_init, known_costs, init_design, snap)
        if int(polish) < 0 or int(polish_starts) < 0:
            raise ValueError(f"polish and polish_starts must be >= 0, got {polish!r} and {polish_starts!r}")
        self.polish, self.polish_starts = int(polish), int(polish_starts)
        if int(free_search) < 0 or int(free_search) == 1:
            raise ValueError(f"free_search must be 0 (off) or >= 2 grid points, got {free_search!r}")
        self.free_search = int(free_search)
        if front not in FRONTS:
            raise ValueError(f"front must be one of {', '.join(FRONTS)}, got {front!r}")
        self.front, self.front_samples = front, int(front_samples)
        if candidates not in CANDIDATES:
            raise ValueError(f"candidates must be one of {', '.join(CANDIDATES)}, got {candidates!r}")
        self.candidates = candidates
        if not float(explore) >= 1.0:
            raise ValueError(f"explore must be >= 1, got {explore!r}")
        self.explore = float(explore)
        if prior_quantile is not None and not 0.0 <= float(prior_quantile) <= 1.0:
            raise ValueError(f"prior_quantile must be in [0, 1] or null, got {prior_quantile!r}")
        self.prior_quantile = None if prior_quantile is None else float(prior_quantile)
        if not isinstance(agent, Agent):
            raise TypeError(f"agent must be a tinymoo Agent (e.g. agent=ars), got {type(agent).__name__}")
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        if select not in SELECTS:
            raise ValueError(f"select must be one of {', '.join(SELECTS)}, got {select!r}")
        self.select = select
        if time_share is not None and not float(time_share) > 0:
            raise ValueError(f"time_share must be > 0 or null, got {time_share!r}")
        self.time_share = None if time_share is None else float(time_share)
        if int(pool_size) < 1:
            raise ValueError(f"pool_size must be >= 1, got {pool_size}")
        self.pool_size = int(pool_size)
        if min(n_agents, iterations, horizon, mc_samples) < 1 or max_step <= 0:
            raise ValueError("n_agents, iterations, horizon, mc_samples must be >= 1 and max_step > 0")
        self.agent = agent
        self.n_agents, self.iterations, self.horizon = int(n_agents), int(iterations), int(horizon)
        self.max_step, self.reward, self.mc_samples = float(max_step), reward, int(mc_samples)
        self.state_features = bool(state_features)
        if global_agents < 0 or raw_samples < 1:
            raise ValueError("global_agents must be >= 0 and raw_samples >= 1")
        self.global_agents, self.raw_samples = int(global_agents), int(raw_samples)
        self.cost_inputs, self.cost_trend = bool(cost_inputs), bool(cost_trend)
        if self.cost_trend and self.prior_quantile is not None:
            raise ValueError("cost_trend and prior_quantile both set the error GP's prior mean: choose one")

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        self._pool = np.zeros((0, problem.dim))  # the last round's costed candidates, for cheap asks
        self._fallback = 0  # Sobol' points drawn while over the time share

    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.time_share is not None and self.proposal_s > self.time_share * self.trial_s:
            return self._cheap(n)
        chosen = self._round(rng, self._deadline())[:n]
        if len(chosen) < n:  # no agent proposed a new point that fits: the best pooled one, else a Sobol' point
            chosen.extend(self._cheap(n - len(chosen)))
        return np.array(chosen)

    def _deadline(self) -> float | None:
        """When this round should end (``perf_counter`` time): with ``k`` trials running, ``time_share`` x the median
        trial time / (k + 1), the expected time until the first of ``k`` staggered trials ends, so the next worker
        rarely waits; ``None``: no limit (no trials running, or no time share)."""
        duration = self.trial_duration_s
        if self.time_share is None or duration is None or not len(self.pending):
            return None
        return time.perf_counter() + self.time_share * duration / (len(self.pending) + 1)

    def _round(self, rng: np.random.Generator, deadline: float | None = None) -> list[np.ndarray]:
        """One full proposal round: train the agents on a fresh surrogate; their ranked distinct proposals.

        By ``deadline`` (``perf_counter`` time), agent ``i`` of ``L`` uses the time up to ``(i+1)/L`` of the round's
        span: it trains until then (one update at least), a global agent scores its raw set in chunks until then
        (one chunk at least), and the agents after the deadline are skipped (the first always runs). A hurry (a
        worker waits) ends such a round the same way at once."""
        begin = time.perf_counter()
        sur = self._surrogate()
        ehvi = self._ehvi(sur)
        kind = self.resolved_reward
        shared = ehvi if kind == "ehvi" else log_nehvi(sur, self.mc_samples, self.pending) if kind == "nehvi" else None
        features = posterior_features(sur.model, sur.y) if self.state_features else None
        proposals: list[tuple[float, np.ndarray]] = []
        pool: list[tuple[np.ndarray, np.ndarray]] = []  # the points the rollouts and raw sets visited, rewards
        raws: list[tuple[np.ndarray, np.ndarray]] = []  # the global agents' raw sets, scored (extra polish starts)
        starts: list[np.ndarray | None] = [*self._starts(rng), *([None] * self.global_agents)]
        timed = deadline is not None  # the round ends by the deadline, or at once when a worker waits (hurry)
        for i, start in enumerate(starts):
            own = None if deadline is None else begin + (i + 1) / len(starts) * (deadline - begin)
            if i and timed and self._over(deadline):
                break
            acq = shared if shared is not None else scalarized_log_ei(sur, self.mc_samples, self.pending)
            reward = self._scored(acq)
            raw = None
            if start is None:  # a global agent: start at the best raw candidate
                raw = qmc.Sobol(self.problem.dim, seed=int(rng.integers(2**31 - 1))).random(self.raw_samples)
                raw, values = scored_until(reward, raw, functools.partial(self._over, own) if timed else None)
                start = raw[int(np.argmax(values))]
                pool.append((raw, values))
                raws.append((raw, values))
            keep = self.pool_size if self.candidates == "visited" else 0
            env = SurrogateWalk(start, reward, self.horizon, self.max_step, features, 2 * sur.y.shape[-1], keep)
            agent = copy.deepcopy(self.agent)
            if not timed:
                agent.train(env, self.iterations, rng)
            else:
                for _ in range(self.iterations):
                    agent.train(env, 1, rng)
                    if self._over(own):
                        break
            visited, rewards = agent.rollout(env)
            best = int(np.argmax(rewards))
            if keep and len(env.best_v) and env.best_v[0] > rewards[best]:  # a training step found a better point
                proposals.append((float(env.best_v[0]), env.best_x[0]))
            else:
                proposals.append((float(rewards[best]), visited[best + 1, : self.problem.dim]))
            pool.append((visited[1:, : self.problem.dim], np.asarray(rewards, dtype=float)))
            pool.append((np.asarray(env.best_x).reshape(-1, self.problem.dim), np.asarray(env.best_v, dtype=float)))
        common = self._scored(ehvi)
        if self.select == "ehvi" and shared is not ehvi and proposals:  # one common criterion, one value per agent
            values = common(np.array([p for _, p in proposals]))
            proposals = [(float(v), p) for v, (_, p) in zip(values, proposals, strict=True)]
        if self.polish and self.select == "ehvi" and proposals and self.known is None and self.problem.snap is None:
            if self.polish_starts and raws and shared is ehvi:  # raw values are the common criterion already
                points, values = np.vstack([r for r, _ in raws]), np.concatenate([v for _, v in raws])
                best = np.argsort(-values, kind="stable")[: self.polish_starts]
                proposals += [(float(values[i]), points[i]) for i in best]
            moved = polished(ehvi, np.array([p for _, p in proposals]), self.polish)
            better = zip(common(moved), moved, proposals, strict=True)
            proposals = [(float(v), m) if v > old else (old, p) for v, m, (old, p) in better]
        if self.select == "ehvi" and proposals and self._free_dims:
            moved, values = self._free(common, np.array([p for _, p in proposals]))
            proposals = [(float(v), m) for v, m in zip(values, moved, strict=True)]
        if self.time_share is not None and pool:  # costed already: kept for cheap asks (see _cheap)
            points = np.vstack([p for p, _ in pool])
            values = np.concatenate([v for _, v in pool]) if shared is ehvi else common(points)  # ehvi: as rewarded
            keep = np.argsort(-values, kind="stable")[: self.pool_size]
            keep = keep[values[keep] > LOG_FLOOR]
            self._pool = self.snapped(self._free(common, points[keep], values[keep])[0])
        return self._ranked(proposals)

    @property
    def _free_dims(self) -> tuple[int, ...]:
        """The dimensions ``free_search`` scans: the known objectives' free ones (none without known costs)."""
        known = self.known
        return tuple(getattr(known, "free", ())) if self.free_search and known is not None else ()

    def _free(
        self, score: Callable[[np.ndarray], np.ndarray], points: np.ndarray, values: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``points`` at their best values of the free dimensions (:func:`free_searched`), and their scores."""
        return free_searched(score, points, self._free_dims, self.free_search, values)

    def _over(self, until: float | None) -> bool:
        """Whether a timed round must stop now: a worker waits for it (``hurry``), or it is past ``until``."""
        return self.hurried or (until is not None and time.perf_counter() >= until)

    def _cheap(self, n: int) -> np.ndarray:
        """``n`` points without training agents: the last round's candidate pool, re-ranked by the log EHVI of a
        surrogate refit on every observation so far (their costs are cached, so this costs a GP fit); once the
        pool is used up, feasible scrambled Sobol' points."""
        out: list[np.ndarray] = []
        if len(self._pool):
            score = self._scored(self._ehvi(self._surrogate()))
            values = score(self._pool)
            if self._free_dims:  # the best few, each at its best training setting under the refit surrogate
                top = np.argsort(-values, kind="stable")[: max(n, CHEAP_FREE_SEARCHED)]
                moved, scores = self._free(score, self._pool[top], values[top])
                self._pool[top], values[top] = self.snapped(moved), scores
            used = []
            for i in np.argsort(-values, kind="stable"):
                if len(out) == n:
                    break
                if values[i] > LOG_FLOOR and self._new(self._pool[i], out):
                    out.append(self._pool[i])
                    used.append(i)
            self._pool = np.delete(self._pool, used, axis=0)
        sobol = qmc.Sobol(self.problem.dim, seed=self.problem.seed + 7919)
        if self._fallback:
            sobol.fast_forward(self._fallback)
        known = self.known
        while len(out) < n:  # the next new point that fits the board (where known); if none of 1024, the nearest
            best, best_over = None, np.inf
            for _ in range(1024):
                point = self.snapped(sobol.random(1))[0]
                self._fallback += 1
                if not self._new(point, out):
                    continue
                over = float(known.excess(point[None])[0]) if known is not None else 0.0
                if over < best_over:
                    best, best_over = point, over
                if over <= 0:
                    break
            out.append(best if best is not None else np.random.default_rng(self._fallback).random(self.problem.dim))
        return np.array(out)

    def _scored(self, acq: AcquisitionFunction) -> Callable[[np.ndarray], np.ndarray]:
        """``acq`` as this optimizer scores points: at their snapped points, penalized where the board's or the
        reference's exact costs are exceeded (:func:`plugins.optimizers.agent_reward.batched_reward`)."""
        return batched_reward(acq, self.known, self.problem.ref_point, self.snapped)

    def _surrogate(self) -> Surrogate:
        """The surrogate every proposal uses: pending points believed, with this optimizer's GP settings."""
        return self.surrogate(self.cost_inputs, True, self.prior_quantile, self.cost_trend)

    def _new(self, point: np.ndarray, chosen: list[np.ndarray]) -> bool:
        """Whether ``point`` differs from every observed, pending and already chosen point."""
        return all(np.abs(point - t).max() > 1e-6 for t in [*self._x, *self.pending, *chosen])

    @property
    def resolved_reward(self) -> str:
        """``ehvi``, ``ei`` or ``nehvi``; ``auto`` is ``ehvi``: closed form, so its cost does not grow with the
        number of objectives the way qLogNEHVI's MC box decompositions do (see conf/optimizer/mobo_ars.yaml)."""
        return "ehvi" if self.reward == "auto" else self.reward

    # -- pieces -----------------------------------------------------------------------------------------------
    def _starts(self, rng: np.random.Generator) -> np.ndarray:
        """Agent start points: k-means centres of the Pareto set in input space, random points if it is small."""
        front = self._x[self.observed_front()]
        if len(front) > self.n_agents:
            km = KMeans(n_clusters=self.n_agents, n_init=4, random_state=int(rng.integers(2**31 - 1)))
            return km.fit(front).cluster_centers_
        extra = rng.random((self.n_agents - len(front), self.problem.dim))
        return np.vstack([front, extra])

    def _ehvi(self, sur: Surrogate) -> LogExpectedHypervolumeImprovement:
        """Closed-form log EHVI over the feasible front (in the surrogate's output order; see ``front``)."""
        rows = torch.as_tensor(np.flatnonzero(self._feasible & np.all(np.isfinite(self._y), axis=1)))
        n_gp = len(sur.order) - sur.n_known
        model = sur.model
        if self.front == "sampled" and len(rows) and n_gp:  # joint draws at the trials; seeded by n: exact resume
            with torch.no_grad(), warnings.catch_warnings(), torch.random.fork_rng():
                ignore_jitter_warnings()
                torch.manual_seed(len(self._y))
                front = sur.sampler(self.front_samples)(sur.model.posterior(sur.x[rows]))
            front[..., n_gp:] = sur.y[rows][:, n_gp:].to(front)  # exact outcomes stay exact
        elif self.front in ("posterior", "believed"):
            front = sur.y[rows].clone()
            if len(rows) and n_gp:
                with torch.no_grad(), warnings.catch_warnings():
                    ignore_jitter_warnings()
                    mean = cast(Any, sur.model.posterior(sur.x[rows].unsqueeze(-2))).mean.squeeze(-2)
                front[:, :n_gp] = mean[:, :n_gp].to(front)
                if self.front == "believed":  # a candidate at a trial then gains nothing over the trial's own mean
                    model = believed_at(sur.model, sur.x[rows])
        else:
            front = sur.y[torch.as_tensor(self.observed_front(), dtype=torch.long)]
        pending = x_pending(self.pending)
        return LogExpectedHypervolumeImprovement(model, sur.ref_point, front, X_pending=pending, std_scale=self.explore)

    def _ranked(self, proposals: list[tuple[float, np.ndarray]]) -> list[np.ndarray]:
        """The distinct proposals that fit the board (where known), best first, never an observed point."""
        chosen: list[np.ndarray] = []
        known = self.known
        for _, raw in sorted(proposals, key=lambda p: -p[0]):
            point = self.snapped(raw)
            if known is not None and known.excess(point[None])[0] > 0:
                continue
            if self._new(point, chosen):
                chosen.append(point)
        return chosen

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pool": self._pool.tolist(), "fallback": self._fallback}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._pool = np.asarray(state.get("pool", []), dtype=float).reshape(-1, self.problem.dim)
        self._fallback = int(state.get("fallback", 0))
