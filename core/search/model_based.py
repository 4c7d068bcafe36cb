"""The base classes of model-based optimizers: initial design, observations, proposals (BoTorch surrogates).

:class:`ModelBasedOptimizer` implements the ask/tell bookkeeping once: an initial design of ``n_init`` points
(:mod:`core.search.design`), then ``propose(n)`` from the subclass. Observations are kept in the unit cube with
normalized, minimized objectives. Failed trials (NaN rows) are imputed with the worst observed value of each
objective, so the surrogate learns to avoid them rather than proposing the same point forever. Every proposal
is seeded from ``(seed, number of observations)``, so a resumed optimizer proposes exactly what the original
would have. :class:`AcquisitionOptimizer` adds multi-start L-BFGS-B over BoTorch acquisition functions.

With ``known_costs=true`` the objectives the search can compute without training (``Problem.known``: flash,
SRAM, MACs, latency) are not modelled: :meth:`ModelBasedOptimizer.surrogate` fits GPs to the other objectives
only and adds the exact function as a BoTorch ``GenericDeterministicModel`` in a ``ModelList``
(:mod:`core.search.surrogate`).
"""

from __future__ import annotations

import math
import time
import warnings
from abc import abstractmethod
from typing import Any, cast

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.exceptions.warnings import BadInitialCandidatesWarning
from botorch.models import ModelListGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import Model, ModelList
from botorch.optim import optimize_acqf
from botorch.optim.optimize import optimize_acqf_list
from scipy.stats import qmc

from core.interfaces.optimizer import KnownObjectives, Optimizer, Problem
from core.search.design import DESIGNS, costed_design, latin_hypercube
from core.search.surrogate import (
    DTYPE,
    CostInputs,
    Surrogate,
    believed_at,
    fit_gp,
    ignore_jitter_warnings,
    known_function,
    unit_bounds,
)


