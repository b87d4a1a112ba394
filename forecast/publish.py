"""The end of a run: the data-quality tables, the forecaster set, the HTML report, and what the tracker gets.

Called by :func:`forecast.pipeline.run_experiment`; tracker-free itself (it only calls the
:class:`forecast.tracking.Tracker` it is handed), so it works with ``NullTracker`` too.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from forecast import schema as S
from forecast.config import Experiment
from forecast.io import write_table
from forecast.store import FileReport
from forecast.tracking import Tracker

log = logging.getLogger(__name__)

FORECASTER_DIR = "forecaster"
PER_SERIES_TABLE = "per_series_metrics.json"


def data_version(exp: Experiment) -> str:
    """Short SHA-256 over the experiment's input files (names relative to their root + content hashes)."""
    from forecast.ingest import expand_paths
    from forecast.ingest.lheo import SESSION_PATTERNS
    from forecast.ingest.offers_json import OFFER_PATTERNS
    from forecast.store import file_sha256

    digest = hashlib.sha256()
    files = []
    if exp.offers:
        files += expand_paths(list(exp.offers), OFFER_PATTERNS)
    if exp.sessions:
        files += expand_paths(list(exp.sessions), SESSION_PATTERNS)
    for f in sorted(set(Path(p) for p in files), key=lambda p: (p.name, str(p))):
        digest.update(f"{f.name}\0{file_sha256(f)}\n".encode())
    return digest.hexdigest()[:16]


def write_quality_tables(exp: Experiment, reports: Iterable[FileReport], run_dir: Path) -> dict[str, Path]:
    """``ingest.csv`` and ``rejects_summary.csv`` in the run folder."""
    from forecast.report.quality import ingest_table, rejects_summary

    return {"ingest": write_table(ingest_table(reports), run_dir / "ingest.csv"),
            "rejects_summary": write_table(rejects_summary(exp.store), run_dir / "rejects_summary.csv")}


def per_series_metrics(metrics: pd.DataFrame, catalog: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """One row per series and family: label, level, zone, key, the family's metrics, and the chosen family."""
    wide = metrics.pivot_table(index=[S.UID, S.MODEL], columns=S.METRIC, values=S.VALUE, aggfunc="first")
    wide = wide.reset_index()
    wide.columns.name = None
    info = catalog[[S.UID, S.LEVEL, S.ZONE, S.KEY, "label"]]
    chosen = selection[[S.UID, S.MODEL]].rename(columns={S.MODEL: "chosen"})
    out = info.merge(wide, on=S.UID, how="inner").merge(chosen, on=S.UID, how="left")
    return out.sort_values([S.UID, S.MODEL]).reset_index(drop=True)


def model_description(exp: Experiment, summary: dict[str, Any]) -> str:
    """The registered version's description: backtest setup and metrics, selected vs baseline."""
    metric = summary.get("metric", exp.metric)
    sel = summary.get("selection_vs_baseline", {})
    lines = [f"Experiment {exp.name}, run {summary.get('run_id') or '-'}, data up to {summary.get('end')}; "
             f"{summary.get('modelled_series')} series. Up to the run's horizon it returns the run's final "
             "(calibrated, reconciled) forecasts; beyond it, each series' chosen family refitted with the run's "
             "calibration (not reconciled).",
             f"Backtest: rolling origin, {exp.backtest_windows} windows of {exp.backtest_horizon} months.",
             f"Per-series selection {metric.upper()} {sel.get('selected', float('nan')):.3f} vs seasonal naive "
             f"{sel.get('seasonal_naive', float('nan')):.3f} (later windows only)."]
    for family, values in sorted(summary.get("backtest", {}).items()):
        lines.append(f"{family}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    counts = summary.get("selection_counts", {})
    if counts:
        lines.append("Selected: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return "\n".join(lines)


def publish(exp: Experiment, tracker: Tracker, run_dir: Path, modelled: pd.DataFrame, catalog: pd.DataFrame,
            metrics: pd.DataFrame, selection: pd.DataFrame, specs: dict[str, dict], summary: dict[str, Any],
            fallback: str) -> dict[str, Any]:
    """Save the forecaster set, write ``report.html``, log the per-series table and register the model.

    Returns ``{"report": path, "forecaster": path, "model_version": str | None}``.
    """
    from forecast.pyfunc import ForecasterSet
    from forecast.report.html import build_report

    fdir = ForecasterSet.from_run(modelled, selection, specs, fallback).save(run_dir / FORECASTER_DIR)
    report = build_report(run_dir, lang="fr")
    tracker.log_table(per_series_metrics(metrics, catalog, selection), PER_SERIES_TABLE)
    tracker.log_artifact(report)
    version = tracker.log_forecaster(fdir, f"{exp.name}-forecaster", model_description(exp, summary))
    return {"report": report, "forecaster": fdir, "model_version": version}
