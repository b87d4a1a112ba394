"""Tables for analysts: Parquet, CSV and XLSX with French headers, safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read as a
formula by a spreadsheet (CSV/formula injection): such cells get a leading apostrophe. Numbers stay
numbers. CSV files use ``;`` and a decimal comma (what a French spreadsheet expects) in UTF-8 with BOM.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.io import atomic_path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("parquet", "csv", "xlsx")

FRENCH: dict[str, str] = {
    "unique_id": "Série", "zone": "Zone d'emploi", "rome": "Code ROME", "skill": "Compétence (OGR)",
    "label": "Libellé", "ds": "Mois", "horizon": "Horizon (mois)", "covered": "Couvert par l'offre de formation",
    "mean": "Demande moyenne", "supply": "Offre (personnes)", "gap": "Écart (demande - offre)",
    "p_shortage": "Probabilité de pénurie", "tension": "Indice de tension (demande / offre)",
    "demand_mean": "Demande attendue", "demand_q0.025": "Demande (borne basse 95 %)",
    "demand_q0.975": "Demande (borne haute 95 %)", "supply_mean": "Offre attendue",
    "supply_q0.025": "Offre (borne basse 95 %)", "supply_q0.975": "Offre (borne haute 95 %)",
    "gap_mean": "Écart attendu", "gap_q0.025": "Écart (borne basse 95 %)", "gap_q0.975": "Écart (borne haute 95 %)",
    "unmet_mean": "Demande non satisfaite attendue", "unmet_q0.025": "Demande non satisfaite (borne basse 95 %)",
    "unmet_q0.975": "Demande non satisfaite (borne haute 95 %)", "surplus_mean": "Excédent attendu",
    "situation": "Situation", "rank_shortage": "Rang (pénuries)", "rank_surplus": "Rang (excédents)",
    "component": "Composante", "status": "Statut", "p_recurrence": "Probabilité de reconduction",
    "action_id": "Action", "type": "Type d'action", "source_zone": "Zone d'origine", "source_rome": "Métier d'origine",
    "skills": "Compétences", "start": "Début", "arrival": "Arrivée (mois d'horizon)", "duration_months": "Durée (mois)",
    "unit": "Unité", "people_per_unit": "Personnes par unité", "taken_per_unit": "Personnes prises par unité",
    "max_units": "Unités au plus", "unit_cost": "Coût unitaire", "quantity": "Quantité", "people": "Personnes",
    "cost": "Coût", "expected_reduction": "Réduction attendue de la demande non satisfaite",
    "reduction_q0.025": "Réduction (borne basse 95 %)", "reduction_q0.975": "Réduction (borne haute 95 %)",
    "rationale": "Justification", "budget": "Budget", "unmet_demand": "Demande non satisfaite",
    "unmet_avoided": "Demande non satisfaite évitée", "actions": "Nombre d'actions", "arrival_month": "Mois d'arrivée",
    "model": "Modèle", "chosen": "Modèle retenu",
}
FRENCH.update({f"q{q:g}": f"Quantile {q:g}".replace(".", ",") for q in (0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)})
SITUATIONS = {"shortage": "pénurie", "surplus": "excédent", "balanced": "équilibre"}


def neutralise(value: object) -> object:
    """A text that a spreadsheet would run as a formula, prefixed with an apostrophe; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell neutralised (column names too); numbers and dates untouched."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def french(df: pd.DataFrame) -> pd.DataFrame:
    """French headers (unknown columns keep their name) and French situation labels."""
    out = df.copy()
    if "situation" in out.columns:
        out["situation"] = out["situation"].map(lambda s: SITUATIONS.get(s, s))
    return out.rename(columns={c: FRENCH.get(c, c) for c in out.columns})


def export_table(df: pd.DataFrame, base: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write ``df`` with French headers as ``base.parquet``, ``base.csv``, ``base.xlsx`` (atomic)."""
    base = Path(base)
    table = safe_frame(french(df))
    paths = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
        path = base.with_suffix(f".{fmt}")
        with atomic_path(path) as tmp:
            if fmt == "parquet":
                table.to_parquet(tmp, index=False)
            elif fmt == "csv":
                table.to_csv(tmp, index=False, sep=";", decimal=",", encoding="utf-8-sig")
            else:
                _xlsx(table, tmp)
        paths.append(path)
    return paths


def _cells(col: pd.Series) -> tuple[str, list[Any]]:
    """(kind, values) of one column for :func:`_xlsx`; None = empty cell."""
    if pd.api.types.is_bool_dtype(col):
        return "b", [None if pd.isna(x) else bool(x) for x in col]
    if pd.api.types.is_datetime64_any_dtype(col):
        return "d", [None if pd.isna(x) else x.to_pydatetime() for x in col]
    if pd.api.types.is_numeric_dtype(col):
        return "n", [None if x != x or x in (np.inf, -np.inf) else x for x in col.to_numpy(float).tolist()]
    return "s", [None if (x is None or (isinstance(x, float) and x != x) or x is pd.NaT) else str(x) for x in col]


def _xlsx(table: pd.DataFrame, path: Path) -> None:
    """One sheet "données", written row by row with XlsxWriter in constant-memory mode: 2-3x faster
    than pandas' ``to_excel`` (the Grand Est exports took 15 s), text cells always text (no formula
    or link is ever made from a value), dates as Excel dates."""
    import xlsxwriter

    t = table.copy()
    for col in t.columns:
        if isinstance(t[col].dtype, pd.DatetimeTZDtype):
            t[col] = t[col].dt.tz_localize(None)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False, "constant_memory": True,
                                         "nan_inf_to_errors": False})
    try:
        ws = wb.add_worksheet("données")
        bold, date = wb.add_format({"bold": True}), wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for i, col in enumerate(t.columns):
            ws.set_column(i, i, min(60, max(10, len(str(col)) + 2)))
            ws.write_string(0, i, str(col), bold)
        cols = [_cells(t[c]) for c in t.columns]
        write = {"n": ws.write_number, "s": ws.write_string, "b": ws.write_boolean}
        for r in range(len(t)):
            for j, (kind, vals) in enumerate(cols):
                x = vals[r]
                if x is None:
                    continue
                if kind == "d":
                    ws.write_datetime(r + 1, j, x, date)
                else:
                    write[kind](r + 1, j, x)
    finally:
        wb.close()
