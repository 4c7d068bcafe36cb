"""Pending points (``Optimizer.set_pending``) and out-of-order tells, as an asynchronous search produces them.

For every built-in optimizer: ``set_pending`` is accepted (also with no points) and proposals stay in the unit
cube; with no pending points the proposals are bit-identical to those of an optimizer that was never told of
any; tells may come in any order. For the model-based ones, the pending points reach the proposal: pending at
the point it would propose otherwise, it proposes another one. Small budgets and acquisition settings throughout.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from core.interfaces.optimizer import Optimizer, Problem
from plugins.agents.ars import ARS
from plugins.optimizers.mobo_ars import MoboArs
from plugins.optimizers.nsga2 import NSGA2
from plugins.optimizers.qlognehvi import QLogNEHVI
from plugins.optimizers.qlognparego import QLogNParEGO
from plugins.optimizers.random_search import RandomSearch
from plugins.optimizers.sobol import SobolSearch
from plugins.optimizers.turbo import TuRBO

PROBLEM = Problem(dim=3, objective_names=("error", "flash"), ref_point=(1.0, 1.0), seed=3)
N_INIT = 4  # initial design (nsga2: population, so the first generation)
FAST = {"mc_samples": 32, "num_restarts": 1, "raw_samples": 32, "maxiter": 30}

# the built-in optimizers by their conf/optimizer name, with small settings
MAKERS: dict[str, Callable[[], Optimizer]] = {
    "sobol": SobolSearch,
    "random": RandomSearch,
    "nsga2": lambda: NSGA2(pop_size=N_INIT),
    "turbo": lambda: TuRBO(n_init=N_INIT, n_candidates=500),
    "qlognehvi": lambda: QLogNEHVI(n_init=N_INIT, **FAST),
    "qlognparego": lambda: QLogNParEGO(n_init=N_INIT, **FAST),
    "mobo_ars": lambda: MoboArs(
        ARS(), n_init=N_INIT, n_agents=2, iterations=2, horizon=2, mc_samples=16, raw_samples=32
    ),
}
MODEL_BASED = ["turbo", "qlognehvi", "qlognparego"]
# mobo_ars's pending support (and its bit-identity and out-of-order checks) is covered in its own tests
# (tests/test_ars.py, tests/test_known_costs.py); here it only has to accept set_pending and stay in the cube
NOT_MOBO_ARS = [name for name in MAKERS if name != "mobo_ars"]


def toy(x: np.ndarray) -> np.ndarray:
    """A ZDT1-like two-objective problem on the unit cube: ``n x d`` -> ``n x 2`` (minimized)."""
    g = 1.0 + np.sum((x[:, 1:] - 0.5) ** 2, axis=1)
    return np.stack([x[:, 0], g * (1.0 - np.sqrt(x[:, 0] / g))], axis=1)


def tell(opt: Optimizer, x: np.ndarray) -> None:
    y = toy(x)
    opt.tell(x, y, np.all(y < 1.0, axis=1))


def designed(name: str) -> Optimizer:
    """A fresh optimizer, told its initial design (nsga2: its first generation)."""
    opt = MAKERS[name]()
    opt.setup(PROBLEM)
    tell(opt, opt.ask(N_INIT))
    return opt


def none_pending() -> np.ndarray:
    return np.zeros((0, PROBLEM.dim))


def in_cube(x: np.ndarray, n: int) -> bool:
    return x.shape == (n, PROBLEM.dim) and bool(np.all((x >= 0.0) & (x <= 1.0)))


@pytest.mark.parametrize("name", list(MAKERS))
def test_set_pending_is_accepted_and_proposals_stay_in_the_cube(name: str) -> None:
    opt = MAKERS[name]()
    opt.setup(PROBLEM)
    opt.set_pending(none_pending())
    first = opt.ask(N_INIT)
    tell(opt, first[:2])
    opt.set_pending(first[2:])  # asked, not told yet
    x = opt.ask(1)
    assert in_cube(x, 1)
    assert np.abs(first[2:] - x).max(axis=1).min() > 1e-9, "a running point was proposed again"
    tell(opt, first[2:])
    opt.set_pending(x)
    assert in_cube(opt.ask(1), 1)


@pytest.mark.parametrize("name", NOT_MOBO_ARS)
def test_no_pending_points_change_nothing(name: str) -> None:
    """Told that nothing is pending (even after having been told of some), an optimizer proposes bit for bit what
    one that never heard of pending points proposes: a running benchmark relies on that."""
    plain, told = designed(name), designed(name)
    for n in (1, 2):
        told.set_pending(np.full((2, PROBLEM.dim), 0.5))
        told.set_pending(none_pending())
        x = plain.ask(n)
        np.testing.assert_array_equal(told.ask(n), x)
        tell(plain, x)
        tell(told, x)


@pytest.mark.parametrize("name", MODEL_BASED)
def test_pending_points_reach_the_proposal(name: str) -> None:
    """Pending at the very point it would propose otherwise (same data, same seed), it proposes another point."""
    plain, pending = designed(name), designed(name)
    x = plain.ask(1)
    pending.set_pending(x)
    other = pending.ask(1)
    assert in_cube(other, 1)
    assert np.linalg.norm(other - x) > 1e-3


@pytest.mark.parametrize("name", NOT_MOBO_ARS)
def test_tells_in_any_order(name: str) -> None:
    """As in an asynchronous search: ask three points one at a time (each with the earlier ones pending), tell
    them in reverse order one at a time, ask again; the state survives a JSON round trip midway."""
    opt = designed(name)
    running: list[np.ndarray] = []
    for _ in range(3):
        opt.set_pending(np.array(running).reshape(-1, PROBLEM.dim))
        x = opt.ask(1)
        assert in_cube(x, 1)
        running.append(x[0])
    asked = np.array(running)
    assert len(np.unique(asked, axis=0)) == 3
    for i, xi in enumerate(reversed(running)):
        tell(opt, xi[None, :])
        if i == 0:  # resumed with two points still running: continues exactly
            twin = MAKERS[name]()
            twin.setup(PROBLEM)
            twin.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    for xi in reversed(running[:2]):
        tell(twin, xi[None, :])
    opt.set_pending(none_pending())
    twin.set_pending(none_pending())
    x = opt.ask(1)
    assert in_cube(x, 1)
    if name not in ("sobol", "random"):  # those ignore results (and may well come near a told point)
        assert np.abs(asked - x).max(axis=1).min() > 1e-9
    np.testing.assert_array_equal(twin.ask(1), x)


def test_turbo_updates_its_region_once_per_batch_in_any_order() -> None:
    """A batch told in reverse, one point at a time, moves the trust region exactly as when told at once."""
    at_once, reverse = designed("turbo"), designed("turbo")
    assert isinstance(at_once, TuRBO) and isinstance(reverse, TuRBO)
    for _ in range(2):
        x, xr = at_once.ask(3), reverse.ask(3)
        # the same points (to rounding: the second GP sees the same observations in another row order)
        np.testing.assert_allclose(xr, x, rtol=0.0, atol=1e-9)
        worse = np.full((3, 2), 5.0)  # fails: worse than everything seen
        at_once.tell(x, worse, np.zeros(3, dtype=bool))
        for i in reversed(range(3)):
            reverse.tell(xr[i : i + 1], worse[i : i + 1], np.zeros(1, dtype=bool))
        assert reverse.region == at_once.region
    # failure tolerance ceil(max(4 / 3, 3 / 3)) = 2 batches: halved once (per tell, it would have been twice)
    assert reverse.region["length"] == pytest.approx(0.4) and reverse.region["failures"] == 0


def test_nsga2_asynchronous_generations_advance_without_repeats() -> None:
    """Three workers, results in random order: each ask while points of the used-up generation still run closes
    it (instead of extending it for ever), so generations advance; no point is handed out twice; and the state
    resumes exactly at any moment."""
    rng = np.random.default_rng(0)
    opt = MAKERS["nsga2"]()
    opt.setup(PROBLEM)
    running: list[np.ndarray] = []
    asked: list[np.ndarray] = []
    for _ in range(30):
        while len(running) < 3:
            opt.set_pending(np.array(running).reshape(-1, PROBLEM.dim))
            running.append(opt.ask(1)[0])
            asked.append(running[-1])
        tell(opt, running.pop(int(rng.integers(len(running))))[None, :])
        twin = MAKERS["nsga2"]()
        twin.setup(PROBLEM)
        twin.load_state_dict(json.loads(json.dumps(opt.state_dict())))
        assert twin.state_dict() == opt.state_dict()
    assert len(np.unique(np.array(asked), axis=0)) == len(asked)
    assert isinstance(opt, NSGA2) and opt._generation >= 5  # 30 results, 4 per generation
    np.testing.assert_array_equal(twin.ask(3), opt.ask(3))
