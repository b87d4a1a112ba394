"""Training sessions in CSV (a flat LHEO export, as Carif-Oref extractions give them).

One row = one session. Columns (case and accents ignored; ``;`` or ``,``; UTF-8 or cp1252):
``numero-session`` (or ``session``), ``numero-action`` (or ``action``), ``intitule-formation``
(or ``intitule``), ``code-ROME``, ``code-INSEE-commune`` (or ``commune``), ``debut``, ``fin``
(dd/mm/yyyy, ISO or YYYYMMDD), ``nb-places`` (or ``nb-places-financees``). ``code-FORMACODE``
may be present and is kept out. Each row becomes one row of ``sessions`` or one reject.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from forecast import schema as S
from forecast.errors import DataError
from forecast.ingest.common import ReadResult, Reject, RejectError, fold, placer, rejects_frame, rome_parent_map
from forecast.ingest.tabular import _read_frame, parse_count, parse_date

ALIASES = {
    "session": ("numero session", "session", "session id", "id session"),
    "action": ("numero action", "action", "programme"),
    "title": ("intitule formation", "intitule", "intitule action", "titre"),
    "rome": ("code rome", "rome"),
    "commune": ("code insee commune", "commune", "code commune"),
    "start": ("debut", "date debut", "periode debut"),
    "end": ("fin", "date fin", "periode fin"),
    "places": ("nb places", "nb places financees", "places"),
}
REQUIRED = ("rome", "commune", "start", "end")


def looks_like_sessions(header: set[str]) -> bool:
    folded = {fold(h).lower() for h in header}
    return all(any(a in folded for a in ALIASES[k]) for k in ("start", "end")) and \
        any(a in folded for a in ALIASES["rome"])


def read_lheo_csv(path: Path) -> ReadResult:
    """Read a sessions CSV into a ``sessions`` frame plus rejects (record = 1-based data row)."""
    path = Path(path)
    df = _read_frame(path)
    by_fold = {fold(c).lower(): c for c in df.columns}
    col: dict[str, str] = {}
    for key, names in ALIASES.items():
        for n in names:
            if n in by_fold:
                col[key] = by_fold[n]
                break
    missing = [k for k in REQUIRED if k not in col]
    if missing:
        raise DataError(f"{path}: sessions CSV lacks column(s) for {', '.join(missing)} "
                        f"(e.g. code-ROME, code-INSEE-commune, debut, fin); columns are {', '.join(map(str, df.columns))}")
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    data = {k: df[c].astype(str).tolist() for k, c in col.items()}
    for i in range(len(df)):
        def get(k: str, i: int = i) -> str:
            return data[k][i].strip() if k in data else ""
        try:
            fiche = get("rome").upper()
            parent = rome_parent_map().get(fiche)
            if not fiche:
                raise RejectError("code-ROME", "no ROME code")
            if parent is None:
                raise RejectError("code-ROME", f"unknown ROME code {fiche[:20]!r}")
            code = get("commune")
            commune, zone = placer().place(code.zfill(5) if code.isdigit() else code, None)
            start, end = parse_date(get("start"), "debut"), parse_date(get("end"), "fin")
            if end < start:
                raise RejectError("fin", f"ends {end:%Y-%m-%d} before it starts {start:%Y-%m-%d}")
            places = parse_count(get("places"), "nb-places") if get("places") else None
            if places is None:
                raise RejectError("nb-places", "no nb-places for this session")
            action = get("action") or f"row{i + 1}"
            rows.append({S.SESSION_ID: get("session") or f"{action}#{i + 1}", S.PROGRAMME: f"{action}|{commune}",
                         S.PROGRAMME_TITLE: (get("title") or action)[:300], S.ROME: parent, S.ZONE: zone,
                         S.COMMUNE: commune, S.START: start, S.END: end, S.PLACES: places, S.SOURCE: str(path)})
        except RejectError as exc:
            rejects.append(Reject(str(path), i + 1, exc.field, exc.reason,
                                  ";".join(f"{k}={get(k)[:60]}" for k in col)))
    sessions = pd.DataFrame(rows, columns=S.SESSION_COLUMNS)
    for c in (S.START, S.END):
        sessions[c] = pd.to_datetime(sessions[c]).astype("datetime64[us]")
    sessions[S.PLACES] = sessions[S.PLACES].astype("int64")
    return ReadResult(str(path), len(df), {"sessions": sessions}, rejects_frame(rejects))
