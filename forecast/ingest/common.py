"""What every reader shares: the result type, rejects, file discovery and placing."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from forecast.errors import DataError

REJECT_COLUMNS = ["source", "record", "field", "reason", "raw"]


class RejectError(Exception):
    """Raised by a record normaliser: the record goes to the rejects with this field and reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Reject:
    source: str
    record: int
    field: str
    reason: str
    raw: str = ""


@dataclass
class ReadResult:
    """Canonical frames read from one file. ``n_input`` = accepted + rejected records."""

    source: str
    n_input: int
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))

    @property
    def n_rejected(self) -> int:
        return len(self.rejects)

    @property
    def n_accepted(self) -> int:
        return self.n_input - self.n_rejected


def rejects_frame(rejects: list[Reject]) -> pd.DataFrame:
    return pd.DataFrame(
        [(r.source, r.record, r.field, r.reason, r.raw[:500]) for r in rejects], columns=REJECT_COLUMNS
    ).astype({"record": "int64"})


def expand_paths(paths: list[Path] | tuple[Path, ...], patterns: tuple[str, ...]) -> list[Path]:
    """Files named, plus the files matching ``patterns`` in folders named; sorted, checked to exist."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for pat in patterns for f in p.rglob(pat) if f.is_file())
            if not found:
                raise DataError(f"{p}: folder holds no input file ({', '.join(patterns)})")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: input file not found")
    return list(dict.fromkeys(out))


def fold(text: str) -> str:
    """Upper-case, accents removed, punctuation as spaces: 'Châlons-en-Champagne' -> 'CHALONS EN CHAMPAGNE'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", " ", text).strip().upper()
    text = re.sub(r"^(SAINT) ", "ST ", text)
    return re.sub(r" SAINT ", " ST ", text)


class Placer:
    """Commune code -> zone d'emploi; a 'DEP - TOWN' label -> commune within its département."""

    def __init__(self) -> None:
        from forecast import referential

        communes = referential.load_communes()
        codes = communes["commune"].tolist()
        self.zone_of = dict(zip(codes, communes["zone"].tolist()))
        by_name: dict[tuple[str, str], list[str]] = {}
        for code, label, dep in zip(codes, communes["libelle"].tolist(), communes["dep"].tolist()):
            by_name.setdefault((dep, fold(label)), []).append(code)
        self.by_name = by_name

    def place(self, commune: str | None, label: str | None) -> tuple[str, str]:
        """Return (commune, zone) or raise :class:`RejectError`."""
        if commune:
            commune = str(commune).strip()
            zone = self.zone_of.get(commune)
            if zone is None:
                raise RejectError("lieuTravail.commune", f"unknown INSEE commune code {commune!r}")
            return commune, zone
        if label:
            m = re.match(r"^\s*(\d[\dAB])\s*-\s*(.+?)\s*$", str(label))
            if not m:
                raise RejectError("lieuTravail.libelle", f"no commune code and label {label!r} is not 'DEP - TOWN'")
            dep, town = m.group(1), fold(m.group(2))
            town = re.sub(r" \d+E? ARRONDISSEMENT$", "", town)
            codes = self.by_name.get((dep, town), [])
            if len(codes) == 1:
                return codes[0], self.zone_of[codes[0]]
            why = "no commune of that name" if not codes else f"{len(codes)} communes of that name"
            raise RejectError("lieuTravail.libelle", f"cannot place {label!r}: {why} in département {dep}")
        raise RejectError("lieuTravail", "no commune code and no label: cannot place the offer")


@lru_cache(maxsize=1)
def placer() -> Placer:
    return Placer()


@lru_cache(maxsize=1)
def rome_parent_map() -> dict[str, str]:
    """ROME 4.0 fiche code (and historic code) -> historic parent code."""
    from forecast import referential

    fiches = referential.load_fiches()
    mapping = dict(zip(fiches["code_rome"], fiches["code_rome_parent"]))
    for parent in set(fiches["code_rome_parent"]):
        mapping.setdefault(parent, parent)
    return mapping
