"""Typed config values, checked before anything heavy is imported: a bad number on the command line is refused in
about a second, before torch, Lightning and the plugins load (:func:`check_values`, called by ``core.run`` first
and by :class:`core.search.loop.Search` for API users)."""

from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf

from core.errors import ConfigError


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


def check_values(cfg: DictConfig) -> None:
    """The plain numbers of the search and of every trial's training (``search``, ``seed``, ``trainer``, ``optim``,
    ``data``); the keys themselves are checked by :mod:`core.search.overrides` and
    :func:`core.search.checks.check_trainer`."""
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
