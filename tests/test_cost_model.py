"""TFLM cost model (fast path): hand-computed graph, MACs, bytes and arena; float and int8 graphs cost the same."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.tflm.planner import Buffer, plan
from plugins.hw.tflite_lowering import LoweringError, lower
from plugins.hw.tflm import (
    FLATBUFFER_FIXED_BYTES,
    FLATBUFFER_OP_BYTES,
    FLATBUFFER_OP_CODE_BYTES,
    QPARAM_BYTES_PER_CHANNEL,
    TflmTarget,
    n_tensors,
    persistent_bytes,
)


def _board(**kw) -> TflmTarget:
    args = dict(
        name="b", flash_bytes=20_000, sram_bytes=8_000, runtime_flash_bytes=1_000, reserved_sram_bytes=500,
        clock_hz=1e8, core="cortex-m4", cycles_per_mac=2.0, max_macs=10**6, max_latency_s=0.1,
    )  # fmt: skip
    args.update(kw)
    return TflmTarget(**args)


def _net() -> nn.Module:
    # input 1x8x8 -> conv 4x8x8 (+BN+ReLU fused) -> maxpool 4x4x4 -> flatten (TRANSPOSE + RESHAPE) -> linear 10
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10)
    ).eval()


def test_planner_places_largest_first_at_the_lowest_free_offset() -> None:
    # a (0-1) and b (1-2) overlap in time; c (2-3) can reuse a's space; sizes are aligned to 16
    offsets, head = plan([Buffer(100, 0, 1), Buffer(50, 1, 2), Buffer(100, 2, 3)])
    assert offsets == [0, 112, 0] and head == 176
    # equal sizes: the later buffer is placed first (TFLM fills its sort array from the back)
    offsets, _ = plan([Buffer(64, 0, 1), Buffer(64, 0, 1)])
    assert offsets == [64, 0]


def test_hand_computed_graph_and_cost() -> None:
    g = lower(_net(), (1, 8, 8))
    # a 1-input-channel conv converts to DEPTHWISE_CONV_2D; flatten of 4x4x4 restores PyTorch's channel order
    assert g.op_names() == ["DEPTHWISE_CONV_2D", "MAX_POOL_2D", "TRANSPOSE", "RESHAPE", "FULLY_CONNECTED"]
    cost = _board(kernels="reference").cost(_net(), (1, 8, 8))
    assert cost.macs == 4 * 8 * 8 * 9 + 64 * 10
    assert cost.details["weight_bytes"] == 4 * 9 + 64 * 10 and cost.details["bias_bytes"] == 4 * (4 + 10)
    assert cost.details["qparam_bytes"] == 2 * QPARAM_BYTES_PER_CHANNEL * (4 + 10)
    # five op types, five ops and two constants (perm, shape) of 16 + 8 bytes besides weights and biases
    per_op = sum(FLATBUFFER_OP_BYTES[op] for op in g.op_names())
    assert (
        cost.details["flatbuffer_overhead_bytes"] == FLATBUFFER_FIXED_BYTES + 5 * FLATBUFFER_OP_CODE_BYTES + per_op + 24
    )
    # arena head: conv out 256 @0; the 64-byte buffers, reshape out @0, transpose out @64, pool out @256
    # (alive with conv out and transpose out), input @256; fc out (16) @64 -> head 320
    assert cost.details["arena_head_bytes"] == 320
    assert cost.ram_bytes == 320 + persistent_bytes(g, 4)
    assert cost.latency_s == pytest.approx(cost.macs * 2.0 / 1e8)
    # CMSIS-NN's depthwise kernel adds a 2 * 36-byte scratch buffer while the conv runs (input 64 + out 256)
    assert _board().cost(_net(), (1, 8, 8)).details["arena_head_bytes"] == 320 + 80


def test_strided_conv_gets_the_converters_pad_buffer() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU()).eval()
    g = lower(net, (3, 16, 16))
    assert g.op_names() == ["PAD", "CONV_2D"] and g.tensors[1].shape == (1, 18, 18, 3)
    odd = lower(net, (3, 15, 15))  # TF SAME padding is symmetric here: no PAD
    assert odd.op_names() == ["CONV_2D"]


def test_budgets_and_violations() -> None:
    board = _board()
    assert board.flash_budget == 19_000 and board.sram_budget == 7_500
    cost = board.cost(_net(), (1, 8, 8))
    assert board.violations(cost) == []
    small = _board(sram_bytes=1_000, reserved_sram_bytes=500)
    assert small.violations(small.cost(_net(), (1, 8, 8)))[0].startswith("SRAM")
    assert board.reference()["flash"] == 19_000 and board.reference()["error"] == 1.0
    with pytest.raises(ValueError, match="leave no room"):
        _board(runtime_flash_bytes=30_000)
    with pytest.raises(ValueError, match="kernels"):
        _board(kernels="fast")


def test_unknown_ops_fail_loudly() -> None:
    class Odd(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sort(x, dim=-1).values

    with pytest.raises(LoweringError, match="cannot lower"):
        lower(Odd(), (1, 8))


BOARDS = ("stm32f4", "stm32f7", "stm32h7", "esp32", "esp32s3", "nrf52840", "rp2040")


@pytest.mark.parametrize("board", BOARDS)
def test_board_catalogue(make_cfg, board: str) -> None:
    """Every board of the catalogue composes, builds, costs a model and leaves room for one."""
    from core.plugins import instantiate
    from plugins.models.small_cnn import SmallCNN

    cfg = make_cfg(f"hw={board}")
    hw = instantiate(cfg.hw, "hw")
    assert hw.name == board and hw.flash_budget > 100_000 and hw.sram_budget > 64_000
    cost = hw.cost(SmallCNN(depth=2, width=16).build((3, 32, 32), 10).eval(), (3, 32, 32))
    assert hw.violations(cost) == [] and cost.latency_s > 0
    assert (cost.details["arena_head_bytes"] > 0) and cost.ram_bytes > cost.details["arena_head_bytes"]


def _pool_net(pool: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), pool, nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())


def test_pool_padding_that_is_not_same_gets_the_converters_pad() -> None:
    # MaxPool2d(3, 2, 1) on 32x32: TF's SAME padding would be (0, 1), PyTorch's is (1, 1): PADV2 (pad value -128)
    g = lower(_pool_net(nn.MaxPool2d(3, 2, 1)).eval(), (3, 32, 32))
    assert g.op_names() == ["CONV_2D", "PADV2", "MAX_POOL_2D", "CONV_2D"]
    assert g.tensors[2].shape == (1, 34, 34, 8) and g.ops[1].consts == 2
    # on 33x33 the padding is SAME's: no pad
    assert lower(_pool_net(nn.MaxPool2d(3, 2, 1)).eval(), (3, 33, 33)).op_names() == [
        "CONV_2D",
        "MAX_POOL_2D",
        "CONV_2D",
    ]
    # ceil_mode pads one more on the right: 32 + 2 + 1
    g = lower(_pool_net(nn.MaxPool2d(3, 2, 1, ceil_mode=True)).eval(), (3, 32, 32))
    assert g.op_names()[1] == "PADV2" and g.tensors[2].shape == (1, 35, 35, 8)
    # 1-D: only the length is padded
    net1d = nn.Sequential(nn.Conv1d(3, 8, 3, padding=1), nn.MaxPool1d(3, 2, 1)).eval()
    assert lower(net1d, (3, 100)).tensors[2].shape == (1, 1, 102, 8)
    # average pooling counts the padding (count_include_pad): always a zero PAD, even where SAME would agree
    for size in (16, 17):
        g = lower(_pool_net(nn.AvgPool2d(3, 2, 1)).eval(), (3, size, size))
        assert g.op_names() == ["CONV_2D", "PAD", "AVERAGE_POOL_2D", "CONV_2D"] and g.ops[1].consts == 1


def test_pools_the_toolchain_cannot_convert_are_refused() -> None:
    for pool in (nn.AvgPool2d(3, 2, 1, count_include_pad=False), nn.AvgPool2d(2, 2, ceil_mode=True)):
        with pytest.raises(LoweringError, match="AvgPool2d"):
            lower(_pool_net(pool).eval(), (3, 15, 15))


def test_flatten_of_one_pixel_into_linear_is_dropped() -> None:
    # FULLY_CONNECTED flattens a 1x1xC input itself: the converter drops the RESHAPE
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.MaxPool2d(8), nn.Flatten(), nn.Dropout(), nn.Linear(8, 10))
    assert lower(net.eval(), (3, 8, 8)).op_names() == ["CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"]
    # ... but keeps it where the flattened tensor is the graph's output
    assert lower(net[:3].eval(), (3, 8, 8)).op_names() == ["CONV_2D", "MAX_POOL_2D", "RESHAPE"]


@pytest.mark.parametrize(
    ("layer", "name"), [(nn.SiLU(), "SiLU"), (nn.AdaptiveMaxPool2d(1), "AdaptiveMaxPool2d"), (nn.GELU(), "GELU")]
)
def test_unsupported_layers_are_named_in_one_paragraph(layer: nn.Module, name: str) -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3), layer).eval()
    with pytest.raises(LoweringError) as info:
        _board().cost(net, (3, 8, 8))
    message = str(info.value)
    assert isinstance(info.value, ValueError) and "\n" not in message
    assert f"layer '1' ({name})" in message and "Conv1d/Conv2d" in message and "MaxPool" in message


def test_equal_constants_are_one_tensor() -> None:
    # two stride-2 convs on even inputs get the same paddings ((0, 1) would be SAME; PyTorch pads (1, 1)): the
    # converter stores the paddings once, as one tensor shared by both PADs
    net = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU()).eval()
    g = lower(net, (3, 16, 16))
    assert g.op_names() == ["PAD", "CONV_2D", "PAD", "CONV_2D"] and len(g.constants()) == 1
    assert n_tensors(g) == 5 + 2 * 2 + 1  # activations, weights and biases, one paddings tensor
