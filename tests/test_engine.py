"""Engine: forecast dates, identical results whatever n_jobs, progress callback."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from forecast import schema as S
from forecast.backtest import cross_validation
from forecast.engine import fit_predict, prepare_series
from forecast.errors import DataError


def demo(n_series: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    parts = []
    for i in range(n_series):
        n = 40 if i % 3 else 26
        t = np.arange(n)
        y = rng.poisson(5 * (1 + 0.5 * np.sin(2 * np.pi * t / 12))).astype(float)
        start = "2019-01-01" if i % 2 else "2019-03-01"
        parts.append(pd.DataFrame({S.UID: f"z{i}", S.DS: pd.date_range(start, periods=n, freq="MS"), S.Y: y}))
    return pd.concat(parts[::-1], ignore_index=True)  # unsorted on purpose


def test_fit_predict_dates_and_columns() -> None:
    series = demo()
    fc = fit_predict(series, {"seasonal_naive": {}}, h=4)
    assert list(fc.columns) == S.FORECAST_COLUMNS
    assert len(fc) == 6 * 4
    last = series.groupby(S.UID)[S.DS].max()
    for uid, g in fc.groupby(S.UID):
        expected = pd.date_range(last[uid] + pd.offsets.MonthBegin(1), periods=4, freq="MS")
        np.testing.assert_array_equal(g[S.DS].to_numpy(), expected.to_numpy())
    assert (fc[S.MEAN] >= 0).all()


def test_identical_whatever_n_jobs() -> None:
    series = demo()
    specs = {"seasonal_naive": {}, "arima": {}}
    a = fit_predict(series, specs, h=3, n_jobs=1)
    b = fit_predict(series, specs, h=3, n_jobs=2)
    pdt.assert_frame_equal(a, b)
    cv1 = cross_validation(series, {"seasonal_naive": {}, "ets": {}}, h=3, n_windows=2, n_jobs=1)
    cv2 = cross_validation(series, {"seasonal_naive": {}, "ets": {}}, h=3, n_windows=2, n_jobs=2)
    pdt.assert_frame_equal(cv1, cv2)


def test_progress_callback() -> None:
    calls: list[tuple[int, int]] = []
    fit_predict(demo(), {"seasonal_naive": {}}, h=2, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_gaps_are_rejected() -> None:
    series = demo(1).drop(index=5)
    with pytest.raises(DataError, match="consecutive"):
        prepare_series(series)
