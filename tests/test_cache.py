"""Results cache: reruns reuse unchanged series, recompute changed ones, never serve stale results."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from forecast import schema as S
from forecast.backtest import cross_validation
from forecast.cache import ResultCache, default_cache_dir
from forecast.engine import fit_predict
from forecast.executors import LocalExecutor, session


def panel(n_series: int = 10, n: int = 40, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        y = rng.poisson(3 + i % 4, size=n).astype(float)
        parts.append(pd.DataFrame({S.UID: f"u{i:02d}", S.DS: pd.date_range("2021-01-01", periods=n, freq="MS"), S.Y: y}))
    return pd.concat(parts, ignore_index=True)


SPECS = {"seasonal_naive": {}, "ets": {}}  # one vectorised family, one per-series: two engine calls


def test_rerun_is_all_hits_and_identical(tmp_path: Path) -> None:
    series = panel()
    fresh = cross_validation(series, SPECS, h=4, n_windows=2)
    cache = ResultCache(tmp_path / "cache")
    with session(LocalExecutor(2), cache):
        first = cross_validation(series, SPECS, h=4, n_windows=2)
    assert cache.stats() == {"hits": 0, "misses": 20, "batches_written": cache.batches_written}
    assert cache.batches_written >= 2 and len(list((tmp_path / "cache").glob("*.npz"))) == cache.batches_written
    again = ResultCache(tmp_path / "cache")  # a new process would start from the files
    with session(LocalExecutor(1), again):
        second = cross_validation(series, SPECS, h=4, n_windows=2)
    assert again.hits == 20 and again.misses == 0 and again.batches_written == 0
    pdt.assert_frame_equal(fresh, first)
    pdt.assert_frame_equal(fresh, second)


def test_only_changed_series_are_recomputed(tmp_path: Path) -> None:
    series = panel()
    cache = ResultCache(tmp_path)
    with session(None, cache):
        fit_predict(series, SPECS, h=3)
    changed = series.copy()
    changed.loc[changed[S.UID] == "u03", S.Y] += 1.0
    cache2 = ResultCache(tmp_path)
    with session(None, cache2):
        got = fit_predict(changed, SPECS, h=3)
    assert (cache2.hits, cache2.misses) == (18, 2)
    pdt.assert_frame_equal(got, fit_predict(changed, SPECS, h=3))
    # another horizon or other model parameters: every series is a miss (no stale hit)
    cache3 = ResultCache(tmp_path)
    with session(None, cache3):
        fit_predict(changed, SPECS, h=4)
        fit_predict(changed, {"seasonal_naive": {"interval": "empirical"}}, h=3)
    assert cache3.hits == 0 and cache3.misses == 30


def test_identical_series_and_subsets_map_back(tmp_path: Path) -> None:
    series = panel(4)
    twin = series[series[S.UID] == "u01"].assign(**{S.UID: "zz_twin_of_u01"})
    cache = ResultCache(tmp_path)
    with session(None, cache):
        fit_predict(series, {"seasonal_naive": {}}, h=2)
    cache2 = ResultCache(tmp_path)
    both = pd.concat([series[series[S.UID].isin(["u01", "u02"])], twin], ignore_index=True)
    with session(None, cache2):
        got = fit_predict(both, {"seasonal_naive": {}}, h=2)
    assert (cache2.hits, cache2.misses) == (3, 0)
    pdt.assert_frame_equal(got, fit_predict(both, {"seasonal_naive": {}}, h=2))
    a = got[got[S.UID] == "u01"][S.QUANTILE_COLUMNS].to_numpy()
    b = got[got[S.UID] == "zz_twin_of_u01"][S.QUANTILE_COLUMNS].to_numpy()
    np.testing.assert_array_equal(a, b)


def test_damaged_cache_file_is_recomputed(tmp_path: Path, caplog) -> None:
    series = panel(6)
    cache = ResultCache(tmp_path)
    with session(None, cache):
        expected = fit_predict(series, {"seasonal_naive": {}}, h=2)
    victim = sorted(tmp_path.glob("*.npz"))[0]
    victim.write_bytes(b"not an npz file")
    cache2 = ResultCache(tmp_path)
    with session(None, cache2):
        got = fit_predict(series, {"seasonal_naive": {}}, h=2)
    pdt.assert_frame_equal(got, expected)
    assert cache2.misses >= 1 and cache2.hits + cache2.misses == 6
    assert "unreadable" in caplog.text


def test_default_cache_dir_is_next_to_the_store(tmp_path: Path) -> None:
    assert default_cache_dir(tmp_path / "data" / "forecast.duckdb") == (tmp_path / "data" / "cache").resolve()


def test_one_more_month_reuses_the_anchored_backtest(tmp_path: Path) -> None:
    """With backtest_refresh = 3 the windows move every 3 months: one more month of data reuses the
    whole backtest from the cache and refits only the full-history forecasts."""
    full = panel(8, n=41)
    before = full[full[S.DS] < full[S.DS].max()]  # 40 months, then one more
    cache = ResultCache(tmp_path)
    with session(None, cache, refresh=3):
        cv0 = cross_validation(before, SPECS, h=4, n_windows=2)
        fit_predict(before, SPECS, h=3)
    cutoffs = sorted(set(cv0[S.CUTOFF]))
    assert [(c.year, c.month) for c in cutoffs] == [(2023, 8), (2023, 12)]  # training lengths 32 and 36
    cache2 = ResultCache(tmp_path)
    with session(None, cache2, refresh=3):
        cv1 = cross_validation(full, SPECS, h=4, n_windows=2)
        assert (cache2.hits, cache2.misses) == (16, 0)
        fc1 = fit_predict(full, SPECS, h=3)
        assert (cache2.hits, cache2.misses) == (16, 16)
    pdt.assert_frame_equal(cv0, cv1)
    assert fc1[S.DS].min() == full[S.DS].max() + pd.offsets.MonthBegin(1)
    plain = cross_validation(full, SPECS, h=4, n_windows=2)  # refresh 1: the latest windows
    assert sorted(set(plain[S.CUTOFF]))[-1] == full[S.DS].max() - pd.offsets.MonthBegin(4)


@pytest.mark.parametrize("n_before", [39, 40])
def test_between_refreshes_the_full_history_fit_only_updates_its_anchored_parameters(tmp_path: Path, n_before: int) -> None:
    """backtest_refresh = 3: the full-history ARIMA/ETS fits estimate their parameters on the series
    rounded down to a multiple of 3 months, keep that state in the cache, and run it through the
    months after. One more month later the parameters are not estimated again: the forecast is
    exactly that stored state filtered through the new data."""
    from forecast.engine import _prefix_key, warm_scope
    from forecast.models import make_model

    full = panel(4, n=n_before + 1)
    before = full[full[S.DS] < full[S.DS].max()]  # 39 (the anchor itself) or 40 months, then one more
    specs = {"arima": {}, "ets": {}}
    with session(None, ResultCache(tmp_path), refresh=3), warm_scope():
        cross_validation(before, specs, h=4, n_windows=2)
        fc0 = fit_predict(before, specs, h=3)
    stored = {}
    for f in (tmp_path / "states").glob("*.json"):
        stored.update(json.loads(f.read_text()))
    assert len(stored) == 8  # 4 series x 2 families, one anchored state each
    cache = ResultCache(tmp_path)
    with session(None, cache, refresh=3), warm_scope():
        cross_validation(full, specs, h=4, n_windows=2)
        fc1 = fit_predict(full, specs, h=3)
    for uid, g in full.groupby(S.UID):
        y = g.sort_values(S.DS)[S.Y].to_numpy(float)
        for fam in specs:
            state = stored[_prefix_key(fam, {}, y[:39]).hex()]
            expect = make_model(fam).fit(y, warm={**state, "fixed": True}).predict(3)
            got = fc1[(fc1[S.UID] == uid) & (fc1[S.MODEL] == fam)]
            np.testing.assert_allclose(got[S.MEAN].to_numpy(), expect.mean, rtol=1e-9)
            assert got[S.DS].min() == full[S.DS].max() + pd.offsets.MonthBegin(1)
    # the first run's forecasts were the same anchored state filtered through its 40 months
    y0 = before[before[S.UID] == "u00"].sort_values(S.DS)[S.Y].to_numpy(float)
    st = stored[_prefix_key("arima", {}, y0[:39]).hex()]
    if n_before > 39:
        np.testing.assert_allclose(fc0[(fc0[S.UID] == "u00") & (fc0[S.MODEL] == "arima")][S.MEAN].to_numpy(),
                                   make_model("arima").fit(y0, warm={**st, "fixed": True}).predict(3).mean, rtol=1e-9)



def test_a_fixed_update_keeps_the_parameters() -> None:
    from forecast.models import make_model

    rng = np.random.default_rng(3)
    y = rng.poisson(20 + 8 * np.sin(np.arange(60) * 2 * np.pi / 12)).astype(float)
    for fam in ("arima", "ets"):
        state = make_model(fam).fit(y[:57]).warm_state()
        upd = make_model(fam).fit(y, warm={**state, "fixed": True})
        refit = make_model(fam).fit(y, warm=state)
        assert upd.warm_state()["params"] == state["params"]
        assert not np.allclose(refit.warm_state()["params"], state["params"])  # a fit moves them
        assert np.all(upd.predict(6).mean >= 0)


def test_memo_round_trip_and_frame_digest(tmp_path: Path) -> None:
    from forecast.cache import frame_digest

    cache = ResultCache(tmp_path)
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    key = frame_digest(df, np.arange(3), "m")
    assert key == frame_digest(df.copy(), np.arange(3), "m")
    assert key != frame_digest(df.assign(a=[1.0, 2.5]), np.arange(3), "m")
    noisy = np.nextafter(1.0, 2.0)  # the last bit differs
    assert noisy != 1.0 and key == frame_digest(df.assign(a=[noisy, 2.0]), np.arange(3), "m")
    assert cache.memo_get("k", key) is None
    cache.memo_put("k", key, {"method": "mint", "trusted": ["zone_total"]})
    assert ResultCache(tmp_path).memo_get("k", key) == {"method": "mint", "trusted": ["zone_total"]}
