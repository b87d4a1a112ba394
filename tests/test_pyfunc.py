"""The registered forecaster set: logged by the demo run, loaded from a fresh Python process.

It must give the run's final forecasts (calibrated, reconciled: ``forecasts.parquet``) for the run's
horizon, and still forecast any longer horizon (refit + the run's calibration after it).
"""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.errors import ModelError
from forecast.pyfunc import ForecasterSet, Replay
from forecast.tracking import tracking_uri

pytestmark = pytest.mark.slow

FRESH = r"""
import json, sys
import pandas as pd
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
client = mlflow.tracking.MlflowClient()
versions = client.search_model_versions("name = 'pilote-forecaster'")
model = mlflow.pyfunc.load_model("models:/pilote-forecaster/1")
ids = json.loads(sys.argv[2])
out = model.predict(pd.DataFrame({"unique_id": ids, "horizon": [3, 30]}))
default = model.predict(pd.DataFrame({"unique_id": ids[:1]}), params={"horizon": 5})
every = model.predict(pd.DataFrame({"unique_id": json.loads(sys.argv[3]), "horizon": int(sys.argv[4])}))
every.to_parquet(sys.argv[5])
longer = model.predict(pd.DataFrame({"unique_id": ids, "horizon": 30}))
longer.to_parquet(sys.argv[6])
print(json.dumps({"versions": [str(v.version) for v in versions], "run_id": versions[0].run_id,
                  "description": versions[0].description,
                  "rows": out.groupby("unique_id").size().to_dict(), "default_rows": len(default),
                  "columns": list(out.columns), "first_ds": str(out["ds"].min()),
                  "mean": out.groupby("unique_id")["mean"].first().round(6).to_dict()}))
"""


