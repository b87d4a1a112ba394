"""The embedded analytical database: one DuckDB file.

Tables: ``offers``, ``offer_skills``, ``sessions``, ``rejects``, ``ingest_log``.
Each file is published in one transaction (an interrupted ingest leaves the store as before that
file; offers are first staged in ``_staging_*`` tables, committed by parts so that memory does not
grow with the file, and moved into the store's tables by that one transaction); a file whose content hash is in ``ingest_log`` is skipped (idempotent); an offer id seen
again replaces the earlier version (an update, counted as a duplicate). Re-published ads are marked
(``duplicate_of``) by :func:`forecast.dedupe.mark_republished` after each ingest.
"""
from __future__ import annotations

import gc
import hashlib
import time
import logging
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Callable, Iterable
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from forecast.errors import DataError, ForecastError
from forecast.ingest import expand_paths
from forecast.ingest.common import rejects_frame

log = logging.getLogger(__name__)
PARALLEL_BYTES = 20 << 20
MEMORY_LIMIT = os.environ.get("FORECAST_DUCKDB_MEMORY", "512MB")

_DDL = """
CREATE TABLE IF NOT EXISTS offers (
    offer_id VARCHAR, created TIMESTAMP, zone VARCHAR, commune VARCHAR, rome VARCHAR,
    rome_fiche VARCHAR, positions BIGINT, source VARCHAR, title VARCHAR, description VARCHAR,
    duplicate_of VARCHAR);
ALTER TABLE offers ADD COLUMN IF NOT EXISTS rome_how VARCHAR DEFAULT 'given';
ALTER TABLE offers ADD COLUMN IF NOT EXISTS rome_confidence DOUBLE DEFAULT 1.0;
CREATE TABLE IF NOT EXISTS offer_skills (offer_id VARCHAR, skill VARCHAR, required BOOLEAN);
ALTER TABLE offer_skills ADD COLUMN IF NOT EXISTS how VARCHAR DEFAULT 'given';
ALTER TABLE offer_skills ADD COLUMN IF NOT EXISTS confidence DOUBLE DEFAULT 1.0;
CREATE TABLE IF NOT EXISTS sessions (
    session_id VARCHAR, programme VARCHAR, programme_title VARCHAR, rome VARCHAR, zone VARCHAR,
    commune VARCHAR, start TIMESTAMP, "end" TIMESTAMP, places BIGINT, source VARCHAR);
CREATE TABLE IF NOT EXISTS job_seekers (month TIMESTAMP, zone VARCHAR, rome VARCHAR, job_seekers BIGINT, source VARCHAR);
CREATE TABLE IF NOT EXISTS rejects (source VARCHAR, record BIGINT, field VARCHAR, reason VARCHAR, raw VARCHAR);
CREATE TABLE IF NOT EXISTS _staging_offers (
    offer_id VARCHAR, created TIMESTAMP, zone VARCHAR, commune VARCHAR, rome VARCHAR, rome_fiche VARCHAR,
    positions BIGINT, source VARCHAR, title VARCHAR, description VARCHAR, rome_how VARCHAR,
    rome_confidence DOUBLE, record BIGINT);
CREATE TABLE IF NOT EXISTS _staging_skills (
    offer_id VARCHAR, skill VARCHAR, required BOOLEAN, how VARCHAR, confidence DOUBLE, record BIGINT);
CREATE TABLE IF NOT EXISTS _staging_rejects (source VARCHAR, record BIGINT, field VARCHAR, reason VARCHAR, raw VARCHAR);
CREATE TABLE IF NOT EXISTS ingest_log (
    sha256 VARCHAR PRIMARY KEY, source VARCHAR, kind VARCHAR, n_input BIGINT, n_accepted BIGINT,
    n_duplicates BIGINT, n_rejected BIGINT, ingested_at TIMESTAMP DEFAULT current_timestamp);
"""
_STAGING = ("_staging_offers", "_staging_skills", "_staging_rejects")
STAGE_COMMIT_ROWS = 50_000   # staged offers committed at a time (what DuckDB holds in memory until a commit)
_OFFER_COLS = ("offer_id, created, zone, commune, rome, rome_fiche, positions, source, title, description, "
               "duplicate_of, rome_how, rome_confidence")


