"""Known costs: the cost of an untrained candidate equals what its trial measures, is cached exactly, and lets
mobo_ars model only the error and keep off candidates that cannot fit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from core.interfaces import Compressor
from core.interfaces.optimizer import Problem
from core.interfaces.trial import TrialSpec, TrialStatus
from core.plugins import instantiate
from core.search.checks import reference_point
from core.search.space import SearchSpace
from core.trial.evaluate import evaluate_trial
from core.trial.known_costs import COST_OBJECTIVES, KnownCosts, architecture_cost, cost_objectives
from plugins.agents.ars import ARS
from plugins.optimizers.mobo_ars import MoboArs

OBJECTIVES = ("error", "flash", "ram", "macs", "latency")


def _known(cfg) -> tuple[KnownCosts, SearchSpace]:
    space = SearchSpace.from_config(cfg.search_space.params, cfg)
    hw = instantiate(cfg.hw, "hw")
    return KnownCosts(cfg, space, OBJECTIVES, reference_point(cfg, hw, OBJECTIVES)), space


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_known_cost_equals_the_trials_measured_cost(make_cfg, tmp_path, seed) -> None:
    """Pruned during training, quantized after it: the trained model costs exactly what the untrained one did."""
    cfg = make_cfg("trainer.max_epochs=2", "trainer.limit_train_batches=3")
    known, space = _known(cfg)
    x = np.random.default_rng(seed).random(space.dim)
    x[space.names.index("sparsity")] = 0.2 + 0.25 * seed  # real channel removal in every case
    params = space.decode(x)
    trial_cfg = OmegaConf.to_container(space.apply(cfg, params), resolve=True)
    result = evaluate_trial(TrialSpec(seed, list(x), params, trial_cfg, str(tmp_path)))
    assert result.status == TrialStatus.COMPLETE, result.error
    assert result.metrics["params_after"] < result.metrics["params_before"]
    expected = cost_objectives(known.cost(x))
    assert {k: result.objectives[k] for k in COST_OBJECTIVES} == expected
    normalized = known(x[None])[0]
    assert np.allclose(normalized * known._scale, [expected[OBJECTIVES[i]] for i in known.columns])


class _RestructureOnly(Compressor):
    """Wraps a compressor, hiding its structure key, to force the restructure path."""

    def __init__(self, inner: Compressor) -> None:
        self.inner = inner

    def apply(self, model, datamodule):
        return self.inner.apply(model, datamodule)

    def restructure(self, model, example_input):
        return self.inner.restructure(model, example_input)


def test_structure_keys_agree_with_restructuring(make_cfg) -> None:
    cfg = make_cfg()
    known, space = _known(cfg)
    fallback, _ = _known(cfg)
    original = fallback._compressor
    fallback._compressor = lambda name, node: _RestructureOnly(original(name, node))  # type: ignore[method-assign]
    x = np.random.default_rng(0).random((40, space.dim))
    assert np.array_equal(known(x), fallback(x))
    assert np.array_equal(known.excess(x), fallback.excess(x))
    # training knobs never change a cost: one architecture, any learning rate, one computation
    before = known.misses
    y = np.repeat(x[:1], 5, axis=0)
    y[:, space.names.index("lr")] = np.linspace(0, 1, 5)
    assert (known(y) == known(x[:1])).all() and known.misses == before


def test_excess_is_zero_iff_the_board_fits(make_cfg) -> None:
    cfg = make_cfg("hw.flash_bytes=100000")
    known, space = _known(cfg)
    hw = instantiate(cfg.hw, "hw")
    x = np.random.default_rng(1).random((30, space.dim))
    fits = np.array([not hw.violations(known.cost(p)) for p in x])
    assert fits.any() and (~fits).any()
    assert np.array_equal(known.excess(x) == 0, fits)


def test_an_architecture_that_cannot_be_built_is_infinitely_over_the_board(make_cfg) -> None:
    known, space = _known(make_cfg("+search_space.params.kernel.choices=[3,4]"))
    x = np.random.default_rng(0).random((16, space.dim))
    odd = np.array([space.decode(p)["model.kernel_size"] == 3 for p in x])
    assert odd.any() and (~odd).any()
    costs, over = known(x), known.excess(x)
    assert np.isinf(costs[~odd]).all() and np.isinf(over[~odd]).all()
    assert np.isfinite(costs[odd]).all() and np.isfinite(over[odd]).all()
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        known.cost(x[~odd][0])


class _FirstCoordinate:
    """A known objective ``f1 = x0`` (normalized), and a board that only fits ``x0 <= 0.6``."""

    columns = (0,)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.atleast_2d(x)[:, :1].copy()

    def excess(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(np.atleast_2d(x)[:, 0] - 0.6, 0.0)


def _zdt1(x: np.ndarray) -> np.ndarray:
    g = 1 + 9 * x[:, 1:].mean(axis=1)
    return np.stack([x[:, 0], g * (1 - np.sqrt(x[:, 0] / g))], axis=1)


def _run_known(seed: int, n: int = 14, time_share: float | None = None) -> np.ndarray:
    opt = MoboArs(
        ARS(directions=4, top=2), n_init=8, n_agents=2, iterations=3, horizon=3, known_costs=True, time_share=time_share
    )
    opt.setup(
        Problem(dim=3, objective_names=("flash", "error"), ref_point=(1.0, 11.0), seed=seed, known=_FirstCoordinate())
    )
    xs = []
    for _ in range(n):
        x = opt.ask(1)
        y = _zdt1(x)
        fits = _FirstCoordinate().excess(x) == 0
        y[~fits, 1] = np.nan  # never trained: the error of a candidate that does not fit is unknown
        opt.tell(x, y, fits)
        xs.append(x[0])
    return np.array(xs)


@pytest.mark.parametrize("time_share", [None, 1.0])
def test_mobo_ars_known_costs_never_proposes_what_cannot_fit_and_is_deterministic(time_share: float | None) -> None:
    """Also under a time share, where instant trials make most proposals come from the queue and Sobol'."""
    xs = _run_known(seed=3, n=20, time_share=time_share)
    assert (xs[8:, 0] <= 0.6 + 1e-12).all()  # every model-based proposal fits the board
    if time_share is None:
        assert np.array_equal(xs, _run_known(seed=3, n=20))


