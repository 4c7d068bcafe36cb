"""``benchmarks/known_costs.py``: a real (tiny) run of the exact-cost throughput benchmark."""

from __future__ import annotations

import json

import pytest

from benchmarks.known_costs import TASKS, main, measure


def test_measure_costs_every_point_of_the_space() -> None:
    record = measure(TASKS["quickstart"], 12)
    assert record["points"] == 12 and record["dim"] >= 4
    assert 1 <= record["misses"] <= 12  # each distinct architecture costed once
    assert record["finite"] == 12 and record["checksum"] > 0  # every quickstart candidate can be built
    assert record["seconds"] > 0 and record["ms_per_miss"] > 0


@pytest.mark.slow
def test_main_compares_a_baseline_checkout_and_writes_the_json(tmp_path, capsys) -> None:
    from benchmarks.known_costs import REPO

    out = tmp_path / "known_costs.json"
    argv = ["--points", "6", "--repeats", "1", "--tasks", "quickstart", "--baseline", str(REPO), "--out", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert set(data["runs"]) == {"this", "baseline"} and data["points"] == 6
    assert data["same_costs"] == {"quickstart": True}  # the same code costs the same
    assert "x faster" in capsys.readouterr().out
