"""`python -m core.report`: every report is regenerated from the store alone, for finished, interrupted and
multirun directories; several runs are compared (comparison.csv, hypervolume bands per optimizer)."""

from __future__ import annotations

import csv
import json
import math
import time

import numpy as np
import pytest

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.report import (
    group_runs,
    infeasible_front,
    load_run,
    mean_std,
    plot_hypervolume_comparison,
    plot_pareto,
    write_comparison,
    write_outputs,
)
from core.report import main as report_main
from core.search.loop import Search
from core.search.store import Store
from core.trial.evaluate import evaluate_trial
from tests.conftest import FAST

FAKE = ("search.progress=false", "logger=none", "optimizer=sobol")  # with fake_evaluate: no training
REPORTS = ("trials.csv", "pareto.csv", "summary.json", "pareto.png", "hypervolume.png", "report.html")
FLASH_BUDGET, SRAM_BUDGET = 442368.0, 114688.0  # stm32f4


def fake_evaluate(spec: TrialSpec) -> TrialResult:
    """A trial in microseconds: objectives are smooth functions of the point. Candidates over the board's budgets
    are infeasible; every other one of those is 'not trained' (no error), like search.train_infeasible=false."""
    x = np.asarray(spec.x, dtype=float)
    size = float(x[: max(1, len(x) // 2)].mean())
    flash = 2048.0 + 700000.0 * size**2
    ram = 1024.0 + 150000.0 * float(x[-1]) ** 2
    objectives = {
        "error": float(np.clip(0.9 - 0.85 * math.sqrt(size) + 0.05 * float(x[-1]), 0.0, 1.0)),
        "flash": flash,
        "ram": ram,
        "macs": 5000.0 + 2e6 * size,
        "latency": 1e-3 + 0.05 * size,
    }
    fits = flash <= FLASH_BUDGET and ram <= SRAM_BUDGET
    if not fits and spec.trial_id % 2:
        del objectives["error"]
    status = TrialStatus.COMPLETE if fits else TrialStatus.INFEASIBLE
    return TrialResult(spec.trial_id, spec.x, spec.params, status, objectives, {}, None if fits else "too big", 0.01)


def fake_run(make_cfg, run_dir, *overrides: str, evaluate=fake_evaluate) -> dict:
    return Search(make_cfg(*FAKE, *overrides), run_dir, evaluate=evaluate).run().summary


class _Stop(BaseException):
    pass


def test_regenerates_reports_of_an_interrupted_run(make_cfg, tmp_path, capsys) -> None:
    calls = []

    def stop_after_two(spec):
        if len(calls) == 2:
            raise _Stop
        calls.append(spec.trial_id)
        return evaluate_trial(spec)

    with pytest.raises(_Stop):
        Search(make_cfg(*FAST, "search.n_trials=4"), tmp_path, evaluate=stop_after_two).run()
    first = json.loads((tmp_path / "summary.json").read_text())
    for name in REPORTS:
        (tmp_path / name).unlink()

    assert report_main([str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"] == first["counts"] == {"pending": 1, "complete": 2, "infeasible": 0, "failed": 0,
                                                    "total": 3}  # fmt: skip
    assert summary["hypervolume"] == pytest.approx(first["hypervolume"])
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert [r["status"] for r in rows] == ["complete", "complete", "pending"]
    for name in REPORTS:
        assert (tmp_path / name).is_file(), name
    out = capsys.readouterr().out
    assert "Pareto front on stm32f4" in out and "pending 1" in out
    assert not (tmp_path / "logs").exists()  # logger=none writes no training curves


def test_report_rejects_a_directory_without_a_store(tmp_path, capsys) -> None:
    assert report_main([str(tmp_path)]) == 2
    assert "no trials.db here; pass a tinymoo run directory" in capsys.readouterr().err


def test_finished_run_with_infeasible_trials(make_cfg, tmp_path, capsys) -> None:
    summary = fake_run(make_cfg, tmp_path, "search.n_trials=24")
    assert summary["counts"]["infeasible"] >= 2 and summary["counts"]["complete"] >= 2
    assert summary["infeasible_pareto_trial_ids"]  # trained, too big, and better than anything that fits
    for name in REPORTS:
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the table lists the front (✓), sorted by error, in human units, plus the infeasible non-dominated (✗)
    capsys.readouterr()
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fits" in out and "error %" in out and "flash KiB" in out and "SRAM KiB" in out
    rows = [line for line in out.splitlines() if "│" in line]
    assert len([r for r in rows if "✓" in r]) == summary["pareto_size"]
    assert len([r for r in rows if "✗" in r]) == len(summary["infeasible_pareto_trial_ids"])
    assert "does not fit stm32f4" in out  # the caption explains ✗
    with Store(tmp_path / "trials.db") as store:
        results = store.results()
    by_id = {r.trial_id: r for r in results}
    front = [by_id[i] for i in summary["pareto_trial_ids"]]
    assert all(r.status == TrialStatus.COMPLETE for r in front)
    errors = [float(line.split("│")[3]) for line in rows if "✓" in line]
    assert errors == sorted(errors) and len(errors) == len(front)
    for i in summary["infeasible_pareto_trial_ids"]:
        assert by_id[i].status == TrialStatus.INFEASIBLE and "error" in by_id[i].objectives
    # pareto.csv stays the feasible front only
    pareto = list(csv.DictReader((tmp_path / "pareto.csv").open()))
    assert {int(r["trial_id"]) for r in pareto} == set(summary["pareto_trial_ids"])
    # time: one worker never runs two trials at once; trials.csv has every trial's start and finish
    assert summary["workers"] == 1 and summary["schedule"] in ("async", "batch") and summary["wall_time_s"] > 0
    assert 0 < summary["worker_utilisation"] <= 1
    assert json.loads((tmp_path / "summary.json").read_text())["worker_utilisation"] == summary["worker_utilisation"]
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    times = [(float(r["started_s"]), float(r["finished_s"])) for r in rows]
    assert min(s for s, _ in times) == 0.0 and all(0 <= s <= f for s, f in times)


def test_infeasible_front_needs_every_objective() -> None:
    def r(i, status, **obj):
        return TrialResult(i, [0.0], {}, status, obj)

    objectives, ref = ["error", "flash"], {"error": 1.0, "flash": 100.0}
    results = [
        r(0, TrialStatus.COMPLETE, error=0.5, flash=50.0),
        r(1, TrialStatus.INFEASIBLE, error=0.1, flash=150.0),  # better error, too big: listed
        r(2, TrialStatus.INFEASIBLE, error=0.6, flash=200.0),  # dominated by 0: not listed
        r(3, TrialStatus.INFEASIBLE, flash=120.0),  # not trained: no error, cannot be judged
        r(4, TrialStatus.FAILED),
    ]
    assert [t.trial_id for t in infeasible_front(results, objectives, ref)] == [1]


@pytest.mark.parametrize("m", [2, 3, 5])
def test_scatter_matrix_has_n_by_n_panels(tmp_path, m) -> None:
    objectives = ["error", "flash", "ram", "macs", "latency"][:m]
    ref = {"error": 1.0, "flash": FLASH_BUDGET, "ram": SRAM_BUDGET, "macs": 1.2e7, "latency": 0.1}
    specs = [TrialSpec(i, [i / 10, (i * 7 % 10) / 10], {}, {}, "") for i in range(10)]
    results = [fake_evaluate(s) for s in specs]
    results.append(TrialResult(10, [0.0], {}, TrialStatus.COMPLETE, {"error": math.nan, "flash": 3000.0}))  # NaN
    results.append(TrialResult(11, [0.0], {}, TrialStatus.FAILED))
    results.append(TrialResult(12, [0.0], {}, TrialStatus.PENDING))
    front = {r.trial_id for r in results if r.status == TrialStatus.COMPLETE and r.trial_id < 3}
    fig = plot_pareto(tmp_path / "p.png", results, front, objectives, ref)
    assert len(fig.axes) == m * m
    grid = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in fig.axes}
    assert grid == {(i, j) for i in range(m) for j in range(m)}
    diagonal = [ax for ax in fig.axes if ax.get_subplotspec().rowspan.start == ax.get_subplotspec().colspan.start]
    assert all(ax.patches for ax in diagonal)  # the histograms
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_scatter_matrix_and_reports_with_no_complete_trial(tmp_path) -> None:
    ref = {"error": 1.0, "flash": FLASH_BUDGET, "ram": SRAM_BUDGET, "macs": 1.2e7}
    objectives = list(ref)
    unmeasured = [TrialResult(0, [0.0], {}, TrialStatus.FAILED), TrialResult(1, [0.0], {}, TrialStatus.PENDING)]
    for results in ([], unmeasured):
        fig = plot_pareto(tmp_path / "empty.png", results, set(), objectives, ref)
        assert len(fig.axes) == 16 and (tmp_path / "empty.png").is_file()
    with Store(tmp_path / "run" / "trials.db") as store:  # a store with meta but only a pending trial
        store.set_meta("objectives", objectives)
        store.set_meta("reference", ref)
        store.add_pending([TrialSpec(0, [0.5], {"model.width": 8}, {}, "")])
        summary = write_outputs(store, tmp_path / "run")
    assert summary["pareto_size"] == 0 and summary["hypervolume"] == 0.0
    for name in REPORTS:
        assert (tmp_path / "run" / name).is_file(), name


@pytest.fixture(scope="module")
def sweep(make_cfg, tmp_path_factory) -> list:
    """A multirun directory as Hydra lays it out: numbered job dirs, two optimizers x two seeds (and one job
    that failed before its first trial). Shared by the tests below (built once: ~4 s)."""
    root = tmp_path_factory.mktemp("multirun") / "2026-11-24" / "10-00-00"
    jobs = []
    for i, (opt, seed) in enumerate([("sobol", 0), ("sobol", 1), ("random", 0), ("random", 1)]):
        fake_run(make_cfg, root / str(i), "search.n_trials=6", f"optimizer={opt}", f"seed={seed}")
        jobs.append(root / str(i))
    (root / "4" / ".hydra").mkdir(parents=True)  # no trials.db: skipped
    return jobs


def test_multirun_directory_report_and_comparison(sweep, capsys) -> None:
    jobs, sweep = sweep, sweep[0].parent
    for job in jobs:
        for name in REPORTS:
            (job / name).unlink()

    start = time.perf_counter()
    assert report_main([str(sweep)]) == 0
    elapsed = time.perf_counter() - start
    for job in jobs:
        for name in REPORTS:
            assert (job / name).is_file(), (job, name)
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert [(r["optimizer"].rsplit(".", 1)[-1], r["seed"]) for r in rows] == [
        ("RandomSearch", "0"), ("RandomSearch", "1"), ("SobolSearch", "0"), ("SobolSearch", "1"),
    ]  # fmt: skip
    for r in rows:
        summary = json.loads((sweep / r["run_dir"] / "summary.json").read_text())
        assert r["board"] == "stm32f4" and r["n_trials"] == "6" and r["pending"] == "0"
        assert float(r["final_hv"]) == pytest.approx(summary["hypervolume"], abs=1e-6)
        assert int(r["pareto_size"]) == summary["pareto_size"]
    assert (sweep / "hypervolume.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert out.count("Pareto front on stm32f4") == 4 and "Comparison of 4 runs" in out
    assert elapsed < 60


def test_write_comparison_of_listed_runs_into_out_dir(sweep, tmp_path) -> None:
    jobs = sweep
    out = tmp_path / "cmp"
    path = write_comparison([*jobs, jobs[0].parent / "4"], out)  # the job without a store is skipped
    assert path == out / "comparison.csv" and (out / "hypervolume.png").is_file()
    assert len(list(csv.DictReader(path.open()))) == 4
    # a run directory as out_dir keeps its own hypervolume.png
    before = (jobs[0] / "hypervolume.png").read_bytes()
    path = write_comparison(jobs, jobs[0])
    assert path == jobs[0] / "comparison" / "comparison.csv"
    assert (jobs[0] / "hypervolume.png").read_bytes() == before
    # the CLI: several run dirs, --out
    assert report_main([*map(str, jobs[:2]), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "comparison.csv").is_file()


def test_hypervolume_bands_per_optimizer(sweep, tmp_path) -> None:
    groups = group_runs([load_run(j) for j in sweep])
    assert {k: len(v) for k, v in groups.items()} == {"RandomSearch": 2, "SobolSearch": 2}
    fig = plot_hypervolume_comparison(tmp_path / "hv.png", groups)
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # one ± std band per optimizer
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["RandomSearch (n=2)", "SobolSearch (n=2)"]
    mean, std, count = mean_std([[0.1, 0.2, 0.4], [0.3, 0.4]])  # an interrupted run is shorter
    assert mean == pytest.approx([0.2, 0.3, 0.4]) and list(count) == [2, 2, 1]
    assert std[:2] == pytest.approx([np.std([0.1, 0.3], ddof=1)] * 2) and std[2] == 0.0


def test_interrupted_run_in_a_comparison(make_cfg, tmp_path) -> None:
    def stop_at_3(spec):
        if spec.trial_id == 3:
            raise _Stop
        return fake_evaluate(spec)

    with pytest.raises(_Stop):
        fake_run(make_cfg, tmp_path / "a", "search.n_trials=6", evaluate=stop_at_3)
    fake_run(make_cfg, tmp_path / "b", "search.n_trials=6", "seed=1")
    path = write_comparison([tmp_path / "a", tmp_path / "b"], tmp_path)
    rows = {r["run_dir"]: r for r in csv.DictReader(path.open())}
    assert rows["a"]["n_trials"] == "3" and rows["a"]["pending"] == "1" and rows["a"]["n_trials_planned"] == "6"
    assert rows["b"]["n_trials"] == "6" and rows["b"]["pending"] == "0"
    assert len(load_run(tmp_path / "a").history) == 3  # finished trials only
