"""ARS on its own learns a known task; mobo_ars proposals are in bounds, deterministic and resume identically."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from botorch.test_functions.multi_objective import BraninCurrin

from core.interfaces.agent import Environment
from core.interfaces.optimizer import Problem
from plugins.agents.ars import ARS
from plugins.optimizers.acquisition_polish import polished
from plugins.optimizers.mobo_ars import MoboArs
from plugins.optimizers.surrogate_walk import SurrogateWalk


class Quadratic(Environment):
    """Walk in [0,1]^d towards an optimum; reward = -squared distance after each step."""

    def __init__(self, start: np.ndarray, optimum: np.ndarray, horizon: int = 10) -> None:
        self.walk = SurrogateWalk(start, lambda x: -((x - optimum) ** 2).sum(1), horizon, max_step=0.1)
        self.observation_dim, self.action_dim, self.horizon = len(start), len(start), horizon

    def reset(self, n: int) -> np.ndarray:
        return self.walk.reset(n)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.walk.step(actions)


def test_ars_reaches_the_optimum_of_a_quadratic() -> None:
    start, optimum = np.full(4, 0.05), np.array([0.8, 0.7, 0.9, 0.6])
    env = Quadratic(start, optimum)
    agent = ARS(directions=8, top=4, step_size=0.1, noise=0.1)
    agent.train(env, 0, np.random.default_rng(0))  # untrained policy: zero actions, stays at the start
    before = np.linalg.norm(agent.rollout(env)[0][-1] - optimum)
    agent.train(env, 60, np.random.default_rng(0))
    visited, _ = agent.rollout(env)
    after = np.linalg.norm(visited[-1] - optimum)
    assert before == pytest.approx(np.linalg.norm(start - optimum))
    assert after < 0.25 * before  # closes at least 75 % of the distance within one 10-step episode
    state = json.loads(json.dumps(agent.state_dict()))
    clone = ARS()
    clone.load_state_dict(state)
    np.testing.assert_allclose(clone.act(visited[:3]), agent.act(visited[:3]))


def _branin_currin(x: np.ndarray) -> np.ndarray:
    f = BraninCurrin()
    return f(torch.as_tensor(x, dtype=torch.double)).numpy() / np.abs(f.ref_point.numpy())


def _run(opt: MoboArs, rounds: int, n: int = 1) -> list[np.ndarray]:
    asked = []
    for _ in range(rounds):
        x = opt.ask(n)
        asked.append(x)
        opt.tell(x, _branin_currin(x), np.ones(n, dtype=bool))
    return asked


@pytest.mark.parametrize(
    ("reward", "global_agents", "select"),
    [("ei", 0, "reward"), ("ei", 1, "ehvi"), ("nehvi", 1, "reward"), ("ehvi", 1, "ehvi"), ("auto", 0, "ehvi")],
)
def test_mobo_ars_in_bounds_deterministic_and_resumable(reward: str, global_agents: int, select: str) -> None:
    problem = Problem(dim=2, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=7)
    kw = dict(
        n_init=4, n_agents=2, iterations=3, horizon=3, mc_samples=16, reward=reward, global_agents=global_agents
    ) | {"select": select}
    a, b = MoboArs(ARS(), **kw), MoboArs(ARS(), **kw)
    a.setup(problem)
    b.setup(problem)
    xa, xb = _run(a, 5), _run(b, 5)
    for x, y in zip(xa, xb, strict=True):
        np.testing.assert_array_equal(x, y)  # same seed, same proposals
        assert x.shape == (1, 2) and np.all((x >= 0) & (x <= 1))
    state = json.loads(json.dumps(a.state_dict()))
    c = MoboArs(ARS(), **kw)
    c.setup(problem)
    c.load_state_dict(state)
    np.testing.assert_array_equal(a.ask(2), c.ask(2))  # resumed: the very same next batch, q=2
    batch = c.ask(3)
    assert len({tuple(r) for r in batch}) == 3  # distinct proposals within a batch


def test_walk_remembers_the_best_distinct_points_it_visited() -> None:
    optimum = np.array([0.8, 0.3])
    walk = SurrogateWalk(np.full(2, 0.5), lambda x: -((x - optimum) ** 2).sum(1), 3, max_step=0.2, keep=4)
    seen_x, seen_v = [], []
    walk.reset(5)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, v = walk.step(rng.standard_normal((5, 2)))
        seen_x.extend(obs)
        seen_v.extend(v)
    walk.step(np.full((5, 2), -50.0))  # every walker to the corner (0, 0): five copies of one point
    walk.step(np.full((5, 2), -50.0))
    assert len(walk.best_x) == 4 and len({tuple(p) for p in walk.best_x}) == 4  # distinct
    np.testing.assert_allclose(walk.best_v, sorted(seen_v, reverse=True)[:4])  # the best four, best first
    np.testing.assert_allclose(-((walk.best_x - optimum) ** 2).sum(1), walk.best_v)


def test_visited_candidates_propose_at_least_as_well_as_the_rollout() -> None:
    """candidates=visited: each agent proposes the best point any of its steps reached, so the round's proposal is
    never worse by the common log EHVI than the paper's best-of-rollout, and stays deterministic."""
    problem = Problem(dim=2, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=11)
    kw: dict = dict(n_init=6, n_agents=2, iterations=3, horizon=3, reward="ehvi", select="ehvi")
    runs = {}
    for candidates in ("rollout", "visited", "visited"):
        opt = MoboArs(ARS(directions=4, top=2), candidates=candidates, **kw)
        opt.setup(problem)
        x = opt.ask(6)
        opt.tell(x, _branin_currin(x), np.ones(6, dtype=bool))
        acq = opt._ehvi(opt.surrogate())
        proposal = opt.ask(1)
        value = float(acq(torch.as_tensor(proposal, dtype=torch.double).unsqueeze(1))[0])
        runs.setdefault(candidates, []).append((proposal, value))
    (_, rollout_v), (visited_x, visited_v), (again_x, _) = runs["rollout"][0], *runs["visited"]
    assert visited_v >= rollout_v - 1e-9
    np.testing.assert_array_equal(visited_x, again_x)
    with pytest.raises(ValueError, match="candidates must be one of rollout, visited"):
        MoboArs(ARS(), candidates="all")