class ModelBasedOptimizer(Optimizer):
    """Base for surrogate-based optimizers: initial design, observation store, deterministic proposals.

    Args:
        n_init: size of the initial design (evaluated before any model is fit).
        known_costs: ``true``: model only the objectives the search cannot compute without training and take the
            others (flash, SRAM, MACs, latency) from the exact function ``Problem.known`` (see :meth:`surrogate`);
            ``false``: model every objective; ``auto``: ``true`` exactly when the problem has known objectives
            (every TinyML search with a cost objective).
        init_design: ``lhs`` (a Latin hypercube) or ``costed`` (with known costs: only points that fit the board
            and lie inside the reference in every known objective, spread out; :mod:`core.search.design`).
        snap: every point this optimizer asks for, and every point its surrogate is fit on, is the point its
            configuration decodes back to (``Problem.snap``: int and categorical coordinates at their cell's
            centre), so the GPs see one input per architecture instead of a cell of them; subclasses evaluate their
            acquisition there too (:meth:`snapped`). A no-op where the problem has no ``snap``.
    """

    def __init__(
        self, n_init: int = 10, known_costs: bool | str = False, init_design: str = "lhs", snap: bool = False
    ) -> None:
        if int(n_init) < 1:
            raise ValueError(f"n_init must be >= 1, got {n_init}")
        if not isinstance(known_costs, bool) and known_costs != "auto":
            raise ValueError(f"known_costs must be true, false or auto, got {known_costs!r}")
        if init_design not in DESIGNS:
            raise ValueError(f"init_design must be one of {', '.join(DESIGNS)}, got {init_design!r}")
        self.init_design = init_design
        self.n_init = int(n_init)
        self.known_costs = known_costs
        self.uses_known = known_costs is True
        self.snap = bool(snap)

    def setup(self, problem: Problem) -> None:
        has_known = problem.known is not None and bool(problem.known.columns)
        if self.known_costs is True and not has_known:
            raise ValueError(
                "known_costs=true needs objectives the search can compute without training (flash, ram, macs, "
                f"latency), but this problem's objectives {list(problem.objective_names)} have none; "
                "set optimizer.known_costs=false or auto"
            )
        self.uses_known = has_known if self.known_costs == "auto" else bool(self.known_costs)
        super().setup(problem)
        self._design: np.ndarray | None = None  # made by _design_points() at the first ask that needs it
        self._cost_transform: CostInputs | None = None
        self._asked = 0
        self._x = np.zeros((0, problem.dim))
        self._y = np.zeros((0, len(problem.objective_names)))
        self._feasible = np.zeros(0, dtype=bool)
        self.proposal_s = 0.0  # wall time spent in propose()
        self.trial_s = 0.0  # wall time between proposals: from an ask's return to the next proposal (the trials')
        self._asked_at: float | None = None
        self._pending = np.zeros((0, problem.dim))
        self._handed_out: dict[bytes, float] = {}  # point -> when ask returned it
        self._durations: list[float] = []  # seconds from ask to tell of each point told since
        self._hurried = False  # set by hurry() (from the search's thread) while an ask runs; cleared when it returns

    # -- ask/tell ---------------------------------------------------------------------------------------------
    def ask(self, n: int) -> np.ndarray:
        if self._asked_at is not None:  # since the last ask returned, trials (and telling) ran
            self.trial_s += time.perf_counter() - self._asked_at
        out: list[np.ndarray] = []
        while len(out) < n and self._asked < self.n_init:
            out.append(self.snapped(self._design_points()[self._asked]))
            self._asked += 1
        rest = n - len(out)
        if rest:
            # seeded by how many points were asked before (= observations, in a search that tells before it asks)
            torch.manual_seed(self.problem.seed * 100_003 + self._asked)
            rng = np.random.default_rng([self.problem.seed, self._asked])
            if self.n_observed < 2:  # nothing to model yet (e.g. every design point failed)
                proposed = rng.random((rest, self.problem.dim))
            else:
                t0 = time.perf_counter()
                proposed = np.asarray(self.propose(rest, rng), dtype=float).reshape(rest, self.problem.dim)
                self.proposal_s += time.perf_counter() - t0
            out.extend(self.snapped(np.clip(proposed, 0.0, 1.0)))
            self._asked += rest
        self._asked_at = time.perf_counter()
        self._hurried = False  # a hurry is for the proposal that was running when it came
        points = np.array(out, dtype=float).reshape(n, self.problem.dim)
        self._handed_out.update((_point_key(p), self._asked_at) for p in points)
        return points

    def _design_points(self) -> np.ndarray:
        """The ``n_init`` initial design points, made once (the costed design needs the exact costs of its
        candidates, so it is made when first needed, not at setup)."""
        if self._design is None:
            p, known = self.problem, self.known
            if self.init_design == "costed" and known is not None:
                self._design = costed_design(self.n_init, p.dim, p.seed, known, p.ref_point)
            else:
                self._design = latin_hypercube(self.n_init, p.dim, p.seed)
        return self._design

    def set_pending(self, x: np.ndarray) -> None:
        self._pending = np.asarray(x, dtype=float).reshape(-1, self.problem.dim)

    @property
    def pending(self) -> np.ndarray:
        """Points asked for and still being evaluated (``k x d``; see ``Optimizer.set_pending``)."""
        return self._pending

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        now = time.perf_counter()
        for p in np.asarray(x, dtype=float).reshape(-1, self.problem.dim):
            asked = self._handed_out.pop(_point_key(p), None)
            if asked is not None:
                self._durations.append(now - asked)
        self._x = np.vstack([self._x, np.asarray(x, dtype=float)])
        self._y = np.vstack([self._y, np.asarray(y, dtype=float)])
        self._feasible = np.concatenate([self._feasible, np.asarray(feasible, dtype=bool)])

    def hurry(self) -> None:
        self._hurried = True

    @property
    def hurried(self) -> bool:
        """Whether a worker waits for the ``ask`` now running (``Optimizer.hurry``): an anytime ``propose`` should
        return the best it has."""
        return self._hurried

    @property
    def trial_duration_s(self) -> float | None:
        """Median seconds from handing a point out (``ask``) to being told its result, over the points this
        process asked for (``None`` before the first); the time a trial occupies a worker, queueing included."""
        return float(np.median(self._durations)) if self._durations else None

    @abstractmethod
    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Propose ``n`` new points (``n x d``) from the observations; torch's RNG is already seeded."""

    # -- data for subclasses ----------------------------------------------------------------------------------
    @property
    def n_observed(self) -> int:
        """Observations with measured objectives (failed trials excluded)."""
        return int(np.all(np.isfinite(self._y), axis=1).sum())

    def training_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(X, Y)`` as double tensors; Y is *negated* (BoTorch maximizes).

        Missing values are imputed with the worst observed value of their objective: a failed trial's whole row,
        or the error of a candidate that was never trained because it cannot fit the board.
        """
        y = self._y.copy()
        missing = ~np.isfinite(y)
        if missing.any():
            ok = np.all(np.isfinite(y), axis=1)
            worst = y[ok].max(axis=0) if ok.any() else np.asarray(self.problem.ref_point, dtype=float)
            y[missing] = np.broadcast_to(worst, y.shape)[missing]
        return torch.as_tensor(self.snapped(self._x), dtype=DTYPE), -torch.as_tensor(y, dtype=DTYPE)

    def snapped(self, points: np.ndarray) -> np.ndarray:
        """``points`` at the points their configurations decode back to, with ``snap`` on (see the class); as they
        are otherwise."""
        points = np.asarray(points, dtype=float)
        return self.problem.snap(points) if self.snap and self.problem.snap is not None else points

    @property
    def known(self) -> KnownObjectives | None:
        """The exact objective function, when this optimizer uses it (``known_costs`` true, or auto with one)."""
        return self.problem.known if self.uses_known else None

    def surrogate(
        self,
        cost_inputs: bool = False,
        believe_pending: bool = False,
        prior_quantile: float | None = None,
        cost_trend: bool = False,
    ) -> Surrogate:
        """Fit the surrogate of every objective (see :class:`Surrogate`).

        Without known costs: one GP per objective. With them: GPs for the other objectives (fit on the trials
        that measured them; a candidate skipped for not fitting measured no error) and a deterministic model of
        the known ones, whose outputs come last. ``cost_inputs`` (with known costs only) gives those GPs the exact
        log costs as extra inputs (:class:`CostInputs`). ``believe_pending`` conditions the GPs on the pending points
        (:attr:`pending`) at their posterior mean (kriging believer): their posterior variance there collapses, so
        an acquisition no longer sees anything to gain where a running trial already looks. ``prior_quantile``:
        the GPs' prior mean is fixed at that quantile of their observations (see :func:`fit_gp`). ``cost_trend``
        (with known costs only): their prior mean is linear in the exact log costs (learned), and only the
        kernel sees the costs too if ``cost_inputs`` is set.
        """
        x, y = self.training_data()
        m = y.shape[-1]
        known = self.known
        if known is None:
            gp = fit_gp(x, y, prior_quantile=prior_quantile)
            return Surrogate(
                self._believed(gp) if believe_pending else gp, x, y, self.ref_point_max(), list(range(m)), 0
            )
        kcols = list(known.columns)
        ucols = [i for i in range(m) if i not in kcols]
        order = ucols + kcols
        skipped = np.all(~np.isfinite(self._y[:, ucols]), axis=1) & np.all(np.isfinite(self._y[:, kcols]), axis=1)
        rows = torch.as_tensor(np.flatnonzero(~skipped))
        exact = -torch.as_tensor(known(self._x), dtype=DTYPE)
        # ask() proposes only after 2 fully measured observations, so the GPs always have data
        transform = self._cost_inputs() if cost_inputs or cost_trend else None
        trend = len(kcols) if cost_trend else 0
        kernel = None if cost_inputs or not cost_trend else self.problem.dim
        models: list[Model] = (
            [fit_gp(x[rows], y[rows][:, ucols], transform, prior_quantile, trend, kernel)] if ucols else []
        )
        if believe_pending and models:
            models[0] = self._believed(cast(ModelListGP, models[0]))
        models.append(GenericDeterministicModel(known_function(known, self.problem.dim), num_outputs=len(kcols)))
        y_ordered = torch.cat([y[:, ucols], exact], dim=-1)
        return Surrogate(ModelList(*models), x, y_ordered, self.ref_point_max()[order], order, len(kcols))

    def _believed(self, gp: ModelListGP) -> ModelListGP:
        """``gp`` conditioned on the pending points at its own posterior mean (:func:`believed_at`); itself when none
        are pending."""
        if not len(self._pending):
            return gp
        return cast(ModelListGP, believed_at(gp, torch.as_tensor(self._pending, dtype=DTYPE)))

    def _cost_inputs(self) -> CostInputs:
        """The :class:`CostInputs` of this problem, scaled over 256 scrambled Sobol' points (made once)."""
        if self._cost_transform is None:
            samples = qmc.Sobol(self.problem.dim, seed=self.problem.seed).random(256)
            assert self.problem.known is not None  # surrogate() passes cost_inputs on with known costs only
            self._cost_transform = CostInputs(self.problem.known, samples)
        return self._cost_transform

    def observed_front(self) -> np.ndarray:
        """Indices of non-dominated feasible observations (minimization)."""
        from core.search.pareto import pareto_mask

        idx = np.flatnonzero(self._feasible & np.all(np.isfinite(self._y), axis=1))
        if len(idx) == 0:
            return idx
        return idx[pareto_mask(self._y[idx])]

    def ref_point_max(self) -> torch.Tensor:
        """The reference point in BoTorch's maximization convention."""
        return -torch.as_tensor(self.problem.ref_point, dtype=DTYPE)

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "asked": self._asked,
            "x": self._x.tolist(),
            "y": [[None if not math.isfinite(v) else v for v in row] for row in self._y.tolist()],
            "feasible": self._feasible.tolist(),
            "proposal_s": self.proposal_s,
            "trial_s": self.trial_s,
            "durations_s": self._durations,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.setup(self.problem)
        self._asked = int(state["asked"])
        d, m = self.problem.dim, len(self.problem.objective_names)
        self._x = np.array(state["x"], dtype=float).reshape(-1, d)
        self._y = np.array([[np.nan if v is None else v for v in row] for row in state["y"]], dtype=float).reshape(
            -1, m
        )
        self._feasible = np.array(state["feasible"], dtype=bool)
        self.proposal_s = float(state.get("proposal_s", 0.0))
        self.trial_s = float(state.get("trial_s", 0.0))
        self._durations = [float(t) for t in state.get("durations_s", [])]


