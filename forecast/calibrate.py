"""Calibration of forecast quantiles on backtest residuals (split-conformal, per horizon step).

For each horizon step k (months after the cutoff) and each quantile level tau, the backtest gives
normalised scores r = (y - q50) / w, where w > 0 is the distance from the median to the
tau-quantile. The calibrated quantile is q50 + c * w, with c the conformal
quantile (level ceil((n + 1) tau) / n for upper levels, symmetric for lower ones) of r, so that a
fraction tau of the backtest actuals fall below it. Factors are estimated per group (the
Syntetos-Boylan class when given) when a group has at least ``min_points`` scores for that step,
otherwise on all series; steps beyond the backtest horizon use the last step's factors.

Results are count-aware: never negative, still ordered, and for integer-valued series the
quantiles are rounded to whole counts. The median and the mean are not changed. A quantile equal to
the median (w = 0: typically the low quantiles of a sparse count, all 0) is neither used to fit
nor changed: a width factor cannot widen a zero width, and the count model's own discrete quantiles
are already right there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast import schema as S

log = logging.getLogger(__name__)
STEP = "step"
GROUP = "group"
ALL = "_all"
MEDIAN = S.qcol(0.5)


@dataclass(frozen=True)
class Calibration:
    """``factors``: columns group, step, level, factor, n (number of scores)."""

    factors: pd.DataFrame

    def table(self) -> pd.DataFrame:
        return self.factors.copy()


def _steps(frame: pd.DataFrame, start: pd.Series) -> np.ndarray:
    d = pd.DatetimeIndex(frame[S.DS])
    s = pd.DatetimeIndex(start)
    return ((d.year - s.year) * 12 + d.month - s.month).to_numpy(dtype=int)


def series_scale(train: pd.DataFrame) -> pd.Series:
    """In-sample one-step naive MAE of each series (1 when 0 or undefined), indexed by unique_id."""
    tr = train.sort_values([S.UID, S.DS])
    d = tr.groupby(S.UID)[S.Y].diff().abs()
    s = d.groupby(tr[S.UID]).mean()
    return s.where(s > 0, 1.0).fillna(1.0)


def _conformal(r: np.ndarray, tau: float) -> float:
    n = len(r)
    if tau > 0.5:
        lvl = min(1.0, np.ceil((n + 1) * tau) / n)
        return float(np.quantile(r, lvl, method="higher"))
    lvl = max(0.0, np.floor((n + 1) * tau - 1) / n) if n else 0.0
    return float(-np.quantile(r, lvl, method="lower"))


def fit_calibration(cv: pd.DataFrame, train: pd.DataFrame, groups: pd.Series | None = None,
                    min_points: int = 50) -> Calibration:
    """Conformal factors from a cross-validation frame (one model per series: e.g. the selected one).

    ``groups``: unique_id -> group label (e.g. series class); ``train``: the series the backtest
    ran on (for the per-series scale).
    """
    S.require_columns(cv, S.CV_COLUMNS, "cross-validation frame")
    ok = cv[np.isfinite(cv[S.QUANTILE_COLUMNS].to_numpy(float)).all(axis=1) & cv[S.Y].notna()]
    step = _steps(ok, ok[S.CUTOFF])
    y = ok[S.Y].to_numpy(float)
    med = ok[MEDIAN].to_numpy(float)
    grp = (groups.reindex(ok[S.UID]).fillna(ALL).to_numpy(dtype=object) if groups is not None
           else np.full(len(ok), ALL, dtype=object))
    codes, names = pd.factorize(grp, sort=True)  # integer comparisons, groups still in sorted order
    rows = []
    for tau, col in zip(S.QUANTILE_LEVELS, S.QUANTILE_COLUMNS):
        if tau == 0.5:
            continue
        w = np.abs(ok[col].to_numpy(float) - med)
        pos = w > 1e-9
        r = np.where(pos, (y - med) / np.where(pos, w, 1.0), np.nan)
        for k in np.unique(step):
            at = (step == k) & pos
            if not at.any():
                continue
            rows.append((ALL, int(k), tau, _conformal(r[at], tau), int(at.sum())))
            for c in np.unique(codes[at]):
                g = names[c]
                sel = at & (codes == c)
                if g != ALL and sel.sum() >= min_points:
                    rows.append((g, int(k), tau, _conformal(r[sel], tau), int(sel.sum())))
    f = pd.DataFrame(rows, columns=[GROUP, STEP, "level", "factor", "n"])
    return Calibration(f)


def apply_calibration(forecasts: pd.DataFrame, calib: Calibration, train: pd.DataFrame,
                      groups: pd.Series | None = None) -> pd.DataFrame:
    """Calibrated copy of a forecasts frame (step k = months after each series' last month)."""
    S.require_columns(forecasts, S.FORECAST_COLUMNS, "forecasts")
    out = forecasts.copy()
    if out.empty or calib.factors.empty:
        return out
    last = train.groupby(S.UID)[S.DS].max()
    step = _steps(out, last.reindex(out[S.UID]).reset_index(drop=True).set_axis(out.index))
    f = calib.factors
    kmax = int(f[STEP].max())
    step = np.minimum(step, kmax)
    grp = (groups.reindex(out[S.UID]).fillna(ALL).to_numpy(dtype=object) if groups is not None
           else np.full(len(out), ALL, dtype=object))
    med = out[MEDIAN].to_numpy(float)
    for tau, col in zip(S.QUANTILE_LEVELS, S.QUANTILE_COLUMNS):
        if tau == 0.5:
            continue
        ft = f[f["level"] == tau]
        glob = ft[ft[GROUP] == ALL].set_index(STEP)["factor"]
        base = glob.reindex(step).to_numpy(float)
        fac = base.copy()
        for g, gt in ft[ft[GROUP] != ALL].groupby(GROUP):
            sel = grp == g
            vals = gt.set_index(STEP)["factor"].reindex(step[sel]).to_numpy(float)
            fac[sel] = np.where(np.isnan(vals), base[sel], vals)
        fac = np.where(np.isfinite(fac), fac, 1.0)
        w = np.abs(out[col].to_numpy(float) - med)
        out[col] = med + fac * w if tau > 0.5 else med - fac * w  # w = 0 stays at the median
    q = np.maximum(out[S.QUANTILE_COLUMNS].to_numpy(float), 0.0)
    ints = pd.Series(np.mod(train[S.Y].to_numpy(float), 1) == 0, index=train.index).groupby(train[S.UID]).all()
    is_int = ints.reindex(out[S.UID]).fillna(False).to_numpy(bool)
    q[is_int] = np.round(q[is_int])
    out[S.QUANTILE_COLUMNS] = np.sort(q, axis=1)
    return out
