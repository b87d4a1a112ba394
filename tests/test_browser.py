"""Real-browser checks (headless Debian Chromium over the DevTools protocol).

1. The demo run's report opens with no console error and no network request, and its charts and
   tables are in the DOM; a screenshot is kept under the test output (outputs/test-browser/).
2. The MLflow UI served by ``forecast.ui.serve`` shows the demo run's parent and child runs with a
   metric column on its runs page, once the app has rendered.

``make test`` installs chromium when it is missing; without it these tests fail (they do not skip).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser_cdp import Browser, chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.server]

SHOTS = Path(__file__).resolve().parents[1] / "outputs" / "test-browser"


@pytest.fixture(scope="module")
def browser():
    assert chromium_path(), "chromium is not installed: run `apt-get install -y chromium chromium-driver` (make test does)"
    with Browser() as b:
        yield b


def test_report_renders_without_errors_or_network(browser, tracked_run):
    _, run_dir, _ = tracked_run
    report = run_dir / "report.html"
    browser.events.clear()
    browser.goto(report.as_uri())
    dom = browser.eval("""(() => ({
        title: document.title,
        lang: document.documentElement.lang,
        sections: [...document.querySelectorAll('section[id]')].map(s => s.id),
        fans: document.querySelectorAll('svg.chart.fan').length,
        fanBands: document.querySelectorAll('svg.chart.fan polygon.band80').length,
        heatCells: document.querySelectorAll('svg.chart.heatmap g.cell').length,
        bars: document.querySelectorAll('svg.chart.bars rect').length,
        shortageRows: document.querySelectorAll('table.shortages tbody tr').length,
        modelRows: document.querySelectorAll('table.models tbody tr').length,
        qualityCells: [...document.querySelectorAll('table.ingest-totals td')].map(td => td.textContent),
        fanWidth: document.querySelector('svg.chart.fan').getBoundingClientRect().width,
        scripts: document.scripts.length,
        noPlan: document.querySelector('.no-plan') ? document.querySelector('.no-plan').textContent : null,
    }))()""")
    assert dom["lang"] == "fr" and "Besoins en compétences" in dom["title"]
    assert dom["sections"][:6] == ["summary", "heatmap", "zones", "zone-4413", "models", "quality"] or \
        {"summary", "heatmap", "zones", "models", "quality", "method"} <= set(dom["sections"])
    assert dom["fans"] >= 2 and dom["fanBands"] == dom["fans"] and dom["fanWidth"] > 300
    assert dom["heatCells"] >= 3 and dom["bars"] >= 3
    assert dom["shortageRows"] >= 3 and dom["modelRows"] == 2 and dom["scripts"] == 0
    assert len(dom["qualityCells"]) == 4 and all(c.strip() for c in dom["qualityCells"])
    plan_present = (run_dir / "plan.parquet").is_file()
    assert plan_present or "Pas de plan" in dom["noPlan"]
    assert browser.console_errors() == []
    urls = browser.requests_seen()
    assert urls and all(u.startswith("file://") for u in urls), urls
    shot = browser.screenshot(SHOTS / "report.png")
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:4] == b"\x89PNG"


def test_mlflow_runs_page_shows_parent_and_children_with_metrics(browser, tracked_run):
    from forecast.tracking import experiment_id
    from forecast.ui import free_port, serve

    store, _, summary = tracked_run
    exp_id = experiment_id(store, "pilote")
    parent_name = Path(summary["run_dir"]).name
    with serve(store, port=free_port(), timeout=90) as ui:
        browser.events.clear()
        browser.goto(ui.runs_url(exp_id), timeout=60)
        # The runs table renders asynchronously (React): wait for the parent run's name.
        browser.wait_for(f"document.body.innerText.includes({json.dumps('pilote-' + parent_name)})", timeout=60)
        # Child runs are grouped under their parent: the run-name cell's expander button shows them.
        browser.eval("""document.querySelectorAll('button[data-component-id*="runnamecellrenderer"]')
                        .forEach(b => b.click())""")
        rows = browser.wait_for("""(() => { const r = [...document.querySelectorAll('[role=row]')].map(x => x.innerText);
            return r.some(t => /\\bseasonal_naive\\b/.test(t)) && r.some(t => /\\bets\\b/.test(t)) ? r : null; })()""",
                                timeout=30)
        names = [line for row in rows for line in row.split("\n")]
        assert f"pilote-{parent_name}" in names and "seasonal_naive" in names and "ets" in names
        # Their metrics: the table's column picker lists the metrics the runs carry.
        browser.eval("""[...document.querySelectorAll('button')].find(b => b.textContent.includes('Show more columns')).click()""")
        picker = browser.wait_for("""(() => { const t = document.body.innerText;
            return /Metrics \\(\\d+\\)/.test(t) ? t : ''; })()""", timeout=30)
        for metric in ("mase", "rmsse", "wape", "coverage_80", "mase_selected"):
            assert f"\n{metric}\n" in picker, metric
        shot = browser.screenshot(SHOTS / "mlflow_runs.png", full_page=False)
        assert shot.stat().st_size > 10_000
    errors = [e for e in browser.console_errors() if "favicon" not in e]
    assert not [e for e in errors if e.startswith("exception")], errors
