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
    """Accepted offers (as columns), their skills and the rejects of a run of input records."""

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
    skill_rows: list[tuple[str, str, bool, int]] = field(default_factory=list)
    no_skills: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

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
            self.skill_rows.extend((offer_id, code, req, record) for code, req in skills.items())
        else:
            self.no_skills.append(i)

    def finish(self, tag: bool = True) -> "OfferBatch":
        """Infer the missing tags (unless ``tag`` is False) and build ``frames``."""
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
        offers = pd.DataFrame({
            S.OFFER_ID: self.offer_ids, S.CREATED: pd.to_datetime(pd.Series(self.created, dtype=object)),
            S.ZONE: self.zones, S.COMMUNE: self.communes, S.ROME: self.romes, S.ROME_FICHE: self.fiches,
            S.POSITIONS: pd.Series(self.positions, dtype="int64"), S.SOURCE: self.source, S.TITLE: self.titles,
            "description": self.descriptions, ROME_HOW: how, ROME_CONFIDENCE: pd.Series(conf, dtype="float64"),
            RECORD: pd.Series(self.records, dtype="int64"),
        }, columns=OFFER_FRAME_COLUMNS)
        offers[S.CREATED] = offers[S.CREATED].astype("datetime64[us]")
        rows = [(o, s, r, GIVEN, 1.0, k) for o, s, r, k in self.skill_rows]
        if tag and self.no_skills:
            from forecast.skills_text import skill_finder

            finder = skill_finder()
            for i in self.no_skills:
                found = finder.find(f"{self.titles[i]}. {self.descriptions[i]}", self.fiches[i])
                rows.extend((self.offer_ids[i], m.code, False, INFERRED, m.confidence, self.records[i])
                            for m in found[:MAX_INFERRED_SKILLS])
        skills = pd.DataFrame(rows, columns=SKILL_FRAME_COLUMNS).astype(
            {S.REQUIRED: "bool", CONFIDENCE: "float64", RECORD: "int64"})
        self.frames = {"offers": offers, "offer_skills": skills}
        return self


def concat_batches(source: str, batches: Iterable[OfferBatch]) -> ReadResult:
    """One :class:`ReadResult` from the batches of a file."""
    bs = list(batches)
    n = sum(b.n_input for b in bs)
    frames = {k: pd.concat([b.frames[k] for b in bs], ignore_index=True) for k in ("offers", "offer_skills")}
    rejects = rejects_frame([r for b in bs for r in b.rejects])
    return ReadResult(source, n, frames, rejects)
