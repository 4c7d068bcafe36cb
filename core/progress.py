"""Console progress for a search: a rich bar with done/failed/infeasible counts, best hypervolume and ETA."""

from __future__ import annotations

import csv
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
        """Print the Pareto table from ``pareto.csv`` and the headline numbers."""
        console = console or (Console() if sys.stdout.isatty() else Console(width=200))
        table = Table(title=f"Pareto front on {summary.get('board')} ({summary.get('pareto_size')} models)")
        path = Path(run_dir) / "pareto.csv"
        rows = list(csv.DictReader(path.open())) if path.is_file() else []
        params = [k for k in (rows[0].keys() if rows else []) if "." in k and not k.startswith("cost_")]
        for col in (
            "trial",
            "error",
            "flash KiB",
            "SRAM KiB",
            "MACs",
            *[p.rsplit(".", 1)[-1] for p in params],
        ):
            table.add_column(col, justify="right", overflow="fold")
        for r in rows:
            table.add_row(
                r["trial_id"],
                f"{float(r['error']):.4f}",
                f"{float(r['flash']) / 1024:.1f}",
                f"{float(r['ram']) / 1024:.1f}",
                f"{int(float(r['macs'])):,}",
                *[_short(r[p]) for p in params],
            )
        console.print(table)
        c = summary.get("counts", {})
        console.print(
            f"hypervolume {summary.get('hypervolume', 0.0):.4f} | complete {c.get('complete', 0)}, "
            f"infeasible {c.get('infeasible', 0)}, failed {c.get('failed', 0)} | "
            f"wall {summary.get('wall_time_s', 0.0):.1f} s | {run_dir}"
        )


def _short(value: str) -> str:
    try:
        f = float(value)
    except ValueError:
        return value
    return f"{f:.4g}"
