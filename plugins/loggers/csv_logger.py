"""``logger=csv`` (default): each trial's Lightning training curves as ``logs/trial_<id>/metrics.csv``."""

from __future__ import annotations

from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, Logger

from core.api import SearchLogger


class CSVTrainingLogger(SearchLogger):
    """Per-trial training curves (train_loss, val_loss, val_acc per epoch) in CSV files under the run dir."""

    def __init__(self, subdir: str = "logs") -> None:
        self.subdir = subdir

    def trial_logger(self, trial_id: int, run_dir: str) -> Logger | None:
        return CSVLogger(save_dir=str(Path(run_dir) / self.subdir), name=f"trial_{trial_id}", version="")