def test_polish_raises_the_log_ehvi_of_the_proposal_only_where_every_input_is_continuous() -> None:
    """polish: L-BFGS-B from the agents' proposals never ends below them by the common log EHVI, is deterministic,
    and leaves a problem with int or categorical coordinates (``Problem.snap``) exactly as it was."""

    def proposal(polish: int, snap=None) -> tuple[np.ndarray, float]:
        problem = Problem(dim=3, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=5, snap=snap)
        kw: dict = dict(n_init=6, n_agents=2, iterations=2, horizon=3, reward="ehvi", select="ehvi")
        opt = MoboArs(ARS(directions=4, top=2), polish=polish, **kw)
        opt.setup(problem)
        x = opt.ask(6)
        opt.tell(x, _branin_currin(x[:, :2]), np.ones(6, dtype=bool))
        acq = opt._ehvi(opt.surrogate())
        point = opt.ask(1)
        return point, float(acq(torch.as_tensor(point, dtype=torch.double).unsqueeze(1))[0])

    (plain_x, plain_v), (x, v), (again, _) = proposal(0), proposal(10), proposal(10)
    assert v >= plain_v - 1e-9 and not np.array_equal(x, plain_x)
    np.testing.assert_array_equal(x, again)
    cells = lambda p: np.round(p * 4 - 0.5) / 4 + 0.125  # noqa: E731 - four cells per coordinate
    np.testing.assert_array_equal(proposal(0, cells)[0], proposal(10, cells)[0])
    with pytest.raises(ValueError, match="polish and polish_starts must be >= 0"):
        MoboArs(ARS(), polish=-1)


def test_polish_starts_add_the_best_raw_points_and_the_proposal_beats_them(monkeypatch) -> None:
    """polish_starts: the best raw Sobol' points of the global agent join the agents' proposals as polish starts
    (the multi-start of ``optimize_acqf``), so the proposal's log EHVI is at least each of theirs."""
    from plugins.optimizers import mobo_ars

    starts: list[np.ndarray] = []

    def recorded(acq, points, steps):
        starts.append(points.copy())
        return polished(acq, points, steps)

    monkeypatch.setattr(mobo_ars, "polished", recorded)
    problem = Problem(dim=3, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=5)
    kw: dict = dict(n_init=6, n_agents=2, iterations=2, horizon=3, reward="ehvi", select="ehvi", polish=10)
    opt = MoboArs(ARS(directions=4, top=2), global_agents=1, raw_samples=64, polish_starts=3, **kw)
    opt.setup(problem)
    x = opt.ask(6)
    opt.tell(x, _branin_currin(x[:, :2]), np.ones(6, dtype=bool))
    acq = opt._ehvi(opt.surrogate())
    value = lambda p: acq(torch.as_tensor(p, dtype=torch.double).reshape(-1, 1, 3)).detach().numpy()  # noqa: E731
    point = opt.ask(1)
    assert len(starts) == 1 and len(starts[0]) == 2 + 1 + 3  # two cluster agents, one global, three raw points
    assert value(point)[0] >= value(starts[0][3:]).max() - 1e-9
    with pytest.raises(ValueError, match="polish and polish_starts must be >= 0"):
        MoboArs(ARS(), polish_starts=-1)


