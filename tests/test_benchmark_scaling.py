"""benchmarks/scaling.py: utilisation, hypervolume at equal wall time, ratios and the markdown from synthetic data;
one real (tiny) benchmark run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import scaling
from core.search.timeline import worker_utilisation


def _run(label: str, tph: float, trace: list[list[float]], util: float = 0.9) -> dict[str, Any]:
    return {
        "run": label,
        "trials_per_hour": tph,
        "trials_per_hour_incl_startup": tph / 2,
        "span_s": trace[-1][0],
        "hv_trace": trace,
        "final_hv": trace[-1][1],
        "utilisation": util,
        "utilisation_in_trial": util - 0.1,
    }


def _runs() -> list[dict[str, Any]]:
    return [
        _run("process:1:async", 100.0, [[2.0, 0.1, 0], [4.0, 0.2, 1], [6.0, 0.3, 2], [8.0, 0.4, 3]], 0.99),
        _run("process:2:batch", 150.0, [[2.0, 0.1, 0], [2.5, 0.15, 1], [5.0, 0.3, 2], [7.0, 0.35, 3]], 0.8),
        _run("process:2:async", 190.0, [[2.0, 0.1, 0], [2.5, 0.2, 1], [4.0, 0.35, 2], [5.5, 0.4, 3]], 0.95),
    ]


def test_utilisation_from_timings() -> None:
    # two workers busy all the time: trial 1 and 2 back to back beside trial 0
    assert worker_utilisation([(0, 0.0, 10.0), (1, 0.0, 5.0), (2, 5.0, 10.0)], 2) == pytest.approx(1.0)
    # one worker idles after 4 s of a 10 s span: 14 busy seconds of 20
    assert worker_utilisation([(0, 100.0, 104.0), (1, 100.0, 110.0)], 2) == pytest.approx(0.7)
    # a gap between sequential trials (the main process asking) on one worker
    assert worker_utilisation([(0, 0.0, 3.0), (1, 4.0, 7.0)], 1) == pytest.approx(6 / 7)
    # pending trials (no finish) and stores without start times do not count
    assert worker_utilisation([(0, 0.0, 2.0), (1, 1.0, None)], 1) == pytest.approx(1.0)
    assert worker_utilisation([(0, None, 2.0)], 1) is None
    assert worker_utilisation([], 2) is None


def test_hv_at_time_and_tell_ask_gaps() -> None:
    trace = [[2.0, 0.1, 0], [4.0, 0.3, 1], [6.0, 0.3, 2]]
    assert scaling.hv_at(trace, 1.0) == 0.0
    assert scaling.hv_at(trace, 2.0) == 0.1
    assert scaling.hv_at(trace, 5.9) == 0.3
    assert scaling.hv_at(trace, 100.0) == 0.3
    # trials 0 and 1 proposed before any finish; 2 proposed 0.5 s after trial 0 finished, 3 0.25 s after trial 1
    created = {0: 0.0, 1: 0.0, 2: 10.5, 3: 12.25}
    finished = {0: 10.0, 1: 12.0, 2: 20.0, 3: 21.0}
    assert scaling.tell_ask_gaps(created, finished) == pytest.approx([0.5, 0.25])


def test_parse_run() -> None:
    assert scaling.parse_run("process:2") == ("process", 2, "async")
    assert scaling.parse_run("process:2:batch") == ("process", 2, "batch")
    assert scaling.run_label(*scaling.parse_run("ray:2")) == "ray:2:async"
    # nolookahead: the asynchronous search with search.lookahead=false; async leaves lookahead to auto
    assert scaling.parse_run("process:2:nolookahead") == ("process", 2, "nolookahead")
    eager = scaling.overrides_for("sobol", "process", 2, "nolookahead", 3, 1, 0)
    assert "search.schedule=async" in eager and "search.lookahead=false" in eager
    assert not any("lookahead" in o for o in scaling.overrides_for("sobol", "process", 2, "async", 3, 1, 0))
    for bad in ("process", "process:0", "process:x", "process:2:sometimes", "a:1:async:x"):
        with pytest.raises(ValueError):
            scaling.parse_run(bad)


def test_derive_ratios_equal_time_and_targets() -> None:
    runs = _runs()
    derived = scaling.derive(runs)
    by = {r["run"]: r for r in runs}
    assert by["process:2:async"]["ratio_to_1_worker"] == pytest.approx(1.9)
    assert by["process:2:batch"]["ratio_to_1_worker"] == pytest.approx(1.5)
    assert by["process:1:async"]["ratio_to_1_worker"] == 1.0
    assert derived["equal_time_s"] == 5.5  # async finished first
    assert by["process:2:async"]["hv_at_equal_time"] == 0.4  # its final HV
    assert by["process:2:batch"]["hv_at_equal_time"] == 0.3  # batch's at 5.5 s (3 trials done)
    assert by["process:1:async"]["hv_at_equal_time"] == 0.2
    assert derived["targets"] == {
        "speedup_ge_1.8": True,
        "utilisation_ge_0.9": True,
        "hv_async_ge_batch_at_equal_time": True,
    }
    # without the baseline or the batch run, the values that need them are absent
    only_async = scaling.derive([_run("process:2:async", 190.0, [[1.0, 0.2, 0]])])
    assert only_async["equal_time_s"] is None and only_async["baseline"] is None
    assert only_async["targets"] == {"utilisation_ge_0.9": True}


def test_markdown_and_report_only_from_a_synthetic_json(tmp_path: Path) -> None:
    runs = _runs()
    sc: dict[str, Any] = {
        "name": "sobol",
        "optimizer": "sobol",
        "runs": runs,
        "skipped": [{"run": "ray:2:async", "reason": "x"}],
    }
    sc["derived"] = scaling.derive(runs)
    result = {
        "git_commit": "0123456789abcdef",
        "git_dirty": False,
        "machine": {"cpu": "test cpu", "cores": 2},
        "settings": {"trials": 4, "epochs": 2, "seed": 0},
        "scenarios": [sc],
    }
    out = tmp_path / "scaling.json"
    out.write_text(json.dumps(result))
    assert scaling.main(["--report-only", "--out", str(out)]) == 0
    md = (tmp_path / "scaling.md").read_text()
    assert md == scaling.markdown(result)
    assert "| sobol | 0 | process:2:async | 190 | 1.90 | 95% | 85% | 0.4000 (at 5.5 s) | 0.4000 |" in md
    assert "| sobol | 0 | process:2:batch | 150 | 1.50 | 80% | 70% | 0.3000 (at 5.5 s) | 0.3500 |" in md
    assert "| sobol | 0 | ray:2:async | skipped: x |" in md
    assert "commit 0123456" in md
    assert "speedup_ge_1.8: yes" in md


def test_paired_over_seeds_means_the_async_minus_batch_hv_difference_and_the_ratios() -> None:
    scenarios = []
    for seed, batch_hv in ((0, 0.3), (1, 0.45)):  # async's HV at equal time is 0.4 on both seeds
        runs = _runs()
        runs[1]["hv_trace"] = [[2.0, 0.1, 0], [5.0, batch_hv, 1], [7.0, 0.5, 2]]
        scenarios.append({"name": "mobo_ars", "seed": seed, "runs": runs, "derived": scaling.derive(runs)})
    one = _runs()
    scenarios.append({"name": "sobol", "seed": 0, "runs": one, "derived": scaling.derive(one)})
    over = scaling.paired(scenarios)
    assert set(over) == {"mobo_ars"}  # sobol ran on one seed: nothing to pair
    entry = over["mobo_ars"]
    diff = entry["hv_async_minus_batch_at_equal_time"]
    assert diff["n"] == 2 and diff["async_ge"] == 1
    assert diff["mean"] == pytest.approx(0.025) and diff["std"] == pytest.approx(0.1061, abs=1e-4)
    assert entry["hv_async_ge_batch_on_mean"] is True and entry["seeds"] == [0, 1]
    assert entry["runs"]["process:2:async"]["ratio_to_1_worker"] == {"mean": 1.9, "std": 0.0, "n": 2}
    result = {
        "git_commit": "0123456",
        "machine": {"cpu": "c", "cores": 2},
        "settings": {"task": "digits", "trials": 4, "epochs": None, "seeds": [0, 1]},
        "scenarios": scenarios,
        "paired": over,
    }
    md = scaling.markdown(result)
    assert "digits task" in md and "seeds 0, 1" in md
    assert (
        "| mobo_ars | process:2:async | 2 | 1.90 ± 0.00 | 95% ± 0% | +0.0250 ± 0.1061 (async >= batch on 1/2) |" in md
    )


def test_a_tinyml_task_runs_with_its_own_epochs_and_reference_point() -> None:
    from benchmarks import tinyml

    task = scaling.task_overrides("digits")
    assert "trainer.max_epochs=8" in task and "~search_space.params.epochs" in task
    ref = tinyml.task_reference("digits")
    assert f"search.reference.flash={ref['flash']!r}" in task
    overrides = scaling.overrides_for("sobol", "process", 2, "async", 30, None, 3, task)
    assert "seed=3" in overrides and not any(
        o.startswith("trainer.max_epochs=") and o != "trainer.max_epochs=8" for o in overrides
    )
    assert "trainer.max_epochs=5" in scaling.overrides_for("sobol", "process", 2, "async", 30, 5, 3, task)
    with pytest.raises(ValueError, match="japanese_vowels"):  # a tuning task is not a benchmark task
        scaling.task_overrides("japanese_vowels")


@pytest.mark.slow
def test_a_real_tiny_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "scaling.json"
    runs = ["process:1", "process:2:nolookahead", "process:2"]
    argv = ["--trials", "3", "--epochs", "1", "--scenarios", "sobol", "--runs", *runs]
    assert scaling.main([*argv, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"benchmark", "git_commit", "command", "run_command", "machine", "settings", "scenarios"} <= set(data)
    assert data["machine"]["cores"] >= 1
    assert data["command"].startswith("python -m benchmarks.scaling --trials 3")
    (sc,) = data["scenarios"]
    assert [r["run"] for r in sc["runs"]] == ["process:1:async", "process:2:nolookahead", "process:2:async"]
    assert not sc["skipped"]
    assert "search.lookahead=false" in sc["runs"][1]["overrides"]
    for r in sc["runs"]:
        assert r["n_trials"] == 3 and r["counts"]["pending"] == 0
        assert r["trials_per_hour"] > 0 and r["trials_per_hour_incl_startup"] > 0
        assert r["trials_per_hour"] > r["trials_per_hour_incl_startup"]
        assert 0 < r["utilisation"] <= 1 and 0 < r["utilisation_in_trial"] <= r["utilisation"] + 1e-6
        assert r["utilisation"] == pytest.approx(r["summary_worker_utilisation"], abs=1e-3)
        assert r["schedule"] == "async" and "executor.torch_threads=1" in r["overrides"]
        assert len(r["hv_trace"]) == 3 and r["hv_trace"][-1][0] == r["span_s"] > 0
        assert [p[0] for p in r["hv_trace"]] == sorted(p[0] for p in r["hv_trace"])
        assert r["final_hv"] == pytest.approx(r["summary_hypervolume"], abs=1e-5) and r["final_hv"] > 0
        assert r["trial_s_median"] > 0 and r["hv_at_equal_time"] is None  # no batch run: no equal time
    assert sc["runs"][0]["ratio_to_1_worker"] == 1.0 and sc["runs"][2]["ratio_to_1_worker"] > 0
    assert sc["runs"][1]["workers"] == sc["runs"][2]["workers"] == 2
    md = (tmp_path / "scaling.md").read_text()
    assert "| sobol | 0 | process:2:async |" in md
