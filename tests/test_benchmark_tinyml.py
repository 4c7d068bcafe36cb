"""benchmarks/tinyml.py: one real (tiny) search per call, the aggregation at equal trials and equal wall time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import tinyml
from benchmarks.optimizers import resolve_methods


def _run(task: str, method: str, seed: int, hv: list[float], elapsed: list[float]) -> dict:
    return {
        "problem": task,
        "method": method,
        "seed": seed,
        "budget": len(hv),
        "n_init": 2,
        "config": {"n_init": 2},
        "hv_history": hv,
        "final_hv": hv[-1],
        "elapsed_s": elapsed,
        "proposal_times_s": [0.0, 0.0] + [0.5] * (len(hv) - 2),
        "trial_times_s": [0.1] * len(hv),
        "infeasible": 1,
        "failed": 0,
    }


def test_hv_at_equal_wall_time_and_aggregation() -> None:
    fast = [_run("t", "sobol", s, [0.1, 0.2, 0.3, 0.3], [1.0, 2.0, 3.0, 4.0]) for s in (0, 1)]
    slow = [_run("t", "mobo_ars", s, [0.1, 0.2, 0.5, 0.6], [1.0, 2.0, 6.0, 8.0]) for s in (0, 1)]
    assert tinyml.hv_at_time(slow[0], 0.5) == 0.0
    assert tinyml.hv_at_time(slow[0], 4.0) == 0.2  # by the fast method's wall time only 2 trials had finished
    aggs = {a["method"]: a for a in tinyml.aggregate(fast + slow)}
    assert aggs["mobo_ars"]["final_hv_mean"] == pytest.approx(0.6)
    assert aggs["mobo_ars"]["equal_time_s"] == aggs["sobol"]["equal_time_s"] == 4.0
    assert aggs["mobo_ars"]["hv_at_equal_time_mean"] == pytest.approx(0.2)
    assert aggs["sobol"]["hv_at_equal_time_mean"] == pytest.approx(0.3)
    assert aggs["mobo_ars"]["proposal_time_median_s"] == pytest.approx(0.5)
    assert aggs["mobo_ars"]["infeasible_mean"] == 1.0
    (check,) = tinyml.checks(list(aggs.values()))
    assert check["highest_final_hv"] and check["runner_up"] == "sobol"
    assert check["proposal_time_ok"] and not check["equal_time_not_below_sobol"]  # 0.2 against Sobol's 0.3


def test_checks_gap_to_qlognehvi_against_the_pooled_std() -> None:
    def runs(method: str, finals: list[float]) -> list[dict]:
        return [_run("t", method, s, [0.1, 0.2, v], [1.0, 2.0, 3.0]) for s, v in enumerate(finals)]

    aggs = tinyml.aggregate(runs("mobo_ars", [0.50, 0.52]) + runs("qlognehvi", [0.47, 0.49]))
    (check,) = tinyml.checks(aggs)
    assert check["gap_to_rival"] == pytest.approx(0.03)
    assert check["pooled_std"] == pytest.approx(np.std([0.50, 0.52], ddof=1))
    assert check["beats_rival_by_pooled_std"] and "equal_time_not_below_sobol" not in check
    aggs = tinyml.aggregate(runs("mobo_ars", [0.50, 0.52]) + runs("qlognehvi", [0.47, 0.56]))
    (check,) = tinyml.checks(aggs)
    assert not check["highest_final_hv"] and not check["beats_rival_by_pooled_std"]


def test_checks_pair_the_runs_of_the_same_seed() -> None:
    """The seed fixes the data split, so a task's seeds differ for every method alike: the paired difference
    (same seed) and the seeds where the default is higher, over the seeds both ran."""

    def runs(method: str, finals: dict[int, float]) -> list[dict]:
        return [_run("t", method, s, [0.1, v], [1.0, 2.0]) for s, v in finals.items()]

    mine = runs("mobo_ars", {0: 0.40, 1: 0.50, 2: 0.60, 3: 0.70})
    aggs = tinyml.aggregate(mine + runs("qlognehvi", {0: 0.39, 1: 0.48, 2: 0.61, 5: 0.10}))
    (check,) = tinyml.checks(aggs)
    assert check["paired_seeds"] == 3 and check["paired_higher"] == 2
    assert check["paired_mean"] == pytest.approx(np.mean([0.01, 0.02, -0.01]))
    assert check["paired_std"] == pytest.approx(np.std([0.01, 0.02, -0.01], ddof=1))
    assert "| +0.0067 ± 0.0153 (2 of 3) |" in "\n".join(tinyml._check_lines(aggs))


def test_a_real_tiny_run_and_the_reports(tmp_path: Path) -> None:
    configs, skipped = resolve_methods(["sobol"], 2, 2)
    assert not skipped
    ref = {"error": 0.9, "flash": 8000.0, "ram": 3000.0, "macs": 50000.0}
    spec = {"problem": "digits", "method": "sobol", "seed": 0, "budget": 3, "n_init": 2, "reference": ref}
    record = tinyml.run_task({**spec, "config": configs["sobol"]})
    assert len(record["hv_history"]) == len(record["elapsed_s"]) == len(record["trial_times_s"]) == 3
    assert np.all(np.diff(record["elapsed_s"]) > 0)
    assert "search.reference.flash=8000.0" in record["overrides"]
    data = {
        "profile": "quick",
        "settings": {"budget": 3, "n_init": 2, "seeds": [0], "methods": ["sobol"]},
        "references": {"digits": ref},
        "runs": [record],
        "aggregate": tinyml.aggregate([record]),
    }
    path = tmp_path / "tinyml_quick.json"
    path.write_text(json.dumps(data))
    tinyml.write_reports(path, data)
    md = path.with_suffix(".md").read_text()
    assert "Hypervolume at equal wall time" in md and "| sobol |" in md
    assert "## Checks" not in md  # no mobo_ars runs to check
    assert path.with_suffix(".png").stat().st_size > 10_000
