"""TFLite-Micro's greedy memory planner, replayed: where each activation buffer goes in the tensor arena.

TFLM's ``MicroAllocator`` gives every non-constant tensor (and every scratch buffer a kernel requests) a lifetime
``[first op, last op]`` and a size rounded up to 16 bytes, then its ``GreedyMemoryPlanner`` places the buffers
largest first, each at the lowest offset where it overlaps no already placed buffer that is alive at the same
time. The arena's "head" (non-persistent section) is the highest end offset. Replaying the same rule over the
same buffers gives the same head, byte for byte (``tests/test_tflm.py`` checks it against the real runtime).
"""

from __future__ import annotations

from dataclasses import dataclass

ARENA_ALIGNMENT = 16  # TFLM's kBufferAlignment: every arena buffer starts and is sized on a 16-byte boundary


def align(n: int, alignment: int = ARENA_ALIGNMENT) -> int:
    """``n`` rounded up to a multiple of ``alignment``."""
    return (int(n) + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class Buffer:
    """One arena buffer: ``size`` bytes (unaligned), alive from op ``first`` to op ``last`` inclusive."""

    size: int
    first: int
    last: int

    def overlaps(self, other: Buffer) -> bool:
        """Whether both are alive during some op."""
        return self.first <= other.last and other.first <= self.last


def plan(buffers: list[Buffer]) -> tuple[list[int], int]:
    """Offsets of ``buffers`` (in input order) and the arena head size, as TFLM's greedy planner places them.

    Order: by aligned size, largest first. TFLM fills its sort array from the back and sorts it stably, so equal
    sizes go in *reverse* buffer order (the last tensor first).
    """
    sizes = [align(b.size) for b in buffers]
    order = sorted(reversed(range(len(buffers))), key=lambda i: -sizes[i])
    offsets = [0] * len(buffers)
    placed: list[int] = []
    for i in order:
        alive = sorted((j for j in placed if buffers[i].overlaps(buffers[j])), key=lambda j: offsets[j])
        candidate = 0
        for j in alive:
            if candidate + sizes[i] <= offsets[j]:
                break
            candidate = max(candidate, offsets[j] + sizes[j])
        offsets[i] = candidate
        placed.append(i)
    head = max((offsets[i] + sizes[i] for i in range(len(buffers))), default=0)
    return offsets, head
