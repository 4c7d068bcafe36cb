"""GP surrogates (BoTorch) for model-based optimizers (:mod:`core.search.model_based`).

:func:`fit_gp` fits one GP per objective; :class:`Surrogate` is a fitted model of every objective. With known
costs (``Problem.known``: flash, SRAM, MACs, latency) those are not modelled: :func:`known_function` wraps the exact
function for a BoTorch ``GenericDeterministicModel``, and :class:`CostInputs` can give the GPs the exact log costs
as extra inputs, to their kernel or to a prior mean linear in them (``fit_gp(trend=...)``).
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import torch
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.model import Model, ModelList
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from botorch.sampling import SobolQMCNormalSampler
from botorch.sampling.base import MCSampler
from botorch.sampling.index_sampler import IndexSampler
from botorch.sampling.list_sampler import ListSampler
from gpytorch.means import LinearMean, Mean
from gpytorch.mlls import SumMarginalLogLikelihood
from gpytorch.utils.warnings import NumericalWarning

from core.interfaces.optimizer import KnownObjectives

DTYPE = torch.double


def ignore_jitter_warnings() -> None:
    """In a ``warnings.catch_warnings()`` block: ignore linear_operator's notice that it added jitter to a covariance
    matrix that was not numerically positive definite ("A not p.d., added jitter of 1.0e-08 to the diagonal"),
    routine for GP posteriors at many or near-duplicate points; other numerical warnings still show."""
    warnings.filterwarnings("ignore", r"A not p\.d\., added jitter", NumericalWarning)


def fit_gp(
    x: torch.Tensor,
    y: torch.Tensor,
    input_transform: InputTransform | None = None,
    prior_quantile: float | None = None,
    trend: int = 0,
    kernel_inputs: int | None = None,
) -> ModelListGP:
    """One ``SingleTaskGP`` per objective (standardized outcomes) in a ``ModelListGP``, fit by max. likelihood.

    Args:
        x: ``n x d`` inputs in the unit cube (double).
        y: ``n x m`` outcomes in BoTorch's *maximization* convention (double).
        input_transform: applied to every GP's inputs in training and prediction (e.g. :class:`CostInputs`).
        prior_quantile: ``None``: each GP learns its constant prior mean. A number in ``[0, 1]``: the prior mean is
            fixed (not fit) at that quantile of the observed outcomes, ``0`` the worst: far from every observation
            the GP then predicts a pessimistic value instead of the average, so an acquisition does not expect
            unexplored corners of the space (e.g. the tiniest models, whose exact costs are the lowest) to be as
            good as the average trial.
        trend: the prior mean is linear (learned) in the last ``trend`` inputs the GP sees (after
            ``input_transform``: with :class:`CostInputs`, the exact log costs), instead of a constant: far from
            every observation the GP follows the trend, e.g. smaller models, higher error.
        kernel_inputs: the kernel sees only the first ``kernel_inputs`` inputs (``None``: all of them), so that the
            trend's inputs can shape the mean alone.
    """
    if trend and prior_quantile is not None:
        raise ValueError("a GP has either a trend or a prior mean fixed at a quantile, not both")

    def single(i: int) -> SingleTaskGP:  # each GP gets its own mean and kernel modules
        k = kernel_inputs
        return SingleTaskGP(
            x,
            y[:, i : i + 1],
            outcome_transform=Standardize(m=1),
            input_transform=input_transform,
            mean_module=_TrendMean(trend) if trend else None,
            covar_module=None if k is None else get_covar_module_with_dim_scaled_prior(k, active_dims=list(range(k))),
        )

    models = [single(i) for i in range(y.shape[-1])]
    if prior_quantile is not None:
        for gp in models:
            level = torch.quantile(gp.train_targets, float(prior_quantile))
            gp.mean_module.raw_constant.data.fill_(float(level))  # unconstrained: the constant itself
            gp.mean_module.raw_constant.requires_grad_(False)
    model = ModelListGP(*models)
    mll = SumMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        ignore_jitter_warnings()
        # fit_gpytorch_mll retries a failed L-BFGS-B fit itself; what it re-emits about that is not actionable here
        warnings.filterwarnings("ignore", category=OptimizationWarning)
        fit_gpytorch_mll(mll)
    return model


class _TrendMean(Mean):
    """A prior mean linear in the last ``inputs`` inputs (with a bias)."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.inputs = inputs
        self.linear = LinearMean(inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x[..., -self.inputs :])


