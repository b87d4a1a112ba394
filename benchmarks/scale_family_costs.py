"""Time per series per family and memory per worker: the unit costs behind docs/france_design.md.

On ``--series`` Grand Est bottom series (seeded sample), one process, BLAS on one thread: fit on
the first 72 months and forecast 12, one series at a time through the family's class, and for the
cheap families also all series at once through :mod:`forecast.fastpath`. Then the resident memory
of this process once every family has been imported and used (what one worker holds before data).

    .venv/bin/python benchmarks/scale_family_costs.py --series 100
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_common import grand_est_series, machine, record, sample_ids  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--prophet", type=int, default=20, help="series for Prophet (slow)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import psutil

    from forecast import fastpath
    from forecast.models import make_model
    from forecast.models.base import single_threaded

    rss0 = psutil.Process().memory_info().rss
    series, _ = grand_est_series()
    ids = sample_ids(series, args.series, seed=11)
    sub = series[series["unique_id"].isin(set(ids))].sort_values(["unique_id", "ds"])
    Y = np.vstack([g["y"].to_numpy(float) for _, g in sub.groupby("unique_id")])[:, :72]
    del series, sub
    import gc

    gc.collect()
    rss1 = psutil.Process().memory_info().rss
    per_series, vectorised = {}, {}
    with single_threaded():
        for fam in ("seasonal_naive", "theta", "sba", "tsb", "ets", "arima", "prophet"):
            rows = Y[: args.prophet] if fam == "prophet" else Y
            make_model(fam).fit(rows[0]).predict(12)  # imports and first-call costs, not timed
            t = time.perf_counter()
            for y in rows:
                make_model(fam).fit(y).predict(12)
            per_series[fam] = round(1000 * (time.perf_counter() - t) / len(rows), 3)
            if fastpath.supports(fam, {}):
                fastpath.fit_many(fam, {}, Y[:2], 12)
                t = time.perf_counter()
                fastpath.fit_many(fam, {}, Y, 12)
                vectorised[fam] = round(1000 * (time.perf_counter() - t) / len(Y), 4)
            print(fam, per_series[fam], "ms/series", vectorised.get(fam, ""), flush=True)
    rss = psutil.Process().memory_info().rss
    result = {"series": len(Y), "train_months": 72, "horizon": 12,
              "ms_per_series_one_fit_class": per_series, "ms_per_series_one_fit_vectorised": vectorised,
              "worker_rss_mb_all_families_loaded": round(rss / 2**20), "rss_mb_at_start": round(rss0 / 2**20),
              "rss_mb_after_reading_series": round(rss1 / 2**20),
              "load": machine()["load_1_5_15"]}
    print(result)
    if not args.no_record:
        record("scale_family_costs", f".venv/bin/python benchmarks/scale_family_costs.py --series {args.series}", result)


if __name__ == "__main__":
    main()
