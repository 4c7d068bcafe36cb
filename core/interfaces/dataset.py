"""DatasetPlugin: where the data comes from and its shape."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type hints only: importing this contract must not import Lightning (start-up time)
    import pytorch_lightning as pl


class DatasetPlugin(ABC):
    """A classification dataset. ``input_shape`` excludes the batch dim: ``(C, H, W)`` or ``(C, L)``."""

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, without the batch dimension."""

    @property
    @abstractmethod
    def num_classes(self) -> int:
        """Number of target classes."""

    @abstractmethod
    def datamodule(self, batch_size: int, seed: int) -> pl.LightningDataModule:
        """A datamodule with seeded train/val/test splits and normalization.

        Raises:
            core.errors.DatasetError: the data is missing or malformed (one clear paragraph).
        """
