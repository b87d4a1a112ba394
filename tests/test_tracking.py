"""forecast.tracking against a real MLflow sqlite store (no mocks)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from forecast.errors import ForecastError
from forecast.tracking import (
    PARENT_TAG,
    MlflowTracker,
    NullTracker,
    Tracker,
    clean_metrics,
    experiment_id,
    find_runs,
    flatten_metrics,
    flatten_params,
    sanitize_key,
)

MODELS = ("seasonal_naive", "arima", "prophet")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A space in the path: URIs must be built properly.
    return tmp_path_factory.mktemp("tracking") / "ml runs"


@pytest.fixture(scope="module")
def tracker(store: Path) -> MlflowTracker:
    return MlflowTracker(store, experiment="reims")


def _aggregate(model: str, offset: float) -> pd.DataFrame:
    return pd.DataFrame({"model": model, "metric": ["mase", "smape", "coverage_80"],
                         "value": [1.0 + offset, 20.0 + offset, 0.8]})


@pytest.fixture(scope="module")
def logged(tracker: MlflowTracker, store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("outputs")
    table = out / "per_series.csv"
    table.write_text("unique_id,model,mase\nA,arima,1.1\n")
    plots = out / "plots"
    plots.mkdir()
    (plots / "gap.png").write_bytes(b"\x89PNG")
    children = {}
    with tracker.parent("reims-2026", params={"horizon": 12, "models": list(MODELS),
                                              "data": {"zone": "5101", "path": Path("a/b.csv")}},
                        tags={"config": "experiments/reims.toml"}) as parent_id:
        tracker.log_params({"n_series": 42})
        tracker.log_metrics({"wall_time_s": 3.5, "bad": math.nan, "inf": math.inf})
        tracker.log_artifact(table, "tables")
        tracker.log_artifacts(plots, "plots")
        for i, model in enumerate(MODELS):
            children[model] = tracker.log_child(model, params={"model": model},
                                                metrics=flatten_metrics(_aggregate(model, i)),
                                                tags={"family": model}, artifacts=[table])
    return {"parent": parent_id, "children": children}


def test_tracker_satisfies_protocol(tracker: MlflowTracker) -> None:
    assert isinstance(tracker, Tracker)
    assert isinstance(NullTracker(), Tracker)


def test_parent_params_metrics_artifacts(logged: dict, tracker: MlflowTracker, store: Path) -> None:
    run = tracker.client.get_run(logged["parent"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "reims-2026"
    assert run.data.params == {"horizon": "12", "models": "seasonal_naive,arima,prophet",
                               "data.zone": "5101", "data.path": "a/b.csv", "n_series": "42"}
    assert run.data.metrics == {"wall_time_s": 3.5}  # NaN and inf skipped
    assert run.data.tags["config"] == "experiments/reims.toml"
    listed = {a.path for a in tracker.client.list_artifacts(logged["parent"])}
    assert listed == {"tables", "plots"}
    assert [a.path for a in tracker.client.list_artifacts(logged["parent"], "plots")] == ["plots/gap.png"]
    # Artifacts land inside the store folder.
    assert (store / "artifacts" / logged["parent"] / "artifacts" / "tables" / "per_series.csv").is_file()


def test_children_nested_with_identical_metric_names(logged: dict, tracker: MlflowTracker) -> None:
    names = set()
    for i, (model, child_id) in enumerate(logged["children"].items()):
        run = tracker.client.get_run(child_id)
        assert run.data.tags[PARENT_TAG] == logged["parent"]
        assert run.info.run_name == model
        assert run.info.status == "FINISHED"
        assert run.data.metrics == {"mase": 1.0 + i, "smape": 20.0 + i, "coverage_80": 0.8}
        assert run.data.tags["family"] == model
        assert [a.path for a in tracker.client.list_artifacts(child_id)] == ["per_series.csv"]
        names.add(frozenset(run.data.metrics))
    assert len(names) == 1


def test_find_runs(logged: dict, store: Path) -> None:
    runs = find_runs(store, "reims")
    assert len(runs) == 4
    children = runs[runs["parent_run_id"] == logged["parent"]]
    assert sorted(children["run_name"]) == sorted(MODELS)
    assert children.set_index("run_name").loc["arima", "metrics.mase"] == 2.0
    with pytest.raises(ForecastError, match="no experiment 'nope'.*reims"):
        find_runs(store, "nope")
    with pytest.raises(ForecastError, match="no MLflow store"):
        find_runs(store.parent / "missing", "reims")


def test_exception_marks_parent_failed(tracker: MlflowTracker, logged: dict) -> None:
    with pytest.raises(ZeroDivisionError):
        with tracker.parent("broken", params={"horizon": 12}) as run_id:
            tracker.log_metrics({"partial": 1.0})
            1 / 0
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("ZeroDivisionError")
    assert tracker.parent_id is None  # the next run can start


def test_second_tracker_on_same_store(store: Path, logged: dict) -> None:
    again = MlflowTracker(store, experiment="reims")
    other = MlflowTracker(store, experiment="grand_est")
    assert again.experiment_id == experiment_id(store, "reims")
    assert other.experiment_id != again.experiment_id
    assert other.client.get_experiment(other.experiment_id).artifact_location == (store / "artifacts").resolve().as_uri()
    run_id = again.start_parent("second", {}, {})
    again.end_parent()
    assert again.client.get_run(run_id).info.status == "FINISHED"


def test_param_rules(tracker: MlflowTracker) -> None:
    with tracker.parent("params", params={"horizon": 12, "long": "x" * 7000}) as run_id:
        tracker.log_params({"horizon": 12})  # same value again: fine
        with pytest.raises(ValueError, match="cannot change"):
            tracker.log_params({"horizon": 24})
        tracker.log_params({f"p{i}": i for i in range(250)})  # more than one batch
    params = tracker.client.get_run(run_id).data.params
    assert len(params["long"]) == 6000
    assert len(params) == 252


def test_calls_without_parent_fail_clearly(store: Path) -> None:
    fresh = MlflowTracker(store, experiment="reims")
    with pytest.raises(RuntimeError, match="no parent run"):
        fresh.log_metrics({"a": 1.0})
    fresh.end_parent()  # no-op


def test_mlflow_limits_match() -> None:
    from mlflow.utils import validation as v

    from forecast import tracking as t

    assert (t.MAX_PARAM_VAL_LENGTH, t.MAX_TAG_VAL_LENGTH, t.MAX_PARAMS_TAGS_PER_BATCH, t.MAX_METRICS_PER_BATCH) == (
        v.MAX_PARAM_VAL_LENGTH, v.MAX_TAG_VAL_LENGTH, v.MAX_PARAMS_TAGS_PER_BATCH, v.MAX_METRICS_PER_BATCH)
    for raw in ["mase@h=12 (zone: 5101)", "/a//b/../c", "..", "", "é ü", "x" * 400]:
        key = sanitize_key(raw)
        v._validate_metric_name(key)
        v._validate_param_name(key)


def test_helpers() -> None:
    assert flatten_params({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "1,2", "d": "None"}
    assert clean_metrics({"ok": 1, "s": "2.5", "bad": "x", "nan": float("nan")}) == {"ok": 1.0, "s": 2.5}
    frame = pd.concat([_aggregate("arima", 0), _aggregate("ets", 1)])
    assert flatten_metrics(frame, model="ets") == {"mase": 2.0, "smape": 21.0, "coverage_80": 0.8}
    with pytest.raises(ValueError, match="several models"):
        flatten_metrics(frame)
    by_h = pd.DataFrame({"model": "arima", "metric": "mase", "horizon": [1, 12], "value": [0.5, 1.5]})
    assert flatten_metrics(by_h) == {"mase/horizon_1": 0.5, "mase/horizon_12": 1.5}


def test_null_tracker_does_nothing(tmp_path: Path) -> None:
    tracker = NullTracker()
    with tracker.parent("x", {"a": 1}, {"b": "c"}) as run_id:
        tracker.log_params({"a": 1})
        tracker.log_metrics({"m": 1.0})
        assert tracker.log_child("arima", {}, {"m": 1.0}, artifacts=[tmp_path / "missing"]) == ""
        tracker.log_artifact(tmp_path / "missing")
        tracker.log_artifacts(tmp_path)
        tracker.set_tags({"t": 1})
    assert run_id == ""
    with pytest.raises(KeyError):
        with tracker.parent("y"):
            raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_two_processes_create_the_same_store_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = ("import sys; from pathlib import Path; from forecast.tracking import MlflowTracker\n"
              "t = MlflowTracker(Path(sys.argv[1]), 'same')\n"
              "with t.parent(sys.argv[2], {}, {}):\n    t.log_metrics({'m': 1.0})\n")
    root = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "store"), f"r{i}"], cwd=root,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    runs = find_runs(tmp_path / "store", "same")
    assert sorted(runs["run_name"]) == ["r0", "r1"] and set(runs["status"]) == {"FINISHED"}
    assert runs["tags.mlflow.user"].notna().all()


def test_importing_does_not_import_mlflow() -> None:
    import subprocess
    import sys

    code = "import sys, forecast.tracking, forecast.ui; assert 'mlflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


@pytest.mark.slow
def test_demo_run_logs_forecast_and_backtest_plots_of_the_top_series(tracked_run) -> None:
    """The parent run's artifact store holds, under ``plots/``, the forecast plot and the backtest
    plot of each top series (PNG, which the MLflow UI previews), and the gap plots."""
    from mlflow.tracking import MlflowClient

    from forecast.tracking import tracking_uri

    store, run_dir, summary = tracked_run
    client = MlflowClient(tracking_uri(store))
    listed = {Path(a.path).name: a for a in client.list_artifacts(summary["run_id"], "plots")}
    backtest = sorted(Path(a.path).name for a in client.list_artifacts(summary["run_id"], "plots/backtest"))
    forecast = sorted(n for n, a in listed.items() if not a.is_dir and n.endswith(".png"))
    top = 2  # [output] top_plots of the fixture
    assert len(forecast) == top and forecast[0].startswith("01_4413_") and backtest == forecast
    assert listed["backtest"].is_dir and listed["gap"].is_dir
    local = Path(client.download_artifacts(summary["run_id"], "plots/backtest", str(run_dir.parent / "dl")))
    for name in backtest:
        data = (local / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        # The same file as the run folder's: what was plotted is what was logged.
        assert data == (run_dir / "plots" / "backtest" / name).read_bytes()
    # The forecast plots are the pipeline's top occupations by forecast demand, in that order.
    fc = pd.read_parquet(run_dir / "forecasts.parquet")
    cat = pd.read_parquet(run_dir / "catalog.parquet")
    occ = cat[(cat["level"] == "rome_zone") & cat["modelled"]]
    top_ids = fc[fc["unique_id"].isin(occ["unique_id"])].groupby("unique_id")["mean"].sum().nlargest(top).index
    keys = occ.set_index("unique_id").loc[top_ids, "key"]
    assert [n.split("_", 2)[2].removesuffix(".png") for n in forecast] == list(keys)
