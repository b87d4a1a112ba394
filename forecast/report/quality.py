"""Data-quality tables for a run folder: what each ingested file gave, and why records were rejected.

``ingest.csv`` (one row per file: source, kind, n_input, n_accepted, n_duplicates, n_rejected,
skipped) and ``rejects_summary.csv`` (source, field, reason, count, example) are written by the
pipeline next to the other outputs; the report reads them.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from forecast.store import FileReport, Store

INGEST_COLUMNS = ["source", "kind", "n_input", "n_accepted", "n_duplicates", "n_rejected", "skipped"]
REJECT_COLUMNS = ["source", "field", "reason", "count", "example"]
EXAMPLE_CHARS = 160


def ingest_table(reports: Iterable[FileReport]) -> pd.DataFrame:
    """One row per ingested file (a file already in the store shows its first ingest's counts)."""
    return pd.DataFrame([asdict(r) for r in reports], columns=INGEST_COLUMNS)


def rejects_summary(store: Path) -> pd.DataFrame:
    """Rejected records of the store grouped by file, field and reason, with one raw example each."""
    with Store(store, read_only=True) as st:
        frame = st.query(
            "SELECT source, field, reason, count(*) AS count, min(raw) AS example FROM rejects "
            "GROUP BY source, field, reason ORDER BY count DESC, source, field, reason")
    frame["example"] = frame["example"].fillna("").str.slice(0, EXAMPLE_CHARS)
    return frame[REJECT_COLUMNS]
