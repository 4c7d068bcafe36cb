"""A zoo of small nets covering what the TFLM cost model must get right: sequential, residual, depthwise-separable,
1-D (time series), pruned and unpruned, strided convs and pools (converter-inserted PAD/PADV2), flatten heads (and
the flatten of one pixel the converter drops), max and average pooling, depthwise multiplier 2, dilated convs,
concatenation, channel counts that are not multiples of 4, and odd input sizes (8x8 to 49x10, 1-D up to 128)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from core.trial.surgery import prune_by_fraction
from plugins.models.mobilenetv3 import HardSigmoid, MobileNetV3
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


def pool_net(pool: nn.Module, channels: int = 3, width: int = 8) -> nn.Module:
    """conv, ``pool``, conv, global pool, linear (a pool with padding may get a converter-inserted PAD/PADV2)."""
    return nn.Sequential(
        *_cbr(channels, width, 3), pool, *_cbr(width, 2 * width, 3),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 10),
    )  # fmt: skip


def pool_to_pixel(pool: type[nn.Module], channels: int = 3, size: int = 8, dim: int = 2) -> nn.Module:
    """conv, a pool over the whole map to one pixel, flatten, linear: the converter drops the flatten's RESHAPE."""
    return nn.Sequential(*_cbr(channels, 12, 3, dim=dim), pool(size), nn.Flatten(), nn.Linear(12, 10))  # type: ignore[call-arg]


def avgpool_flatten(channels: int = 3) -> nn.Module:
    return nn.Sequential(*_cbr(channels, 8, 3), nn.AvgPool2d(2), *_cbr(8, 8, 3), nn.Flatten(), nn.Linear(128, 10))


def avgpool_1d(channels: int = 3) -> nn.Module:
    return nn.Sequential(
        *_cbr(channels, 10, 5, dim=1), nn.AvgPool1d(2), *_cbr(10, 20, 3, dim=1),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(20, 4),
    )  # fmt: skip


def dw_multiplier2(channels: int = 3) -> nn.Module:
    """Depthwise convolutions with channel multiplier 2 (groups = C_in, C_out = 2 C_in)."""
    return nn.Sequential(
        *_cbr(channels, 8, 3), *_cbr(8, 16, 3, groups=8), *_cbr(16, 32, 3, 2, groups=16), *_cbr(32, 24, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10),
    )  # fmt: skip


def dilated(channels: int = 3) -> nn.Module:
    """Dilated 3x3 convs (SAME padding 2 and 4, then VALID), as in context aggregation / TCN-style nets."""
    return nn.Sequential(
        *_cbr(channels, 8, 3), nn.Conv2d(8, 16, 3, 1, 2, dilation=2), nn.ReLU(),
        nn.Conv2d(16, 16, 3, 1, 4, dilation=4), nn.ReLU(), nn.Conv2d(16, 16, 3, 1, 0, dilation=2), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )  # fmt: skip


def tcn_1d(channels: int = 6) -> nn.Module:
    """A dilated 1-D conv stack (temporal convolutional net) on a time series."""
    return nn.Sequential(
        nn.Conv1d(channels, 16, 3, 1, 1), nn.ReLU(), nn.Conv1d(16, 16, 3, 1, 2, dilation=2), nn.ReLU(),
        nn.Conv1d(16, 16, 3, 1, 4, dilation=4), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, 5),
    )  # fmt: skip


def ds_cnn_kws() -> nn.Module:
    """DS-CNN keyword spotting (Zhang et al.) on 49x10 MFCCs: a strided 10x4 first conv, depthwise-separable blocks."""

    def block(c: int) -> list[nn.Module]:
        return [*_cbr(c, c, 3, groups=c), *_cbr(c, c, 1)]

    return nn.Sequential(
        nn.Conv2d(1, 24, (10, 4), (2, 2), (5, 1), bias=False), nn.BatchNorm2d(24), nn.ReLU(),
        *block(24), *block(24), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 12),
    )  # fmt: skip


