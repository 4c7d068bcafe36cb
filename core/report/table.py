"""The console table of a written comparison (``python -m core.report`` with several runs)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.report.display import short_optimizer

if TYPE_CHECKING:
    from rich.console import Console


def print_comparison(csv_path: Path, console: Console) -> None:
    """A short table per optimizer group from a written comparison (mean ± std of the final hypervolume)."""
    from rich.table import Table

    rows = list(csv.DictReader(csv_path.open()))
    by: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by.setdefault(short_optimizer(r["optimizer"]), []).append(r)
    table = Table(title=f"Comparison of {len(rows)} runs")
    for col in ("optimizer", "runs", "final HV", "Pareto size", "trials"):
        table.add_column(col, justify="left" if col == "optimizer" else "right")
    for name, rs in sorted(by.items()):
        hv = np.array([float(r["final_hv"]) for r in rs])
        sd = f" ± {np.std(hv, ddof=1):.4f}" if len(hv) > 1 else ""
        table.add_row(
            name,
            str(len(rs)),
            f"{hv.mean():.4f}{sd}",
            f"{np.mean([int(r['pareto_size']) for r in rs]):.1f}",
            f"{np.mean([int(r['n_trials']) for r in rs]):.0f}",
        )
    console.print(table)
    console.print(f"comparison: {csv_path} and {csv_path.with_name('hypervolume.png')}")
