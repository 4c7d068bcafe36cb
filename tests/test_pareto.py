"""Pareto utilities: hypervolume against exact inclusion-exclusion, non-dominated sort against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.errors import ConfigError
from core.search.objectives import validate_objectives
from core.search.pareto import hypervolume, normalize, pareto_mask


def brute_force_hv(y: np.ndarray, ref: np.ndarray) -> float:
    """Exact HV of the union of boxes [y_i, ref] by inclusion-exclusion over all subsets."""
    y = y[np.all(y < ref, axis=1)]
    total = 0.0
    for k in range(1, len(y) + 1):
        for subset in itertools.combinations(range(len(y)), k):
            corner = y[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * float(np.prod(ref - corner))
    return total


def brute_force_front(y: np.ndarray) -> set[tuple[float, ...]]:
    out = set()
    for i, a in enumerate(y):
        dominated = any(np.all(b <= a) and np.any(b < a) for j, b in enumerate(y) if j != i)
        if not dominated:
            out.add(tuple(a))
    return out


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 4), data=st.data())
def test_hypervolume_matches_inclusion_exclusion(m: int, data: st.DataObject) -> None:
    y = data.draw(arrays(np.float64, (data.draw(st.integers(1, 7)), m), elements=st.floats(0, 1.2)))
    ref = np.ones(m)
    assert hypervolume(y, ref) == pytest.approx(brute_force_hv(y, ref), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 4), data=st.data())
def test_pareto_mask_matches_brute_force(m: int, data: st.DataObject) -> None:
    y = data.draw(
        arrays(np.float64, (data.draw(st.integers(1, 12)), m), elements=st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    )
    front = {tuple(r) for r in y[pareto_mask(y)]}
    assert front == brute_force_front(y)
    assert pareto_mask(y).sum() == len(front)  # duplicates kept once


def test_hypervolume_simple_cases() -> None:
    assert hypervolume(np.array([[0.5, 0.5]]), [1, 1]) == pytest.approx(0.25)
    assert hypervolume(np.array([[0.0, 0.5], [0.5, 0.0]]), [1, 1]) == pytest.approx(0.75)
    assert hypervolume(np.zeros((0, 2)), [1, 1]) == 0.0
    assert hypervolume(np.array([[1.5, 0.1], [np.nan, 0.1]]), [1, 1]) == 0.0  # outside / failed add nothing


def test_normalize_and_validate() -> None:
    y = normalize({"error": 0.1, "flash": 1000.0}, ["error", "flash"], {"error": 1.0, "flash": 4000.0})
    assert y.tolist() == pytest.approx([0.1, 0.25])
    with pytest.raises(ConfigError, match="Valid choices: error, flash, latency, macs, ram"):
        validate_objectives(["error", "energy"])
    with pytest.raises(ConfigError, match="two distinct"):
        validate_objectives(["error", "error"])
