"""Console progress for a search: a rich bar with done/failed/infeasible counts, best hypervolume and ETA."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from core.interfaces.trial import TrialResult


class SearchProgress:
    """Context manager around a rich progress bar; a no-op when ``enabled`` is False."""

    def __init__(self, n_trials: int, enabled: bool = True, console: Console | None = None) -> None:
        self.n_trials = n_trials
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> SearchProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]search"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("search", total=self.n_trials, stats="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, counts: dict[str, int], hv: float, last: TrialResult | None = None) -> None:
        """Show the current counts and hypervolume."""
        if self._progress is None:
            return
        finished = counts.get("complete", 0) + counts.get("infeasible", 0) + counts.get("failed", 0)
        stats = (
            f"[green]ok {counts.get('complete', 0)}[/green] "
            f"[yellow]infeasible {counts.get('infeasible', 0)}[/yellow] "
            f"[red]failed {counts.get('failed', 0)}[/red] HV {hv:.4f}"
        )
        self._progress.update(self._task, completed=finished, stats=stats)

    @staticmethod
    def print_pareto(run_dir: Path, summary: dict[str, Any], console: Console | None = None) -> None:
        """Print the Pareto table (from ``trials.csv``) and the headline numbers.

        One row per Pareto-optimal model, sorted by error; objectives in human units (error in %, flash and SRAM
        in KiB, latency in ms; columns that are not objectives of the run are dimmed). The ``fits`` column is ✓
        for the front (the models that fit the board). Infeasible candidates that no measured trial dominates
        (only trained ones have an error: ``search.train_infeasible=true``) are listed too, marked ✗: they show
        what a larger board would buy, but are not part of the front or its hypervolume.
        """
        from core.report.display import display_label, format_value
        from core.search.objectives import OBJECTIVES

        console = console or (Console() if sys.stdout.isatty() else Console(width=200))
        board = summary.get("board")
        rows = _pareto_rows(Path(run_dir), summary)
        objectives = list(summary.get("objectives") or OBJECTIVES[:4])
        shown = [n for n in OBJECTIVES if n in objectives or n in ("error", "flash", "ram", "macs")]
        shown = [n for n in shown if n in objectives or any(r.get(n) not in (None, "") for r in rows)]
        params = [k for k in (rows[0].keys() if rows else []) if "." in k and not k.startswith("cost_")]
        utf = (console.encoding or "").lower().startswith("utf")
        yes, no = ("✓", "✗") if utf else ("yes", "no")
        n_extra = sum(1 for r in rows if r.get("status") != "complete")
        table = Table(
            title=f"Pareto front on {board} ({summary.get('pareto_size')} models)",
            caption=f"{no} = not dominated, but does not fit {board} (not on the front)" if n_extra else None,
        )
        table.add_column("trial", justify="right")
        table.add_column("fits", justify="center")
        for n in shown:
            label = display_label(n).replace("[", "").replace("]", "")
            table.add_column(label, justify="right", style=None if n in objectives else "dim")
        for p in params:
            table.add_column(p.rsplit(".", 1)[-1], justify="right", overflow="fold")
        for r in rows:
            fits = r.get("status") == "complete"
            table.add_row(
                r["trial_id"],
                f"[green]{yes}[/green]" if fits else f"[red]{no}[/red]",
                *[format_value(n, r.get(n)) for n in shown],
                *[_short(r.get(p, "")) for p in params],
            )
        console.print(table)
        c = summary.get("counts", {})
        if not summary.get("pareto_size") and c.get("infeasible"):
            console.print(f"[yellow]no measured candidate fits {board}[/yellow]: {_smallest(Path(run_dir), summary)}")
        pending = f", pending {c['pending']}" if c.get("pending") else ""
        console.print(
            f"hypervolume {summary.get('hypervolume', 0.0):.4f} | complete {c.get('complete', 0)}, "
            f"infeasible {c.get('infeasible', 0)}, failed {c.get('failed', 0)}{pending} | "
            f"wall {summary.get('wall_time_s', 0.0):.1f} s | {run_dir}"
        )


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _pareto_rows(run_dir: Path, summary: dict[str, Any]) -> list[dict[str, str]]:
    """The front's rows (and the infeasible non-dominated ones) from ``trials.csv``, sorted by error (unknown
    last), then trial id; falls back to ``pareto.csv``."""
    ids = {str(i) for i in summary.get("pareto_trial_ids") or []}
    ids |= {str(i) for i in summary.get("infeasible_pareto_trial_ids") or []}
    trials, pareto = run_dir / "trials.csv", run_dir / "pareto.csv"
    if trials.is_file():
        with trials.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["trial_id"] in ids or r.get("pareto") == "True"]
    elif pareto.is_file():
        with pareto.open(newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = []

    def key(r: dict[str, str]) -> tuple[bool, float, int]:
        e = _float(r.get("error"))
        return (not math.isfinite(e), e if math.isfinite(e) else 0.0, int(r["trial_id"]))

    return sorted(rows, key=key)


def _smallest(run_dir: Path, summary: dict[str, Any]) -> str:
    """The least flash and SRAM among the infeasible candidates, against the budgets (how far off the board is)."""
    path = run_dir / "trials.csv"
    if not path.is_file():
        return "see trials.csv"
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "infeasible"]
    ref = summary.get("reference_point") or {}
    parts = []
    for key, label in (("flash", "flash"), ("ram", "SRAM")):
        values = [v for v in (_float(r.get(key)) for r in rows) if math.isfinite(v)]
        if values:
            budget = f" (budget {ref[key] / 1024:.1f})" if key in ref else ""
            parts.append(f"least {label} {min(values) / 1024:.1f} KiB{budget}")
    return ", ".join(parts) + " (see trials.csv)" if parts else "see trials.csv"


def _short(value: str) -> str:
    try:
        f = float(value)
    except ValueError:
        return value
    return f"{f:.4g}"
