"""The plugin contracts: one ABC per concept. Third-party plugins subclass these."""

from core.interfaces.agent import Agent, Environment
from core.interfaces.compressor import Compressor
from core.interfaces.dataset import DatasetPlugin
from core.interfaces.executor import Executor
from core.interfaces.hardware import Cost, HardwareTarget
from core.interfaces.logger import SearchLogger
from core.interfaces.model import ModelFactory
from core.interfaces.optimizer import Optimizer, Problem
from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus

__all__ = [
    "Agent",
    "Compressor",
    "Cost",
    "DatasetPlugin",
    "Environment",
    "Executor",
    "HardwareTarget",
    "ModelFactory",
    "Optimizer",
    "Problem",
    "SearchLogger",
    "TrialResult",
    "TrialSpec",
    "TrialStatus",
]
