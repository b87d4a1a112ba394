"""The embedded analytical database: one DuckDB file.

Tables: ``offers``, ``offer_skills``, ``sessions``, ``rejects``, ``ingest_log``.
Each file is ingested in one transaction (an interrupted ingest leaves the store as before that
file); a file whose content hash is in ``ingest_log`` is skipped (idempotent); an offer id seen
again replaces the earlier version (an update, counted as a duplicate). Re-published ads are marked
(``duplicate_of``) by :func:`forecast.dedupe.mark_republished` after each ingest.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from forecast import schema as S
from forecast.errors import DataError, ForecastError
from forecast.ingest import expand_paths, read_lheo, read_offers_json
from forecast.ingest.common import ReadResult
from forecast.ingest.lheo import SESSION_PATTERNS
from forecast.ingest.offers_json import OFFER_PATTERNS

log = logging.getLogger(__name__)

_DDL = """
CREATE TABLE IF NOT EXISTS offers (
    offer_id VARCHAR PRIMARY KEY, created TIMESTAMP, zone VARCHAR, commune VARCHAR, rome VARCHAR,
    rome_fiche VARCHAR, positions BIGINT, source VARCHAR, title VARCHAR, description VARCHAR,
    duplicate_of VARCHAR);
CREATE TABLE IF NOT EXISTS offer_skills (offer_id VARCHAR, skill VARCHAR, required BOOLEAN);
CREATE TABLE IF NOT EXISTS sessions (
    session_id VARCHAR, programme VARCHAR, programme_title VARCHAR, rome VARCHAR, zone VARCHAR,
    commune VARCHAR, start TIMESTAMP, "end" TIMESTAMP, places BIGINT, source VARCHAR);
CREATE TABLE IF NOT EXISTS rejects (source VARCHAR, record BIGINT, field VARCHAR, reason VARCHAR, raw VARCHAR);
CREATE TABLE IF NOT EXISTS ingest_log (
    sha256 VARCHAR PRIMARY KEY, source VARCHAR, kind VARCHAR, n_input BIGINT, n_accepted BIGINT,
    n_duplicates BIGINT, n_rejected BIGINT, ingested_at TIMESTAMP DEFAULT current_timestamp);
"""


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


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
               dedupe_similarity: float = 0.9) -> list[FileReport]:
        """Ingest offer files (kind "offers") or LHEO files (kind "sessions")."""
        if kind == "offers":
            files, reader = expand_paths(paths, OFFER_PATTERNS), read_offers_json
        elif kind == "sessions":
            files, reader = expand_paths(paths, SESSION_PATTERNS), read_lheo
        else:
            raise ValueError(kind)
        reports = []
        for f in files:
            reports.append(self._ingest_file(f, kind, reader))
        if kind == "offers" and any(not r.skipped for r in reports):
            from forecast.dedupe import mark_republished

            n = mark_republished(self.con, days=dedupe_days, similarity=dedupe_similarity)
            log.info("re-published offers marked as duplicates: %d", n)
            reports = [self._with_republished(r) for r in reports]
        return reports

    def _with_republished(self, r: FileReport) -> FileReport:
        if r.skipped or r.kind != "offers":
            return r
        n_rep = self.con.execute(
            "SELECT count(*) FROM offers WHERE source = ? AND duplicate_of IS NOT NULL", [r.source]
        ).fetchone()[0]
        row = self.con.execute(
            "SELECT n_input, n_accepted, n_duplicates, n_rejected FROM ingest_log WHERE source = ? "
            "ORDER BY ingested_at DESC LIMIT 1", [r.source]).fetchone()
        base_dups = r.n_duplicates
        report = FileReport(r.source, r.kind, r.n_input, r.n_input - base_dups - n_rep - r.n_rejected,
                            base_dups + n_rep, r.n_rejected)
        if row is not None:
            self.con.execute("UPDATE ingest_log SET n_accepted = ?, n_duplicates = ? WHERE source = ?",
                             [report.n_accepted, report.n_duplicates, r.source])
        return report

    def _ingest_file(self, path: Path, kind: str, reader) -> FileReport:
        digest = file_sha256(path)
        seen = self.con.execute("SELECT n_input, n_accepted, n_duplicates, n_rejected FROM ingest_log WHERE sha256 = ?",
                                [digest]).fetchone()
        if seen is not None:
            log.info("%s: already ingested (same content), skipped", path)
            return FileReport(str(path), kind, *seen, skipped=True)
        result: ReadResult = reader(path)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            n_dup = 0
            if kind == "offers":
                offers = result.frames["offers"]
                skills = result.frames["offer_skills"]
                # The same id twice within the file: the last version wins.
                n_dup += int(offers.duplicated(S.OFFER_ID, keep="last").sum())
                offers = offers.drop_duplicates(S.OFFER_ID, keep="last").assign(duplicate_of=None)
                con.register("new_offers", offers)
                n_dup += con.execute("SELECT count(*) FROM offers JOIN new_offers USING (offer_id)").fetchone()[0]
                con.execute("DELETE FROM offer_skills WHERE offer_id IN (SELECT offer_id FROM new_offers)")
                con.execute("DELETE FROM offers WHERE offer_id IN (SELECT offer_id FROM new_offers)")
                con.execute(
                    "INSERT INTO offers SELECT offer_id, created, zone, commune, rome, rome_fiche, positions, "
                    "source, title, description, duplicate_of FROM new_offers")
                con.unregister("new_offers")
                kept = skills[skills[S.OFFER_ID].isin(set(offers[S.OFFER_ID]))].drop_duplicates()
                con.register("new_skills", kept)
                con.execute("INSERT INTO offer_skills SELECT offer_id, skill, required FROM new_skills")
                con.unregister("new_skills")
            else:
                sessions = result.frames["sessions"]
                con.register("new_sessions", sessions)
                con.execute("DELETE FROM sessions WHERE source = ?", [str(path)])
                con.execute('INSERT INTO sessions SELECT session_id, programme, programme_title, rome, zone, '
                            'commune, start, "end", places, source FROM new_sessions')
                con.unregister("new_sessions")
            if len(result.rejects):
                con.register("new_rejects", result.rejects)
                con.execute("INSERT INTO rejects SELECT source, record, field, reason, raw FROM new_rejects")
                con.unregister("new_rejects")
            report = FileReport(str(path), kind, result.n_input, result.n_accepted - n_dup, n_dup, result.n_rejected)
            con.execute("INSERT INTO ingest_log (sha256, source, kind, n_input, n_accepted, n_duplicates, n_rejected) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [digest, str(path), kind, report.n_input, report.n_accepted, report.n_duplicates,
                         report.n_rejected])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        log.info("%s: %d records, %d accepted, %d duplicates, %d rejected", path, report.n_input,
                 report.n_accepted, report.n_duplicates, report.n_rejected)
        return report

    # --- queries --------------------------------------------------------------------
    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def counts(self) -> dict[str, int]:
        out = {}
        for t in ("offers", "offer_skills", "sessions", "rejects"):
            out[t] = self.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        out["duplicates"] = self.con.execute("SELECT count(*) FROM offers WHERE duplicate_of IS NOT NULL").fetchone()[0]
        return out

    def rejects(self) -> pd.DataFrame:
        return self.query("SELECT * FROM rejects ORDER BY source, record")

    def ingest_log(self) -> pd.DataFrame:
        return self.query("SELECT * FROM ingest_log ORDER BY ingested_at, source")
