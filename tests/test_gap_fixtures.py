"""Small deterministic scenario shared by the supply, gap, actions and plan tests (no test here).

Reims (4413): aide-soignant J1501 in shortage (20 positions a month, a 12-place DEAS session a year),
agent de service médico-social J1301 in surplus (3 a month, 40 places); Épernay (4406, same
département 51): J1501 in surplus through job seekers.
"""
from __future__ import annotations

import pandas as pd

from forecast import schema as S
from forecast.paths import paths_from_quantiles
from forecast.supply import SupplyRates, project_supply

Z = [-1.96, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.96]
LEVELS = {"4413/J1501": 20.0, "4413/J1301": 3.0, "4406/J1501": 2.0}


def forecasts(levels: dict[str, float] = LEVELS, months: int = 24, cv: float = 0.3) -> pd.DataFrame:
    ds = pd.date_range("2025-01-01", periods=months, freq="MS")
    rows = []
    for uid, mean in levels.items():
        for d in ds:
            r = {S.UID: uid, S.DS: d, S.MODEL: "selected", S.MEAN: mean}
            for q, z in zip(S.QUANTILE_LEVELS, Z):
                r[S.qcol(q)] = max(mean + z * cv * mean, 0.0)
            rows.append(r)
    return pd.DataFrame(rows)


def sessions() -> pd.DataFrame:
    rows = []
    for y in range(2021, 2025):
        rows.append({S.SESSION_ID: f"s{y}", S.PROGRAMME: "P1", S.PROGRAMME_TITLE: "DEAS", S.ROME: "J1501", S.ZONE: "4413",
                     S.COMMUNE: "51454", S.START: pd.Timestamp(f"{y}-09-05"), S.END: pd.Timestamp(f"{y + 1}-07-20"),
                     S.PLACES: 12, S.SOURCE: "x"})
        rows.append({S.SESSION_ID: f"t{y}", S.PROGRAMME: "P2", S.PROGRAMME_TITLE: "ASMS", S.ROME: "J1301", S.ZONE: "4413",
                     S.COMMUNE: "51454", S.START: pd.Timestamp(f"{y}-03-05"), S.END: pd.Timestamp(f"{y}-08-20"),
                     S.PLACES: 40, S.SOURCE: "x"})
    return pd.DataFrame(rows)


def job_seekers() -> pd.DataFrame:
    return pd.DataFrame({S.DS: pd.Timestamp("2024-12-01"), S.ZONE: ["4413", "4413", "4406"],
                         S.ROME: ["J1501", "J1301", "J1501"], "demandeurs": [40.0, 100.0, 300.0]})


def scenario(n_samples: int = 300, rates: SupplyRates | None = None):
    """(forecasts, sessions, supply, paths, rates)."""
    rates = rates or SupplyRates()
    fc, ses = forecasts(), sessions()
    sup = project_supply(ses, ["4413", "4406"], "2019-01", "2024-12", 24, rates=rates, job_seekers=job_seekers())
    return fc, ses, sup, paths_from_quantiles(fc, n_samples=n_samples, seed=3), rates
