"""``report.html``: self-contained (plotly.js inline), fast, and rendered by a real headless browser with no
network: plotly's SVG, the parallel-coordinates plot, the scatter matrix (WebGL) and the hypervolume against
wall-clock time must all be in the DOM."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import time

import pytest

from core.report import write_outputs
from core.report.html_page import render_html
from core.search.store import Store
from tests.test_report import fake_run

CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b)), None)


@pytest.fixture
def run_dir(make_cfg, tmp_path):
    fake_run(make_cfg, tmp_path, "search.n_trials=16")
    return tmp_path


def test_html_is_self_contained_and_fast(run_dir) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert len(page) > 1_000_000  # plotly.js itself is inlined ...
    assert not re.search(r"<script[^>]+src=", page)  # ... and nothing is loaded from elsewhere
    assert '"type":"parcoords"' in page and '"type":"splom"' in page
    assert 'id="hv-time"' in page and "Hypervolume against wall-clock time" in page and "% busy" in page
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "Pareto set (" in page and "sorted by error" in page and "flash [KiB]" in page
    assert page.count("✓") == summary["pareto_size"]
    with Store(run_dir / "trials.db") as store:
        results = store.results()
    start = time.perf_counter()
    render_html(results, summary)
    assert time.perf_counter() - start < 3.0  # typically ~0.1 s; generous for a loaded CI machine


def test_a_broken_plotly_costs_the_html_report_only(run_dir, monkeypatch, caplog) -> None:
    (run_dir / "report.html").unlink()
    for name in [m for m in sys.modules if m == "plotly" or m.startswith("plotly.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly -> ImportError
    with caplog.at_level(logging.WARNING, logger="core.report"), Store(run_dir / "trials.db") as store:
        summary = write_outputs(store, run_dir)
    assert summary["counts"]["total"] == 16
    assert not (run_dir / "report.html").exists()
    assert "report.html not written: ModuleNotFoundError" in caplog.text
    assert (run_dir / "pareto.png").is_file() and (run_dir / "hypervolume.png").is_file()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_html_renders_offline_in_headless_chromium(run_dir, tmp_path_factory) -> None:
    page = run_dir / "report.html"
    profile = tmp_path_factory.mktemp("chromium-profile")
    args = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: the page must not need it
        f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri(),
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = re.sub(r"<script\b.*?</script>", "", proc.stdout, flags=re.S)  # what was rendered, not the JS source
    assert dom.count('class="main-svg"') >= 6  # the three plots drew their SVG layers
    assert 'class="parcoords"' in dom and 'class="parcoords-control-view"' in dom
    assert dom.count('class="y-axis"') >= 4  # the parcoords axes (parameters, then objectives) ...
    assert ">flash [KiB]<" in dom and ">error [%]<" in dom  # ... titled with the objectives in human units
    subplots = set(re.findall(r'class="subplot (x\d*y\d*)"', dom))  # the splom: its lower half, 4 objectives,
    assert subplots == {"xy2", "xy3", "xy4", "x2y3", "x2y4", "x3y4", "xy"}  # and the HV-against-time plot (xy)
    assert ">wall-clock time since the first trial start [s]<" in dom
    assert "gl-canvas" in dom  # both draw their marks with WebGL ...
    assert "get.webgl.org" not in dom  # ... which worked: no "WebGL is not supported" notice
    assert ">✓<" in dom  # the Pareto table
