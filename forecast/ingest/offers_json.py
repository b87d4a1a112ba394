"""France Travail "Offres d'emploi v2" offers: JSON lines, a JSON array, or a search response.

Plain or gzipped. JSON lines are streamed record by record. Each record becomes one row of
``offers`` (schema.OFFER_COLUMNS plus title, description, created_ts) and rows of ``offer_skills``,
or one reject naming the file, record number (1-based line or array index), field and reason.
"""
from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from forecast import schema as S
from forecast.errors import DataError
from forecast.ingest.common import ReadResult, Reject, RejectError, placer, rejects_frame, rome_parent_map

OFFER_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.json", "*.json.gz", "*.ndjson", "*.ndjson.gz")


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict")


def iter_records(path: Path) -> Iterator[tuple[int, Any, str]]:
    """Yield (record number, parsed record or an Exception, raw text) for every record of the file."""
    try:
        fh = _open_text(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc})") from None
    with fh:
        try:
            first = ""
            while not first:
                line = fh.readline()
                if not line:
                    return
                first = line.strip()
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise DataError(f"{path}: not readable as UTF-8 JSON ({exc})") from None
        if first.startswith("[") or (first.startswith("{") and '"resultats"' in first) or first in ("{",):
            # A whole JSON document: an array of offers or a search response.
            try:
                doc = json.loads(first + fh.read())
            except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError) as exc:
                if first.startswith("{") and first.endswith("}"):
                    doc = None  # a JSON-lines file whose first offer mentions "resultats"
                else:
                    raise DataError(f"{path}: not valid JSON ({exc})") from None
            if doc is not None:
                items = doc.get("resultats", None) if isinstance(doc, dict) else doc
                if not isinstance(items, list):
                    raise DataError(f"{path}: JSON document holds no 'resultats' list of offers")
                for i, item in enumerate(items, start=1):
                    yield i, item, ""
                return
            fh.seek(0)
            first = fh.readline().strip()
        lineno = 1
        line = first
        while True:
            if line:
                try:
                    yield lineno, json.loads(line), line
                except json.JSONDecodeError as exc:
                    yield lineno, exc, line
            try:
                nxt = fh.readline()
            except (UnicodeDecodeError, OSError, EOFError) as exc:
                yield lineno + 1, exc, ""
                return
            if not nxt:
                return
            lineno += 1
            line = nxt.strip()


def _date(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise RejectError("dateCreation", "missing creation date")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RejectError("dateCreation", f"not an ISO date: {value[:40]!r}") from None
    return ts.replace(tzinfo=None)


def normalise_offer(rec: Any) -> tuple[dict[str, Any], list[tuple[str, str, bool]]]:
    """One v2 record -> (offer row, [(offer_id, skill, required)]) or raise RejectError."""
    if not isinstance(rec, dict):
        raise RejectError("record", f"expected a JSON object, got {type(rec).__name__}")
    offer_id = rec.get("id")
    if not isinstance(offer_id, (str, int)) or str(offer_id).strip() == "":
        raise RejectError("id", "missing offer id")
    offer_id = str(offer_id).strip()
    created = _date(rec.get("dateCreation"))
    lieu = rec.get("lieuTravail") or {}
    if not isinstance(lieu, dict):
        raise RejectError("lieuTravail", "expected an object")
    commune, zone = placer().place(lieu.get("commune"), lieu.get("libelle"))
    fiche = rec.get("romeCode")
    if not isinstance(fiche, str) or not fiche.strip():
        raise RejectError("romeCode", "missing ROME code")
    fiche = fiche.strip().upper()
    parent = rome_parent_map().get(fiche)
    if parent is None:
        raise RejectError("romeCode", f"unknown ROME code {fiche!r}")
    positions = rec.get("nombrePostes", 1)
    if positions is None:
        positions = 1
    if isinstance(positions, bool) or not isinstance(positions, (int, float)) or positions < 1 or positions != int(positions):
        raise RejectError("nombrePostes", f"expected a whole number >= 1, got {positions!r}")
    skills: list[tuple[str, str, bool]] = []
    comps = rec.get("competences") or []
    if not isinstance(comps, list):
        raise RejectError("competences", "expected a list")
    for c in comps:
        if isinstance(c, dict) and c.get("code") not in (None, ""):
            skills.append((offer_id, str(c["code"]).strip(), c.get("exigence") == "E"))
    row = {
        S.OFFER_ID: offer_id,
        S.CREATED: created,
        S.ZONE: zone,
        S.COMMUNE: commune,
        S.ROME: parent,
        S.ROME_FICHE: fiche,
        S.POSITIONS: int(positions),
        S.TITLE: str(rec.get("intitule") or "")[:300],
        "description": str(rec.get("description") or "")[:4000],
    }
    return row, list(dict.fromkeys(skills))


def read_offers_json(path: Path) -> ReadResult:
    """Read one offers file into ``offers`` and ``offer_skills`` frames plus rejects."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    skills: list[tuple[str, str, bool]] = []
    rejects: list[Reject] = []
    n = 0
    for recno, rec, raw in iter_records(path):
        n += 1
        if isinstance(rec, Exception):
            rejects.append(Reject(str(path), recno, "record", f"not valid JSON ({rec})", raw))
            continue
        try:
            row, sk = normalise_offer(rec)
        except RejectError as exc:
            rejects.append(Reject(str(path), recno, exc.field, exc.reason, raw or json.dumps(rec, ensure_ascii=False)[:500]))
            continue
        row[S.SOURCE] = str(path)
        rows.append(row)
        skills.extend(sk)
    offers = pd.DataFrame(rows, columns=[*S.OFFER_COLUMNS, S.TITLE, "description"])
    offers[S.CREATED] = pd.to_datetime(offers[S.CREATED]).astype("datetime64[us]")
    offers[S.POSITIONS] = offers[S.POSITIONS].astype("int64")
    # The same id twice in one file: the last version wins (an update), the earlier counted as a duplicate.
    offer_skills = pd.DataFrame(skills, columns=S.OFFER_SKILL_COLUMNS)
    return ReadResult(str(path), n, {"offers": offers, "offer_skills": offer_skills}, rejects_frame(rejects))