@dataclass(frozen=True)
class FileReport:
    """What became of one file's records: input = accepted + duplicates + rejected."""

    source: str
    kind: str
    n_input: int
    n_accepted: int
    n_duplicates: int
    n_rejected: int
    skipped: bool = False
    sha256: str = ""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_workers(kind: str, files: list[Path]) -> int:
    """Parsing processes for an ingest: two for more than 20 MB of offers when a core is free, else
    one (parsing in this process). Measured on 2 cores with a load average of 5.6-6.2 from other
    work (benchmarks/ingest_speed.py --n 200000): two workers took 16.9 s, 11.9 CPU-s and 685 MB
    (PSS of the process tree), one took 15.6 s, 10.4 CPU-s and 452 MB: on a busy machine more
    processes only add CPU and memory."""
    if kind != "offers" or sum(f.stat().st_size for f in files) <= PARALLEL_BYTES:
        return 1
    cores = os.cpu_count() or 1
    free = cores - os.getloadavg()[0]
    workers = min(2, cores) if free >= 1 else 1
    log.info("ingest: %d parsing process(es) (%d cores, load average %.1f)", workers, cores, cores - free)
    return workers


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    """Processes that parse and tag JSON lines. Where ``fork`` exists they are forked once the
    referential (communes, ROME codes, skill labels) is loaded here, so they start at once and
    share its memory pages instead of loading a copy each; elsewhere they are spawned."""
    if "fork" not in mp.get_all_start_methods():
        return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    from forecast.ingest.offers_json import preload

    preload()
    gc.collect()
    gc.freeze()   # the children's collector then leaves the shared objects (and their pages) alone
    try:
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_die_with_parent,
                                   initargs=(os.getpid(),))
        for f in [pool.submit(int) for _ in range(workers)]:   # fork them now, while frozen
            f.result()
    finally:
        gc.unfreeze()
    return pool


