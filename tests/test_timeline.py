"""The trial timeline from a real store: times relative to the first start, worker utilisation, the hypervolume
against wall-clock time (checked exactly on hand-set times), and how the reports show them."""

from __future__ import annotations

import csv
import json
import math
import sqlite3

import numpy as np
import pytest

from core.interfaces.trial import TrialResult, TrialSpec, TrialStatus
from core.report import write_outputs
from core.search.pareto import hypervolume, normalize
from core.search.store import Store
from core.search.timeline import (
    HVPoint,
    TrialTimes,
    describe,
    hypervolume_history,
    hypervolume_trace,
    load_timeline,
    plot_hypervolume,
    relative_times,
    time_unit,
    worker_utilisation,
)

OBJECTIVES = ["error", "flash"]
REF = {"error": 1.0, "flash": 100.0}
T0 = 1_700_000_000.0  # the first trial start (Unix time)

# trial id -> (status, objectives, start, finish) in seconds after T0 (None: not recorded)
TRIALS: dict[int, tuple[TrialStatus, dict[str, float], float | None, float | None]] = {
    0: (TrialStatus.COMPLETE, {"error": 0.5, "flash": 50.0}, 0.0, 10.0),  # normalized (0.5, 0.5): HV 0.25
    1: (TrialStatus.COMPLETE, {"error": 0.2, "flash": 80.0}, 0.0, 4.0),  # (0.2, 0.8): HV 0.16
    2: (TrialStatus.INFEASIBLE, {"error": 0.1, "flash": 150.0}, 4.0, 6.0),  # too big: no HV
    3: (TrialStatus.COMPLETE, {"error": 0.6, "flash": 60.0}, 6.0, 12.0),  # dominated by 0
    4: (TrialStatus.PENDING, {}, 10.0, None),  # still running: no finish, not counted
}
# finishing order 1, 2, 0, 3; HV of {1, 0} = 0.16 + 0.25 - 0.5 * 0.2 (their overlap [0.5, 1] x [0.8, 1])
HV_TIME = [HVPoint(4.0, 0.16, 1), HVPoint(6.0, 0.16, 2), HVPoint(10.0, 0.31, 0), HVPoint(12.0, 0.31, 3)]
BUSY = 10.0 + 4.0 + 2.0 + 6.0  # the finished trials' evaluation times
SPAN = 12.0  # first start to last finish


def _fill(path, trials=TRIALS, workers: int | None = 2) -> None:
    """A store as a search leaves it: meta, trials started and finished through the Store, then the start and
    finish times set exactly (a missing time stays NULL)."""
    with Store(path) as store:
        store.set_meta("objectives", OBJECTIVES)
        store.set_meta("reference", REF)
        store.set_meta("board", "test")
        if workers is not None:
            store.set_meta("workers", workers)
            store.set_meta("schedule", "async")
        store.add_pending([TrialSpec(i, [0.1 * i], {"model.width": 8 + i}, {}, "") for i in trials])
        for i, (status, objectives, start, _) in trials.items():
            if start is not None:
                store.begin_attempts([i])
            if status != TrialStatus.PENDING:
                store.finish(TrialResult(i, [0.1 * i], {"model.width": 8 + i}, status, objectives, {}, None, 1.0))
    with sqlite3.connect(path) as db:
        for i, (_, _, start, finish) in trials.items():
            db.execute(
                "UPDATE trials SET started_at=?, finished_at=? WHERE trial_id=?",
                (None if start is None else T0 + start, None if finish is None else T0 + finish, i),
            )
    db.close()


def test_times_utilisation_and_hypervolume_against_time(tmp_path) -> None:
    _fill(tmp_path / "trials.db")
    with Store(tmp_path / "trials.db") as store:
        timings = store.timings()
        timeline = load_timeline(store)
    assert relative_times(timings) == {
        0: TrialTimes(0.0, 10.0), 1: TrialTimes(0.0, 4.0), 2: TrialTimes(4.0, 6.0), 3: TrialTimes(6.0, 12.0),
        4: TrialTimes(10.0, None),
    }  # fmt: skip
    assert timeline.trials == relative_times(timings)
    assert worker_utilisation(timings, 2) == pytest.approx(BUSY / (2 * SPAN))
    assert worker_utilisation(timings, None) == worker_utilisation(timings, 1) == pytest.approx(BUSY / SPAN)
    assert timeline.workers == 2 and timeline.schedule == "async"
    assert timeline.utilisation == pytest.approx(22 / 24)
    assert [(p.elapsed_s, p.trial_id) for p in timeline.hypervolume] == [(p.elapsed_s, p.trial_id) for p in HV_TIME]
    assert [p.hypervolume for p in timeline.hypervolume] == pytest.approx([p.hypervolume for p in HV_TIME])
    assert describe(timeline) == "2 workers (async), 92% busy"
    with Store(tmp_path / "trials.db") as store:  # by trial number instead: the same final hypervolume
        assert hypervolume_history(store.results(), OBJECTIVES, REF) == pytest.approx([0.25, 0.31, 0.31, 0.31, 0.31])


