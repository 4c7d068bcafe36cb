"""The Hydra app: ``python -m core.run [group=option ...] [key=value ...]`` runs one search.

With no arguments it runs the quickstart: a mobo_ars search over a small CNN on scikit-learn's digits, costed on an
STM32F4. Bad input exits with status 2 and one paragraph; ``hydra.verbose=true`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from core.errors import ConfigError, TinymooError
from core.plugins import register_search_path_plugin

log = logging.getLogger("tinymoo")
register_search_path_plugin()

CONFIG_GROUPS = (
    "optimizer", "agent", "dataset", "model", "hw", "compressor", "search_space", "trainer", "logger",
    "executor", "experiment",
)  # fmt: skip


@hydra.main(version_base="1.3", config_path="pkg://conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Run one search in Hydra's output directory; returns its final hypervolume (for sweepers)."""
    from core.search import Search

    hc = HydraConfig.get()
    for note in pin_overridden_params(cfg, list(hc.overrides.task)):
        print(f"tinymoo: {note}", file=sys.stderr)
    try:
        outcome = Search(cfg, hc.runtime.output_dir).run()
    except TinymooError as exc:
        if hc.verbose:
            raise
        print(f"tinymoo: error: {exc}", file=sys.stderr)
        sys.exit(2)
    return float(outcome.summary["hypervolume"])


def pin_overridden_params(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """Drop every search-space parameter whose config key the command line sets: the user's value wins.

    ``experiment=paper_cifar10_resnet18 trainer.max_epochs=1`` then trains every candidate for one epoch instead of
    searching the epochs. Returns one note per pinned parameter.
    """
    keys = {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}
    params = cfg.get("search_space", {}).get("params") or {}
    pinned = [
        (name, spec) for name, spec in params.items() if isinstance(spec, DictConfig) and spec.get("path") in keys
    ]
    notes = []
    with open_dict(cfg):
        for name, spec in pinned:
            del cfg.search_space.params[name]
            notes.append(f"search_space.params.{name} is not searched: the command line sets {spec.path}")
    return notes


def check_group_choices(argv: list[str]) -> ConfigError | None:
    """Find a ``group=option`` override naming an option that no config package provides."""
    picks = []
    for arg in argv:
        if "=" not in arg or arg.startswith(("-", "~")):
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+")
        if key in CONFIG_GROUPS:
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


def cli() -> None:
    """Console entry: validate config-group choices, then hand over to Hydra.

    The check is skipped for sweeps and when the user extends Hydra's search path (``--config-dir``,
    ``hydra.searchpath``); Hydra then reports unknown options itself.
    """
    own_paths = ("-m", "--multirun", "-cd", "--config-dir", "-cp", "--config-path", "-cn", "--config-name")
    if not any(a in own_paths or a.split("=", 1)[0] in own_paths or "hydra.searchpath" in a for a in sys.argv[1:]):
        error = check_group_choices(sys.argv[1:])
        if error is not None:
            print(f"tinymoo: error: {error}", file=sys.stderr)
            sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