def _die_with_parent(parent: int) -> None:
    """In a forked worker: exit when the ingesting process dies (even killed), instead of waiting
    for work forever (a forked child holds the task queue's write end, so it never sees EOF)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:   # died before the call above
        os._exit(1)


class Store:
    """A DuckDB file holding everything ingested. Use as a context manager."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise DataError(f"{self.path}: store not found (run `forecast ingest` first)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise ForecastError(f"{self.path}: cannot open the store ({exc}); is another run using it?") from None
        # DuckDB would otherwise cache up to 80% of the machine's memory: bound it (spills to disk).
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self.con.execute("SET enable_progress_bar = false")   # it would print to stdout
        if not read_only:
            self.con.execute(_DDL)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- ingest -------------------------------------------------------------------
    def ingest(self, paths: list[Path] | tuple[Path, ...], kind: str, *, dedupe_days: int = 14,
               dedupe_similarity: float = 0.95, dedupe: bool = True,
               offer_columns: dict[str, str] | None = None, workers: int = 0) -> list[FileReport]:
        """Ingest files of one kind: "offers" (JSON, or CSV/Parquet/XLSX read with ``offer_columns``),
        "sessions" (LHEO XML or CSV) or "job_seekers" (CSV). Re-published offers are marked unless
        ``dedupe`` is False. JSON lines are parsed and tagged by ``workers`` processes (1: in this
        process; 0: chosen by :func:`default_workers`)."""
        from forecast.ingest.formats import file_batches, patterns_for

        files = expand_paths(paths, patterns_for(kind))
        if workers == 0:
            workers = default_workers(kind, files)
        pools: list[ProcessPoolExecutor] = []

        def pool() -> ProcessPoolExecutor | None:   # started for the first file that is not skipped
            if workers > 1 and kind == "offers" and not pools:
                pools.append(_worker_pool(workers))
            return pools[0] if pools else None
        try:
            reports = [self._ingest_file(f, kind, lambda p: file_batches(p, kind, offer_columns, pool()))
                       for f in files]
        finally:
            for p in pools:
                p.shutdown(cancel_futures=True)
        if kind == "offers" and any(not r.skipped for r in reports):
            from forecast.dedupe import mark_republished

            t0 = time.perf_counter()
            n = mark_republished(self.con, days=dedupe_days, similarity=dedupe_similarity, enabled=dedupe)
            log.info("re-published offers marked as duplicates: %d (%.1f s)", n, time.perf_counter() - t0)
            reports = [self._with_republished(r) for r in reports]
        return reports

    def _with_republished(self, r: FileReport) -> FileReport:
        if r.skipped or r.kind != "offers":
            return r
        n_rep = self.con.execute(
            "SELECT count(*) FROM offers WHERE source = ? AND duplicate_of IS NOT NULL", [r.source]
        ).fetchone()[0]
        base_dups = r.n_duplicates   # same id seen again (this run's count for the file)
        report = FileReport(r.source, r.kind, r.n_input, r.n_input - base_dups - n_rep - r.n_rejected,
                            base_dups + n_rep, r.n_rejected, sha256=r.sha256)
        self.con.execute("UPDATE ingest_log SET n_accepted = ?, n_duplicates = ? WHERE source = ? AND sha256 = ?",
                         [report.n_accepted, report.n_duplicates, r.source, r.sha256])
        return report

    def _ingest_file(self, path: Path, kind: str, batches: Callable[[Path], Iterable[Any]]) -> FileReport:
        """One file in one transaction: everything of it, or (killed, failed) nothing of it."""
        digest = file_sha256(path)
        seen = self.con.execute("SELECT n_input, n_accepted, n_duplicates, n_rejected FROM ingest_log WHERE sha256 = ?",
                                [digest]).fetchone()
        if seen is not None:
            log.info("%s: already ingested (same content), skipped", path)
            return FileReport(str(path), kind, *seen, skipped=True, sha256=digest)
        con = self.con
        if kind == "offers":   # staged outside the store's tables first, then published in one transaction
            n_input, n_rejected = self._stage_offers(path, batches(path))
        con.execute("BEGIN TRANSACTION")
        try:
            if kind == "offers":
                n_dup = self._publish_staged_offers()
            else:
                log.debug("%s: transaction open, reading", path)
                (n_input, n_rejected), n_dup = self._load_table(path, kind, batches(path)), 0
            report = FileReport(str(path), kind, n_input, n_input - n_dup - n_rejected, n_dup, n_rejected,
                                sha256=digest)
            con.execute("INSERT INTO ingest_log (sha256, source, kind, n_input, n_accepted, n_duplicates, n_rejected) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [digest, str(path), kind, report.n_input, report.n_accepted, report.n_duplicates,
                         report.n_rejected])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if kind == "offers":
            self._clear_staging()
        log.info("%s: %d records, %d accepted, %d duplicates, %d rejected", path, report.n_input,
                 report.n_accepted, report.n_duplicates, report.n_rejected)
        return report

    def _insert_rejects(self, rejects: pd.DataFrame) -> None:
        if len(rejects):
            self.con.register("_rj", rejects)
            self.con.execute("INSERT INTO rejects SELECT source, record, field, reason, raw FROM _rj")
            self.con.unregister("_rj")

    def _clear_staging(self) -> None:
        for t in _STAGING:
            self.con.execute(f"DELETE FROM {t}")

    def _stage_offers(self, path: Path, batches: Iterable[Any]) -> tuple[int, int]:
        """Write each batch as it comes into the staging tables, committed every
        :data:`STAGE_COMMIT_ROWS` offers (a transaction holds its rows in memory until it commits,
        so one transaction for a whole big file would hold the file). The store's own tables are not
        touched: a killed ingest leaves them as they were, and its staged rows are cleared by the
        next ingest. Returns (records read, records rejected)."""
        con = self.con
        self._clear_staging()   # what a killed ingest left
        n_input = n_rejected = staged = 0
        t0 = time.perf_counter()
        log.debug("%s: reading, staging", path)
        con.execute("BEGIN TRANSACTION")
        try:
            for b in batches:
                offers, skills = b.tables["offers"], b.tables["offer_skills"]
                if b.n_input != len(offers) + len(b.rejects):   # every record in exactly one place
                    raise ForecastError(f"{path}: {b.n_input} records read but {len(offers)} accepted + "
                                        f"{len(b.rejects)} rejected (a reader lost records)")
                n_input += b.n_input
                n_rejected += len(b.rejects)
                if b.rejects:
                    con.register("_rj", rejects_frame(b.rejects))
                    con.execute("INSERT INTO _staging_rejects SELECT source, record, field, reason, raw FROM _rj")
                    con.unregister("_rj")
                con.register("_b_offers", offers)
                con.register("_b_skills", skills)   # one row per (offer, skill): readers key skills by code
                con.execute("INSERT INTO _staging_offers SELECT offer_id, created, zone, commune, rome, rome_fiche, "
                            "positions, source, title, description, rome_how, rome_confidence, record FROM _b_offers")
                con.execute("INSERT INTO _staging_skills SELECT offer_id, skill, required, how, confidence, record "
                            "FROM _b_skills")
                con.unregister("_b_offers")
                con.unregister("_b_skills")
                staged += len(offers)
                if staged >= STAGE_COMMIT_ROWS:
                    con.execute("COMMIT")
                    con.execute("BEGIN TRANSACTION")
                    staged = 0
                log.debug("%s: %d records written (%.1f s)", path, n_input, time.perf_counter() - t0)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return n_input, n_rejected

    def _publish_staged_offers(self) -> int:
        """Move the staged offers, skills and rejects into the store (inside the file's transaction).
        An id seen again — later in the file, or already in the store — is replaced by its newer
        version (the last in the file) and counted as a duplicate; returns that count."""
        con = self.con
        rows, ids = con.execute("SELECT count(*), count(DISTINCT offer_id) FROM _staging_offers").fetchone()
        n_dup = rows - ids
        if n_dup:   # ids repeated in the file: keep each one's last record
            con.execute("CREATE TEMP TABLE _last AS SELECT offer_id, max(record) AS record FROM _staging_offers "
                        "GROUP BY offer_id HAVING count(*) > 1")
            for t in ("_staging_offers", "_staging_skills"):
                con.execute(f"DELETE FROM {t} USING _last WHERE {t}.offer_id = _last.offer_id "
                            f"AND {t}.record <> _last.record")
            con.execute("DROP TABLE _last")
        seen = con.execute("SELECT count(*) FROM offers JOIN _staging_offers USING (offer_id)").fetchone()[0]
        if seen:   # deletes only when needed
            n_dup += seen
            con.execute("DELETE FROM offer_skills WHERE offer_id IN (SELECT offer_id FROM _staging_offers)")
            con.execute("DELETE FROM offers WHERE offer_id IN (SELECT offer_id FROM _staging_offers)")
        con.execute(f"INSERT INTO offers ({_OFFER_COLS}) SELECT offer_id, created, zone, commune, rome, rome_fiche, "
                    "positions, source, title, description, NULL, rome_how, rome_confidence FROM _staging_offers")
        con.execute("INSERT INTO offer_skills (offer_id, skill, required, how, confidence) "
                    "SELECT offer_id, skill, required, how, confidence FROM _staging_skills")
        con.execute("INSERT INTO rejects SELECT source, record, field, reason, raw FROM _staging_rejects")
        return n_dup

    def _load_table(self, path: Path, kind: str, batches: Iterable[Any]) -> tuple[int, int]:
        """Sessions or job seekers: the file's rows replace the earlier rows of the same file."""
        table = {"sessions": "sessions", "job_seekers": "job_seekers"}[kind]
        cols = {"sessions": 'session_id, programme, programme_title, rome, zone, commune, start, "end", places, source',
                "job_seekers": "month, zone, rome, job_seekers, source"}[kind]
        self.con.execute(f"DELETE FROM {table} WHERE source = ?", [str(path)])
        n_input = n_rejected = 0
        for r in batches:
            if r.n_input != len(r.frames[kind]) + len(r.rejects):   # every record in exactly one place
                raise ForecastError(f"{path}: {r.n_input} records read but {len(r.frames[kind])} accepted + "
                                    f"{len(r.rejects)} rejected (a reader lost records)")
            n_input += r.n_input
            n_rejected += r.n_rejected
            self._insert_rejects(r.rejects)
            self.con.register("_rows", r.frames[kind])
            self.con.execute(f"INSERT INTO {table} SELECT {cols} FROM _rows")
            self.con.unregister("_rows")
        return n_input, n_rejected

    # --- queries --------------------------------------------------------------------
    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def counts(self) -> dict[str, int]:
        out = {}
        for t in ("offers", "offer_skills", "sessions", "job_seekers", "rejects"):
            out[t] = self.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        out["duplicates"] = self.con.execute("SELECT count(*) FROM offers WHERE duplicate_of IS NOT NULL").fetchone()[0]
        return out

    def rejects(self) -> pd.DataFrame:
        return self.query("SELECT * FROM rejects ORDER BY source, record")

    def ingest_log(self) -> pd.DataFrame:
        return self.query("SELECT * FROM ingest_log ORDER BY ingested_at, source")


def ingest_paths(store: str | Path, paths: list[Path], *, offer_columns: dict[str, str] | None = None,
                 dedupe: bool = True) -> list[FileReport]:
    """Ingest files and folders of any kind into ``store``, each routed by
    :func:`forecast.ingest.formats.detect_kind` (offers, LHEO sessions, job seekers)."""
    from forecast.ingest.formats import KINDS, detect_kind

    by_kind: dict[str, list[Path]] = {}
    for p in paths:
        if not Path(p).exists():
            raise DataError(f"{p}: input file not found")
        by_kind.setdefault(detect_kind(Path(p)), []).append(Path(p))
    reports: list[FileReport] = []
    with Store(store) as st:
        for kind in KINDS:
            if kind in by_kind:
                reports += st.ingest(by_kind[kind], kind, offer_columns=offer_columns, dedupe=dedupe)
    return reports