def test_known_costs_without_known_objectives_is_a_clear_error() -> None:
    opt = MoboArs(ARS(), known_costs=True)
    with pytest.raises(ValueError, match="known_costs=true needs objectives"):
        opt.setup(Problem(dim=2, objective_names=("error", "flash"), ref_point=(1.0, 1.0), seed=0))


def _told_mobo_ars(
    cost_inputs: bool = False,
    front: str = "observed",
    seed: int = 5,
    known: _FirstCoordinate | None = None,
    knob: bool = False,
    **options: Any,
) -> MoboArs:
    """A ``mobo_ars`` told 8 design points of ZDT1 with a known first objective; ``knob``: the error is also
    lowest with the last input at its upper bound."""
    known = known or _FirstCoordinate()
    opt = MoboArs(
        ARS(directions=4, top=2),
        n_init=8,
        n_agents=2,
        iterations=3,
        horizon=3,
        known_costs=True,
        cost_inputs=cost_inputs,
        front=front,
        **options,
    )
    opt.setup(Problem(dim=3, objective_names=("flash", "error"), ref_point=(1.0, 11.0), seed=seed, known=known))
    x = opt.ask(8)
    y = _zdt1(x)
    if knob:
        y[:, 1] += 4.0 * (1.0 - x[:, 2]) ** 2
    opt.tell(x, y, known.excess(x) == 0)
    return opt


def test_mobo_ars_pending_points_collapse_the_error_gp_there_and_move_the_proposal() -> None:
    """Kriging believer: conditioned on a running trial's point, the GP has (almost) no variance left there, and the
    next proposal goes elsewhere; with nothing pending it is exactly the proposal of an optimizer never told of any."""
    opt, fresh = _told_mobo_ars(), _told_mobo_ars()
    first = opt.ask(1)[0]
    fresh.set_pending(np.zeros((0, 3)))
    opt._asked -= 1  # ask again from the same state, now with ``first`` running
    opt.set_pending(first[None])
    sur = opt.surrogate(believe_pending=True)
    at = torch.as_tensor(first[None], dtype=torch.double)
    before = fresh.surrogate().model.posterior(at).variance[0, 0]
    after = sur.model.posterior(at).variance[0, 0]
    assert after < 0.05 * before
    second = opt.ask(1)[0]
    assert np.abs(second - first).max() > 1e-3
    assert np.array_equal(fresh.ask(1)[0], first)


