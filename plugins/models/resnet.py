"""``model=resnet``: CIFAR-style residual networks (basic blocks), 2-D for images or 1-D for time series.

The defaults give the paper's "scaled ResNet-18" (Deutel et al. 2023): ResNet-18's stem and basic blocks, but
3 residual stages instead of 4, about 1.6M parameters on CIFAR-10. Every block is TFLite-Micro friendly: conv ->
BN -> ReLU, a residual ``ADD`` with a following ReLU, a 1x1 strided projection where the shape changes, and a
global average pool + linear classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from core.api import ModelFactory, init_weights


def scaled_channels(width: float, multiplier: float, divisor: int = 1) -> int:
    """``width * multiplier`` rounded to a multiple of ``divisor`` (at least ``divisor``)."""
    return max(divisor, round(width * multiplier / divisor) * divisor)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``."""

    def __init__(self, c_in: int, c_out: int, stride: int, conv_dim: int) -> None:
        super().__init__()
        conv = nn.Conv2d if conv_dim == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if conv_dim == 2 else nn.BatchNorm1d
        self.conv1 = conv(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = conv(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = bn(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(conv(c_in, c_out, 1, stride=stride, bias=False), bn(c_out))
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class ResNet(ModelFactory):
    """CIFAR-style ResNet: a 3x3 stem, ``len(stages)`` stages of basic blocks, global pool, linear classifier.

    Stage ``i`` has ``stages[i]`` blocks of ``base_width * 2**i * width_multiplier`` channels; every stage after
    the first halves the spatial size.

    Args:
        stages: blocks per stage (default ``[2, 2, 2]``: ResNet-18 without its last stage).
        base_width: channels of the stem and the first stage before the multiplier (ResNet-18: 64).
        width_multiplier: scales every layer's channels. The default 0.75 (48/96/192 channels) gives the paper's
            1.6M parameters on CIFAR-10; 1.0 is ResNet-18's width (2.8M with 3 stages).
        in_channels: input channels; ``null`` takes them from the dataset. When set it must match the data.
        conv_dim: 2 for images (``C x H x W``), 1 for time series (``C x L``).
        stem_stride: stride of the stem conv (1 for 32x32 CIFAR; 2 or more for long series).
        dropout: dropout before the classifier.
    """

    def __init__(
        self,
        stages: Sequence[int] = (2, 2, 2),
        base_width: int = 64,
        width_multiplier: float = 0.75,
        in_channels: int | None = None,
        conv_dim: int = 2,
        stem_stride: int = 1,
        dropout: float = 0.0,
    ) -> None:
        stages = [int(b) for b in stages]
        if not stages or any(b < 1 for b in stages):
            raise ValueError(f"stages must be a non-empty list of block counts >= 1, got {stages}")
        if base_width < 1 or width_multiplier <= 0:
            raise ValueError(f"base_width must be >= 1 and width_multiplier > 0, got {base_width}, {width_multiplier}")
        if conv_dim not in (1, 2):
            raise ValueError(f"conv_dim must be 1 or 2, got {conv_dim}")
        if stem_stride < 1:
            raise ValueError(f"stem_stride must be >= 1, got {stem_stride}")
        self.stages, self.base_width, self.width_multiplier = stages, int(base_width), float(width_multiplier)
        self.in_channels = None if in_channels is None else int(in_channels)
        self.conv_dim, self.stem_stride, self.dropout = int(conv_dim), int(stem_stride), float(dropout)

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        if len(input_shape) != self.conv_dim + 1:
            raise ValueError(f"conv_dim={self.conv_dim} needs inputs of rank {self.conv_dim + 1}, got {input_shape}")
        if self.in_channels is not None and self.in_channels != input_shape[0]:
            raise ValueError(f"in_channels={self.in_channels} but the data has {input_shape[0]} channels")
        conv = nn.Conv2d if self.conv_dim == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if self.conv_dim == 2 else nn.BatchNorm1d
        c = scaled_channels(self.base_width, self.width_multiplier)
        layers: list[nn.Module] = [
            conv(input_shape[0], c, 3, stride=self.stem_stride, padding=1, bias=False),
            bn(c),
            nn.ReLU(),
        ]
        for i, blocks in enumerate(self.stages):
            c_out = scaled_channels(self.base_width * 2**i, self.width_multiplier)
            for j in range(blocks):
                layers.append(BasicBlock(c, c_out, 2 if (i > 0 and j == 0) else 1, self.conv_dim))
                c = c_out
        layers += [nn.AdaptiveAvgPool2d(1) if self.conv_dim == 2 else nn.AdaptiveAvgPool1d(1), nn.Flatten()]
        if self.dropout > 0:
            layers.append(nn.Dropout(self.dropout))
        layers.append(nn.Linear(c, num_classes))
        model = nn.Sequential(*layers)
        init_weights(model)
        return model
