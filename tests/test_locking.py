"""Two runs at once queue or fail clearly; a killed run resumes without redoing finished batches."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from typer.testing import CliRunner

from cli import app
from forecast import schema as S
from forecast.backtest import cross_validation
from forecast.cache import ResultCache
from forecast.executors import LocalExecutor, session
from forecast.locking import LockBusy, file_lock, lock_path_of_store, run_lock

ROOT = Path(__file__).resolve().parents[1]

HOLD = """
import sys, time
from forecast.locking import run_lock
with run_lock(sys.argv[1:-1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[-1]))
"""

WORK = """
import sys
import pandas as pd
from forecast.backtest import cross_validation
from forecast.cache import ResultCache
from forecast.executors import LocalExecutor, session
series = pd.read_parquet(sys.argv[1])
with session(LocalExecutor(1), ResultCache(sys.argv[2])):
    cross_validation(series, {"ets": {}}, h=4, n_windows=2)
print("finished", flush=True)
"""


def _holder(paths: list[Path], seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, *map(str, paths), str(seconds)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    lock = lock_path_of_store(tmp_path / "forecast.duckdb")
    proc = _holder([lock], 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(LockBusy, match=rf"held by pid {proc.pid} .*--wait"):
            with run_lock([lock], wait=0):
                pass
        assert time.monotonic() - t0 < 2
    finally:
        proc.kill()
        proc.wait()
    with run_lock([lock], wait=0):  # the kernel released the killed holder's lock
        assert lock.exists()


def test_second_run_queues_when_asked_to_wait(tmp_path: Path) -> None:
    lock = tmp_path / "out" / ".lock"
    proc = _holder([lock], 1.5)
    try:
        t0 = time.monotonic()
        with file_lock(lock, wait=30):
            waited = time.monotonic() - t0
            assert proc.wait(timeout=5) == 0  # the first run had finished when we got the lock
    finally:
        proc.kill()
    assert 0.5 < waited < 10


def test_cli_run_refuses_a_busy_store(tmp_path: Path) -> None:
    store = tmp_path / "forecast.duckdb"
    exp = tmp_path / "e.toml"
    exp.write_text(f'[experiment]\nname = "busy"\n[data]\nstore = "{store}"\n[scope]\nzones = ["4413"]\n'
                   f'[output]\ndir = "{tmp_path / "outputs"}"\n', encoding="utf-8")
    proc = _holder([lock_path_of_store(store)], 30)
    try:
        res = CliRunner().invoke(app, ["run", str(exp), "--no-tracking"])
    finally:
        proc.kill()
        proc.wait()
    assert res.exit_code == 1
    assert "Error: " in res.output and f"held by pid {proc.pid}" in res.output
    assert "Traceback" not in res.output
    assert not store.exists()  # nothing touched the store


def panel(n_series: int = 24, n: int = 36) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    parts = []
    for i in range(n_series):
        t = np.arange(n)
        y = rng.poisson(5 + (i % 5) * (1 + 0.4 * np.sin(2 * np.pi * t / 12))).astype(float)
        parts.append(pd.DataFrame({S.UID: f"k{i:02d}", S.DS: pd.date_range("2021-01-01", periods=n, freq="MS"), S.Y: y}))
    return pd.concat(parts, ignore_index=True)


def test_killed_run_resumes_without_redoing_finished_batches(tmp_path: Path) -> None:
    series = panel()
    data = tmp_path / "series.parquet"
    series.to_parquet(data)
    folder = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", WORK, str(data), str(folder)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while len(list(folder.glob("*.npz"))) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL and "finished" not in out
    assert not list(folder.glob("*.tmp"))  # no half-written checkpoint is left as a result
    finished = len(ResultCache(folder))
    assert 6 <= finished < 24  # at least two batches of 3 series were checkpointed, not all

    cache = ResultCache(folder)
    with session(LocalExecutor(1), cache):
        resumed = cross_validation(series, {"ets": {}}, h=4, n_windows=2)
    assert cache.hits == finished and cache.misses == 24 - finished
    pdt.assert_frame_equal(resumed, cross_validation(series, {"ets": {}}, h=4, n_windows=2))
