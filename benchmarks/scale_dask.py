"""Benchmark 3: the same backtest + forecast on a Dask cluster of 1 and of 2 worker processes.

Identical forecasts whichever cluster (and identical to the local engine), and the throughput of 2
workers against 1 (target >= 1.7x on this 2-core machine). A real ``distributed`` scheduler and
worker processes on 127.0.0.1 (``LocalCluster(processes=True, threads_per_worker=1)``); the
cluster start-up is not timed (a production cluster is already running).

    .venv/bin/python benchmarks/scale_dask.py --series 240
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_common import Timer, grand_est_series, machine, record, sample_ids  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=240)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    import pandas.testing as pdt
    from distributed import LocalCluster

    from forecast.backtest import cross_validation
    from forecast.config import DEFAULT_FAMILIES
    from forecast.engine import fit_predict
    from forecast.executors import DaskExecutor, LocalExecutor, session

    series, _ = grand_est_series()
    ids = sample_ids(series, args.series, seed=3)
    data = series[series["unique_id"].isin(set(ids))][["unique_id", "ds", "y"]].reset_index(drop=True)
    specs = {f: {} for f in DEFAULT_FAMILIES}
    load_start = machine()["load_1_5_15"]

    def work() -> tuple:
        cv = cross_validation(data, specs, h=12, n_windows=args.windows)
        fc = fit_predict(data, specs, h=24)
        return cv, fc

    runs, frames = {}, {}
    for n_workers in (1, 2):
        cluster = LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address=None, silence_logs=40)
        try:
            with DaskExecutor(cluster.scheduler_address) as ex, session(ex):
                ex.client.run(lambda: __import__("forecast.models"))  # warm imports, not timed
                with Timer() as t:
                    frames[n_workers] = work()
        finally:
            cluster.close()
        fits = len(ids) * len(specs) * (args.windows + 1)
        runs[f"dask_{n_workers}_workers"] = {"seconds": round(t.seconds, 1), "fits_per_s": round(fits / t.seconds, 1)}
        print(n_workers, "workers:", runs[f"dask_{n_workers}_workers"], flush=True)
    with session(LocalExecutor(2)), Timer() as t:
        local = work()
    runs["local_pool_2"] = {"seconds": round(t.seconds, 1)}
    for a, b in ((frames[1], frames[2]), (frames[1], local)):
        for x, y in zip(a, b):
            pdt.assert_frame_equal(x, y)
    ratio = runs["dask_1_workers"]["seconds"] / runs["dask_2_workers"]["seconds"]
    result = {"series": len(ids), "families": list(specs), "windows": args.windows, "fits": fits, "runs": runs,
              "throughput_2_vs_1": round(ratio, 2), "target_met": ratio >= 1.7,
              "identical_forecasts": "dask 1 worker == dask 2 workers == local pool (pandas assert_frame_equal)",
              "load_at_start": load_start}
    print(result)
    if not args.no_record:
        record("scale_dask", f".venv/bin/python benchmarks/scale_dask.py --series {args.series}", result)


if __name__ == "__main__":
    main()
