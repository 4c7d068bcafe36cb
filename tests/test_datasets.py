"""Dataset plugins: CIFAR-10 (python pickles), DaLiAc (per-subject files), BasicMotions (aeon) and ArrayDataModule.

Fixtures are written in the real release formats by tests/dataset_fixtures.py; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from core.errors import ConfigError, DatasetError
from core.trial.datamodule import ArrayDataModule
from plugins.datasets.aeon_bundled import AeonBundled
from plugins.datasets.cifar10 import Cifar10, crop_and_flip
from plugins.datasets.daliac import DaLiAc
from tests.dataset_fixtures import write_cifar10_fixture, write_daliac_fixture


def _train_stats(dm: ArrayDataModule) -> tuple[np.ndarray, np.ndarray]:
    x = dm.splits["train"].tensors[0].numpy()
    axes = (0, *range(2, x.ndim))
    return x.mean(axis=axes), x.std(axis=axes)


# --------------------------------------------------------------------------------------------- ArrayDataModule
def test_array_datamodule_backwards_compatible_and_predefined_splits() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(100, 2, 5)).astype(np.float32)
    y = np.arange(100) % 4
    dm = ArrayDataModule(x, y, 16, 0)  # the positional call every existing caller makes
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 60, "val": 20, "test": 20}
    mean, std = _train_stats(dm)
    np.testing.assert_allclose(mean, 0, atol=1e-4)
    np.testing.assert_allclose(std, 1, atol=1e-3)
    assert dm.mean.shape == (2, 1) and dm.std.shape == (2, 1)

    parts = {"train": np.arange(0, 50), "val": np.arange(50, 70), "test": np.arange(70, 100)}
    dm2 = ArrayDataModule(x, y, 16, 0, split_indices=parts)
    assert {k: len(v) for k, v in dm2.splits.items()} == {"train": 50, "val": 20, "test": 30}
    np.testing.assert_allclose(dm2.mean.ravel(), x[:50].mean(axis=(0, 2)), rtol=1e-5)
    with pytest.raises(ValueError, match="split_indices"):
        ArrayDataModule(x, y, 16, 0, split_indices={"train": np.arange(5)})


def test_uint8_input_normalized_like_float() -> None:
    rng = np.random.default_rng(1)
    x8 = rng.integers(0, 256, size=(40, 3, 4, 4), dtype=np.uint8)
    y = np.arange(40) % 2
    a = ArrayDataModule(x8, y, 8, 0, 0.25, 0.25)
    b = ArrayDataModule(x8.astype(np.float32), y, 8, 0, 0.25, 0.25)
    assert a.splits["train"].tensors[0].dtype == torch.float32
    torch.testing.assert_close(a.splits["test"].tensors[0], b.splits["test"].tensors[0])


# ------------------------------------------------------------------------------------------------------ CIFAR-10
@pytest.fixture
def cifar_root(tmp_path: Path) -> Path:
    return write_cifar10_fixture(tmp_path / "cifar")


def test_cifar10_round_trip(cifar_root: Path) -> None:
    ds = Cifar10(root=str(cifar_root))
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10
    dm = ds.datamodule(batch_size=16, seed=0)
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 90, "val": 10, "test": 20}
    for split in dm.splits.values():
        x, y = split.tensors
        assert x.shape[1:] == (3, 32, 32) and x.dtype == torch.float32
        assert int(y.min()) >= 0 and int(y.max()) <= 9
    assert sorted(dm.splits["val"].tensors[1].tolist()) == list(range(10))  # stratified: one per class
    mean, std = _train_stats(dm)
    np.testing.assert_allclose(mean, 0, atol=1e-4)
    np.testing.assert_allclose(std, 1, atol=1e-3)
    # the test split is test_batch, in file order
    raw = pickle.loads((cifar_root / "cifar-10-batches-py" / "test_batch").read_bytes(), encoding="bytes")
    assert dm.splits["test"].tensors[1].tolist() == raw[b"labels"]
    # seeded: same seed, same split and batches; another seed, another validation split
    again = Cifar10(root=str(cifar_root)).datamodule(batch_size=16, seed=0)
    np.testing.assert_array_equal(dm.indices["val"], again.indices["val"])
    for (xa, ya), (xb, yb) in zip(dm.train_dataloader(), again.train_dataloader()):
        torch.testing.assert_close(xa, xb)
        assert torch.equal(ya, yb)
    other = ds.datamodule(batch_size=16, seed=1)
    assert not np.array_equal(np.sort(dm.indices["val"]), np.sort(other.indices["val"]))


def test_cifar10_subset(cifar_root: Path) -> None:
    dm = Cifar10(root=str(cifar_root), subset=30).datamodule(batch_size=8, seed=0)
    assert len(dm.splits["train"]) == 30 and len(dm.splits["val"]) == 10 and len(dm.splits["test"]) == 20
    assert sorted(set(dm.splits["train"].tensors[1].tolist())) == list(range(10))
    with pytest.raises(ConfigError, match=r"dataset\.subset"):
        Cifar10(root=str(cifar_root), subset=5).datamodule(batch_size=8, seed=0)


def test_cifar10_augmentation_only_on_train_loader(cifar_root: Path) -> None:
    aug = Cifar10(root=str(cifar_root), augment=True).datamodule(batch_size=16, seed=0)
    plain = Cifar10(root=str(cifar_root), augment=False).datamodule(batch_size=16, seed=0)
    (xa, ya), (xp, yp) = next(iter(aug.train_dataloader())), next(iter(plain.train_dataloader()))
    assert torch.equal(ya, yp)  # same shuffle
    assert xa.shape == xp.shape and not torch.equal(xa, xp)
    for name in ("val_dataloader", "test_dataloader"):
        for (a, _), (b, _) in zip(getattr(aug, name)(), getattr(plain, name)()):
            assert torch.equal(a, b)
    calib = aug.calibration_batches(2)
    assert len(calib) == 2
    torch.testing.assert_close(torch.cat(calib), aug.splits["train"].tensors[0][:32])
    # seeded: a second loader replays the same augmentation
    assert torch.equal(next(iter(aug.train_dataloader()))[0], xa)


def test_crop_and_flip_shifts_within_padding() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    g = torch.Generator().manual_seed(0)
    out = crop_and_flip(x, g, padding=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1)) for w in windows)
    assert torch.equal(crop_and_flip(x, torch.Generator().manual_seed(0), padding=2), out)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_cifar10_restricted_unpickler_rejects_code(cifar_root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    batch = cifar_root / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": []}, protocol=2))
    with pytest.raises(DatasetError) as err:
        Cifar10(root=str(cifar_root)).datamodule(batch_size=8, seed=0)
    msg = str(err.value)
    assert "data_batch_2" in msg and "system" in msg and "dataset.root" in msg
    assert not marker.exists()
    # builtins are refused too
    batch.write_bytes(pickle.dumps({b"data": eval}, protocol=2))
    with pytest.raises(DatasetError, match=r"builtin\w*\.eval"):
        Cifar10(root=str(cifar_root)).datamodule(batch_size=8, seed=0)


def test_cifar10_missing_directory_message(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        _ = Cifar10(root=str(tmp_path / "nowhere")).input_shape
    msg = str(err.value)
    print(msg)
    assert "dataset.root" in msg and "dataset.download=true" in msg
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in msg
    assert "data_batch_1" in msg and "test_batch" in msg and "cifar-10-python.tar.gz" in msg
    assert "\n" not in msg


def test_cifar10_missing_one_file(cifar_root: Path) -> None:
    (cifar_root / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DatasetError, match="lacks test_batch\\.") as err:
        Cifar10(root=str(cifar_root)).datamodule(batch_size=8, seed=0)
    assert "data_batch_1" not in str(err.value)


def test_cifar10_truncated_batch(cifar_root: Path) -> None:
    path = cifar_root / "cifar-10-batches-py" / "data_batch_3"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError) as err:
        Cifar10(root=str(cifar_root)).datamodule(batch_size=8, seed=0)
    msg = str(err.value)
    print(msg)
    assert "data_batch_3" in msg and "truncated or corrupt" in msg


def test_cifar10_wrong_shape(cifar_root: Path) -> None:
    path = cifar_root / "cifar-10-batches-py" / "data_batch_4"
    batch = {b"data": np.zeros((20, 100), np.uint8), b"labels": [0] * 20}
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match=r"data_batch_4.*shape \(20, 100\).*N x 3072"):
        Cifar10(root=str(cifar_root)).datamodule(batch_size=8, seed=0)


def _archive(src_root: Path, dest: Path) -> tuple[Path, str]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(src_root / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return dest, hashlib.md5(dest.read_bytes()).hexdigest()


def test_cifar10_download_verifies_md5(cifar_root: Path, tmp_path: Path) -> None:
    archive, md5 = _archive(cifar_root, tmp_path / "mirror" / "cifar-10-python.tar.gz")
    url = archive.as_uri()
    root = tmp_path / "fetched"
    ds = Cifar10(root=str(root), download=True, url=url, md5=md5)
    dm = ds.datamodule(batch_size=8, seed=0)
    assert len(dm.splits["test"]) == 20 and (root / "cifar-10-batches-py" / "test_batch").is_file()

    bad_root = tmp_path / "bad"
    with pytest.raises(DatasetError) as err:
        _ = Cifar10(root=str(bad_root), download=True, url=url, md5="0" * 32).input_shape
    msg = str(err.value)
    print(msg)
    assert "dataset.md5" in msg and md5 in msg and "0" * 32 in msg
    assert not (bad_root / "cifar-10-python.tar.gz").exists()  # a bad download is not kept
    assert not (bad_root / "cifar-10-batches-py").exists()

    with pytest.raises(DatasetError, match=r"dataset\.url.*downloading"):
        _ = Cifar10(root=str(tmp_path / "x"), download=True, url=(tmp_path / "none.tgz").as_uri()).input_shape


def test_cifar10_local_archive_without_download(cifar_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "offline"
    _, md5 = _archive(cifar_root, root / "cifar-10-python.tar.gz")
    assert Cifar10(root=str(root), md5=md5).datamodule(batch_size=8, seed=0).splits["train"].tensors[0].shape[0] == 90


def test_cifar10_unsafe_archive_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match=re.escape("unsafe entry '../escaped.txt'")):
        _ = Cifar10(root=str(root), md5=md5).input_shape
    assert not (tmp_path / "escaped.txt").exists()


# --------------------------------------------------------------------------------------------------------- DaLiAc
@pytest.fixture
def daliac_root(tmp_path: Path) -> Path:
    return write_daliac_fixture(tmp_path / "daliac")


def _daliac(root: Path, **kw: object) -> DaLiAc:
    return DaLiAc(root=str(root), **{"window": 128, "stride": 64, **kw})  # type: ignore[arg-type]


def test_daliac_round_trip_subject_split(daliac_root: Path) -> None:
    ds = _daliac(daliac_root)
    assert ds.input_shape == (24, 128) and ds.num_classes == 13
    assert ds.subjects == ["S01", "S02", "S03", "S04"]
    starts = np.arange(0, 13 * 300 - 128 + 1, 64)
    pure = int((starts // 300 == (starts + 127) // 300).sum())
    x, y, subject, _ = ds._data
    assert x.shape == (4 * pure, 24, 128) and x.dtype == np.float32
    assert sorted(set(y.tolist())) == list(range(13))
    # window contents are the file's rows, channels first
    rows = np.loadtxt(daliac_root / "S01.csv", delimiter=",")
    np.testing.assert_allclose(x[0], rows[:128, :24].T, rtol=1e-6)
    assert y[0] == rows[0, 24] - 1

    dm = ds.datamodule(batch_size=16, seed=0)
    parts = ds.subject_split(0)
    assert len(parts["val"]) == 1 and len(parts["test"]) == 1 and len(parts["train"]) == 2
    assert set(parts["train"]) | set(parts["val"]) | set(parts["test"]) == set(ds.subjects)
    seen = {k: {ds.subjects[i] for i in subject[idx]} for k, idx in dm.indices.items()}
    assert seen == {k: set(v) for k, v in parts.items()}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 2 * pure, "val": pure, "test": pure}
    mean, std = _train_stats(dm)
    np.testing.assert_allclose(mean, 0, atol=1e-4)
    np.testing.assert_allclose(std, 1, atol=1e-3)
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (16, 24, 128) and int(yb.max()) <= 12
    # seeded
    assert ds.subject_split(0) == _daliac(daliac_root).subject_split(0)
    assert len({str(ds.subject_split(s)) for s in range(6)}) > 1


def test_daliac_named_subjects_random_split_and_options(daliac_root: Path) -> None:
    ds = _daliac(daliac_root, val_subjects=["S02"], test_subjects="S04")
    assert ds.subject_split(7) == {"train": ["S01", "S03"], "val": ["S02"], "test": ["S04"]}

    rnd = _daliac(daliac_root, split="random", val_fraction=0.25, test_fraction=0.25)
    dm = rnd.datamodule(batch_size=8, seed=0)
    n = len(rnd._data[1])
    assert sum(len(v) for v in dm.splits.values()) == n
    assert abs(len(dm.splits["test"]) - n // 4) <= 13

    drop = _daliac(daliac_root)._data[1]
    major = _daliac(daliac_root, mixed_windows="majority")._data[1]
    assert len(major) == 4 * len(np.arange(0, 13 * 300 - 128 + 1, 64)) > len(drop)

    two = _daliac(daliac_root, use_sensors=["hip", "left_ankle"])
    assert two.input_shape == (12, 128)
    rows = np.loadtxt(daliac_root / "S01.csv", delimiter=",")
    np.testing.assert_allclose(two._data[0][0], rows[:128, [0, 1, 2, 3, 4, 5, 18, 19, 20, 21, 22, 23]].T, rtol=1e-6)

    with pytest.raises(ConfigError, match=r"dataset\.mixed_windows.*drop, majority"):
        _ = _daliac(daliac_root, mixed_windows="vote").input_shape


def _edit_line(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_daliac_wrong_column_count(daliac_root: Path) -> None:
    path = daliac_root / "S02.csv"
    row = path.read_text().splitlines()[9].split(",")
    _edit_line(path, 10, ",".join(row[:-2]))  # 23 columns
    with pytest.raises(DatasetError) as err:
        _ = _daliac(daliac_root).input_shape
    msg = str(err.value)
    print(msg)
    assert "S02.csv" in msg and "line 10" in msg and "has 23 columns but 25 were expected" in msg
    _edit_line(path, 10, ",".join([*row, "1.0"]))  # 26 columns: pandas' own error path
    with pytest.raises(DatasetError, match="line 10 has 26 columns but 25"):
        _ = _daliac(daliac_root).input_shape


def test_daliac_bad_values_and_labels(daliac_root: Path) -> None:
    path = daliac_root / "S03.csv"
    good = path.read_text()
    row = good.splitlines()[4].split(",")
    _edit_line(path, 5, ",".join([*row[:2], "abc", *row[3:]]))
    with pytest.raises(DatasetError, match=r"S03\.csv' line 5 column 3 holds 'abc', which is not a number"):
        _ = _daliac(daliac_root).input_shape
    path.write_text(good)
    _edit_line(path, 42, ",".join([*row[:24], "14"]))
    with pytest.raises(DatasetError, match=r"S03\.csv' line 42: activity label 14 .* 1\.\.13"):
        _ = _daliac(daliac_root).input_shape
    path.write_text(good)
    _edit_line(path, 3, ",".join([*row[:24], "0"]))
    with pytest.raises(DatasetError, match="line 3: activity label 0 "):
        _ = _daliac(daliac_root).input_shape


def test_daliac_missing_and_short(daliac_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        _ = _daliac(tmp_path / "absent").input_shape
    msg = str(err.value)
    print(msg)
    assert "dataset.root" in msg and str(tmp_path / "absent") in msg
    with pytest.raises(DatasetError, match=r"dataset\.file_glob.*no file in .* matches '\*\.txt'"):
        _ = _daliac(daliac_root, file_glob="*.txt").input_shape
    with pytest.raises(DatasetError, match=r"dataset\.val_subjects.*unknown subjects \['S09'\].*S01, S02, S03, S04"):
        _daliac(daliac_root, val_subjects=["S09"]).datamodule(batch_size=8, seed=0)
    lines = (daliac_root / "S04.csv").read_text().splitlines()
    (daliac_root / "S04.csv").write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(DatasetError, match=r"dataset\.window.*S04\.csv' has 100 rows, fewer than one window of 128"):
        _ = _daliac(daliac_root).input_shape


def test_daliac_parse_speed_large_file(tmp_path: Path) -> None:
    """A subject file of the real size (~200k rows) parses in a few seconds."""
    write_daliac_fixture(tmp_path, subjects=1, rows_per_activity=16000, seed=3)
    t0 = time.perf_counter()
    ds = DaLiAc(root=str(tmp_path))
    shape = ds.input_shape
    elapsed = time.perf_counter() - t0
    print(f"parsed {13 * 16000} rows in {elapsed:.2f} s")
    assert shape == (24, 1024) and elapsed < 10


def test_daliac_release_file_names_load_with_default_config(make_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The release names its files dataset_1.txt .. dataset_19.txt; the default config loads them as they are."""
    root = write_daliac_fixture(tmp_path / "release", subjects=10, names="release")
    assert sorted(p.name for p in root.iterdir()) == sorted(f"dataset_{i}.txt" for i in range(1, 11))
    first = (root / "dataset_1.txt").read_text().splitlines()[0].split(",")
    assert len(first) == 25 and all(float(v) == float(v) for v in first)  # no header: row 1 is data
    names = [f"dataset_{i}" for i in range(1, 11)]  # numeric order, not dataset_1, dataset_10, dataset_2, ..

    cfg = make_cfg("dataset=daliac", "dataset.window=128", "dataset.stride=64")
    cfg.dataset.root = str(root)
    ds = instantiate(cfg.dataset, _convert_="all")
    assert ds.input_shape == (24, 128) and ds.num_classes == 13
    assert ds.subjects == names
    assert DaLiAc(root=str(root), window=128, stride=64).subjects == names  # the class default, too
    x, y, subject, _ = ds._data
    rows = np.loadtxt(root / "dataset_1.txt", delimiter=",")
    first_window = np.flatnonzero(subject == 0)[0]
    np.testing.assert_allclose(x[first_window], rows[:128, :24].T, rtol=1e-6)
    assert y[first_window] == rows[0, 24] - 1
    parts = ds.subject_split(0)  # seeded: 20 % of 10 subjects each for validation and test
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (6, 2, 2)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == sorted(names)

    named = make_cfg(
        "dataset=daliac", "dataset.window=128", "dataset.stride=64", "dataset.val_subjects=[dataset_3]",
        "dataset.test_subjects=dataset_10",
    )  # fmt: skip
    named.dataset.root = str(root)
    ds = instantiate(named.dataset, _convert_="all")
    train = [n for n in names if n not in ("dataset_3", "dataset_10")]
    assert ds.subject_split(5) == {"train": train, "val": ["dataset_3"], "test": ["dataset_10"]}
    dm = ds.datamodule(batch_size=16, seed=5)
    _, _, subject, stems = ds._data
    seen = {k: sorted({stems[i] for i in subject[idx]}) for k, idx in dm.indices.items()}
    assert seen == {"train": sorted(train), "val": ["dataset_3"], "test": ["dataset_10"]}
    with pytest.raises(DatasetError, match=r"unknown subjects \['dataset_20'\].*dataset_1, dataset_2, .*dataset_10"):
        _daliac(root, test_subjects="dataset_20").datamodule(batch_size=8, seed=0)


