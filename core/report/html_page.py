"""``report.html``: one self-contained, offline page per run (plotly.js is inlined, nothing is fetched).

It holds the run's headline numbers, the Pareto set as a table (with infeasible non-dominated candidates
marked ✗, see :mod:`core.report.fronts`), a parallel-coordinates plot of every measured trial (searched parameters,
then objectives; coloured by Pareto front / fits the board / does not fit) and a scatter matrix (splom) of
the objectives, and the hypervolume against wall-clock time with the workers' utilisation (see
:mod:`core.search.timeline`). Objectives are shown in human units (error in %, flash and SRAM in KiB, latency in ms).

Needs ``plotly`` (the Python package; it ships plotly.js); :func:`core.report.summary.write_outputs` skips the page
with a warning when it is missing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.interfaces.trial import TrialResult, TrialStatus
from core.report.display import display_label, display_value, format_value, objective_value
from core.search.objectives import OBJECTIVES
from core.search.timeline import Timeline, describe, time_unit

CATEGORIES = ("does not fit", "fits the board", "Pareto front")  # parcoords colour codes 0, 1, 2
_COLOURS = {"does not fit": "#d62728", "fits the board": "#9a9a9a", "Pareto front": "#1f77b4"}
_EXTRA = "does not fit, not dominated"
_MARKERS = {
    "fits the board": {"color": "#9a9a9a", "size": 6, "symbol": "circle"},
    "does not fit": {"color": "#d62728", "size": 7, "symbol": "x-thin-open", "line": {"width": 1.5}},
    _EXTRA: {"color": "#ff7f0e", "size": 9, "symbol": "diamond-open", "line": {"width": 1.5}},
    "Pareto front": {"color": "#1f77b4", "size": 11, "symbol": "star", "line": {"width": 0.5, "color": "black"}},
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em} .note{color:#666;font-size:.9em}
table{border-collapse:collapse;font-size:.85em} td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} .no{color:#d62728} .yes{color:#2ca02c} .dim{color:#888}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:.9em} dt{font-weight:600}
"""


def _category(r: TrialResult, front_ids: set[int], extra_ids: set[int]) -> str:
    if r.trial_id in front_ids:
        return "Pareto front"
    if r.trial_id in extra_ids:
        return _EXTRA
    return "fits the board" if r.status == TrialStatus.COMPLETE else "does not fit"


def _hover(r: TrialResult, objectives: list[str]) -> str:
    lines = [f"trial {r.trial_id} ({r.status.value})"]
    lines += [f"{display_label(n)}: {format_value(n, r.objectives.get(n))}" for n in objectives]
    lines += [f"{k}: {_fmt_param(v)}" for k, v in sorted(r.params.items())]
    return "<br>".join(html.escape(s) for s in lines)


