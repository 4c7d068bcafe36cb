"""The model you flash is the model the search scored: both quickstarts, run as a user runs them, then exported.

For every exported Pareto model the .tflite is lowered from the int8 graph the trial scored (its saved ranges, no
second calibration), so the PyTorch int8 accuracy the export measures is the search's own, and TFLite-Micro's
integer kernels predict the same class as that graph on >= 99 % of the test samples, with accuracies within half a
point. (The QAT run's parity is asserted in tests/test_qat.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("litert_torch")
pytest.importorskip("tflite_micro")

AGREEMENT, ACCURACY_GAP = 0.99, 0.005


def _search(make_cfg, tmp_path: Path, *overrides: str) -> Path:
    from core.search.loop import Search

    cfg = make_cfg("search.progress=false", "logger=none", *overrides)
    out = tmp_path / "run"
    Search(cfg, out, show_progress=False).run()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["quickstart", "quickstart_timeseries"])
def test_every_exported_pareto_model_predicts_like_the_scored_int8_model(
    make_cfg, tmp_path: Path, experiment: str
) -> None:
    from core.tflm.export import main

    # time_share=null: the trajectory (and so which models get exported) must not depend on the machine's load
    run_dir = _search(make_cfg, tmp_path, f"experiment={experiment}", "optimizer.time_share=null")
    assert main([str(run_dir)]) == 0
    records = json.loads((run_dir / "export.json").read_text())
    assert records
    for r in records:
        print(
            f"\n{experiment} trial {r['trial_id']}: TFLM {r['tflm_test_accuracy']:.4f}, PyTorch int8 "
            f"{r['pytorch_int8_test_accuracy']:.4f}, same prediction {r['prediction_agreement']:.4f} "
            f"of {r['test_samples']}"
        )
        assert r["quantized_by"] == "the trial (post-training), as scored"
        assert r["pytorch_int8_test_accuracy"] == r["search_test_accuracy"]  # the scored graph, rebuilt exactly
        assert r["prediction_agreement"] >= AGREEMENT
        assert abs(r["tflm_test_accuracy"] - r["pytorch_int8_test_accuracy"]) <= ACCURACY_GAP
        assert r["host_estimate"]["head_matches_measured"] is True
