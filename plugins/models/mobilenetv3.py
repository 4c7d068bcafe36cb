"""``model=mobilenetv3``: MobileNetV3 small/large (Howard et al. 2019), 2-D for images or 1-D for time series.

Inverted-residual blocks (1x1 expand -> depthwise k -> squeeze-excite -> 1x1 project, residual when the shape is
kept) with ReLU or hard-swish, a width multiplier that scales every layer (rounded to multiples of 8, as the
paper), and a 1x1 conv + global pool + linear + hard-swish + linear head. The 1-D variant (``conv_dim: 1``) runs
the same network with ``k``-long kernels over ``C x L`` series: the paper's DaLiAc model.

Every op lowers to an int8 TFLite-Micro kernel: CONV_2D, DEPTHWISE_CONV_2D, HARD_SWISH, MEAN, MUL (the SE
gate), ADD, FULLY_CONNECTED. The SE gate's hard-sigmoid is written as ``relu6(x + 3) / 6`` so that it quantizes
to int8 ops.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from core.api import ModelFactory, init_weights

# (kernel, expanded channels, output channels, squeeze-excite, activation, stride): tables 1 and 2 of the paper
_SMALL = [
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
    (5, 144, 48, True, "HS", 1),
    (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1),
    (5, 576, 96, True, "HS", 1),
]
_LARGE = [
    (3, 16, 16, False, "RE", 1),
    (3, 64, 24, False, "RE", 2),
    (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2),
    (5, 120, 40, True, "RE", 1),
    (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2),
    (3, 200, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 480, 112, True, "HS", 1),
    (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2),
    (5, 960, 160, True, "HS", 1),
    (5, 960, 160, True, "HS", 1),
]
# last 1x1 conv channels and classifier hidden width
_HEAD = {"small": (576, 1024), "large": (960, 1280)}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round to the nearest multiple of ``divisor``, never more than 10% below ``value`` (the paper's rule)."""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


class HardSigmoid(nn.Module):
    """``relu6(x + 3) / 6``: hard-sigmoid from ops that quantize to int8 (ADD, RELU6, MUL)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0) * (1.0 / 6.0)


class SqueezeExcite(nn.Module):
    """Channel gate: ``x * hsigmoid(fc2(relu(fc1(mean(x)))))`` with 1x1 convs as the two layers."""

    def __init__(self, channels: int, squeeze: int, conv_dim: int) -> None:
        super().__init__()
        conv = nn.Conv2d if conv_dim == 2 else nn.Conv1d
        # trailing dims, so a 1-D model converted as 2-D with height 1 (core.tflm.runtime.as_2d) still pools right
        self.dims = [-2, -1] if conv_dim == 2 else [-1]
        self.fc1 = conv(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = conv(squeeze, channels, 1)
        self.gate = HardSigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.mean(x, self.dims, keepdim=True)
        return x * self.gate(self.fc2(self.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when ``expanded == c_in``) -> depthwise -> SE -> 1x1 project (+ residual)."""

    def __init__(
        self, c_in: int, kernel: int, expanded: int, c_out: int, se: bool, act: str, stride: int, conv_dim: int
    ) -> None:
        super().__init__()
        conv = nn.Conv2d if conv_dim == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if conv_dim == 2 else nn.BatchNorm1d

        def activation() -> nn.Module:
            return nn.Hardswish() if act == "HS" else nn.ReLU()

        layers: list[nn.Module] = []
        if expanded != c_in:
            layers += [conv(c_in, expanded, 1, bias=False), bn(expanded), activation()]
        layers += [
            conv(expanded, expanded, kernel, stride=stride, padding=kernel // 2, groups=expanded, bias=False),
            bn(expanded),
            activation(),
        ]
        if se:
            layers.append(SqueezeExcite(expanded, make_divisible(expanded / 4), conv_dim))
        layers += [conv(expanded, c_out, 1, bias=False), bn(c_out)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out


class MobileNetV3(ModelFactory):
    """MobileNetV3 ``small`` or ``large`` with a width multiplier, for images or time series.

    Args:
        variant: ``small`` or ``large`` (the paper's block tables).
        width_multiplier: scales every conv's channels (rounded to multiples of 8); the classifier's hidden width
            scales only when the multiplier is above 1, as in the paper.
        conv_dim: 2 for images (``C x H x W``), 1 for time series (``C x L``).
        stem_stride: stride of the first 3x3 conv (2 in the paper).
        dropout: dropout before the last linear layer (0.2 in the paper).
        se: False drops every squeeze-excite block.
        hidden: the classifier's hidden width; ``null`` takes the paper's (1024 small, 1280 large).
    """

    def __init__(
        self,
        variant: str = "small",
        width_multiplier: float = 1.0,
        conv_dim: int = 2,
        stem_stride: int = 2,
        dropout: float = 0.2,
        se: bool = True,
        hidden: int | None = None,
    ) -> None:
        if variant not in _HEAD:
            raise ValueError(f"variant must be 'small' or 'large', got {variant!r}")
        if width_multiplier <= 0:
            raise ValueError(f"width_multiplier must be > 0, got {width_multiplier}")
        if conv_dim not in (1, 2):
            raise ValueError(f"conv_dim must be 1 or 2, got {conv_dim}")
        if stem_stride < 1:
            raise ValueError(f"stem_stride must be >= 1, got {stem_stride}")
        if hidden is not None and hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        self.variant, self.width_multiplier, self.conv_dim = variant, float(width_multiplier), int(conv_dim)
        self.stem_stride, self.dropout, self.se = int(stem_stride), float(dropout), bool(se)
        self.hidden = None if hidden is None else int(hidden)

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        if len(input_shape) != self.conv_dim + 1:
            raise ValueError(f"conv_dim={self.conv_dim} needs inputs of rank {self.conv_dim + 1}, got {input_shape}")
        conv = nn.Conv2d if self.conv_dim == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if self.conv_dim == 2 else nn.BatchNorm1d
        wm = self.width_multiplier
        c = make_divisible(16 * wm)
        layers: list[nn.Module] = [
            conv(input_shape[0], c, 3, stride=self.stem_stride, padding=1, bias=False),
            bn(c),
            nn.Hardswish(),
        ]
        for kernel, expanded, c_out, se, act, stride in _SMALL if self.variant == "small" else _LARGE:
            e, o = make_divisible(expanded * wm), make_divisible(c_out * wm)
            layers.append(InvertedResidual(c, kernel, e, o, se and self.se, act, stride, self.conv_dim))
            c = o
        last, hidden = _HEAD[self.variant]
        last = make_divisible(last * wm)
        hidden = self.hidden or (make_divisible(hidden * wm) if wm > 1.0 else hidden)
        layers += [
            conv(c, last, 1, bias=False),
            bn(last),
            nn.Hardswish(),
            nn.AdaptiveAvgPool2d(1) if self.conv_dim == 2 else nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(last, hidden),
            nn.Hardswish(),
            nn.Dropout(self.dropout),
            nn.Linear(hidden, num_classes),
        ]
        model = nn.Sequential(*layers)
        init_weights(model)
        return model
