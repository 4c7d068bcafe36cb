"""``optimizer=turbo``: TuRBO-1 (Eriksson et al., 2019) on random augmented-Chebyshev scalarizations.

One trust region (TR) around the best observation, Thompson sampling inside it, and a side length that doubles
after ``success_tolerance`` improving batches in a row and halves after ``failure_tolerance`` failing ones. To
handle several objectives, every proposal draws a fresh weight vector from the simplex and scalarizes the
normalized objectives with it (as ParEGO does); the TR is shared by all scalarizations. Points still being
evaluated in an asynchronous search (``set_pending``) count as chosen already: no candidate near one is proposed.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, cast

import numpy as np
import torch
from botorch.generation.sampling import MaxPosteriorSampling
from botorch.models import SingleTaskGP
from torch.quasirandom import SobolEngine

from core.api import DTYPE, ModelBasedOptimizer, Problem, fit_gp, ignore_jitter_warnings


def chebyshev_scalarize(y: np.ndarray, weights: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Augmented Chebyshev scalarization of minimized objectives, lower is better (Knowles, 2006).

    Each objective is min-max normalized over the finite rows of ``y``, then
    ``g = max_i(w_i * y_i) + alpha * sum_i(w_i * y_i)``.

    Args:
        y: objectives, ``n x m``, minimized; rows with a non-finite value scalarize to ``+inf``.
        weights: ``m`` non-negative weights (a point of the simplex).
        alpha: weight of the linear (augmentation) term.

    Returns:
        The scalarized values, shape ``n``.
    """
    y = np.asarray(y, dtype=float)
    ok = np.all(np.isfinite(y), axis=1)
    out = np.full(len(y), np.inf)
    if not ok.any():
        return out
    lo, hi = y[ok].min(axis=0), y[ok].max(axis=0)
    z = weights * (y[ok] - lo) / np.maximum(hi - lo, 1e-12)
    out[ok] = z.max(axis=1) + alpha * z.sum(axis=1)
    return out


