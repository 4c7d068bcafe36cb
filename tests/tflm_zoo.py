"""A zoo of small nets covering what the TFLM cost model must get right: sequential, residual, depthwise-separable,
1-D (time series), pruned and unpruned, strided convs (converter-inserted PADs), at 8x8, 32x32 and 128x6 inputs."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from core.surgery import prune_by_fraction
from plugins.models.small_cnn import SmallCNN


def _cbr(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, dim: int = 2) -> list[nn.Module]:
    conv = nn.Conv2d if dim == 2 else nn.Conv1d
    bn = nn.BatchNorm2d if dim == 2 else nn.BatchNorm1d
    return [conv(cin, cout, k, stride, k // 2, groups=groups, bias=False), bn(cout), nn.ReLU()]


class Residual(nn.Module):
    """conv-bn-relu, conv-bn, + skip (1x1 strided projection when the shape changes), relu."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_cbr(cin, cout, 3, stride), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        )
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.skip(x))


def resnet_tiny(channels: int = 3, width: int = 8) -> nn.Module:
    return nn.Sequential(
        *_cbr(channels, width, 3, 1), Residual(width, width, 1), Residual(width, 2 * width, 2),
        Residual(2 * width, 2 * width, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 10),
    )  # fmt: skip


def dw_separable(channels: int = 3) -> nn.Module:
    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [*_cbr(cin, cin, 3, stride, groups=cin), *_cbr(cin, cout, 1)]

    return nn.Sequential(
        *_cbr(channels, 8, 3, 2), *block(8, 16, 1), *block(16, 32, 2), *block(32, 32, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip


def strided_plain(channels: int = 3) -> nn.Module:
    return nn.Sequential(
        *_cbr(channels, 16, 3, 2), *_cbr(16, 32, 3, 2), *_cbr(32, 32, 3, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def pruned(model: nn.Module, input_shape: tuple[int, ...], sparsity: float) -> nn.Module:
    prune_by_fraction(model.eval(), torch.zeros(1, *input_shape), sparsity)
    return model


# name -> (factory, input shape without batch)
ZOO: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "cnn_gap_8x8": (lambda: SmallCNN(depth=2, width=16).build((1, 8, 8), 10), (1, 8, 8)),
    "cnn_flatten_8x8": (lambda: SmallCNN(depth=2, width=8, head="flatten").build((1, 8, 8), 10), (1, 8, 8)),
    "cnn_pruned_8x8": (
        lambda: pruned(SmallCNN(depth=3, width=16, kernel_size=5).build((1, 8, 8), 10), (1, 8, 8), 0.4),
        (1, 8, 8),
    ),
    "mlp_8x8": (mlp, (1, 8, 8)),
    "resnet_32x32": (resnet_tiny, (3, 32, 32)),
    "dwsep_32x32": (dw_separable, (3, 32, 32)),
    "strided_32x32": (strided_plain, (3, 32, 32)),
    "cnn1d_128x6": (lambda: SmallCNN(depth=3, width=16, conv_dim=1).build((6, 128), 4), (6, 128)),
    "cnn1d_pruned_128x6": (
        lambda: pruned(SmallCNN(depth=2, width=24, conv_dim=1, kernel_size=5).build((6, 128), 4), (6, 128), 0.5),
        (6, 128),
    ),
    # held out: not used to fit the flash and tail constants of plugins/hw/tflm.py
    "cnn_k5_32x32": (lambda: SmallCNN(depth=3, width=12, kernel_size=5).build((3, 32, 32), 10), (3, 32, 32)),
    "resnet_w12_32x32": (lambda: resnet_tiny(3, 12), (3, 32, 32)),
    "cnn1d_flatten_64x3": (
        lambda: SmallCNN(depth=2, width=8, conv_dim=1, head="flatten").build((3, 64), 5),
        (3, 64),
    ),
}
HELD_OUT = ("cnn_k5_32x32", "resnet_w12_32x32", "cnn1d_flatten_64x3")
