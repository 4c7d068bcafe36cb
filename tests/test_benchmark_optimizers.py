"""The optimizer benchmark harness (``python -m benchmarks.optimizers``): problems, hypervolume, outputs, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.optimizers import PROFILES, aggregate, log10_regret, main, method_config
from benchmarks.problems import (
    HELD_OUT_PROBLEMS,
    MAX_HV,
    PROBLEMS,
    TUNING_PROBLEMS,
    HypervolumeTracker,
    SyntheticProblem,
)
from core.search.pareto import hypervolume

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", PROBLEMS)
def test_problem_wrapper_minimizes_with_positive_reference(name: str) -> None:
    p = SyntheticProblem.make(name)
    assert np.all(p.ref_raw > 0) and p.max_hv > 0
    x = np.random.default_rng(0).random((64, p.dim))
    assert np.all((p.to_bounds(x) >= p.lower) & (p.to_bounds(x) <= p.upper))
    y = p.evaluate_raw(x)
    assert y.shape == (64, p.num_objectives) and np.all(np.isfinite(y))
    np.testing.assert_allclose(p.normalize(p.ref_raw[None]), 1.0)  # the optimizer's reference is all ones
    # hypervolume is scale-covariant: raw hv = normalized hv * prod(ref)
    raw, normalized = hypervolume(y, p.ref_raw), hypervolume(p.normalize(y), np.ones(p.num_objectives))
    assert raw == pytest.approx(normalized * np.prod(p.ref_raw), rel=1e-9, abs=1e-12)
    assert raw <= p.max_hv + 1e-9


@pytest.mark.parametrize("name", HELD_OUT_PROBLEMS)
def test_held_out_problem_builds_and_max_hv_beats_random_points(name: str) -> None:
    p = SyntheticProblem.make(name)
    expected = {"DTLZ2_m4": (7, 4), "DTLZ7_m4": (7, 4), "ZDT3": (6, 2), "DTLZ5_m3": (6, 3), "CarSideImpact": (7, 4)}
    assert (p.dim, p.num_objectives) == expected[name]
    assert p.ref_raw.shape == (p.num_objectives,) and np.all(p.ref_raw > 0)
    y = p.evaluate_raw(np.random.default_rng(0).random((200, p.dim)))
    assert y.shape == (200, p.num_objectives) and np.all(np.isfinite(y))
    assert np.isfinite(p.max_hv) and p.max_hv > hypervolume(y, p.ref_raw) > 0


def test_derived_max_hv_bounds_dense_front_samples() -> None:
    """MAX_HV (BoTorch has none for DTLZ5/DTLZ7): the HV of a sample of the true front approaches it from below."""
    p = SyntheticProblem.make("DTLZ5_m3")  # front: x_0 in [0, 1], the other inputs 0.5
    x = np.hstack([np.linspace(0, 1, 200)[:, None], np.full((200, p.dim - 1), 0.5)])
    hv = hypervolume(p.evaluate_raw(x), p.ref_raw)
    assert p.max_hv == MAX_HV["DTLZ5_m3"] and p.max_hv - 0.1 < hv < p.max_hv
    p = SyntheticProblem.make("DTLZ7_m4")  # front: x_3.. = 0 and each of x_0..x_2 where q(t) is a running maximum
    t = np.linspace(0, 1, 100_001)
    q = t / 2 * (1 + np.sin(3 * np.pi * t))
    record = t[q >= np.maximum.accumulate(q)]
    s = record[np.linspace(0, len(record) - 1, 5).astype(int)]
    grid = np.stack(np.meshgrid(s, s, s, indexing="ij"), axis=-1).reshape(-1, 3)
    hv = hypervolume(p.evaluate_raw(np.hstack([grid, np.zeros((len(grid), p.dim - 3))])), p.ref_raw)
    assert p.max_hv == MAX_HV["DTLZ7_m4"] and 0.997 * p.max_hv < hv < p.max_hv


def test_problem_sets_and_profiles() -> None:
    assert PROBLEMS == TUNING_PROBLEMS + HELD_OUT_PROBLEMS and not set(TUNING_PROBLEMS) & set(HELD_OUT_PROBLEMS)
    assert TUNING_PROBLEMS == ("BraninCurrin", "ZDT1", "DTLZ2", "VehicleSafety")
    assert HELD_OUT_PROBLEMS == ("DTLZ2_m4", "DTLZ7_m4", "ZDT3", "DTLZ5_m3", "CarSideImpact")
    heldout, quick = PROFILES["heldout"], PROFILES["quick"]
    assert heldout.problems == HELD_OUT_PROBLEMS and heldout.seeds == (100, 101, 102, 103, 104)
    assert (heldout.budget, heldout.n_init) == (60, 10)
    assert quick.problems == TUNING_PROBLEMS and quick.seeds == (0, 1, 2)
    assert PROFILES["paper"].problems == TUNING_PROBLEMS


def test_resume_keeps_stored_runs_and_drops_an_old_tinyml_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = method_config("sobol", 4, 4)
    run = {"problem": "ZDT3", "method": "sobol", "seed": 100, "budget": 2, "n_init": 4, "config": config,
           "hv_history": [0.0, 100.0], "final_hv": 100.0, "max_hv": 128.8, "log10_regret": log10_regret(128.8, 100.0),
           "proposal_times_s": [0.001, 0.001], "total_time_s": 0.1}  # fmt: skip
    old = {"profile": "heldout", "synthetic": {"runs": [run]}, "tinyml": {"runs": [{"problem": "digits+small_cnn"}]}}
    (tmp_path / "optimizers_heldout.json").write_text(json.dumps(old))
    args = ["--profile", "heldout", "--problems", "ZDT3", "--methods", "sobol", "--budget", "2", "--n-init", "4",
            "--seeds", "100", "--workers", "1", "--out-dir", str(tmp_path), "--resume"]  # fmt: skip
    assert main(args) == 0
    assert "resume: 1 of 1 runs already done" in capsys.readouterr().out
    data = json.loads((tmp_path / "optimizers_heldout.json").read_text())
    assert "tinyml" not in data and data["synthetic"]["runs"] == [run]
    assert data["synthetic"]["settings"]["problems"] == ["ZDT3"]
    md = (tmp_path / "optimizers_heldout.md").read_text()
    assert "ZDT3" in md and "Held-out problems" in md and "TinyML" not in md
    assert (tmp_path / "optimizers_heldout.png").stat().st_size > 0


def test_hypervolume_tracker_matches_full_recomputation() -> None:
    rng = np.random.default_rng(1)
    y = rng.random((40, 3)) * 1.2  # some points outside the reference box
    tracker = HypervolumeTracker(np.ones(3))
    history = [tracker.add(row) for row in y]
    expected = [hypervolume(y[: i + 1], np.ones(3)) for i in range(len(y))]
    np.testing.assert_allclose(history, expected, rtol=1e-12, atol=1e-15)
    assert log10_regret(1.0, 1.0) == -12.0 and log10_regret(1.0, 0.9) == pytest.approx(-1.0)


def test_aggregate_mean_and_std() -> None:
    runs = [
        {"problem": "P", "method": "m", "seed": s, "final_hv": hv, "max_hv": 2.0, "log10_regret": log10_regret(2.0, hv),
         "proposal_times_s": [0.1, 0.3], "total_time_s": 1.0, "hv_history": [0.0, hv], "config": {}}
        for s, hv in enumerate([1.0, 1.5])
    ]  # fmt: skip
    (agg,) = aggregate(runs)
    assert agg["n_runs"] == 2 and agg["final_hv_mean"] == pytest.approx(1.25)
    assert agg["final_hv_std"] == pytest.approx(np.std([1.0, 1.5], ddof=1))
    assert agg["proposal_time_median_s"] == pytest.approx(0.2)
    assert agg["hv_history_mean"] == pytest.approx([0.0, 1.25])


@pytest.mark.slow
def test_harness_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    budget, seeds, methods = 8, [0, 1], ["sobol", "random"]
    args = ["--problems", "BraninCurrin", "--methods", *methods, "--budget", str(budget), "--n-init", "4",
            "--seeds", *map(str, seeds), "--workers", "2", "--out-dir", str(tmp_path)]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.optimizers", *args],
        cwd=REPO,
        env={**os.environ, "WANDB_MODE": "disabled"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    json_path = tmp_path / "optimizers_quick.json"
    assert (tmp_path / "optimizers_quick.png").stat().st_size > 0
    data = json.loads(json_path.read_text())
    section = data["synthetic"]
    assert data["profile"] == "quick" and data["machine"]["cores"] and "tinyml" not in data
    assert section["settings"]["budget"] == budget and not section["skipped"] and not section["failed"]
    runs = section["runs"]
    assert sorted((r["method"], r["seed"]) for r in runs) == sorted((m, s) for m in methods for s in seeds)
    for r in runs:
        hv = np.asarray(r["hv_history"])
        assert len(hv) == budget and len(r["proposal_times_s"]) == budget
        assert np.all(np.diff(hv) >= 0) and hv[0] >= 0
        assert r["final_hv"] == hv[-1] <= r["max_hv"] + 1e-9
        assert r["log10_regret"] == pytest.approx(np.log10(max(r["max_hv"] - r["final_hv"], 1e-12)))
        assert r["proposal_time_max_s"] >= r["proposal_time_median_s"] >= 0
    assert len(section["aggregate"]) == len(methods)
    for agg in section["aggregate"]:
        mine = [r for r in runs if r["method"] == agg["method"] and r["problem"] == agg["problem"]]
        assert agg["n_runs"] == len(seeds)
        assert agg["final_hv_mean"] == pytest.approx(np.mean([r["final_hv"] for r in mine]))
        assert agg["log10_regret_mean"] == pytest.approx(np.mean([r["log10_regret"] for r in mine]))
        assert len(agg["hv_history_mean"]) == budget
    md = (tmp_path / "optimizers_quick.md").read_text()
    assert "BraninCurrin" in md and all(f"| {m} |" in md for m in methods) and "**" in md

    # --resume finds every run done, evaluates nothing and keeps the results
    assert main([*args, "--resume"]) == 0
    assert "resume: 4 of 4 runs already done" in capsys.readouterr().out
    assert json.loads(json_path.read_text())["synthetic"]["runs"] == runs


def test_acquisition_gap_compares_a_round_with_optimize_acqf(tmp_path: Path) -> None:
    """benchmarks.acquisition_gap: one mobo_ars round's log EHVI per polish_starts value next to optimize_acqf's
    optimum of the same acquisition; on the 2-D BraninCurrin nothing exceeds that optimum, and with the extra
    polish starts the round reaches it."""
    from benchmarks.acquisition_gap import main as gap_main

    out = tmp_path / "gap.json"
    gap_main(["--problems", "BraninCurrin", "--seeds", "0", "--n", "12", "--starts", "0", "8", "--out", str(out)])
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert data["commit"] is not None and data["settings"]["n"] == 12 and set(row["log_ehvi"]) == {"0", "8"}
    best = row["optimize_acqf"]
    assert np.isfinite(best) and all(v <= best + 1e-6 for v in row["log_ehvi"].values())
    assert row["log_ehvi"]["8"] >= best - 1e-3
