"""The HTML report: content, French formatting, escaping, optional plan files, the CLI command."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from forecast.errors import DataError
from forecast.report.fmt import NNBSP, esc, fmt_num, fmt_pct
from forecast.report.html import build_report

EVIL = '<script>alert("x")</script> Cariste & Cie'


def test_french_and_english_number_formatting():
    assert fmt_num(1234.5, "fr", 1) == f"1{NNBSP}234,5"
    assert fmt_num(1234567, "fr") == f"1{NNBSP}234{NNBSP}567"
    assert fmt_num(1234.5, "en", 1) == "1,234.5"
    assert fmt_num(-0.2, "fr") == "0" and fmt_num(-12.25, "fr", 1) == "−12,2"
    assert fmt_pct(0.125, "fr", 1) == "12,5\u00a0%" and fmt_pct(0.125, "en", 1) == "12.5%"
    assert fmt_num(float("nan")) == "–"
    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;" and esc(None) == ""


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run_dir, out, ignore=shutil.ignore_patterns("forecaster", "plots", "*.csv.gz"))
    for name in ("plan.parquet", "budget_curve.csv"):
        (out / name).unlink(missing_ok=True)
    return out


def test_demo_run_writes_the_french_report(tracked_run):
    _, run_dir, summary = tracked_run
    report = run_dir / "report.html"
    assert summary["report"] == str(report)
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="fr">' in html
    for section in ("summary", "heatmap", "zones", "models", "quality", "method"):
        assert f'<section id="{section}"' in html
    assert "Synthèse pour les décideurs" in html and "Méthode et limites" in html
    # the method says what the product does: choice per class, calibrated intervals, job seekers in the supply
    assert "chaque classe retient" in html and "recalés sur les erreurs des backtests" in html
    assert "demandeurs d&#x27;emploi inscrits" in html or "demandeurs d'emploi inscrits" in html
    assert html.count('class="chart fan"') >= 2 and 'class="chart heatmap"' in html
    assert 'class="chart bars"' in html and '<table class="models">' in html
    # Self-contained: no script, no external resource.
    assert "<script" not in html and not re.search(r"(src|href)=\"https?:", html) and "<link" not in html
    # The ingest counts of summary.json in French formatting.
    accepted = summary["ingest"]["accepted"]
    assert accepted >= 1000 and fmt_num(accepted, "fr") in html and NNBSP in fmt_num(accepted, "fr")


def test_every_data_string_is_escaped(tracked_run, tmp_path):
    _, run_dir, _ = tracked_run
    run = _copy(run_dir, tmp_path)
    summ = pd.read_csv(run / "gap_summary.csv", dtype={"zone": str})
    summ.loc[0, "label"] = EVIL
    summ.to_csv(run / "gap_summary.csv", index=False)
    pd.DataFrame({"source": ["offres<b>.jsonl"], "field": ["romeCode"], "reason": ["code <i>inconnu</i>"],
                  "count": [3], "example": ['{"intitule": "<img src=x onerror=alert(1)>"}']}
                 ).to_csv(run / "rejects_summary.csv", index=False)
    html = build_report(run).read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Cariste &amp; Cie" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "code &lt;i&gt;inconnu&lt;/i&gt;" in html


def test_without_plan_the_report_says_so(tracked_run, tmp_path):
    run = _copy(tracked_run[1], tmp_path)
    html = build_report(run).read_text(encoding="utf-8")
    assert "Pas de plan d&#x27;actions dans ce run" in html and "Pas de courbe budgétaire dans ce run" in html
    en = build_report(run, lang="en", output=tmp_path / "en.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in en and "No plan in this run" in en and "Summary for decision makers" in en


def test_plan_and_budget_curve_are_rendered_when_present(tracked_run, tmp_path):
    run = _copy(tracked_run[1], tmp_path)
    pd.DataFrame({"type": ["formation", "mobilité"], "zone": ["4413", "4413"], "rome": ["J1501", "N1103"],
                  "quantity": [12, 5], "cost": [84000.0, 1500.0], "expected_reduction": [9.6, 2.5],
                  "rationale": ["Ouvrir une session de DEAS à Reims", "Aide à la mobilité <depuis> Épernay"]}
                 ).to_parquet(run / "plan.parquet")
    pd.DataFrame({"budget": [0, 50000, 100000], "unmet_demand": [120.0, 80.0, 65.0],
                  "unmet_avoided": [0.0, 40.0, 55.0]}).to_csv(run / "budget_curve.csv", index=False)
    html = build_report(run).read_text(encoding="utf-8")
    assert "Pas de plan" not in html and '<table class="plan">' in html and 'class="chart line"' in html
    assert f"84{NNBSP}000" in html and "9,6" in html and "Aide à la mobilité &lt;depuis&gt; Épernay" in html
    # Largest expected reduction first.
    assert html.index("Ouvrir une session de DEAS") < html.index("Aide à la mobilité")


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="missing summary.json.*forecast run"):
        build_report(tmp_path)


def test_cli_report_by_folder_and_by_mlflow_run_id(tracked_run, tmp_path):
    store, run_dir, summary = tracked_run
    runner = CliRunner()
    out = tmp_path / "rapport en.html"
    res = runner.invoke(app, ["report", str(run_dir), "--lang", "en", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"Report: {out}" in res.output and '<html lang="en">' in out.read_text(encoding="utf-8")
    res = runner.invoke(app, ["report", summary["run_id"], "--store", str(store), "-o", str(tmp_path / "id.html")])
    assert res.exit_code == 0, res.output
    assert "Synthèse pour les décideurs" in (tmp_path / "id.html").read_text(encoding="utf-8")
    res = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert res.exit_code == 1 and "no such run folder and not an MLflow run id" in res.stderr
    res = runner.invoke(app, ["report", str(run_dir), "--lang", "de"])
    assert res.exit_code == 1 and "--lang must be one of fr, en" in res.stderr
