"""Closed-form log expected hypervolume improvement of one candidate (q=1), for Gaussian and exact outcomes.

Where the objectives of a candidate are independent under the surrogate, each either Gaussian (a GP's
posterior, e.g. the error) or exact (a deterministic model, e.g. flash/SRAM/MACs computed from the
architecture), the expected hypervolume improvement has a closed form. The region the current front does not
dominate (between it and the reference point) is split into axis-aligned cells ``[l, u]`` (BoTorch's box
decomposition). The improvement of a point ``y`` (maximization) inside one cell is the product over outcomes of
``(min(y_j, u_j) - l_j)^+``; summed over cells it is the hypervolume improvement, and by independence its
expectation is the sum over cells of the product of per-outcome expectations:

* exact outcome ``c``: ``(min(c, u) - l)^+``;
* Gaussian outcome ``N(mu, s^2)``: ``E[(min(Y, u) - l)^+] = s * (G((mu - l)/s) - G((mu - u)/s))`` with
  ``G(z) = phi(z) + z * Phi(z)``, the antiderivative of the normal CDF (``G(-inf) = 0``).

Everything is computed in log space (a log-sum-exp over cells of sums of per-outcome logs), the way BoTorch's
LogEI is, so a candidate whose improvement is tiny still gets a finite value that ranks it: an agent far from any
improvement still sees which way is better. A cell or outcome with no improvement at all contributes ``-inf``.

With one uncertain outcome and exact costs this is the integral, from the candidate's error to the reference, of
the cost volume the front does not yet dominate, in expectation under the GP: a few hundred cells at 4
objectives, one vectorized pass per batch of candidates, whatever the number of objectives.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models.model import Model
from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
from torch import Tensor

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
_ASYMPTOTIC_BELOW = -1e4  # below this z, log G(z) uses its asymptotic series (the erfcx form cancels)
_EXACT_VARIANCE = 1e-18  # an outcome whose posterior variance is at most this is exact


def log_normal_cdf_integral(z: Tensor) -> Tensor:
    """``log G(z)`` with ``G(z) = phi(z) + z * Phi(z) = integral of Phi from -inf to z``, accurate for all z.

    For ``z > -1`` directly; below, ``G(z) = phi(z) * (1 - |z| * Phi(z)/phi(z))`` with the Mills ratio from
    ``erfcx`` (no underflow); below :data:`_ASYMPTOTIC_BELOW`, ``G(z) ~ phi(z) / z^2 * (1 - 3/z^2 + 15/z^4)``.
    ``z = -inf`` gives ``-inf``.
    """
    z = z.to(torch.double) if not z.is_floating_point() else z
    log_phi = -0.5 * z * z - _LOG_SQRT_2PI
    upper = z > -1.0
    zu = torch.where(upper, z, torch.zeros_like(z))
    direct = torch.log(torch.exp(-0.5 * zu * zu - _LOG_SQRT_2PI) + zu * torch.special.ndtr(zu))
    zm = torch.where(upper | (z < _ASYMPTOTIC_BELOW), -torch.ones_like(z), z)
    mills = _SQRT_HALF_PI * torch.special.erfcx(-zm / math.sqrt(2.0))  # Phi(z) / phi(z)
    middle = log_phi + torch.log1p(zm * mills)
    za = torch.where(z < _ASYMPTOTIC_BELOW, z, torch.full_like(z, _ASYMPTOTIC_BELOW))
    inv2 = 1.0 / (za * za)
    asymptotic = log_phi + torch.log(inv2) + torch.log1p(-3.0 * inv2 + 15.0 * inv2 * inv2)
    out = torch.where(upper, direct, torch.where(z < _ASYMPTOTIC_BELOW, asymptotic, middle))
    return torch.where(torch.isneginf(z), torch.full_like(z, -math.inf), out)


def log1mexp(x: Tensor) -> Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate near 0 and for very negative ``x`` (``-inf`` -> 0)."""
    near = x > -math.log(2.0)
    return torch.where(
        near,
        torch.log(-torch.expm1(torch.where(near, x, -torch.ones_like(x)))),
        torch.log1p(-torch.exp(torch.where(near, -torch.ones_like(x), x))),
    )


def log_ehvi(mean: Tensor, std: Tensor, lower: Tensor, upper: Tensor) -> Tensor:
    """Log expected hypervolume improvement of independent outcomes over a box decomposition (maximization).

    Args:
        mean: posterior means (or exact values), ``... x m``.
        std: posterior standard deviations, ``... x m``; an outcome with ``std == 0`` is exact.
        lower / upper: the cells of the not-yet-dominated region, ``c x m`` each (``upper`` may be ``+inf``).

    Returns:
        ``log E[HVI]``, shape ``...``; ``-inf`` where no cell can be improved.
    """
    mu = mean.unsqueeze(-2)  # ... x 1 x m
    sd = std.unsqueeze(-2)
    exact = sd <= math.sqrt(_EXACT_VARIANCE)
    # exact outcomes: log (min(c, u) - l)^+ (every branch torch.where drops is kept finite, so gradients are too)
    width = torch.minimum(mu, upper) - lower
    gains = width > 0
    log_exact = torch.where(gains, torch.log(torch.where(gains, width, torch.ones_like(width))), -math.inf)
    # Gaussian outcomes: log s + log(G(zl) - G(zu)), zl = (mu - l)/s >= zu = (mu - u)/s; G(-inf) = 0 for u = +inf
    s = torch.where(exact, torch.ones_like(sd), sd)
    log_g_l = log_normal_cdf_integral((mu - lower) / s)
    bounded = torch.isfinite(upper).expand_as(log_g_l)
    log_g_u = log_normal_cdf_integral((mu - torch.where(bounded, upper, mu + 1.0)) / s)
    log_g_u = torch.where(bounded, log_g_u, -math.inf)
    gap = torch.where(torch.isneginf(log_g_u), torch.full_like(log_g_u, -math.inf), log_g_u - log_g_l)
    log_gauss = torch.log(s) + log_g_l + log1mexp(gap.clamp_max(0.0))
    per_cell = torch.where(exact, log_exact, log_gauss).sum(dim=-1)  # ... x c
    return torch.logsumexp(per_cell, dim=-1)


