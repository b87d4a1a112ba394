"""Registered job seekers per ROME code, place and month (CSV; optional input).

Columns (case and accents ignored; ``;`` or ``,``; UTF-8 or cp1252): ``mois`` (or ``month``:
``2024-03``, ``03/2024`` or a date), ``rome`` (fiche or historic code, mapped to the historic code),
``zone`` (ZE2020) or ``commune`` (INSEE code, placed in its zone), and ``demandeurs`` (or
``job_seekers``, ``nb``: a whole number >= 0, decimal comma accepted). One row = one record of
``job_seekers`` (month, zone, rome, job_seekers, source) or one reject.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.errors import DataError
from forecast.ingest.common import ReadResult, Reject, RejectError, fold, placer, rejects_frame, rome_parent_map
from forecast.ingest.tabular import _read_frame, _zones

ALIASES = {
    "month": ("mois", "month", "date"),
    "rome": ("rome", "code rome"),
    "zone": ("zone", "zone emploi", "ze2020"),
    "commune": ("commune", "code commune", "code insee commune"),
    "count": ("demandeurs", "job seekers", "nb", "nombre", "deefm"),
}
COLUMNS = ["month", "zone", "rome", "job_seekers", "source"]


def looks_like_job_seekers(header: set[str]) -> bool:
    folded = {fold(h).lower() for h in header}
    return any(a in folded for a in ALIASES["count"]) and any(a in folded for a in ALIASES["month"])


def parse_month(value: str) -> datetime:
    v = value.strip()
    m = re.fullmatch(r"(\d{4})-?(\d{2})(?:-\d{2})?(?:[ T].*)?", v) or None
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
    else:
        m = re.fullmatch(r"(?:\d{2}/)?(\d{2})/(\d{4})", v)
        if not m:
            raise RejectError("mois", f"not a month (YYYY-MM or MM/YYYY): {v[:40]!r}")
        y, mo = int(m.group(2)), int(m.group(1))
    if not 1 <= mo <= 12 or not 1990 <= y <= 2100:
        raise RejectError("mois", f"not a month: {v[:40]!r}")
    return datetime(y, mo, 1)


def read_job_seekers(path: Path) -> ReadResult:
    """Read a job seekers CSV into a ``job_seekers`` frame plus rejects (record = 1-based data row)."""
    path = Path(path)
    df = _read_frame(path)
    by_fold = {fold(c).lower(): c for c in df.columns}
    col = {k: next((by_fold[n] for n in names if n in by_fold), None) for k, names in ALIASES.items()}
    missing = [k for k in ("month", "rome", "count") if col[k] is None]
    if missing or (col["zone"] is None and col["commune"] is None):
        raise DataError(f"{path}: job seekers CSV needs mois, rome, zone (or commune) and demandeurs columns; "
                        f"columns are {', '.join(map(str, df.columns))}")
    data = {k: df[c].astype(str).tolist() for k, c in col.items() if c is not None}
    rows: list[tuple[Any, ...]] = []
    rejects: list[Reject] = []
    for i in range(len(df)):
        def get(k: str, i: int = i) -> str:
            return data[k][i].strip() if k in data else ""
        try:
            month = parse_month(get("month"))
            code = get("rome").upper()
            rome = rome_parent_map().get(code)
            if rome is None:
                raise RejectError("rome", f"unknown ROME code {code[:20]!r}" if code else "no ROME code")
            zone = get("zone").zfill(4) if get("zone") else ""
            if zone:
                if zone not in _zones():
                    raise RejectError("zone", f"unknown zone d'emploi {zone!r}")
            else:
                c = get("commune")
                _, zone = placer().place(c.zfill(5) if c.isdigit() else c, None)
            raw = get("count").replace("\u00a0", "").replace(" ", "").replace(",", ".")
            try:
                n = float(raw)
            except ValueError:
                raise RejectError("demandeurs", f"not a number: {raw[:40]!r}") from None
            if n < 0 or n != int(n):
                raise RejectError("demandeurs", f"expected a whole number >= 0, got {raw[:40]!r}")
            rows.append((month, zone, rome, int(n), str(path)))
        except RejectError as exc:
            rejects.append(Reject(str(path), i + 1, exc.field, exc.reason,
                                  ";".join(f"{k}={get(k)[:40]}" for k in data)))
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["month"] = pd.to_datetime(out["month"]).astype("datetime64[us]")
    out["job_seekers"] = out["job_seekers"].astype("int64")
    return ReadResult(str(path), len(df), {"job_seekers": out}, rejects_frame(rejects))