class TuRBO(ModelBasedOptimizer):
    """TuRBO-1 with one random Chebyshev scalarization per proposal; Latin-hypercube initial design first.

    Each ``propose`` call draws weights ``w`` uniformly from the simplex, fits one ``SingleTaskGP``
    (standardized outcome) to the scalarized observations (failed trials imputed with the worst observed values),
    centres the TR at the best scalarized observation, stretches it per dimension by the GP lengthscales (their
    geometric mean is one, the side length ``length``), and picks the batch by **Thompson sampling** over a
    scrambled Sobol' candidate set in the TR, perturbing each coordinate of the centre with probability
    ``min(1, 20 / d)`` (as in the BoTorch TuRBO tutorial).

    Points still being evaluated (``set_pending``, in an asynchronous search) are treated like points already
    chosen for the batch: candidates closer to one than ``pending_radius`` TR sides (Euclidean, in the TR's
    stretched coordinates) are dropped before sampling, so a proposal does not repeat a running trial. Without
    pending points nothing changes.

    When every point of a proposed batch has been told (in any order, over any number of ``tell`` calls: told
    rows are matched to asked points by ``x``), the batch is a *success* if its best scalarized value, under the
    *same* weights ``w`` it was proposed with (objectives normalized over all observations so far), beats the
    best other observation told by then by a relative ``1e-3``; failed trials never succeed. Tolerances follow
    the paper: doubling after ``success_tolerance`` successes in a row (up to ``length_max``), halving after
    ``ceil(max(4 / q, d / q))`` failures in a row for batch size ``q``. When ``length`` falls below
    ``length_min`` the TR restarts: the length and counters are reset, but the observations (and so the GP and
    the best point the next TR is centred at) are kept, since evaluations are too costly here to restart from a
    fresh design.

    Args:
        n_init: initial design size.
        n_candidates: Thompson-sampling candidates per proposal; default ``min(5000, max(2000, 200 * d))``.
        length_init / length_min / length_max: TR side length at the start and after a restart, its restart
            threshold, and its cap (unit-cube units).
        success_tolerance: successes in a row that double the TR.
        alpha: weight of the linear term of the augmented Chebyshev scalarization.
        pending_radius: how close (in TR sides) a candidate may come to a pending point.
    """

    def __init__(
        self,
        n_init: int = 10,
        n_candidates: int | None = None,
        length_init: float = 0.8,
        length_min: float = 0.5**7,
        length_max: float = 1.6,
        success_tolerance: int = 3,
        alpha: float = 0.05,
        pending_radius: float = 0.1,
    ) -> None:
        super().__init__(n_init)
        self.n_candidates = None if n_candidates is None else int(n_candidates)
        self.length_init, self.length_min, self.length_max = float(length_init), float(length_min), float(length_max)
        self.success_tolerance = int(success_tolerance)
        self.alpha = float(alpha)
        self.pending_radius = float(pending_radius)

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        self._length = self.length_init
        self._successes = 0
        self._failures = 0
        self._restarts = 0
        self._n_proposals = 0
        # one entry per asked, untold point, in asking order: the point (None in a state from before it was kept:
        # matched first come, first served) and None for design/random points, else the proposal it came from
        self._asked_x: list[list[float] | None] = []
        self._sources: list[dict[str, Any] | None] = []
        self._told_rows: dict[int, list[int]] = {}  # proposal id -> observation rows of its told points
        self._proposal: dict[str, Any] | None = None

    # -- ask/tell ---------------------------------------------------------------------------------------------
    def ask(self, n: int) -> np.ndarray:
        n_design = max(0, min(n, self.n_init - self._asked))
        self._proposal = None
        x = super().ask(n)
        self._asked_x.extend(x.tolist())
        self._sources.extend([None] * n_design)
        self._sources.extend([self._proposal] * (n - n_design))
        if self._proposal is not None:
            self._n_proposals += 1
        self._proposal = None
        return x

    def tell(self, x: np.ndarray, y: np.ndarray, feasible: np.ndarray) -> None:
        """Store the results; update the TR once per proposal batch, when its last point is told.

        Rows may come in any order and grouping: each is matched to an asked, untold point by ``x`` (a row that
        matches none is kept as an observation of no batch).
        """
        start = len(self._x)
        super().tell(x, y, feasible)
        touched: dict[int, dict[str, Any]] = {}  # proposals with rows in this tell, in order of their first row
        for i, xi in enumerate(np.asarray(x, dtype=float).reshape(-1, self.problem.dim)):
            j = self._match(xi)
            if j is None:
                continue
            self._asked_x.pop(j)
            source = self._sources.pop(j)
            if source is not None:
                self._told_rows.setdefault(int(source["id"]), []).append(start + i)
                touched.setdefault(int(source["id"]), source)
        for pid, source in touched.items():
            if not any(s is not None and int(s["id"]) == pid for s in self._sources):  # all of the batch told
                self._update_region(self._told_rows.pop(pid), source)

    def _match(self, x: np.ndarray) -> int | None:
        """Index in the asked, untold points of the first one at ``x`` (``d``), else of the first one not kept."""
        for j, asked in enumerate(self._asked_x):
            if asked is not None and np.allclose(asked, x, rtol=0.0, atol=1e-9):
                return j
        return next((j for j, asked in enumerate(self._asked_x) if asked is None), None)

    def _update_region(self, rows: list[int], proposal: dict[str, Any]) -> None:
        """TuRBO's success/failure update for the batch in observation ``rows`` (against the rows told before its
        last one, the batch's own excepted: in a synchronous search, every earlier observation)."""
        rows = sorted(rows)
        end = rows[-1] + 1
        g = chebyshev_scalarize(self._y[:end], np.asarray(proposal["weights"]), self.alpha)
        others = np.ones(end, dtype=bool)
        others[rows] = False
        best_before, best_new = g[others].min(initial=np.inf), g[rows].min()
        if best_new < best_before - 1e-3 * abs(best_before):
            self._successes, self._failures = self._successes + 1, 0
        else:
            self._successes, self._failures = 0, self._failures + 1
        q = int(proposal["q"])
        if self._successes >= self.success_tolerance:
            self._length, self._successes = min(2.0 * self._length, self.length_max), 0
        elif self._failures >= math.ceil(max(4.0 / q, self.problem.dim / q)):
            self._length, self._failures = self._length / 2.0, 0
        if self._length < self.length_min:
            self._length, self._successes, self._failures = self.length_init, 0, 0
            self._restarts += 1

    def propose(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Thompson-sample ``n`` points (``n x d``) in the TR of a GP on one random Chebyshev scalarization."""
        d = self.problem.dim
        weights = rng.dirichlet(np.ones(len(self.problem.objective_names)))
        x, neg_y = self.training_data()
        g = chebyshev_scalarize(-neg_y.numpy(), weights, self.alpha)
        model = cast(SingleTaskGP, fit_gp(x, -torch.as_tensor(g, dtype=DTYPE).unsqueeze(-1)).models[0])

        kernel: Any = getattr(model.covar_module, "base_kernel", model.covar_module)  # ScaleKernel or not
        scale = kernel.lengthscale.detach().reshape(-1).to(DTYPE)
        scale = scale / scale.mean()
        scale = scale / torch.prod(scale.pow(1.0 / len(scale)))
        centre = x[int(np.argmin(g))]
        lb = torch.clamp(centre - scale * self._length / 2.0, 0.0, 1.0)
        ub = torch.clamp(centre + scale * self._length / 2.0, 0.0, 1.0)

        n_cand = self.n_candidates or min(5000, max(2000, 200 * d))
        n_cand = max(n_cand, n)
        sobol = SobolEngine(d, scramble=True, seed=int(rng.integers(2**31)))
        pert = lb + (ub - lb) * sobol.draw(n_cand).to(DTYPE)
        mask = torch.rand(n_cand, d, dtype=DTYPE) <= min(20.0 / d, 1.0)
        none = torch.where(mask.sum(dim=1) == 0)[0]
        mask[none, torch.randint(0, d, size=(len(none),))] = True
        cand = centre.expand(n_cand, d).clone()
        cand[mask] = pert[mask]
        if len(self.pending):
            cand = self._away_from_pending(cand, scale * self._length, n)
        with warnings.catch_warnings(), torch.no_grad():
            ignore_jitter_warnings()  # the joint posterior over thousands of candidates
            chosen = MaxPosteriorSampling(model=model, replacement=False)(cand, num_samples=n)

        self._proposal = {"id": self._n_proposals, "weights": weights.tolist(), "q": n}
        return chosen.numpy()

    def _away_from_pending(self, cand: torch.Tensor, side: torch.Tensor, n: int) -> torch.Tensor:
        """The candidates (``c x d``) at least ``pending_radius`` TR sides (``side``, per dimension) away from
        every pending point; the ``n`` farthest ones where fewer are left."""
        pending = torch.as_tensor(self.pending, dtype=DTYPE)
        dist = torch.cdist(cand / side, pending / side).min(dim=1).values
        keep = dist >= self.pending_radius
        if int(keep.sum()) < n:
            keep = torch.zeros_like(keep)
            keep[torch.argsort(dist, descending=True, stable=True)[:n]] = True
        return cand[keep]

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "region": self.region,
            "n_proposals": self._n_proposals,
            "pending": [None if p is None else dict(p) for p in self._sources],
            "pending_x": [None if a is None else list(a) for a in self._asked_x],
            "told_rows": [[pid, list(rows)] for pid, rows in self._told_rows.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)  # calls setup, which resets the region
        region = state["region"]
        self._length = float(region["length"])
        self._successes, self._failures = int(region["successes"]), int(region["failures"])
        self._restarts = int(region["restarts"])
        self._n_proposals = int(state["n_proposals"])
        self._sources = [None if p is None else dict(p) for p in state["pending"]]
        xs = state.get("pending_x", [None] * len(self._sources))  # a state from before asked points were kept
        self._asked_x = [None if a is None else [float(v) for v in a] for a in xs]
        self._told_rows = {int(pid): [int(r) for r in rows] for pid, rows in state.get("told_rows", [])}

    @property
    def region(self) -> dict[str, float]:
        """The trust region's state: side ``length``, ``successes`` / ``failures`` in a row, ``restarts``."""
        return {
            "length": self._length,
            "successes": self._successes,
            "failures": self._failures,
            "restarts": self._restarts,
        }
