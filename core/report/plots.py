"""``pareto.png``: the scatter matrix of a run's objectives."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.interfaces.trial import TrialResult, TrialStatus
from core.report.display import display_label, display_value, objective_value
from core.search.timeline import pyplot as _pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# marker styles shared by the plots: (matplotlib kwargs, legend label)
_FEASIBLE = {"c": "0.6", "marker": "o", "s": 12, "label": "fits the board"}
_INFEASIBLE = {"c": "tab:red", "marker": "x", "s": 16, "linewidths": 1.0, "label": "does not fit"}
_FRONT = {"c": "tab:blue", "marker": "*", "s": 70, "edgecolors": "k", "linewidths": 0.4, "label": "Pareto front"}


def plot_pareto(
    path: str | Path | None,
    results: list[TrialResult],
    front_ids: set[int],
    objectives: list[str],
    ref: dict[str, float],
) -> Figure:
    """Scatter matrix of the objectives: an ``n x n`` grid for ``n`` objectives (``n >= 2``).

    Panel ``(i, j)`` plots objective ``j`` (x) against objective ``i`` (y); the diagonal holds a stacked
    histogram of objective ``i``. Feasible trials are grey dots, infeasible ones red crosses, the Pareto front
    blue stars; dotted lines mark the reference point (the board's budgets). Cost axes are logarithmic (a few
    KiB of model against budgets of hundreds). Missing values (NaN: an untrained candidate has no error) are
    left out of the panels that need them. Writes ``path`` (if given) and returns the closed figure.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator, NullLocator

    m = len(objectives)
    measured = [r for r in results if r.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE)]
    groups = [
        ([r for r in measured if r.status == TrialStatus.COMPLETE and r.trial_id not in front_ids], _FEASIBLE),
        ([r for r in measured if r.status == TrialStatus.INFEASIBLE], _INFEASIBLE),
        ([r for r in measured if r.trial_id in front_ids], _FRONT),
    ]
    values = {
        name: [np.array([display_value(name, objective_value(r, name)) for r in g], dtype=float) for g, _ in groups]
        for name in objectives
    }
    log_axis = {}
    for name in objectives:
        v = np.concatenate(values[name])
        v = v[np.isfinite(v)]
        log_axis[name] = name != "error" and len(v) > 0 and bool(np.all(v > 0))

    size = 2.35 * m + 0.5
    fig, axes = plt.subplots(m, m, figsize=(size, size + 0.35), squeeze=False, sharex="col", sharey="row")
    for i, yname in enumerate(objectives):
        for j, xname in enumerate(objectives):
            ax = axes[i][j]
            if i == j:  # bars in axes-fraction height: the panel keeps the row's y axis for its tick labels
                _histogram(ax, values[xname], [style for _, style in groups], log_axis[xname])
                ax.text(0.04, 0.96, display_label(xname), transform=ax.transAxes, va="top", fontsize=9,
                        fontweight="bold", bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1})  # fmt: skip
            else:
                for k, (group, style) in enumerate(groups):
                    if group:
                        ax.scatter(values[xname][k], values[yname][k], **style)
                _refline(ax.axhline, display_value(yname, ref.get(yname)))
            _refline(ax.axvline, display_value(xname, ref.get(xname)))
            ax.grid(alpha=0.25, which="major")
            ax.tick_params(labelsize=7)
            if i == m - 1:
                ax.set_xlabel(display_label(xname), fontsize=8)
            if j == 0:
                ax.set_ylabel(display_label(yname), fontsize=8)
    for k, name in enumerate(objectives):  # shared axes: set each scale once, on the column's / row's first panel
        if log_axis[name]:
            axes[0][k].set_xscale("log")
            axes[0][k].xaxis.set_minor_locator(NullLocator())
            axes[k][0].set_yscale("log")
            axes[k][0].yaxis.set_minor_locator(NullLocator())
        else:
            axes[0][k].xaxis.set_major_locator(MaxNLocator(4))
            axes[k][0].yaxis.set_major_locator(MaxNLocator(4))
    handles = [
        plt.Line2D([], [], ls="", marker=s["marker"], color=s["c"], markersize=7 if s is _FRONT else 5)
        for g, s in groups
        if g
    ]
    labels = [str(s["label"]) for g, s in groups if g]
    if handles:
        fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(1, 0.975), ncol=len(handles), fontsize=8,
                   frameon=False)  # fmt: skip
    untrained = sum(1 for r in measured if not all(math.isfinite(objective_value(r, n)) for n in objectives))
    note = f", {untrained} without every objective (not trained)" if untrained else ""
    fig.suptitle(
        f"{len(measured)} measured trials, {len(front_ids)} on the Pareto front{note}; dotted: reference point",
        x=0.01,
        y=0.995,
        ha="left",
        va="top",
        fontsize=9,
    )
    # fixed margins in inches: tight_layout over n^2 log axes costs seconds
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=0.75 / w, right=1 - 0.15 / w, bottom=0.6 / h, top=1 - 0.5 / h, wspace=0.1, hspace=0.1)
    if path is not None:
        fig.savefig(path, dpi=90)
    plt.close(fig)
    return fig


def _refline(draw: Any, value: float) -> None:
    if math.isfinite(value):
        draw(value, c="k", lw=0.6, ls=":")


def _histogram(ax: Axes, values: list[np.ndarray], styles: list[dict[str, Any]], log_axis: bool) -> None:
    """Stacked histogram of one objective on the scatter matrix's diagonal; 'no data' when empty."""
    finite = [v[np.isfinite(v)] for v in values]
    allv = np.concatenate(finite) if finite else np.zeros(0)
    if len(allv) == 0:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.5")
        return
    lo, hi = float(allv.min()), float(allv.max())
    if hi <= lo:
        lo, hi = (lo * 0.9, hi * 1.1) if lo > 0 else (lo - 0.5, hi + 0.5)
    edges = np.geomspace(lo, hi, 13) if log_axis else np.linspace(lo, hi, 13)
    counts = [np.histogram(v, bins=edges)[0] for v in finite]
    top = max(float(np.sum(counts, axis=0).max()), 1.0)
    bottom = np.zeros(len(edges) - 1)
    trans = ax.get_xaxis_transform()  # x in data, y in axes fraction: the bars never move the shared y axis
    for c, style in zip(counts, styles, strict=True):
        if c.any():
            height = 0.8 * c / top
            ax.bar(edges[:-1], height, width=np.diff(edges), bottom=bottom, align="edge", color=style["c"],
                   alpha=0.85, transform=trans, linewidth=0)  # fmt: skip
            bottom = bottom + height
