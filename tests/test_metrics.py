"""Metrics against hand-computed values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.metrics import aggregate, coverage, evaluate, mase, quantile_loss, rmsse, wape


def test_mase_seasonal_scale() -> None:
    y_train = np.r_[np.arange(12.0), np.arange(12.0) + 2]  # seasonal diffs all 2
    assert mase([10, 12], [11, 10], y_train, m=12) == pytest.approx(1.5 / 2)


def test_mase_falls_back_to_lag1() -> None:
    # shorter than m + 1: lag-1 scale = mean(|1|, |2|) = 1.5
    assert mase([4.0], [1.0], [1.0, 2.0, 4.0], m=12) == pytest.approx(3 / 1.5)
    # seasonal scale 0 (exact repeat) -> lag-1 scale
    y_train = np.tile([0.0, 2.0], 12)  # lag-12 diffs all 0, lag-1 diffs all 2
    assert mase([2.0], [0.0], y_train, m=12) == pytest.approx(1.0)
    assert np.isnan(mase([1.0], [0.0], np.zeros(30), m=12))


def test_rmsse() -> None:
    y_train = np.array([1.0, 3.0, 2.0, 4.0])  # diffs 2, -1, 2 -> mse 3
    assert rmsse([5.0, 5.0], [4.0, 7.0], y_train) == pytest.approx(np.sqrt(2.5 / 3))
    assert np.isnan(rmsse([1.0], [0.0], np.ones(5)))


def test_wape_coverage_quantile_loss() -> None:
    assert wape([10, 0, 10], [8, 1, 13]) == pytest.approx(6 / 20)
    assert np.isnan(wape([0, 0], [0, 0]))
    assert np.isinf(wape([0, 0], [1, 0]))
    assert coverage([1, 5, 10, 3], [0, 5, 0, 4], [2, 6, 9, 8]) == pytest.approx(0.5)
    # pinball at 0.9: y=10, q=8 -> 0.9*2 = 1.8; y=5, q=8 -> 0.1*3 = 0.3
    assert quantile_loss([10, 5], [8, 8], 0.9) == pytest.approx((1.8 + 0.3) / 2)


def _cv(uid: str, model: str, cutoff: str, y: list[float], mean: list[float], lo: float, hi: float) -> pd.DataFrame:
    h = len(y)
    ds = pd.date_range(pd.Timestamp(cutoff) + pd.offsets.MonthBegin(1), periods=h, freq="MS")
    df = pd.DataFrame({S.UID: uid, S.DS: ds, S.MODEL: model, S.MEAN: mean, S.CUTOFF: pd.Timestamp(cutoff), S.Y: y})
    for q in S.QUANTILE_LEVELS:
        df[S.qcol(q)] = lo if q < 0.5 else hi if q > 0.5 else np.asarray(mean)
    df[S.qcol(0.1)] = np.asarray(mean) - 1
    df[S.qcol(0.9)] = np.asarray(mean) + 1
    return df[S.CV_COLUMNS]


def test_evaluate_and_aggregate_by_hand() -> None:
    # series a: 4 months of training, lag-1 scale (shorter than 13): |1|,|1|,|1| -> 1; mse 1
    train = pd.DataFrame({S.UID: "a", S.DS: pd.date_range("2020-01-01", periods=6, freq="MS"),
                          S.Y: [1.0, 2.0, 3.0, 4.0, 5.0, 9.0]})
    cv = pd.concat([
        _cv("a", "m1", "2020-04-01", [5.0, 9.0], [5.0, 7.0], 0.0, 100.0),   # errors 0, 2
        _cv("a", "m2", "2020-04-01", [5.0, 9.0], [np.nan, np.nan], 0.0, 100.0),  # failed
    ])
    met = evaluate(cv, train).set_index([S.MODEL, S.METRIC])[S.VALUE]
    assert met[("m1", "mase")] == pytest.approx(1.0)           # mae 1 / scale 1
    assert met[("m1", "rmsse")] == pytest.approx(np.sqrt(2.0))  # mse 2 / 1
    assert met[("m1", "wape")] == pytest.approx(2 / 14)
    assert met[("m1", "coverage_80")] == pytest.approx(0.5)    # 9 outside [6, 8]
    assert met[("m1", "coverage_95")] == pytest.approx(1.0)
    assert met.loc["m2"].isna().all()
    agg = aggregate(evaluate(cv, train)).set_index([S.MODEL, S.METRIC])[S.VALUE]
    assert agg[("m1", "mase")] == pytest.approx(1.0)
    assert np.isnan(agg[("m2", "mase")])


def test_scale_uses_training_up_to_each_cutoff_and_windows_are_averaged() -> None:
    y = [0.0, 1.0, 0.0, 1.0, 10.0, 20.0, 30.0, 40.0]
    train = pd.DataFrame({S.UID: "a", S.DS: pd.date_range("2020-01-01", periods=8, freq="MS"), S.Y: y})
    cv = pd.concat([
        _cv("a", "m", "2020-04-01", [10.0], [9.0], 0, 100),  # train 0,1,0,1: scale 1 -> mase 1
        _cv("a", "m", "2020-06-01", [30.0], [29.0], 0, 100),  # train ..., 10, 20: scale (1+1+1+9+10)/5
    ])
    met = evaluate(cv, train).set_index(S.METRIC)[S.VALUE]
    assert met["mase"] == pytest.approx((1.0 + 1.0 / (22 / 5)) / 2)


def test_aggregate_pools_wape_and_ignores_inf_mase() -> None:
    rows = [("a", "m", "mase", 1.0, 1.0, 1.0), ("b", "m", "mase", np.inf, np.inf, 1.0),
            ("a", "m", "wape", 0.5, 5.0, 10.0), ("b", "m", "wape", 0.1, 10.0, 100.0)]
    met = pd.DataFrame(rows, columns=[S.UID, S.MODEL, S.METRIC, S.VALUE, "numerator", "denominator"])
    agg = aggregate(met).set_index(S.METRIC)[S.VALUE]
    assert agg["mase"] == pytest.approx(1.0)
    assert agg["wape"] == pytest.approx(15 / 110)
