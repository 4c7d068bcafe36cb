"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes): the offline quickstart dataset."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl

from core.api import ArrayDataModule, DatasetPlugin


class Digits(DatasetPlugin):
    """1 x 8 x 8 grey images with values 0..16; no download (the data ships inside scikit-learn).

    Args:
        val_fraction / test_fraction: stratified split sizes.
    """

    def __init__(self, val_fraction: float = 0.2, test_fraction: float = 0.2) -> None:
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, 8, 8)

    @property
    def num_classes(self) -> int:
        return 10

    def datamodule(self, batch_size: int, seed: int) -> pl.LightningDataModule:
        from sklearn.datasets import load_digits

        data = load_digits()
        x = (data.images.astype(np.float32) / 16.0)[:, None, :, :]
        return ArrayDataModule(x, data.target, batch_size, seed, self.val_fraction, self.test_fraction)
