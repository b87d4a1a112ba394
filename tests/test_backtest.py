"""Rolling-origin backtest: cutoffs, window counts, no leakage, failures as NaN rows; selection."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.backtest import cross_validation, cutoffs
from forecast.errors import ModelError
from forecast.metrics import evaluate
from forecast.models import MODEL_REGISTRY
from forecast.models.base import Model, normal_quantiles
from forecast.select import apply_selection, nested_selection_score, select_best


class LastSeen(Model):
    """Forecasts the length of its training series and its last value: shows what it saw."""

    name = "last_seen"

    def _fit(self, y: np.ndarray) -> None:
        self.n_ = len(y)
        self.last_ = float(y[-1])

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        mean = np.full(h, self.last_)
        return mean, normal_quantiles(np.full(h, float(self.n_)), np.zeros(h))


class Explodes(Model):
    name = "explodes"

    def _fit(self, y: np.ndarray) -> None:
        if y.max() > 50:
            raise ValueError("boom")

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        return np.ones(h), normal_quantiles(np.ones(h), np.ones(h))


@pytest.fixture(autouse=True)
def extra_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODEL_REGISTRY, "last_seen", LastSeen)
    monkeypatch.setitem(MODEL_REGISTRY, "explodes", Explodes)


def frame(values: dict[str, np.ndarray], start: str = "2019-01-01") -> pd.DataFrame:
    parts = [pd.DataFrame({S.UID: uid, S.DS: pd.date_range(start, periods=len(y), freq="MS"), S.Y: y})
             for uid, y in values.items()]
    return pd.concat(parts, ignore_index=True)


def test_cutoffs() -> None:
    assert cutoffs(84, 12, 3, 12) == [48, 60, 72]
    assert cutoffs(84, 12, 3) == [48, 60, 72]  # step defaults to h
    assert cutoffs(84, 6, 4, 3) == [69, 72, 75, 78]
    assert cutoffs(30, 12, 3, 12) == [6, 18]  # the oldest window would have no training data
    assert cutoffs(30, 12, 3, 12, min_train=12) == [18]
    with pytest.raises(ModelError):
        cutoffs(84, 0, 3)


def test_windows_and_no_leakage() -> None:
    y = np.arange(1.0, 41.0)  # value = month number, so a leak would show in last_
    cv = cross_validation(frame({"a": y, "b": y[:16]}), {"last_seen": {}}, h=6, n_windows=3, step=6)
    assert list(cv.columns) == S.CV_COLUMNS
    a = cv[cv[S.UID] == "a"]
    assert a[S.CUTOFF].nunique() == 3 and len(a) == 18
    b = cv[cv[S.UID] == "b"]
    assert b[S.CUTOFF].nunique() == 2  # 16 months: training lengths 4 and 10 (the -2 window skipped)
    for cutoff, g in cv.groupby([S.UID, S.CUTOFF]):
        n_train = int(g[S.qcol(0.5)].iloc[0])
        seen_last = g[S.MEAN].iloc[0]
        assert seen_last == n_train  # last value seen = month n_train: nothing after the cutoff
        assert g[S.DS].min() > cutoff[1]
        assert g[S.DS].min() == cutoff[1] + pd.offsets.MonthBegin(1)
        np.testing.assert_array_equal(g[S.Y].to_numpy(), np.arange(n_train + 1, n_train + 7))


def test_failures_become_nan_rows(caplog: pytest.LogCaptureFixture) -> None:
    y_ok = np.ones(30)
    y_bad = np.r_[np.ones(20), np.full(10, 100.0)]
    with caplog.at_level(logging.WARNING, logger="forecast.engine"):
        cv = cross_validation(frame({"ok": y_ok, "bad": y_bad}), {"explodes": {}, "seasonal_naive": {}},
                              h=3, n_windows=2, step=3)
    bad = cv[(cv[S.UID] == "bad") & (cv[S.MODEL] == "explodes")]
    assert bad[S.MEAN].isna().all() and len(bad) == 6
    assert cv[(cv[S.UID] == "ok")][S.MEAN].notna().all()
    assert "boom" in caplog.text
    met = evaluate(cv, frame({"ok": y_ok, "bad": y_bad}))
    assert select_best(met).set_index(S.UID).loc["bad", S.MODEL] == "seasonal_naive"


def test_unknown_model_fails_early() -> None:
    with pytest.raises(ModelError, match="unknown model"):
        cross_validation(frame({"a": np.ones(30)}), {"nope": {}}, h=3)


def test_select_best_picks_better_and_falls_back() -> None:
    rows = [("a", "m1", 0.5), ("a", "m2", 0.9), ("a", "seasonal_naive", 1.0),
            ("b", "m1", np.nan), ("b", "m2", np.inf), ("b", "seasonal_naive", np.nan),
            ("c", "m1", np.nan), ("c", "m2", 0.7), ("c", "seasonal_naive", 0.8),
            ("d", "m1", 0.6), ("d", "seasonal_naive", 0.6)]
    met = pd.DataFrame([(u, m, "mase", v) for u, m, v in rows], columns=S.METRIC_COLUMNS)
    sel = select_best(met).set_index(S.UID)[S.MODEL].to_dict()
    assert sel == {"a": "m1", "b": "seasonal_naive", "c": "m2", "d": "seasonal_naive"}


def test_nested_selection_and_apply() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(60)
    seasonal = 20 + 15 * np.sin(2 * np.pi * t / 12)
    series = frame({"s": rng.poisson(seasonal).astype(float), "f": rng.poisson(20, 60).astype(float)})
    specs = {"seasonal_naive": {}, "last_seen": {}}
    cv = cross_validation(series, specs, h=6, n_windows=4, step=6)
    nested = nested_selection_score(cv, series)
    assert set(nested[S.MODEL]) == {"seasonal_naive", "last_seen", "selected"}
    v = nested[nested[S.METRIC] == "mase"].set_index(S.MODEL)[S.VALUE]
    assert np.isfinite(v).all()
    # selection chooses per series among models scored on the same windows
    assert v["selected"] <= max(v["seasonal_naive"], v["last_seen"]) + 1e-12
    sel = select_best(evaluate(cv, series))
    assert sel.set_index(S.UID).loc["s", S.MODEL] == "seasonal_naive"
    fc = cv.drop(columns=[S.CUTOFF, S.Y]).drop_duplicates([S.UID, S.MODEL, S.DS])
    out = apply_selection(fc, sel)
    assert set(out[S.MODEL]) == {"selected"}
    assert (out.set_index(S.UID)["chosen"].groupby(level=0).first() == sel.set_index(S.UID)[S.MODEL]).all()


def test_nested_score_of_the_pooled_choice_uses_the_groups_known_at_each_cutoff() -> None:
    """With groups, the nested score measures the pooled choice (what the strategy does), not a
    per-series one: a series that model b fits by luck in the first window keeps its group's model a."""
    rng = np.random.default_rng(3)
    series = frame({u: rng.poisson(10, 30).astype(float) for u in ("s1", "s2", "s3", "s4")})
    cut1, cut2 = series[S.DS].unique()[[23, 26]]
    rows = []
    for u, g in series.groupby(S.UID):
        for cut in (cut1, cut2):
            w = g[(g[S.DS] > cut)].head(3)
            for model in ("a", "b"):
                lucky_b = u == "s1" and cut == cut1
                err = {"a": 0.0 if cut == cut2 else (4.0 if lucky_b else 1.0),
                       "b": 0.0 if lucky_b else 5.0}[model]
                for ds, y in zip(w[S.DS], w[S.Y]):
                    rows.append({S.UID: u, S.DS: ds, S.MODEL: model, S.MEAN: y + err, S.CUTOFF: cut, S.Y: y,
                                 **{c: y + err for c in S.QUANTILE_COLUMNS}})
    cv = pd.DataFrame(rows)[S.CV_COLUMNS]
    seen: list[pd.Series] = []

    def groups_at(cut: pd.Series) -> pd.Series:
        seen.append(cut)
        return pd.Series("g", index=cut.index)

    per_series = nested_selection_score(cv, series, metric="rmsse").set_index([S.MODEL, S.METRIC])[S.VALUE]
    pooled = nested_selection_score(cv, series, metric="rmsse", groups_at=groups_at).set_index([S.MODEL, S.METRIC])[S.VALUE]
    # the second window: a is exact everywhere; per series, s1 took b (lucky in the first window)
    assert pooled["selected", "rmsse"] == pytest.approx(0.0, abs=1e-12)
    assert pooled["selected", "rmsse"] == pytest.approx(pooled["a", "rmsse"])
    assert per_series["selected", "rmsse"] > 0.1
    # the groups were asked at the cutoff of the window being scored, for every series
    assert len(seen) == 1 and set(seen[0].index) == {"s1", "s2", "s3", "s4"} and (seen[0] == cut2).all()


