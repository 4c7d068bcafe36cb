"""The TFLM cost model against the real toolchain: every zoo net is converted with litert-torch and allocated in
the TFLite-Micro interpreter. The estimate's arena head must equal TFLM's byte for byte, its flash must be within
5 % of the .tflite and its persistent tail within 15 %; the exported graph must be all int8."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.cost_model import host_board
from core.tflite_graph import TfliteGraph
from core.tflm_planner import plan
from core.tflm_runtime import arena_use, as_2d, convert_int8, invoke
from plugins.hw.tflite_lowering import lower
from tests.tflm_zoo import ZOO


@pytest.fixture(scope="module")
def converted() -> dict[str, tuple[torch.nn.Module, bytes]]:
    out = {}
    for name, (factory, shape) in ZOO.items():
        torch.manual_seed(0)
        model = factory().eval()
        out[name] = (model, convert_int8(model, shape, [torch.randn(16, *shape)]))
    return out


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
    assert est.details["arena_head_bytes"] == real.head
    assert abs(est.flash_bytes / len(data) - 1) < 0.05
    assert abs(est.details["arena_tail_bytes"] / real.tail - 1) < 0.15
    # all int8: no float activations, no (de)quantize ops inside the graph
    assert graph.float_tensors() == []
    assert not {"DEQUANTIZE", "QUANTIZE"} & set(graph.op_names())
    assert graph.tensors[graph.inputs[0]].dtype == "INT8" and graph.tensors[graph.outputs[0]].dtype == "INT8"


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

    from core.tflm_runtime import NotInt8Error, check_all_int8

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4)).eval()
    float_tflite = bytes(litert_torch.convert(model, (torch.zeros(1, 16),)).model_content())
    with pytest.raises(NotInt8Error, match="not all int8"):
        check_all_int8(float_tflite)
