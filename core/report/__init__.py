"""Run reports, regenerated from the store alone.

Every run directory gets (:func:`write_outputs`, called by the search when it ends or is interrupted):

* ``trials.csv`` (every trial, pending ones included), ``pareto.csv`` (the feasible Pareto set), ``summary.json``;
* ``pareto.png``: an ``n x n`` scatter matrix of the run's objectives (any number >= 2): each off-diagonal
  panel plots one pair, the diagonal a histogram of one objective; feasible, infeasible and Pareto-optimal
  trials are drawn differently, the reference point (board budgets) is dotted;
* ``hypervolume.png``: hypervolume against trial number and, beside it, against wall-clock time (with the
  workers' utilisation; see :mod:`core.search.timeline`);
* ``report.html``: an interactive, fully offline plotly page (parallel coordinates, scatter matrix, the Pareto
  set as a table; see :mod:`core.report.html_page`). Skipped with a warning if it fails, so a search always ends with
  its other reports.

The Pareto front is the non-dominated set of the trials that fit the board (status ``complete``). Infeasible
trials whose objectives are all known (they were trained: ``search.train_infeasible=true``) and that no
measured trial dominates are also listed, marked ✗ in the console table and ``report.html``
(``summary["infeasible_pareto_trial_ids"]``): they show what a larger board or budget would buy. They are not
part of the front, of ``pareto.csv`` or of the hypervolume.

``python -m core.report RUN_DIR [RUN_DIR ...] [--out DIR]`` rewrites these files for finished, interrupted
and multirun directories (a Hydra sweep directory whose numbered job directories hold the stores). With
several runs it also writes a comparison (:func:`write_comparison`): ``comparison.csv`` (one row per run) and
``hypervolume.png`` (mean ± standard deviation per optimizer) into ``--out``, by default the sweep directory
or the runs' common parent.

One module per thing written: :mod:`~core.report.summary` (a run's CSVs and ``summary.json``),
:mod:`~core.report.plots` (``pareto.png``), :mod:`~core.report.html_page` (``report.html``),
:mod:`~core.report.comparison` (several runs), :mod:`~core.report.table` and :mod:`~core.report.progress` (the
console), :mod:`~core.report.cli` (``python -m core.report``); :mod:`~core.report.display` and
:mod:`~core.report.fronts` are what they share.
"""

from core.report.cli import main
from core.report.comparison import (
    COMPARISON_COLUMNS,
    COMPARISON_CSV,
    RunRecord,
    find_run_dirs,
    group_runs,
    load_run,
    mean_std,
    plot_hypervolume_comparison,
    write_comparison,
)
from core.report.display import DISPLAY, display_label, display_value, format_value, objective_value
from core.report.fronts import front_hypervolume, infeasible_front, pareto_results
from core.report.plots import plot_pareto
from core.report.summary import HTML_NAME, write_outputs
from core.report.table import print_comparison

__all__ = [
    "COMPARISON_COLUMNS",
    "COMPARISON_CSV",
    "DISPLAY",
    "HTML_NAME",
    "RunRecord",
    "display_label",
    "display_value",
    "find_run_dirs",
    "format_value",
    "front_hypervolume",
    "group_runs",
    "infeasible_front",
    "load_run",
    "main",
    "mean_std",
    "objective_value",
    "pareto_results",
    "plot_hypervolume_comparison",
    "plot_pareto",
    "print_comparison",
    "write_comparison",
    "write_outputs",
]