def test_daliac_no_match_lists_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "download"
    root.mkdir()
    for name in ("readme.txt", "DaLiAc.zip", "notes.md"):
        (root / name).write_text("x\n")
    write_daliac_fixture(root / "DaLiAc", subjects=3, rows_per_activity=20, names="release")  # unpacked one deeper
    with pytest.raises(DatasetError) as err:
        _ = DaLiAc(root=str(root)).input_shape
    msg = str(err.value)
    print(msg)
    assert msg.startswith("Config key 'dataset.file_glob': ") and "\n" not in msg
    assert "'S*.csv'" in msg and "'dataset_*.txt'" in msg  # the patterns tried
    assert "4 entries" in msg and all(n in msg for n in ("readme.txt", "DaLiAc.zip", "notes.md", "DaLiAc/"))
    assert f"dataset.root={root / 'DaLiAc'}" in msg  # the subfolder that holds the files

    crowded = tmp_path / "crowded"
    crowded.mkdir()
    for i in range(30):
        (crowded / f"subject{i:02d}.dat").write_text("1\n")
    with pytest.raises(DatasetError) as err:
        _ = DaLiAc(root=str(crowded), file_glob="*.csv").input_shape
    msg = str(err.value)
    print(msg)
    assert "matches '*.csv'" in msg and "30 entries" in msg and "subject00.dat" in msg and "subject29.dat" not in msg

    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"dataset\.file_glob.*'\S+empty' is empty"):
        _ = DaLiAc(root=str(tmp_path / "empty")).input_shape


