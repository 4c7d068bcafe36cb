"""The closed-form log EHVI (core.search.log_ehvi) against high-precision and Monte-Carlo references."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import ModelList

from core.search.log_ehvi import LogExpectedHypervolumeImprovement, cell_bounds, log_ehvi, log_normal_cdf_integral
from core.search.pareto import hypervolume

D = torch.double


@pytest.mark.parametrize("z", [-1e6, -2e4, -1e4, -5e3, -100.0, -30.0, -5.0, -1.0001, -1.0, -0.5, 0.0, 1.0, 8.0, 40.0])
def test_log_normal_cdf_integral_matches_high_precision(z: float) -> None:
    mpmath.mp.dps = 50
    zz = mpmath.mpf(z)
    expected = float(mpmath.log(mpmath.npdf(zz) + zz * mpmath.ncdf(zz)))
    got = float(log_normal_cdf_integral(torch.tensor([z], dtype=D)))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_log_normal_cdf_integral_of_minus_infinity_is_minus_infinity() -> None:
    assert torch.isneginf(log_normal_cdf_integral(torch.tensor([-math.inf], dtype=D))).all()


def _hvi_in_cells(y: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """The exact hypervolume improvement of points ``y`` (``n x m``, maximization), summed over the cells."""
    return (torch.minimum(y[:, None, :], upper) - lower).clamp_min(0).prod(-1).sum(-1)


@pytest.mark.parametrize(
    ("seed", "m", "exact"),
    [(0, 2, ()), (1, 2, (1,)), (2, 3, ()), (3, 3, (1, 2)), (4, 4, ()), (5, 4, (1, 2, 3)), (6, 4, (2,))],
)
def test_closed_form_matches_monte_carlo(seed: int, m: int, exact: tuple[int, ...]) -> None:
    """On a random front and a random posterior (some outcomes exact), the closed form equals the mean of the
    exact improvement of posterior samples within 4 standard errors."""
    g = torch.Generator().manual_seed(seed)
    front = torch.rand(9, m, generator=g, dtype=D)  # maximization, reference at 0
    ref = torch.zeros(m, dtype=D)
    lower, upper = cell_bounds(front, ref)
    # the cells really decompose the improvement: check against hypervolume differences on a few points
    probe = torch.rand(20, m, generator=g, dtype=D) * 1.2
    base = hypervolume(-front.numpy(), [0.0] * m)
    direct = [hypervolume(np.vstack([-front.numpy(), -p.numpy()[None]]), [0.0] * m) - base for p in probe]
    np.testing.assert_allclose(_hvi_in_cells(probe, lower, upper).numpy(), direct, atol=1e-12)

    mean = 0.3 + 0.7 * torch.rand(m, generator=g, dtype=D)
    std = torch.rand(m, generator=g, dtype=D) * 0.3 + 0.02
    std[list(exact)] = 0.0
    closed = math.exp(float(log_ehvi(mean, std, lower, upper)))
    n = 200_000
    samples = mean + std * torch.randn(n, m, generator=g, dtype=D)
    hvi = _hvi_in_cells(samples, lower, upper)
    se = float(hvi.std()) / math.sqrt(n)
    assert float(hvi.mean()) > 0  # a case with something to improve
    assert abs(closed - float(hvi.mean())) <= 4 * se


def test_tiny_improvements_stay_finite_and_ordered() -> None:
    """Far from any improvement, log EHVI is finite and still larger for the candidate nearer to it."""
    front = torch.tensor([[0.5, 0.5], [0.8, 0.2]], dtype=D)
    lower, upper = cell_bounds(front, torch.zeros(2, dtype=D))
    std = torch.tensor([0.01, 0.0], dtype=D)
    values = [float(log_ehvi(torch.tensor([mu, 0.3], dtype=D), std, lower, upper)) for mu in (-0.5, -1.0, -3.0)]
    assert all(math.isfinite(v) for v in values)
    assert values[0] > values[1] > values[2]
    # exact costs beyond the reference improve nothing
    beyond = log_ehvi(torch.tensor([0.9, -0.1], dtype=D), std, lower, upper)
    assert torch.isneginf(beyond)


def test_empty_front_is_the_whole_box_above_the_reference() -> None:
    lower, upper = cell_bounds(torch.zeros(0, 3, dtype=D), torch.zeros(3, dtype=D))
    value = log_ehvi(torch.tensor([0.5, 0.2, 0.1], dtype=D), torch.zeros(3, dtype=D), lower, upper)
    assert math.exp(float(value)) == pytest.approx(0.5 * 0.2 * 0.1)


def test_acquisition_on_a_gp_plus_exact_costs_model() -> None:
    """The acquisition function reads a ModelList of a GP (error) and a deterministic model (costs), and a
    pending point enters the front: candidates at its location gain less."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 2, generator=g, dtype=D)
    y = -(x[:, :1] - 0.3).pow(2)  # maximized -error
    gp = ModelListGP(SingleTaskGP(x, y))
    costs = GenericDeterministicModel(lambda X: -X[..., 1:2] * 0.5, num_outputs=1)
    model = ModelList(gp, costs)
    front = torch.cat([y, -x[:, 1:2] * 0.5], dim=-1)
    ref = torch.tensor([-1.0, -1.0], dtype=D)
    acq = LogExpectedHypervolumeImprovement(model, ref, front)
    cand = torch.tensor([[[0.3, 0.01]], [[0.9, 0.9]]], dtype=D)
    values = acq(cand)
    assert values.shape == (2,)
    post = model.posterior(cand)
    expected = log_ehvi(post.mean.squeeze(-2), post.variance.clamp_min(0).sqrt().squeeze(-2), acq.lower, acq.upper)
    torch.testing.assert_close(values, expected)
    pending = LogExpectedHypervolumeImprovement(model, ref, front, X_pending=cand[0])
    assert float(pending(cand[:1])) < float(values[0])
    with pytest.raises(ValueError, match="q=1"):
        acq(torch.rand(1, 2, 2, dtype=D))
    # std_scale: the Gaussian outcome's std is scaled, the exact cost stays exact
    bold = LogExpectedHypervolumeImprovement(model, ref, front, std_scale=2.0)
    std = post.variance.clamp_min(0).sqrt().squeeze(-2) * torch.tensor([2.0, 1.0], dtype=D)
    torch.testing.assert_close(bold(cand), log_ehvi(post.mean.squeeze(-2), std, acq.lower, acq.upper))
    with pytest.raises(ValueError, match="std_scale"):
        LogExpectedHypervolumeImprovement(model, ref, front, std_scale=0.0)