def _fmt_param(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _numeric(values: list[Any]) -> tuple[list[float], dict[str, Any]]:
    """Parameter values as parcoords numbers; categorical (non-numeric) ones become indices with tick labels."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], {}
    labels = sorted({str(v) for v in values})
    index = {s: i for i, s in enumerate(labels)}
    return [float(index[str(v)]) for v in values], {"tickvals": list(range(len(labels))), "ticktext": labels}


def parcoords_figure(
    results: list[TrialResult], objectives: list[str], front_ids: set[int], extra_ids: set[int]
) -> tuple[dict[str, Any] | None, int]:
    """Parallel coordinates of the measured trials whose objectives are all known (parameters, then
    objectives); returns the figure (None if no such trial) and how many measured trials were left out."""
    measured = [r for r in results if r.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE)]
    rows = [r for r in measured if all(math.isfinite(objective_value(r, n)) for n in objectives)]
    if not rows:
        return None, len(measured)
    code = {"does not fit": 0, _EXTRA: 0, "fits the board": 1, "Pareto front": 2}
    rows.sort(key=lambda r: (code[_category(r, front_ids, extra_ids)], r.trial_id))  # the front drawn last
    dims = []
    for key in sorted({k for r in rows for k in r.params}):
        if all(key in r.params for r in rows):
            values, ticks = _numeric([r.params[key] for r in rows])
            dims.append({"label": key.rsplit(".", 1)[-1], "values": values, **ticks})
    for name in objectives:
        dims.append(
            {"label": display_label(name), "values": [display_value(name, objective_value(r, name)) for r in rows]}
        )
    colours = [code[_category(r, front_ids, extra_ids)] for r in rows]
    scale = [[0.0, _COLOURS["does not fit"]], [0.5, _COLOURS["fits the board"]], [1.0, _COLOURS["Pareto front"]]]
    trace = {
        "type": "parcoords",
        "line": {"color": colours, "colorscale": scale, "cmin": 0, "cmax": 2, "showscale": False},
        "dimensions": dims,
        "labelangle": -20,
    }
    layout = {"height": 460, "margin": {"l": 70, "r": 50, "t": 80, "b": 30}, "font": {"size": 11}}
    return {"data": [trace], "layout": layout}, len(measured) - len(rows)


def splom_figure(
    results: list[TrialResult], objectives: list[str], front_ids: set[int], extra_ids: set[int]
) -> dict[str, Any] | None:
    """Scatter matrix (lower half) of the objectives of every measured trial, one trace per category."""
    measured = [r for r in results if r.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE)]
    if not measured:
        return None
    traces = []
    for cat in ("fits the board", "does not fit", _EXTRA, "Pareto front"):
        group = [r for r in measured if _category(r, front_ids, extra_ids) == cat]
        if not group:
            continue
        traces.append(
            {
                "type": "splom",
                "name": f"{cat} ({len(group)})",
                "dimensions": [
                    {"label": display_label(n), "values": [display_value(n, objective_value(r, n)) for r in group]}
                    for n in objectives
                ],
                "text": [_hover(r, objectives) for r in group],
                "hoverinfo": "text",
                "marker": _MARKERS[cat],
                "diagonal": {"visible": False},
                "showupperhalf": False,
            }
        )
    m = len(objectives)
    side = max(420, 190 * (m - 1) + 120)
    layout: dict[str, Any] = {
        "height": side,
        "width": side + 160,
        "hovermode": "closest",
        "dragmode": "select",
        "legend": {"orientation": "v", "x": 1.02, "y": 1},
        "margin": {"l": 80, "r": 20, "t": 30, "b": 70},
        "font": {"size": 11},
    }
    for k, name in enumerate(objectives):
        values = [display_value(name, objective_value(r, name)) for r in measured]
        finite = [v for v in values if math.isfinite(v)]
        log = name != "error" and bool(finite) and min(finite) > 0 and max(finite) > 10 * min(finite)
        suffix = "" if k == 0 else str(k + 1)
        for axis in ("xaxis", "yaxis"):
            layout[axis + suffix] = {"type": "log" if log else "linear", "automargin": True}
    return {"data": traces, "layout": layout}


def hypervolume_time_figure(timeline: Timeline | None) -> dict[str, Any] | None:
    """The hypervolume after each finished trial against wall-clock time since the first trial start (a step
    curve from zero, one marker per finished trial); None when the run recorded no trial times."""
    if timeline is None or not timeline.hypervolume:
        return None
    points = timeline.hypervolume
    scale, unit = time_unit(points[-1].elapsed_s)
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "hypervolume",
        "x": [0.0] + [p.elapsed_s / scale for p in points],
        "y": [0.0] + [p.hypervolume for p in points],
        "line": {"shape": "hv", "color": "#2ca02c"},
        "marker": {"size": 5},
        "text": ["search start"] + [f"trial {p.trial_id} finished after {p.elapsed_s:.1f} s" for p in points],
        "hovertemplate": "%{text}<br>hypervolume %{y:.4f}<extra></extra>",
    }
    layout = {
        "height": 380,
        "margin": {"l": 70, "r": 30, "t": 30, "b": 60},
        "font": {"size": 11},
        "xaxis": {"title": {"text": f"wall-clock time since the first trial start [{unit}]"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": "hypervolume"}, "rangemode": "tozero"},
    }
    return {"data": [trace], "layout": layout}


def _table(
    results: list[TrialResult], objectives: list[str], front_ids: set[int], extra_ids: set[int], board: str
) -> str:
    rows = [r for r in results if r.trial_id in front_ids or r.trial_id in extra_ids]
    if not rows:
        return '<p class="note">No trial fits the board yet: the Pareto set is empty.</p>'
    rows.sort(key=lambda r: (not math.isfinite(objective_value(r, "error")), objective_value(r, "error"), r.trial_id))
    shown = [n for n in OBJECTIVES if n in objectives or n in ("error", "flash", "ram", "macs")]
    shown = [n for n in shown if any(n in r.objectives for r in rows)]
    params = sorted({k for r in rows for k in r.params})
    head = ['<th class="l">trial</th>', f'<th title="fits {html.escape(board)}">fits board</th>']
    dim = ' class="dim" title="measured, not an objective of this run"'
    head += [f"<th{'' if n in objectives else dim}>{html.escape(display_label(n))}</th>" for n in shown]
    head += [f'<th title="{html.escape(p)}">{html.escape(p.rsplit(".", 1)[-1])}</th>' for p in params]
    body = []
    for r in rows:
        fits = r.status == TrialStatus.COMPLETE
        cells = [
            f'<td class="l">{r.trial_id}</td>',
            f'<td class="{"yes" if fits else "no"}">{"✓" if fits else "✗"}</td>',
        ]
        cells += [f"<td>{format_value(n, r.objectives.get(n))}</td>" for n in shown]
        cells += [f"<td>{html.escape(_fmt_param(r.params.get(p, '')))}</td>" for p in params]
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = (
        f'<p class="note">✗: not dominated by any measured trial, but does not fit {html.escape(board)}; not part of '
        "the Pareto front or its hypervolume.</p>"
        if extra_ids
        else ""
    )
    return f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def _headline(summary: dict[str, Any], title: str) -> str:
    counts = summary.get("counts") or {}
    ref = summary.get("reference_point") or {}
    items = [
        ("run", title),
        ("board", summary.get("board")),
        ("optimizer", summary.get("optimizer")),
        ("seed", summary.get("seed")),
        ("objectives", ", ".join(summary.get("objectives") or [])),
        ("reference point", ", ".join(f"{display_label(k)} {format_value(k, v)}" for k, v in ref.items())),
        ("trials", ", ".join(f"{k} {v}" for k, v in counts.items())),
        ("hypervolume", f"{float(summary.get('hypervolume') or 0.0):.4f}"),
        ("Pareto size", summary.get("pareto_size")),
        ("wall time", f"{float(summary.get('wall_time_s') or 0.0):.1f} s"),
        ("workers", _workers(summary)),
    ]
    return "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items) + "</dl>"


def _workers(summary: dict[str, Any]) -> str:
    text = f"{summary.get('workers') or '?'}" + (f" ({summary['schedule']})" if summary.get("schedule") else "")
    utilisation = summary.get("worker_utilisation")
    return text + (f", {float(utilisation):.0%} busy" if utilisation is not None else "")


def render_html(
    results: list[TrialResult],
    summary: dict[str, Any],
    infeasible_front_ids: Iterable[int] = (),
    title: str = "",
    timeline: Timeline | None = None,
) -> str:
    """The page as a string (plotly.js inlined once); ``timeline`` (:func:`core.search.timeline.load_timeline`) adds
    the hypervolume against wall-clock time."""
    import plotly.io as pio

    objectives = list(summary.get("objectives") or OBJECTIVES[:4])
    front_ids = {int(i) for i in summary.get("pareto_trial_ids") or []}
    extra_ids = {int(i) for i in infeasible_front_ids}
    board = str(summary.get("board") or "the board")
    config = {"displaylogo": False, "responsive": True}
    parts = [
        f"<h1>tinymoo run report: {html.escape(board)}</h1>",
        _headline(summary, title),
        f"<h2>Pareto set ({len(front_ids)} models{f', {len(extra_ids)} ✗' if extra_ids else ''}), sorted by error</h2>",
        _table(results, objectives, front_ids, extra_ids, board),
    ]
    js_done = False
    pc, left_out = parcoords_figure(results, objectives, front_ids, extra_ids)
    parts.append("<h2>Parallel coordinates</h2>")
    legend = " · ".join(f'<span style="color:{c}">■ {html.escape(k)}</span>' for k, c in _COLOURS.items())
    parts.append(f'<p class="note">{legend}. Drag along an axis to filter.</p>')
    if left_out:
        parts.append(f'<p class="note">{left_out} measured trial(s) without every objective (not trained) are left '
                     "out here; the scatter matrix shows their costs.</p>")  # fmt: skip
    if pc is None:
        parts.append('<p class="note">No measured trial yet.</p>')
    else:
        parts.append(pio.to_html(pc, include_plotlyjs=True, full_html=False, config=config, div_id="parcoords"))
        js_done = True
    parts.append("<h2>Scatter matrix of the objectives</h2>")
    sp = splom_figure(results, objectives, front_ids, extra_ids)
    if sp is None:
        parts.append('<p class="note">No measured trial yet.</p>')
    else:
        parts.append(pio.to_html(sp, include_plotlyjs=not js_done, full_html=False, config=config, div_id="splom"))
        js_done = True
    parts.append("<h2>Hypervolume against wall-clock time</h2>")
    hv = hypervolume_time_figure(timeline)
    if hv is None or timeline is None:
        parts.append('<p class="note">No trial times recorded (no finished trial yet, or a store written before '
                     "trials recorded their start time).</p>")  # fmt: skip
    else:
        parts.append(f'<p class="note">{html.escape(describe(timeline))}. Busy: the trials\' summed evaluation '
                     "time over the workers' time from the first trial start to the last finish.</p>")  # fmt: skip
        parts.append(pio.to_html(hv, include_plotlyjs=not js_done, full_html=False, config=config, div_id="hv-time"))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>tinymoo: {html.escape(title or board)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def write_html(
    path: str | Path,
    results: list[TrialResult],
    summary: dict[str, Any],
    infeasible_front_ids: Iterable[int] = (),
    title: str = "",
    timeline: Timeline | None = None,
) -> Path:
    """Write :func:`render_html` to ``path``; returns it."""
    path = Path(path)
    path.write_text(render_html(results, summary, infeasible_front_ids, title, timeline), encoding="utf-8")
    return path
