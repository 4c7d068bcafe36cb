"""Plugin discovery, guarded instantiation, and third-party / non-editable installs.

The end-to-end tests install packages with ``pip install --target`` into temporary directories and put those
on ``PYTHONPATH`` of a subprocess, so nothing is installed into the shared virtualenv. Sources are copied to a
temporary directory before ``pip install`` because pip builds in-tree (``build/``, ``*.egg-info``), which
must not touch the checkout that others are working in.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from core.errors import ConfigError, PluginError

REPO = Path(__file__).resolve().parents[1]
FIXTURE_DIST = REPO / "tests" / "fixtures" / "tinymoo-fixture-board"
# Shorter trials than the quickstart (epochs is otherwise searched over 2..8); the searches below still run
# the whole pipeline (train, prune, quantize, cost on the board, report) for every trial.
FAST = ["~search_space.params.epochs", "trainer.max_epochs=1", "search.progress=false"]
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", "outputs", "multirun")


def _env(pythonpath: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["WANDB_MODE"] = "disabled"
    # `python -m core.plugins` prints a rich table; with no terminal rich assumes 80 columns and elides long
    # targets/errors with an ellipsis, so give it room for the full text.
    env["COLUMNS"] = "400"
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _check(proc: subprocess.CompletedProcess[str]) -> str:
    detail = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, detail
    return proc.stdout


def _pip_install_target(src: Path, target: Path) -> None:
    """``pip install --no-deps --no-build-isolation --target`` a copy of ``src`` (quiet, offline)."""
    build_src = target.parent / f"{target.name}-src"
    shutil.copytree(src, build_src, ignore=COPY_IGNORE)
    cmd = ["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    cmd += ["--no-cache-dir", "--disable-pip-version-check", "--target", str(target), str(build_src)]
    _check(_run(cmd, cwd=target.parent, env=_env()))


# --------------------------------------------------------------------------------------- built-in plugins
@pytest.mark.parametrize(
    ("group", "names"),
    [
        ("optimizer", {"sobol", "random", "mobo_ars", "qlognehvi", "qlognparego", "turbo", "nsga2"}),
        ("agent", {"ars"}),
        ("hw", {"tflm"}),
        ("dataset", {"digits", "array_file", "aeon_bundled", "cifar10", "daliac"}),
        ("compressor", {"prune_structured", "prune_agp", "quant_int8", "quant_qat"}),
        ("model", {"small_cnn", "resnet", "mobilenetv3"}),
        ("executor", {"local", "process", "ray"}),
        ("logger", {"csv", "none", "wandb"}),
    ],
)
def test_builtin_plugins_are_discovered(group: str, names: set[str]) -> None:
    from core.plugins import discover

    infos = {p.name: p for p in discover(group)}
    assert names <= set(infos), f"{group}: found {sorted(infos)}"
    for name in names:
        p = infos[name]
        assert p.error is None, p.error
        assert p.distribution == "tinymoo"
        assert p.version == "0.1.0"
        assert p.obj is not None
        assert p.target.startswith("plugins.")


def test_discover_reports_class_path_of_builtin_optimizers() -> None:
    from core.plugins import discover
    from plugins.optimizers.random_search import RandomSearch
    from plugins.optimizers.sobol import SobolSearch

    infos = {p.name: p for p in discover("optimizer")}
    assert infos["sobol"].obj is SobolSearch
    assert infos["sobol"].target == "plugins.optimizers.sobol.SobolSearch"
    assert infos["random"].obj is RandomSearch


def test_cli_lists_groups_plugins_and_distributions(tmp_path: Path) -> None:
    out = _check(_run(["-m", "core.plugins"], cwd=REPO, env=_env()))
    for group in ("tinymoo.optimizers", "tinymoo.hw", "tinymoo.compressors", "tinymoo.datasets"):
        assert group in out
    for name in ("sobol", "random", "tflm", "small_cnn", "digits", "quant_int8"):
        assert name in out
    assert "plugins.optimizers.sobol.SobolSearch" in out
    assert "tinymoo 0.1.0" in out
    assert "failed to load" not in out


# --------------------------------------------------------------------------------------- guarded instantiate
def test_instantiate_refuses_unregistered_target() -> None:
    from core.plugins import instantiate

    with pytest.raises(ConfigError) as info:
        instantiate({"_target_": "os.system", "command": "echo pwned"}, "hw")
    err = info.value
    assert err.key == "hw._target_"
    msg = str(err)
    assert "'hw._target_'" in msg
    assert "os.system" in msg
    assert "not a registered tinymoo.hw plugin" in msg
    assert "Valid choices:" in msg
    assert "plugins.hw.tflm.TflmTarget" in msg
    assert err.choices is not None and "plugins.hw.tflm.TflmTarget" in err.choices


def test_instantiate_refuses_plugin_of_another_group() -> None:
    """A registered class is only accepted in its own group (an optimizer is no board)."""
    from core.plugins import instantiate

    with pytest.raises(ConfigError, match=r"'hw\._target_'.*plugins\.hw\.tflm\.TflmTarget"):
        instantiate({"_target_": "plugins.optimizers.sobol.SobolSearch"}, "hw")


def test_instantiate_names_the_given_key_and_missing_target() -> None:
    from core.plugins import instantiate

    with pytest.raises(ConfigError) as info:
        instantiate({"name": "x"}, "hw", key="board")
    assert info.value.key == "board._target_"
    assert "is missing" in str(info.value)
    assert "plugins.hw.tflm.TflmTarget" in str(info.value)


def test_instantiate_builds_registered_board() -> None:
    from core.interfaces.hardware import HardwareTarget
    from core.plugins import instantiate
    from plugins.hw.tflm import TflmTarget

    node = OmegaConf.load(REPO / "conf" / "hw" / "stm32f4.yaml")
    hw = instantiate(node, "hw")
    assert isinstance(hw, TflmTarget)
    assert isinstance(hw, HardwareTarget)
    assert hw.name == "stm32f4"
    assert hw.flash_bytes == 512 * 1024
    assert hw.sram_bytes == 128 * 1024


def test_instantiate_wraps_constructor_errors() -> None:
    from core.plugins import instantiate

    node = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "hw" / "stm32f4.yaml"))
    assert isinstance(node, dict)
    node["runtime_flash_bytes"] = node["flash_bytes"]  # leaves no room: the constructor raises ValueError
    with pytest.raises(PluginError, match=r"Config key 'hw'.*TflmTarget.*ValueError"):
        instantiate(node, "hw")


# --------------------------------------------------------------------------------------- third-party dist
@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding an installed (non-editable) copy of ``tinymoo-fixture-board``."""
    site = tmp_path_factory.mktemp("fixture-board") / "site"
    _pip_install_target(FIXTURE_DIST, site)
    assert (site / "tinymoo_fixture_board" / "conf" / "hw" / "fixture_board.yaml").is_file()
    assert (site / "tinymoo_fixture_board-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


@pytest.mark.slow
def test_third_party_plugins_listed_with_load_errors(fixture_site: Path) -> None:
    proc = _run(["-m", "core.plugins"], cwd=REPO, env=_env(fixture_site))
    assert proc.returncode == 1, proc.stderr  # a plugin failed to load: CI sees a non-zero exit
    out = proc.stdout
    assert "fixture_tflm" in out
    assert "tinymoo_fixture_board.board.FixtureTarget" in out
    assert "tinymoo-fixture-board 0.1.0" in out
    # the broken entry point is reported with its error ...
    broken = [line for line in out.splitlines() if "fixture_broken" in line]
    assert broken, out
    assert "error" in broken[0]
    assert "ModuleNotFoundError" in broken[0]
    assert "tinymoo_fixture_board.missing_module" in broken[0]
    assert "1 plugin(s) failed to load" in out
    # ... and everything else still loads
    assert "fixture_board" in out  # the config package row
    for name in ("sobol", "random", "tflm", "prune_structured", "quant_int8"):
        row = next(line for line in out.splitlines() if f" {name} " in line)
        assert " ok " in row, row


@pytest.mark.slow
def test_third_party_instantiate_guards(fixture_site: Path) -> None:
    """The third-party class builds through ``instantiate``; the broken one raises PluginError."""
    script = """
import importlib.resources as r
from omegaconf import OmegaConf
from core.errors import PluginError
from core.plugins import instantiate
from tinymoo_fixture_board.board import FixtureTarget
node = OmegaConf.create((r.files("tinymoo_fixture_board.conf") / "hw" / "fixture_board.yaml").read_text())
hw = instantiate(node, "hw")
assert type(hw) is FixtureTarget, type(hw)
print("built", hw.name, hw.flash_bytes, hw.sram_bytes, hw.clock_hz)
try:
    instantiate({"_target_": "tinymoo_fixture_board.missing_module.Nope"}, "compressor")
except PluginError as exc:
    print("plugin-error", exc)
"""
    out = _check(_run(["-c", script], cwd=REPO, env=_env(fixture_site)))
    assert "built fixture_board 262144 65536 64000000.0" in out
    err = next(line for line in out.splitlines() if line.startswith("plugin-error"))
    assert "'compressor._target_'" in err
    assert "fixture_broken" in err
    assert "tinymoo-fixture-board 0.1.0" in err
    assert "ModuleNotFoundError" in err


@pytest.mark.slow
def test_third_party_board_runs_a_search(fixture_site: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["-m", "core.run", "hw=fixture_board", "search.n_trials=2", f"hydra.run.dir={run_dir}", *FAST]
    _check(_run(args, cwd=REPO, env=_env(fixture_site)))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["board"] == "fixture_board"
    counts = summary["counts"]
    assert counts["complete"] + counts["infeasible"] + counts["failed"] == 2, counts
    assert counts["complete"] >= 1, counts
    # the board's budgets (not stm32f4's) set the reference point
    assert summary["reference_point"]["flash"] == 256 * 1024 - 81920
    # the resolved config names the third-party class
    hydra_cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    assert hydra_cfg.hw._target_ == "tinymoo_fixture_board.board.FixtureTarget"


def test_plugins_command_exits_0_when_everything_loads() -> None:
    proc = _run(["-m", "core.plugins"], cwd=REPO, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed to load" not in proc.stdout


def _broken_config_dist(site: Path) -> None:
    """An installed distribution (the layout pip writes) whose config package has a syntax error."""
    (site / "broken_conf").mkdir(parents=True)
    (site / "broken_conf" / "__init__.py").write_text("def oops(:\n")
    info = site / "broken_conf-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-conf\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tinymoo.configs]\nbroken = broken_conf\n")


def test_a_config_package_with_a_syntax_error_is_a_load_error_and_builtins_still_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _broken_config_dist(site)
    listed = _run(["-m", "core.plugins"], cwd=REPO, env=_env(site))
    assert listed.returncode == 1
    row = next(line for line in listed.stdout.splitlines() if "broken_conf" in line)
    assert "SyntaxError" in row and "broken-conf 0.1" in row
    # a plain run still composes with the built-in options; the broken package is named once on stderr
    composed = _run(["-m", "core.run", "--cfg", "job", "hw=nrf52840"], cwd=REPO, env=_env(site))
    assert composed.returncode == 0, composed.stderr
    assert "Traceback" not in composed.stderr
    assert composed.stderr.count("config package 'broken_conf'") == 1 and "SyntaxError" in composed.stderr
    assert "nrf52840" in composed.stdout


def test_unknown_board_lists_choices(tmp_path: Path) -> None:
    """Without the fixture installed, ``hw=fixture_board`` is a Hydra error that names the options."""
    args = ["-m", "core.run", "hw=fixture_board", "search.n_trials=1", f"hydra.run.dir={tmp_path / 'run'}"]
    proc = _run(args, cwd=REPO, env=_env())
    assert proc.returncode != 0
    assert "fixture_board" in proc.stderr
    assert "stm32f4" in proc.stderr


# --------------------------------------------------------------------------------------- non-editable install
@pytest.mark.slow
def test_non_editable_install_runs_outside_the_checkout(tmp_path: Path) -> None:
    site = tmp_path / "site"
    src = tmp_path / "tinymoo-src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, src / name)
    for pkg in ("core", "plugins", "conf", "hydra_plugins"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=COPY_IGNORE)
    _pip_install_target(src, site)
    assert (site / "conf" / "hw" / "stm32f4.yaml").is_file(), "config yaml not shipped as package data"
    assert (site / "hydra_plugins" / "tinymoo_searchpath" / "__init__.py").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(site)
    # The venv holds an editable install of this checkout. setuptools' editable finder is *appended* to
    # sys.meta_path, after the PathFinder that searches sys.path, and PYTHONPATH entries come before
    # site-packages on sys.path; so with cwd outside the checkout the copy in `site` wins, which this asserts
    # (for the packages, the config yaml Hydra reads, and the distribution metadata entry points come from).
    check = (
        "import importlib.metadata as md, importlib.resources as r, core, conf, plugins\n"
        "import hydra_plugins.tinymoo_searchpath as h\n"
        "print(core.__file__)\n"
        "for f in (conf.__file__, plugins.__file__, h.__file__, r.files('conf') / 'hw' / 'stm32f4.yaml',\n"
        "          md.distribution('tinymoo').locate_file('core')):\n"
        "    print(f)\n"
        "print([ep.dist.locate_file('') for ep in md.entry_points(group='tinymoo.hw')])\n"
    )
    out = _check(_run(["-c", check], cwd=elsewhere, env=env)).splitlines()
    site_s = str(site.resolve())
    assert out[0].startswith(site_s + os.sep), out[0]
    for line in out[1:6]:
        assert line.startswith(site_s + os.sep), f"{line} is not inside {site_s}"
    assert str(REPO) not in out[6], out[6]

    run_dir = tmp_path / "run"
    args = ["-m", "core.run", "search.n_trials=2", f"hydra.run.dir={run_dir}", *FAST]
    _check(_run(args, cwd=elsewhere, env=env))
    with (run_dir / "trials.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert {r["status"] for r in rows} <= {"complete", "infeasible", "failed"}
    assert json.loads((run_dir / "summary.json").read_text())["board"] == "stm32f4"
    assert not any(elsewhere.iterdir()), "the run wrote outside hydra.run.dir"


def test_nested_targets_must_come_from_plugin_modules() -> None:
    """Hydra instantiates nested ``_target_`` nodes too: those are guarded like the top level."""
    from omegaconf import OmegaConf

    from core.errors import ConfigError
    from core.plugins import instantiate

    node = OmegaConf.create({"_target_": "plugins.optimizers.sobol.SobolSearch", "scramble": {"_target_": "os.getcwd"}})
    with pytest.raises(ConfigError, match=r"optimizer\.scramble\._target_'.*'os\.getcwd' is not a class defined"):
        instantiate(node, "optimizer")
    # a name merely imported into a plugin module does not count as defined there
    node.scramble._target_ = "plugins.datasets.array_file.Path"
    with pytest.raises(ConfigError, match=r"array_file\.Path' is not a class defined in a registered plugin module"):
        instantiate(node, "optimizer")


@pytest.mark.parametrize(
    "name", ["mobo_ars", "mobo_ars_paper", "mobo_ars_known", "qlognehvi", "qlognparego", "turbo", "nsga2", "sobol"]
)
def test_every_optimizer_config_builds(make_cfg, name: str) -> None:
    """Each conf/optimizer/<name>.yaml composes and builds its registered class (mobo_ars gets its ARS agent)."""
    from core.interfaces import Optimizer
    from core.plugins import instantiate

    cfg = make_cfg(f"optimizer={name}")
    opt = instantiate(cfg.optimizer, "optimizer")
    assert isinstance(opt, Optimizer)
    if name.startswith("mobo_ars"):
        assert type(opt.agent).__name__ == "ARS" and opt.reward == ("ei" if name.endswith("paper") else "auto")
        assert opt.known_costs == {"paper": False, "known": True}.get(name.split("_")[-1], "auto")
