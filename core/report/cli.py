"""``python -m core.report RUN_DIR [RUN_DIR ...] [--out DIR]``: regenerate reports from stores, compare runs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from core.report.comparison import find_run_dirs, write_comparison
from core.report.summary import write_outputs
from core.report.table import print_comparison
from core.search.store import STORE_NAME, Store


def main(argv: list[str] | None = None) -> int:
    """Regenerate the reports of each run directory given on the command line (and compare several)."""
    from rich.console import Console

    from core.report.progress import SearchProgress

    parser = argparse.ArgumentParser(
        prog="python -m core.report",
        description="Regenerate a run's reports from its store; compare several runs (or a multirun sweep).",
    )
    parser.add_argument("dirs", nargs="*", metavar="RUN_DIR", help="run directories or multirun sweep directories")
    parser.add_argument(
        "--out", type=Path, default=None, help="where the comparison of several runs goes (default: the sweep "
        "directory, or the runs' common parent)"
    )  # fmt: skip
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.dirs:
        print("usage: python -m core.report RUN_DIR [RUN_DIR ...] [--out DIR]", file=sys.stderr)
        return 2
    console = Console() if sys.stdout.isatty() else Console(width=200)
    status = 0
    runs: list[Path] = []
    sweeps: list[Path] = []
    for arg in args.dirs:
        found = find_run_dirs(arg)
        if not found:
            print(
                f"tinymoo: error: {arg}: no {STORE_NAME} here; pass a tinymoo run directory "
                f"(or a multirun directory whose job directories hold one)",
                file=sys.stderr,
            )
            status = 2
            continue
        if found != [Path(arg)]:
            sweeps.append(Path(arg))
        runs.extend(found)
    for run_dir in runs:
        with Store(run_dir / STORE_NAME) as store:
            summary = write_outputs(store, run_dir)
        SearchProgress.print_pareto(run_dir, summary, console)
    if len(runs) > 1:
        if args.out is not None:
            out = args.out
        elif len(sweeps) == 1 and len(args.dirs) == 1:
            out = sweeps[0]
        else:
            out = Path(os.path.commonpath([str(p.resolve()) for p in runs]))
        print_comparison(write_comparison(runs, out), console)
    return status
