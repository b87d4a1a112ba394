"""run_experiment(experiment, tracker) -> RunResult: the whole flow, stage by stage.

ingest -> series -> backtest -> select -> predict -> supply -> gap -> outputs, with MLflow
called at stage boundaries through the tracker handed in (stages never import mlflow).
"""
from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from forecast import schema as S
from forecast.config import Experiment
from forecast.errors import DataError
from forecast.gap import compute_gap, gap_summary
from forecast.io import write_json, write_table
from forecast.report.plots import plot_demand_vs_supply
from forecast.series import build_series
from forecast.store import FileReport, Store
from forecast.supply import project_supply
from forecast.tracking import NullTracker, Tracker

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class RunResult:
    """What a run produced: its folder, tables and plots, and the headline figures."""

    run_dir: Path
    run_id: str | None
    experiment: str
    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)


def n_jobs_of(exp: Experiment) -> int:
    return exp.n_jobs or os.cpu_count() or 1


def ingest_stage(exp: Experiment) -> list[FileReport]:
    """Ingest the experiment's offer and session files into its store (idempotent)."""
    reports: list[FileReport] = []
    with Store(exp.store) as store:
        if exp.offers:
            reports += store.ingest(list(exp.offers), "offers", dedupe_days=exp.dedupe_days,
                                    dedupe_similarity=exp.dedupe_similarity, dedupe=exp.dedupe,
                                    offer_columns=exp.offer_columns or None)
        if exp.sessions:
            reports += store.ingest(list(exp.sessions), "sessions")
    return reports


