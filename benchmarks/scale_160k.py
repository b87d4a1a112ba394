"""Benchmark 5: 160,000 synthetic series (France: 306 zones x 532 fiches) through the fast families.

End to end on this machine, in chunks of ``--chunk`` series (one chunk ~ one region's worth of
series, the unit of work a France run would stream): generate the monthly counts (84 months,
negative-binomial, seasonal, France-like mix of volumes: most bottom series are sparse), backtest
the fast default families (seasonal naive, Theta, SBA, TSB: 3 windows of 12 months), forecast 24
months, score (MASE, RMSSE, coverage...), choose per Syntetos-Boylan class, write the forecasts and
backtest to Parquet. Wall time per stage and peak memory of the process tree (sampled every second).

    .venv/bin/python benchmarks/scale_160k.py --series 160000
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_common import WORK, machine, record  # noqa: E402

FAST = ("seasonal_naive", "theta", "sba", "tsb")


def synthetic(n: int, months: int, seed: int, offset: int):
    """``n`` France-like monthly count series as a long frame (unique_id, ds, y)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    level = np.exp(rng.normal(-0.3, 1.4, n))                 # median ~0.7 offers a month: mostly sparse
    amp = rng.uniform(0, 0.5, n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    trend = rng.normal(0, 0.01, n)[:, None]
    t = np.arange(months)[None, :]
    lam = level[:, None] * (1 + amp * np.sin(2 * np.pi * t / 12 + phase)) * np.exp(trend * t)
    k = 2.0                                                  # negative binomial: over-dispersed counts
    y = rng.poisson(rng.gamma(k, lam / k)).astype(float)
    ids = np.array([f"z{(offset + i) // 532:03d}/f{(offset + i) % 532:03d}" for i in range(n)], dtype=object)
    ds = pd.date_range("2019-01-01", periods=months, freq="MS")
    return pd.DataFrame({"unique_id": np.repeat(ids, months), "ds": np.tile(ds.to_numpy(), n), "y": y.ravel()})


class PeakMemory(threading.Thread):
    """Samples the memory of this process and its children: ``peak`` = the largest sum of their
    proportional set sizes (pages shared by forked workers counted once), ``peak_rss`` = of their
    RSS (shared pages counted once per process); in bytes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc, self.peak, self.peak_rss, self.stop = psutil.Process(), 0, 0, False

    def run(self) -> None:
        import psutil

        while not self.stop:
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                info = [p.memory_full_info() for p in procs]
                self.peak = max(self.peak, sum(m.pss for m in info))  # shared pages counted once
                self.peak_rss = max(self.peak_rss, sum(m.rss for m in info))
            except psutil.Error:
                pass
            time.sleep(1.0)  # reading PSS costs CPU: once a second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=160_000)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=84)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    import pandas as pd

    from forecast import schema as S
    from forecast.backtest import cross_validation
    from forecast.classify_series import CLASS, classify
    from forecast.engine import fit_predict
    from forecast.executors import LocalExecutor, session
    from forecast.metrics import aggregate, evaluate
    from forecast.select import select_by_group

    out = WORK / "france160k"
    out.mkdir(parents=True, exist_ok=True)
    mem = PeakMemory()
    mem.start()
    load_start = machine()["load_1_5_15"]
    stages = {"generate": 0.0, "backtest": 0.0, "forecast": 0.0, "score_select": 0.0, "write": 0.0}
    specs = {f: {} for f in FAST}
    rows = {"cv": 0, "forecasts": 0}
    agg_parts = []
    t_all = time.perf_counter()
    with session(LocalExecutor(args.n_jobs)):
        for k, start in enumerate(range(0, args.series, args.chunk)):
            n = min(args.chunk, args.series - start)
            t = time.perf_counter()
            data = synthetic(n, args.months, seed=1000 + k, offset=start)
            stages["generate"] += time.perf_counter() - t
            t = time.perf_counter()
            cv = cross_validation(data, specs, h=12, n_windows=3)
            stages["backtest"] += time.perf_counter() - t
            t = time.perf_counter()
            fc = fit_predict(data, specs, h=24)
            stages["forecast"] += time.perf_counter() - t
            t = time.perf_counter()
            metrics = evaluate(cv, data)
            classes = classify(data).set_index(S.UID)[CLASS]
            chosen = select_by_group(metrics, classes, metric="rmsse")
            sel = fc.merge(chosen.rename(columns={S.MODEL: "chosen"}), on=S.UID)
            sel = sel[sel[S.MODEL] == sel["chosen"]]
            agg_parts.append(aggregate(metrics).assign(chunk=k))
            stages["score_select"] += time.perf_counter() - t
            t = time.perf_counter()
            sel.to_parquet(out / f"forecasts_{k:02d}.parquet", index=False)
            cv.to_parquet(out / f"backtest_{k:02d}.parquet", index=False)
            stages["write"] += time.perf_counter() - t
            rows["cv"] += len(cv)
            rows["forecasts"] += len(sel)
            print(f"chunk {k}: {start + n} series, {time.perf_counter() - t_all:.0f} s, peak {mem.peak / 2**20:.0f} MB",
                  flush=True)
            del data, cv, fc, metrics, sel
    total = time.perf_counter() - t_all
    mem.stop = True
    agg = pd.concat(agg_parts).groupby([S.MODEL, S.METRIC])[S.VALUE].mean().unstack()
    fits = args.series * len(FAST) * 4
    result = {
        "series": args.series, "months": args.months, "chunk": args.chunk, "families": list(FAST),
        "fits": fits, "seconds": round(total, 1), "ms_per_series_all_families": round(1000 * total / args.series, 2),
        "fits_per_s": round(fits / total), "stages_s": {k: round(v, 1) for k, v in stages.items()},
        "peak_memory_pss_mb_process_tree": round(mem.peak / 2**20),
        "peak_rss_sum_mb_process_tree": round(mem.peak_rss / 2**20), "rows": rows, "n_jobs": args.n_jobs,
        "rmsse_by_family": agg["rmsse"].round(3).to_dict() if "rmsse" in agg else {},
        "load_at_start": load_start,
    }
    print(result)
    if not args.no_record:
        record("scale_160k", f".venv/bin/python benchmarks/scale_160k.py --series {args.series}", result)


if __name__ == "__main__":
    main()