def test_backtest_span_is_what_the_backtest_covers_with_or_without_refresh() -> None:
    from forecast.backtest import backtest_span
    from forecast.executors import session

    rng = np.random.default_rng(2)
    parts = [pd.DataFrame({S.UID: u, S.DS: pd.date_range("2020-01-01", periods=n, freq="MS"),
                           S.Y: rng.poisson(4, n).astype(float)}) for u, n in (("a", 41), ("b", 30), ("c", 5))]
    series = pd.concat(parts, ignore_index=True)
    plain = backtest_span(series, None, h=4, n_windows=2)
    pd.testing.assert_frame_equal(plain, series)  # the latest window ends with the data
    for refresh in (1, 3, 4):
        with session(refresh=refresh):
            cv = cross_validation(series, {"seasonal_naive": {}}, h=4, n_windows=2, min_train=2)
            computed = backtest_span(series, None, h=4, n_windows=2)
        from_cv = backtest_span(series, cv)
        pd.testing.assert_frame_equal(computed[computed[S.UID] != "c"], from_cv[from_cv[S.UID] != "c"])
        ends = from_cv.groupby(S.UID)[S.DS].max()
        assert ends["a"] == cv.loc[cv[S.UID] == "a", S.DS].max()
        assert len(from_cv[from_cv[S.UID] == "c"]) == 5  # no window: kept whole
    # refresh 4: 41 months -> windows of 33 and 37 rounded to 32 and 36, covering 40 months
    assert int(ends["a"].month) == 4 and len(from_cv[from_cv[S.UID] == "a"]) == 40


