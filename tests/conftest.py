"""Shared fixtures: composed configs (as Hydra would build them) and subprocess helpers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

os.environ.setdefault("WANDB_MODE", "disabled")
if os.environ.get("PYTEST_XDIST_WORKER"):  # several test processes share the cores: one thread each, children too
    from core.search.executor_support import THREAD_ENV_VARS

    os.environ.update({k: "1" for k in THREAD_ENV_VARS})
REPO = Path(__file__).resolve().parents[1]


# overrides that keep a search quick and quiet: one epoch, no progress bar, no logger
FAST = ("trainer.max_epochs=1", "search.progress=false", "logger=none", "~search_space.params.epochs")


@pytest.fixture(scope="session")
def make_cfg() -> Callable[..., DictConfig]:
    """Compose ``conf/config.yaml`` with overrides, exactly as ``python -m core.run`` would.

    ``make_cfg(*FAST, "search.n_trials=2")`` gives a quick search; ``return_hydra_config=True`` keeps the ``hydra``
    node. Session-scoped, so module-scoped fixtures can compose too.
    """
    from core.plugins import register_search_path_plugin

    register_search_path_plugin()

    def _make(*overrides: str, return_hydra_config: bool = False) -> DictConfig:
        with initialize_config_module(config_module="conf", version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides), return_hydra_config=return_hydra_config)

    return _make


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m core.run ARGS`` in a subprocess; returns the completed process (text output)."""
    full_env = {**os.environ, "WANDB_MODE": "disabled", **env}
    return subprocess.run(
        [sys.executable, "-m", "core.run", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for_finished(db: Path, proc: subprocess.Popen, n: int, timeout: float = 300) -> None:  # type: ignore[type-arg]
    """Poll the store ``db`` of the search running in ``proc`` until ``n`` trials have finished (or it exits)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if db.is_file():
            try:
                with sqlite3.connect(db) as con:
                    if con.execute("SELECT COUNT(*) FROM trials WHERE status!='pending'").fetchone()[0] >= n:
                        return
            except sqlite3.OperationalError:  # the store is being created
                pass
        time.sleep(0.05)