def test_mobo_ars_rejects_bad_settings() -> None:
    with pytest.raises(TypeError, match="Agent"):
        MoboArs(agent="ars")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reward"):
        MoboArs(ARS(), reward="ucb")


def test_auto_reward_is_the_closed_form_ehvi_at_any_number_of_objectives() -> None:
    for m, expected in ((2, "ehvi"), (3, "ehvi"), (4, "ehvi")):
        opt = MoboArs(ARS(), reward="auto")
        opt.setup(Problem(dim=2, objective_names=tuple(f"f{i}" for i in range(m)), ref_point=(1.0,) * m, seed=0))
        assert opt.resolved_reward == expected
    with pytest.raises(ValueError, match="global_agents"):
        MoboArs(ARS(), global_agents=-1)


def test_time_share_serves_the_last_rounds_pool_then_sobol_and_resumes_exactly() -> None:
    """Instant trials put mobo_ars over its time share after one round: the next asks train no agents and come
    from that round's costed candidate pool (best log EHVI first), then from Sobol'; the pool survives a state
    round trip."""
    problem = Problem(dim=2, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=3)
    kw: dict = dict(n_init=4, n_agents=3, iterations=2, horizon=2, global_agents=1, time_share=1.0, pool_size=4)
    opt = MoboArs(ARS(), **kw)
    opt.setup(problem)
    _run(opt, 4)  # the initial design
    first = opt.ask(1)
    pool = opt._pool.copy()
    assert 1 <= len(pool) <= 4, "the round keeps its best costed candidates"
    opt.tell(first, _branin_currin(first), np.ones(1, dtype=bool))
    assert opt.proposal_s > opt.trial_s  # an instant trial: over the share
    state = json.loads(json.dumps(opt.state_dict()))
    twin = MoboArs(ARS(), **kw)
    twin.setup(problem)
    twin.load_state_dict(state)
    served = []
    for _ in range(len(pool) + 2):
        x, y = opt.ask(1), twin.ask(1)
        np.testing.assert_array_equal(x, y)
        served.append(x[0])
        for o in (opt, twin):
            o.tell(x, _branin_currin(x), np.ones(1, dtype=bool))
    from_pool = [p for p in served if any(np.array_equal(p, q) for q in pool)]
    assert len(from_pool) >= 1 and opt._fallback >= 2  # the pool first, then Sobol' points
    assert len({tuple(p) for p in served}) == len(served)  # never the same point twice


def test_time_share_never_binds_when_trials_are_slow() -> None:
    problem = Problem(dim=2, objective_names=("a", "b"), ref_point=(1.0, 1.0), seed=3)
    opt = MoboArs(ARS(), n_init=4, n_agents=2, iterations=2, horizon=2, time_share=1.0)
    opt.setup(problem)
    _run(opt, 4)
    for _ in range(3):
        opt.trial_s += 1e6  # trials of days
        x = opt.ask(1)
        opt.tell(x, _branin_currin(x), np.ones(1, dtype=bool))
    assert opt._fallback == 0


def test_time_share_must_be_positive() -> None:
    with pytest.raises(ValueError, match="time_share"):
        MoboArs(ARS(), time_share=0)


def test_ars_trained_one_update_at_a_time_ends_where_one_call_does() -> None:
    """mobo_ars trains with iterations=1 in a loop to stop at a deadline; that must not change the policy."""
    start, optimum = np.full(3, 0.2), np.array([0.7, 0.4, 0.9])
    whole, stepwise = ARS(directions=4, top=2), ARS(directions=4, top=2)
    whole.train(Quadratic(start, optimum), 7, np.random.default_rng(5))
    env, rng = Quadratic(start, optimum), np.random.default_rng(5)
    for _ in range(7):
        stepwise.train(env, 1, rng)
    assert json.dumps(whole.state_dict()) == json.dumps(stepwise.state_dict())
