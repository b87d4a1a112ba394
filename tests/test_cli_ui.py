"""`forecast ui` as a user runs it: prints the runs-page URL, serves it, stops on Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from forecast.tracking import MlflowTracker, experiment_id
from forecast.ui import free_port, port_in_use

FORECAST = str(Path(sys.executable).parent / "forecast")


@pytest.mark.server
def test_forecast_ui_prints_runs_url_and_stops_on_ctrl_c(tmp_path):
    store = tmp_path / "mlruns"
    tracker = MlflowTracker(store, experiment="reims")
    with tracker.parent("reims-test", params={"horizon": 24}, tags={}):
        tracker.log_metrics({"mase": 0.9})
    exp_id = experiment_id(store, "reims")
    port = free_port()
    proc = subprocess.Popen([FORECAST, "ui", "--store", str(store), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 120
        line = ""
        while time.time() < deadline:
            line = proc.stdout.readline()
            if line.startswith("MLflow UI:") or proc.poll() is not None:
                break
        expected = f"http://127.0.0.1:{port}/#/experiments/{exp_id}/runs"
        assert line.split()[2] == expected, line + proc.stderr.read() if proc.poll() is not None else line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "Stopping the MLflow UI." in proc.stdout.read()
        for _ in range(50):
            if not port_in_use(port):
                break
            time.sleep(0.2)
        assert not port_in_use(port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_forecast_ui_without_a_store_says_what_to_do(tmp_path):
    res = subprocess.run([FORECAST, "ui", "--store", str(tmp_path / "none")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().endswith("no MLflow store yet (run `forecast run experiments/reims.toml` first)")
