"""``dataset=basic_motions``: aeon's bundled BasicMotions (80 smartwatch recordings, 6 x 100, 4 activities).

Accelerometer and gyroscope x y z of a smartwatch at 10 Hz while the wearer stands, walks, runs or plays badminton.
The data ships inside the ``aeon`` package, so it works offline; samples are ``6 x 100`` (use ``model.conv_dim=1``).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from sklearn.model_selection import train_test_split

from core.datamodule import ArrayDataModule
from core.errors import ConfigError, DatasetError
from core.interfaces.dataset import DatasetPlugin


class BasicMotions(DatasetPlugin):
    """Train/validation come from aeon's train split (40 series), test is aeon's test split (40 series).

    Labels are the sorted class names (badminton, running, standing, walking) mapped to 0..3.

    Args:
        val_fraction: seeded stratified fraction of aeon's train split held out for validation.
    """

    def __init__(self, val_fraction: float = 0.25) -> None:
        self.val_fraction = val_fraction

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        if not 0.0 < float(self.val_fraction) < 1.0:
            raise ConfigError("dataset.val_fraction", f"must be between 0 and 1 (exclusive), got {self.val_fraction}")
        try:
            from aeon.datasets import load_basic_motions
        except ImportError as exc:
            raise DatasetError(
                f"Config key 'dataset': BasicMotions ships with the aeon package, which is not importable here "
                f"({exc}). Install it with `pip install aeon` (or pick another dataset)."
            ) from exc
        try:
            x_train, y_train = load_basic_motions(split="train")
            x_test, y_test = load_basic_motions(split="test")
        except Exception as exc:  # a broken aeon install: missing or unreadable bundled files
            raise DatasetError(
                f"Config key 'dataset': aeon could not load its bundled BasicMotions data ({type(exc).__name__}: "
                f"{exc}). Reinstall it with `pip install --force-reinstall aeon`."
            ) from exc
        x_train, x_test = np.asarray(x_train, np.float32), np.asarray(x_test, np.float32)
        if x_train.ndim != 3 or x_train.shape[1:] != x_test.shape[1:]:
            raise DatasetError(
                f"Config key 'dataset': aeon returned BasicMotions with shapes {x_train.shape} and {x_test.shape}; "
                "expected N x 6 x 100 for both splits. Check the installed aeon version."
            )
        classes = sorted({str(c) for c in y_train} | {str(c) for c in y_test})
        code = {c: i for i, c in enumerate(classes)}
        to_int = np.vectorize(lambda c: code[str(c)], otypes=[np.int64])
        return x_train, to_int(y_train), x_test, to_int(y_test), classes

    @property
    def classes(self) -> list[str]:
        """Class names, index = label."""
        return list(self._arrays[4])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._arrays[0].shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self._arrays[4])

    def datamodule(self, batch_size: int, seed: int) -> ArrayDataModule:
        x_train, y_train, x_test, y_test, _ = self._arrays
        try:
            train, val = train_test_split(
                np.arange(len(y_train)), test_size=float(self.val_fraction), random_state=seed, stratify=y_train
            )
        except ValueError as exc:
            raise ConfigError(
                "dataset.val_fraction",
                f"{self.val_fraction} cannot split {len(y_train)} training series with {self.num_classes} classes "
                f"({exc}); use a value between 0.1 and 0.5",
            ) from exc
        x = np.concatenate([x_train, x_test])
        y = np.concatenate([y_train, y_test])
        test = np.arange(len(y_train), len(y))
        return ArrayDataModule(x, y, batch_size, seed, split_indices={"train": train, "val": val, "test": test})