def test_sampled_front_draws_the_error_jointly_keeps_the_exact_costs_and_is_reproducible() -> None:
    """front=sampled: ``front_samples`` joint posterior draws of the error GP at the feasible trials (seeded by the
    number of trials: the same state gives the same draws, and the global torch RNG is left alone), exact costs as
    measured; the acquisition holds one set of cells per draw."""
    opt = _told_mobo_ars(front="sampled")
    sur = opt.surrogate()
    state = torch.random.get_rng_state()
    acq, again = opt._ehvi(sur), opt._ehvi(sur)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert acq.lower.shape[0] == opt.front_samples == 16 and torch.equal(acq.lower, again.lower)
    observed = _told_mobo_ars()._ehvi(sur)
    assert not torch.equal(acq.lower[0], observed.lower[0])  # the draws are not the measured errors
    rows = torch.as_tensor(np.flatnonzero(opt._feasible))
    flash = sur.y[rows][:, 1]  # output 1: the exact flash; a cell's lower flash bound is a measured flash or the ref
    assert set(acq.lower[..., 1].unique().tolist()) <= {*flash.tolist(), float(sur.ref_point[1])}
    assert np.isfinite(opt.ask(1)).all()


def test_cost_inputs_append_the_scaled_log_costs_to_the_gp_inputs() -> None:
    opt = _told_mobo_ars(cost_inputs=True)
    sur = opt.surrogate(cost_inputs=True)
    gp = sur.model.models[0].models[0]
    x = torch.rand(4, 3, dtype=torch.double)
    z = gp.input_transform(x)
    assert z.shape == (4, 4) and torch.equal(z[:, :3], x)
    low, span = opt._cost_inputs().low, opt._cost_inputs().span
    assert np.allclose(z[:, 3].numpy(), (np.log(x[:, 0].numpy()) - low[0]) / span[0])
    assert gp.covar_module.base_kernel.lengthscale.shape[-1] == 4 if hasattr(gp.covar_module, "base_kernel") else True
    assert np.isfinite(opt.ask(1)).all()


def test_posterior_front_takes_the_gp_mean_of_the_error_and_keeps_the_exact_costs() -> None:
    from core.search.log_ehvi import cell_bounds

    opt = _told_mobo_ars(front="posterior")
    sur = opt.surrogate()
    rows = torch.as_tensor(np.flatnonzero(opt._feasible))
    mean = sur.model.posterior(sur.x[rows].unsqueeze(-2)).mean.squeeze(-2)
    expected = sur.y[rows].clone()
    expected[:, 0] = mean[:, 0]  # output 0: the error GP; output 1: the exact flash, as measured
    assert not torch.allclose(expected[:, 0], sur.y[rows][:, 0])  # the GP smooths the measured errors
    lower, upper = cell_bounds(expected, sur.ref_point)
    acq = opt._ehvi(sur)
    assert torch.equal(acq.lower, lower.unsqueeze(0)) and torch.equal(acq.upper, upper.unsqueeze(0))  # one front
    observed = _told_mobo_ars()._ehvi(sur)
    assert not (observed.lower.shape[1:] == lower.shape and torch.equal(observed.lower[0], lower))
    assert np.isfinite(opt.ask(1)).all()
    with pytest.raises(ValueError, match="front must be one of observed, posterior"):
        MoboArs(ARS(), front="best")


def test_believed_front_conditions_the_error_gp_on_its_mean_at_the_trials() -> None:
    """front=believed: the ``posterior`` front's cells, and an error GP conditioned on its own mean at every feasible
    trial: the mean stays, the variance at a trial collapses, so re-measuring a trial promises (almost) nothing,
    where the plain GP, which smooths its trials, still sees a gain there."""
    opt, posterior = _told_mobo_ars(front="believed"), _told_mobo_ars(front="posterior")
    sur = opt.surrogate()
    acq, plain = opt._ehvi(sur), posterior._ehvi(sur)
    assert torch.equal(acq.lower, plain.lower) and torch.equal(acq.upper, plain.upper)
    rows = np.flatnonzero(opt._feasible)
    at = torch.as_tensor(opt._x[rows], dtype=torch.double).unsqueeze(-2)
    before, after = plain.model.posterior(at), acq.model.posterior(at)
    assert torch.allclose(after.mean, before.mean, atol=1e-6)
    assert (after.variance[..., 0] < 1e-3 * before.variance[..., 0]).all()  # output 0: the error GP
    assert torch.equal(after.mean[..., 1], before.mean[..., 1])  # output 1: the exact flash, untouched
    assert (acq(at) < plain(at) - 3.0).all()  # e^-3: at most 5 % of the gain the plain GP sees at a trial
    assert np.isfinite(opt.ask(1)).all()


