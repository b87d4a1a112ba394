"""Offer batches in columns, and their tags: ROME and skills, each with how it was obtained.

An offer's ROME code and skills are ``given`` (by the record, confidence 1) or ``inferred``: the ROME
from the title by :mod:`forecast.classify`, the skills from the title and description by
:mod:`forecast.skills_text` (confidence < 1). Readers append records to an :class:`OfferBatch`
and call :meth:`OfferBatch.finish` to get the frames.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import pyarrow as pa

from forecast import schema as S
from forecast.ingest.common import ReadResult, Reject, rejects_frame

GIVEN, INFERRED = "given", "inferred"
ROME_HOW, ROME_CONFIDENCE = "rome_how", "rome_confidence"
HOW, CONFIDENCE = "how", "confidence"
RECORD = "record"
OFFER_FRAME_COLUMNS = [*S.OFFER_COLUMNS, S.TITLE, "description", ROME_HOW, ROME_CONFIDENCE, RECORD]
SKILL_FRAME_COLUMNS = [*S.OFFER_SKILL_COLUMNS, HOW, CONFIDENCE, RECORD]
MAX_INFERRED_SKILLS = 12


@dataclass
class OfferBatch:
    """Accepted offers (as columns), their skills and the rejects of a run of input records.

    :meth:`finish` turns the columns into Arrow tables (``tables``; cheap to send between processes
    and appended to DuckDB without a copy) and frees the lists; ``frames`` gives them as pandas.
    """

    source: str
    n_input: int = 0
    offer_ids: list[str] = field(default_factory=list)
    created: list[datetime] = field(default_factory=list)
    communes: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    romes: list[str | None] = field(default_factory=list)
    fiches: list[str | None] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    skill_ids: list[str] = field(default_factory=list)
    skill_codes: list[str] = field(default_factory=list)
    skill_required: list[bool] = field(default_factory=list)
    skill_records: list[int] = field(default_factory=list)
    no_skills: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    tables: dict[str, pa.Table] = field(default_factory=dict)

    def add(self, offer_id: str, created: datetime, commune: str, zone: str, rome: str | None,
            fiche: str | None, positions: int, title: str, description: str, record: int,
            skills: dict[str, bool]) -> None:
        """Append an accepted record; ``rome``/``fiche`` None = to classify, empty ``skills`` = to find."""
        i = len(self.offer_ids)
        self.offer_ids.append(offer_id)
        self.created.append(created)
        self.communes.append(commune)
        self.zones.append(zone)
        self.romes.append(rome)
        self.fiches.append(fiche)
        self.positions.append(positions)
        self.titles.append(title)
        self.descriptions.append(description)
        self.records.append(record)
        if skills:
            k = len(skills)
            self.skill_ids.extend([offer_id] * k)
            self.skill_codes.extend(skills)
            self.skill_required.extend(skills.values())
            self.skill_records.extend([record] * k)
        else:
            self.no_skills.append(i)

    def finish(self, tag: bool = True) -> "OfferBatch":
        """Infer the missing tags (unless ``tag`` is False) and build ``tables``."""
        n = len(self.offer_ids)
        how = [GIVEN] * n
        conf = [1.0] * n
        todo = [i for i in range(n) if self.romes[i] is None]
        if todo:
            from forecast.classify import title_classifier

            preds = title_classifier().predict_topk([self.titles[i] for i in todo], k=1)
            for i, p in zip(todo, preds):
                self.romes[i], self.fiches[i] = p.parents[0], p.fiche
                how[i], conf[i] = INFERRED, round(p.confidences[0], 4)
        k = len(self.skill_ids)
        sk_how, sk_conf = [GIVEN] * k, [1.0] * k
        if tag and self.no_skills:
            from forecast.skills_text import skill_finder

            finder = skill_finder()
            for i in self.no_skills:
                found = finder.find(f"{self.titles[i]}. {self.descriptions[i]}", self.fiches[i])[:MAX_INFERRED_SKILLS]
                oid, rec = self.offer_ids[i], self.records[i]
                for m in found:
                    self.skill_ids.append(oid)
                    self.skill_codes.append(m.code)
                    self.skill_required.append(False)
                    self.skill_records.append(rec)
                    sk_how.append(INFERRED)
                    sk_conf.append(m.confidence)
        string, i64 = pa.string(), pa.int64()
        self.tables = {
            "offers": pa.table([
                pa.array(self.offer_ids, string), pa.array(self.created, pa.timestamp("us")),
                pa.array(self.zones, string), pa.array(self.communes, string), pa.array(self.romes, string),
                pa.array(self.fiches, string), pa.array(self.positions, i64),
                pa.repeat(pa.scalar(self.source, string), n), pa.array(self.titles, string),
                pa.array(self.descriptions, string), pa.array(how, string), pa.array(conf, pa.float64()),
                pa.array(self.records, i64)], names=OFFER_FRAME_COLUMNS),
            "offer_skills": pa.table([
                pa.array(self.skill_ids, string), pa.array(self.skill_codes, string),
                pa.array(self.skill_required, pa.bool_()), pa.array(sk_how, string),
                pa.array(sk_conf, pa.float64()), pa.array(self.skill_records, i64)], names=SKILL_FRAME_COLUMNS),
        }
        for name in ("offer_ids", "created", "communes", "zones", "romes", "fiches", "positions", "titles",
                     "descriptions", "records", "skill_ids", "skill_codes", "skill_required", "skill_records",
                     "no_skills"):
            setattr(self, name, [])   # the tables hold them now: free the lists (and do not send them)
        return self

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """The tables as pandas frames (after :meth:`finish`)."""
        return {k: _to_pandas(t) for k, t in self.tables.items()}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas()
    if S.CREATED in df.columns:
        df[S.CREATED] = df[S.CREATED].astype("datetime64[us]")
    return df


def concat_batches(source: str, batches: Iterable[OfferBatch]) -> ReadResult:
    """One :class:`ReadResult` from the batches of a file."""
    bs = list(batches)
    n = sum(b.n_input for b in bs)
    frames = {k: pd.concat([b.frames[k] for b in bs], ignore_index=True) for k in ("offers", "offer_skills")}
    rejects = rejects_frame([r for b in bs for r in b.rejects])
    return ReadResult(source, n, frames, rejects)
