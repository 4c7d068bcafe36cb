"""ArrayDataModule: an in-memory labelled tensor dataset with seeded stratified splits and normalization.

Shared by dataset plugins whose data fits in memory (digits, array files, small time series).
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset


class ArrayDataModule(pl.LightningDataModule):
    """Splits ``x`` (``N x C x ...``) and integer labels ``y`` (``N``) into train/val/test.

    Normalization is per channel with statistics of the training split only.

    Args:
        x: samples, float, shape ``N x C x ...``.
        y: labels in ``[0, num_classes)``, shape ``N``.
        batch_size: training/eval batch size.
        seed: seeds the split and the training shuffle.
        val_fraction / test_fraction: split sizes (fractions of N); stratified by label.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        seed: int,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
    ) -> None:
        super().__init__()
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        idx = np.arange(len(y))
        rest, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=y)
        train, val = train_test_split(
            rest, test_size=val_fraction / (1 - test_fraction), random_state=seed, stratify=y[rest]
        )
        axes = (0, *range(2, x.ndim))
        mean = x[train].mean(axis=axes, keepdims=True)
        std = x[train].std(axis=axes, keepdims=True) + 1e-6
        xn = ((x - mean) / std).astype(np.float32)
        self.mean, self.std = mean.squeeze(0), std.squeeze(0)
        self.splits = {
            name: TensorDataset(torch.from_numpy(xn[i]), torch.from_numpy(y[i].astype(np.int64)))
            for name, i in (("train", train), ("val", val), ("test", test))
        }

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.splits["train"], batch_size=self.batch_size, shuffle=True, generator=g)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=max(self.batch_size, 256))

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=max(self.batch_size, 256))

    def calibration_batches(self, n: int) -> list[torch.Tensor]:
        """Up to ``n`` unshuffled training input batches, for post-training quantization."""
        loader = DataLoader(self.splits["train"], batch_size=self.batch_size, shuffle=False)
        out = []
        for i, (x, _) in enumerate(loader):
            if i >= n:
                break
            out.append(x)
        return out
