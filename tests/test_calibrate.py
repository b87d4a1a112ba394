"""Conformal calibration of quantiles per horizon step; Syntetos-Boylan classes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.calibrate import apply_calibration, fit_calibration
from forecast.classify_series import classify, classify_values


def _cv(n_series: int, width: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecasts with median 100 and a too-narrow normal interval (sd `width`); truth sd 10."""
    rng = np.random.default_rng(seed)
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf(q) for q in S.QUANTILE_LEVELS])
    cut = pd.Timestamp("2021-12-01")
    ds = pd.date_range("2022-01-01", periods=6, freq="MS")
    rows, train = [], []
    for i in range(n_series):
        u = f"s{i}"
        y = 100 + rng.normal(0, 10, len(ds))
        for d, yy in zip(ds, y):
            rows.append({S.UID: u, S.DS: d, S.MODEL: "m", S.MEAN: 100.0,
                         **dict(zip(S.QUANTILE_COLUMNS, 100 + z * width)), S.CUTOFF: cut, S.Y: yy})
        train.append(pd.DataFrame({S.UID: u, S.DS: pd.date_range("2020-01-01", cut, freq="MS"),
                                   S.Y: 100 + rng.normal(0, 10, 24)}))
    return pd.DataFrame(rows)[S.CV_COLUMNS], pd.concat(train, ignore_index=True)


def _coverage(frame: pd.DataFrame, lo: float, hi: float) -> float:
    y = frame[S.Y].to_numpy()
    return float(np.mean((y >= frame[S.qcol(lo)]) & (y <= frame[S.qcol(hi)])))


def test_calibration_restores_nominal_coverage_out_of_sample() -> None:
    cv, train = _cv(400, width=3.0, seed=0)
    assert _coverage(cv, 0.1, 0.9) < 0.4  # too narrow before
    calib = fit_calibration(cv, train)
    test, _ = _cv(400, width=3.0, seed=1)
    # a forecasts frame whose step 1 is the month after each series' last training month
    fc = test.drop(columns=[S.Y, S.CUTOFF])
    out = apply_calibration(fc, calib, train).assign(**{S.Y: test[S.Y].to_numpy()})
    assert _coverage(out, 0.1, 0.9) == pytest.approx(0.8, abs=0.03)
    assert _coverage(out, 0.025, 0.975) == pytest.approx(0.95, abs=0.02)
    assert np.all(np.diff(out[S.QUANTILE_COLUMNS].to_numpy(), axis=1) >= 0)
    np.testing.assert_array_equal(out[S.qcol(0.5)], fc[S.qcol(0.5)])  # the median is kept
    assert set(calib.factors["step"]) == set(range(1, 7))


def test_calibration_of_counts_is_non_negative_and_whole() -> None:
    cv, train = _cv(100, width=30.0, seed=2)
    cv[S.Y] = np.round(np.abs(cv[S.Y] - 95))
    for c in S.QUANTILE_COLUMNS:
        cv[c] = cv[c] - 95
    train[S.Y] = np.round(np.abs(train[S.Y] - 95))
    out = apply_calibration(cv.drop(columns=[S.Y, S.CUTOFF]), fit_calibration(cv, train), train)
    q = out[S.QUANTILE_COLUMNS].to_numpy()
    assert q.min() >= 0 and np.all(q == np.round(q))


def test_classes() -> None:
    assert classify_values(np.full(24, 5.0))[2] == "smooth"
    assert classify_values(np.tile([1.0, 30.0], 12))[2] == "erratic"
    assert classify_values(np.tile([0, 0, 5.0], 8))[2] == "intermittent"
    assert classify_values(np.tile([0, 0, 1.0, 0, 0, 40.0], 4))[2] == "lumpy"
    assert classify_values(np.zeros(12))[2] == "zero"
    adi, cv2, _ = classify_values(np.array([0, 2.0, 0, 4.0]))
    assert adi == 2.0 and cv2 == pytest.approx(1 / 9)
    frame = pd.DataFrame({S.UID: ["a"] * 4 + ["b"] * 4, S.DS: list(pd.date_range("2020-01-01", periods=4, freq="MS")) * 2,
                          S.Y: [1, 1, 1, 1, 0, 0, 0, 3.0]})
    assert classify(frame).set_index(S.UID)["series_class"].to_dict() == {"a": "smooth", "b": "intermittent"}
