"""Gap between forecast demand and projected supply, per (occupation, zone, month).

gap = mean demand - supply; p_shortage = P(demand > supply), read from the forecast's quantiles
(the predictive CDF interpolated between quantile levels; beyond the outer quantiles the
probability is held at half the tail mass, so it never claims certainty the quantiles lack).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecast import schema as S


def prob_exceeds(quantiles: np.ndarray, levels: tuple[float, ...], threshold: np.ndarray) -> np.ndarray:
    """P(X > threshold) per row, from quantile values ``quantiles`` (n, len(levels))."""
    lv = np.asarray(levels, dtype=float)
    out = np.empty(len(threshold))
    lo_tail, hi_tail = lv[0] / 2, 1 - (1 - lv[-1]) / 2
    for i, (q, t) in enumerate(zip(quantiles, threshold)):
        q = np.maximum.accumulate(q)
        if t < q[0]:
            cdf = lo_tail
        elif t >= q[-1]:
            cdf = hi_tail
        else:
            # Where several levels share a value (a point mass, e.g. at 0), P(X <= t) is the highest.
            k = np.searchsorted(q, t, side="right")
            cdf = lv[k - 1] if q[k] == q[k - 1] else lv[k - 1] + (lv[k] - lv[k - 1]) * (t - q[k - 1]) / (q[k] - q[k - 1])
        out[i] = 1.0 - cdf
    return out


def occupations_of(unique_ids: pd.Series) -> pd.DataFrame:
    """Occupation x zone series recognised from their identifiers ('4413/J1501')."""
    ids = pd.Series(pd.unique(unique_ids.astype(str)))
    m = ids.str.extract(r"^(?P<zone>[0-9A-Z]{4})/(?P<key>[A-N]\d{4})$")
    out = pd.DataFrame({S.UID: ids, S.ZONE: m["zone"], S.KEY: m["key"]}).dropna()
    out["label"] = out[S.UID]
    return out


def compute_gap(forecasts: pd.DataFrame, catalog: pd.DataFrame | None, supply: pd.DataFrame) -> pd.DataFrame:
    """Gap table (schema.GAP_COLUMNS + label) for the occupation x zone forecasts.

    Without a catalog, occupation series are recognised by their identifiers ('4413/J1501').
    """
    S.require_columns(forecasts, S.FORECAST_COLUMNS, "forecasts")
    S.require_columns(supply, S.SUPPLY_COLUMNS, "supply")
    if catalog is None:
        occ = occupations_of(forecasts[S.UID])
    else:
        occ = catalog[catalog[S.LEVEL] == "rome_zone"][[S.UID, S.ZONE, S.KEY, "label"]]
    f = forecasts.merge(occ, on=S.UID, how="inner").rename(columns={S.KEY: S.ROME})
    monthly = supply.groupby([S.ZONE, S.ROME, S.DS], as_index=False)[S.SUPPLY].sum()
    g = f.merge(monthly, on=[S.ZONE, S.ROME, S.DS], how="left")
    g[S.SUPPLY] = g[S.SUPPLY].fillna(0.0)
    g[S.GAP] = g[S.MEAN] - g[S.SUPPLY]
    g[S.P_SHORTAGE] = prob_exceeds(g[S.QUANTILE_COLUMNS].to_numpy(float), S.QUANTILE_LEVELS, g[S.SUPPLY].to_numpy(float))
    cols = [*S.GAP_COLUMNS, "label", S.MODEL]
    return g[cols].sort_values([S.ZONE, S.ROME, S.DS]).reset_index(drop=True)


def gap_summary(gap: pd.DataFrame, months: int = 12) -> pd.DataFrame:
    """Per (zone, rome): demand and supply over the first ``months`` of the horizon, ranked by gap.

    Totals of the mean only: intervals of horizon totals need sample paths (not summed quantiles).
    """
    first = gap[S.DS] < gap[S.DS].min() + pd.DateOffset(months=months)
    g = gap[first].groupby([S.ZONE, S.ROME, "label"], as_index=False).agg(
        demand=(S.MEAN, "sum"), supply=(S.SUPPLY, "sum"),
        months_short=(S.P_SHORTAGE, lambda p: int((p > 0.5).sum())))
    g["gap"] = g["demand"] - g["supply"]
    g["ratio_supply_demand"] = np.where(g["demand"] > 0, g["supply"] / g["demand"].where(g["demand"] > 0, 1), np.nan)
    return g.sort_values("gap", ascending=False).reset_index(drop=True)
