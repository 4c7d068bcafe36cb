"""Export: a finished search's Pareto models become int8 .tflite files, C arrays and READMEs; the .tflite is the int8
graph the trial scored and runs in TFLite-Micro with its predictions (>= 99 %) and the flash it estimated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.search.loop import Search
from core.tflm.export import c_array, main


@pytest.fixture(scope="module")
def run_dir(make_cfg, tmp_path_factory) -> Path:
    cfg = make_cfg(
        "optimizer=sobol", "search.n_trials=3", "search.progress=false", "logger=none", "trainer.max_epochs=8",
        "~search_space.params.epochs",
    )  # fmt: skip
    out = tmp_path_factory.mktemp("export") / "run"
    Search(cfg, out, show_progress=False).run()
    return out


def test_export_writes_deployable_files_that_match_pytorch(run_dir: Path) -> None:
    assert main([str(run_dir)]) == 0
    records = json.loads((run_dir / "export.json").read_text())
    assert records
    for r in records:
        out = run_dir / "models" / str(r["trial_id"])
        data = (out / "model.tflite").read_bytes()
        assert len(data) == r["tflite_bytes"]
        # the C array holds exactly the .tflite bytes
        source = (out / "model_data.cc").read_text()
        values = bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", source))
        assert values == data and f"g_model_len = {len(data)};" in source
        assert "kArenaSize" in (out / "README.md").read_text()
        assert r["input"]["dtype"] == "INT8" and r["output"]["dtype"] == "INT8"
        # the .tflite in TFLite-Micro predicts as the int8 graph the trial scored, and is as big as estimated
        assert r["pytorch_int8_test_accuracy"] == r["search_test_accuracy"]
        assert r["prediction_agreement"] >= 0.99
        assert abs(r["tflm_test_accuracy"] - r["pytorch_int8_test_accuracy"]) <= 0.005
        assert abs(r["estimated_flash_bytes"] / r["tflite_bytes"] - 1) < 0.05  # tiny trained nets: see the zoo for 3 %
        _assert_like_with_like(r)
        readme = (out / "README.md").read_text()
        assert "host build's settings" in readme and "Modelled, not measured" in readme and "CMSIS-NN" in readme


def _assert_like_with_like(r: dict) -> None:
    """The host-settings estimate is compared with the host measurement (head byte-exact), the board estimate is
    reported apart with what in it is verified and what modelled."""
    host, board = r["host_estimate"], r["board_estimate"]
    assert "x86-64" in r["measured_on"] and (host["core"], host["pointer_bytes"], host["kernels"]) == (
        "x86-64", 8, "reference",
    )  # fmt: skip
    assert host["arena_head_bytes"] == r["arena_head_bytes"] and host["head_matches_measured"] is True
    assert abs(host["arena_tail_bytes"] / r["arena_tail_bytes"] - 1) <= 0.05
    assert abs(host["flash_bytes"] / r["tflite_bytes"] - 1) < 0.05
    # the quickstart board (stm32f4): 4-byte pointers and CMSIS-NN scratch, modelled on top of the verified head
    assert (board["board"], board["pointer_bytes"], board["kernels"]) == ("stm32f4", 4, "cmsis-nn")
    assert board["arena_head_bytes"] == host["arena_head_bytes"] + board["cmsis_nn_scratch_head_bytes"]
    assert board["ram_bytes"] == board["arena_head_bytes"] + board["arena_tail_bytes"]
    assert r["board_estimate_parts"]["verified"] and r["board_estimate_parts"]["modelled"]
    assert "estimated_ram_bytes" not in r  # the board's SRAM is never put next to the host measurement unlabelled


def test_c_array_layout() -> None:
    header, source = c_array(bytes(range(14)))
    assert "extern const unsigned char g_model[];" in header
    assert "alignas(16) const unsigned char g_model[] = {\n  0x00, 0x01," in source and "g_model_len = 14;" in source


def test_export_of_a_non_run_directory_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path)]) == 2
    assert "holds no models/ directory" in capsys.readouterr().err


def test_measure_reports_the_real_runtime_next_to_the_estimate(run_dir: Path) -> None:
    from core.tflm.measure import main as measure_main

    assert measure_main([str(run_dir)]) == 0
    records = json.loads((run_dir / "measure.json").read_text())
    assert records and all(r["arena_total_bytes"] == r["arena_head_bytes"] + r["arena_tail_bytes"] for r in records)
    assert all(abs(r["estimated_flash_bytes"] / r["tflite_bytes"] - 1) < 0.05 for r in records)
    for r in records:
        _assert_like_with_like(r)
        assert r["search_objectives"]["ram"] == r["board_estimate"]["ram_bytes"]


def test_search_can_cost_with_the_real_runtime(make_cfg) -> None:
    """hw.measure=tflm: flash and SRAM come from the converted model in TFLite-Micro (estimate kept as details)."""
    from core.plugins import instantiate
    from plugins.models.small_cnn import SmallCNN

    hw = instantiate(make_cfg("hw.measure=tflm", "hw.kernels=reference", "hw.pointer_bytes=8").hw, "hw")
    cost = hw.cost(SmallCNN(depth=2, width=8).build((1, 8, 8), 10).eval(), (1, 8, 8))
    assert cost.ram_bytes == cost.details["tflm_head_bytes"] + cost.details["tflm_tail_bytes"]
    assert cost.details["tflm_head_bytes"] == cost.details["arena_head_bytes"]
    assert abs(cost.details["estimated_flash_bytes"] / cost.flash_bytes - 1) < 0.05
