"""Hardware costs of a candidate without training it: build, restructure (e.g. prune) and cost an untrained model.

Flash, SRAM, MACs and latency depend only on a candidate's architecture, never on its trained weights: the model
is built from its config, each compressor applies only its architectural change (``Compressor.restructure``, e.g.
the channels pruning removes) and the board's cost model costs the result. The numbers equal what the trial
measures after training (``tests/test_known_costs.py`` checks this on real trials).

Two users:

* the trial (:mod:`core.trial.evaluate`) skips training a candidate that cannot fit the board
  (``search.train_infeasible=false``, the default) and records it as infeasible at no training cost;
* :class:`KnownCosts` gives optimizers the exact cost objectives of any point in the unit cube
  (``Problem.known``), so a surrogate need model only the error (``optimizer.known_costs=true``).
"""

from __future__ import annotations

import copy
import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import fx, nn

from core.interfaces import Compressor, Cost, DatasetPlugin, HardwareTarget
from core.plugins import instantiate
from core.search.space import SearchSpace

COST_OBJECTIVES = ("flash", "ram", "macs", "latency")
# config sections a candidate's architecture (and so its cost) can depend on; trainer.* never changes it
ARCHITECTURE_SECTIONS = ("model", "compressor", "hw", "dataset")


def cost_objectives(cost: Cost) -> dict[str, float]:
    """The cost objectives of a :class:`Cost` by objective name."""
    return {
        "flash": float(cost.flash_bytes),
        "ram": float(cost.ram_bytes),
        "macs": float(cost.macs),
        "latency": float(cost.latency_s),
    }


def architecture_cost(
    model: nn.Module, compressors: Sequence[Compressor], hw: HardwareTarget, input_shape: tuple[int, ...]
) -> Cost:
    """Cost of ``model`` (untrained; modified in place) after every compressor's architectural change."""
    return hw.cost(_restructured(model.eval(), compressors, torch.zeros(1, *input_shape)), input_shape)


