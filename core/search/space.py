"""SearchSpace: typed parameters addressed by dotted config paths, mapped to and from the unit cube.

Each parameter takes one dimension of ``[0, 1]^d``:

* ``float``: linear (or logarithmic with ``log: true``) between ``low`` and ``high``.
* ``int``: ``high - low + 1`` equal-width bins (log-spaced values with ``log: true``).
* ``categorical``: ``len(choices)`` equal-width bins, in the listed order.

Config form (``conf/search_space/*.yaml``)::

    params:
      width: {path: model.width, type: int, low: 8, high: 32}
      lr:    {path: optim.lr, type: float, low: 1.0e-3, high: 3.0e-2, log: true}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from core.errors import ConfigError

PARAM_TYPES = ("float", "int", "categorical")
_KNOWN_KEYS = {"path", "type", "low", "high", "log", "choices"}


@dataclass(frozen=True)
class Parameter:
    """One search dimension. ``path`` is the dotted config key it sets, e.g. ``model.width``."""

    name: str
    path: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def decode(self, u: float) -> Any:
        """Map a unit-interval coordinate to a value of this parameter."""
        u = min(max(float(u), 0.0), 1.0)
        if self.type == "categorical":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        assert self.low is not None and self.high is not None
        if self.type == "float":
            if self.log:
                return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
            return float(self.low + u * (self.high - self.low))
        lo, hi = int(self.low), int(self.high)
        if self.log:
            value = math.exp(math.log(lo - 0.5) + u * (math.log(hi + 0.5) - math.log(lo - 0.5)))
            return int(min(max(round(value), lo), hi))
        return int(min(lo + int(u * (hi - lo + 1)), hi))

    def encode(self, value: Any) -> float:
        """Map a value to the centre of its unit-interval cell (so ``decode(encode(v)) == v``)."""
        if self.type == "categorical":
            return (self.choices.index(value) + 0.5) / len(self.choices)
        assert self.low is not None and self.high is not None
        if self.type == "float":
            if self.log:
                return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
            return (float(value) - self.low) / (self.high - self.low)
        lo, hi = int(self.low), int(self.high)
        if self.log:
            # centre (in log space) of the interval of reals that round to `value`
            a, b = math.log(max(value - 0.5, lo - 0.5)), math.log(min(value + 0.5, hi + 0.5))
            span = math.log(hi + 0.5) - math.log(lo - 0.5)
            return ((a + b) / 2 - math.log(lo - 0.5)) / span
        return (int(value) - lo + 0.5) / (hi - lo + 1)


class SearchSpace:
    """An ordered set of :class:`Parameter` s; ``d = len(space)``."""

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        self.parameters = list(parameters)
        paths = [p.path for p in self.parameters]
        dup = {p for p in paths if paths.count(p) > 1}
        if dup:
            raise ConfigError("search_space.params", f"path(s) {sorted(dup)} are searched twice")

    def __len__(self) -> int:
        return len(self.parameters)

    @property
    def dim(self) -> int:
        """Number of unit-cube dimensions."""
        return len(self.parameters)

    @property
    def names(self) -> list[str]:
        """Parameter names in dimension order."""
        return [p.name for p in self.parameters]

    def decode(self, x: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Unit-cube point (shape ``d``) -> ``{dotted path: value}``."""
        if len(x) != self.dim:
            raise ValueError(f"point has {len(x)} coordinates, space has {self.dim}")
        return {p.path: p.decode(u) for p, u in zip(self.parameters, x, strict=True)}

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """``{dotted path: value}`` -> unit-cube point of shape ``d``."""
        return np.array([p.encode(values[p.path]) for p in self.parameters], dtype=float)

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Points (``n x d``) with every int and categorical coordinate moved to the centre of its cell (float
        coordinates as they are): the point each configuration decodes back to (``Problem.snap``)."""
        out = np.array(x, dtype=float, copy=True)
        for j, p in enumerate(self.parameters):
            if p.type != "float":
                column = out[..., j]
                out[..., j] = np.reshape([p.encode(p.decode(u)) for u in np.ravel(column)], np.shape(column))
        return out

    def apply(self, config: DictConfig, values: Mapping[str, Any]) -> DictConfig:
        """A copy of ``config`` with every ``{path: value}`` set."""
        out = config.copy()
        for path, value in values.items():
            OmegaConf.update(out, path, value, merge=False, force_add=False)
        return out

    @classmethod
    def from_config(cls, params: Mapping[str, Any] | None, config: DictConfig | None = None) -> SearchSpace:
        """Build and validate a space from ``search_space.params``.

        Args:
            params: mapping name -> ``{path, type, low, high, log, choices}``.
            config: the composed run config; when given, every ``path`` must exist in it.

        Raises:
            ConfigError: an unknown type or key, bad bounds, or a path that is not in the config.
        """
        if not params:
            raise ConfigError("search_space.params", "the search space is empty", hint="Add at least one param.")
        out = []
        for name, spec in params.items():
            out.append(_parse_parameter(str(name), spec, config))
        return cls(out)


def _parse_parameter(name: str, spec: Any, config: DictConfig | None) -> Parameter:
    key = f"search_space.params.{name}"
    if isinstance(spec, DictConfig):
        spec = OmegaConf.to_container(spec, resolve=True)
    if not isinstance(spec, Mapping):
        raise ConfigError(key, f"expected a mapping with 'path' and 'type', got {spec!r}")
    unknown = set(spec) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{key}.{sorted(unknown)[0]}", "is not a parameter field", choices=_KNOWN_KEYS)
    path = spec.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{key}.path", "is missing; it must be the dotted config key to set, e.g. model.width")
    last = path.rsplit(".", 1)[-1]
    if (last.startswith("_") and last.endswith("_")) or path.split(".")[0] in ("hydra", "search", "search_space"):
        raise ConfigError(
            f"{key}.path",
            f"'{path}' cannot be searched: a search may set hyperparameters (model, trainer, optim, data, compressor, "
            "dataset, board fields), never which class is built (_target_ and Hydra's other _keys_) or the search's "
            "own settings",
        )
    if config is not None and OmegaConf.select(config, path, default=_MISSING) is _MISSING:
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        node = OmegaConf.select(config, parent) if parent else config
        near = [k for k in node if not str(k).startswith("_")] if isinstance(node, DictConfig) else None
        raise ConfigError(f"{key}.path", f"'{path}' is not a key of the composed config", choices=near)
    ptype = spec.get("type")
    if ptype not in PARAM_TYPES:
        raise ConfigError(f"{key}.type", f"unknown parameter type {ptype!r}", choices=PARAM_TYPES)
    log = bool(spec.get("log", False))
    if ptype == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, Sequence) or isinstance(choices, str) or len(choices) == 0:
            raise ConfigError(f"{key}.choices", "a categorical parameter needs a non-empty list of choices")
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{key}.choices", f"choices must be distinct, got {list(choices)}")
        return Parameter(name, path, ptype, choices=tuple(choices))
    low, high = spec.get("low"), spec.get("high")
    for bound, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{key}.{bound}", f"must be a finite number, got {value!r}")
        if ptype == "int" and float(value) != int(value):
            raise ConfigError(f"{key}.{bound}", f"an int parameter needs integer bounds, got {value!r}")
    assert low is not None and high is not None
    if not low < high:
        raise ConfigError(key, f"low ({low}) must be smaller than high ({high})")
    if log and low <= 0:
        raise ConfigError(f"{key}.low", f"a log-scale parameter needs low > 0, got {low}")
    return Parameter(name, path, ptype, low=float(low), high=float(high), log=log)


_MISSING = object()
