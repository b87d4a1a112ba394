"""Tabular offer exports: CSV (French habits welcome), Parquet, XLSX, read through a column mapping.

The mapping (``[data.offer_columns]`` in the experiment file) names the file's column for each field:
``id``, ``date``, and a place — ``commune`` (INSEE code), or ``postcode`` + ``town``, or ``label``
("51 - REIMS"), or ``zone`` (ZE2020 code) —, ``rome`` and/or ``title``, optionally ``description``,
``positions`` and ``skills`` (OGR codes separated by ``,`` ``;`` or ``|``). Without a mapping the
columns are looked up under those same names.

CSV: the separator (``;`` ``,`` tab ``|``) and the encoding (UTF-8 with or without BOM, else
cp1252) are detected; dates may be ``dd/mm/yyyy`` (with a time or not) or ISO; numbers may use a
decimal comma ("1,0"). Every cell is read as text; each row becomes an offer or a reject.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.errors import DataError
from forecast.ingest.common import RejectError, Reject, fold, placer, rome_parent_map
from forecast.ingest.jsonstream import open_binary
from forecast.ingest.tagging import OfferBatch

FIELDS = ("id", "date", "commune", "postcode", "town", "label", "zone", "rome", "title", "description",
          "positions", "skills")
BATCH = 20_000
_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d")


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file (detected encoding and separator)."""
    text, sep = _sniff(path)
    return next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=sep), [])


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _sniff(path: Path) -> tuple[str, str]:
    with open_binary(path) as fh:
        head = fh.read(65536)
    text = _decode(head)
    first = text.split("\n", 1)[0]
    counts = {s: first.count(s) for s in (";", ",", "\t", "|")}
    sep = max(counts, key=lambda s: counts[s])
    if counts[sep] == 0:
        sep = ","
    return text, sep


def _read_frame(path: Path) -> pd.DataFrame:
    suffix = path.name.lower()
    try:
        if suffix.endswith(".parquet"):
            df = pd.read_parquet(path)
            return pd.DataFrame({c: [_cell(v) for v in df[c].tolist()] for c in df.columns}, columns=df.columns)
        if suffix.endswith(".xlsx"):
            return pd.read_excel(path, dtype=str, keep_default_na=False)
        _, sep = _sniff(path)
        with open_binary(path) as fh:
            data = fh.read()
        return pd.read_csv(io.StringIO(_decode(data)), sep=sep, dtype=str, keep_default_na=False,
                           on_bad_lines="warn", engine="python")
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a clear error naming the file
        raise DataError(f"{path}: cannot read as a table ({type(exc).__name__}: {str(exc)[:200]})") from None


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return ""
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v)


def parse_date(value: str, field: str = "date") -> datetime:
    """'05/03/2024', '05/03/2024 10:12', '2024-03-05', '2024-03-05T10:12:33Z' -> datetime."""
    v = str(value).strip()
    if not v:
        raise RejectError(field, "missing date")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(v, fmt)
        except ValueError:
            continue
    try:
        ts = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return ts.replace(tzinfo=None)
    except ValueError:
        raise RejectError(field, f"not a date (dd/mm/yyyy or ISO): {v[:40]!r}") from None


def parse_count(value: str, field: str) -> int:
    """'3', '3,0', '3.0', '' (1) -> a whole number >= 1."""
    v = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if not v:
        return 1
    try:
        x = float(v.replace(",", "."))
    except ValueError:
        raise RejectError(field, f"not a number: {v[:40]!r}") from None
    if x != int(x) or not 1 <= x <= 10_000:
        raise RejectError(field, f"expected a whole number in 1..10000, got {v[:40]!r}")
    return int(x)


def _postcode_dep(postcode: str) -> str:
    pc = re.sub(r"\s", "", postcode)
    if not re.fullmatch(r"\d{5}", pc):
        raise RejectError("postcode", f"not a 5-digit postcode: {postcode[:20]!r}")
    if pc.startswith("20"):
        return "2A" if int(pc) < 20200 else "2B"
    return pc[:2]


def place_row(get: Any) -> tuple[str, str]:
    """(commune, zone) from whichever place columns the row has."""
    p = placer()
    commune = get("commune")
    if commune:
        return p.place(commune.zfill(5) if commune.isdigit() else commune, None)
    postcode, town = get("postcode"), get("town")
    if postcode and town:
        return p.place(None, f"{_postcode_dep(postcode)} - {town}")
    label = get("label")
    if label:
        return p.place(None, label)
    zone = get("zone")
    if zone:
        zone = zone.zfill(4)
        if zone not in _zones():
            raise RejectError("zone", f"unknown zone d'emploi {zone!r}")
        return "", zone
    raise RejectError("place", "no commune, postcode + town, label or zone: cannot place the offer")


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        from forecast import referential

        _ZONES.update(referential.load_zones()["zone"])
    return _ZONES


def iter_tabular_batches(path: Path, mapping: dict[str, str] | None = None,
                         batch_size: int = BATCH) -> Iterator[OfferBatch]:
    """Read a tabular offers file in batches; row numbers are 1-based data rows (header excluded)."""
    path = Path(path)
    mapping = dict(mapping or {})
    unknown = [k for k in mapping if k not in FIELDS]
    if unknown:
        raise DataError(f"offer column mapping: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    df = _read_frame(path)
    cols = {fold(c): c for c in df.columns}
    resolved: dict[str, str] = {}
    for fld in FIELDS:
        name = mapping.get(fld, fld)
        col = name if name in df.columns else cols.get(fold(name))
        if col is not None:
            resolved[fld] = col
        elif fld in mapping:
            raise DataError(f"{path}: column {name!r} (mapped to {fld}) not found; columns are {', '.join(map(str, df.columns))}")
    missing = [f for f in ("id", "date") if f not in resolved]
    if missing or not ({"rome", "title"} & set(resolved)):
        need = missing + ([] if {"rome", "title"} & set(resolved) else ["rome or title"])
        raise DataError(f"{path}: no column for {', '.join(need)}: set [data.offer_columns] in the experiment file")
    source = str(path)
    data = {f: df[c].astype(str).tolist() for f, c in resolved.items()}
    batch = OfferBatch(source)
    for i in range(len(df)):
        batch.n_input += 1

        def get(f: str, i: int = i) -> str:
            return data[f][i].strip() if f in data else ""
        try:
            _row(get, batch, i + 1)
        except RejectError as exc:
            raw = ";".join(f"{f}={get(f)[:60]}" for f in resolved)
            batch.rejects.append(Reject(source, i + 1, exc.field, exc.reason, raw))
        if batch.n_input >= batch_size:
            yield batch.finish()
            batch = OfferBatch(source)
    yield batch.finish()


def _row(get: Any, batch: OfferBatch, recno: int) -> None:
    offer_id = get("id")
    if not offer_id:
        raise RejectError("id", "missing offer id")
    created = parse_date(get("date"))
    commune, zone = place_row(get)
    title = get("title")[:300]
    fiche = get("rome").upper()
    parent = None
    if fiche:
        parent = rome_parent_map().get(fiche)
        if parent is None:
            raise RejectError("rome", f"unknown ROME code {fiche[:20]!r}")
    elif not title:
        raise RejectError("rome", "no ROME code and no title to classify")
    else:
        fiche = None
    positions = parse_count(get("positions"), "positions")
    skills = {s.strip(): False for s in re.split(r"[,;|]", get("skills")) if s.strip()}
    batch.add(offer_id[:100], created, commune, zone, parent, fiche, positions, title, get("description")[:4000],
              recno, skills)
