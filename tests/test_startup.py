"""Start-up cost (issue 14): the plugin contracts and the process worker's start-up path stay free of Lightning.

Every check runs in a fresh interpreter, since this test process has long imported Lightning and torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("pytorch_lightning", "lightning", "lightning_fabric", "botorch")


def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter at the repo root; it prints one JSON line, returned parsed."""
    env = dict(os.environ, WANDB_MODE="disabled")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _loaded_after(imports: str) -> list[str]:
    code = f"{imports}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    return _fresh(code)  # type: ignore[return-value]


def test_interfaces_import_without_lightning():
    assert _loaded_after("import core.interfaces") == []


@pytest.mark.parametrize(
    "imports",
    [
        "import core.interfaces.trial, core.search.executor_support, core.errors",
        "import plugins.executors.process",  # what a spawned worker imports before its first trial
        "from core.api import TrialResult, ConfigError, available_cpus",  # the plugin API loads names on use
        "import core.plugins, core.run",  # the CLI's start-up (Hydra parses the command line after this)
    ],
)
def test_startup_path_imports_without_lightning(imports):
    assert _loaded_after(imports) == []


def test_interface_names_still_resolve():
    code = (
        "import json, inspect\n"
        "import core.interfaces as i\n"
        "from core.interfaces import DatasetPlugin, ModelFactory, Compressor, HardwareTarget, Optimizer, Executor\n"
        "from core.interfaces import Agent, Cost, Environment, Problem, SearchLogger, TrialResult, TrialSpec\n"
        "from core.interfaces import TrialStatus\n"
        "print(json.dumps({n: [inspect.isclass(getattr(i, n)), getattr(i, n).__module__] for n in i.__all__}))"
    )
    names = _fresh(code)
    assert set(names) == {
        "Agent", "Compressor", "Cost", "DatasetPlugin", "Environment", "Executor", "HardwareTarget", "ModelFactory",
        "Optimizer", "Problem", "SearchLogger", "TrialResult", "TrialSpec", "TrialStatus",
    }  # fmt: skip
    for name, (is_class, module) in names.items():
        assert is_class, name
        assert module.startswith("core.interfaces."), (name, module)


def test_contract_defaults_work_without_lightning_imported():
    """The default method bodies of the contracts never needed Lightning or torch at run time."""
    code = (
        "import json, sys\n"
        "from core.interfaces import Compressor, Cost, HardwareTarget, SearchLogger\n"
        "class C(Compressor):\n"
        "    def apply(self, model, datamodule):\n"
        "        return model\n"
        "class B(HardwareTarget):\n"
        "    name, flash_bytes, sram_bytes, runtime_flash_bytes, reserved_sram_bytes = 'b', 100, 50, 10, 5\n"
        "    max_macs, max_latency_s = 1000, 1.0\n"
        "    def cost(self, model, input_shape):\n"
        "        return Cost(200, 10, 5, 0.1)\n"
        "c, b = C(), B()\n"
        "cost = b.cost(None, (1,))\n"
        "out = [c.callbacks(), c.restructure('m', None), c.structure_key('m', None), b.violations(cost),\n"
        "       b.overshoot(cost), SearchLogger().trial_logger(0, '.'), 'pytorch_lightning' in sys.modules]\n"
        "print(json.dumps(out))"
    )
    assert _fresh(code) == [[], "m", [], ["flash 200 B > budget 90 B"], 200 / 90 - 1, None, False]
