"""Real-browser checks (headless Debian Chromium over the DevTools protocol).

1. The demo run's report opens with no console error and no network request, and its charts and
   tables are in the DOM; a screenshot is kept under the test output (outputs/test-browser/).
2. The MLflow UI served by ``forecast.ui.serve`` shows, on its runs page, the demo run's parent and
   child runs with their metric values in the runs table, once the app has rendered. The metric
   columns are picked as a user does, in the "Columns" picker: MLflow 3.17 keeps the selected
   columns in the page's UI state (browser local storage), not in the URL, whose search state only
   holds searchFilter, orderByKey/orderByAsc, startTime, lifecycleFilter, modelVersionFilter,
   datasetsFilter and compareRunsMode. A screenshot of the table is kept (mlflow_runs.png).

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


def _cells(browser: Browser) -> dict[str, dict[str, str]]:
    """The runs table's rendered cells: {run id: {column id: text}} (ag-grid splits a row between
    its pinned and scrolling parts, which share the row-id)."""
    return browser.eval("""(() => { const out = {};
        document.querySelectorAll('.ag-cell[col-id]').forEach(c => {
            const row = c.closest('[row-id]'); if (!row) return;
            const id = row.getAttribute('row-id');
            (out[id] = out[id] || {})[c.getAttribute('col-id')] = c.innerText.trim(); });
        return out; })()""")


def test_mlflow_runs_page_shows_parent_and_children_with_metrics(browser, tracked_run):
    from forecast.tracking import experiment_id, find_runs
    from forecast.ui import free_port, serve

    store, _, summary = tracked_run
    exp_id = experiment_id(store, "pilote")
    parent_name = "pilote-" + Path(summary["run_dir"]).name
    runs = find_runs(store, "pilote")
    ids = {r.run_name: r.run_id for r in runs.itertuples() if r.run_id == summary["run_id"] or
           r.parent_run_id == summary["run_id"]}
    assert set(ids) == {parent_name, "seasonal_naive", "ets"}
    selected = f"{summary['metric']}_selected"
    # What the pipeline logged: each family's backtest metrics, the parent's selection score.
    expected = {ids[f]: {m: summary["backtest"][f][m] for m in ("mase", "rmsse")} for f in ("seasonal_naive", "ets")}
    expected[ids[parent_name]] = {selected: summary["selection_vs_baseline"]["selected"]}
    columns = ["mase", "rmsse", selected]
    with serve(store, port=free_port(), timeout=90) as ui:
        browser.events.clear()
        browser.goto(ui.runs_url(exp_id), timeout=60)
        # The runs table renders asynchronously (React): wait for the parent run's name.
        browser.wait_for(f"document.body.innerText.includes({json.dumps(parent_name)})", timeout=60)
        # The assistant side panel takes half the width: close it, as a user would.
        browser.eval("""(() => { const b = document.querySelector(
            'button[data-component-id="mlflow.assistant.chat_panel.close"]'); if (b) b.click(); })()""")
        # Child runs are grouped under their parent: the run-name cell's expander button shows them.
        browser.eval("""document.querySelectorAll('button[data-component-id*="runnamecellrenderer"]')
                        .forEach(b => b.click())""")
        rows = browser.wait_for("""(() => { const r = [...document.querySelectorAll('[role=row]')].map(x => x.innerText);
            return r.some(t => /\\bseasonal_naive\\b/.test(t)) && r.some(t => /\\bets\\b/.test(t)) ? r : null; })()""",
                                timeout=30)
        names = [line for row in rows for line in row.split("\n")]
        assert parent_name in names and "seasonal_naive" in names and "ets" in names
        # Pick metric columns in the "Columns" picker (and drop three attribute columns for room).
        browser.eval("""[...document.querySelectorAll('button')].find(b => b.textContent.includes('Show more columns')).click()""")
        picker = browser.wait_for("""(() => { const t = document.body.innerText;
            return /Metrics \\(\\d+\\)/.test(t) ? t : ''; })()""", timeout=30)
        for metric in ("mase", "rmsse", "wape", "coverage_80", selected):
            assert f"\n{metric}\n" in picker, metric
        for title in ["Dataset", "Source", "Models", *columns]:
            clicked = browser.eval(f"""(() => {{
                const t = document.querySelector('.du-bois-light-tree-treenode span[title={json.dumps(title)}]');
                if (!t) return false; t.parentElement.querySelector('.du-bois-light-tree-checkbox').click(); return true; }})()""")
            assert clicked, f"no {title!r} entry in the column picker"
        browser.send("Input.dispatchKeyEvent", type="keyDown", key="Escape", code="Escape", windowsVirtualKeyCode=27)
        # The metric columns and their values, per run, in the rendered table.
        col_ids = {m: f"metrics.`{m}`" for m in columns}
        cells = browser.wait_for(f"""(() => {{ const ids = {json.dumps(list(expected))};
            const want = {json.dumps(list(col_ids.values()))};
            const rows = {{}};
            document.querySelectorAll('.ag-cell[col-id]').forEach(c => {{ const r = c.closest('[row-id]');
                if (r) (rows[r.getAttribute('row-id')] = rows[r.getAttribute('row-id')] || {{}})[c.getAttribute('col-id')] = 1; }});
            return ids.every(i => rows[i] && want.every(w => rows[i][w])); }})()""", timeout=30) and _cells(browser)
        headers = browser.eval("[...document.querySelectorAll('.ag-header-cell')].map(h => h.innerText.trim())")
        assert {"Run Name", *columns} <= set(headers), headers
        for run_id, values in expected.items():
            for metric, value in values.items():
                shown = cells[run_id][col_ids[metric]]
                # The UI prints the double in full (JavaScript's shortest round-trip form, as Python's repr).
                assert float(shown) == pytest.approx(value, rel=1e-12, abs=0), (run_id, metric, shown, value)
                assert shown == repr(value), (shown, value)
        # A family run has no parent metric and vice versa: the table shows "-".
        assert cells[ids["ets"]][col_ids[selected]] == "-" and cells[ids[parent_name]][col_ids["mase"]] == "-"
        ets, naive = expected[ids["ets"]]["mase"], expected[ids["seasonal_naive"]]["mase"]
        assert ets != naive  # two different numbers: the cells are not a repeated value
        shot = browser.screenshot(SHOTS / "mlflow_runs.png", full_page=False)
        assert shot.stat().st_size > 10_000
    errors = [e for e in browser.console_errors() if "favicon" not in e]
    assert not [e for e in errors if e.startswith("exception")], errors
