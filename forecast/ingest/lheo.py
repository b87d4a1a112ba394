"""Training offers in LHEO XML (2.x; the older ``offre-formation``/``action-formation`` names too).

``formation`` (a programme) > ``action`` (a place, with financed places) > ``session`` (dates).
One session becomes one row of ``sessions`` (schema.SESSION_COLUMNS) or one reject.
Parsed with defusedxml: entity declarations and external entities are refused.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as DET
import pandas as pd
from defusedxml import DefusedXmlException

from forecast import schema as S
from forecast.errors import DataError
from forecast.ingest.common import ReadResult, Reject, RejectError, placer, rejects_frame, rome_parent_map

SESSION_PATTERNS = ("*.xml",)
_FORMATION = ("formation", "offre-formation")
_ACTION = ("action", "action-formation", "organisation-formation")  # LHEO 1.x: sessions under organisation-formation


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, names: tuple[str, ...]) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) in names]


def _find_text(el: ET.Element, name: str) -> str | None:
    for d in el.iter():
        if _local(d.tag) == name and d.text and d.text.strip():
            return d.text.strip()
    return None


def _all_text(el: ET.Element, name: str) -> list[str]:
    return [d.text.strip() for d in el.iter() if _local(d.tag) == name and d.text and d.text.strip()]


def _lheo_date(value: str | None, field: str) -> datetime:
    if not value:
        raise RejectError(field, "missing date")
    try:
        return datetime.strptime(value[:8], "%Y%m%d")
    except ValueError:
        raise RejectError(field, f"not a YYYYMMDD date: {value!r}") from None


def _places(action: ET.Element, session: ET.Element) -> int:
    for el, name in ((session, "nb-places"), (action, "nb-places")):
        v = _find_text(el, name)
        if v is not None:
            break
    else:
        financed = _all_text(action, "nb-places-financees")
        v = str(sum(int(x) for x in financed if x.isdigit())) if financed else None
    if v is None:
        raise RejectError("nb-places", "no nb-places nor nb-places-financees for this session")
    if not v.isdigit() or int(v) < 1:
        raise RejectError("nb-places", f"expected a whole number >= 1, got {v!r}")
    return int(v)


def _session_row(formation: ET.Element, action: ET.Element, session: ET.Element, k: int) -> dict[str, Any]:
    domaine = next((c for c in formation.iter() if _local(c.tag) == "domaine-formation"), formation)
    romes = _all_text(domaine, "code-ROME")
    parents = [rome_parent_map().get(r.upper()) for r in romes]
    valid = [p for p in parents if p]
    if not romes:
        raise RejectError("code-ROME", "no ROME code for this programme")
    if not valid:
        raise RejectError("code-ROME", f"unknown ROME code(s) {', '.join(romes)}")
    lieu = next((c for c in action.iter() if _local(c.tag) == "lieu-de-formation"), None)
    commune = _find_text(lieu, "code-INSEE-commune") if lieu is not None else None
    if commune is None:
        commune = _find_text(session, "code-INSEE-commune")
    if commune is None:
        raise RejectError("code-INSEE-commune", "no commune for the place of training")
    commune, zone = placer().place(commune, None)
    periode = next((c for c in session if _local(c.tag) == "periode"), None)
    if periode is None:
        raise RejectError("periode", "session without periode")
    start = _lheo_date(_find_text(periode, "debut"), "periode.debut")
    end = _lheo_date(_find_text(periode, "fin"), "periode.fin")
    if end < start:
        raise RejectError("periode.fin", f"ends {end:%Y-%m-%d} before it starts {start:%Y-%m-%d}")
    programme = formation.get("numero") or _find_text(formation, "intitule-formation") or "?"
    title = _find_text(formation, "intitule-formation") or _find_text(action, "intitule-action") or programme
    return {
        S.SESSION_ID: session.get("numero") or f"{action.get('numero') or programme}#{k}",
        S.PROGRAMME: f"{programme}|{action.get('numero') or commune}",
        S.PROGRAMME_TITLE: title[:300],
        S.ROME: valid[0],
        S.ZONE: zone,
        S.COMMUNE: commune,
        S.START: start,
        S.END: end,
        S.PLACES: _places(action, session),
    }


def read_lheo(path: Path) -> ReadResult:
    """Read one LHEO XML file into a ``sessions`` frame plus rejects (one record = one session)."""
    path = Path(path)
    try:
        root = DET.parse(str(path), forbid_dtd=False, forbid_entities=True, forbid_external=True).getroot()
    except FileNotFoundError:
        raise DataError(f"{path}: input file not found") from None
    except DefusedXmlException as exc:
        raise DataError(f"{path}: refused unsafe XML ({type(exc).__name__}: entities are not allowed)") from None
    except ET.ParseError as exc:
        raise DataError(f"{path}: not well-formed XML ({exc})") from None
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    n = 0
    formations = [el for el in root.iter() if _local(el.tag) in _FORMATION]
    for formation in formations:
        for action in _children(formation, _ACTION):
            sessions = [c for c in action.iter() if _local(c.tag) == "session"]
            for k, session in enumerate(sessions, start=1):
                n += 1
                try:
                    row = _session_row(formation, action, session, k)
                except RejectError as exc:
                    rejects.append(Reject(str(path), n, exc.field, exc.reason, (session.get("numero") or "")))
                    continue
                row[S.SOURCE] = str(path)
                rows.append(row)
    sessions_df = pd.DataFrame(rows, columns=S.SESSION_COLUMNS)
    for c in (S.START, S.END):
        sessions_df[c] = pd.to_datetime(sessions_df[c]).astype("datetime64[us]")
    sessions_df[S.PLACES] = sessions_df[S.PLACES].astype("int64")
    return ReadResult(str(path), n, {"sessions": sessions_df}, rejects_frame(rejects))
