"""France Travail "Offres d'emploi v2" offers: JSON lines, a JSON array, or a search response.

Plain or gzipped, streamed (see :mod:`forecast.ingest.jsonstream`). Each record becomes one row of
``offers`` (:data:`OFFER_FRAME_COLUMNS`) and rows of ``offer_skills`` (:data:`SKILL_FRAME_COLUMNS`),
or one reject naming the file, record number (1-based line or array index), field and reason.
Tags are completed by :mod:`forecast.ingest.tagging` (ROME from the title, skills from the text).
"""
from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from forecast.ingest.common import ReadResult, Reject, RejectError, placer, rome_parent_map
from forecast.ingest.jsonstream import LineBlock, iter_json_records, iter_line_blocks, parse_line
from forecast.ingest.tagging import OfferBatch, concat_batches

OFFER_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.json", "*.json.gz", "*.ndjson", "*.ndjson.gz")
BATCH = 20_000
BLOCK_BYTES = 16 << 20   # JSON lines sent to a worker at a time (about 10,000 offers)
IN_FLIGHT = 3   # chunks parsed ahead by the workers (bounds the memory of the results waiting)


def _date(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise RejectError("dateCreation", "missing creation date")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise RejectError("dateCreation", f"not an ISO date: {value[:40]!r}") from None
    if ts.tzinfo is not None:
        ts = ts.replace(tzinfo=None)
    if not 1990 <= ts.year <= 2100:
        raise RejectError("dateCreation", f"date out of range: {value[:40]!r}")
    return ts


def normalise_offer(rec: Any, batch: OfferBatch, recno: int) -> None:
    """Append one v2 record to ``batch`` or raise :class:`RejectError` (the batch is then unchanged)."""
    if not isinstance(rec, dict):
        raise RejectError("record", f"expected a JSON object, got {type(rec).__name__}")
    offer_id = rec.get("id")
    if isinstance(offer_id, bool) or not isinstance(offer_id, (str, int)) or str(offer_id).strip() == "":
        raise RejectError("id", "missing offer id")
    offer_id = str(offer_id).strip()[:100]
    created = _date(rec.get("dateCreation"))
    lieu = rec.get("lieuTravail") or {}
    if not isinstance(lieu, dict):
        raise RejectError("lieuTravail", "expected an object")
    commune, label = lieu.get("commune"), lieu.get("libelle")
    if commune is not None and not isinstance(commune, (str, int)):
        raise RejectError("lieuTravail.commune", f"expected a code, got {type(commune).__name__}")
    if label is not None and not isinstance(label, str):
        raise RejectError("lieuTravail.libelle", f"expected text, got {type(label).__name__}")
    commune, zone = placer().place(str(commune) if commune is not None else None, label)
    title = rec.get("intitule")
    title = title[:300] if isinstance(title, str) else ""
    description = rec.get("description")
    description = description[:4000] if isinstance(description, str) else ""
    fiche = rec.get("romeCode")
    if fiche is None or fiche == "":
        if not title.strip():
            raise RejectError("romeCode", "no ROME code and no title to classify")
        fiche = parent = None
    else:
        if not isinstance(fiche, str):
            raise RejectError("romeCode", f"expected a ROME code, got {type(fiche).__name__}")
        fiche = fiche.strip().upper()
        parent = rome_parent_map().get(fiche)
        if parent is None:
            raise RejectError("romeCode", f"unknown ROME code {fiche[:20]!r}")
    positions = rec.get("nombrePostes", 1)
    if positions is None:
        positions = 1
    if isinstance(positions, bool) or not isinstance(positions, (int, float)) or not 1 <= positions <= 10_000 \
            or positions != int(positions):
        raise RejectError("nombrePostes", f"expected a whole number in 1..10000, got {str(positions)[:40]!r}")
    comps = rec.get("competences") or []
    if not isinstance(comps, list):
        raise RejectError("competences", "expected a list")
    skills: dict[str, bool] = {}
    for c in comps:
        if isinstance(c, dict):
            code = c.get("code")
            if isinstance(code, (str, int)) and not isinstance(code, bool) and str(code).strip():
                key = str(code).strip()[:20]
                skills[key] = skills.get(key, False) or c.get("exigence") == "E"
    batch.add(offer_id, created, commune, zone, parent, fiche, int(positions), title, description, recno, skills)


def _add_record(batch: OfferBatch, recno: int, rec: Any, raw: str) -> None:
    batch.n_input += 1
    if isinstance(rec, Exception):
        reason = f"not valid JSON ({rec})" if not isinstance(rec, UnicodeDecodeError) else f"not UTF-8 ({rec})"
        batch.rejects.append(Reject(batch.source, recno, "record", reason[:300], raw))
        return
    try:
        normalise_offer(rec, batch, recno)
    except RejectError as exc:
        if not raw:
            try:
                raw = orjson.dumps(rec).decode()[:500]
            except (TypeError, orjson.JSONEncodeError):
                raw = repr(rec)[:500]
        batch.rejects.append(Reject(batch.source, recno, exc.field, exc.reason, raw))


def preload() -> None:
    """Load what the workers need (placing, ROME codes, skill labels) in this process."""
    from forecast.skills_text import skill_finder

    placer()
    rome_parent_map()
    skill_finder()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: parsed JSON makes no cycles, and collecting while
    millions of small dicts are made and freed costs more than the parsing itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def parse_block(source: str, block: LineBlock, tag: bool = True) -> OfferBatch:
    """Split, parse, normalise and tag a block of JSON lines (runs in a worker process)."""
    batch = OfferBatch(source)
    with gc_paused():
        for recno, line in block.lines():
            if isinstance(line, Exception):
                _add_record(batch, recno, line, "")
            else:
                _add_record(batch, recno, *parse_line(line))
        return batch.finish(tag)


def iter_offer_batches(path: Path, batch_size: int = BATCH, tag: bool = True,
                       executor: Executor | None = None) -> Iterator[OfferBatch]:
    """Read an offers file in batches of ``batch_size`` input records, tagged unless ``tag`` is False.

    With an ``executor`` (a process pool), JSON lines are sent to its workers in blocks of about
    :data:`BLOCK_BYTES` (the worker splits, parses and tags them; batches then follow the blocks),
    a few blocks ahead, in file order; memory stays bounded by the blocks in flight.
    """
    path = Path(path)
    source = str(path)
    blocks = iter_line_blocks(path, BLOCK_BYTES) if executor is not None else None
    if blocks is not None:
        pending: deque[Future[OfferBatch]] = deque()
        for block in blocks:
            pending.append(executor.submit(parse_block, source, block, tag))
            if len(pending) >= IN_FLIGHT:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        return
    batch = OfferBatch(source)
    records = iter_json_records(path)
    while True:
        with gc_paused():   # not across the yield: the caller's own work keeps its collector
            for recno, rec, raw in records:
                _add_record(batch, recno, rec, raw)
                if batch.n_input >= batch_size:
                    break
            else:
                records = None
            batch.finish(tag)
        yield batch
        if records is None:
            return
        batch = OfferBatch(source)


def read_offers_json(path: Path, tag: bool = True) -> ReadResult:
    """Read one offers file into ``offers`` and ``offer_skills`` frames plus rejects."""
    return concat_batches(str(path), iter_offer_batches(path, tag=tag))
