"""Plugin discovery (stevedore over entry points), guarded instantiation, and Hydra's config search path.

* Each group is an entry-point namespace ``tinymoo.<group>``; built-in plugins are registered the same way.
* ``tinymoo.configs`` entry points name config packages; :class:`TinymooSearchPathPlugin` appends
  ``pkg://<package>`` to Hydra's search path, so an installed distribution adds options such as ``hw=myboard``.
* :func:`instantiate` only builds ``_target_`` classes that a registered entry point of the group provides.
* ``python -m core.plugins`` lists every group, plugin, distribution and version, and every load error; it exits
  1 if any plugin or config package failed to load (so CI catches it).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
import sys
from dataclasses import dataclass
from typing import Any

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig, ListConfig

from core.errors import ConfigError, PluginError, TinymooError

# config group (as used on the command line) -> entry-point group suffix and interface
GROUPS: dict[str, str] = {
    "optimizer": "optimizers",
    "agent": "agents",
    "compressor": "compressors",
    "dataset": "datasets",
    "model": "models",
    "hw": "hw",
    "executor": "executors",
    "logger": "loggers",
}
CONFIGS_NAMESPACE = "tinymoo.configs"


@dataclass(frozen=True)
class PluginInfo:
    """One entry point: where it comes from and whether it loaded."""

    group: str
    name: str
    target: str
    distribution: str
    version: str
    error: str | None = None
    obj: Any = None


def _interface(group: str) -> type:
    from core import interfaces as i

    return {
        "optimizer": i.Optimizer,
        "agent": i.Agent,
        "compressor": i.Compressor,
        "dataset": i.DatasetPlugin,
        "model": i.ModelFactory,
        "hw": i.HardwareTarget,
        "executor": i.Executor,
        "logger": i.SearchLogger,
    }[group]


@functools.cache
def discover(group: str) -> tuple[PluginInfo, ...]:
    """Load every entry point of ``tinymoo.<group>``; failures are recorded, never raised."""
    from stevedore import ExtensionManager

    namespace = f"tinymoo.{GROUPS[group]}"
    failures: dict[str, str] = {}

    def on_fail(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        failures[entrypoint.name] = f"{type(exc).__name__}: {exc}"

    manager = ExtensionManager(
        namespace, invoke_on_load=False, on_load_failure_callback=on_fail, propagate_map_exceptions=False
    )
    infos = []
    loaded = {ext.name: ext for ext in manager.extensions}
    for ep in md.entry_points(group=namespace):
        dist = getattr(ep, "dist", None)
        dname, dver = (dist.name, dist.version) if dist is not None else ("?", "?")
        target = ep.value.replace(":", ".")
        if ep.name in loaded:
            obj = loaded[ep.name].plugin
            error = None
            iface = _interface(group)
            if not (isinstance(obj, type) and issubclass(obj, iface)):
                error = f"{ep.value} is not a subclass of {iface.__module__}.{iface.__name__}"
            infos.append(PluginInfo(group, ep.name, target, dname, dver, error, obj if error is None else None))
        else:
            infos.append(PluginInfo(group, ep.name, target, dname, dver, failures.get(ep.name, "did not load")))
    return tuple(sorted(infos, key=lambda p: p.name))


def instantiate(node: DictConfig | dict[str, Any], group: str, key: str | None = None, **kwargs: Any) -> Any:
    """Instantiate a config node whose ``_target_`` is a registered, loadable plugin of ``group``.

    Args:
        node: a config with ``_target_`` and constructor kwargs.
        group: config group name (``hw``, ``optimizer``, ...).
        key: the config key, for messages (defaults to ``group``).
        kwargs: extra constructor kwargs.

    Raises:
        ConfigError: no ``_target_`` or one that no registered plugin provides.
        PluginError: the plugin is registered but failed to load, or its constructor failed.
    """
    from hydra.utils import instantiate as hydra_instantiate

    key = key or group
    target = node.get("_target_") if node is not None else None
    infos = discover(group)
    ok = {p.target: p for p in infos if p.error is None}
    if not target:
        raise ConfigError(f"{key}._target_", "is missing; every plugin config names its class", choices=sorted(ok))
    if target not in ok:
        broken = [p for p in infos if p.target == target]
        if broken:
            raise PluginError(
                f"Config key '{key}._target_': plugin '{broken[0].name}' ({target}) from distribution "
                f"{broken[0].distribution} {broken[0].version} failed to load: {broken[0].error}. "
                f"Run `python -m core.plugins` to see every plugin and its status."
            )
        raise ConfigError(
            f"{key}._target_",
            f"'{target}' is not a registered tinymoo.{GROUPS[group]} plugin; only classes registered through "
            "entry points may be instantiated",
            choices=sorted(ok),
        )
    allowed_modules = {p.target.rsplit(".", 1)[0] for g in GROUPS for p in discover(g) if p.error is None}
    for path, nested in _nested_targets(node, key):
        if not _defined_in_plugin_module(nested, allowed_modules):
            raise ConfigError(
                path,
                f"'{nested}' is not a class defined in a registered plugin module; nested _target_ nodes may only "
                "name classes defined in modules that provide a registered tinymoo plugin",
                choices=sorted(allowed_modules),
            )
    try:
        return hydra_instantiate(node, _convert_="all", **kwargs)
    except Exception as exc:  # the constructor rejected its arguments
        cause = exc.__cause__ or exc
        if isinstance(cause, TinymooError):  # the plugin named the bad key itself
            raise cause from None
        raise PluginError(f"Config key '{key}': could not build {target}: {type(cause).__name__}: {cause}") from exc


def _defined_in_plugin_module(target: str, allowed_modules: set[str]) -> bool:
    """True if ``target`` is a class defined (not merely imported) in one of ``allowed_modules``."""
    module, _, name = target.rpartition(".")
    if module not in allowed_modules:
        return False
    obj = getattr(sys.modules.get(module) or importlib.import_module(module), name, None)
    return isinstance(obj, type) and obj.__module__ == module


def _nested_targets(node: Any, key: str, top: bool = True) -> list[tuple[str, str]]:
    """``(config path, target)`` of every ``_target_`` below the top level of ``node``."""
    out: list[tuple[str, str]] = []
    if isinstance(node, DictConfig | dict):
        for k, v in node.items():
            if k == "_target_" and not top:
                out.append((f"{key}._target_", str(v)))
            elif k != "_target_":
                out.extend(_nested_targets(v, f"{key}.{k!s}", top=False))
    elif isinstance(node, ListConfig | list | tuple):
        for i, v in enumerate(node):
            out.extend(_nested_targets(v, f"{key}[{i}]", top=False))
    return out


@functools.cache
def config_package_status() -> tuple[tuple[str, str, str | None], ...]:
    """``(entry-point name, package, load error or None)`` for every ``tinymoo.configs`` entry point.

    Each package is imported once here, as Hydra would import it: one that fails (a syntax error in its
    ``__init__.py``, a missing module) is reported like any plugin load error, and left off the search path so
    the built-in options keep working.
    """
    out = []
    for ep in md.entry_points(group=CONFIGS_NAMESPACE):
        try:
            importlib.import_module(ep.value)
            error = None
        except Exception as exc:  # any import-time failure of a third-party package
            error = f"{type(exc).__name__}: {exc}"
        out.append((ep.name, ep.value, error))
    return tuple(sorted(out))


class TinymooSearchPathPlugin(SearchPathPlugin):
    """Appends ``pkg://<package>`` for every config package registered under ``tinymoo.configs`` that imports; a
    broken one is logged once and skipped (``python -m core.plugins`` lists it)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for name, package, error in config_package_status():
            if error is None:
                search_path.append(provider=f"tinymoo-{name}", path=f"pkg://{package}")
            else:
                _warn_once(
                    f"tinymoo: warning: config package '{package}' ({CONFIGS_NAMESPACE} entry point '{name}', "
                    f"{_dist_of(CONFIGS_NAMESPACE, name)}) failed to load and is skipped: {error}"
                )


