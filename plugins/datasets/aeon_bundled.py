"""``dataset=aeon_bundled``: a UCR/UEA time-series classification set bundled inside the ``aeon`` package.

aeon ships a few archive problems as ``.ts`` files under ``aeon/datasets/data/<dir>/<name>_TRAIN.ts`` and
``<name>_TEST.ts`` (ArrowHead, GunPoint, OSULeaf, ACSF1, BasicMotions, ItalyPowerDemand, ...). They are read from
there and nothing is ever downloaded. Samples are ``channels x length`` float32 (univariate sets: ``1 x length``;
use ``model.conv_dim=1``). Sets of unequal-length series (JapaneseVowels, PickupGestureWiimoteZ) are refused; aeon
bundles equal-length versions of both (``JapaneseVowels_eq``, ``PickupGestureWiimoteZ_eq``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from core.api import ArrayDataModule, ConfigError, DatasetError, DatasetPlugin


def _header(path: Path) -> dict[str, str]:
    """The ``@key value`` lines before ``@data`` of a ``.ts`` file, keys lower-cased (first occurrence wins)."""
    meta: dict[str, str] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("@"):
                continue
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                break
            meta.setdefault(key, value.strip())
    return meta


def bundled_sets(data_dir: Path) -> dict[str, tuple[Path, Path, bool]]:
    """Classification sets under aeon's bundled ``data_dir``: name -> (TRAIN file, TEST file, equal length).

    A set counts when both ``<name>_TRAIN.ts`` and ``<name>_TEST.ts`` lie in one subfolder and the TRAIN header
    declares ``@classLabel true`` (regression sets such as Covid3Month declare ``@targetLabel`` instead).
    """
    sets: dict[str, tuple[Path, Path, bool]] = {}
    if not data_dir.is_dir():
        return sets
    for train in sorted(data_dir.glob("*/*_TRAIN.ts")):
        name = train.name[: -len("_TRAIN.ts")]
        test = train.with_name(f"{name}_TEST.ts")
        if not test.is_file():
            continue
        try:
            meta = _header(train)
        except OSError:
            continue
        if meta.get("classlabel", "").split()[:1] != ["true"]:
            continue
        sets.setdefault(name, (train, test, meta.get("equallength", "true").lower() != "false"))
    return sets


def _sort_key(label: str) -> tuple[int, float, str]:
    """Numeric labels by value ("2" before "10"), all others by name."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


class AeonBundled(DatasetPlugin):
    """Train/validation come from the set's TRAIN split, test is its TEST split (as in the UCR/UEA archive).

    Labels are the sorted class names (numerically when every name is a number) mapped to ``0..k-1``.

    Args:
        name: the bundled set, e.g. ``OSULeaf``, ``ArrowHead``, ``GunPoint``, ``BasicMotions``; a name that aeon
            does not bundle is refused with the list of those it does.
        val_fraction: seeded stratified fraction of the TRAIN split held out for validation.
    """

    #: the config key that chooses ``name``; None where a subclass fixes the name (a missing set is then a broken
    #: aeon install, not a config mistake)
    def __init__(self, name: str, val_fraction: float = 0.25) -> None:
        self.name = str(name)
        self.val_fraction = val_fraction

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        if not 0.0 < float(self.val_fraction) < 1.0:
            raise ConfigError("dataset.val_fraction", f"must be between 0 and 1 (exclusive), got {self.val_fraction}")
        name = self.name
        try:
            import aeon.datasets
            from aeon.datasets import load_from_ts_file
        except ImportError as exc:
            raise DatasetError(
                f"Config key 'dataset': {name} ships with the aeon package, which is not importable here "
                f"({exc}). Install it with `pip install 'tinymoo[timeseries]'` (or pick another dataset)."
            ) from exc
        data_dir = Path(aeon.datasets.__file__).parent / "data"
        sets = bundled_sets(data_dir)
        usable = sorted(n for n, (_, _, equal) in sets.items() if equal)
        if name not in sets:
            raise ConfigError(
                "dataset.name",
                f"'{name}' is not a time-series classification set bundled with aeon (nothing is downloaded)",
                choices=usable,
            )
        train_file, test_file, equal = sets[name]

        def unequal() -> ConfigError:
            return ConfigError(
                "dataset.name",
                f"{name} has series of unequal length, which cannot be batched",
                choices=usable,
                hint=f"aeon bundles an equal-length version as {name}_eq." if f"{name}_eq" in usable else None,
            )

        if not equal:
            raise unequal()
        try:
            x_train, y_train = load_from_ts_file(str(train_file))
            x_test, y_test = load_from_ts_file(str(test_file))
        except Exception as exc:  # a broken aeon install: missing or unreadable bundled files
            raise DatasetError(
                f"Config key 'dataset': aeon could not load its bundled {name} data ({type(exc).__name__}: "
                f"{exc}). Reinstall it with `pip install --force-reinstall aeon`."
            ) from exc
        if not isinstance(x_train, np.ndarray) or not isinstance(x_test, np.ndarray):
            raise unequal()
        x_train, x_test = np.asarray(x_train, np.float32), np.asarray(x_test, np.float32)
        if x_train.ndim != 3 or x_train.shape[1:] != x_test.shape[1:] or len(x_train) != len(y_train):
            raise DatasetError(
                f"Config key 'dataset': aeon returned {name} with shapes {x_train.shape} and {x_test.shape}; "
                "expected N x channels x length with the same channels and length in both splits. Check the "
                "installed aeon version."
            )
        if not (np.isfinite(x_train).all() and np.isfinite(x_test).all()):
            raise DatasetError(
                f"Config key 'dataset': aeon's bundled {name} has missing or non-finite values, which this plugin "
                "does not impute; pick another set."
            )
        classes = sorted({str(c) for c in y_train} | {str(c) for c in y_test}, key=_sort_key)
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
                f"{self.val_fraction} cannot split {len(y_train)} training series of {self.name} with "
                f"{self.num_classes} classes ({exc}); use a value between 0.1 and 0.5",
            ) from exc
        x = np.concatenate([x_train, x_test])
        y = np.concatenate([y_train, y_test])
        test = np.arange(len(y_train), len(y))
        return ArrayDataModule(x, y, batch_size, seed, split_indices={"train": train, "val": val, "test": test})
