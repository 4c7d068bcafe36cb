"""SearchLogger: experiment tracking (per-trial training curves, per-trial results, the final summary)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.interfaces.trial import TrialResult

if TYPE_CHECKING:  # type hints only: importing this contract must not import Lightning (start-up time)
    from pytorch_lightning.loggers import Logger


class SearchLogger:
    """Tracks a search. Every hook is optional; the default logs nothing."""

    def start(self, run_dir: str, config: dict[str, Any]) -> None:
        """Called once before the first trial with the resolved run config."""

    def trial_logger(self, trial_id: int, run_dir: str) -> Logger | None:
        """A Lightning logger for one trial's training curves, or None."""
        return None

    def log_trial(self, result: TrialResult, hypervolume: float) -> None:
        """Called after each trial is stored, with the hypervolume so far."""

    def finish(self, summary: dict[str, Any]) -> None:
        """Called once at the end with the run summary."""