def odd_channels(channels: int = 3) -> nn.Module:
    """Channel counts that are not multiples of 4 (5, 7, 11, 13) on an odd 27x27 input, strided 5x5 first conv."""
    return nn.Sequential(
        *_cbr(channels, 5, 5, 2), *_cbr(5, 7, 3), nn.MaxPool2d(2), *_cbr(7, 11, 3, 2), *_cbr(11, 13, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(13, 7),
    )  # fmt: skip


def patchify(channels: int = 3) -> nn.Module:
    """A stride-4 8x8 "patchify" stem (SAME-equal padding 2 on 32x32), then a plain conv."""
    return nn.Sequential(
        nn.Conv2d(channels, 16, 8, 4, 2), nn.ReLU(), *_cbr(16, 32, 3), nn.Flatten(), nn.Linear(32 * 8 * 8, 10)
    )


class Inception(nn.Module):
    """Two branches (1x1 and 1x1 -> 3x3) concatenated on channels, then a max-pooled branch concatenated too."""

    def __init__(self, cin: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_cbr(cin, 12, 3))
        self.b1 = nn.Sequential(*_cbr(12, 6, 1))
        self.b2 = nn.Sequential(*_cbr(12, 6, 1), *_cbr(6, 10, 3))
        self.b3 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *_cbr(12, 4, 1))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(20, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.head(torch.cat([self.b1(x), self.b2(x), self.b3(x)], dim=1))


def cnn1d_strided(channels: int = 3) -> nn.Module:
    """1-D: a strided 7-tap first conv (converter PAD), a padded max pool (PADV2), a flatten head."""
    return nn.Sequential(
        *_cbr(channels, 12, 7, 2, dim=1), nn.MaxPool1d(3, 2, 1), *_cbr(12, 12, 3, dim=1), nn.Flatten(),
        nn.Linear(12 * 25, 6),
    )  # fmt: skip


def hardsigmoid_map(channels: int = 3) -> nn.Module:
    """Hard-sigmoid as an activation on a whole 8x8 map (not a squeeze-excite gate on one pixel): ADD, MUL in place."""
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), HardSigmoid(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )  # fmt: skip


def mlp_1d(channels: int = 3, length: int = 50) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * length, 40), nn.ReLU(), nn.Linear(40, 6))


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
    # pools with padding: MaxPool2d(3, 2, 1) on 32x32 gets a PADV2 (PyTorch's padding is not SAME's), on 33x33 not
    "maxpool_pad_32x32": (lambda: pool_net(nn.MaxPool2d(3, 2, 1)), (3, 32, 32)),
    "maxpool_pad_33x33": (lambda: pool_net(nn.MaxPool2d(3, 2, 1)), (3, 33, 33)),
    "maxpool_ceil_pad_16x16": (lambda: pool_net(nn.MaxPool2d(3, 2, 1, ceil_mode=True), width=6), (3, 16, 16)),
    "maxpool_ceil_15x15": (lambda: pool_net(nn.MaxPool2d(2, 2, ceil_mode=True), 1), (1, 15, 15)),
    "maxpool_k2p1_16x16": (lambda: pool_net(nn.MaxPool2d(2, 2, 1), 1, 5), (1, 16, 16)),
    # flatten of a pool to one pixel: no RESHAPE before FULLY_CONNECTED
    "maxpool_to_pixel_8x8": (lambda: pool_to_pixel(nn.MaxPool2d), (3, 8, 8)),
    "maxpool_to_pixel_1d_16x3": (lambda: pool_to_pixel(nn.MaxPool1d, 3, 16, dim=1), (3, 16)),
    "conv_to_pixel_7x7": (
        lambda: nn.Sequential(*_cbr(1, 8, 3), nn.Conv2d(8, 16, 7), nn.ReLU(), nn.Flatten(), nn.Linear(16, 10)),
        (1, 7, 7),
    ),
    # average pooling (their conversion needs the quantizer fix; see tests/test_tflm.py)
    "avgpool_flatten_8x8": (avgpool_flatten, (3, 8, 8)),
    "avgpool_to_pixel_8x8": (lambda: pool_to_pixel(nn.AvgPool2d), (3, 8, 8)),
    "avgpool_pad_16x16": (lambda: pool_net(nn.AvgPool2d(3, 2, 1)), (3, 16, 16)),
    "avgpool_1d_64x3": (avgpool_1d, (3, 64)),
    # other TinyML shapes
    "dw_mult2_16x16": (dw_multiplier2, (3, 16, 16)),
    "dilated_16x16": (dilated, (3, 16, 16)),
    "tcn_1d_96x6": (tcn_1d, (6, 96)),
    "ds_cnn_kws_49x10": (ds_cnn_kws, (1, 49, 10)),
    "odd_channels_27x27": (odd_channels, (3, 27, 27)),
    "patchify_32x32": (patchify, (3, 32, 32)),
    "inception_cat_16x16": (Inception, (3, 16, 16)),
    "cnn1d_strided_100x3": (cnn1d_strided, (3, 100)),
    "mlp_1d_50x3": (mlp_1d, (3, 50)),
    "hardsigmoid_map_8x8": (hardsigmoid_map, (3, 8, 8)),
    # the quickstart's smallest candidates: one input channel makes the first conv depthwise (multiplier 4)
    "cnn_tiny_k5_8x8": (lambda: SmallCNN(depth=1, width=4, kernel_size=5).build((1, 8, 8), 10), (1, 8, 8)),
    "cnn_tiny_deep_8x8": (lambda: SmallCNN(depth=3, width=2).build((1, 8, 8), 10), (1, 8, 8)),
}
HELD_OUT = ("cnn_k5_32x32", "resnet_w12_32x32", "cnn1d_flatten_64x3")
