"""Benchmark 2: the product's engine against a straightforward loop, same 500 series, same work.

Both compute the product's default strategy on the same seeded sample of Grand Est bottom series
(every default family, 3 backtest windows of 12 months + the 24-month full-history forecast, then
the same combination, class selection and calibration, :func:`forecast.strategy.finish_strategy`):

- loop: for each series, each window, each family: ``make_model(f).fit(y[:n]).predict(h)``, one
  process, one fit at a time (what one writes first);
- engine: screening (costly families only on the classes where they win on a sample,
  :mod:`forecast.screening`), the cheap families vectorised (:mod:`forecast.fastpath`), the
  batched engine on a local pool of 2 processes, a cold results cache (the screening's sample fits
  are not computed twice).

Reported: wall time of each, speed-up (target >= 10x), and the aggregate RMSSE of the selection
(nested: chosen on earlier windows, scored on later ones) of each (target: within 2 %).

    .venv/bin/python benchmarks/scale_engine_vs_loop.py --series 500
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_common import Timer, grand_est_series, machine, record, sample_ids  # noqa: E402


def loop_candidates(data, families, horizon, bh, windows):
    """The straightforward loop: cv and full-history candidates frames (the engine's schemas)."""
    import numpy as np
    import pandas as pd

    from forecast import schema as S
    from forecast.backtest import cutoffs
    from forecast.models import make_model

    cv_rows, fc_rows = [], []
    for uid, g in data.groupby(S.UID, sort=True):
        y = g[S.Y].to_numpy(float)
        ds = g[S.DS].to_numpy()
        first = pd.Timestamp(ds[0])
        for n in cutoffs(len(y), bh, windows, bh):
            for fam in families:
                try:
                    f = make_model(fam).fit(y[:n]).predict(bh)
                    mean, q = f.mean, f.quantiles
                except Exception:  # noqa: BLE001 - same rule as the engine: NaN rows
                    mean, q = np.full(bh, np.nan), np.full((len(S.QUANTILE_LEVELS), bh), np.nan)
                dates = pd.date_range(first + pd.DateOffset(months=n), periods=bh, freq="MS")
                cv_rows.append(pd.DataFrame({S.UID: uid, S.DS: dates, S.MODEL: fam, S.MEAN: mean,
                                             **{c: q[k] for k, c in enumerate(S.QUANTILE_COLUMNS)},
                                             S.CUTOFF: first + pd.DateOffset(months=n - 1), S.Y: y[n:n + bh]}))
        for fam in families:
            try:
                f = make_model(fam).fit(y).predict(horizon)
                mean, q = f.mean, f.quantiles
            except Exception:  # noqa: BLE001
                mean, q = np.full(horizon, np.nan), np.full((len(S.QUANTILE_LEVELS), horizon), np.nan)
            dates = pd.date_range(first + pd.DateOffset(months=len(y)), periods=horizon, freq="MS")
            fc_rows.append(pd.DataFrame({S.UID: uid, S.DS: dates, S.MODEL: fam, S.MEAN: mean,
                                         **{c: q[k] for k, c in enumerate(S.QUANTILE_COLUMNS)}}))
    cv = pd.concat(cv_rows, ignore_index=True)[S.CV_COLUMNS]
    cand = pd.concat(fc_rows, ignore_index=True)[S.FORECAST_COLUMNS]
    return cv.sort_values([S.UID, S.MODEL, S.CUTOFF, S.DS]).reset_index(drop=True), cand


def nested_rmsse(res) -> float:
    s = res.selection_score
    return float(s[(s["model"] == "selected") & (s["metric"] == "rmsse")]["value"].iloc[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--screen-sample", type=int, default=60)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from forecast import schema as S
    from forecast.config import DEFAULT_FAMILIES
    from forecast.executors import LocalExecutor, session
    from forecast.screening import screen
    from forecast.strategy import fit_candidates, finish_strategy

    series, _ = grand_est_series()
    ids = sample_ids(series, args.series, seed=7)
    data = series[series[S.UID].isin(set(ids))][[S.UID, S.DS, S.Y]].sort_values([S.UID, S.DS]).reset_index(drop=True)
    fams = list(DEFAULT_FAMILIES)
    load_start = machine()["load_1_5_15"]

    import tempfile

    from forecast.cache import ResultCache

    cold = tempfile.mkdtemp(prefix="forecast_bench_cache_")  # cold cache: the screening's fits are reused
    with Timer() as t_engine:
        with session(LocalExecutor(2), ResultCache(cold)):
            from forecast.executors import set_plan

            plan = screen(data, fams, 12, 3, 12, "rmsse", sample=args.screen_sample, n_jobs=2)
            set_plan(plan)
            cv_e, cand_e, _t = fit_candidates(data, fams, 24, 12, 3, 12, n_jobs=2)
        res_e = finish_strategy(data, cv_e, cand_e, fams, "rmsse")
    print(f"engine {t_engine.seconds:.1f} s, plan skips {plan.skipped_fraction(['ets', 'arima'], len(ids)):.0%}",
          flush=True)
    with Timer() as t_loop:
        cv_l, cand_l = loop_candidates(data, fams, 24, 12, 3)
        res_l = finish_strategy(data, cv_l, cand_l, fams, "rmsse")
    print(f"loop {t_loop.seconds:.1f} s", flush=True)
    r_e, r_l = nested_rmsse(res_e), nested_rmsse(res_l)
    result = {
        "series": len(ids), "families": fams, "windows": 3, "backtest_horizon": 12, "horizon": 24,
        "loop_s": round(t_loop.seconds, 1), "engine_s": round(t_engine.seconds, 1),
        "speedup": round(t_loop.seconds / t_engine.seconds, 2),
        "rmsse_selected_loop": round(r_l, 4), "rmsse_selected_engine": round(r_e, 4),
        "rmsse_relative_change": round(r_e / r_l - 1, 4),
        "target_speed_met": t_loop.seconds / t_engine.seconds >= 10, "target_accuracy_met": r_e <= r_l * 1.02,
        "screening": plan.report.to_dict("records"),
        "selection_counts_engine": res_e.selection[S.MODEL].value_counts().to_dict(),
        "selection_counts_loop": res_l.selection[S.MODEL].value_counts().to_dict(),
        "load_at_start": load_start, "finished": time.strftime("%H:%M:%S"),
    }
    print(result)
    if not args.no_record:
        record("scale_engine_vs_loop", f".venv/bin/python benchmarks/scale_engine_vs_loop.py --series {args.series}",
               result)


if __name__ == "__main__":
    main()