def series_stage(exp: Experiment, out: Path | None = None, submit: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(series, catalog); with ``out``, every series is written there (through ``submit`` if given)
    and only the modelled ones and the totals are returned (:func:`forecast.series.build_series`)."""
    with Store(exp.store, read_only=True) as store:
        return build_series(store, exp.zones, exp.start, exp.end, exp.levels, exp.measure,
                            exp.min_total, exp.top_skills, refresh=exp.backtest_refresh, out=out, submit=submit)


def sessions_of(exp: Experiment) -> pd.DataFrame:
    with Store(exp.store, read_only=True) as store:
        return store.query("SELECT * FROM sessions")


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _select_forecasts(modelled: pd.DataFrame, selection: pd.DataFrame, specs: dict[str, dict], horizon: int,
                      n_jobs: int, progress: Callable[[int, int], None] | None, fallback: str) -> pd.DataFrame:
    """Fit each series' selected model on the full history and forecast; fall back on failure."""
    from forecast.engine import fit_predict

    chosen = selection.set_index(S.UID)[S.MODEL]
    parts = []
    for family in sorted(set(chosen)):
        ids = chosen.index[chosen == family]
        part = modelled[modelled[S.UID].isin(ids)]
        parts.append(fit_predict(part, {family: specs.get(family, {})}, horizon, n_jobs=n_jobs, progress=progress))
    fc = pd.concat(parts, ignore_index=True)
    failed = fc.loc[fc[S.MEAN].isna(), S.UID].unique()
    if len(failed):
        log.warning("%d series: selected model failed on the full history, fallback %s", len(failed), fallback)
        fb = fit_predict(modelled[modelled[S.UID].isin(failed)], {fallback: specs.get(fallback, {})}, horizon, n_jobs=1)
        fc = pd.concat([fc[~fc[S.UID].isin(failed)], fb], ignore_index=True)
    fc = fc.rename(columns={S.MODEL: "chosen"}).assign(**{S.MODEL: "selected"})
    return fc.sort_values([S.UID, S.DS]).reset_index(drop=True)


def run_experiment(exp: Experiment, tracker: Tracker | None = None, progress: Progress | None = None,
                   run_dir: Path | None = None) -> RunResult:
    """Run every stage of an experiment and write its outputs into one folder per run."""
    tracker = tracker or NullTracker()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(run_dir or exp.output_dir / exp.name / stamp)
    run_dir.mkdir(parents=True, exist_ok=True)
    n_jobs = n_jobs_of(exp)
    timings: dict[str, float] = {}
    fallback = "seasonal_naive" if "seasonal_naive" in exp.families else exp.families[0]

    def tick(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    params = {"zones": ",".join(exp.zones), "start": exp.start, "end": exp.end or "auto",
              "measure": exp.measure, "families": ",".join(exp.families), "horizon": exp.horizon,
              "backtest_horizon": exp.backtest_horizon, "backtest_windows": exp.backtest_windows,
              "backtest_step": exp.backtest_step, "metric": exp.metric, "min_total": exp.min_total,
              "top_skills": exp.top_skills, "completion_rate": exp.completion_rate, "n_jobs": n_jobs}
    from forecast.publish import data_version, publish, write_quality_tables

    tags = {"experiment_file": str(exp.path), "run_dir": str(run_dir), "code_version": _git_commit(),
            "data_version": data_version(exp)}
    result = RunResult(run_dir=run_dir, run_id=None, experiment=exp.name)
    from forecast.executors import experiment_session  # locks, executor ([engine]) and results cache

    with experiment_session(exp), tracker.parent(f"{exp.name}-{stamp}", params, tags) as run_id:
        result.run_id = run_id
        t0 = time.perf_counter()
        reports = ingest_stage(exp)
        timings["ingest"] = time.perf_counter() - t0
        log.info("stage ingest: %.1f s", timings["ingest"])
        ingest_counts = {k: sum(getattr(r, f"n_{k}") for r in reports) for k in ("input", "accepted", "duplicates", "rejected")}

        t0 = time.perf_counter()
        # every series is written to series.parquet; the driver keeps only what the later stages read
        # (the modelled series and the zone / region totals the hierarchy needs): on the Grand Est,
        # 10,878 of 165,844 series, whose full grid took 2 GB of memory
        series_table = run_dir / "series.parquet"
        from concurrent.futures import ThreadPoolExecutor

        writing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="series-parquet")
        pending: list[Any] = []  # written by a thread while the forecast stage runs (its workers do the work)
        series, catalog = series_stage(exp, out=series_table,
                                       submit=lambda *a: pending.append(writing.submit(*a)))
        modelled_ids = set(catalog.loc[catalog["modelled"], S.UID])
        if not modelled_ids:
            raise DataError(f"{exp.path}: no series has enough data to model (lower [series] min_total)")
        end = str(series[S.DS].max().to_period("M"))
        timings["series"] = time.perf_counter() - t0
        log.info("stage series: %.1f s", timings["series"])

        # forecasting: classes, backtest, selection/combination, calibration, reconciliation, paths, signals
        from forecast.forecast_stage import forecast_stage, stage_metrics, stage_tables

        t0 = time.perf_counter()
        from forecast.screening import screen_experiment  # costly families only where they can win

        fs = forecast_stage(series, modelled_ids, exp.families, exp.horizon, exp.backtest_horizon,
                            exp.backtest_windows, exp.backtest_step, exp.metric, params=exp.model_params,
                            combos=exp.combos, combo_how=exp.combo_how, reconcile=exp.reconcile_method,
                            domains=exp.reconcile_domains, n_jobs=n_jobs, progress=progress,
                            screen=lambda data: screen_experiment(exp, data, progress))
        specs, modelled, forecasts = fs.specs, fs.data, fs.forecasts
        cv, metrics, agg = fs.strategy.cv, fs.strategy.metrics, fs.strategy.summary
        nested, selection = fs.strategy.selection_score, fs.strategy.selection
        forecast_tables = stage_tables(fs, run_dir)  # paths.npz first: gap and plan read it
        timings.update({f"forecast_{k}": v for k, v in fs.timings_s.items()})
        timings["predict"] = time.perf_counter() - t0
        log.info("stage predict: %.1f s", timings["predict"])

        t0 = time.perf_counter()
        from forecast.plan import gap_plan_stage, paths_for
        from forecast.supply import read_job_seekers

        sessions = sessions_of(exp)
        job_seekers = read_job_seekers(exp.job_seekers) if exp.job_seekers else None
        supply = project_supply(sessions, exp.zones, exp.start, end, exp.horizon, exp.completion_rate,
                                exp.projection_years, rates=exp.supply_rates(), job_seekers=job_seekers)
        gap = compute_gap(forecasts, catalog, supply)
        pp = exp.plan_params
        gp = gap_plan_stage(paths_for(forecasts, run_dir, paths=fs.paths), catalog, supply, sessions, gap, run_dir,
                            rates=exp.supply_rates(), costs=exp.plan_costs(), budget=float(pp.get("budget", 0)),
                            horizons=exp.gap_horizons, plan_horizon=min(int(pp.get("horizon", 24)), exp.horizon),
                            n_opt=int(pp.get("paths", 200)), time_limit=float(pp.get("time_limit", 60)),
                            series=series, fans=exp.top_plots, thresholds=exp.gap_thresholds)
        summary_gap = gp.summary if len(gp.summary) else gap_summary(gap, months=min(12, exp.horizon))
        timings["supply_gap"] = time.perf_counter() - t0
        log.info("stage supply_gap: %.1f s", timings["supply_gap"])

        for fut in pending:  # series.parquet is complete before any output lists or reads it
            fut.result()
        writing.shutdown()
        # --- outputs ---------------------------------------------------------------------
        tables = {
            "series": series_table,
            "catalog": write_table(catalog, run_dir / "catalog.parquet"),
            "backtest": write_table(cv, run_dir / "backtest.parquet"),
            "metrics": write_table(metrics, run_dir / "metrics.parquet"),
            "metrics_summary": write_table(agg, run_dir / "metrics_summary.csv"),
            "selection_score": write_table(nested, run_dir / "selection_score.csv"),
            "selection": write_table(selection, run_dir / "selection.csv"),
            "forecasts": write_table(forecasts, run_dir / "forecasts.parquet"),
            "supply": write_table(supply, run_dir / "supply.parquet"),
            "gap": write_table(gap, run_dir / "gap.parquet"),
            "gap_summary": gp.files.get("gap_summary") or write_table(summary_gap, run_dir / "gap_summary.csv"),
            **gp.files,
        }
        tables["forecasts_csv"] = write_table(forecasts, run_dir / "forecasts.csv")
        tables["gap_csv"] = write_table(gap, run_dir / "gap.csv")
        tables.update(forecast_tables)
        tables.update(write_quality_tables(exp, reports, run_dir))
        result.tables = tables
        t0 = time.perf_counter()
        result.plots = _plots(exp, series, catalog, forecasts, supply, run_dir) + gp.plots
        timings["plots"] = time.perf_counter() - t0
        log.info("stage plots: %.1f s", timings["plots"])

        # --- headline figures and tracking ---------------------------------------------------
        nested_m = nested[nested[S.METRIC] == exp.metric].set_index(S.MODEL)[S.VALUE]
        summary: dict[str, Any] = {
            "experiment": exp.name, "run_dir": str(run_dir), "run_id": run_id, "end": end,
            "series": len(catalog), "modelled_series": len(modelled_ids), "ingest": ingest_counts,
            "metric": exp.metric, "backtest_windows": exp.backtest_windows, "backtest_horizon": exp.backtest_horizon,
            "backtest": {m: {k: float(v) for k, v in g.set_index(S.METRIC)[S.VALUE].items()}
                         for m, g in agg.groupby(S.MODEL)},
            "selection_vs_baseline": {k: float(v) for k, v in nested_m.items()},
            "selection_counts": selection[S.MODEL].value_counts().to_dict(),
            "timings_s": {k: round(v, 2) for k, v in timings.items()},
            "top_shortages": summary_gap.head(10)[["label", "demand", "supply", "gap"]].round(1).to_dict("records"),
            "gap_plan": {k: round(v, 2) for k, v in gp.metrics.items()},
        }
        result.summary = summary
        write_json(summary, run_dir / "summary.json")
        for family in specs:  # families and combinations: same metric names, overall / per level / per class
            tracker.log_child(family, {"family": family, **{f"param_{k}": v for k, v in specs[family].items()}},
                              stage_metrics(fs, family), tags={"model_family": specs[family].get("model", family)})
        tracker.log_params({"reconcile_method": fs.reconcile_method,
                            "selection_counts": str(selection[S.MODEL].value_counts().to_dict())})
        tracker.log_metrics(stage_metrics(fs, "parent"))
        summary["forecast"] = stage_metrics(fs, "parent")
        parent_metrics = {f"{exp.metric}_selected": nested_m.get("selected", float("nan")),
                          f"{exp.metric}_seasonal_naive_same_windows": nested_m.get("seasonal_naive", float("nan")),
                          "n_series": float(len(catalog)), "n_modelled": float(len(modelled_ids)),
                          "offers_accepted": float(ingest_counts["accepted"]),
                          "offers_rejected": float(ingest_counts["rejected"]),
                          **{f"time_{k}_s": v for k, v in timings.items()}, **gp.metrics}
        for m, v in nested_m.items():
            parent_metrics[f"nested_{exp.metric}_{m}"] = v
        tracker.log_metrics(parent_metrics)
        tracker.log_artifact(exp.path, "config")
        from forecast.report.plots_backtest import backtest_plots

        result.plots += backtest_plots(run_dir, series, catalog, forecasts, cv, selection, exp.top_plots)
        tracker.log_artifacts(run_dir / "plots", "plots")  # forecast, backtest and gap plots, for the UI
        from forecast.publish import FORECASTER_DIR
        from forecast.pyfunc import save_replay  # the registered model gives the run's final forecasts

        save_replay(run_dir / FORECASTER_DIR, fs.strategy, forecasts, fs.reconcile_method)
        published = publish(exp, tracker, run_dir, modelled, catalog, metrics, selection, specs, summary, fallback)
        summary.update(report=str(published["report"]), model_version=published["model_version"])
        write_json(summary, run_dir / "summary.json")
        tracker.log_artifacts(run_dir, "outputs")
    return result


def _plots(exp: Experiment, series: pd.DataFrame, catalog: pd.DataFrame, forecasts: pd.DataFrame,
           supply: pd.DataFrame, run_dir: Path) -> list[Path]:
    """PNG of demand forecast vs supply for the top occupations by forecast demand."""
    occ = catalog[(catalog[S.LEVEL] == "rome_zone") & catalog["modelled"]]
    fc = forecasts[forecasts[S.UID].isin(occ[S.UID])]
    top = fc.groupby(S.UID)[S.MEAN].sum().sort_values(ascending=False).head(exp.top_plots).index
    info = occ.set_index(S.UID)
    paths = []
    hist_start = series[S.DS].max() - pd.DateOffset(months=47)
    for rank, u in enumerate(top, start=1):
        row = info.loc[u]
        hist = series[(series[S.UID] == u) & (series[S.DS] >= hist_start)]
        sp = supply[(supply[S.ZONE] == row[S.ZONE]) & (supply[S.ROME] == row[S.KEY]) & (supply[S.DS] >= hist_start)]
        name = f"{rank:02d}_{row[S.ZONE]}_{row[S.KEY]}.png"
        paths.append(plot_demand_vs_supply(hist, fc[fc[S.UID] == u], sp, f"{row['label']} ({row[S.KEY]})",
                                           run_dir / "plots" / name))
    return paths


@dataclass
class BacktestResult:
    cv: pd.DataFrame
    metrics: pd.DataFrame
    summary: pd.DataFrame
    selection_score: pd.DataFrame
    selection: pd.DataFrame


def backtest_series(series: pd.DataFrame, families: list[str] | tuple[str, ...], horizon: int = 12,
                    windows: int = 3, step: int | None = None, metric: str = "mase", n_jobs: int = 1,
                    progress: Callable[[int, int], None] | None = None,
                    params: dict[str, dict] | None = None) -> BacktestResult:
    """Rolling-origin backtest of ``families`` on long series; per-series selection and its honest score."""
    from forecast.backtest import cross_validation
    from forecast.metrics import aggregate, evaluate
    from forecast.select import nested_selection_score, select_best

    specs = {f: dict((params or {}).get(f, {})) for f in families}
    cv = cross_validation(series, specs, h=horizon, n_windows=windows, step=step or horizon, n_jobs=n_jobs,
                          progress=progress)
    from forecast.select import combine
    from forecast.strategy import usable_combos

    combos = usable_combos(families, None)  # the default combination(s) when their members are backtested
    for name, members in combos.items():
        cv = combine(cv, members, name=name)
    metrics = evaluate(cv, series)
    fallback = next(iter(combos), "seasonal_naive" if "seasonal_naive" in families else families[0])
    nested = (nested_selection_score(cv, series, metric=metric, fallback=fallback)
              if windows >= 2 and len(families) > 1
              else pd.DataFrame(columns=[S.MODEL, S.METRIC, S.VALUE]))
    return BacktestResult(cv, metrics, aggregate(metrics), nested,
                          select_best(metrics, metric=metric, fallback=fallback))


def predict_series(series: pd.DataFrame, families: list[str] | tuple[str, ...], horizon: int,
                   model: str | None = None, backtest_horizon: int = 12, windows: int = 3,
                   metric: str = "mase", n_jobs: int = 1,
                   progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Forecast long series ``horizon`` months ahead: with ``model`` if named, otherwise the
    product's default strategy (:func:`forecast.strategy.run_strategy`: each series' best family or
    combination by rolling-origin backtest, quantiles calibrated on the backtest residuals)."""
    from forecast.engine import fit_predict
    from forecast.strategy import run_strategy

    if model is not None:
        return fit_predict(series, {model: {}}, horizon, n_jobs=n_jobs, progress=progress)
    res = run_strategy(series, families, horizon, backtest_horizon, windows, None, metric, n_jobs=n_jobs,
                       progress=(lambda stage, d, t: progress(d, t)) if progress else None)
    return res.forecasts
