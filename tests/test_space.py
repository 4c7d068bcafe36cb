"""SearchSpace: unit-cube round trips (hypothesis) and clear errors for bad parameter specs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.search.space import Parameter, SearchSpace

floats01 = st.floats(0.0, 1.0, allow_nan=False)


@given(low=st.floats(-1e3, 1e3), span=st.floats(1e-3, 1e3), u=floats01)
def test_float_roundtrip(low: float, span: float, u: float) -> None:
    p = Parameter("a", "model.a", "float", low=low, high=low + span)
    v = p.decode(u)
    assert low - 1e-9 <= v <= low + span + 1e-9
    assert p.encode(v) == pytest.approx(u, abs=1e-6)
    assert p.decode(p.encode(v)) == pytest.approx(v, rel=1e-9, abs=1e-9)


@given(low=st.floats(1e-6, 1.0), ratio=st.floats(1.01, 1e6), u=floats01)
def test_log_float_roundtrip(low: float, ratio: float, u: float) -> None:
    p = Parameter("lr", "optim.lr", "float", low=low, high=low * ratio, log=True)
    v = p.decode(u)
    assert low * (1 - 1e-9) <= v <= low * ratio * (1 + 1e-9)
    assert p.encode(v) == pytest.approx(u, abs=1e-6)


@given(low=st.integers(-50, 50), span=st.integers(1, 100), u=floats01, log=st.booleans())
def test_int_roundtrip(low: int, span: int, u: float, log: bool) -> None:
    if log:
        low = abs(low) + 1
    p = Parameter("w", "model.width", "int", low=low, high=low + span, log=log)
    v = p.decode(u)
    assert isinstance(v, int) and low <= v <= low + span
    assert p.decode(p.encode(v)) == v
    assert 0.0 <= p.encode(v) <= 1.0


@given(low=st.integers(1, 20), span=st.integers(1, 30), log=st.booleans())
def test_int_every_value_reachable(low: int, span: int, log: bool) -> None:
    p = Parameter("w", "model.width", "int", low=low, high=low + span, log=log)
    seen = {p.decode(u) for u in np.linspace(0, 1, 2000)}
    assert seen == set(range(low, low + span + 1))


@given(
    choices=st.lists(st.one_of(st.integers(), st.text(max_size=5)), min_size=1, max_size=8, unique_by=repr),
    u=floats01,
)
def test_categorical_roundtrip(choices: list, u: float) -> None:
    p = Parameter("k", "model.kernel_size", "categorical", choices=tuple(choices))
    v = p.decode(u)
    assert v in choices
    assert p.decode(p.encode(v)) == v


@settings(max_examples=50)
@given(x=st.lists(floats01, min_size=3, max_size=3))
def test_space_decode_encode(x: list[float]) -> None:
    space = SearchSpace.from_config(
        {
            "lr": {"path": "optim.lr", "type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "w": {"path": "model.width", "type": "int", "low": 4, "high": 64},
            "k": {"path": "model.kernel_size", "type": "categorical", "choices": [3, 5, 7]},
        }
    )
    values = space.decode(x)
    assert set(values) == {"optim.lr", "model.width", "model.kernel_size"}
    assert space.decode(space.encode(values)) == pytest.approx(values)


def test_apply_sets_dotted_paths(make_cfg) -> None:
    cfg = make_cfg()
    space = SearchSpace.from_config(cfg.search_space.params, cfg)
    values = space.decode([0.99] * space.dim)
    trial = space.apply(cfg, values)
    assert trial.model.depth == 3 and trial.compressor.prune.sparsity == pytest.approx(
        values["compressor.prune.sparsity"]
    )
    assert cfg.model.depth == 2  # the run config is untouched


@pytest.mark.parametrize(
    ("spec", "key", "fragment"),
    [
        (
            {"path": "model.width", "type": "integer", "low": 1, "high": 3},
            "params.p.type",
            "Valid choices: categorical, float, int",
        ),
        (
            {"path": "model.width", "type": "int", "low": 8, "high": 4},
            "params.p'",
            "low (8) must be smaller than high (4)",
        ),
        ({"path": "model.width", "type": "int", "low": 1.5, "high": 4}, "params.p.low", "integer bounds"),
        (
            {"path": "optim.lr", "type": "float", "low": 0, "high": 1, "log": True},
            "params.p.low",
            "low > 0",
        ),
        ({"path": "optim.lr", "type": "float", "low": "a", "high": 1}, "params.p.low", "finite number"),
        (
            {"path": "model.kernel_size", "type": "categorical", "choices": []},
            "params.p.choices",
            "non-empty",
        ),
        (
            {"path": "model.nope", "type": "int", "low": 1, "high": 3},
            "params.p.path",
            "Valid choices: conv_dim, depth",
        ),
        (
            {"path": "model.width", "type": "int", "low": 1, "hihg": 3},
            "params.p.hihg",
            "not a parameter field",
        ),
        ({"type": "int", "low": 1, "high": 3}, "params.p.path", "is missing"),
    ],
)
def test_bad_specs_name_key_and_choices(make_cfg, spec: dict, key: str, fragment: str) -> None:
    cfg = make_cfg()
    with pytest.raises(ConfigError) as info:
        SearchSpace.from_config({"p": spec}, cfg)
    msg = str(info.value)
    assert f"search_space.{key}" in msg and fragment in msg
    assert "\n" not in msg


def test_empty_space_and_duplicate_paths() -> None:
    with pytest.raises(ConfigError, match="empty"):
        SearchSpace.from_config({})
    with pytest.raises(ConfigError, match="searched twice"):
        SearchSpace.from_config(
            {
                "a": {"path": "model.width", "type": "int", "low": 1, "high": 3},
                "b": {"path": "model.width", "type": "int", "low": 1, "high": 5},
            }
        )


def test_decode_clips_out_of_cube() -> None:
    p = Parameter("a", "x.a", "float", low=0.0, high=1.0)
    assert p.decode(-3) == 0.0 and p.decode(7) == 1.0
    assert math.isclose(Parameter("b", "x.b", "float", low=1e-3, high=1e-1, log=True).decode(0.5), 1e-2)


@settings(max_examples=50)
@given(x=st.lists(st.lists(floats01, min_size=4, max_size=4), min_size=1, max_size=5))
def test_snap_moves_discrete_coordinates_to_their_cell_centre_and_keeps_the_configuration(x: list[list[float]]) -> None:
    space = SearchSpace.from_config(
        {
            "lr": {"path": "optim.lr", "type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "w": {"path": "model.width", "type": "int", "low": 4, "high": 48, "log": True},
            "d": {"path": "model.depth", "type": "int", "low": 1, "high": 4},
            "k": {"path": "model.kernel_size", "type": "categorical", "choices": [3, 5, 7]},
        }
    )
    points = np.array(x)
    snapped = space.snap(points)
    assert snapped.shape == points.shape
    assert np.array_equal(snapped[:, 0], points[:, 0])  # a float coordinate is its own configuration
    for p, s in zip(points, snapped, strict=True):
        assert space.decode(s) == space.decode(p)
        assert np.allclose(s, space.encode(space.decode(p)))  # the cell centre
    assert np.allclose(space.snap(snapped), snapped)  # idempotent
