"""HardwareTarget + Cost: what a compressed model costs on a board, and whether it fits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type hints only: importing this contract must not import torch (start-up time)
    from torch import nn


@dataclass(frozen=True)
class Cost:
    """Deployment cost of one model on one board.

    Attributes:
        flash_bytes: model bytes in flash (weights, biases, quantization params, graph overhead); excludes the
            runtime code, which the target subtracts from capacity.
        ram_bytes: peak SRAM for activations plus the runtime's persistent arena, bytes.
        macs: multiply-accumulates per inference (conv/linear).
        latency_s: estimated inference latency, seconds.
        details: named breakdown (e.g. ``weight_bytes``, ``activation_bytes``), all numbers.
    """

    flash_bytes: int
    ram_bytes: int
    macs: int
    latency_s: float
    details: dict[str, float] = field(default_factory=dict)


class HardwareTarget(ABC):
    """A board: its capacities and a cost model.

    Attributes (set by subclasses, usually from ``conf/hw/<board>.yaml``):
        name: board name, e.g. ``stm32f4``.
        flash_bytes / sram_bytes: total capacities.
        runtime_flash_bytes: flash taken by the inference runtime's code.
        reserved_sram_bytes: SRAM kept for stack, heap and the application.
        max_macs: the MAC budget used as the reference point for the ``macs`` objective.
    """

    name: str
    flash_bytes: int
    sram_bytes: int
    runtime_flash_bytes: int
    reserved_sram_bytes: int
    max_macs: int
    max_latency_s: float

    @abstractmethod
    def cost(self, model: nn.Module, input_shape: tuple[int, ...]) -> Cost:
        """Cost a (compressed) model for one input of ``input_shape`` (no batch dim)."""

    @property
    def flash_budget(self) -> int:
        """Flash available to a model: capacity minus runtime code, bytes."""
        return self.flash_bytes - self.runtime_flash_bytes

    @property
    def sram_budget(self) -> int:
        """SRAM available to a model: capacity minus reserved, bytes."""
        return self.sram_bytes - self.reserved_sram_bytes

    def violations(self, cost: Cost) -> list[str]:
        """Why a cost does not fit the board; empty when it fits."""
        out = []
        if cost.flash_bytes > self.flash_budget:
            out.append(f"flash {cost.flash_bytes} B > budget {self.flash_budget} B")
        if cost.ram_bytes > self.sram_budget:
            out.append(f"SRAM {cost.ram_bytes} B > budget {self.sram_budget} B")
        return out

    def overshoot(self, cost: Cost) -> float:
        """How far a cost is over the board's budgets: ``max(flash/budget, SRAM/budget) - 1``, 0 when it fits
        (exactly when :meth:`violations` is empty)."""
        return max(cost.flash_bytes / self.flash_budget, cost.ram_bytes / self.sram_budget, 1.0) - 1.0

    def reference(self) -> dict[str, float]:
        """Reference point per objective name: the worst value still worth anything on this board."""
        return {
            "error": 1.0,
            "flash": float(self.flash_budget),
            "ram": float(self.sram_budget),
            "macs": float(self.max_macs),
            "latency": float(self.max_latency_s),
        }