@pytest.mark.parametrize(("seed", "m", "exact"), [(0, 2, ()), (1, 3, ()), (2, 4, ()), (3, 4, (1, 2, 3))])
def test_gradients_are_finite_and_match_finite_differences(seed: int, m: int, exact: tuple[int, ...]) -> None:
    """Every cell whose upper bound is infinite, and every exact outcome, still gives finite gradients (a gradient
    polish of the agents' proposals needs them): autograd against central differences."""
    g = torch.Generator().manual_seed(seed)
    lower, upper = cell_bounds(torch.rand(7, m, generator=g, dtype=D), torch.zeros(m, dtype=D))
    assert torch.isinf(upper).any()
    mean = (0.2 + 0.8 * torch.rand(5, m, generator=g, dtype=D)).requires_grad_()
    std = torch.rand(5, m, generator=g, dtype=D) * 0.3 + 0.02
    std[:, list(exact)] = 0.0
    std.requires_grad_()
    values = log_ehvi(mean, std, lower, upper)
    assert torch.isfinite(values).all()
    grad_mean, grad_std = torch.autograd.grad(values.sum(), (mean, std))
    assert torch.isfinite(grad_mean).all() and torch.isfinite(grad_std).all()
    # central differences: in the means, and (the exact outcomes kept exact) in the Gaussian outcomes' stds
    fixed = std.detach()
    assert torch.autograd.gradcheck(
        lambda mu: log_ehvi(mu, fixed, lower, upper), (mean.detach().clone().requires_grad_(),)
    )
    if not exact:
        assert torch.autograd.gradcheck(
            lambda s: log_ehvi(mean.detach(), s, lower, upper), (fixed.clone().requires_grad_(),)
        )


def test_several_fronts_give_the_log_of_the_mean_ehvi_over_them() -> None:
    """A ``k x n x m`` front (posterior draws, the noisy front): the value is log of the mean of each draw's EHVI,
    whatever the draws' cell counts (the padding cells add nothing)."""
    g = torch.Generator().manual_seed(3)
    x = torch.rand(12, 2, generator=g, dtype=D)
    y = torch.stack([x.sum(-1), (1 - x).prod(-1)], dim=-1)
    model = ModelListGP(*[SingleTaskGP(x, y[:, i : i + 1]) for i in range(2)])
    ref = torch.zeros(2, dtype=D)
    fronts = torch.stack([y[:4], y[4:8], y[[0, 0, 0, 0]]])  # the last is one point: fewer cells
    several = LogExpectedHypervolumeImprovement(model, ref, fronts)
    assert several.lower.shape[0] == 3 and len(cell_bounds(fronts[2], ref)[0]) < several.lower.shape[1]
    X = torch.rand(7, 1, 2, generator=g, dtype=D)
    each = torch.stack([LogExpectedHypervolumeImprovement(model, ref, f)(X) for f in fronts])
    expected = torch.log(each.exp().mean(0))
    torch.testing.assert_close(several(X), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(LogExpectedHypervolumeImprovement(model, ref, fronts[:1])(X), each[0])