class CostInputs(InputTransform):
    """Appends the exact log costs of a point to its GP inputs, scaled to ``[0, 1]`` over the search space.

    In a TinyML search the error depends on the architecture mostly through its capacity, and capacity is what
    the known costs measure exactly (log MACs, log flash). A GP of the error on ``[x, log costs(x)]`` can learn
    "more MACs, less error" from a few trials where a GP on ``x`` alone must learn it per knob. The scale comes
    from the costs of ``samples`` (fixed, e.g. a Sobol' sample of the space), so it is the same every round.
    Not differentiable: for gradient-free acquisition optimizers (ARS) and closed-form values only.
    """

    transform_on_train = True
    transform_on_eval = True
    transform_on_fantasize = True

    def __init__(self, known: KnownObjectives, samples: np.ndarray) -> None:
        super().__init__()
        self.known, self.dim = known, samples.shape[-1]
        logs = self._log_costs(samples)
        self.low, self.span = logs.min(axis=0), np.maximum(np.ptp(logs, axis=0), 1e-9)

    def _log_costs(self, flat: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(np.asarray(self.known(flat), dtype=float), 1e-12))

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        flat = X.detach().reshape(-1, self.dim).cpu().numpy()
        scaled = (self._log_costs(flat) - self.low) / self.span
        feats = torch.as_tensor(scaled, dtype=X.dtype, device=X.device).reshape(*X.shape[:-1], -1)
        return torch.cat([X, feats], dim=-1)


class Surrogate:
    """A fitted surrogate of all objectives, in BoTorch's maximization convention.

    Attributes:
        model: a ``ModelListGP`` (one GP per objective) or, with known costs, a ``ModelList`` of GPs for the
            unknown objectives followed by a ``GenericDeterministicModel`` of the known ones.
        x: the observed points (unit cube, double), ``n x d``.
        y: observed objectives in the model's output order (negated), ``n x m``.
        ref_point: the reference point in the model's output order (negated).
        order: ``order[j]`` is the problem's objective index of the model's output ``j``.
        n_known: how many of the last outputs are deterministic.
    """

    def __init__(
        self, model: Model, x: torch.Tensor, y: torch.Tensor, ref_point: torch.Tensor, order: list[int], n_known: int
    ) -> None:
        self.model, self.x, self.y = model, x, y
        self.ref_point, self.order, self.n_known = ref_point, order, n_known

    def sampler(self, samples: int) -> MCSampler:
        """A quasi-MC sampler for the model's posterior (a list sampler when part of it is deterministic)."""
        if not self.n_known:
            return mc_sampler(samples)
        parts: list[MCSampler] = [mc_sampler(samples)] if len(self.order) > self.n_known else []
        parts.append(IndexSampler(torch.Size([int(samples)])))
        return ListSampler(*parts)


def believed_at(model: Model, x: torch.Tensor) -> Model:
    """``model``'s GPs conditioned on the points ``x`` (``k x d``) at their own posterior mean, as noise-free
    observations of the latent function (kriging believer): the mean stays, the variance at ``x`` collapses (what
    BoTorch's MC acquisitions do jointly for ``X_pending`` and, for the baseline, qLogNEHVI). ``model`` is a
    ``ModelListGP`` or a known-cost :class:`Surrogate`'s ``ModelList`` (GPs, then the exact part, which stays)."""
    if not isinstance(model, ModelListGP):
        gp, *exact = cast(list[Model], list(cast(ModelList, model).models))
        return ModelList(believed_at(gp, x), *exact)
    models = []
    with torch.no_grad(), warnings.catch_warnings():
        ignore_jitter_warnings()
        for single in cast(list[SingleTaskGP], list(model.models)):
            single.eval()
            mean = single.posterior(x).mean
            models.append(single.condition_on_observations(x, mean, noise=torch.full_like(mean, 1e-8)))
    return ModelListGP(*models)


def known_function(known: KnownObjectives, dim: int) -> Any:
    """The known objectives as a torch function ``batch x q x d -> batch x q x k`` (negated: BoTorch maximizes)."""

    def f(X: torch.Tensor) -> torch.Tensor:
        flat = X.detach().reshape(-1, dim).cpu().numpy()
        values = -torch.as_tensor(known(flat), dtype=X.dtype)
        return values.reshape(*X.shape[:-1], len(known.columns))

    return f


def mc_sampler(samples: int) -> SobolQMCNormalSampler:
    """Quasi-MC normal sampler with ``samples`` base samples (reparameterized acquisition estimates)."""
    return SobolQMCNormalSampler(sample_shape=torch.Size([int(samples)]))


def x_pending(pending: np.ndarray) -> torch.Tensor | None:
    """Pending points (``k x d``) as BoTorch's ``X_pending`` (double), ``None`` where there are none (``k = 0``)."""
    return torch.as_tensor(pending, dtype=DTYPE) if len(pending) else None


def unit_bounds(dim: int) -> torch.Tensor:
    """``2 x dim`` bounds of the unit cube (double)."""
    return torch.stack([torch.zeros(dim, dtype=DTYPE), torch.ones(dim, dtype=DTYPE)])