def test_daliac_file_glob_alternatives(daliac_root: Path) -> None:
    """file_glob is one pattern or a list of alternatives; files of two naming schemes in one folder are refused."""
    assert _daliac(daliac_root, file_glob="S0[12].csv").subjects == ["S01", "S02"]
    assert _daliac(daliac_root, file_glob=["dataset_*.txt", "S*.csv"]).subjects == ["S01", "S02", "S03", "S04"]
    write_daliac_fixture(daliac_root, subjects=2, rows_per_activity=20, names="release")
    with pytest.raises(DatasetError) as err:
        _ = _daliac(daliac_root).input_shape
    msg = str(err.value)
    print(msg)
    assert msg.startswith("Config key 'dataset.file_glob': ")
    assert "'S*.csv' (4 files: S01.csv, S02.csv, S03.csv, S04.csv)" in msg
    assert "'dataset_*.txt' (2 files: dataset_1.txt, dataset_2.txt)" in msg
    for bad in ([], "", ["S*.csv", 3]):
        with pytest.raises(ConfigError, match=r"dataset\.file_glob"):
            _ = _daliac(daliac_root, file_glob=bad).input_shape


# -------------------------------------------------------------------------------------------------- BasicMotions
def test_basic_motions_shapes() -> None:
    ds = AeonBundled("BasicMotions")
    assert ds.input_shape == (6, 100) and ds.num_classes == 4
    assert ds.classes == ["badminton", "running", "standing", "walking"]
    dm = ds.datamodule(batch_size=8, seed=0)
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 30, "val": 10, "test": 40}
    assert set(dm.splits["val"].tensors[1].tolist()) == {0, 1, 2, 3}  # stratified
    assert set(dm.splits["test"].tensors[1].tolist()) == {0, 1, 2, 3}
    mean, std = _train_stats(dm)
    np.testing.assert_allclose(mean, 0, atol=1e-4)
    np.testing.assert_allclose(std, 1, atol=1e-3)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 6, 100) and y.dtype == torch.int64


