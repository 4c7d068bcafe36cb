"""Weight initialization shared by the model plugins."""

from __future__ import annotations

from torch import nn


def init_weights(model: nn.Module) -> None:
    """He (fan-out) init for convs, unit BatchNorm, small-normal linears: keeps activations at unit scale through
    deep stacks, so training starts well and an untrained model's int8 ranges are not degenerate."""
    for m in model.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