def test_prior_quantile_fixes_the_error_gps_prior_mean_at_the_worst_observation() -> None:
    """Far from every trial the error GP predicts the worst observed error instead of the average, and a
    prior_quantile optimizer still proposes in bounds and deterministically."""
    from core.search.surrogate import fit_gp

    g = torch.Generator().manual_seed(1)
    x = torch.rand(10, 2, generator=g, dtype=torch.double) * 0.3  # every observation in one corner
    y = -(0.2 + x.sum(-1, keepdim=True))  # maximized -error
    far = torch.tensor([[0.95, 0.95]], dtype=torch.double)
    learned = fit_gp(x, y).models[0].posterior(far).mean.item()
    pessimistic_gp = fit_gp(x, y, prior_quantile=0.0).models[0]
    pessimistic = pessimistic_gp.posterior(far).mean.item()
    assert pessimistic == pytest.approx(y.min().item(), abs=0.02)  # the worst observed value
    assert pessimistic < learned - 0.05
    assert not pessimistic_gp.mean_module.raw_constant.requires_grad  # fixed, not fit
    a, b = _told_mobo_ars(), _told_mobo_ars()
    a.prior_quantile = b.prior_quantile = 0.0
    xa, xb = a.ask(1), b.ask(1)
    assert np.array_equal(xa, xb) and ((xa >= 0) & (xa <= 1)).all()
    with pytest.raises(ValueError, match="prior_quantile"):
        MoboArs(ARS(), prior_quantile=1.5)


def test_cost_trend_extrapolates_the_error_along_the_exact_costs() -> None:
    """cost_trend: the error GP's prior mean is linear in the exact log costs. Observed only among large models
    (high cost, low error), it expects the tiniest model to be worse than any trial, where a constant prior mean
    expects the average; with the kernel on the knobs alone, the costs shape the mean only. A mobo_ars with it
    proposes in bounds, deterministically, and refuses a fixed prior quantile next to it."""
    from core.search.surrogate import fit_gp

    g = torch.Generator().manual_seed(2)
    x = 0.6 + 0.4 * torch.rand(12, 2, generator=g, dtype=torch.double)  # knob, log cost (last input) both high
    y = -(1.0 - 0.8 * x[:, 1:]) + 0.01 * torch.randn(12, 1, generator=g, dtype=torch.double)  # maximized -error
    tiny = torch.tensor([[0.8, 0.0]], dtype=torch.double)
    constant = fit_gp(x, y).models[0].posterior(tiny).mean.item()
    trend_gp = fit_gp(x, y, trend=1, kernel_inputs=1).models[0]
    trended = trend_gp.posterior(tiny).mean.item()
    assert trended < y.min().item() - 0.1 < constant  # worse than every trial; the constant mean is not
    assert trended == pytest.approx(-1.0, abs=0.1)  # the line through the trials, at cost 0
    assert trend_gp.covar_module.active_dims.tolist() == [0]
    a, b = _told_mobo_ars(), _told_mobo_ars()
    a.cost_trend = b.cost_trend = True
    xa, xb = a.ask(1), b.ask(1)
    assert np.array_equal(xa, xb) and ((xa >= 0) & (xa <= 1)).all()
    with pytest.raises(ValueError, match="cost_trend and prior_quantile"):
        MoboArs(ARS(), cost_trend=True, prior_quantile=0.0)