class KnownCosts:
    """The exact cost objectives of any point of a search space, for optimizers (implements ``KnownObjectives``).

    Costs are cached twice: by the point's architecture parameters (training parameters such as ``optim.lr``
    never change a cost) and by the restructured model's shapes (many pruning fractions keep the same channel
    counts), so a surrogate walk that visits thousands of points costs each distinct architecture once. Building
    is cheap too: each model template is built and traced once, its factory class and the compressors' classes
    are called directly after their first (validated) instantiation, the copy a compressor restructures is built
    afresh by the factory (5x quicker than a deep copy of the template; which weights it starts from does not change
    a cost, and the global RNG is left as it was), and a restructured copy that keeps the template's modules
    (channel pruning does) is lowered through the template's traced graph, without compiling it again.

    Args:
        cfg: the composed run config.
        space: the search space whose unit cube the points live in.
        objectives: the search's objective names (columns of ``tell``'s ``y``).
        reference: reference value per objective (``y = value / reference``).
        cache_size: most architectures remembered per cache.
    """

    def __init__(
        self,
        cfg: DictConfig,
        space: SearchSpace,
        objectives: Sequence[str],
        reference: dict[str, float],
        cache_size: int = 50_000,
    ) -> None:
        self.space = space
        self.objectives = tuple(objectives)
        self.columns = tuple(i for i, name in enumerate(self.objectives) if name in COST_OBJECTIVES)
        # dimensions no cost depends on: the training knobs (``optim.lr``, ``trainer.*``), never an architecture's
        self.free = tuple(
            i for i, p in enumerate(space.parameters) if p.path.split(".", 1)[0] not in ARCHITECTURE_SECTIONS
        )
        self._scale = np.array([reference[self.objectives[i]] for i in self.columns], dtype=float)
        self._base: dict[str, Any] = {
            k: OmegaConf.to_container(cfg[k], resolve=True) for k in ARCHITECTURE_SECTIONS if k in cfg
        }
        self._cache_size = int(cache_size)
        self._by_params: OrderedDict[str, tuple[Cost | Exception, float]] = OrderedDict()
        self._by_shapes: dict[str, tuple[Cost, float]] = {}
        self._built: dict[str, Any] = {}  # section json -> model template / hw target / dataset facts
        self._classes: dict[str, type] = {}  # _target_ -> class, after one validated instantiation
        # id(template) -> the template as a traced GraphModule, its module types
        self._graphs: dict[int, tuple[fx.GraphModule, dict[str, type]] | None] = {}
        self.misses = 0

    # -- KnownObjectives ----------------------------------------------------------------------------------------
    def __call__(self, x: np.ndarray) -> np.ndarray:
        rows = [self._lookup(p) for p in np.atleast_2d(x)]
        values = [
            [cost_objectives(cost)[self.objectives[i]] if isinstance(cost, Cost) else math.inf for i in self.columns]
            for cost, _ in rows
        ]
        return np.asarray(values, dtype=float).reshape(len(rows), len(self.columns)) / self._scale

    def excess(self, x: np.ndarray) -> np.ndarray:
        return np.array([self._lookup(p)[1] for p in np.atleast_2d(x)], dtype=float)

    # -- one point ------------------------------------------------------------------------------------------------
    def cost(self, point: np.ndarray) -> Cost:
        """The :class:`Cost` of one unit-cube point (shape ``d``); raises what building its model raised."""
        cost = self._lookup(point)[0]
        if not isinstance(cost, Cost):
            raise cost
        return cost

    def _lookup(self, point: np.ndarray) -> tuple[Cost | Exception, float]:
        """The point's cost and board overshoot. An architecture that cannot be built (the model or a compressor
        rejects its parameters) can never be deployed: its costs are infinite, its overshoot too, and the error
        is kept for :meth:`cost`; the trial itself fails with it, as before."""
        params = self.space.decode(np.clip(point, 0.0, 1.0))
        arch = {k: v for k, v in params.items() if k.split(".", 1)[0] in ARCHITECTURE_SECTIONS}
        key = json.dumps(arch, sort_keys=True, default=str)
        hit = self._by_params.get(key)
        if hit is None:
            try:
                hit = self._compute(arch)
            except Exception as exc:
                hit = (exc, math.inf)
            self._by_params[key] = hit
            if len(self._by_params) > self._cache_size:
                self._by_params.popitem(last=False)
        return hit

    def _compute(self, arch: dict[str, Any]) -> tuple[Cost, float]:
        self.misses += 1
        cfg: dict[str, Any] = dict(self._base)
        for section in {path.split(".", 1)[0] for path in arch}:  # copy only the sections a parameter sets
            cfg[section] = copy.deepcopy(self._base[section])
        for path, value in arch.items():
            node = cfg
            *parents, leaf = path.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        input_shape, num_classes = self._once("dataset", cfg["dataset"], lambda: _dataset_facts(cfg["dataset"]))

        def build() -> nn.Module:
            with torch.random.fork_rng(devices=[]):  # weight init must not move the search's RNG
                return self._instance("model", "model", cfg["model"]).build(input_shape, num_classes).eval()

        template = self._once("model", [cfg["model"], input_shape], build)
        example = torch.zeros(1, *input_shape)
        compressors = [self._compressor(name, node) for name, node in (cfg.get("compressor") or {}).items()]
        hw: HardwareTarget = self._once("hw", cfg["hw"], lambda: instantiate(OmegaConf.create(cfg["hw"]), "hw"))
        structure = [c.structure_key(template, example) for c in compressors]
        model: nn.Module | None = None
        if all(k is not None for k in structure):  # the restructured shapes are known without restructuring
            key = json.dumps([id(template), [type(c).__qualname__ for c in compressors], structure, cfg["hw"]])
        else:
            model = _restructured(build(), compressors, example)
            key = json.dumps(
                [repr(model), [(k, list(v.shape)) for k, v in model.state_dict().items()], cfg["hw"]], default=str
            )
        if key not in self._by_shapes:
            model = model if model is not None else _restructured(build(), compressors, example)
            cost = hw.cost(self._with_template_graph(model, template), input_shape)
            self._by_shapes[key] = (cost, hw.overshoot(cost))
        return self._by_shapes[key]

    def _once(self, kind: str, node: Any, build: Any) -> Any:
        """``build()`` once per distinct config ``node`` of section ``kind``."""
        key = kind + json.dumps(node, sort_keys=True, default=str)
        if key not in self._built:
            self._built[key] = build()
        return self._built[key]

    def _instance(self, group: str, key: str, node: dict[str, Any]) -> Any:
        """The plugin of ``node``; after the first (validated) instantiation, its class is called directly."""
        target = str(node.get("_target_"))
        kwargs = {k: v for k, v in node.items() if k != "_target_"}
        if target in self._classes and not any(isinstance(v, dict | list) for v in kwargs.values()):
            return self._classes[target](**kwargs)
        plugin = instantiate(OmegaConf.create(node), group, key=key)
        self._classes[target] = type(plugin)
        return plugin

    def _compressor(self, name: str, node: dict[str, Any]) -> Compressor:
        """The compressor of ``node`` (see :meth:`_instance`)."""
        compressor: Compressor = self._instance("compressor", f"compressor.{name}", node)
        return compressor

    def _with_template_graph(self, model: nn.Module, template: nn.Module) -> nn.Module:
        """``model`` with the template's traced graph, when restructuring kept every module's name, type and the
        model's class (so tracing it again would give the same graph); else ``model`` as it is.

        The result is the template's GraphModule (its class holds the code compiled from the graph) with ``model``'s
        modules, parameters and buffers in place of the template's: same names and types, so the graph's targets
        resolve to ``model``'s modules, and nothing is compiled again (a new ``fx.GraphModule`` is ~2 ms)."""
        if id(template) not in self._graphs:
            try:
                self._graphs[id(template)] = (fx.symbolic_trace(template), _module_types(template))
            except Exception:  # untraceable: the cost model traces (and reports) it itself
                self._graphs[id(template)] = None
        traced = self._graphs[id(template)]
        if traced is None or type(model) is not type(template) or _module_types(model) != traced[1]:
            return model
        gm = traced[0]
        rebound = object.__new__(type(gm))  # not GraphModule.__new__, which makes a class without the compiled code
        rebound.__dict__.update(gm.__dict__)
        for attr in ("_modules", "_parameters", "_buffers", "training"):  # the modules keep their own flags
            rebound.__dict__[attr] = copy.copy(model.__dict__[attr])
        return rebound


def _module_types(model: nn.Module) -> dict[str, type]:
    return {name: type(m) for name, m in model.named_modules()}


def _restructured(model: nn.Module, compressors: Sequence[Compressor], example: torch.Tensor) -> nn.Module:
    for c in compressors:
        model = c.restructure(model, example)
    return model


def _dataset_facts(node: dict[str, Any]) -> tuple[tuple[int, ...], int]:
    dataset: DatasetPlugin = instantiate(OmegaConf.create(node), "dataset")
    return tuple(dataset.input_shape), int(dataset.num_classes)
