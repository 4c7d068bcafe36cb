"""The Hydra app: ``python -m core.run [group=option ...] [key=value ...]`` runs one search.

With no arguments it runs the quickstart: a mobo_ars search over a small CNN on scikit-learn's digits, costed on an
STM32F4. Bad input exits with status 2 and one paragraph; ``hydra.verbose=true`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from core.errors import TinymooError
from core.plugins import register_search_path_plugin
from core.search.config_values import check_values
from core.search.multirun import failed_jobs, record_failed_job
from core.search.overrides import check_overrides

log = logging.getLogger("tinymoo")
register_search_path_plugin()


@hydra.main(version_base="1.3", config_path="pkg://conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Run one search in Hydra's output directory; returns its final hypervolume (for sweepers)."""
    hc = HydraConfig.get()
    for note in pin_overridden_params(cfg, list(hc.overrides.task)):
        print(f"tinymoo: {note}", file=sys.stderr)
    try:
        check_values(cfg)  # a bad number is refused before torch and the plugins load (seconds)
        from core.search.loop import Search

        outcome = Search(cfg, hc.runtime.output_dir).run()
    except TinymooError as exc:
        if hc.verbose:
            raise
        print(f"tinymoo: error: {exc}", file=sys.stderr)
        if hc.mode == RunMode.MULTIRUN:  # one bad job must not end the sweep (core.search.multirun records it)
            record_failed_job(hc.runtime.output_dir, str(exc))
            return float("nan")
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


def cli() -> None:
    """Console entry: check the overrides (:func:`core.search.overrides.check_overrides`), then hand over to Hydra.

    In a sweep (``-m``) the checks cover every comma-separated option, so a typo is refused before the first job;
    jobs refused for bad values run their course, and the sweep then exits 2.
    """
    error = check_overrides(sys.argv[1:])
    if error is not None:
        print(f"tinymoo: error: {error}", file=sys.stderr)
        sys.exit(2)
    main()
    if failed_jobs:  # a sweep whose other jobs ran (jobs launched in other processes report in comparison.csv)
        names = "; ".join(f"{d}: {m}" for d, m in failed_jobs)
        print(f"tinymoo: error: {len(failed_jobs)} sweep job(s) were refused, the others ran: {names}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
