"""The default strategy (combinations, class-level choice, calibration) and the forecasting stage
(hierarchy, reconciliation, sample paths, signals) on small synthetic data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.forecast_stage import forecast_stage, stage_metrics, stage_tables
from forecast.models import make_model
from forecast.paths import SamplePaths
from forecast.select import combine
from forecast.strategy import run_strategy

FAMILIES = ["seasonal_naive", "ets", "theta", "sba", "tsb"]
MONTHS = pd.date_range("2019-01-01", periods=60, freq="MS")


def mixed_series() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(len(MONTHS))
    rows = []
    for i in range(4):
        y = rng.poisson(30 * (1 + 0.4 * np.sin(2 * np.pi * t / 12)) + i)
        rows.append(pd.DataFrame({S.UID: f"smooth{i}", S.DS: MONTHS, S.Y: y.astype(float)}))
    for i in range(4):
        y = rng.poisson(0.3, len(t)) * rng.integers(1, 6, len(t))
        rows.append(pd.DataFrame({S.UID: f"sparse{i}", S.DS: MONTHS, S.Y: y.astype(float)}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def strategy():
    return run_strategy(mixed_series(), FAMILIES, horizon=6, backtest_horizon=6, windows=2, step=6,
                        metric="rmsse", combos={"combo": ("ets", "theta")})


def test_strategy_forecasts_every_series_with_calibrated_quantiles(strategy) -> None:
    fc = strategy.forecasts
    assert sorted(fc[S.UID].unique()) == sorted(mixed_series()[S.UID].unique())
    assert (fc.groupby(S.UID).size() == 6).all() and (fc[S.MODEL] == "selected").all()
    q = fc[S.QUANTILE_COLUMNS].to_numpy()
    assert np.isfinite(q).all() and q.min() >= 0 and np.all(np.diff(q, axis=1) >= 0)
    # class-level choice: one candidate per Syntetos-Boylan class
    sel = strategy.selection.merge(strategy.classes, on=S.UID)
    assert (sel.groupby("series_class")[S.MODEL].nunique() == 1).all()
    assert set(sel[S.MODEL]) <= set(FAMILIES) | {"combo"}
    assert {"combo", *FAMILIES} == set(strategy.cv[S.MODEL]) == set(strategy.candidates[S.MODEL])
    assert set(strategy.calibration.factors["step"]) == set(range(1, 7))


def test_combine_matches_the_combination_model() -> None:
    y = mixed_series().query("unique_id == 'smooth0'")[S.Y].to_numpy()
    rows = []
    for m in ("ets", "theta"):
        f = make_model(m).fit(y).predict(4)
        rows.append(pd.DataFrame({S.UID: "a", S.DS: pd.date_range("2024-01-01", periods=4, freq="MS"), S.MODEL: m,
                                  S.MEAN: f.mean, **{c: f.quantiles[k] for k, c in enumerate(S.QUANTILE_COLUMNS)}}))
    out = combine(pd.concat(rows, ignore_index=True), ("ets", "theta"), how="median")
    direct = make_model("combo", members=("ets", "theta"), how="median").fit(y).predict(4)
    got = out[out[S.MODEL] == "combo"]
    np.testing.assert_allclose(got[S.MEAN], direct.mean)
    np.testing.assert_allclose(got[S.QUANTILE_COLUMNS].to_numpy().T, direct.quantiles)


def test_forecast_stage_on_a_hierarchy(tmp_path) -> None:
    from test_reconcile import toy_series

    series = toy_series()
    ids = set(series[S.UID])
    fs = forecast_stage(series, ids, ["seasonal_naive", "theta", "sba"], horizon=6, backtest_horizon=6, windows=2,
                        step=6, combos={}, n_samples=200)
    assert fs.reconcile_method in ("bottom_up", "wls_struct", "wls_var", "mint_shrink")
    assert fs.coherence < 1e-6
    assert {"4413/other", "R44/other_zones", "4413/domain:A12"} <= set(fs.forecasts[S.UID])
    assert sorted(fs.paths.unique_ids) == sorted(fs.forecasts[S.UID].unique())
    assert fs.paths.values.shape == (fs.forecasts[S.UID].nunique(), 200, 6) and fs.paths.values.min() >= 0
    assert set(fs.signals["signal"]) <= {"emerging", "declining", "stable", "uncertain"}
    m = stage_metrics(fs, "theta")
    assert {"rmsse", "sql", "rmsse_level_rome_zone", "rmsse_level_zone_total"} <= set(m)
    assert set(stage_metrics(fs, "sba")) == set(m)  # same names for every family
    parent = stage_metrics(fs, "parent")
    assert parent["reconcile_coherence_max_abs"] < 1e-6 and any(k.startswith("selected_share_") for k in parent)
    files = stage_tables(fs, tmp_path)
    back = SamplePaths.load(files["paths"])
    assert list(back.unique_ids) == list(fs.paths.unique_ids)
    assert (tmp_path / "signals.csv").exists() and (tmp_path / "reconciliation.csv").exists()


def _two_windows(width: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two backtest windows (cutoffs 6 months apart) of 300 series whose normal intervals have sd
    ``width`` around a median of 100, the truth having sd 10."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_calibrate import _cv

    a, train = _cv(300, width=width, seed=0)
    b, _ = _cv(300, width=width, seed=1)
    b[S.CUTOFF] = b[S.CUTOFF] + pd.DateOffset(months=6)
    b[S.DS] = b[S.DS] + pd.DateOffset(months=6)
    # history up to the second cutoff: the first window's 6 months follow the 24 training months
    later = train.assign(**{S.DS: train[S.DS] + pd.DateOffset(months=6)})
    train = pd.concat([train, later], ignore_index=True).drop_duplicates([S.UID, S.DS])
    return pd.concat([a, b], ignore_index=True), train


@pytest.mark.parametrize("width", [3.0, 30.0])  # intervals far too narrow, far too wide
def test_calibration_kept_where_it_brings_coverage_to_nominal(width: float) -> None:
    from forecast.strategy import calibration_helps, coverage_of

    scv, train = _two_windows(width)
    groups = pd.Series("smooth", index=scv[S.UID].unique())
    late = scv[scv[S.CUTOFF] == scv[S.CUTOFF].max()]
    before = coverage_of(late[S.FORECAST_COLUMNS], late)
    assert abs(before["coverage_80"] - 0.8) > 0.15
    assert calibration_helps(scv, train, groups, "coverage") == {"smooth"}
    with pytest.raises(ValueError, match="criterion"):
        calibration_helps(scv, train, groups, "mape")


def test_choose_calibration_per_class_when_classes_differ() -> None:
    from forecast.strategy import choose_calibration, coverage_of

    narrow, train = _two_windows(3.0)
    wide, train_w = _two_windows(30.0)
    wide[S.UID] = "w" + wide[S.UID]
    train_w[S.UID] = "w" + train_w[S.UID]
    scv = pd.concat([narrow, wide], ignore_index=True)
    train = pd.concat([train, train_w], ignore_index=True)
    groups = pd.Series(np.where(pd.Index(scv[S.UID].unique()).str.startswith("w"), "erratic", "smooth"),
                       index=scv[S.UID].unique())
    pooled, keep = choose_calibration(scv, train, groups, "coverage")
    assert pooled is False and keep == {"smooth", "erratic"}  # one pooled factor cannot fix both
    # a single class: pooled and per-class factors are the same; ties go to per class
    pooled, keep = choose_calibration(narrow, train, groups, "coverage")
    assert pooled is False and keep == {"smooth"}
    late = narrow[narrow[S.CUTOFF] == narrow[S.CUTOFF].max()]
    assert coverage_of(late[S.FORECAST_COLUMNS], late)["coverage_80"] < 0.4


def test_a_chosen_model_missing_on_the_full_history_falls_back_to_one_that_has_a_forecast() -> None:
    from forecast.strategy import _apply

    ds = pd.date_range("2025-01-01", periods=3, freq="MS")

    def rows(uid: str, model: str, value: float) -> pd.DataFrame:
        return pd.DataFrame({S.UID: uid, S.DS: ds, S.MODEL: model, S.MEAN: value,
                             **{c: value for c in S.QUANTILE_COLUMNS}})

    cand = pd.concat([rows("a", "arima", 5.0), rows("a", "seasonal_naive", 4.0),
                      rows("b", "seasonal_naive", 2.0), rows("b", "combo", np.nan),   # combo failed on b
                      rows("c", "theta", 7.0)], ignore_index=True)                    # arima never fitted on b, c
    sel = pd.DataFrame({S.UID: ["a", "b", "c"], S.MODEL: ["arima", "arima", "arima"]})
    out = _apply(cand, sel, fallback="combo")
    chosen = out.groupby(S.UID)["chosen"].first().to_dict()
    assert chosen == {"a": "arima", "b": "seasonal_naive", "c": "theta"}
    assert len(out) == 9 and out[S.MEAN].notna().all()
    assert out.groupby(S.UID)[S.MEAN].first().to_dict() == {"a": 5.0, "b": 2.0, "c": 7.0}


def test_the_backtest_decisions_are_memoised_and_identical(tmp_path, caplog) -> None:
    """In a session with a results cache, a second run on the same backtest reuses the metrics, the
    classes, the choice and the calibration (logged), with identical results."""
    import logging

    from forecast import strategy as st
    from forecast.cache import ResultCache
    from forecast.executors import session

    series = mixed_series()
    families = ["seasonal_naive", "ets", "theta", "sba"]
    with session(cache=ResultCache(tmp_path)):
        first = run_strategy(series, families, horizon=6, backtest_horizon=6, windows=2)
        calls = []
        real = st._decisions
        st._decisions = lambda *a, **k: calls.append(1) or real(*a, **k)
        try:
            with caplog.at_level(logging.INFO, logger="forecast.strategy"):
                again = run_strategy(series, families, horizon=6, backtest_horizon=6, windows=2)
        finally:
            st._decisions = real
    assert calls == [] and "strategy decisions reused" in caplog.text
    for name in ("metrics", "classes", "selection", "selection_score", "forecasts"):
        pd.testing.assert_frame_equal(getattr(first, name).reset_index(drop=True),
                                      getattr(again, name).reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(first.calibration.table(), again.calibration.table(), check_dtype=False)
    cold = run_strategy(series, families, horizon=6, backtest_horizon=6, windows=2)  # no cache: computed
    pd.testing.assert_frame_equal(cold.forecasts, first.forecasts, check_dtype=False)


def test_costly_full_history_fits_only_where_the_choice_uses_them() -> None:
    """The choice is made from the backtest before the full-history fits (the pipeline's forecast
    stage): a costly family is then fitted only on the series whose chosen candidate uses it."""
    from forecast.strategy import final_needs, fit_candidates

    chosen = pd.DataFrame({S.UID: ["a", "b", "c", "d"], S.MODEL: ["arima", "sba", "combo", "ets"]})
    needs = final_needs(chosen, {"a", "b", "c", "d", "e"}, ["seasonal_naive", "ets", "arima", "theta", "sba"],
                        {"combo": ("ets", "arima", "theta")})
    # e has no backtest (the fallback decides): it keeps every family
    assert needs == {"arima": {"a", "c", "e"}, "ets": {"c", "d", "e"}}
    series = mixed_series()
    seen = []
    cv, cand, _ = fit_candidates(series, ["seasonal_naive", "arima", "theta"], horizon=3, backtest_horizon=6,
                                 windows=2, needed=lambda cv: seen.append(len(cv)) or {"arima": {"smooth0", "sparse1"}})
    assert seen == [len(cv)] and set(cv[S.MODEL]) == {"seasonal_naive", "arima", "theta"}  # the whole backtest first
    assert set(cand.loc[cand[S.MODEL] == "arima", S.UID]) == {"smooth0", "sparse1"}
    for fam in ("seasonal_naive", "theta"):
        assert set(cand.loc[cand[S.MODEL] == fam, S.UID]) == set(series[S.UID])
    assert (cand.groupby([S.UID, S.MODEL]).size() == 3).all()


def test_the_nested_score_measures_the_pooled_choice_the_strategy_makes(strategy) -> None:
    """"selected" in the honest score is the strategy's own choice (one model per class and volume
    group, the groups known at the cutoff), made on the first window and scored on the second."""
    from forecast.classify_series import classify
    from forecast.metrics import aggregate, evaluate
    from forecast.select import select_by_group
    from forecast.strategy import choice_groups

    series, cv = mixed_series(), strategy.cv
    first, second = sorted(cv[S.CUTOFF].unique())
    hist = series[series[S.DS] <= second]
    chosen = select_by_group(evaluate(cv[cv[S.CUTOFF] == first], series), choice_groups(hist, classify(hist)),
                             metric="rmsse", fallback="combo")
    late = cv[cv[S.CUTOFF] == second].merge(chosen.rename(columns={S.MODEL: "_c"}), on=S.UID)
    late = late[late[S.MODEL] == late["_c"]].drop(columns="_c").assign(**{S.MODEL: "selected"})
    expected = aggregate(evaluate(late[S.CV_COLUMNS], series)).set_index(S.METRIC)[S.VALUE]
    got = strategy.selection_score[strategy.selection_score[S.MODEL] == "selected"].set_index(S.METRIC)[S.VALUE]
    assert late[S.UID].nunique() == series[S.UID].nunique()
    for metric in ("rmsse", "mase", "coverage_80"):
        assert got[metric] == pytest.approx(expected[metric], rel=1e-12)
