"""forecast.ui: a real ``mlflow server`` on a free port (marked ``server``: about 10 s)."""
from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from forecast.errors import ForecastError
from forecast.tracking import MlflowTracker
from forecast.ui import experiment_id, free_port, port_in_use, serve


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return response.read()


@pytest.fixture()
def store(tmp_path: Path) -> tuple[Path, str]:
    store = tmp_path / "ml runs"
    tracker = MlflowTracker(store, experiment="reims")
    table = tmp_path / "per_series.csv"
    table.write_text("unique_id,mase\nA,1.1\n")
    with tracker.parent("reims-2026", params={"horizon": 12}, tags={}) as run_id:
        tracker.log_metrics({"mase": 1.25})
        tracker.log_artifact(table, "tables")
    return store, run_id


@pytest.mark.server
def test_serve_lists_the_run_and_stops(store: tuple[Path, str]) -> None:
    path, run_id = store
    port = free_port()
    exp_id = experiment_id(path, "reims")
    with serve(path, port=port, timeout=90) as ui:
        assert ui.url == f"http://127.0.0.1:{port}"
        assert ui.runs_url(exp_id) == f"http://127.0.0.1:{port}/#/experiments/{exp_id}/runs"
        experiments = _post(f"{ui.url}/api/2.0/mlflow/experiments/search", {"max_results": 100})
        assert "reims" in {e["name"] for e in experiments["experiments"]}
        runs = _post(f"{ui.url}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp_id]})["runs"]
        assert [r["info"]["run_id"] for r in runs] == [run_id]
        assert {m["key"]: m["value"] for m in runs[0]["data"]["metrics"]} == {"mase": 1.25}
        # The UI can read the artifacts logged into the store folder.
        assert _get(f"{ui.url}/get-artifact?path=tables/per_series.csv&run_uuid={run_id}").startswith(b"unique_id")
        assert _get(ui.url + "/").lower().startswith(b"<!doctype html")
        # A second server on the same port: a clear error, and the first keeps running.
        with pytest.raises(ForecastError, match=f"port {port} is in use; choose another with --port"):
            serve(path, port=port)
        assert ui.running
    assert not ui.running
    assert not port_in_use(port)
    ui.stop()  # idempotent


def test_port_in_use_is_a_clear_error(store: tuple[Path, str]) -> None:
    path, _ = store
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use(port)
        with pytest.raises(ForecastError, match=f"port {port} is in use; choose another with --port"):
            serve(path, port=port)


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ForecastError, match="no MLflow store"):
        serve(tmp_path / "nope", port=free_port())
    with pytest.raises(ForecastError, match="no MLflow store"):
        experiment_id(tmp_path / "nope", "reims")


def test_bad_host_is_a_clear_error(store: tuple[Path, str]) -> None:
    path, _ = store
    with pytest.raises(ForecastError, match="cannot listen on 203.0.113.7"):
        serve(path, host="203.0.113.7", port=free_port())
