"""``logger=none``: log nothing beyond the run directory's own reports."""

from __future__ import annotations

from core.api import SearchLogger


class NullLogger(SearchLogger):
    """Logs nothing."""
