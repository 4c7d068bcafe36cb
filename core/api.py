"""The plugin API: everything a plugin imports from tinymoo, in one module.

A plugin (built in or third party) writes ``from core.api import Compressor, ArrayDataModule, ...`` and nothing
else from ``core``; every other module of core may move between releases without breaking it. The names are:

* the contracts (:mod:`core.interfaces`): ``Optimizer``, ``Problem``, ``KnownObjectives``, ``Agent``,
  ``Environment``, ``Compressor``, ``DatasetPlugin``, ``ModelFactory``, ``HardwareTarget``, ``Cost``, ``Executor``,
  ``EvaluateFn``, ``StartFn``, ``SearchLogger``, ``TrialSpec``, ``TrialResult``, ``TrialStatus``;
* the errors that end a run with one paragraph (:mod:`core.errors`);
* building blocks: a dataset's ``ArrayDataModule``, the Lightning module trials train (``LitClassifier``), the
  model plugins' ``init_weights``, the model-based optimizers' base classes and GP helpers, the closed-form log
  EHVI, the int8 stack and the deployed layout, channel pruning, TFLite-Micro's arena planner and runtime,
  the helpers of executors that run trials in other processes, and plugin discovery (for a plugin's own tests).

Each name is imported from its module on first use (PEP 562), so ``from core.api import TrialResult`` in an
executor's worker process loads neither torch nor Lightning; ``tests/test_startup.py`` checks that.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.errors import (
        ConfigError,
        DatasetError,
        PluginError,
        RunDirError,
        TinymooError,
        TrialDiverged,
        TrialTimeout,
    )
    from core.interfaces.agent import Agent, Environment
    from core.interfaces.compressor import Compressor
    from core.interfaces.dataset import DatasetPlugin
    from core.interfaces.executor import EvaluateFn, Executor, StartFn
    from core.interfaces.hardware import Cost, HardwareTarget
    from core.interfaces.logger import SearchLogger
    from core.interfaces.model import ModelFactory
    from core.interfaces.optimizer import KnownObjectives, Optimizer, Problem
    from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
    from core.plugins import discover, instantiate
    from core.search.executor_support import (
        available_cpus,
        check_count,
        default_threads,
        failed_result,
        hard_deadline,
        host_threads,
        limit_threads,
        thread_env,
    )
    from core.search.log_ehvi import LogExpectedHypervolumeImprovement
    from core.search.model_based import AcquisitionOptimizer, ModelBasedOptimizer
    from core.search.surrogate import (
        DTYPE,
        Surrogate,
        believed_at,
        fit_gp,
        ignore_jitter_warnings,
        mc_sampler,
        x_pending,
    )
    from core.tflm.planner import Buffer, plan
    from core.tflm.runtime import arena_use, convert_int8, require_tflm
    from core.trial.datamodule import ArrayDataModule
    from core.trial.deployed_layout import DatasetInput, copy_back
    from core.trial.int8 import Int8Model, calibrated_int8, from_prepared, prepare
    from core.trial.int8_quantizer import OBSERVERS, Int8Scheme
    from core.trial.prune_groups import PruneGroup, find_prune_groups, find_prune_groups_cached, prune_group_channels
    from core.trial.surgery import keep_count, prune_by_fraction, prune_to
    from core.trial.training import LitClassifier
    from core.trial.weight_init import init_weights

# the module that defines each name, imported when the name is first used
_SOURCES: dict[str, tuple[str, ...]] = {
    "core.interfaces.agent": ("Agent", "Environment"),
    "core.interfaces.compressor": ("Compressor",),
    "core.interfaces.dataset": ("DatasetPlugin",),
    "core.interfaces.executor": ("EvaluateFn", "Executor", "StartFn"),
    "core.interfaces.hardware": ("Cost", "HardwareTarget"),
    "core.interfaces.logger": ("SearchLogger",),
    "core.interfaces.model": ("ModelFactory",),
    "core.interfaces.optimizer": ("KnownObjectives", "Optimizer", "Problem"),
    "core.interfaces.trial": ("TrialResult", "TrialSpec", "TrialStatus"),
    "core.errors": (
        "ConfigError", "DatasetError", "PluginError", "RunDirError", "TinymooError", "TrialDiverged", "TrialTimeout",
    ),
    "core.trial.datamodule": ("ArrayDataModule",),
    "core.trial.training": ("LitClassifier",),
    "core.trial.weight_init": ("init_weights",),
    "core.search.model_based": ("AcquisitionOptimizer", "ModelBasedOptimizer"),
    "core.search.surrogate": (
        "DTYPE",
        "Surrogate",
        "believed_at",
        "fit_gp",
        "ignore_jitter_warnings",
        "mc_sampler",
        "x_pending",
    ),
    "core.search.log_ehvi": ("LogExpectedHypervolumeImprovement",),
    "core.trial.int8_quantizer": ("OBSERVERS", "Int8Scheme"),
    "core.trial.int8": ("Int8Model", "calibrated_int8", "from_prepared", "prepare"),
    "core.trial.deployed_layout": ("DatasetInput", "copy_back"),
    "core.trial.prune_groups": ("PruneGroup", "find_prune_groups", "find_prune_groups_cached", "prune_group_channels"),
    "core.trial.surgery": ("keep_count", "prune_by_fraction", "prune_to"),
    "core.tflm.planner": ("Buffer", "plan"),
    "core.tflm.runtime": ("arena_use", "convert_int8", "require_tflm"),
    "core.search.executor_support": (
        "available_cpus", "check_count", "default_threads", "failed_result", "hard_deadline", "host_threads",
        "limit_threads", "thread_env",
    ),
    "core.plugins": ("discover", "instantiate"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = [
    "DTYPE",
    "OBSERVERS",
    "AcquisitionOptimizer",
    "Agent",
    "ArrayDataModule",
    "Buffer",
    "Compressor",
    "ConfigError",
    "Cost",
    "DatasetError",
    "DatasetInput",
    "DatasetPlugin",
    "Environment",
    "EvaluateFn",
    "Executor",
    "HardwareTarget",
    "Int8Model",
    "Int8Scheme",
    "KnownObjectives",
    "LitClassifier",
    "LogExpectedHypervolumeImprovement",
    "ModelBasedOptimizer",
    "ModelFactory",
    "Optimizer",
    "PluginError",
    "Problem",
    "PruneGroup",
    "RunDirError",
    "SearchLogger",
    "StartFn",
    "Surrogate",
    "TinymooError",
    "TrialDiverged",
    "TrialResult",
    "TrialSpec",
    "TrialStatus",
    "TrialTimeout",
    "arena_use",
    "available_cpus",
    "believed_at",
    "calibrated_int8",
    "check_count",
    "convert_int8",
    "copy_back",
    "default_threads",
    "discover",
    "failed_result",
    "find_prune_groups",
    "find_prune_groups_cached",
    "fit_gp",
    "from_prepared",
    "hard_deadline",
    "host_threads",
    "ignore_jitter_warnings",
    "init_weights",
    "instantiate",
    "keep_count",
    "limit_threads",
    "mc_sampler",
    "plan",
    "prepare",
    "prune_by_fraction",
    "prune_group_channels",
    "prune_to",
    "require_tflm",
    "thread_env",
    "x_pending",
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from the module that defines it (once; later lookups find it in this module)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
