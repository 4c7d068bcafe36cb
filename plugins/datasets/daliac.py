"""``dataset=daliac``: DaLiAc (Daily Life Activities), 13 activities recorded with four inertial sensors at 204.8 Hz.

The release holds one text file per subject (``dataset_1.txt`` .. ``dataset_19.txt``): one row per sample, 24
sensor columns (hip, chest, right wrist, left ankle; each accelerometer x y z then gyroscope x y z) followed by the
activity label 1..13, comma-separated, no header. The default ``file_glob`` also accepts per-subject files renamed
``S01.csv`` .. ``S19.csv``; a file's stem (``dataset_3``, ``S03``) names its subject. The column layout, delimiter and
file patterns are config keys, so a release that orders its columns differently still loads. Each file is cut into
fixed-length windows that never cross files; samples are ``C x window`` (channels first) for ``model.conv_dim=1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.api import ArrayDataModule, ConfigError, DatasetError, DatasetPlugin

ACTIVITIES = (
    "sitting",
    "lying",
    "standing",
    "washing dishes",
    "vacuuming",
    "sweeping",
    "walking",
    "ascending stairs",
    "descending stairs",
    "treadmill running",
    "bicycling 50 W",
    "bicycling 100 W",
    "rope jumping",
)

#: the subject files: the release's names (``dataset_1.txt`` ..) or ``S01.csv`` ..; alternatives, one may match
DEFAULT_FILE_GLOBS = ("S*.csv", "dataset_*.txt")

DEFAULT_SENSORS: dict[str, list[int]] = {
    "hip": [0, 1, 2, 3, 4, 5],
    "chest": [6, 7, 8, 9, 10, 11],
    "right_wrist": [12, 13, 14, 15, 16, 17],
    "left_ankle": [18, 19, 20, 21, 22, 23],
}


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def natural_key(name: str) -> list[tuple[int, int | str]]:
    """Sort key that orders the digit runs of ``name`` by value: ``dataset_2`` before ``dataset_10``."""
    return [(1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", name) if part]


def _some(names: Sequence[str], limit: int = 5) -> str:
    """``a, b, c`` or ``a, b, c, d, e, .. (12 in all)`` for a long list."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, .. ({len(names)} in all)"


