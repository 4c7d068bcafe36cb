"""ModelFactory: builds the network for a dataset's shape from architecture knobs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type hints only: importing this contract must not import torch (start-up time)
    from torch import nn


class ModelFactory(ABC):
    """Builds a model. Architecture knobs are constructor kwargs, so each is addressable as ``model.<knob>``."""

    @abstractmethod
    def build(self, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """Return a freshly initialized model taking ``batch x input_shape`` and returning logits."""