def test_nested_score_uses_the_fallback_where_the_chosen_model_has_no_forecast() -> None:
    """As the strategy does: a series whose chosen model did not run on a window (failed, or skipped by
    a work plan) is scored with the fallback's forecast, not dropped."""
    rng = np.random.default_rng(5)
    series = frame({u: rng.poisson(10, 30).astype(float) for u in ("s1", "s2")})
    cut1, cut2 = series[S.DS].unique()[[23, 26]]
    rows = []
    for u, g in series.groupby(S.UID):
        for cut in (cut1, cut2):
            w = g[g[S.DS] > cut].head(3)
            for model, err in (("good", 0.5), ("fb", 2.0)):
                if model == "good" and u == "s2" and cut == cut2:
                    continue  # "good" did not run on s2's second window
                for ds, y in zip(w[S.DS], w[S.Y]):
                    rows.append({S.UID: u, S.DS: ds, S.MODEL: model, S.MEAN: y + err, S.CUTOFF: cut, S.Y: y,
                                 **{c: y + err for c in S.QUANTILE_COLUMNS}})
    cv = pd.DataFrame(rows)[S.CV_COLUMNS]
    nested = nested_selection_score(cv, series, metric="rmsse", fallback="fb")
    v = nested[nested[S.METRIC] == "wape"].set_index(S.MODEL)[S.VALUE]
    # both series count: s1 with "good" (error 0.5), s2 with the fallback (error 2.0)
    late = cv[cv[S.CUTOFF] == cut2]
    expected = (0.5 * 3 + 2.0 * 3) / late.drop_duplicates([S.UID, S.DS])[S.Y].sum()
    assert v["selected"] == pytest.approx(expected)