@functools.cache
def _warn_once(message: str) -> None:
    print(message, file=sys.stderr)


def register_search_path_plugin() -> None:
    """Register the search path plugin with Hydra (idempotent; also found via ``hydra_plugins``)."""
    Plugins.instance().register(TinymooSearchPathPlugin)


def group_choices(config_group: str) -> list[str]:
    """The options Hydra can see for a config group (``hw`` -> ``['stm32f4', ...]``)."""
    from hydra.core.global_hydra import GlobalHydra

    gh = GlobalHydra.instance()
    if not gh.is_initialized():
        return []
    return sorted(gh.config_loader().get_group_options(config_group))


def main(argv: list[str] | None = None) -> int:
    """Print every plugin group, its plugins, their distribution and version, and every load error; returns 1 if
    anything failed to load, else 0."""
    from rich.console import Console
    from rich.table import Table

    # a pipe or CI log gets a wide console, so names and load errors are never cut off
    console = Console() if sys.stdout.isatty() else Console(width=240)
    table = Table(title="tinymoo plugins", show_lines=False)
    for col in ("group", "name", "target", "distribution", "status"):
        table.add_column(col)
    n_err = 0
    for group, ns in GROUPS.items():
        for p in discover(group):
            status = "[green]ok[/green]" if p.error is None else f"[red]error: {p.error}[/red]"
            n_err += p.error is not None
            table.add_row(f"tinymoo.{ns}", p.name, p.target, f"{p.distribution} {p.version}", status)
    for name, package, error in config_package_status():
        status = "config" if error is None else f"[red]error: {error}[/red]"
        n_err += error is not None
        table.add_row(CONFIGS_NAMESPACE, name, f"pkg://{package}", _dist_of(CONFIGS_NAMESPACE, name), status)
    console.print(table)
    if n_err:
        console.print(f"[red]{n_err} plugin(s) failed to load[/red]")
    return 1 if n_err else 0


def _dist_of(namespace: str, name: str) -> str:
    for ep in md.entry_points(group=namespace):
        dist = getattr(ep, "dist", None)
        if ep.name == name and dist is not None:
            return f"{dist.name} {dist.version}"
    return "?"


if __name__ == "__main__":
    sys.exit(main())
