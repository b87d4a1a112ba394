"""Signals: the expected change of each series over the horizon, with its interval, from sample paths.

For each series, the total of the next ``months`` months of every sample path is compared with the
total of the last ``months`` observed months: change = path total / recent total - 1. The table
gives the median change, its ``level`` central interval (from the paths, never from summed monthly
quantiles) and P(increase). A series is ``emerging`` when the whole interval lies above
``+threshold``, ``declining`` when it lies below ``-threshold``, ``stable`` when it lies inside
(-threshold, +threshold), else ``uncertain``. A series without recent demand has no ratio: it is
emerging when its forecast total is positive with probability >= the upper level, else uncertain.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.paths import SamplePaths

SIGNAL_COLUMNS = [S.UID, "recent_total", "forecast_total", "forecast_lo", "forecast_hi", "change", "change_lo",
                  "change_hi", "p_increase", "signal"]


def compute_signals(paths: SamplePaths, history: pd.DataFrame, months: int = 12, level: float = 0.8,
                    threshold: float = 0.1) -> pd.DataFrame:
    """Signal table (``SIGNAL_COLUMNS``), one row per series of ``paths`` found in ``history``,
    sorted by median change (largest rise first)."""
    S.require_columns(history, [S.UID, S.DS, S.Y], "history")
    months = min(int(months), len(paths.ds))
    recent = (history.sort_values(S.DS).groupby(S.UID)[S.Y]
              .apply(lambda v: float(v.to_numpy()[-months:].sum())))
    ids = [u for u in paths.unique_ids if u in recent.index]
    if not ids:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    p = paths.for_ids(ids)
    tot = p.totals(months).astype(float)                   # (n, samples)
    rec = recent.reindex(ids).to_numpy(float)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = tot / rec[:, None] - 1.0
    ok = rec > 0
    c_med, c_lo, c_hi = (np.full(len(ids), np.nan) for _ in range(3))
    if ok.any():
        c_med[ok] = np.median(ratio[ok], axis=1)
        c_lo[ok] = np.quantile(ratio[ok], lo_q, axis=1)
        c_hi[ok] = np.quantile(ratio[ok], hi_q, axis=1)
    p_inc = np.mean(tot > rec[:, None], axis=1)
    signal = np.full(len(ids), "uncertain", dtype=object)
    signal[ok & (c_lo > threshold)] = "emerging"
    signal[ok & (c_hi < -threshold)] = "declining"
    signal[ok & (c_lo >= -threshold) & (c_hi <= threshold)] = "stable"
    signal[~ok & (p_inc >= hi_q)] = "emerging"
    out = pd.DataFrame({
        S.UID: ids, "recent_total": rec, "forecast_total": tot.mean(axis=1),
        "forecast_lo": np.quantile(tot, lo_q, axis=1), "forecast_hi": np.quantile(tot, hi_q, axis=1),
        "change": c_med, "change_lo": c_lo, "change_hi": c_hi, "p_increase": p_inc, "signal": signal})
    return out.sort_values(["change", S.UID], ascending=[False, True], na_position="last").reset_index(drop=True)
