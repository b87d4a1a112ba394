"""The self-contained HTML report of one run, for decision makers (French by default).

    from forecast.report.html import build_report
    build_report(Path("outputs/reims/20261128-160011"))             # -> .../report.html (French)
    build_report(run_dir, lang="en", output=Path("report_en.html"))

Inputs are the files of a run folder written by :func:`forecast.pipeline.run_experiment`
(summary.json, gap.parquet, gap_summary.csv, catalog.parquet, series.parquet, supply.parquet,
metrics_summary.csv, selection_score.csv) and, when present, plan.parquet and budget_curve.csv
(actions), ingest.csv and rejects_summary.csv (data quality). Missing optional inputs are said
so in the report, never made up. The file has no script and loads nothing: charts are inline
SVG, styles inline CSS. Every data string is HTML-escaped.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from forecast import schema as S
from forecast.errors import DataError
from forecast.io import write_text
from forecast.report import sections
from forecast.report.fmt import esc, fmt_month, texts

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
REQUIRED = ("summary.json", "gap.parquet", "gap_summary.csv", "catalog.parquet")
OPTIONAL = ("series.parquet", "supply.parquet", "metrics_summary.csv", "selection_score.csv", "plan.parquet",
            "budget_curve.csv", "ingest.csv", "rejects_summary.csv")


@dataclass
class RunData:
    """The tables of one run folder; optional ones are ``None`` when the file is absent."""

    run_dir: Path
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


def load_run(run_dir: Path) -> RunData:
    """Read the run folder; ``DataError`` naming what is missing if it is not a run folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run folder (give an outputs/<experiment>/<stamp> folder or an MLflow run id)")
    missing = [n for n in REQUIRED if not (run_dir / n).is_file()]
    if missing:
        raise DataError(f"{run_dir}: not a complete run folder, missing {', '.join(missing)} "
                        "(run `forecast run EXPERIMENT.toml` to produce one)")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    data = RunData(run_dir, summary)
    for name in (*REQUIRED[1:], *OPTIONAL):
        path = run_dir / name
        if not path.is_file():
            data.tables[name] = None
            continue
        try:
            if name == "series.parquet":  # only what the fan charts show: the modelled occupations
                data.tables[name] = _modelled_occupations(path, data.get("catalog.parquet"))
                continue
            data.tables[name] = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={S.ZONE: str})
        except Exception as exc:  # noqa: BLE001 - one clear message per unreadable file
            raise DataError(f"{path}: cannot read ({exc})") from None
    return data


def _modelled_occupations(path: Path, catalog: pd.DataFrame | None) -> pd.DataFrame:
    """The history of the modelled occupation x zone series from a run's series.parquet (which holds
    every series: 165,844 on the Grand Est, 2 GB once in pandas, where the report needs 2,757)."""
    if catalog is None or not {S.UID, S.LEVEL}.issubset(catalog.columns):
        return pd.read_parquet(path)
    occ = catalog[S.LEVEL] == "rome_zone"
    if "modelled" in catalog.columns:
        occ &= catalog["modelled"].astype(bool)
    ids = sorted(catalog.loc[occ, S.UID].astype(str))
    if not ids:
        return pd.read_parquet(path).iloc[:0]
    return pd.read_parquet(path, filters=[(S.UID, "in", ids)])


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:24px;background:#fff}
h1{font-size:1.7em;margin:0 0 4px}h2{border-bottom:2px solid #1f5fa8;padding-bottom:4px;margin-top:36px}
.subtitle{color:#555;margin:0 0 16px}
section.page{page-break-before:always;break-before:page}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.92em;width:100%}
th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7}td.num{text-align:right;white-space:nowrap}
.note{background:#fff6e0;border-left:4px solid #e0a800;padding:8px 12px}
.charts{display:flex;flex-wrap:wrap;gap:12px}svg.chart{max-width:100%;height:auto;background:#fff}
nav ol{columns:2}
@media print{body{background:#fff}main{padding:0}}
"""


def render_report(data: RunData, lang: str = "fr", today: date | None = None) -> str:
    """The whole HTML document as a string."""
    t = texts(lang)
    s = data.summary
    end = s.get("end")
    end_text = fmt_month(pd.Period(end, "M").to_timestamp(), lang) if end else "?"
    stamp = (today or date.today())
    date_text = stamp.strftime("%d/%m/%Y") if lang == "fr" else stamp.isoformat()
    body = [
        f"<h1>{esc(t['title'])}</h1>",
        f'<p class="subtitle">{esc(t["subtitle"].format(exp=s.get("experiment", "?"), end=end_text, date=date_text))}</p>',
    ]
    parts = [
        ("summary", t["summary"], sections.summary_section(data, t, lang)),
        ("heatmap", t["heatmap"], sections.heatmap_section(data, t, lang)),
        ("zones", t["zones"], sections.zones_section(data, t, lang)),
        ("models", t["models"], sections.models_section(data, t, lang)),
        ("quality", t["quality"], sections.quality_section(data, t, lang)),
        ("method", t["method"], sections.method_section(t, lang)),
    ]
    body.append(f'<nav><h2>{esc(t["toc"])}</h2><ol>'
                + "".join(f'<li><a href="#{key}">{esc(title)}</a></li>' for key, title, _ in parts) + "</ol></nav>")
    for key, title, html in parts:
        cls = "" if key == "summary" else ' class="page"'
        body.append(f'<section id="{key}"{cls}><h2>{esc(title)}</h2>{html}</section>')
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(t['title'])} — {esc(s.get('experiment', ''))}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")


def build_report(run_dir: Path, lang: str = "fr", output: Path | None = None) -> Path:
    """Write the report of ``run_dir`` (default ``<run_dir>/report.html``, atomically); return its path."""
    texts(lang)  # validate the language first
    data = load_run(run_dir)
    out = Path(output) if output else Path(run_dir) / REPORT_NAME
    write_text(render_report(data, lang), out)
    log.debug("report written to %s", out)
    return out


__all__ = ["build_report", "render_report", "load_run", "RunData", "REPORT_NAME"]
