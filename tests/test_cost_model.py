"""Analytic cost model: hand-computed MACs, bytes and peak SRAM; float and int8 graphs cost the same."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.datamodule import ArrayDataModule
from plugins.compressors.quant_int8 import Int8PostTrainingQuantization
from plugins.hw.analytic import (
    FLATBUFFER_FIXED_BYTES,
    FLATBUFFER_PER_TENSOR_BYTES,
    QPARAM_BYTES_PER_CHANNEL,
    AnalyticTarget,
)


def _board(**kw) -> AnalyticTarget:
    args = dict(
        name="b", flash_bytes=10_000, sram_bytes=2_000, runtime_flash_bytes=1_000, reserved_sram_bytes=500,
        clock_hz=1e8, core="cortex-m4", cycles_per_mac=2.0, max_macs=10**6, max_latency_s=0.1,
    )  # fmt: skip
    args.update(kw)
    return AnalyticTarget(**args)


def _net() -> nn.Module:
    # input 1x8x8 (64 B) -> conv 4x8x8 (256 B) -> relu (fused) -> maxpool 4x4x4 (64 B) -> flatten -> linear 10
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
    ).eval()


def test_hand_computed_cost() -> None:
    cost = _board().cost(_net(), (1, 8, 8))
    conv_macs = 4 * 8 * 8 * 1 * 9
    assert cost.macs == conv_macs + 64 * 10
    assert cost.details["weight_bytes"] == 4 * 9 + 64 * 10
    assert cost.details["bias_bytes"] == 4 * (4 + 10)
    assert cost.details["qparam_bytes"] == 2 * QPARAM_BYTES_PER_CHANNEL * (4 + 10)
    # tensors: input, conv out, pool out, linear out (BN/ReLU/Flatten alias) + 2 per layer for weight/bias
    n_tensors = 4 + 2 * 2
    assert cost.details["flatbuffer_overhead_bytes"] == FLATBUFFER_FIXED_BYTES + FLATBUFFER_PER_TENSOR_BYTES * n_tensors
    # peak: while the conv runs, input (64) and conv output (256) are both live
    assert cost.ram_bytes == 64 + 256
    assert cost.latency_s == pytest.approx(cost.macs * 2.0 / 1e8)


def test_int8_graph_costs_like_float() -> None:
    torch.manual_seed(0)
    model = _net()
    x = torch.randn(64, 1, 8, 8)
    dm = ArrayDataModule(x.numpy(), torch.arange(64).remainder(10).numpy(), 16, 0)
    q = Int8PostTrainingQuantization(calibration_batches=2).apply(model, dm)
    assert any("quantized" in type(m).__module__ for m in q.modules())
    f, i = _board().cost(model, (1, 8, 8)), _board().cost(q, (1, 8, 8))
    assert (i.macs, i.ram_bytes, i.flash_bytes) == (f.macs, f.ram_bytes, f.flash_bytes)


def test_budgets_and_violations() -> None:
    board = _board()
    assert board.flash_budget == 9_000 and board.sram_budget == 1_500
    cost = board.cost(_net(), (1, 8, 8))
    assert board.violations(cost) == []
    small = _board(sram_bytes=800, reserved_sram_bytes=500)
    assert small.violations(small.cost(_net(), (1, 8, 8))) == ["SRAM 320 B > budget 300 B"]
    assert board.reference()["flash"] == 9_000 and board.reference()["error"] == 1.0
    with pytest.raises(ValueError, match="leave no room"):
        _board(runtime_flash_bytes=20_000)


def test_linear_macs_count_leading_dims_and_size_is_not_a_tensor() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(2, 4, 3, padding=1)
            self.fc = nn.Linear(16, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.fc(self.conv(x))  # Linear over the length dim: 4 rows of 16 -> 5
            return h.view(h.size(0), -1)

    cost = _board().cost(Net().eval(), (2, 16))
    assert cost.macs == 4 * 16 * 2 * 3 + 4 * 5 * 16
    # tensors: input, conv out, fc out (view aliases, size() is no tensor) + weight and bias for 2 layers
    assert cost.details["flatbuffer_overhead_bytes"] == FLATBUFFER_FIXED_BYTES + FLATBUFFER_PER_TENSOR_BYTES * 7
