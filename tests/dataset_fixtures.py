"""Small dataset fixtures written in the real release formats (CIFAR-10 python pickles, DaLiAc per-subject files).

Each writer puts learnable, class-dependent signal into the data so that a tiny model beats chance, and is fully
determined by its ``seed``. Used by tests/test_datasets.py and by end-to-end tests.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


_PurePickler: Any = pickle._Pickler  # type: ignore[attr-defined]  # the pure-Python pickler: its dispatch is a dict


class _Py2Pickler(_PurePickler):
    """Writes pickles like the CIFAR-10 release (Python 2 cPickle, protocol 2, numpy 1.x).

    ``bytes`` and ``str`` become Python 2 ``str`` opcodes (``SHORT_BINSTRING``/``BINSTRING``, read back as bytes
    with ``encoding="bytes"``) and numpy's array reconstructor is named ``numpy.core.multiarray._reconstruct``.
    """

    dispatch = _PurePickler.dispatch.copy()

    def _save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    def _save_py2_text(self, obj: str) -> None:
        self._save_py2_str(obj.encode("latin1"))

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_text  # numpy's dtype arguments ('u1', '|') were Python 2 str too

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = {"numpy._core.multiarray": "numpy.core.multiarray"}.get(obj.__module__, obj.__module__)
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)


def _dump_py2(obj: Any, path: Path) -> None:
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(obj)


def _cifar_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``N x 3072`` uint8 rows (R, G, B planes of 32x32, row-major): a class colour, a class stripe pattern, noise."""
    palette = np.random.default_rng(1234).uniform(40, 215, size=(10, 3))
    yy, xx = np.mgrid[0:32, 0:32]
    imgs = np.empty((len(labels), 3, 32, 32), dtype=np.float64)
    for i, c in enumerate(labels):
        angle = np.pi * c / 10
        stripes = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * (0.4 + 0.05 * c) + rng.uniform(0, 2 * np.pi))
        imgs[i] = palette[c][:, None, None] + 35 * stripes[None] + rng.normal(0, 20, size=(3, 32, 32))
    return np.clip(imgs, 0, 255).astype(np.uint8).reshape(len(labels), 3072)


def write_cifar10_fixture(root: Path, per_batch: int = 20, test: int = 20, seed: int = 0) -> Path:
    """Write ``root/cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``, ``batches.meta``); returns ``root``.

    Every batch holds ``per_batch`` images (the test batch ``test``), classes cycling 0..9 so each batch is
    balanced when its size is a multiple of 10.
    """
    root = Path(root)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    batches = [(f"data_batch_{i}", per_batch, f"training batch {i} of 5") for i in range(1, 6)]
    batches.append(("test_batch", test, "testing batch 1 of 1"))
    serial = 0
    for name, n, label in batches:
        labels = rng.permutation(np.arange(n) % 10)
        filenames = []
        for c in labels:
            serial += 1
            filenames.append(f"{CIFAR_CLASSES[c]}_s_{serial:06d}.png".encode())
        batch = {
            b"batch_label": label.encode(),
            b"labels": [int(c) for c in labels],
            b"data": _cifar_images(labels, rng),
            b"filenames": filenames,
        }
        _dump_py2(batch, folder / name)
    meta = {
        b"num_cases_per_batch": per_batch,
        b"label_names": [c.encode() for c in CIFAR_CLASSES],
        b"num_vis": 3072,
    }
    _dump_py2(meta, folder / "batches.meta")
    return root


def daliac_signal(activity: int, rows: int, rng: np.random.Generator, fs: float = 204.8) -> np.ndarray:
    """``rows x 24`` synthetic sensor data for ``activity`` (1..13): per-channel offsets and a class frequency."""
    offsets = np.random.default_rng(99).normal(0, 1.0, size=(14, 24))
    t = np.arange(rows) / fs
    freq = 0.3 + 0.25 * activity
    phase = rng.uniform(0, 2 * np.pi, size=24)
    wave = np.sin(2 * np.pi * freq * t[:, None] + phase[None, :])
    amp = 0.2 + 0.1 * (activity % 4)
    return offsets[activity][None, :] + amp * wave + rng.normal(0, 0.3, size=(rows, 24))


def write_daliac_fixture(
    root: Path, subjects: int = 4, rows_per_activity: int = 300, seed: int = 0, names: str = "S01"
) -> Path:
    """Write one file per subject like the DaLiAc release; returns ``root``.

    Each row: 24 sensor columns (hip, chest, right wrist, left ankle; acc x y z, gyro x y z each) then the
    activity label 1..13 (25 columns); comma-separated, no header. Activities follow each other in blocks of
    ``rows_per_activity`` rows (1, 2, .., 13).

    Args:
        names: the file names: ``"S01"`` writes ``S01.csv``, ``S02.csv``, .. (our own naming); ``"release"``
            writes the release's ``dataset_1.txt``, ``dataset_2.txt``, .. (no zero padding).
    """
    if names not in ("S01", "release"):
        raise ValueError(f"names must be 'S01' or 'release', got {names!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for s in range(1, subjects + 1):
        blocks = []
        for activity in range(1, 14):
            data = daliac_signal(activity, rows_per_activity, rng)
            blocks.append(np.column_stack([data, np.full(rows_per_activity, activity)]))
        table = np.concatenate(blocks)
        fmt = ["%.5f"] * 24 + ["%d"]
        name = f"S{s:02d}.csv" if names == "S01" else f"dataset_{s}.txt"
        np.savetxt(root / name, table, fmt=fmt, delimiter=",")
    return root
