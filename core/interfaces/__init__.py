"""The plugin contracts: one ABC per concept. Third-party plugins subclass these.

Importing this package is cheap: it loads neither torch nor PyTorch Lightning (nor BoTorch), because every plugin
module, every ``executor=process`` worker and the CLI import it at start-up (issue 14). The contracts name torch
and Lightning types in their signatures only, so those imports sit under ``TYPE_CHECKING``; keep it that way
(``tests/test_startup.py`` checks it).
"""

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
