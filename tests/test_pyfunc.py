"""The registered forecaster set: logged by the demo run, loaded from a fresh Python process."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from forecast import schema as S
from forecast.errors import ModelError
from forecast.pyfunc import ForecasterSet
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
    proc = subprocess.run([sys.executable, "-c", FRESH, tracking_uri(store), json.dumps(ids)], cwd=env_dir,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["versions"] == ["1"] and got["run_id"] == summary["run_id"]
    assert "Backtest: rolling origin, 2 windows of 6 months" in got["description"]
    assert f"{summary['selection_vs_baseline']['selected']:.3f}" in got["description"]
    assert got["rows"] == {ids[0]: 3, ids[1]: 30} and got["default_rows"] == 5
    assert got["columns"][:4] == [S.UID, S.DS, S.MODEL, S.MEAN] and "chosen" in got["columns"]
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
