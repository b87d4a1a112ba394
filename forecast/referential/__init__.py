"""Shipped reference data: ROME 4.0 (v460, "25M09") and INSEE zones d'emploi 2020 (geography 2022).

The files live in ``forecast/referential/data`` (built by ``scripts/build_referential.py``; provenance
and licences in ``data/README.md``). Every loader is cached with :func:`functools.lru_cache` and
returns the **same shared frame** on every call: callers must not mutate it (take ``.copy()`` first).
Every code is a string with its leading zeros kept (zone ``"0051"``, commune ``"01001"``, OGR ``"100023"``).

Unknown arguments raise :class:`forecast.errors.DataError`.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

import pandas as pd

from forecast.errors import DataError

__all__ = [
    "GRAND_EST",
    "load_appellations",
    "load_communes",
    "load_fiche_skills",
    "load_fiches",
    "load_mobility",
    "load_rome_parents",
    "load_skills",
    "load_zones",
    "region_zones",
    "rome_parent_of",
    "zone_label",
]

GRAND_EST = "44"
SKILL_KINDS = ("savoir-faire", "savoir-etre", "savoir")


def _read(name: str) -> pd.DataFrame:
    path = resources.files(__name__).joinpath("data", name)
    try:
        with path.open("rb") as fh:
            return pd.read_csv(fh, dtype=str, keep_default_na=False, compression="gzip")
    except FileNotFoundError as exc:  # pragma: no cover - broken installation
        raise DataError(f"reference file {name} is missing from the package: rebuild it with "
                        "scripts/build_referential.py") from exc


@functools.lru_cache(maxsize=None)
def load_fiches() -> pd.DataFrame:
    """The 1,584 ROME 4.0 fiches.

    Columns: ``code_rome, libelle_rome, code_rome_parent, code_grand_domaine, libelle_grand_domaine,
    code_domaine, libelle_domaine``. ``code_rome_parent`` is one of the 532 historic codes.
    Shared cached frame: do not mutate.
    """
    return _read("fiches.csv.gz")


@functools.lru_cache(maxsize=None)
def load_rome_parents() -> pd.DataFrame:
    """The 532 historic ROME codes (``code_rome_parent`` of the fiches), one row each.

    Columns: ``code_rome, libelle_rome, code_grand_domaine, libelle_grand_domaine, code_domaine,
    libelle_domaine``; the label is the one of the fiche whose code equals the parent (else the first
    fiche of the parent, by code). Shared cached frame: do not mutate.
    """
    f = load_fiches()
    own = f["code_rome"] == f["code_rome_parent"]
    ordered = pd.concat([f[own], f[~own].sort_values("code_rome")])
    first = ordered.drop_duplicates("code_rome_parent")
    out = first.drop(columns="code_rome").rename(columns={"code_rome_parent": "code_rome"})
    out = out[["code_rome", "libelle_rome", "code_grand_domaine", "libelle_grand_domaine",
               "code_domaine", "libelle_domaine"]]
    return out.sort_values("code_rome").reset_index(drop=True)


@functools.lru_cache(maxsize=None)
def load_skills() -> pd.DataFrame:
    """Skills and knowledge of the ROME: ``code_ogr, libelle, kind``.

    ``kind`` is ``"savoir-faire"`` or ``"savoir-etre"`` (from the competence referential's ``cat_comp``,
    which includes the macro-skills) or ``"savoir"`` (the knowledge referential).
    Shared cached frame: do not mutate.
    """
    return _read("skills.csv.gz")


@functools.lru_cache(maxsize=None)
def load_fiche_skills() -> pd.DataFrame:
    """Skills each fiche lists: ``code_rome, code_ogr, kind`` (block 5 "Compétences" of the links file:
    rubrique 1 savoir-faire, 2 savoir-être professionnels, 3 savoirs). Shared cached frame: do not mutate.
    """
    return _read("fiche_skills.csv.gz")


@functools.lru_cache(maxsize=None)
def load_appellations() -> pd.DataFrame:
    """The 13,120 job titles: ``code_ogr, libelle, libelle_court, code_rome, code_rome_parent, peu_usite``
    (``peu_usite`` is ``"O"`` for rarely used titles, else ``"N"``). Shared cached frame: do not mutate.
    """
    return _read("appellations.csv.gz")


@functools.lru_cache(maxsize=None)
def load_mobility() -> pd.DataFrame:
    """Mobility links between fiches: ``code_rome, code_rome_cible, numero_ordre`` (order as a string).
    Shared cached frame: do not mutate."""
    return _read("mobility.csv.gz")


@functools.lru_cache(maxsize=None)
def load_zones() -> pd.DataFrame:
    """The 306 zones d'emploi 2020: ``zone, libelle, nb_com, reg`` (``nb_com`` an int; ``reg`` the region
    of most of the zone's communes). Shared cached frame: do not mutate."""
    z = _read("zones.csv.gz")
    z["nb_com"] = z["nb_com"].astype("int64")
    return z


@functools.lru_cache(maxsize=None)
def load_communes() -> pd.DataFrame:
    """The 34,955 communes of France (geography 2022): ``commune, libelle, zone, dep, reg``.
    Shared cached frame: do not mutate."""
    return _read("communes.csv.gz")


@functools.lru_cache(maxsize=None)
def _zone_labels() -> dict[str, str]:
    z = load_zones()
    return dict(zip(z["zone"], z["libelle"], strict=True))


def region_zones(reg: str = GRAND_EST) -> list[str]:
    """Sorted zone codes of region ``reg`` (INSEE region code, e.g. ``"44"`` Grand Est: 4401..4427)."""
    z = load_zones()
    out = sorted(z.loc[z["reg"] == str(reg), "zone"])
    if not out:
        known = ", ".join(sorted(z["reg"].unique()))
        raise DataError(f"unknown region code {reg!r}: expected one of {known}")
    return out


def zone_label(zone: str) -> str:
    """Label of a zone d'emploi: ``zone_label("4413") == "Reims"``."""
    try:
        return _zone_labels()[str(zone)]
    except KeyError:
        raise DataError(f"unknown zone d'emploi {zone!r}: expected a 4-character ZE2020 code "
                        "such as '4413' (Reims)") from None


@functools.lru_cache(maxsize=None)
def _parents() -> dict[str, str]:
    f = load_fiches()
    out = dict(zip(f["code_rome"], f["code_rome_parent"], strict=True))
    return out


def rome_parent_of(fiche_codes: str | Iterable[str]) -> dict[str, str]:
    """Map ROME 4.0 fiche codes to their historic (parent) code: ``{"A1102": "A1101"}``.

    Raises :class:`DataError` naming the unknown codes (at most 10 shown).
    """
    codes = [fiche_codes] if isinstance(fiche_codes, str) else list(fiche_codes)
    parents = _parents()
    unknown = sorted({str(c) for c in codes if c not in parents})
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise DataError(f"unknown ROME fiche code(s) ({len(unknown)}): {shown}")
    return {c: parents[c] for c in codes}
