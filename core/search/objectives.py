"""The objective names a search can minimize, checked without importing torch or BoTorch."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import ConfigError

OBJECTIVES = ("error", "flash", "ram", "macs", "latency")


def validate_objectives(names: Sequence[str]) -> tuple[str, ...]:
    """Check objective names (at least two, distinct, known); returns them as a tuple."""
    names = tuple(str(n) for n in names)
    bad = [n for n in names if n not in OBJECTIVES]
    if bad:
        raise ConfigError("search.objectives", f"unknown objective {bad[0]!r}", choices=OBJECTIVES)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError("search.objectives", f"need at least two distinct objectives, got {list(names)}")
    return names
