"""random and sobol: deterministic per seed, and exact after state_dict/load_state_dict (resume)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.interfaces.optimizer import Problem
from plugins.optimizers.random_search import RandomSearch
from plugins.optimizers.sobol import SobolSearch

PROBLEM = Problem(dim=5, objective_names=("error", "flash"), ref_point=(1.0, 1.0), seed=3)


@pytest.mark.parametrize("cls", [RandomSearch, SobolSearch])
def test_deterministic_and_resumable(cls) -> None:
    a, b = cls(), cls()
    a.setup(PROBLEM)
    b.setup(PROBLEM)
    xa = a.ask(4)
    np.testing.assert_array_equal(xa, b.ask(4))
    assert xa.shape == (4, 5) and np.all((xa >= 0) & (xa <= 1))
    a.tell(xa, np.full((4, 2), np.nan), np.zeros(4, dtype=bool))
    state = json.loads(json.dumps(a.state_dict()))  # must survive JSON (the store)
    c = cls()
    c.setup(PROBLEM)
    c.load_state_dict(state)
    np.testing.assert_array_equal(a.ask(3), c.ask(3))
    other = cls()
    other.setup(Problem(5, ("error", "flash"), (1.0, 1.0), seed=4))
    assert not np.allclose(other.ask(4), xa)


def test_sobol_is_space_filling() -> None:
    s = SobolSearch()
    s.setup(Problem(dim=2, objective_names=("error", "flash"), ref_point=(1.0, 1.0), seed=0))
    x = s.ask(16)
    # a (0,m,2)-net: every cell of a 4x4 grid holds exactly one of the first 16 points
    cells = {(int(u * 4), int(v * 4)) for u, v in x}
    assert len(cells) == 16