def test_registered_model_forecasts_from_a_fresh_process(tracked_run, tmp_path):
    store, run_dir, summary = tracked_run
    assert summary["model_version"] == "1"
    local = ForecasterSet.load(run_dir / "forecaster")
    ids = local.ids[:2]
    # The run folder is not needed: the model artifact carries the histories.
    env_dir = tmp_path / "elsewhere"
    env_dir.mkdir()
    final = pd.read_parquet(run_dir / "forecasts.parquet")
    horizon = int(final.groupby(S.UID)[S.DS].nunique().min())
    every_path, longer_path = tmp_path / "every.parquet", tmp_path / "longer.parquet"
    proc = subprocess.run([sys.executable, "-c", FRESH, tracking_uri(store), json.dumps(ids),
                           json.dumps(sorted(final[S.UID].unique())), str(horizon), str(every_path), str(longer_path)],
                          cwd=env_dir, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["versions"] == ["1"] and got["run_id"] == summary["run_id"]
    assert "Backtest: rolling origin, 2 windows of 6 months" in got["description"]
    assert f"{summary['selection_vs_baseline']['selected']:.3f}" in got["description"]
    assert got["rows"] == {ids[0]: 3, ids[1]: 30} and got["default_rows"] == 5
    # The run's horizon, every listed series: exactly the run's final forecasts.
    every = pd.read_parquet(every_path)
    ref = final.sort_values([S.UID, S.DS]).reset_index(drop=True)
    assert list(every[S.UID]) == list(ref[S.UID]) and (every[S.DS].to_numpy() == ref[S.DS].to_numpy()).all()
    cols = [S.MEAN, *S.QUANTILE_COLUMNS]
    np.testing.assert_allclose(every[cols].to_numpy(float), ref[cols].to_numpy(float), rtol=0, atol=1e-9)
    assert set(every["source"]) == {"run"} and list(every["chosen"]) == list(ref["chosen"])
    # The run reconciled its hierarchy (and calibrated): what was replayed is on record.
    assert local.replay is not None and local.replay.reconcile_method != "none"
    # A longer horizon: the run's months first, then refitted months right after them.
    longer = pd.read_parquet(longer_path)
    for uid in ids:
        one = longer[longer[S.UID] == uid].reset_index(drop=True)
        assert len(one) == 30 and list(one["source"]) == ["run"] * horizon + ["refit"] * (30 - horizon)
        np.testing.assert_allclose(one.loc[: horizon - 1, cols].to_numpy(float),
                                   ref[ref[S.UID] == uid][cols].to_numpy(float), atol=1e-9)
        assert one[S.DS].is_monotonic_increasing and one[S.DS].diff().dropna().dt.days.between(28, 31).all()
        q = one[S.QUANTILE_COLUMNS].to_numpy(float)
        assert np.isfinite(one[S.MEAN]).all() and (q >= 0).all() and (np.diff(q, axis=1) >= -1e-9).all()
    assert got["columns"][:4] == [S.UID, S.DS, S.MODEL, S.MEAN] and {"chosen", "source"} <= set(got["columns"])
    last = local.history[S.DS].max()
    assert pd.Timestamp(got["first_ds"]) == last + pd.DateOffset(months=1)
    # Same numbers as the forecaster set used in-process, and as the run's own forecasts.
    mine = local.forecast(ids, 3).groupby(S.UID)[S.MEAN].first().round(6).to_dict()
    assert got["mean"] == mine
    fc = local.forecast(ids, 30)
    q = fc[S.QUANTILE_COLUMNS].to_numpy()
    assert (q >= 0).all() and (q[:, 1:] >= q[:, :-1] - 1e-9).all()
    assert set(fc["chosen"]) <= set(local.specs)


def test_unknown_series_and_bad_horizon_are_clear_errors(tracked_run):
    local = ForecasterSet.load(tracked_run[1] / "forecaster")
    with pytest.raises(ModelError, match="unknown series"):
        local.forecast(["9999/Z0000"], 3)
    with pytest.raises(ModelError, match="horizon must be at least 1"):
        local.forecast(local.ids[:1], 0)


def _one_series_set(tmp_path, replay: Replay | None) -> ForecasterSet:
    ds = pd.date_range("2019-01-01", periods=48, freq="MS")
    rng = np.random.default_rng(3)
    hist = pd.concat([pd.DataFrame({S.UID: u, S.DS: ds, S.Y: rng.poisson(lam, 48).astype(float)})
                      for u, lam in (("a", 30), ("b", 12))], ignore_index=True)
    fs = ForecasterSet(hist, {"a": "seasonal_naive", "b": "seasonal_naive"}, {"seasonal_naive": {}},
                       replay=replay)
    fs.save(tmp_path / "fs")
    return ForecasterSet.load(tmp_path / "fs")


def test_longer_horizons_replay_the_run_calibration(tmp_path):
    """After the run's horizon, series of calibrated classes get the run's conformal factors."""
    plain = _one_series_set(tmp_path / "plain", None)
    raw = plain.forecast(["a", "b"], 8)
    assert set(raw["source"]) == {"refit"}
    final = raw[raw[S.DS] <= raw[S.DS].min() + pd.DateOffset(months=2)].copy()
    final[S.MEAN] += 1000.0  # the stored final forecasts win, whatever they are
    final = final.drop(columns="source")
    levels = [t for t in S.QUANTILE_LEVELS if t != 0.5]
    factors = pd.DataFrame([("_all", k, t, 2.0, 60) for k in (1, 2) for t in levels],
                           columns=["group", "step", "level", "factor", "n"])
    replay = Replay(final, factors, {"a": "smooth", "b": "erratic"}, ["smooth"], "bottom_up", 3)
    fs = _one_series_set(tmp_path / "replayed", replay)
    assert fs.replay is not None and fs.replay.calibrated == ["smooth"]
    got = fs.forecast(["a", "b"], 8)
    first, later = got[got["source"] == "run"], got[got["source"] == "refit"]
    assert len(first) == 6 and len(later) == 10
    pd.testing.assert_frame_equal(first.drop(columns="source").reset_index(drop=True),
                                  final.sort_values([S.UID, S.DS]).reset_index(drop=True), check_dtype=False)
    base = raw[raw["source"] == "refit"].set_index([S.UID, S.DS]).loc[later.set_index([S.UID, S.DS]).index]
    width = lambda f, c: (f[c].to_numpy(float) - f[S.qcol(0.5)].to_numpy(float))  # noqa: E731
    a_new, a_old = later[S.UID].eq("a").to_numpy(), base.index.get_level_values(0) == "a"
    hi = S.qcol(0.975)
    # Series a (calibrated class): the upper width doubled (rounded to counts); b untouched.
    np.testing.assert_allclose(width(later[a_new], hi), 2 * width(base[a_old], hi), atol=1.0 + 1e-9)
    assert (width(later[a_new], hi) > width(base[a_old], hi)).any()
    np.testing.assert_allclose(later[~a_new][S.QUANTILE_COLUMNS].to_numpy(float),
                               base[~a_old][S.QUANTILE_COLUMNS].to_numpy(float))
    # Within the stored horizon no refit happens: the final rows come back as stored.
    short = fs.forecast(["b"], 2)
    assert set(short["source"]) == {"run"} and (short[S.MEAN] > 1000).all()


def test_replay_finds_the_calibrated_classes():
    ds = pd.date_range("2025-01-01", periods=2, freq="MS")
    q = np.tile(np.linspace(1, 9, len(S.QUANTILE_COLUMNS)), (2, 1))
    cand = pd.concat([pd.DataFrame({S.UID: u, S.DS: ds, S.MODEL: "ets", S.MEAN: 5.0,
                                    **dict(zip(S.QUANTILE_COLUMNS, q.T))}) for u in ("a", "b")], ignore_index=True)
    calibrated = cand.copy()
    calibrated.loc[calibrated[S.UID] == "a", S.qcol(0.975)] += 3  # only a's quantiles were widened
    calibrated = calibrated.assign(chosen="ets", **{S.MODEL: "selected"})
    strategy = SimpleNamespace(candidates=cand, forecasts=calibrated, calibration=None,
                               classes=pd.DataFrame({S.UID: ["a", "b"], "series_class": ["smooth", "lumpy"]}))
    rp = Replay.from_strategy(strategy, calibrated, "wls_struct")
    assert rp.calibrated == ["smooth"] and rp.horizon == 2 and rp.reconcile_method == "wls_struct"
    assert rp.groups == {"a": "smooth", "b": "lumpy"}
