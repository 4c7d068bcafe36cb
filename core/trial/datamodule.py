"""ArrayDataModule: an in-memory labelled tensor dataset with seeded stratified splits and normalization.

Shared by dataset plugins whose data fits in memory (digits, array files, CIFAR-10, small time series).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset, default_collate

from core.errors import DatasetError

#: A train-time augmentation: takes one normalized input batch (``B x C x ...``) and a seeded generator, returns
#: the augmented batch of the same shape. It must draw all its randomness from the generator (reproducibility).
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

SPLITS = ("train", "val", "test")
MIN_SAMPLES = 10  # fewer samples give no meaningful validation accuracy


def check_arrays(x: np.ndarray, y: np.ndarray, chunk: int = 4096) -> None:
    """Refuse data no search can learn from: NaN/Inf inputs, fewer than 2 classes, or too few samples.

    Raises :class:`DatasetError` (one paragraph); the finiteness check runs over chunks, without a float copy.
    """
    if len(x) != len(y):
        raise DatasetError(f"Config key 'dataset': x has {len(x)} samples but y has {len(y)} labels.")
    if len(y) < MIN_SAMPLES:
        raise DatasetError(
            f"Config key 'dataset': the data holds {len(y)} samples; at least {MIN_SAMPLES} are needed for a "
            "train/validation/test split whose accuracy means anything."
        )
    if np.issubdtype(np.asarray(x[:1]).dtype, np.inexact):
        bad = sum(int((~np.isfinite(x[i : i + chunk])).sum()) for i in range(0, len(x), chunk))
        if bad:
            raise DatasetError(
                f"Config key 'dataset': the inputs hold {bad} NaN or infinite value(s); training on them gives a "
                "NaN loss or a meaningless model. Clean the data (or drop those samples) first."
            )
    classes = np.unique(np.asarray(y))
    if len(classes) < 2:
        raise DatasetError(
            f"Config key 'dataset': every sample has the label {classes.tolist()}; a classifier needs at least 2 "
            "classes (a single class gives error 0 to any model)."
        )


class _AugmentingCollate:
    """Collates a list of ``(x, y)`` samples, then augments the stacked input batch."""

    def __init__(self, augment: Augment, generator: torch.Generator) -> None:
        self.augment = augment
        self.generator = generator

    def __call__(self, samples: list[Any]) -> list[torch.Tensor]:
        x, y = default_collate(samples)
        return [self.augment(x, self.generator), y]


def channel_stats(x: np.ndarray, idx: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``x[idx]`` (``N x C x ...``), shaped ``1 x C x 1 ...``.

    Two passes in float64 over chunks of ``chunk`` samples, so a large ``uint8`` array is never copied whole
    into floating point.
    """
    axes = (0, *range(2, x.ndim))
    count = len(idx) * int(np.prod(x.shape[2:], dtype=np.int64))
    if count == 0:
        raise ValueError("channel_stats needs at least one sample")
    total = np.zeros((1, x.shape[1]) + (1,) * (x.ndim - 2))
    for start in range(0, len(idx), chunk):
        total += x[idx[start : start + chunk]].sum(axis=axes, keepdims=True, dtype=np.float64)
    mean = total / count
    sq = np.zeros_like(mean)
    for start in range(0, len(idx), chunk):
        sq += ((x[idx[start : start + chunk]].astype(np.float64) - mean) ** 2).sum(axis=axes, keepdims=True)
    return mean, np.sqrt(sq / count)


class ArrayDataModule(pl.LightningDataModule):
    """Splits ``x`` (``N x C x ...``) and integer labels ``y`` (``N``) into train/val/test.

    Normalization is per channel with statistics of the training split only. ``x`` may be any numeric dtype
    (e.g. ``uint8`` images); the splits are stored normalized as float32.

    Args:
        x: samples, shape ``N x C x ...``.
        y: labels in ``[0, num_classes)``, shape ``N``.
        batch_size: training/eval batch size.
        seed: seeds the split, the training shuffle and the augmentation.
        val_fraction / test_fraction: split sizes (fractions of N); stratified by label. Ignored when
            ``split_indices`` is given.
        split_indices: predefined splits, ``{"train": idx, "val": idx, "test": idx}`` (integer indices into
            ``x``), e.g. an official test set or a subject-wise split.
        augment: optional train-time augmentation applied per batch on the training loader only; validation,
            test and :meth:`calibration_batches` stay un-augmented.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        seed: int,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        *,
        split_indices: Mapping[str, np.ndarray] | None = None,
        augment: Augment | None = None,
    ) -> None:
        super().__init__()
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.augment = augment
        y = np.asarray(y)
        check_arrays(x, y)
        if split_indices is None:
            idx = np.arange(len(y))
            try:
                rest, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=y)
                train, val = train_test_split(
                    rest, test_size=val_fraction / (1 - test_fraction), random_state=seed, stratify=y[rest]
                )
            except ValueError as exc:  # too few samples of some class for a stratified split
                raise DatasetError(
                    f"Config key 'dataset': the data cannot be split into stratified train/validation/test sets "
                    f"({exc}). Give each class more samples, or change the split fractions."
                ) from exc
            parts = {"train": train, "val": val, "test": test}
        else:
            if set(split_indices) != set(SPLITS):
                raise ValueError(f"split_indices needs exactly the keys {SPLITS}, got {sorted(split_indices)}")
            parts = {name: np.asarray(split_indices[name], dtype=np.int64) for name in SPLITS}
        for name in SPLITS:
            if len(parts[name]) == 0:
                raise DatasetError(f"Config key 'dataset': the {name} split is empty; give it at least one sample.")
        if len(np.unique(y[parts["train"]])) < 2:
            raise DatasetError("Config key 'dataset': the train split holds a single class; a classifier needs two.")
        self.indices: dict[str, np.ndarray] = parts
        mean, std = channel_stats(x, parts["train"])
        std = std + 1e-6
        self.mean, self.std = mean.squeeze(0).astype(np.float32), std.squeeze(0).astype(np.float32)
        self.splits: dict[str, TensorDataset] = {}
        for name in SPLITS:
            xs = np.asarray(x[parts[name]], dtype=np.float32)  # a copy: fancy indexing
            xs -= self.mean[None]
            xs /= self.std[None]
            self.splits[name] = TensorDataset(torch.from_numpy(xs), torch.from_numpy(y[parts[name]].astype(np.int64)))

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(self.seed)
        collate = None
        if self.augment is not None:
            collate = _AugmentingCollate(self.augment, torch.Generator().manual_seed(self.seed + 1))
        return DataLoader(
            self.splits["train"], batch_size=self.batch_size, shuffle=True, generator=g, collate_fn=collate
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=max(self.batch_size, 256))

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=max(self.batch_size, 256))

    def calibration_batches(self, n: int) -> list[torch.Tensor]:
        """Up to ``n`` unshuffled, un-augmented training input batches, for post-training quantization."""
        loader = DataLoader(self.splits["train"], batch_size=self.batch_size, shuffle=False)
        out = []
        for i, (x, _) in enumerate(loader):
            if i >= n:
                break
            out.append(x)
        return out
