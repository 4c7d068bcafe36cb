"""``logger=none``: log nothing beyond the run directory's own reports."""

from __future__ import annotations

from core.interfaces.logger import SearchLogger


class NullLogger(SearchLogger):
    """Logs nothing."""
