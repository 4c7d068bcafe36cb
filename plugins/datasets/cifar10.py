"""``dataset=cifar10``: CIFAR-10 (60000 32x32 colour images, 10 classes) from the python release of the dataset.

The release (https://www.cs.toronto.edu/~kriz/cifar.html) is ``cifar-10-python.tar.gz``, which unpacks to
``cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5`` (50000 training images), ``test_batch`` (10000)
and ``batches.meta``. Each batch is a pickled dict with bytes keys: ``b"data"`` (``uint8``, ``N x 3072``, each row
the red, green and blue 32x32 planes in row-major order), ``b"labels"`` (``N`` ints in 0..9), ``b"batch_label"``
and ``b"filenames"``. The pickles are read with a restricted unpickler that admits only the few numpy globals
the format needs, so a tampered file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import tarfile
import urllib.error
import urllib.request
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from core.api import ArrayDataModule, ConfigError, DatasetError, DatasetPlugin

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import _codecs

    reconstruct = _numpy_reconstruct()
    return {
        # the numpy array inside each batch (the release was pickled by numpy 1.x: numpy.core.*)
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # protocol-2 pickles written by Python 3 store bytes as _codecs.encode(text, "latin1")
        ("_codecs", "encode"): _codecs.encode,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a CIFAR batch file needs; anything else is a DatasetError.

    Args:
        file: the open binary file.
        name: the file's path, used in error messages.
    """

    def __init__(self, file: io.BufferedIOBase, name: str) -> None:
        super().__init__(file, encoding="bytes")
        self.name = name
        self.allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise DatasetError(
                f"Config key 'dataset.root': '{self.name}' is not a CIFAR-10 batch file: its pickle references "
                f"'{module}.{name}', which the CIFAR-10 format never uses, so it was not loaded (a tampered or "
                "foreign file could run code). Delete it and unpack the original cifar-10-python.tar.gz again."
            ) from None


def load_batch(path: Path) -> dict[bytes, Any]:
    """Unpickle one CIFAR-10 batch or meta file with :class:`RestrictedUnpickler` (``encoding="bytes"``)."""
    try:
        with open(path, "rb") as f:
            obj = RestrictedUnpickler(f, str(path)).load()  # type: ignore[arg-type]
    except DatasetError:
        raise
    except Exception as exc:  # truncated/corrupt pickles raise EOFError, UnpicklingError, ValueError, ...
        raise DatasetError(
            f"Config key 'dataset.root': '{path}' is truncated or corrupt and could not be unpickled "
            f"({type(exc).__name__}: {exc}). Delete the folder '{path.parent}' and unpack cifar-10-python.tar.gz "
            f"again (or set dataset.download=true to fetch it from {URL})."
        ) from exc
    if not isinstance(obj, dict):
        raise DatasetError(
            f"Config key 'dataset.root': '{path}' holds a pickled {type(obj).__name__}, not the dict of a CIFAR-10 "
            "batch. Unpack the original cifar-10-python.tar.gz again."
        )
    return obj


def _batch_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = load_batch(path)
    data, labels = d.get(b"data"), d.get(b"labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise DatasetError(
            f"Config key 'dataset.root': '{path}' lacks the b'data' array or the b'labels' list of a CIFAR-10 "
            f"batch (keys found: {sorted(k.decode('latin1') if isinstance(k, bytes) else str(k) for k in d)}). "
            "Unpack the original cifar-10-python.tar.gz again."
        )
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"Config key 'dataset.root': the labels in '{path}' are not integers ({exc}).") from exc
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or y.shape != (len(data),):
        raise DatasetError(
            f"Config key 'dataset.root': '{path}' holds data of shape {data.shape} ({data.dtype}) and "
            f"{y.size} labels; a CIFAR-10 batch holds uint8 data of shape N x 3072 and N labels. Unpack the "
            "original cifar-10-python.tar.gz again."
        )
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DatasetError(
            f"Config key 'dataset.root': '{path}' has labels from {y.min()} to {y.max()}; CIFAR-10 labels are 0..9."
        )
    return data.reshape(-1, 3, 32, 32), y


