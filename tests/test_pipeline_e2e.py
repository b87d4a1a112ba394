"""End to end: `forecast run` on a small demo, checked through MLflow's own client and the files."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from forecast import schema as S

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(demo_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    exp = tmp / "pilot.toml"
    exp.write_text(f"""
[experiment]
name = "pilot"
[data]
offers = ["{demo_dir / 'offres'}"]
sessions = ["{demo_dir / 'formations'}"]
store = "{tmp / 'store.duckdb'}"
[scope]
zones = ["4413"]
start = "2019-01"
[series]
min_total = 150
top_skills = 3
[models]
families = ["seasonal_naive", "arima", "prophet"]
[backtest]
horizon = 12
windows = 3
[forecast]
horizon = 24
[output]
dir = "{tmp / 'outputs'}"
top_plots = 4
n_jobs = 2
""", encoding="utf-8")
    store = tmp / "mlruns"
    res = CliRunner().invoke(app, ["run", str(exp), "--store", str(store)])
    assert res.exit_code == 0, res.output + res.stderr + repr(res.exception)
    run_dir = next(p for p in (tmp / "outputs" / "pilot").iterdir() if p.is_dir())
    return res, store, run_dir


def test_run_prints_the_headline_and_where_outputs_are(demo_run):
    res, store, run_dir = demo_run
    assert f"Outputs: {run_dir}" in res.output
    assert "selected" in res.output and "seasonal naive" in res.output
    assert "forecast ui --store" in res.output


def test_mlflow_holds_parent_and_family_children_with_identical_metrics(demo_run):
    from mlflow.tracking import MlflowClient

    from forecast.tracking import tracking_uri

    _, store, _ = demo_run
    client = MlflowClient(tracking_uri(store))
    exp = client.get_experiment_by_name("pilot")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert sorted(r.info.run_name for r in children) == ["arima", "prophet", "seasonal_naive"]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)
    names = [set(r.data.metrics) for r in children]
    assert names[0] == names[1] == names[2]
    assert {"mase", "rmsse", "wape", "coverage_80", "coverage_95"} <= names[0]
    assert "mase_selected" in parent.data.metrics and "mase_seasonal_naive_same_windows" in parent.data.metrics
    arts = {a.path for a in client.list_artifacts(parent.info.run_id, "outputs")}
    for name in ("series.parquet", "forecasts.parquet", "metrics.parquet", "supply.parquet", "gap.parquet", "plots"):
        assert f"outputs/{name}" in arts
    assert any(a.path.endswith(".toml") for a in client.list_artifacts(parent.info.run_id, "config"))


def test_outputs_folder_holds_tables_and_plots(demo_run):
    _, _, run_dir = demo_run
    for name in ("series.parquet", "catalog.parquet", "backtest.parquet", "metrics.parquet", "forecasts.parquet",
                 "forecasts.csv", "supply.parquet", "gap.parquet", "gap.csv", "gap_summary.csv", "summary.json"):
        assert (run_dir / name).stat().st_size > 0, name
    plots = sorted((run_dir / "plots").glob("*.png"))
    assert len(plots) == 4 and all(p.read_bytes()[:4] == b"\x89PNG" for p in plots)


def test_forecasts_and_gap_are_consistent(demo_run):
    _, _, run_dir = demo_run
    fc = pd.read_parquet(run_dir / "forecasts.parquet")
    assert fc.groupby(S.UID).size().eq(24).all()
    q = fc[S.QUANTILE_COLUMNS].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-9).all() and (q >= 0).all() and (fc[S.MEAN] >= 0).all()
    gap = pd.read_parquet(run_dir / "gap.parquet")
    assert np.allclose(gap[S.GAP], gap[S.MEAN] - gap[S.SUPPLY])
    assert gap[S.P_SHORTAGE].between(0, 1).all()
    sup = pd.read_parquet(run_dir / "supply.parquet")
    merged = gap.merge(sup.groupby([S.ZONE, S.ROME, S.DS], as_index=False)[S.SUPPLY].sum(),
                       on=[S.ZONE, S.ROME, S.DS], how="left", suffixes=("", "_s")).fillna({"supply_s": 0.0})
    assert np.allclose(merged[S.SUPPLY], merged["supply_s"])
    occ = fc[fc[S.UID].str.match(r"^4413/[A-N]\d{4}$")][S.UID].nunique()
    assert gap[[S.ZONE, S.ROME]].drop_duplicates().shape[0] == occ


def test_selection_beats_seasonal_naive_on_mase(demo_run):
    _, _, run_dir = demo_run
    score = pd.read_csv(run_dir / "selection_score.csv")
    mase = score[score["metric"] == "mase"].set_index("model")["value"]
    assert mase["selected"] < mase["seasonal_naive"]
