"""benchmarks/tinyml_tuning.py: paired differences per variant, baselines, and resuming/merging finished runs
without running anything again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import tinyml_tuning
from benchmarks.optimizers import method_config

REFERENCE = {"error": 0.9, "flash": 1000.0, "ram": 500.0, "macs": 1e5}


def _run(variant: str, seed: int, hv: float, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "problem": "japanese_vowels",
        "variant": variant,
        "method": tinyml_tuning.BASELINES.get(variant, "mobo_ars"),
        "seed": seed,
        "final_hv": hv,
        "proposal_time_median_s": 0.5,
        "reference": REFERENCE,
        "config": config or {},
        "extra": list(tinyml_tuning.VARIANTS.get(variant, ())),
    }


def test_summary_pairs_each_variant_with_the_default_on_the_same_seed() -> None:
    runs = [
        _run("default", 100, 0.30),
        _run("default", 101, 0.40),
        _run("explore_2", 100, 0.32),
        _run("explore_2", 101, 0.43),
        _run("qlognehvi", 100, 0.29),
        _run("qlognehvi", 102, 0.50),  # no default on seed 102: not in the difference
    ]
    rows = {r["variant"]: r for r in tinyml_tuning.summarize(runs)}
    assert rows["explore_2"]["diff_mean"] == pytest.approx(0.025)
    assert rows["explore_2"]["diff_std"] == pytest.approx(0.00707, abs=1e-5)
    assert rows["qlognehvi"]["diff_mean"] == pytest.approx(-0.01) and rows["qlognehvi"]["diff_std"] is None
    assert rows["qlognehvi"]["seeds"] == [100, 102] and rows["default"]["diff_mean"] == 0.0


def test_resume_with_merge_keeps_both_invocations_runs_and_runs_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tinyml_tuning, "task_reference", lambda task: REFERENCE)
    ran: list[Any] = []
    monkeypatch.setattr(tinyml_tuning, "execute_all", lambda specs, workers, fn: ran.extend(specs) or iter(()))
    mobo, qlog = method_config("mobo_ars", 10, 10), method_config("qlognehvi", 10, 10)
    here = {"runs": [_run("default", 100, 0.3, mobo), _run("qlognehvi", 100, 0.31, qlog)]}
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"runs": [_run("explore_2", 100, 0.33, mobo), _run("default", 100, 9.9, mobo)]}))
    (tmp_path / "tinyml_tuning.json").write_text(json.dumps(here))
    argv = ["--tasks", "japanese_vowels", "--variants", "default", "explore_2", "qlognehvi", "--seeds", "100"]
    assert tinyml_tuning.main([*argv, "--out-dir", str(tmp_path), "--resume", "--merge", str(other)]) == 0
    assert ran == []  # every run was there already
    data = json.loads((tmp_path / "tinyml_tuning.json").read_text())
    kept = {(r["variant"], r["seed"]): r["final_hv"] for r in data["runs"]}
    assert kept == {("default", 100): 0.3, ("qlognehvi", 100): 0.31, ("explore_2", 100): 0.33}  # own runs first
    md = (tmp_path / "tinyml_tuning.md").read_text()
    assert "| japanese_vowels | qlognehvi | `optimizer=qlognehvi` | 1 | 0.3100 | +0.0100 |" in md
    assert "| japanese_vowels | explore_2 | `++optimizer.explore=2.0` |" in md


def test_runs_made_with_an_earlier_default_are_kept_as_superseded_and_paired_among_themselves(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(tinyml_tuning, "task_reference", lambda task: REFERENCE)
    ran: list[Any] = []
    monkeypatch.setattr(tinyml_tuning, "execute_all", lambda specs, workers, fn: ran.extend(specs) or iter(()))
    earlier = {"n_init": 10, "init_design": "lhs"}  # not today's default's config
    old = [_run("default", 100, 0.30, earlier), _run("explore_2", 100, 0.28, earlier)]
    (tmp_path / "tinyml_tuning.json").write_text(json.dumps({"runs": old}))
    argv = ["--tasks", "japanese_vowels", "--variants", "default", "--seeds", "100", "--out-dir", str(tmp_path)]
    assert tinyml_tuning.main([*argv, "--resume"]) == 0
    assert [(s["variant"], s["seed"]) for s in ran] == [("default", 100)]  # the default changed: run again
    data = json.loads((tmp_path / "tinyml_tuning.json").read_text())
    assert data["runs"] == []  # (the stubbed executor ran nothing)
    assert [(r["variant"], r["final_hv"]) for r in data["superseded"]] == [("default", 0.30), ("explore_2", 0.28)]
    stamp = data["superseded"][0]["superseded"]
    assert stamp and all(r["superseded"] == stamp for r in data["superseded"])
    md = (tmp_path / "tinyml_tuning.md").read_text()
    assert f"superseded {stamp}" in md
    assert "| japanese_vowels | explore_2 | `++optimizer.explore=2.0` | 1 | 0.2800 | -0.0200 |" in md
    # a second resume keeps them, with their stamp, and does not supersede them again
    assert tinyml_tuning.main([*argv, "--resume"]) == 0
    again = json.loads((tmp_path / "tinyml_tuning.json").read_text())
    assert again["superseded"] == data["superseded"]
