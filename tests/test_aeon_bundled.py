"""``dataset=aeon_bundled``: UCR/UEA classification sets read offline from the files bundled inside aeon."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from core.errors import ConfigError, DatasetError
from core.interfaces.trial import TrialStatus
from core.search.loop import Search
from core.search.store import Store
from plugins.datasets.aeon_bundled import AeonBundled

BUNDLED = [
    "ACSF1", "ArrowHead", "BasicMotions", "Covid3Month_disc", "GunPoint", "ItalyPowerDemand", "JapaneseVowels_eq",
    "OSULeaf", "PickupGestureWiimoteZ_eq", "UnitTest",
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "shape", "classes", "sizes"),
    [
        ("OSULeaf", (1, 427), ["1", "2", "3", "4", "5", "6"], {"train": 150, "val": 50, "test": 242}),
        ("ArrowHead", (1, 251), ["0", "1", "2"], {"train": 27, "val": 9, "test": 175}),
    ],
)
def test_shapes_classes_and_split_sizes(name: str, shape: tuple[int, ...], classes: list[str], sizes) -> None:
    ds = AeonBundled(name)
    assert ds.input_shape == shape and ds.num_classes == len(classes) and ds.classes == classes
    dm = ds.datamodule(batch_size=16, seed=0)
    assert {k: len(v) for k, v in dm.splits.items()} == sizes
    x_train = dm.splits["train"].tensors[0].numpy()
    np.testing.assert_allclose(x_train.mean(axis=(0, 2)), 0, atol=1e-4)  # normalized on the train split
    np.testing.assert_allclose(x_train.std(axis=(0, 2)), 1, atol=1e-3)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, *shape) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert set(dm.splits["test"].tensors[1].tolist()) == set(range(len(classes)))


def test_validation_split_is_stratified() -> None:
    ds = AeonBundled("OSULeaf")
    dm = ds.datamodule(batch_size=16, seed=3)
    y_train_split = ds._arrays[1]
    per_class = np.bincount(y_train_split, minlength=ds.num_classes)  # 34 29 33 53 36 15
    in_val = np.bincount(dm.splits["val"].tensors[1].numpy(), minlength=ds.num_classes)
    assert per_class.tolist() == [34, 29, 33, 53, 36, 15]
    assert np.all(np.abs(in_val - 0.25 * per_class) <= 1), in_val
    # train + val partition the TRAIN split; test is exactly the TEST split
    train, val, test = dm.indices["train"], dm.indices["val"], dm.indices["test"]
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(200))
    assert test.tolist() == list(range(200, 442))


def test_split_is_deterministic_per_seed() -> None:
    ds = AeonBundled("ArrowHead", val_fraction=0.3)
    a, b, c = (ds.datamodule(batch_size=8, seed=s) for s in (1, 1, 2))
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(a.indices[split], b.indices[split])
        torch.testing.assert_close(a.splits[split].tensors[0], b.splits[split].tensors[0])
    assert sorted(a.indices["val"].tolist()) != sorted(c.indices["val"].tolist())
    assert len(a.indices["val"]) == len(c.indices["val"]) == 11  # ceil(0.3 * 36)


def test_unknown_name_lists_the_bundled_sets() -> None:
    with pytest.raises(ConfigError) as info:
        _ = AeonBundled("NoSuchSet").input_shape
    err = info.value
    assert err.key == "dataset.name" and "NoSuchSet" in str(err)
    assert err.choices == sorted(BUNDLED)
    with pytest.raises(ConfigError, match="Valid choices: ACSF1, ArrowHead"):
        _ = AeonBundled("Covid3Month").num_classes  # bundled, but a regression set


def test_unequal_length_sets_point_to_their_equal_length_versions() -> None:
    with pytest.raises(ConfigError, match=r"unequal length.*JapaneseVowels_eq"):
        _ = AeonBundled("JapaneseVowels").input_shape
    ds = AeonBundled("PickupGestureWiimoteZ_eq")
    assert ds.input_shape == (1, 361)
    assert ds.classes == [str(i) for i in range(1, 11)]  # numeric names sort by value


def test_bad_val_fraction_and_missing_aeon(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.val_fraction"):
        _ = AeonBundled("GunPoint", val_fraction=1.0).input_shape
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(DatasetError, match=r"OSULeaf ships with the aeon package.*pip install 'tinymoo\[timeseries\]'"):
        _ = AeonBundled("OSULeaf").input_shape


def test_yaml_config_and_registration(make_cfg) -> None:  # type: ignore[no-untyped-def]
    from core.plugins import discover

    infos = {p.name: p for p in discover("dataset")}
    assert infos["aeon_bundled"].error is None
    assert infos["aeon_bundled"].target == "plugins.datasets.aeon_bundled.AeonBundled"
    cfg = make_cfg("dataset=aeon_bundled")
    assert cfg.dataset.name == "OSULeaf" and cfg.dataset.val_fraction == 0.25
    ds = instantiate(cfg.dataset, _convert_="all")
    assert ds.input_shape == (1, 427) and ds.num_classes == 6
    ds = instantiate(make_cfg("dataset=aeon_bundled", "dataset.name=GunPoint").dataset, _convert_="all")
    assert ds.input_shape == (1, 150) and ds.num_classes == 2


def test_short_search_on_arrowhead(make_cfg, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(
        "dataset=aeon_bundled", "dataset.name=ArrowHead", "model.conv_dim=1", "search_space=quickstart_timeseries",
        "trainer.max_epochs=1", "~search_space.params.epochs", "search.n_trials=2", "search.progress=false",
        "logger=none",
    )  # fmt: skip
    t0 = time.perf_counter()
    outcome = Search(cfg, tmp_path).run()
    elapsed = time.perf_counter() - t0
    print(f"2 one-epoch trials on ArrowHead in {elapsed:.1f} s")
    counts = outcome.summary["counts"]
    assert counts["total"] == 2 and counts["pending"] == 0 and counts["failed"] == 0, counts
    with Store(tmp_path / "trials.db") as store:
        results = store.results()
    assert len(results) == 2
    trained = [r for r in results if r.status == TrialStatus.COMPLETE]
    assert trained, results  # seed 0: both candidates fit the STM32F4 and train (about 2.5 s each)
    assert all(0.0 <= r.objectives["error"] <= 1.0 and r.objectives["macs"] > 0 for r in trained), trained
    assert (tmp_path / "summary.json").is_file()
