"""Checks of the command line's overrides, before Hydra composes a run: one paragraph (exit 2) instead of Hydra's
traceback-and-hint, and no silently ignored typo.

* ``group=option`` must name an option some config package provides (:func:`check_group_choices`).
* ``key=value`` and ``~key`` must name a key of the composed config; ``+key=value`` must not add a key that
  tinymoo never reads (under ``search``, ``trainer``, ``optim`` and ``data``, or a new top-level key). Each
  refusal names the closest valid key and lists the valid keys at that level (:func:`check_keys`). Plugin nodes
  (``optimizer``, ``hw``, ...) may take ``+`` keys: their constructors check them.

The checks are skipped when the user extends Hydra's config search path (``--config-dir``, ``hydra.searchpath``);
Hydra then reports what it cannot compose itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

from core.errors import ConfigError

CONFIG_GROUPS = (
    "optimizer", "agent", "dataset", "model", "hw", "compressor", "search_space", "trainer", "optim", "logger",
    "executor", "experiment",
)  # fmt: skip
# nodes whose keys tinymoo itself reads: a `+` key there would be silently ignored. (`trainer` is not one: it goes
# to pytorch_lightning.Trainer as a whole, so `+trainer.accumulate_grad_batches=4` works, and a key the Trainer does
# not take is refused by core.search.checks.check_trainer, naming the closest argument.)
STRICT_NODES = ("search", "optim", "data")
# Hydra's command-line flags that take a value as the next argument
_FLAGS_WITH_VALUE = ("-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir", "-c", "--cfg", "-p",
                     "--package")  # fmt: skip
_OWN_PATHS = ("-cd", "--config-dir", "-cp", "--config-path", "-cn", "--config-name")


def check_overrides(argv: list[str]) -> ConfigError | None:
    """The first problem with the command line's overrides, or None (also when Hydra should judge them)."""
    if any(a in _OWN_PATHS or a.split("=", 1)[0] in _OWN_PATHS or "hydra.searchpath" in a for a in argv):
        return None
    args = _overrides(argv)
    return check_group_choices(args) or check_keys(args)


def _overrides(argv: list[str]) -> list[str]:
    """The ``key=value`` arguments of a command line, without Hydra's flags and their values."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _FLAGS_WITH_VALUE
        else:
            out.append(arg)
    return out


def check_group_choices(argv: list[str]) -> ConfigError | None:
    """Find a ``group=option`` override naming an option that no config package provides."""
    picks = []
    for arg in argv:
        if "=" not in arg or arg.startswith(("-", "~")):
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+")
        if key in CONFIG_GROUPS and "(" not in value:  # sweep functions (range, glob, choice) are Hydra's to expand
            values = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
            picks.append((key, values))
    if not picks:
        return None
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_module(config_module="conf", version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        for key, values in picks:
            options = loader.get_group_options(key)
            for value in values:
                if value not in options and value != "null":
                    return ConfigError(
                        key,
                        f"unknown option '{value}'",
                        choices=options,
                        hint="Installed plugins add options; run `python -m core.plugins` to list them.",
                    )
    return None


def check_keys(args: list[str]) -> ConfigError | None:
    """Find an override whose key the composed config does not have (see the module docstring)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except Exception:  # malformed syntax: Hydra's own message is the clearer one
        return None
    keyed = [o for o in overrides if not _is_group(o.key_or_group) and not o.key_or_group.startswith("hydra")]
    if not keyed:
        return None
    base = _compose_base(overrides)
    if base is None:
        return None
    for o in keyed:
        key = o.key_or_group
        if o.package is not None or _exists(base, key):
            continue
        top = key.split(".")[0]
        adding = o.type in (OverrideType.ADD, OverrideType.FORCE_ADD)
        if adding and top in base and top not in STRICT_NODES:
            continue  # a new search-space parameter or a plugin's keyword argument
        return _unknown_key(base, key, adding)
    return None


def _exists(cfg: DictConfig, key: str) -> bool:
    """Whether dotted ``key`` names a key of ``cfg`` (one holding None or ``???`` counts)."""
    parent, _, last = key.rpartition(".")
    node = OmegaConf.select(cfg, parent, throw_on_missing=False) if parent else cfg
    return isinstance(node, DictConfig) and last in list(node.keys())  # `in node` misses keys holding ???


def _is_group(key: str) -> bool:
    return key in CONFIG_GROUPS or "/" in key


def _compose_base(overrides: list[Any]) -> DictConfig | None:
    """The config composed with the command line's group choices (the first option of a sweep), or None."""
    from hydra import compose, initialize_config_module

    choices = []
    for o in overrides:
        if _is_group(o.key_or_group) and not o.key_or_group.startswith("hydra"):
            value = next(iter(o.sweep_string_iterator())) if o.is_sweep_override() else o.input_line.split("=", 1)[1]
            choices.append(f"{'+' if o.input_line.startswith('+') else ''}{o.key_or_group}={value}")
    try:
        with initialize_config_module(config_module="conf", version_base="1.3"):
            return compose(config_name="config", overrides=choices)
    except Exception:  # Hydra reports what it cannot compose
        return None


def _paths(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, DictConfig):
        for k in list(node.keys()):
            path = f"{prefix}{k!s}"
            yield path
            yield from _paths(node._get_node(k), f"{path}.")


def _unknown_key(base: DictConfig, key: str, adding: bool) -> ConfigError:
    parts = key.split(".")
    depth = 0  # the deepest existing node on the key's path
    while depth < len(parts) - 1 and isinstance(OmegaConf.select(base, ".".join(parts[: depth + 1])), DictConfig):
        depth += 1
    parent = ".".join(parts[:depth])
    node = OmegaConf.select(base, parent) if parent else base
    siblings = [k for k in list(node.keys()) if k != "hydra"] if isinstance(node, DictConfig) else []
    close = difflib.get_close_matches(key, [p for p in _paths(base) if not p.startswith("hydra")], n=1, cutoff=0.6)
    where = f"under '{parent}'" if parent else "at the top level"
    problem = (
        f"'+' adds a key that tinymoo never reads {where}, so it would be ignored"
        if adding
        else f"does not exist (there is no '{parts[depth]}' {where})"
    )
    hint = f"Did you mean '{close[0]}'?" if close else None
    return ConfigError(key, problem, choices=[f"{parent}.{k!s}" if parent else str(k) for k in siblings], hint=hint)
