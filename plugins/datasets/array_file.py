"""``dataset=array_file``: your own data as one ``.npz`` file with arrays ``x`` (N x C x ...) and ``y`` (N)."""

from __future__ import annotations

import zipfile
from functools import cached_property
from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from core.api import ArrayDataModule, DatasetError, DatasetPlugin


class ArrayFile(DatasetPlugin):
    """Loads ``path`` (``np.savez`` output): ``x`` float ``N x C x H x W`` or ``N x C x L``; ``y`` int labels.

    Args:
        path: the ``.npz`` file.
        val_fraction / test_fraction: stratified split sizes.
    """

    def __init__(self, path: str | None = None, val_fraction: float = 0.2, test_fraction: float = 0.2) -> None:
        self.path = path
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.path:
            raise DatasetError(
                "Config key 'dataset.path': no file given. Pass dataset.path=/path/to/data.npz, a file written "
                "with numpy.savez(path, x=samples, y=labels)."
            )
        p = Path(self.path).expanduser()
        if not p.is_file():
            raise DatasetError(
                f"Config key 'dataset.path': '{p}' does not exist. Pass the path of an .npz file written with "
                "numpy.savez(path, x=samples, y=labels); x is N x C x H x W (images) or N x C x L (series)."
            )
        try:
            with np.load(p, allow_pickle=False) as f:
                keys = set(f.files)
                if not {"x", "y"} <= keys:
                    raise DatasetError(
                        f"Config key 'dataset.path': '{p}' holds arrays {sorted(keys)}; it needs 'x' and 'y'."
                    )
                x, y = np.asarray(f["x"], dtype=np.float32), np.asarray(f["y"])
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(
                f"Config key 'dataset.path': '{p}' is not a readable .npz file ({type(exc).__name__}: {exc}). "
                "Rewrite it with numpy.savez(path, x=samples, y=labels)."
            ) from exc
        if x.ndim not in (3, 4) or y.ndim != 1 or len(x) != len(y):
            raise DatasetError(
                f"Config key 'dataset.path': '{p}' has x of shape {x.shape} and y of shape {y.shape}; expected "
                "x as N x C x L or N x C x H x W and y as N labels."
            )
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise DatasetError(f"Config key 'dataset.path': labels y in '{p}' must be non-negative integers.")
        return x, y.astype(np.int64)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._arrays[0].shape[1:])

    @property
    def num_classes(self) -> int:
        return int(self._arrays[1].max()) + 1

    def datamodule(self, batch_size: int, seed: int) -> pl.LightningDataModule:
        x, y = self._arrays
        return ArrayDataModule(x, y, batch_size, seed, self.val_fraction, self.test_fraction)
