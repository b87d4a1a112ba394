"""Executors: in-process, local process pool and a real Dask cluster give identical results."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from forecast import schema as S
from forecast.backtest import cross_validation
from forecast.engine import fit_predict
from forecast.errors import ConfigError
from forecast.executors import (
    MAX_BATCH,
    DaskExecutor,
    LocalExecutor,
    batch_ranges,
    make_executor,
    run_batches,
    session,
)


def panel(n_series: int = 12, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        n = 48 if i % 4 else 30
        t = np.arange(n)
        y = rng.poisson(4 + 3 * (i % 3) * (1 + 0.5 * np.sin(2 * np.pi * t / 12))).astype(float)
        parts.append(pd.DataFrame({S.UID: f"s{i:02d}", S.DS: pd.date_range("2020-01-01", periods=n, freq="MS"), S.Y: y}))
    return pd.concat(parts, ignore_index=True)


SPECS = {"seasonal_naive": {}, "ets": {}}


def _square(payload: list[int], offset: int) -> list[int]:
    return [p * p + offset for p in payload]


def test_batch_ranges_cover_everything_once() -> None:
    for n, w in [(1, 1), (7, 1), (100, 2), (10_000, 2), (1_000, 8)]:
        rs = batch_ranges(n, w)
        flat = [i for r in rs for i in r]
        assert flat == list(range(n))
        assert max(len(r) for r in rs) <= MAX_BATCH
    assert batch_ranges(0, 2) == []
    assert len(batch_ranges(100, 2)) == 8  # about four batches per worker


def test_local_executor_yields_every_batch() -> None:
    payloads = [[1, 2], [3], [4, 5, 6]]
    for ex in (LocalExecutor(1), LocalExecutor(2)):
        with ex:
            got = dict(ex.map(_square, payloads, 10))
        assert got == {0: [11, 14], 1: [19], 2: [26, 35, 46]}


def test_unknown_engine_and_missing_scheduler_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        make_executor("spark")
    with pytest.raises(ConfigError, match="scheduler address"):
        make_executor("dask", scheduler=None)


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=2)


def test_progress_reports_every_series() -> None:
    series = panel(10)
    calls: list[tuple[int, int]] = []
    with session(LocalExecutor(2)):
        fit_predict(series, {"seasonal_naive": {}}, h=3, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 10) and calls[-1] == (10, 10)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.fixture(scope="module")
def dask_cluster():
    """A real scheduler and two worker processes on 127.0.0.1, stopped at the end."""
    distributed = pytest.importorskip("distributed")
    import logging

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its threads log after pytest closed the captured streams
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=40)
    try:
        yield cluster
    finally:
        cluster.close()
        quiet.setLevel(level)


def test_dask_results_identical_to_local_engine(dask_cluster) -> None:
    series = panel()
    local_fc = fit_predict(series, SPECS, h=6, n_jobs=1)
    local_cv = cross_validation(series, SPECS, h=6, n_windows=2, n_jobs=2)
    with DaskExecutor(dask_cluster.scheduler_address) as ex:
        assert ex.n_workers == 2
        assert ex.describe().startswith("dask at tcp://127.0.0.1:")
        with session(ex):
            dask_fc = fit_predict(series, SPECS, h=6)
            dask_cv = cross_validation(series, SPECS, h=6, n_windows=2)
        # both worker processes took part
        ran_on = ex.client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
    pdt.assert_frame_equal(local_fc, dask_fc)
    pdt.assert_frame_equal(local_cv, dask_cv)
    assert len(ran_on) == 2 and all(v > 0 for v in ran_on.values())
    assert dask_fc[S.MEAN].notna().all()


def test_dask_map_order_and_errors(dask_cluster) -> None:
    with DaskExecutor(dask_cluster.scheduler_address) as ex:
        got = dict(ex.map(_square, [[1], [2, 3], [4]], 1))
        assert got == {0: [2], 1: [5, 10], 2: [17]}
        arrays = [np.arange(5.0) + i for i in range(7)]
        with session(ex):
            res = run_batches(_count_batch, arrays, [[5]] * 7, (2.0,))
    sids = np.concatenate([r["sid"] for r in res])
    assert sorted(sids.tolist()) == list(range(7))
    vals = {int(s): float(v) for r in res for s, v in zip(r["sid"], r["mean"])}
    assert vals == {i: 2.0 * (10 + 5 * i) for i in range(7)}


def _count_batch(items: list, factor: float) -> dict:
    sid = np.array([i for i, _, _ in items], dtype=int)
    mean = np.array([factor * float(y.sum()) for _, y, _ in items])
    return {"sid": sid, "mean": mean, "errors": []}


def _exp(tmp_path, engine_section: str = ""):
    from forecast.config import load_experiment

    p = tmp_path / "e.toml"
    p.write_text(f'[experiment]\nname = "x"\n[data]\nstore = "{tmp_path / "s.duckdb"}"\n[scope]\nzones = ["4413"]\n'
                 f'[output]\ndir = "{tmp_path / "out"}"\n{engine_section}', encoding="utf-8")
    return load_experiment(p)


def test_engine_section_is_validated(tmp_path) -> None:
    exp = _exp(tmp_path, '[engine]\ncache = false\nbacktest_refresh = 3\nlock_wait = -1\n')
    assert (exp.engine, exp.cache, exp.backtest_refresh, exp.lock_wait, exp.screen_sample) == ("local", False, 3, None, 200)
    with pytest.raises(ConfigError, match=r"e\.toml: \[engine\] engine: unknown engine 'spark'"):
        _exp(tmp_path, '[engine]\nengine = "spark"\n')
    with pytest.raises(ConfigError, match=r"\[engine\] scheduler: the dask engine needs a scheduler address"):
        _exp(tmp_path, '[engine]\nengine = "dask"\n')


def test_command_line_overrides_and_resume(tmp_path) -> None:
    from forecast.executors import with_engine_options

    exp = _exp(tmp_path)
    e2, run_dir = with_engine_options(exp, scheduler="tcp://127.0.0.1:8786", cache=False, wait=-1)
    assert (e2.engine, e2.scheduler, e2.cache, e2.lock_wait, run_dir) == ("dask", "tcp://127.0.0.1:8786", False, None, None)
    with pytest.raises(ConfigError, match="--engine dask needs --scheduler"):
        with_engine_options(exp, engine="dask")
    with pytest.raises(ConfigError, match="no interrupted run of 'x'"):
        with_engine_options(exp, resume=True)
    done, broken = tmp_path / "out" / "x" / "20260101-000000", tmp_path / "out" / "x" / "20260102-000000"
    done.mkdir(parents=True)
    (done / "summary.json").write_text("{}")
    broken.mkdir()
    assert with_engine_options(exp, resume=True)[1] == broken
    (broken / "summary.json").write_text("{}")
    with pytest.raises(ConfigError, match="no interrupted run"):
        with_engine_options(exp, resume=True)
    with pytest.raises(ConfigError, match="--resume needs the results cache"):
        with_engine_options(exp, cache=False, resume=True)
