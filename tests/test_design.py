"""The initial design: a Latin hypercube, or (with known costs) only points that fit and lie inside the reference."""

from __future__ import annotations

import numpy as np
import pytest

from core.interfaces.optimizer import Problem
from core.search.design import costed_design, latin_hypercube
from plugins.agents.ars import ARS
from plugins.optimizers.mobo_ars import MoboArs


class _TwoCosts:
    """Known objectives ``flash = x0`` and ``ram = 2 * x1`` (normalized); the board fits ``x0 <= fits_below``."""

    columns = (1, 2)

    def __init__(self, fits_below: float = 0.6) -> None:
        self.fits_below = fits_below

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        return np.stack([x[:, 0], 2.0 * x[:, 1]], axis=1)

    def excess(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(np.atleast_2d(x)[:, 0] - self.fits_below, 0.0)


REF = (1.0, 1.0, 1.0)  # error, flash, ram: ram = 2 x1 is inside only for x1 < 0.5


def _inside(known: _TwoCosts, x: np.ndarray) -> np.ndarray:
    return (known.excess(x) <= 0) & (known(x) < 1.0).all(axis=1)


def test_costed_design_keeps_only_points_that_fit_and_lie_inside_the_reference_spread_out() -> None:
    known = _TwoCosts()
    x = costed_design(10, 4, seed=5, known=known, ref_point=REF)
    assert x.shape == (10, 4)
    assert _inside(known, x).all()
    assert not _inside(known, latin_hypercube(10, 4, 5)).all()  # the plain design wastes trials there
    assert np.array_equal(x, costed_design(10, 4, seed=5, known=known, ref_point=REF))  # deterministic
    # spread: the greedy maximin pick is farther apart than the first 10 qualifying points of the same pool
    pool = latin_hypercube(80, 4, 5)
    first = pool[_inside(known, pool)][:10]

    def closest(p: np.ndarray) -> float:
        return min(float(np.linalg.norm(a - b)) for i, a in enumerate(p) for b in p[i + 1 :])

    assert closest(x) > closest(first)


def test_costed_design_fills_up_with_the_least_violating_points() -> None:
    known = _TwoCosts(fits_below=0.02)  # almost nothing fits: fitting points first, then by overshoot
    x = costed_design(10, 3, seed=0, known=known, ref_point=REF)
    pool = latin_hypercube(80, 3, 0)
    assert len(x) == 10 and len({tuple(p) for p in x}) == 10
    inside = _inside(known, x)
    n_inside = int(_inside(known, pool).sum())
    assert n_inside < 10 and inside[:n_inside].all() and not inside[n_inside:].any()
    fit = known.excess(x) <= 0
    assert fit.sum() == min(10, int((known.excess(pool) <= 0).sum()))  # every fitting point before any that does not


def _asked(init_design: str, known: _TwoCosts | None, seed: int = 3) -> np.ndarray:
    """The 8 design points a ``mobo_ars`` asks for (in two asks), with known costs where ``known`` is given."""
    opt = MoboArs(ARS(directions=4, top=2), n_init=8, known_costs=known is not None, init_design=init_design)
    opt.setup(Problem(dim=3, objective_names=("error", "flash", "ram"), ref_point=REF, seed=seed, known=known))
    return np.vstack([opt.ask(3), opt.ask(5)])


def test_mobo_ars_costed_design_asks_only_points_inside_and_resumes_it() -> None:
    known = _TwoCosts()
    x = _asked("costed", known)
    assert _inside(known, x).all()
    assert not _inside(known, _asked("lhs", known)).all()
    # a resumed optimizer continues the same design
    opt = MoboArs(ARS(), n_init=8, known_costs=True, init_design="costed")
    problem = Problem(dim=3, objective_names=("error", "flash", "ram"), ref_point=REF, seed=3, known=known)
    opt.setup(problem)
    state = {**opt.state_dict(), "asked": 3}
    resumed = MoboArs(ARS(), n_init=8, known_costs=True, init_design="costed")
    resumed.setup(problem)
    resumed.load_state_dict(state)
    assert np.array_equal(resumed.ask(5), x[3:])


def test_costed_design_without_known_costs_is_the_latin_hypercube() -> None:
    assert np.array_equal(_asked("costed", None), _asked("lhs", None))
    assert np.array_equal(_asked("lhs", None), latin_hypercube(8, 3, 3))


def test_unknown_init_design_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"init_design must be one of lhs, costed, got 'sobol'"):
        MoboArs(ARS(), init_design="sobol")


def _cells(x: np.ndarray) -> np.ndarray:
    """Snap the first coordinate to the centre of one of 4 cells (an int with 4 values); the rest is continuous."""
    out = np.array(x, dtype=float, copy=True)
    out[..., 0] = (np.minimum(np.floor(out[..., 0] * 4), 3) + 0.5) / 4
    return out


def test_mobo_ars_with_snap_asks_and_models_only_the_points_the_configurations_decode_to() -> None:
    known = _TwoCosts()
    problem = Problem(dim=3, objective_names=("error", "flash", "ram"), ref_point=REF, seed=1, known=known, snap=_cells)
    opt = MoboArs(ARS(directions=4, top=2), n_init=5, iterations=2, horizon=3, known_costs=True, snap=True)
    opt.setup(problem)
    rng = np.random.default_rng(0)
    for _ in range(8):
        x = opt.ask(1)
        assert np.array_equal(x, _cells(x))  # design points and proposals alike
        err = 0.3 + 0.2 * np.sin(6 * x[:, 1]) + 0.05 * rng.random(1)
        opt.tell(x, np.column_stack([err, known(x)]), np.ones(1, dtype=bool))
    assert np.array_equal(opt.training_data()[0].numpy(), _cells(opt.training_data()[0].numpy()))
    unsnapped = MoboArs(ARS(directions=4, top=2), n_init=5, known_costs=True)
    unsnapped.setup(problem)
    x = unsnapped.ask(5)
    assert not np.array_equal(x, _cells(x))  # off by default


def test_snap_without_a_snapping_problem_is_a_no_op() -> None:
    opt = MoboArs(ARS(), n_init=4, snap=True)
    opt.setup(Problem(dim=2, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=0))
    assert np.array_equal(opt.ask(4), latin_hypercube(4, 2, 0))
