"""A zoo of small nets covering what the TFLM cost model must get right: sequential, residual, depthwise-separable,
1-D (time series), pruned and unpruned, strided convs (converter-inserted PADs), at 8x8, 32x32 and 128x6 inputs."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from core.surgery import prune_by_fraction
from plugins.models.mobilenetv3 import MobileNetV3
from plugins.models.resnet import ResNet
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


def bn_calibrated(model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    """Set BatchNorm statistics from random batches, as training would: an untrained deep net in eval mode with
    unit BN statistics shrinks its activations towards zero (hard-swish halves small values), which leaves the
    converter's int8 ranges degenerate. Zero-initialized biases get random values, as after training (the
    converter stores identical constant buffers once, which would make an untrained model's flash unrealistically
    small)."""
    for m in model.modules():
        bias = getattr(m, "bias", None)
        if isinstance(bias, nn.Parameter) and not isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(bias, 0.0, 0.1)
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(16, *input_shape))
    return model.eval()


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
    # the model plugins: hard-swish, squeeze-excite (MEAN, scalar ADD/MUL in NCHW, MUL gate), depthwise, residuals
    "mnv3_small_32x32": (
        lambda: bn_calibrated(MobileNetV3("small", 0.35).build((3, 32, 32), 10), (3, 32, 32)),
        (3, 32, 32),
    ),
    "mnv3_large_1d_128x6": (
        lambda: bn_calibrated(MobileNetV3("large", 0.35, conv_dim=1).build((6, 128), 4), (6, 128)),
        (6, 128),
    ),
    "mnv3_pruned_1d_64x24": (
        lambda: bn_calibrated(
            pruned(MobileNetV3("small", 0.5, conv_dim=1).build((24, 64), 13), (24, 64), 0.5), (24, 64)
        ),
        (24, 64),
    ),
    "resnet_plugin_32x32": (
        lambda: bn_calibrated(ResNet((1, 1, 1), 16, 1.0).build((3, 32, 32), 10), (3, 32, 32)),
        (3, 32, 32),
    ),
    "resnet_plugin_1d_pruned_128x6": (
        lambda: bn_calibrated(pruned(ResNet((1, 1), 16, 1.0, conv_dim=1).build((6, 128), 4), (6, 128), 0.5), (6, 128)),
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