class DaLiAc(DatasetPlugin):
    """Windows of DaLiAc sensor data, shape ``channels x window``, 13 classes.

    Args:
        root: folder holding the per-subject files.
        file_glob: pattern (relative to ``root``) of the subject files, or a list of alternative patterns of which
            exactly one may match (the default accepts the release's ``dataset_1.txt`` .. and ``S01.csv`` ..); a
            file's stem names its subject.
        delimiter: column separator; ``None`` = any whitespace.
        sensors: sensor name -> the 0-based columns it occupies; channels are these columns, in this order.
        use_sensors: names of ``sensors`` to use (e.g. ``[hip, left_ankle]``); ``None`` = all.
        label_column: 0-based column of the activity label.
        num_columns: columns every row must have; ``None`` = as many as the file's first row.
        num_classes: number of activities.
        label_offset: the smallest label in the files (1: labels 1..13 become classes 0..12).
        window / stride: window length and hop, in samples.
        mixed_windows: a window whose rows carry different labels is dropped (``drop``) or takes its most
            frequent label (``majority``).
        split: ``subject`` (whole subjects per split) or ``random`` (stratified split of windows).
        val_subjects / test_subjects: subject file stems (e.g. ``dataset_3``) for validation / test
            (``split=subject``); ``None`` = a
            seeded choice of ``val_fraction`` / ``test_fraction`` of the subjects.
        val_fraction / test_fraction: split sizes, as fractions of subjects (subject split) or of windows (random).
    """

    def __init__(
        self,
        root: str = "data/daliac",
        file_glob: str | Sequence[str] = DEFAULT_FILE_GLOBS,
        delimiter: str | None = ",",
        sensors: Mapping[str, Sequence[int]] | None = None,
        use_sensors: str | Sequence[str] | None = None,
        label_column: int = 24,
        num_columns: int | None = None,
        num_classes: int = 13,
        label_offset: int = 1,
        window: int = 1024,
        stride: int = 512,
        mixed_windows: str = "drop",
        split: str = "subject",
        val_subjects: str | Sequence[str] | None = None,
        test_subjects: str | Sequence[str] | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
    ) -> None:
        self.root = root
        self.file_glob = file_glob
        self.delimiter = delimiter
        raw: Mapping[str, Any] = DEFAULT_SENSORS if sensors is None else sensors
        self.sensors = {str(k): list(v) for k, v in raw.items()}
        self.use_sensors = _names(use_sensors)
        self.label_column = label_column
        self.num_columns = num_columns
        self._num_classes = num_classes
        self.label_offset = label_offset
        self.window = window
        self.stride = stride
        self.mixed_windows = mixed_windows
        self.split = split
        self.val_subjects = _names(val_subjects)
        self.test_subjects = _names(test_subjects)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    # ----------------------------------------------------------------------------------------------- config checks
    @cached_property
    def columns(self) -> list[int]:
        """The 0-based file columns used as channels, in channel order. Raises ConfigError on a bad layout."""
        for key, value in (("window", self.window), ("stride", self.stride), ("num_classes", self._num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"dataset.{key}", f"must be a positive integer, got {value!r}")
        if isinstance(self.label_offset, bool) or not isinstance(self.label_offset, int):
            raise ConfigError("dataset.label_offset", f"must be an integer, got {self.label_offset!r}")
        if self.num_columns is not None and (not isinstance(self.num_columns, int) or self.num_columns < 2):
            raise ConfigError("dataset.num_columns", f"must be an integer >= 2 or null, got {self.num_columns!r}")
        _ = self.file_globs
        if self.mixed_windows not in ("drop", "majority"):
            raise ConfigError("dataset.mixed_windows", f"'{self.mixed_windows}' is not an option", ["drop", "majority"])
        if self.split not in ("subject", "random"):
            raise ConfigError("dataset.split", f"'{self.split}' is not an option", ["subject", "random"])
        for key, frac in (("val_fraction", self.val_fraction), ("test_fraction", self.test_fraction)):
            if not 0.0 < float(frac) < 1.0:
                raise ConfigError(f"dataset.{key}", f"must be between 0 and 1 (exclusive), got {frac}")
        if float(self.val_fraction) + float(self.test_fraction) >= 1.0:
            raise ConfigError(
                "dataset.val_fraction", "plus dataset.test_fraction must be below 1, leaving training data"
            )
        if not self.sensors:
            raise ConfigError(
                "dataset.sensors", "is empty; map each sensor name to its columns, e.g. hip: [0,1,2,3,4,5]"
            )
        names = self.use_sensors if self.use_sensors is not None else list(self.sensors)
        unknown = [n for n in names if n not in self.sensors]
        if unknown or not names:
            raise ConfigError(
                "dataset.use_sensors", f"names unknown sensors {unknown}" if unknown else "is empty", list(self.sensors)
            )
        cols: list[int] = []
        for name in names:
            for c in self.sensors[name]:
                if isinstance(c, bool) or not isinstance(c, int) or c < 0:
                    raise ConfigError(f"dataset.sensors.{name}", f"column {c!r} is not a non-negative integer")
                cols.append(c)
        if len(set(cols)) != len(cols):
            raise ConfigError("dataset.sensors", f"the selected sensors share columns: {cols}")
        if isinstance(self.label_column, bool) or not isinstance(self.label_column, int) or self.label_column < 0:
            raise ConfigError("dataset.label_column", f"must be a non-negative integer, got {self.label_column!r}")
        if self.label_column in cols:
            raise ConfigError("dataset.label_column", f"column {self.label_column} is also a sensor column")
        return cols

    @cached_property
    def file_globs(self) -> list[str]:
        """``file_glob`` as a list of patterns. Raises ConfigError unless it is a non-empty (list of) string(s)."""
        globs = [self.file_glob] if isinstance(self.file_glob, str) else self.file_glob
        if not isinstance(globs, Sequence) or not globs or not all(isinstance(g, str) and g.strip() for g in globs):
            raise ConfigError(
                "dataset.file_glob",
                f"must be a pattern or a non-empty list of patterns, got {self.file_glob!r}",
                hint=f"The default is {list(DEFAULT_FILE_GLOBS)}.",
            )
        return [str(g) for g in globs]

    def _patterns(self) -> str:
        return " or ".join(f"'{g}'" for g in self.file_globs)

    def _subject_files_in(self, folder: Path) -> dict[str, list[Path]]:
        """Pattern -> the files of ``folder`` it matches (naturally sorted), for the patterns that match any."""
        found = {g: [p for p in folder.glob(g) if p.is_file()] for g in self.file_globs}
        return {g: sorted(files, key=lambda p: natural_key(p.name)) for g, files in found.items() if files}

    def _subject_files(self, root: Path) -> list[Path]:
        """The per-subject files under ``root``: those of the one pattern in ``file_globs`` that matches."""
        hits = self._subject_files_in(root)
        if len(hits) > 1:
            which = "; ".join(f"'{g}' ({len(f)} files: {_some([p.name for p in f], 4)})" for g, f in hits.items())
            raise DatasetError(
                f"Config key 'dataset.file_glob': more than one of the alternative patterns matches files in "
                f"'{root}': {which}. They are probably the same subjects under two names; keep one set of "
                "per-subject files in the folder, or set dataset.file_glob to the one pattern to use."
            )
        if hits:
            return next(iter(hits.values()))
        entries = sorted(root.iterdir(), key=lambda p: natural_key(p.name))
        if entries:
            names = [p.name + ("/" if p.is_dir() else "") for p in entries]
            held = f"The folder holds {len(entries)} {'entry' if len(entries) == 1 else 'entries'}: {_some(names)}."
        else:
            held = f"'{root}' is empty."
        for sub in (p for p in entries if p.is_dir()):  # unpacked one level too deep?
            inner = self._subject_files_in(sub)
            if inner:
                count = sum(map(len, inner.values()))
                hint = f"Its subfolder '{sub.name}' holds {count} matching files: set dataset.root={sub}."
                break
        else:
            hint = (
                "Point dataset.root at the folder with the per-subject files (the release's dataset_1.txt .. "
                "dataset_19.txt) or set dataset.file_glob to their pattern."
            )
        raise DatasetError(
            f"Config key 'dataset.file_glob': no file in '{root}' matches {self._patterns()} (the patterns tried, "
            f"relative to dataset.root). {held} {hint}"
        )

    # --------------------------------------------------------------------------------------------------- parsing
    def _fail_row(self, path: Path, row: int, problem: str) -> DatasetError:
        """A DatasetError for data row ``row`` (0-based, blank lines skipped) of ``path``, with its line number."""
        found, seen = 0, -1
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, text in enumerate(f, 1):
                if text.strip():
                    seen += 1
                    if seen == row:
                        found = lineno
                        break
        return DatasetError(f"Config key 'dataset.root': '{path}' line {found}: {problem}")

    def _diagnose(self, path: Path, expected: int | None, cause: Exception | None = None) -> DatasetError:
        """Scan ``path`` line by line for the first malformed row (only called when the fast parse failed)."""
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, text in enumerate(f, 1):
                text = text.strip()
                if not text:
                    continue
                fields = text.split(self.delimiter) if self.delimiter else text.split()
                if expected is None:
                    expected = len(fields)
                if len(fields) != expected:
                    return DatasetError(
                        f"Config key 'dataset.root': '{path}' line {lineno} has {len(fields)} columns but "
                        f"{expected} were expected (dataset.num_columns, or the file's first row when null; "
                        f"columns separated by dataset.delimiter={self.delimiter!r}). Fix or remove that row."
                    )
                for col, token in enumerate(fields, 1):
                    try:
                        value = float(token)
                    except ValueError:
                        value = math.nan
                    if math.isnan(value):
                        return DatasetError(
                            f"Config key 'dataset.root': '{path}' line {lineno} column {col} holds "
                            f"{token.strip()!r}, which is not a number; every column must be numeric. Fix or "
                            "remove that row."
                        )
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        return DatasetError(f"Config key 'dataset.root': '{path}' could not be parsed as numeric text{detail}.")

    def _read(self, path: Path) -> np.ndarray:
        """The file as a float64 ``rows x columns`` array; line-accurate DatasetError on malformed rows."""
        import pandas as pd

        sep = self.delimiter if self.delimiter else r"\s+"
        try:
            frame = pd.read_csv(path, header=None, sep=sep, dtype=np.float64, engine="c", skip_blank_lines=True)
        except pd.errors.EmptyDataError:
            raise DatasetError(f"Config key 'dataset.root': '{path}' is empty; remove it or replace it.") from None
        except (pd.errors.ParserError, ValueError, TypeError) as exc:
            raise self._diagnose(path, self.num_columns, exc) from exc
        data = frame.to_numpy(dtype=np.float64)
        expected = self.num_columns if self.num_columns is not None else data.shape[1]
        if data.shape[1] != expected or np.isnan(data).any():
            raise self._diagnose(path, expected)
        return data

    def _windows(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        cols = self.columns
        data = self._read(path)
        needed = max(*cols, self.label_column) + 1
        if data.shape[1] < needed:
            raise DatasetError(
                f"Config key 'dataset.sensors': '{path}' has {data.shape[1]} columns, but dataset.sensors and "
                f"dataset.label_column={self.label_column} use columns up to {needed - 1} (0-based). Set them to "
                "the release's layout."
            )
        labels = data[:, self.label_column]
        lo, hi = self.label_offset, self.label_offset + self._num_classes - 1
        bad = np.flatnonzero((labels != np.round(labels)) | (labels < lo) | (labels > hi))
        if len(bad):
            raise self._fail_row(
                path,
                int(bad[0]),
                f"activity label {labels[bad[0]]:g} (column {self.label_column}, 0-based) is not an integer in "
                f"{lo}..{hi} (dataset.label_offset .. label_offset + dataset.num_classes - 1). Check "
                "dataset.label_column and the labels.",
            )
        if len(data) < self.window:
            raise DatasetError(
                f"Config key 'dataset.window': '{path}' has {len(data)} rows, fewer than one window of "
                f"{self.window}. Lower dataset.window or remove the file."
            )
        y_rows = (labels - lo).astype(np.int64)
        x_rows = np.ascontiguousarray(data[:, cols], dtype=np.float32)
        xw = np.lib.stride_tricks.sliding_window_view(x_rows, self.window, axis=0)[:: self.stride]  # W x C x L
        yw = np.lib.stride_tricks.sliding_window_view(y_rows, self.window)[:: self.stride]  # W x L
        pure = yw.min(axis=1) == yw.max(axis=1)
        if self.mixed_windows == "drop":
            return np.ascontiguousarray(xw[pure]), yw[pure, 0].copy()
        counts = np.stack([np.bincount(row, minlength=self._num_classes) for row in yw]) if len(yw) else yw
        return np.ascontiguousarray(xw), counts.argmax(axis=1).astype(np.int64)

    @cached_property
    def _data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """All windows (``N x C x L`` float32), labels, subject index per window, and the subject names."""
        _ = self.columns
        root = Path(self.root).expanduser()
        if not root.is_dir():
            raise DatasetError(
                f"Config key 'dataset.root': the folder '{root}' does not exist. DaLiAc is not downloaded "
                "automatically: get the release from the DaLiAc page of the FAU Machine Learning and Data "
                "Analytics Lab (mad.tf.fau.de), unpack the "
                f"per-subject files (dataset_1.txt .. dataset_19.txt) into one folder and pass "
                f"dataset.root=/that/folder (files matching dataset.file_glob: {self._patterns()})."
            )
        files = self._subject_files(root)
        stems = [p.stem for p in files]
        if len(set(stems)) != len(stems):
            raise DatasetError(
                f"Config key 'dataset.file_glob': {self._patterns()} matches several files with the same name "
                f"under '{root}' ({stems}); subjects are named by file stem, so make the pattern match one each."
            )
        xs, ys = [], []
        for path in files:
            x, y = self._windows(path)
            xs.append(x)
            ys.append(y)
        counts = [len(y) for y in ys]
        subject = np.repeat(np.arange(len(files)), counts)
        x_all = np.concatenate(xs) if sum(counts) else np.zeros((0, len(self.columns), self.window), np.float32)
        y_all = np.concatenate(ys).astype(np.int64)
        if len(y_all) == 0:
            raise DatasetError(
                f"Config key 'dataset.mixed_windows': every window of dataset.window={self.window} samples in "
                f"'{root}' spans more than one activity, so all were dropped. Lower dataset.window/dataset.stride "
                "or set dataset.mixed_windows=majority."
            )
        return x_all, y_all, subject, stems

    # ------------------------------------------------------------------------------------------------ interface
    @property
    def input_shape(self) -> tuple[int, ...]:
        _ = self._data  # fail early (the search builds every plugin once before the first trial)
        return (len(self.columns), int(self.window))

    @property
    def num_classes(self) -> int:
        _ = self.columns
        return int(self._num_classes)

    @property
    def subjects(self) -> list[str]:
        """Subject names (file stems), sorted with digit runs by value (``dataset_2`` before ``dataset_10``)."""
        return list(self._data[3])

    def subject_split(self, seed: int) -> dict[str, list[str]]:
        """The subjects of each split for ``split=subject``: named lists first, the rest a seeded choice."""
        stems = self.subjects
        chosen: dict[str, list[str]] = {}
        for key, names in (("val_subjects", self.val_subjects), ("test_subjects", self.test_subjects)):
            if names is None:
                continue
            unknown = [n for n in names if n not in stems]
            if unknown or not names:
                raise DatasetError(
                    f"Config key 'dataset.{key}': "
                    + (f"names unknown subjects {unknown}" if unknown else "is an empty list")
                    + f"; subjects are the file stems in '{Path(self.root).expanduser()}': {', '.join(stems)}. "
                    "Use those names, or null for a seeded choice."
                )
            chosen[key] = list(dict.fromkeys(names))
        overlap = set(chosen.get("val_subjects", [])) & set(chosen.get("test_subjects", []))
        if overlap:
            raise DatasetError(
                f"Config key 'dataset.test_subjects': subjects {sorted(overlap)} are also in dataset.val_subjects; "
                "a subject belongs to one split only."
            )
        rest = [s for s in stems if s not in chosen.get("val_subjects", []) + chosen.get("test_subjects", [])]
        rng = np.random.default_rng(seed)
        rest = [rest[i] for i in rng.permutation(len(rest))]
        for key, frac in (("test_subjects", self.test_fraction), ("val_subjects", self.val_fraction)):
            if key not in chosen:
                n = max(1, round(float(frac) * len(stems)))
                chosen[key], rest = rest[:n], rest[n:]
        if not rest or not chosen["val_subjects"] or not chosen["test_subjects"]:
            raise DatasetError(
                f"Config key 'dataset.split': {len(stems)} subject(s) ({', '.join(stems)}) cannot be split into "
                "non-empty train, validation and test subjects. Add subjects, name fewer in "
                "dataset.val_subjects/test_subjects, or use dataset.split=random."
            )
        parts = {"train": rest, "val": chosen["val_subjects"], "test": chosen["test_subjects"]}
        return {k: sorted(v, key=natural_key) for k, v in parts.items()}

    def datamodule(self, batch_size: int, seed: int) -> ArrayDataModule:
        x, y, subject, stems = self._data
        if self.split == "random":
            try:
                return ArrayDataModule(x, y, batch_size, seed, float(self.val_fraction), float(self.test_fraction))
            except ValueError as exc:
                raise DatasetError(
                    f"Config key 'dataset.split': a stratified random split of the {len(y)} windows failed ({exc}). "
                    "Lower dataset.window/dataset.stride for more windows or change the fractions."
                ) from exc
        names = self.subject_split(seed)
        index = {name: i for i, name in enumerate(stems)}
        parts = {k: np.flatnonzero(np.isin(subject, [index[s] for s in v])) for k, v in names.items()}
        empty = [k for k, v in parts.items() if len(v) == 0]
        if empty:
            which = "; ".join(f"{k}: {', '.join(names[k])}" for k in empty)
            raise DatasetError(
                f"Config key 'dataset.split': the subjects of the {', '.join(empty)} split ({which}) "
                f"have no window of dataset.window={self.window} samples with a single activity. Choose other "
                "subjects, lower dataset.window or set dataset.mixed_windows=majority."
            )
        return ArrayDataModule(x, y, batch_size, seed, split_indices=parts)