def crop_and_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random ``H x W`` crop of each image zero-padded by ``padding`` pixels, then a random horizontal flip.

    Runs on normalized batches (``B x C x H x W``), so the zero padding is the channel mean. All randomness comes
    from ``generator``.
    """
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).tolist()
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).tolist()
    flip = (torch.rand(b, generator=generator) < 0.5).tolist()
    out = torch.empty_like(x)
    for i in range(b):  # one slice copy per image: far faster than a B x C x H x W gather
        crop = padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _safe_extract(archive: Path, root: Path) -> None:
    """Extract the regular files and folders of ``archive`` into ``root``; refuses links and paths leaving root."""
    root_resolved = root.resolve()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                target = (root_resolved / m.name).resolve()
                if not (m.isfile() or m.isdir()) or not target.is_relative_to(root_resolved):
                    raise DatasetError(
                        f"Config key 'dataset.url': the archive '{archive}' contains the unsafe entry '{m.name}' "
                        "(a link, a device or a path outside dataset.root), so nothing was extracted. Use the "
                        f"original archive from {URL}."
                    )
            tar.extractall(root_resolved, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetError(
            f"Config key 'dataset.root': the archive '{archive}' could not be extracted ({type(exc).__name__}: "
            f"{exc}). Delete it and download it again from {URL}."
        ) from exc


class Cifar10(DatasetPlugin):
    """CIFAR-10, 3 x 32 x 32 images in 10 classes. Train = ``data_batch_1..5`` minus a validation fraction,
    test = ``test_batch``.

    Args:
        root: folder holding ``cifar-10-batches-py/`` (or ``cifar-10-python.tar.gz``, which is then unpacked).
        download: fetch ``url`` into ``root`` when the batches are missing (off by default: no network unless
            asked).
        url: where to fetch ``cifar-10-python.tar.gz`` from (``file://`` URLs work for a local mirror).
        md5: expected MD5 of the archive; a mismatch is an error.
        val_fraction: seeded stratified fraction of the 50000 training images held out for validation.
        augment: random crop (4-pixel zero padding) and horizontal flip on training batches.
        subset: use only this many (stratified, seeded) training images per trial; ``None`` = all.
    """

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        url: str = URL,
        md5: str = MD5,
        val_fraction: float = 0.1,
        augment: bool = True,
        subset: int | None = None,
    ) -> None:
        self.root = root
        self.download = bool(download)
        self.url = url
        self.md5 = md5
        self.val_fraction = float(val_fraction)
        self.augment = bool(augment)
        self.subset = None if subset is None else int(subset)

    def _check(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError("dataset.val_fraction", f"must be between 0 and 1 (exclusive), got {self.val_fraction}")
        if self.subset is not None and self.subset < 20:
            raise ConfigError(
                "dataset.subset", f"{self.subset} is too small; give at least 20 training images (2 per class) or null"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        _ = self._arrays  # fail early (the search builds every plugin once before the first trial)
        return (3, 32, 32)

    @property
    def num_classes(self) -> int:
        return 10

    @property
    def folder(self) -> Path:
        return Path(self.root).expanduser() / FOLDER

    def _missing(self) -> list[str]:
        return [n for n in (*TRAIN_FILES, TEST_FILE) if not (self.folder / n).is_file()]

    def _fetch(self, archive: Path) -> None:
        archive.parent.mkdir(parents=True, exist_ok=True)
        part = archive.with_name(archive.name + ".part")
        try:
            with urllib.request.urlopen(self.url, timeout=60) as response, open(part, "wb") as f:
                shutil.copyfileobj(response, f, length=1 << 20)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            part.unlink(missing_ok=True)
            raise DatasetError(
                f"Config key 'dataset.url': downloading '{self.url}' failed ({type(exc).__name__}: {exc}). Check the "
                f"network, or fetch the archive yourself and put it at '{archive}' (or unpack it into "
                f"'{archive.parent}')."
            ) from exc
        part.replace(archive)

    def _ensure_files(self) -> None:
        missing = self._missing()
        if not missing:
            return
        root = Path(self.root).expanduser()
        archive = root / ARCHIVE
        if not archive.is_file() and not self.download:
            raise DatasetError(
                f"Config key 'dataset.root': CIFAR-10 was not found: looked in '{self.folder}' and it lacks "
                f"{', '.join(missing)}. Download cifar-10-python.tar.gz from {URL} and unpack it into "
                f"'{root}' (or just place the archive there), or set dataset.download=true to fetch it "
                "automatically (about 163 MB)."
            )
        fetched = not archive.is_file()
        if fetched:
            self._fetch(archive)
        digest = _md5(archive)
        if digest != self.md5:
            if fetched:
                archive.unlink(missing_ok=True)
            raise DatasetError(
                f"Config key 'dataset.md5': the archive '{archive}' (from {self.url if fetched else 'dataset.root'}) "
                f"has MD5 {digest} but {self.md5} was expected; it is truncated, corrupt or a different file"
                f"{', so it was deleted' if fetched else ''}. Download it again from {URL}."
            )
        _safe_extract(archive, root)
        missing = self._missing()
        if missing:
            raise DatasetError(
                f"Config key 'dataset.root': the archive '{archive}' unpacked, but '{self.folder}' still lacks "
                f"{', '.join(missing)}; it is not the CIFAR-10 python release. Use {URL}."
            )

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, int]:
        """All images (``uint8``, training batches first, then the test batch), labels, and the training count."""
        self._check()
        self._ensure_files()
        parts = [_batch_arrays(self.folder / n) for n in (*TRAIN_FILES, TEST_FILE)]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        return x, y, len(y) - len(parts[-1][1])

    def datamodule(self, batch_size: int, seed: int) -> ArrayDataModule:
        x, y, n_train = self._arrays
        y_train = y[:n_train]
        idx = np.arange(n_train)
        try:
            train, val = train_test_split(idx, test_size=self.val_fraction, random_state=seed, stratify=y_train)
            if self.subset is not None and self.subset < len(train):
                train, _ = train_test_split(train, train_size=self.subset, random_state=seed, stratify=y_train[train])
        except ValueError as exc:
            raise DatasetError(
                f"Config key 'dataset.val_fraction': cannot split {len(idx)} training images into train/val "
                f"(val_fraction={self.val_fraction}, subset={self.subset}): {exc}."
            ) from exc
        test = np.arange(n_train, len(y))
        return ArrayDataModule(
            x,
            y,
            batch_size,
            seed,
            split_indices={"train": train, "val": val, "test": test},
            augment=crop_and_flip if self.augment else None,
        )
