"""Typed config values, checked before anything heavy is imported: a bad number, objective name, search-space
parameter or schedule on the command line is refused in about a second, before torch, Lightning and the plugins
load (:func:`check_values`, called by ``core.run`` first and by :class:`core.search.loop.Search` for API users)."""

from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf

from core.errors import ConfigError
from core.search.objectives import validate_objectives
from core.search.space import SearchSpace

SCHEDULES = ("auto", "async", "batch")
LOOKAHEADS = ("auto", "true", "false")


def config_int(cfg: DictConfig, key: str, minimum: int) -> int:
    """The integer at dotted ``key``, or a :class:`ConfigError` naming the key (``2.5`` and ``abc`` are refused)."""
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, f"must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    return value


def config_number(cfg: DictConfig, key: str, minimum: float, *, above: bool = False, optional: bool = False) -> float:
    """The number at dotted ``key`` (``>= minimum``, or ``> minimum`` with ``above``; None allowed if ``optional``)."""
    value = OmegaConf.select(cfg, key)
    if value is None and optional:
        return float("nan")
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not ok or (value <= minimum if above else value < minimum):
        kind = f"a number {'>' if above else '>='} {minimum:g}" + (" or null" if optional else "")
        raise ConfigError(key, f"must be {kind}, got {value!r} ({type(value).__name__})")
    return float(value)


def check_values(cfg: DictConfig) -> tuple[tuple[str, ...], SearchSpace]:
    """The plain values of the search and of every trial's training: the numbers (``search``, ``seed``,
    ``trainer``, ``optim``, ``data``), the objective names, the search space and the schedule settings; the keys
    themselves are checked by :mod:`core.search.overrides` and :func:`core.search.checks.check_trainer`.

    Returns:
        The objective names and the search space, as checked.
    """
    objectives = validate_objectives(OmegaConf.select(cfg, "search.objectives") or ())
    space = SearchSpace.from_config(OmegaConf.select(cfg, "search_space.params"), cfg)
    config_int(cfg, "search.n_trials", 1)
    config_int(cfg, "seed", 0)
    config_int(cfg, "search.max_attempts", 1)
    if OmegaConf.select(cfg, "search.batch_size") is not None:
        config_int(cfg, "search.batch_size", 1)
    config_int(cfg, "trainer.max_epochs", 1)
    config_int(cfg, "data.batch_size", 1)
    if OmegaConf.select(cfg, "trainer.check_val_every_n_epoch") is not None:
        config_int(cfg, "trainer.check_val_every_n_epoch", 1)
    config_number(cfg, "optim.lr", 0.0, above=True)
    config_number(cfg, "optim.weight_decay", 0.0)
    config_number(cfg, "trainer.gradient_clip_val", 0.0, optional=True)
    limit = OmegaConf.select(cfg, "trainer.limit_train_batches")
    if limit is not None and not (
        (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1)
        or (isinstance(limit, float) and 0.0 < limit <= 1.0)
    ):
        raise ConfigError(
            "trainer.limit_train_batches",
            f"must be a fraction in (0, 1], a whole number of batches >= 1, or null, got {limit!r}",
        )
    limit = OmegaConf.select(cfg, "search.trial_timeout_s")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
        raise ConfigError("search.trial_timeout_s", f"must be a positive number, got {limit!r}")
    check_schedule(cfg)
    return objectives, space


def check_schedule(cfg: DictConfig) -> None:
    """``search.schedule`` (auto, async or batch), ``search.lookahead`` (auto, true or false) and their one
    conflict: an asynchronous schedule asks one trial per free worker, so it takes no batch size."""
    schedule = OmegaConf.select(cfg, "search.schedule", default="auto")
    if schedule not in SCHEDULES:
        raise ConfigError("search.schedule", f"must be one of {', '.join(SCHEDULES)}, got {schedule!r}", SCHEDULES)
    batch = OmegaConf.select(cfg, "search.batch_size")
    if schedule == "async" and batch:
        raise ConfigError(
            "search.batch_size",
            f"is {batch}, but search.schedule=async asks one trial per free worker",
            hint="Set search.batch_size=null, or search.schedule=batch for batches.",
        )
    lookahead = OmegaConf.select(cfg, "search.lookahead", default="auto")
    if not (isinstance(lookahead, bool) or lookahead == "auto"):
        raise ConfigError("search.lookahead", f"must be auto, true or false, got {lookahead!r}", LOOKAHEADS)
