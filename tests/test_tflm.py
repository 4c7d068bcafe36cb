"""The TFLM cost model against the real toolchain: every zoo net is converted with litert-torch and allocated in
the TFLite-Micro interpreter. The estimate's arena head must equal TFLM's byte for byte, its flash must be within
3 % of the .tflite and its persistent tail within 5 %; the exported graph must be all int8."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.cost_model import host_board
from core.tflm.planner import plan
from core.tflm.runtime import arena_use, convert_int8, invoke
from core.tflm.tflite_graph import TfliteGraph
from core.trial.deployed_layout import as_2d
from plugins.hw.tflite_lowering import lower
from plugins.hw.tflm import TflmTarget, estimate_vs_measurement
from tests.tflm_zoo import ZOO

HEAD_EXACT, TAIL_TOLERANCE, FLASH_TOLERANCE = 0, 0.05, 0.03


@pytest.fixture(scope="module")
def converted() -> dict[str, tuple[torch.nn.Module, bytes]]:
    """Zoo nets converted on first use (a net whose conversion fails fails only its own tests)."""
    return _Converted()


class _Converted(dict):  # type: ignore[type-arg]
    def __missing__(self, name: str) -> tuple[torch.nn.Module, bytes]:
        factory, shape = ZOO[name]
        torch.manual_seed(0)
        model = factory().eval()
        self[name] = (model, convert_int8(model, shape, [torch.randn(16, *shape)]))
        return self[name]


@pytest.mark.parametrize("name", list(ZOO))
def test_estimate_matches_tflm(converted, name: str) -> None:
    model, data = converted[name]
    shape = ZOO[name][1]
    graph = TfliteGraph.from_bytes(data)
    real = arena_use(data)
    est = host_board().cost(model, shape)
    # the predicted graph is the converted one, op for op, and the planner replay on it is TFLM's own
    assert lower(model, shape).op_names() == graph.op_names()
    assert plan(graph.activation_buffers())[1] == real.head
    assert abs(est.details["arena_head_bytes"] - real.head) <= HEAD_EXACT
    assert abs(est.flash_bytes / len(data) - 1) <= FLASH_TOLERANCE
    assert abs(est.details["arena_tail_bytes"] / real.tail - 1) <= TAIL_TOLERANCE
    # all int8: no float activations, no (de)quantize ops inside the graph
    assert graph.float_tensors() == []
    assert not {"DEQUANTIZE", "QUANTIZE"} & set(graph.op_names())
    assert graph.tensors[graph.inputs[0]].dtype == "INT8" and graph.tensors[graph.outputs[0]].dtype == "INT8"


def test_zoo_covers_the_shapes_the_cost_model_must_get_right() -> None:
    assert len(ZOO) >= 30
    ops = {op for name, (factory, shape) in ZOO.items() for op in lower(factory().eval(), shape).op_names()}
    assert {"PAD", "PADV2", "CONCATENATION", "AVERAGE_POOL_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE", "MUL"} <= ops


@pytest.mark.parametrize("name", ["maxpool_pad_32x32", "ds_cnn_kws_49x10"])
def test_board_report_separates_host_estimate_board_estimate_and_what_is_verified(converted, name: str) -> None:
    """The host-settings estimate agrees with the host measurement; the board estimate says what it models."""
    model, data = converted[name]
    shape = ZOO[name][1]
    real = arena_use(data)
    board = TflmTarget(
        "stm32f4", 524288, 131072, 81920, 16384, 180e6, "cortex-m4f", 1.5, 12_000_000, 0.1, kernels="cmsis-nn"
    )  # fmt: skip
    report = estimate_vs_measurement(board, model, shape, real.head, real.tail, len(data))
    host, on_board = report["host_estimate"], report["board_estimate"]
    assert (host["core"], host["pointer_bytes"], host["kernels"]) == ("x86-64", 8, "reference")
    assert host["arena_head_bytes"] == real.head and host["head_matches_measured"]
    assert abs(host["ratio_to_measured"]["arena_tail"] - 1) <= TAIL_TOLERANCE
    # the board's head is the host's plus what CMSIS-NN's scratch adds (nothing where it fits beside the peak);
    # its tail has 4-byte pointers (smaller than the host's)
    assert on_board["arena_head_bytes"] == real.head + on_board["cmsis_nn_scratch_head_bytes"]
    assert on_board["cmsis_nn_scratch_head_bytes"] >= 0 and on_board["arena_tail_bytes"] < host["arena_tail_bytes"]
    assert on_board["ram_bytes"] == board.cost(model, shape).ram_bytes
    parts = report["board_estimate_parts"]
    assert any("CMSIS-NN" in m for m in parts["modelled"]) and any("4-byte pointers" in m for m in parts["modelled"])
    assert any("arena head" in v for v in parts["verified"])


def test_one_d_models_convert_as_two_d_with_the_same_outputs() -> None:
    factory, shape = ZOO["cnn1d_128x6"]
    torch.manual_seed(0)
    model = factory().eval()
    x = torch.randn(4, *shape)
    with torch.no_grad():
        assert torch.allclose(model(x), as_2d(model)(x.unsqueeze(2)), atol=1e-5)


def test_tflm_runs_the_exported_model_like_pytorch(converted) -> None:
    """The int8 model in TFLM agrees with the float PyTorch model on most argmaxes (quantization noise only)."""
    model, data = converted["cnn_gap_8x8"]
    graph = TfliteGraph.from_bytes(data)
    from tflite_micro import runtime

    details = runtime.Interpreter.from_bytes(data).get_input_details(0)
    scale, zero = (
        float(details["quantization_parameters"]["scales"][0]),
        int(details["quantization_parameters"]["zero_points"][0]),
    )
    torch.manual_seed(1)
    x = torch.randn(32, 1, 8, 8)
    q = np.clip(np.round(x.permute(0, 2, 3, 1).numpy() / scale) + zero, -128, 127).astype(np.int8)
    out = invoke(data, q)
    with torch.no_grad():
        ref = model(x).argmax(1).numpy()
    assert out.shape == (32, graph.tensors[graph.outputs[0]].shape[-1])
    assert (out.argmax(1) == ref).mean() >= 0.9


def test_a_graph_left_in_float_fails_loudly() -> None:
    import litert_torch

    from core.tflm.runtime import NotInt8Error, check_all_int8

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4)).eval()
    float_tflite = bytes(litert_torch.convert(model, (torch.zeros(1, 16),)).model_content())
    with pytest.raises(NotInt8Error, match="not all int8"):
        check_all_int8(float_tflite)
