"""core.trial.int8, the one int8 stack: the converted graph runs at any batch size, its saved state rebuilds it exactly,
and its averages round as TFLite-Micro's integer kernels do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.trial.int8 import from_prepared, post_training_int8, prepare, with_tflm_rounding
from core.trial.int8_quantizer import Int8Scheme
from plugins.models.small_cnn import SmallCNN


def _calibrated(model: nn.Module, shape: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, object]:
    torch.manual_seed(seed)
    x = torch.randn(64, *shape)
    return x, post_training_int8(model.eval(), shape, [x[:32], x[32:]], Int8Scheme())


def test_scheme_rejects_what_tflite_cannot_run() -> None:
    with pytest.raises(ValueError, match="observer must be one of minmax, histogram"):
        Int8Scheme(observer="percentile")
    with pytest.raises(ValueError, match="activation_averaging"):
        Int8Scheme(qat=True, activation_averaging=0.0)


@pytest.mark.parametrize("shape", [(1, 8, 8), (6, 40)])
def test_the_int8_graph_runs_any_batch_size_close_to_float(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = SmallCNN(depth=2, width=8, conv_dim=len(shape) - 1).build(shape, 4).eval()
    x, int8 = _calibrated(model, shape)
    with torch.no_grad():
        full = int8(x)
        assert torch.equal(int8(x[:1]), full[:1]) and torch.equal(int8(x[:5]), full[:5])
        agree = (full.argmax(1) == model(x).argmax(1)).float().mean().item()
    assert agree >= 0.9
    ops = [str(n.target) for n in int8.graph.graph.nodes if n.op == "call_function"]
    assert any("quantize_per_channel" in o for o in ops) and sum("quantize_per_tensor" in o for o in ops) >= 4


def test_the_saved_state_rebuilds_the_same_graph() -> None:
    """What core.tflm.export relies on: prepare again, load the state, convert: the very same int8 model."""
    torch.manual_seed(0)
    model = SmallCNN(depth=2, width=8).build((1, 8, 8), 10).eval()
    x, int8 = _calibrated(model, (1, 8, 8))
    again = prepare(model, (1, 8, 8), int8.scheme)
    again.load_state_dict(int8.state, strict=True)
    rebuilt = from_prepared(again, (1, 8, 8), int8.scheme)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), int8(x))


def test_averages_are_replaced_only_between_a_dequantize_and_a_quantize() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3)).eval()  # fmt: skip
    _, int8 = _calibrated(model, (1, 8, 8))
    targets = {getattr(n.target, "__name__", str(n.target)) for n in int8.scored.graph.nodes}
    assert {"tflm_avg_pool", "tflm_mean"} <= targets
    plain = {str(n.target) for n in with_tflm_rounding(int8.graph).graph.nodes} & {
        str(n.target) for n in int8.graph.graph.nodes
    }
    assert "aten.linear.default" in plain  # everything else is left as it is


NETS = {
    "gap_after_pools": (lambda: nn.Sequential(nn.Conv2d(1, 10, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                              nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten()), (1, 8, 8)),
    "gap": (lambda: nn.Sequential(nn.Conv2d(1, 10, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten()), (1, 8, 8)),
    "avg_pool": (lambda: nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten()),
                 (1, 8, 8)),
    "gap_1d": (lambda: nn.Sequential(nn.Conv1d(3, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                                     nn.AdaptiveAvgPool1d(1), nn.Flatten()), (3, 16)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(NETS))
def test_averages_round_as_tflite_micro_computes_them(name: str) -> None:
    """TFLM's MEAN and AVERAGE_POOL_2D divide integer sums and round; a float mean rounded half to even disagreed
    on 7-27 % of these nets' int8 outputs. The scored graph must agree on >= 98 % (the rest: requantization ties)."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("tflite_micro")
    from core.tflm.export import _io_quantization
    from core.tflm.runtime import invoke, lower_int8
    from core.trial.deployed_layout import to_deployed

    factory, shape = NETS[name]
    torch.manual_seed(0)
    x, int8 = _calibrated(factory(), shape)
    x = torch.randn(300, *shape)
    data = lower_int8(int8)
    q_in, q_out = _io_quantization(data)
    qx = np.round(to_deployed(x, shape).numpy() / q_in["scale"]) + q_in["zero_point"]
    tflm = invoke(data, np.clip(qx, -128, 127).astype(np.int8)).reshape(len(x), -1).astype(int)
    with torch.no_grad():
        ours = np.round(int8(x).reshape(len(x), -1).numpy() / q_out["scale"]) + q_out["zero_point"]
    assert (tflm == ours).mean() >= 0.98


def test_a_qat_graph_converts_with_its_batchnorm_folded() -> None:
    """convert folds QAT's conv-BatchNorm patterns (only the 2-D kind is tried: the deployed graph has no other)."""
    torch.manual_seed(0)
    model = SmallCNN(depth=2, width=8).build((1, 8, 8), 10)
    prepared = prepare(model, (1, 8, 8), Int8Scheme(qat=True))
    prepared(torch.randn(16, 8, 8, 1))  # one observed training batch (deployed layout)
    int8 = from_prepared(prepared, (1, 8, 8), Int8Scheme(qat=True))
    ops = {str(n.target) for n in int8.graph.graph.nodes if n.op == "call_function"}
    assert not any("batch_norm" in o for o in ops) and "aten.conv2d.default" in ops


def test_no_torch_ao_fx_quantization_remains() -> None:
    """One int8 stack: the deprecated torch.ao FX quantization API is gone from the product."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for folder in ("core", "plugins"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            for api in ("torch.ao.", "prepare_fx", "convert_fx", "prepare_qat_fx", "torch.ops.quantized."):
                assert api not in text, f"{path}: {api}"
