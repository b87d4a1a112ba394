"""Rolling-origin backtest (time-series cross-validation).

Window k (oldest first) of a series with ``n_obs`` months trains on its first
``n_obs - h - step * (n_windows - 1 - k)`` months and forecasts the next ``h`` months, which are
all observed. Windows are placed from each series' own end (on a full grid every series ends on
the same month, so cutoffs line up). A window whose training part would be shorter than
``min_train`` months is skipped for that series (short series get fewer windows, possibly none).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecast.engine import Progress, cross_validate
from forecast.errors import ModelError


def cutoffs(n_obs: int, h: int, n_windows: int, step: int | None = None, min_train: int = 1) -> list[int]:
    """Training lengths (months up to and including each cutoff) of the windows, oldest first.

    >>> cutoffs(84, 12, 3, 12)
    [48, 60, 72]
    """
    if h < 1 or n_windows < 1:
        raise ModelError(f"backtest: h and n_windows must be >= 1 (got h={h}, n_windows={n_windows})")
    step = h if not step else int(step)
    if step < 1:
        raise ModelError(f"backtest: step must be >= 1, got {step}")
    lengths = [n_obs - h - step * (n_windows - 1 - k) for k in range(n_windows)]
    return [n for n in lengths if n >= max(1, min_train)]


def cross_validation(
    series: pd.DataFrame,
    model_specs: dict[str, dict[str, Any]],
    h: int,
    n_windows: int = 3,
    step: int | None = None,
    n_jobs: int = 1,
    min_train: int = 1,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Backtest every model on every series: frame with ``schema.CV_COLUMNS``.

    ``series``: long frame (unique_id, ds, y) on a full monthly grid. ``model_specs``:
    ``{name: params}`` (see :func:`forecast.engine.resolve_specs`). ``step`` defaults to ``h``
    (windows do not overlap). A model that fails on a series gives NaN rows for that window.
    """
    cutoffs(max(h + min_train, 1), h, n_windows, step)  # validates the arguments early

    def lengths(n_obs: int) -> list[int]:
        return cutoffs(n_obs, h, n_windows, step, min_train)

    return cross_validate(series, model_specs, h, lengths, n_jobs=n_jobs, progress=progress)


def backtest_months(n_obs: int, h: int, n_windows: int, step: int | None = None) -> int:
    """Months of a series of ``n_obs`` that its backtest covers (up to the end of the latest window):
    ``n_obs``, except with ``[engine] backtest_refresh`` > 1 where the windows are anchored
    (:func:`forecast.executors.session`) and may end up to ``refresh - 1`` months earlier."""
    from forecast.executors import anchored_lengths

    lengths = cutoffs(n_obs, h, n_windows, step)
    if not lengths:
        return n_obs
    return max(anchored_lengths(lengths, n_obs)) + h


def backtest_span(series: pd.DataFrame, cv: pd.DataFrame | None = None, h: int = 12, n_windows: int = 3,
                  step: int | None = None) -> pd.DataFrame:
    """The part of each series its backtest covers: the rows up to the last month of its latest
    backtest window, from ``cv`` when given, else computed (:func:`backtest_months`). Series the
    backtest does not cover are kept whole.

    Whatever is decided from the backtest (the series classes, the choice of candidate per group, the
    screening plan) is decided on this span, so that it stays the same between two backtest
    refreshes: with ``[engine] backtest_refresh`` > 1, a monthly rerun finds it unchanged."""
    from forecast import schema as S

    if cv is not None:
        if cv.empty:
            return series
        end = cv.groupby(S.UID, sort=False)[S.DS].max()
        last = series[S.UID].map(end)
        keep = last.isna().to_numpy() | (series[S.DS] <= last).to_numpy()
        return series[keep]
    by = series.groupby(S.UID, sort=False)[S.DS]
    n = by.transform("size").to_numpy()
    pos = by.rank(method="first").to_numpy(dtype=np.int64) - 1
    months = {k: backtest_months(int(k), h, n_windows, step) for k in set(n.tolist())}
    lim = np.fromiter((months[k] for k in n), dtype=np.int64, count=len(n))
    return series[pos < lim]
