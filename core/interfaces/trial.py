"""What flows between search, executor and store: a trial's spec and its result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class TrialStatus(StrEnum):
    """Lifecycle of a trial. ``infeasible`` trials were measured but do not fit the board."""

    PENDING = "pending"
    COMPLETE = "complete"
    INFEASIBLE = "infeasible"
    FAILED = "failed"


@dataclass
class TrialSpec:
    """One candidate to evaluate.

    Attributes:
        trial_id: 0-based index, unique within a run.
        x: the point in the unit cube, length ``d``.
        params: decoded values keyed by dotted config path.
        config: the fully composed, resolved trial config as a plain dict (picklable).
        run_dir: the run directory (artifacts go under ``models/<trial_id>/``).
    """

    trial_id: int
    x: list[float]
    params: dict[str, Any]
    config: dict[str, Any]
    run_dir: str


@dataclass
class TrialResult:
    """The measured outcome of one trial.

    Attributes:
        objectives: objective name -> value (error in [0, 1], flash/ram in bytes, macs, latency in seconds).
        metrics: everything else measured (float accuracy, parameter count, epochs run, ...).
        error: the failure message for ``failed`` trials, or why an ``infeasible`` one does not fit.
        duration_s: wall time of the evaluation in seconds.
    """

    trial_id: int
    x: list[float]
    params: dict[str, Any]
    status: TrialStatus
    objectives: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (status as its string value)."""
        d = asdict(self)
        d["status"] = str(self.status)
        return d