class AcquisitionOptimizer(ModelBasedOptimizer):
    """A model-based optimizer whose proposals maximize BoTorch acquisition functions with multi-start L-BFGS-B.

    Args:
        n_init: initial design size.
        mc_samples: quasi-MC samples of the acquisition value.
        num_restarts / raw_samples: multi-start settings of ``optimize_acqf``.
        maxiter: L-BFGS-B iterations per restart.
    """

    def __init__(
        self, n_init: int = 10, mc_samples: int = 128, num_restarts: int = 8, raw_samples: int = 256, maxiter: int = 100
    ) -> None:
        super().__init__(n_init)
        self.mc_samples, self.num_restarts, self.raw_samples = int(mc_samples), int(num_restarts), int(raw_samples)
        self.maxiter = int(maxiter)

    def maximize(self, acqs: list[AcquisitionFunction], q: int) -> np.ndarray:
        """``q`` candidates (``q x d``): jointly/sequentially for one function, or one per function in a list."""
        kwargs: dict[str, Any] = {
            "bounds": unit_bounds(self.problem.dim),
            "num_restarts": self.num_restarts,
            "raw_samples": self.raw_samples,
            "options": {"batch_limit": 5, "maxiter": self.maxiter},
        }
        with warnings.catch_warnings():
            ignore_jitter_warnings()
            # optimize_acqf's notices that it retries failed restarts ("Optimization failed in `gen_candidates_scipy`
            # ... Trying again", "... on the second try") and that all raw samples scored the same, so it starts
            # from random points; both are routine on flat acquisition surfaces
            warnings.filterwarnings("ignore", r"Optimization failed", RuntimeWarning)
            warnings.filterwarnings("ignore", category=BadInitialCandidatesWarning)
            if len(acqs) == 1:
                cand, _ = optimize_acqf(acqs[0], q=q, sequential=True, **kwargs)
            else:
                cand, _ = optimize_acqf_list(acqs, **kwargs)
        return cand.detach().numpy()


def _point_key(point: np.ndarray) -> bytes:
    """A point's identity across ask and tell (rounded: a search may store and reload it)."""
    return np.round(np.asarray(point, dtype=float), 9).tobytes()
