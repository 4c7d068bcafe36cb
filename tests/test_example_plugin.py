"""The example third-party distribution ``examples/tinymoo-plugin-example`` works once installed.

It is installed non-editable with ``pip install --target`` into a temporary directory that goes on ``PYTHONPATH``
of the subprocesses, so the shared virtualenv is never changed and a rerun starts clean. pip builds from a copy of
the sources (it writes ``build/`` and ``*.egg-info`` next to them). The install is a real wheel install: the
config YAMLs must arrive as package data and the entry points as distribution metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import REPO, run_cli

EXAMPLE = REPO / "examples" / "tinymoo-plugin-example"
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", ".pytest_cache")
COMPRESSORS = "compressor=[prune_structured,simd_align,quant_int8]"


def _check(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    return proc.stdout


def _env(site: Path) -> dict[str, str]:
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(site)}
    env["COLUMNS"] = "400"  # rich's table would elide long names without a terminal
    return env


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installed (non-editable) copy of the example distribution, outside the virtualenv."""
    root = tmp_path_factory.mktemp("example-plugin")
    src, site = root / "src", root / "site"
    shutil.copytree(EXAMPLE, src, ignore=COPY_IGNORE)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    cmd += ["--no-cache-dir", "--disable-pip-version-check", "--target", str(site), str(src)]
    _check(subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300, check=False))
    package = site / "tinymoo_plugin_example"
    assert (package / "conf" / "hw" / "rp2350.yaml").is_file(), "board YAML not shipped as package data"
    assert (package / "conf" / "compressor" / "simd_align.yaml").is_file(), "compressor YAML not shipped"
    entry_points = (site / "tinymoo_plugin_example-0.1.0.dist-info" / "entry_points.txt").read_text()
    assert "[tinymoo.compressors]" in entry_points and "[tinymoo.configs]" in entry_points
    return site


@pytest.mark.slow
def test_core_plugins_lists_the_example(example_site: Path) -> None:
    out = _check(
        subprocess.run(
            [sys.executable, "-m", "core.plugins"],
            cwd=REPO,
            env=_env(example_site),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    )
    row = next((line for line in out.splitlines() if " simd_align " in line), None)
    assert row is not None, out
    assert "tinymoo.compressors" in row
    assert "tinymoo_plugin_example.channel_align.SimdChannelAlignment" in row
    assert "tinymoo-plugin-example 0.1.0" in row
    assert " ok " in row, row
    configs = next((line for line in out.splitlines() if "pkg://tinymoo_plugin_example.conf" in line), None)
    assert configs is not None and "tinymoo.configs" in configs and "tinymoo-plugin-example 0.1.0" in configs, out
    assert "failed to load" not in out


@pytest.mark.slow
def test_search_on_the_example_board_with_the_example_compressor(example_site: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["hw=rp2350", COMPRESSORS, "search.n_trials=2", "trainer.max_epochs=1", "search.progress=false"]
    _check(run_cli(*args, f"hydra.run.dir={run_dir}", PYTHONPATH=str(example_site), OMP_NUM_THREADS="1"))

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["board"] == "rp2350"
    assert summary["counts"]["total"] == 2 and summary["counts"]["complete"] >= 1, summary["counts"]
    assert summary["reference_point"]["flash"] == 4 * 2**20 - 81920  # the RP2350 board's budget, not stm32f4's
    assert summary["reference_point"]["ram"] == 512 * 1024 - 16384

    manifests = sorted((run_dir / "models").glob("*/manifest.json"))
    assert manifests, "no trained model"
    for path in manifests:
        config = json.loads(path.read_text())["config"]
        assert config["hw"]["name"] == "rp2350"
        assert list(config["compressor"]) == ["prune", "align", "quant"]  # applied in this order
        assert config["compressor"]["align"]["_target_"] == "tinymoo_plugin_example.channel_align.SimdChannelAlignment"
        # the compressor ran: every pruned layer ends on a multiple of 4 channels (or kept fewer than 4)
        state = torch.load(path.parent / "float_model.pt", weights_only=True)  # a run dir holds weights only
        widths = [w.shape[0] for k, w in state.items() if k.endswith("weight") and w.ndim >= 3]  # conv filters
        assert widths and all(w % 4 == 0 or w < 4 for w in widths), widths
    hydra_cfg = OmegaConf.load(run_dir / ".hydra" / "hydra.yaml")
    assert hydra_cfg.hydra.runtime.choices.hw == "rp2350"


@pytest.mark.slow
def test_the_examples_own_tests_pass(example_site: Path) -> None:
    """``examples/tinymoo-plugin-example/tests`` against the installed copy, with the example's pytest config.

    ``python -P`` keeps the working directory off ``sys.path``, so the package is imported from the install, not
    from the source tree next to the tests."""
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE,
        # this checkout's core after the installed example: the example is tested against the tinymoo it ships with,
        # not whichever one the virtualenv has installed
        env={**_env(example_site), "PYTHONPATH": f"{example_site}{os.pathsep}{REPO}", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = _check(proc)
    assert "passed" in out and "skipped" not in out, out
