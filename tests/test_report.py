"""`python -m core.report`: every report is regenerated from the store alone, also for interrupted runs."""

from __future__ import annotations

import csv
import json

import pytest

from core.evaluate import evaluate_trial
from core.report import main as report_main
from core.search import Search

FAST = ("trainer.max_epochs=1", "search.progress=false", "logger=none", "~search_space.params.epochs")


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
    for name in ("trials.csv", "pareto.csv", "summary.json", "pareto.png", "hypervolume.png"):
        (tmp_path / name).unlink()

    assert report_main([str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"] == first["counts"] == {"pending": 1, "complete": 2, "infeasible": 0, "failed": 0,
                                                    "total": 3}  # fmt: skip
    assert summary["hypervolume"] == pytest.approx(first["hypervolume"])
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert [r["status"] for r in rows] == ["complete", "complete", "pending"]
    assert (tmp_path / "pareto.png").is_file() and (tmp_path / "hypervolume.png").is_file()
    assert "Pareto front on stm32f4" in capsys.readouterr().out
    assert not (tmp_path / "logs").exists()  # logger=none writes no training curves


def test_report_rejects_a_directory_without_a_store(tmp_path, capsys) -> None:
    assert report_main([str(tmp_path)]) == 2
    assert "no trials.db here; pass a tinymoo run directory" in capsys.readouterr().err