def cell_bounds(front: Tensor, ref_point: Tensor) -> tuple[Tensor, Tensor]:
    """The cells ``(lower, upper)`` (``c x m`` each) of the region that ``front`` does not dominate above
    ``ref_point`` (maximization); with an empty front, the one cell ``[ref, +inf)``."""
    front = front[(front > ref_point).all(dim=-1)]
    if len(front) == 0:
        return ref_point.unsqueeze(0), torch.full_like(ref_point, math.inf).unsqueeze(0)
    bounds = FastNondominatedPartitioning(ref_point=ref_point, Y=front).get_hypercell_bounds()
    return bounds[0], bounds[1]


def stacked_cells(cells: list[tuple[Tensor, Tensor]], ref_point: Tensor) -> tuple[Tensor, Tensor]:
    """The cells of several fronts as ``k x c x m`` tensors, padded to the largest count with empty cells
    ``[ref, ref]``, which no point improves (their log EHVI term is ``-inf``)."""
    most = max(len(lo) for lo, _ in cells)
    pad = ref_point.unsqueeze(0)
    lower = [torch.cat([lo, pad.expand(most - len(lo), -1)]) for lo, _ in cells]
    upper = [torch.cat([up, pad.expand(most - len(up), -1)]) for _, up in cells]
    return torch.stack(lower), torch.stack(upper)


class LogExpectedHypervolumeImprovement(AcquisitionFunction):
    """Closed-form log EHVI of single candidates (q=1) for a surrogate with independent outcomes.

    The surrogate may mix GPs (Gaussian outcomes) and deterministic models (exact outcomes, zero variance), as
    :class:`core.search.surrogate.Surrogate` does with known costs. Pending points, evaluated but not yet told, enter
    the front at their posterior mean (kriging believer), so the acquisition steers away from them.

    Args:
        model: the surrogate, ``m`` outputs in BoTorch's maximization convention.
        ref_point: reference point, ``m`` (maximization).
        front: observed outcomes of the feasible evaluated points, ``n x m`` (maximization); or ``k x n x m``, k
            draws of them (e.g. joint posterior samples of the GPs at the evaluated points, the noisy front of
            BoTorch's qLogNEHVI), and the value is the log of the mean over the draws of each one's EHVI.
        X_pending: points being evaluated, ``p x d`` (optional).
        std_scale: multiplies the posterior standard deviation of the Gaussian outcomes (``> 1``: more weight on
            what the surrogate is unsure of, i.e. more exploration; exact outcomes stay exact).
    """

    def __init__(
        self,
        model: Model,
        ref_point: Tensor,
        front: Tensor,
        X_pending: Tensor | None = None,
        std_scale: float = 1.0,
    ) -> None:
        super().__init__(model=model)
        if not std_scale > 0:
            raise ValueError(f"std_scale must be > 0, got {std_scale}")
        self.ref_point, self.std_scale = ref_point, float(std_scale)
        fronts = front if front.dim() == 3 else front.unsqueeze(0)
        if X_pending is not None and len(X_pending):
            with torch.no_grad():
                believed = cast(Any, model.posterior(X_pending.unsqueeze(-2))).mean.squeeze(-2)
            fronts = torch.cat([fronts, believed.to(fronts).expand(len(fronts), -1, -1)], dim=1)
        self.lower, self.upper = stacked_cells([cell_bounds(f, ref_point) for f in fronts], ref_point)

    def forward(self, X: Tensor) -> Tensor:
        """``log E[HVI]`` of each candidate: ``X`` is ``batch x 1 x d``; returns ``batch``."""
        if X.shape[-2] != 1:
            raise ValueError(f"LogExpectedHypervolumeImprovement is for q=1, got q={X.shape[-2]}")
        posterior: Any = self.model.posterior(X)  # mean and variance: GPyTorch and list posteriors
        mean = posterior.mean.squeeze(-2)
        std = posterior.variance.clamp_min(0.0).sqrt().squeeze(-2) * self.std_scale
        per_front = log_ehvi(mean.unsqueeze(-2), std.unsqueeze(-2), self.lower.to(mean), self.upper.to(mean))
        return torch.logsumexp(per_front, dim=-1) - math.log(per_front.shape[-1])  # the mean over the fronts