@pytest.mark.parametrize("experiment", ["quickstart", "quickstart_timeseries"])
def test_known_costs_equal_costing_a_freshly_built_and_restructured_model(make_cfg, experiment) -> None:
    """The cached fast path (reused template graphs, factories called directly) costs what the plain path does."""
    cfg = make_cfg(f"experiment={experiment}")
    known, space = _known(cfg)
    hw = instantiate(cfg.hw, "hw")
    dataset = instantiate(cfg.dataset, "dataset")
    for x in np.random.default_rng(3).random((12, space.dim)):
        run_cfg = space.apply(cfg, space.decode(x))
        model = instantiate(run_cfg.model, "model").build(tuple(dataset.input_shape), dataset.num_classes)
        compressors = [instantiate(node, "compressor") for node in run_cfg.compressor.values()]
        assert known.cost(x) == architecture_cost(model, compressors, hw, tuple(dataset.input_shape))


def test_known_costs_trace_each_template_once_whatever_the_pruning(make_cfg, monkeypatch) -> None:
    """Pruning keeps a template's graph: a new channel count is costed without tracing the model again."""
    cfg = make_cfg()
    known, space = _known(cfg)
    traces = []
    real = torch.fx.symbolic_trace
    monkeypatch.setattr(torch.fx, "symbolic_trace", lambda m, *a, **k: traces.append(type(m)) or real(m, *a, **k))
    x = np.tile(np.random.default_rng(4).random(space.dim), (30, 1))
    x[:, space.names.index("sparsity")] = np.linspace(0.0, 1.0, 30)  # one architecture, many channel counts
    known(x)
    assert len(known._by_shapes) >= 10
    assert len(traces) <= 2  # the template's graph (and, uncached, its prune groups)


def test_known_costs_leave_the_global_rng_and_the_templates_as_they_were(make_cfg) -> None:
    """Each restructured copy is built afresh by the model factory: weight initialisation must not move the search's
    torch RNG (the next trial's seeding and the GP fits draw from it), and no template is ever pruned itself."""
    known, space = _known(make_cfg())
    x = np.random.default_rng(5).random((40, space.dim))
    torch.manual_seed(123)
    known(x[:1])  # builds the first template
    templates = [m for m in known._built.values() if isinstance(m, torch.nn.Module)]
    shapes = [[tuple(p.shape) for p in t.parameters()] for t in templates]
    state = torch.get_rng_state()
    known(x[1:])
    assert torch.equal(torch.get_rng_state(), state)
    assert len(known._by_shapes) >= 10  # models were restructured and costed
    assert [[tuple(p.shape) for p in t.parameters()] for t in templates] == shapes


class _Clock:
    """A fake ``time.perf_counter``: time passes only when the test (or a reward evaluation) says so."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class _SlowFirstCoordinate(_FirstCoordinate):
    """:class:`_FirstCoordinate` whose every evaluation takes 0.05 s of the fake clock."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.clock.t += 0.05
        return super().__call__(x)


class _CountingARS(ARS):
    updates: list[int] = []

    def train(self, env, iterations, rng) -> None:  # type: ignore[no-untyped-def]
        self.updates.append(int(iterations))
        super().train(env, iterations, rng)


def _timed_mobo_ars(known: _SlowFirstCoordinate, clock: _Clock, trial_s: float) -> MoboArs:
    """A ``time_share=1.0`` mobo_ars with 3 agents (2 Pareto-cluster agents, 1 global) of 10 updates each, after
    its 8-point initial design, every trial of which took ``trial_s`` on ``clock``."""
    opt = MoboArs(
        _CountingARS(directions=4, top=2), n_init=8, n_agents=2, iterations=10, horizon=3, known_costs=True,
        global_agents=1, time_share=1.0,
    )  # fmt: skip
    opt.setup(Problem(dim=3, objective_names=("flash", "error"), ref_point=(1.0, 11.0), seed=0, known=known))
    for _ in range(8):
        x = opt.ask(1)
        clock.t += trial_s
        opt.tell(x, _zdt1(x), np.ones(1, dtype=bool))
    return opt


