"""``model=small_cnn``: a plain conv -> BN -> ReLU (-> max-pool) stack with a global-pool or flatten head.

Works on images (``conv_dim=2``, input ``C x H x W``) and time series (``conv_dim=1``, input ``C x L``).
"""

from __future__ import annotations

from torch import nn

from core.api import ModelFactory


class SmallCNN(ModelFactory):
    """Builds ``depth`` conv blocks with ``round(width * growth**i)`` channels each.

    Args:
        depth: number of conv blocks (>= 1).
        width: channels of the first block.
        growth: channel multiplier per block.
        kernel_size: conv kernel size (odd; 'same' padding).
        pool: max-pool by 2 after each block while the spatial size allows it.
        head: ``gap`` (global average pool + linear) or ``flatten`` (flatten + linear).
        dropout: dropout before the classifier.
        conv_dim: 2 for images, 1 for time series.
    """

    def __init__(
        self,
        depth: int = 2,
        width: int = 16,
        growth: float = 2.0,
        kernel_size: int = 3,
        pool: bool = True,
        head: str = "gap",
        dropout: float = 0.0,
        conv_dim: int = 2,
    ) -> None:
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        if head not in ("gap", "flatten"):
            raise ValueError(f"head must be 'gap' or 'flatten', got {head!r}")
        if conv_dim not in (1, 2):
            raise ValueError(f"conv_dim must be 1 or 2, got {conv_dim}")
        self.depth, self.width, self.growth = int(depth), int(width), float(growth)
        self.kernel_size, self.pool, self.head = int(kernel_size), bool(pool), head
        self.dropout, self.conv_dim = float(dropout), int(conv_dim)

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        if len(input_shape) != self.conv_dim + 1:
            raise ValueError(f"conv_dim={self.conv_dim} needs inputs of rank {self.conv_dim + 1}, got {input_shape}")
        conv = nn.Conv2d if self.conv_dim == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if self.conv_dim == 2 else nn.BatchNorm1d
        maxpool = nn.MaxPool2d if self.conv_dim == 2 else nn.MaxPool1d
        gap = nn.AdaptiveAvgPool2d(1) if self.conv_dim == 2 else nn.AdaptiveAvgPool1d(1)
        layers: list[nn.Module] = []
        c_in, spatial = input_shape[0], list(input_shape[1:])
        for i in range(self.depth):
            c_out = max(1, round(self.width * self.growth**i))
            layers += [
                conv(c_in, c_out, self.kernel_size, padding=self.kernel_size // 2, bias=False),
                bn(c_out),
            ]
            layers.append(nn.ReLU())
            if self.pool and min(spatial) >= 2:
                layers.append(maxpool(2))
                spatial = [s // 2 for s in spatial]
            c_in = c_out
        if self.head == "gap":
            layers += [gap, nn.Flatten()]
            features = c_in
        else:
            layers.append(nn.Flatten())
            features = c_in
            for s in spatial:
                features *= s
        if self.dropout > 0:
            layers.append(nn.Dropout(self.dropout))
        layers.append(nn.Linear(features, num_classes))
        return nn.Sequential(*layers)