def test_basic_motions_without_aeon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(DatasetError, match=r"pip install 'tinymoo\[timeseries\]'"):
        _ = AeonBundled("BasicMotions").input_shape


def test_basic_motions_tiny_cnn_beats_chance() -> None:
    from plugins.models.small_cnn import SmallCNN

    torch.manual_seed(0)
    ds = AeonBundled("BasicMotions")
    dm = ds.datamodule(batch_size=8, seed=0)
    model = SmallCNN(depth=2, width=16, kernel_size=5, conv_dim=1).build(ds.input_shape, ds.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(10):
        model.train()
        for x, y in dm.train_dataloader():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in dm.test_dataloader():
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    accuracy = correct / total
    print(f"BasicMotions test accuracy after 10 epochs: {accuracy:.3f} (chance 0.25)")
    assert accuracy > 0.7  # observed 1.0 for seeds 0..4


# ------------------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("name", ["cifar10", "daliac", "basic_motions"])
def test_yaml_configs_build(name: str, make_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(f"dataset={name}")
    if name == "cifar10":
        cfg.dataset.root = str(write_cifar10_fixture(tmp_path))
    elif name == "daliac":
        cfg.dataset.root = str(write_daliac_fixture(tmp_path, rows_per_activity=2100))
    ds = instantiate(cfg.dataset, _convert_="all")
    expected = {"cifar10": (3, 32, 32), "daliac": (24, 1024), "basic_motions": (6, 100)}[name]
    assert ds.input_shape == expected
    if name == "daliac":
        assert len(ds.subjects) == 4