@pytest.mark.parametrize("running", [0, 2])
def test_mobo_ars_round_ends_when_the_next_worker_frees(monkeypatch, running: int) -> None:
    """With trials running, a round trains agents only for time_share x median trial time / trials running."""
    clock = _Clock()
    monkeypatch.setattr(time, "perf_counter", clock)
    opt = _timed_mobo_ars(_SlowFirstCoordinate(clock), clock, trial_s=3.0)
    assert opt.trial_duration_s == pytest.approx(3.0)
    opt.set_pending(np.random.default_rng(0).random((running, 3)))
    _CountingARS.updates.clear()
    start = clock.t
    opt.ask(1)
    agents = 3  # 2 Pareto-cluster agents and 1 global agent
    if running:  # 3 s / 3 = 1 s: each agent's share is 1/3 s, an update costs 0.15 s (3 steps), a raw chunk 0.05 s
        assert 1 <= sum(_CountingARS.updates) < agents * 10 / 2
        assert clock.t - start < 1.0 + 0.5
    else:
        assert _CountingARS.updates == [10] * agents


class _HurryingFirstCoordinate(_SlowFirstCoordinate):
    """:class:`_SlowFirstCoordinate` that, once armed, hurries the optimizer at its next evaluation, the way the
    search's thread does when a worker frees up while a proposal computed ahead still runs."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__(clock)
        self.hurry: Callable[[], None] | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.hurry is not None:
            self.hurry()
            self.hurry = None
        return super().__call__(x)


def test_a_hurried_mobo_ars_round_returns_after_one_agent_update(monkeypatch) -> None:
    """A worker that waits for the proposal (``Optimizer.hurry``) ends a timed round at once: the first agent's
    first update; the hurry is over once that ask returns, so the next round trains to its deadline again."""
    clock = _Clock()
    monkeypatch.setattr(time, "perf_counter", clock)
    known = _HurryingFirstCoordinate(clock)
    opt = _timed_mobo_ars(known, clock, trial_s=30.0)  # with 2 running, a deadline of 10 s
    opt.set_pending(np.random.default_rng(0).random((2, 3)))
    _CountingARS.updates.clear()
    known.hurry = opt.hurry
    x = opt.ask(1)
    assert _CountingARS.updates == [1] and not opt.hurried
    assert known.excess(x)[0] == 0  # still a point that fits the board
    _CountingARS.updates.clear()
    opt.ask(1)
    assert len(_CountingARS.updates) >= 20  # not hurried: each of 3 agents trains to its share of the deadline


def test_free_dims_are_the_training_knobs_and_move_no_cost(make_cfg) -> None:
    """``KnownCosts.free``: the dimensions outside the architecture's config sections (the quickstart's learning
    rate and epochs); moving a point along them leaves every cost as it was, along any other dimension some cost
    moves."""
    known, space = _known(make_cfg())
    assert [space.names[i] for i in known.free] == ["lr", "epochs"]
    rng = np.random.default_rng(0)
    x = rng.random((16, space.dim))
    for d in range(space.dim):
        moved = x.copy()
        moved[:, d] = rng.random(len(x))
        same = np.array_equal(known(moved), known(x))
        assert same == (d in known.free), space.names[d]


class _FirstCoordinateFreeLast(_FirstCoordinate):
    """:class:`_FirstCoordinate`, and the last dimension moves no known objective (a training knob)."""

    free = (2,)


def _told_free_search(free_search: int) -> MoboArs:
    known = _FirstCoordinateFreeLast()
    return _told_mobo_ars(seed=2, known=known, knob=True, select="ehvi", reward="ehvi", free_search=free_search)


def test_free_search_moves_candidates_only_along_the_free_dims_to_a_better_log_ehvi() -> None:
    opt = _told_free_search(17)
    score = opt._scored(opt._ehvi(opt._surrogate()))
    start = np.random.default_rng(1).random((12, 3)) * [0.6, 1.0, 1.0]
    moved, values = opt._free(score, start)
    assert np.array_equal(moved[:, :2], start[:, :2])  # the architecture (and so every known cost) stays
    assert np.isin(moved[:, 2], np.linspace(0, 1, 17)).sum() >= 1
    assert (values >= score(start) - 1e-9).all() and (values > score(start) + 1e-6).any()
    assert np.allclose(values, score(moved))
    proposed = opt.ask(1)[0]  # a full round's proposal sits on the grid of the free dimension
    assert np.isclose(np.linspace(0, 1, 17), proposed[2]).any()


def test_free_search_is_off_without_free_dims_and_rejects_a_one_point_grid() -> None:
    opt = _told_free_search(0)
    assert opt._free_dims == ()
    with pytest.raises(ValueError, match="free_search must be 0"):
        MoboArs(ARS(), free_search=1)
