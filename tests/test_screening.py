"""Screening: costly families skipped where a cheap family wins the class, results otherwise unchanged."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from forecast import schema as S
from forecast.backtest import cross_validation
from forecast.cache import ResultCache
from forecast.engine import fit_predict
from forecast.executors import session, set_plan
from forecast.screening import WorkPlan, screen


def panel() -> pd.DataFrame:
    """40 intermittent series (a cheap family wins) and 6 smooth seasonal ones."""
    rng = np.random.default_rng(1)
    parts = []
    for i in range(46):
        n = 40
        if i < 40:
            y = (rng.random(n) < 0.25) * rng.poisson(2, n)
        else:
            y = rng.poisson(20 * (1 + 0.3 * np.sin(np.arange(n) * 2 * np.pi / 12)), n)
        parts.append(pd.DataFrame({S.UID: f"s{i:02d}", S.DS: pd.date_range("2020-01-01", periods=n, freq="MS"),
                                   S.Y: y.astype(float)}))
    return pd.concat(parts, ignore_index=True)


FAMILIES = ["seasonal_naive", "sba", "tsb", "ets"]


def test_screening_restricts_costly_family_to_the_sample(tmp_path) -> None:
    series = panel()
    cache = ResultCache(tmp_path)
    with session(None, cache):
        plan = screen(series, FAMILIES, backtest_horizon=6, windows=2, sample=8, combos={}, n_jobs=1)
        rep = plan.report.set_index("series_class")
        assert "intermittent/v0" in rep.index and "smooth/v1" in rep.index
        assert rep.loc["intermittent/v0", "sample"] == 8  # the only class with more than 2 * 8 series
        small = rep.drop(index="intermittent/v0")  # with a cache, small classes are screened whole
        assert (small["sample"] == small["n_series"]).all() and (small["costly_backtest"] == "ets: all series").all()
        assert rep.loc["intermittent/v0", "winner_on_sample"] in {"seasonal_naive", "sba", "tsb"}
        assert rep.loc["intermittent/v0", "costly_backtest"] == "ets: sample only"
        assert rep.loc["intermittent/v0", "costly_final_fit"] == "none"
        n_int = int(rep.loc["intermittent/v0", "n_series"])
        assert n_int >= 36 and len(plan.allowed["ets"]) == 8 and len(plan.restricted) == n_int
        assert plan.skipped_fraction(["ets"], 46) == pytest.approx((n_int - 8) / 46)
        hits0, misses0 = cache.hits, cache.misses
        set_plan(plan)
        cv = cross_validation(series, {"ets": {}, "sba": {}}, h=6, n_windows=2)
        # each spec runs in its own engine call; every series the screening backtested (the 8 sampled
        # intermittent ones and the small classes, whole) comes from the cache, for both families
        assert cache.hits - hits0 == 2 * (8 + 46 - n_int)
        assert cache.misses - misses0 == n_int - 8
        fc = fit_predict(series, {"ets": {}, "sba": {}}, h=3)
    # full-history fits: ETS only on the classes whose backtest winner uses it
    assert set(fc.loc[fc[S.MODEL] == "ets", S.UID]) == set(series[S.UID]) - plan.final_skip["ets"]
    assert len(plan.final_skip["ets"]) >= n_int and set(fc.loc[fc[S.MODEL] == "sba", S.UID]) == set(series[S.UID])
    per_model = cv.groupby(S.MODEL)[S.UID].nunique()
    assert per_model["sba"] == 46 and per_model["ets"] == 8 + 46 - n_int
    full = cross_validation(series, {"ets": {}, "sba": {}}, h=6, n_windows=2)
    kept = full[(full[S.MODEL] == "sba") | full[S.UID].isin(set(cv.loc[cv[S.MODEL] == "ets", S.UID]))]
    pdt.assert_frame_equal(cv.reset_index(drop=True), kept.reset_index(drop=True))


def test_empty_plan_and_no_costly_family() -> None:
    series = panel()
    assert screen(series, ["seasonal_naive", "sba"], sample=5).restricted == frozenset()
    assert WorkPlan().mask("ets", ["a", "b"]) is None
    with pytest.raises(RuntimeError, match="session"):
        set_plan(WorkPlan())


def test_only_the_costly_family_the_winner_uses_runs_on_the_whole_class(tmp_path) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(48)
    parts = [pd.DataFrame({S.UID: f"m{i:02d}", S.DS: pd.date_range("2020-01-01", periods=48, freq="MS"),
                           S.Y: rng.poisson(30 * (1 + 0.4 * np.sin(t * 2 * np.pi / 12)) + 0.3 * t).astype(float)})
             for i in range(20)]
    series = pd.concat(parts, ignore_index=True)
    with session(None, ResultCache(tmp_path)):
        plan = screen(series, ["seasonal_naive", "sba", "ets", "arima"], backtest_horizon=6, windows=2, sample=6,
                      combos={}, n_jobs=1)
    row = plan.report.iloc[0]
    assert row["n_series"] == 20 and row["sample"] == 6
    win = row["winner_on_sample"]
    ids = set(series[S.UID])
    for fam in ("ets", "arima"):
        if fam == win:
            assert plan.allowed[fam] >= ids and f"{fam}: all series" in row["costly_backtest"]
        else:
            assert len(plan.allowed[fam] & ids) == 6 and f"{fam}: sample only" in row["costly_backtest"]
            assert plan.final_skip[fam] >= ids
    assert plan.restricted == frozenset(ids)


def test_a_costly_winner_that_does_not_pay_for_its_cost_is_replaced_by_the_best_cheap_one(tmp_path) -> None:
    series = panel()
    fams = ["seasonal_naive", "sba", "tsb", "ets"]
    with session(None, ResultCache(tmp_path)):
        base = screen(series, fams, backtest_horizon=6, windows=2, sample=3, combos={}, n_jobs=1)
        rep = base.report.set_index("series_class")
        costly_won = rep[rep["winner_on_sample"] == "ets"]
        assert len(costly_won), rep  # the smooth seasonal class: ETS wins on its sample
        cls = costly_won.index[0]
        gain = float(rep.loc[cls, "gain_over_best_cheap"])
        assert 0 < gain < 1
        strict = screen(series, fams, backtest_horizon=6, windows=2, sample=3, combos={}, n_jobs=1,
                        margin=min(0.99, gain + 0.01))
        lax = screen(series, fams, backtest_horizon=6, windows=2, sample=3, combos={}, n_jobs=1, margin=gain / 2)
    s_row, l_row = strict.report.set_index("series_class").loc[cls], lax.report.set_index("series_class").loc[cls]
    assert s_row["winner_on_sample"] in {"seasonal_naive", "sba", "tsb"} and s_row["costly_final_fit"] == "none"
    assert l_row["winner_on_sample"] == "ets" and l_row["costly_final_fit"] == "ets"


def test_a_costly_win_must_exceed_the_margin_and_the_noise_of_the_sample() -> None:
    from forecast.screening import costly_pays

    rng = np.random.default_rng(0)
    clear = 0.05 + rng.normal(0, 0.02, 60)     # better on almost every series
    noisy = 0.01 + rng.normal(0, 0.2, 60)      # better on average, by less than its noise
    assert costly_pays(0.05, clear, 0.01)[0] and costly_pays(0.05, clear, 0.01)[1] > 10
    assert not costly_pays(0.02, noisy, 0.01)[0]             # the gain is within the noise
    assert not costly_pays(0.005, clear, 0.01)[0]            # below the margin
    assert costly_pays(0.02, noisy[:5], 0.01)[0]             # too few series to tell: the margin alone
    assert costly_pays(0.0, np.zeros(0), 0.0)[0] is True
