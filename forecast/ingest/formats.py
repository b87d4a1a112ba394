"""Which reader reads which file: by kind (offers, sessions, job seekers) and by file content/suffix."""
from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from forecast.errors import DataError

TABULAR_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".parquet", ".xlsx")
PATTERNS = {
    "offers": ("*.jsonl", "*.jsonl.gz", "*.json", "*.json.gz", "*.ndjson", "*.ndjson.gz",
               "*.csv", "*.csv.gz", "*.parquet", "*.xlsx"),
    "sessions": ("*.xml", "*.csv"),
    "job_seekers": ("*.csv",),
}
KINDS = tuple(PATTERNS)


def patterns_for(kind: str) -> tuple[str, ...]:
    try:
        return PATTERNS[kind]
    except KeyError:
        raise DataError(f"unknown input kind {kind!r} (known: {', '.join(KINDS)})") from None


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in (".csv.gz", ".json.gz", ".jsonl.gz", ".ndjson.gz"):
        if name.endswith(s):
            return s
    return path.suffix.lower()


def is_tabular(path: Path) -> bool:
    return _suffix(Path(path)) in TABULAR_SUFFIXES


def file_batches(path: Path, kind: str, offer_columns: dict[str, str] | None = None,
                 executor: Executor | None = None) -> Iterator[Any]:
    """The batches of one file (``OfferBatch`` for offers, ``ReadResult`` otherwise)."""
    path = Path(path)
    if kind == "offers":
        if is_tabular(path):
            from forecast.ingest.tabular import iter_tabular_batches

            yield from iter_tabular_batches(path, offer_columns)
        else:
            from forecast.ingest.offers_json import iter_offer_batches

            yield from iter_offer_batches(path, executor=executor)
    elif kind == "sessions":
        if is_tabular(path):
            from forecast.ingest.lheo_csv import read_lheo_csv

            yield read_lheo_csv(path)
        else:
            from forecast.ingest.lheo import read_lheo

            yield read_lheo(path)
    elif kind == "job_seekers":
        from forecast.ingest.job_seekers import read_job_seekers

        yield read_job_seekers(path)
    else:
        patterns_for(kind)


def detect_kind(path: Path) -> str:
    """Guess the kind of a file named on the command line: XML is sessions; a CSV whose header names
    job seekers or training sessions is that; anything else is offers."""
    path = Path(path)
    if path.is_dir():
        files = [f for f in path.rglob("*") if f.is_file()]
        kinds = {detect_kind(f) for f in files if any(f.match(p) for ps in PATTERNS.values() for p in ps)}
        if len(kinds) == 1:
            return kinds.pop()
        if not kinds:
            return "offers"
        raise DataError(f"{path}: folder mixes input kinds ({', '.join(sorted(kinds))}); name the files")
    suffix = _suffix(path)
    if suffix == ".xml":
        return "sessions"
    if suffix in (".csv", ".csv.gz", ".tsv", ".txt"):
        from forecast.ingest.tabular import read_header

        header = {h.strip().lower() for h in read_header(path)}
        from forecast.ingest.job_seekers import looks_like_job_seekers
        from forecast.ingest.lheo_csv import looks_like_sessions

        if looks_like_job_seekers(header):
            return "job_seekers"
        if looks_like_sessions(header):
            return "sessions"
    return "offers"