def test_a_store_without_start_times_has_no_timeline(tmp_path) -> None:
    old = {i: (status, obj, None, finish) for i, (status, obj, _, finish) in TRIALS.items()}
    _fill(tmp_path / "trials.db", old, workers=None)  # as written before trials recorded their start
    with Store(tmp_path / "trials.db") as store:
        timeline = load_timeline(store)
        summary = write_outputs(store, tmp_path)
    assert timeline.workers == 1 and timeline.schedule is None  # no meta: one worker
    assert timeline.utilisation is None and timeline.hypervolume == []
    assert set(timeline.trials.values()) == {TrialTimes(None, None)}
    assert summary["worker_utilisation"] is None and summary["workers"] == 1 and summary["schedule"] is None
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert {(r["started_s"], r["finished_s"]) for r in rows} == {("", "")}
    assert "No trial times recorded" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert worker_utilisation([]) is None
    assert worker_utilisation([(0, T0, T0)]) is None  # zero span


def test_a_resumed_old_store_has_no_negative_times(tmp_path) -> None:
    """Trial 0 finished before start times were recorded; the others after: time zero is its finish."""
    mixed = dict(TRIALS)
    mixed[0] = (TrialStatus.COMPLETE, {"error": 0.5, "flash": 50.0}, None, -3.0)
    _fill(tmp_path / "trials.db", mixed)
    with Store(tmp_path / "trials.db") as store:
        timeline = load_timeline(store)
    assert timeline.trials[0] == TrialTimes(None, 0.0) and timeline.trials[1] == TrialTimes(3.0, 7.0)
    assert [p.trial_id for p in timeline.hypervolume] == [0, 1, 2, 3]
    assert timeline.hypervolume[0] == HVPoint(0.0, pytest.approx(0.25), 0)
    busy = 4.0 + 2.0 + 6.0  # trial 0 has no start: not counted, and the span starts at the first start
    assert timeline.utilisation == pytest.approx(busy / (2 * 12.0))


def test_reports_show_the_timeline(tmp_path) -> None:
    _fill(tmp_path / "trials.db")
    with Store(tmp_path / "trials.db") as store:
        summary = write_outputs(store, tmp_path)
        timeline = load_timeline(store)
    assert summary["worker_utilisation"] == pytest.approx(22 / 24)
    assert summary["workers"] == 2 and summary["schedule"] == "async" and "wall_time_s" in summary
    assert json.loads((tmp_path / "summary.json").read_text())["worker_utilisation"] == pytest.approx(22 / 24)
    rows = {int(r["trial_id"]): r for r in csv.DictReader((tmp_path / "trials.csv").open())}
    assert {i: (r["started_s"], r["finished_s"]) for i, r in rows.items()} == {
        0: ("0.0", "10.0"), 1: ("0.0", "4.0"), 2: ("4.0", "6.0"), 3: ("6.0", "12.0"), 4: ("10.0", ""),
    }  # fmt: skip
    pareto = list(csv.DictReader((tmp_path / "pareto.csv").open()))
    assert [(r["trial_id"], r["finished_s"]) for r in pareto] == [("1", "4.0"), ("0", "10.0")]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Hypervolume against wall-clock time" in page and 'id="hv-time"' in page
    assert "2 workers (async), 92% busy" in page and "trial 3 finished after 12.0 s" in page
    fig = plot_hypervolume(tmp_path / "hv.png", summary["hypervolume_history"], "t", timeline)
    by_trial, by_time = fig.axes
    assert by_trial.get_xlabel() == "trial" and "wall-clock" in by_time.get_xlabel()
    x, y = by_time.lines[0].get_data()
    assert list(x) == [0.0, 4.0, 6.0, 10.0, 12.0] and list(y) == pytest.approx([0.0, 0.16, 0.16, 0.31, 0.31])
    assert "92% busy" in by_time.get_title()
    assert len(plot_hypervolume(None, [0.1, 0.2]).axes) == 1  # without a timeline: the trial panel only


def test_time_axis_units() -> None:
    assert time_unit(59.0) == (1.0, "s") and time_unit(600.0) == (60.0, "min") and time_unit(4 * 3600) == (3600.0, "h")


def _slow_history(results: list[TrialResult], objectives: list[str], ref: dict[str, float]) -> list[float]:
    """The hypervolume history as it was computed before (every complete point so far, from scratch)."""
    out, pts, hv = [], [], 0.0
    for r in results:
        if r.status == TrialStatus.COMPLETE:
            pts.append(normalize(r.objectives, objectives, ref))
            hv = hypervolume(np.array(pts), [1.0] * len(objectives))
        out.append(hv)
    return out


@pytest.mark.parametrize("m", [2, 3])
def test_incremental_trace_equals_the_full_recomputation(m) -> None:
    """Skipping dominated points must not change a single value (duplicates, NaN, points outside the box)."""
    rng = np.random.default_rng(m)
    names = ["error", "flash", "ram"][:m]
    ref = dict.fromkeys(names, 1.0)
    results = []
    for i in range(60):
        y = rng.uniform(0.0, 1.2, m).round(1)  # coarse values: many ties and duplicates
        obj = dict(zip(names, map(float, y), strict=True))
        if i % 11 == 5:
            obj["error"] = math.nan
        status = TrialStatus.FAILED if i % 13 == 7 else TrialStatus.COMPLETE
        results.append(TrialResult(i, [0.0], {}, status, obj))
    assert hypervolume_trace(results, names, ref) == _slow_history(results, names, ref)
