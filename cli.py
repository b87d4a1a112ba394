"""forecast: the command line (a thin Typer layer over the ``forecast`` library).

Each command parses its options, calls one library function, and prints or writes.
Errors the user can fix end with one ``Error: ...`` line on stderr and exit code 1.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from forecast.errors import ForecastError

app = typer.Typer(
    help="Skills-demand forecasting: job offers -> monthly demand -> forecasts -> gap with training supply.\n\n"
    "Example: forecast demo && forecast run experiments/reims.toml",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_STORE = Path("data/forecast.duckdb")


def boundary(func: F) -> F:
    """The one error boundary: library errors -> 'Error: ...' on stderr, exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ForecastError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False,
         quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False) -> None:
    """Configure logging for the whole command line."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    _QUIET[0] = quiet
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    for noisy in ("cmdstanpy", "prophet", "mlflow", "alembic", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


_QUIET = [False]  # set by --quiet: no progress bars either


def _progress() -> tuple[Any, Callable[[str, int, int], None]]:
    """A rich progress display (stderr, only on a terminal and without --quiet) and the callback
    the library calls."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=False,
                    disable=_QUIET[0] or not sys.stderr.isatty())
    tasks: dict[str, Any] = {}

    def cb(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(stage, total=total)
        prog.update(tasks[stage], completed=done, total=total)

    return prog, cb


def _load(config: Path):
    from forecast.config import load_experiment

    return load_experiment(config)


def _print_table(df, max_rows: int = 30) -> None:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_rows", max_rows):
        typer.echo(df.to_string(index=False) if len(df) <= max_rows else df.head(max_rows).to_string(index=False))


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Experiment file (TOML).")]


@app.command()
@boundary
def demo(out: Annotated[Path, typer.Option(help="Folder for the demo files.")] = Path("data/demo"),
         seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 42,
         start: Annotated[str, typer.Option(help="First month, YYYY-MM.")] = "2019-01",
         end: Annotated[str | None, typer.Option(help="Last month, YYYY-MM (default: last full month).")] = None,
         zone: Annotated[list[str] | None, typer.Option("--zone", help="Zone d'emploi (repeat); default: all Grand Est.")] = None,
         scale: Annotated[float, typer.Option(help="Volume multiplier (1.0 = realistic demo size).")] = 1.0) -> None:
    """Write SYNTHETIC demo data: France Travail offers (JSON lines), LHEO training sessions, ground truth.

    Example: forecast demo --out data/demo --zone 4413 --scale 0.5
    """
    from forecast.demo import generate_demo

    manifest = generate_demo(out, seed=seed, start=start, end=end, zones=zone or None, scale=scale)
    typer.echo(f"Demo data (synthetic) written to {out}: {manifest.offers} offers ({manifest.duplicates} re-published), "
               f"{manifest.sessions} training sessions, in {manifest.seconds:.0f} s.")


@app.command()
@boundary
def ingest(files: Annotated[list[Path] | None, typer.Argument(help="Offer files (.jsonl[.gz], .json, .csv, .parquet, .xlsx), LHEO .xml/.csv, job seekers .csv, or folders.")] = None,
           store: Annotated[Path, typer.Option(help="The DuckDB store file.")] = DEFAULT_STORE,
           config: Annotated[Path | None, typer.Option("--config", "-c", help="Ingest the files of this experiment.")] = None) -> None:
    """Ingest offers and training sessions into the store; print accepted, duplicate and rejected counts.

    Example: forecast ingest data/demo/offres data/demo/formations --store data/forecast.duckdb
    """
    from forecast.pipeline import ingest_stage
    from forecast.store import ingest_paths

    if config is not None:
        reports = ingest_stage(_load(config))
    else:
        if not files:
            raise ForecastError("name the files or folders to ingest, or an experiment with --config")
        reports = ingest_paths(store, files)   # offers, LHEO sessions, job seekers: routed by content
    for r in reports:
        note = " (already ingested, unchanged)" if r.skipped else ""
        typer.echo(f"{r.source}: {r.n_input} records = {r.n_accepted} accepted + {r.n_duplicates} duplicates + {r.n_rejected} rejected{note}")
    tot = [sum(getattr(r, f"n_{k}") for r in reports) for k in ("input", "accepted", "duplicates", "rejected")]
    typer.echo(f"Total: {tot[0]} records = {tot[1]} accepted + {tot[2]} duplicates + {tot[3]} rejected")


@app.command()
@boundary
def rejects(store: Annotated[Path, typer.Option(help="The DuckDB store file.")] = DEFAULT_STORE,
            output: Annotated[Path | None, typer.Option(help="Write all rejects to this CSV/XLSX/Parquet file.")] = None) -> None:
    """List the rejected input records with file, record number, field and reason.

    Example: forecast rejects --output rejets.csv
    """
    from forecast.io import write_table
    from forecast.store import Store

    with Store(store, read_only=True) as st:
        df = st.rejects()
    if output:
        write_table(df, output)
        typer.echo(f"{len(df)} rejects written to {output}")
    else:
        _print_table(df[["source", "record", "field", "reason"]])
        typer.echo(f"{len(df)} rejects")


@app.command()
@boundary
def series(config: ConfigOpt,
           output: Annotated[Path, typer.Option("--output", "-o", help="Series file (.parquet or .csv); the catalog goes beside it.")] = Path("series.parquet")) -> None:
    """Build monthly demand series (occupation x zone, skill x zone, totals) from the store.

    Example: forecast series -c experiments/reims.toml -o outputs/series.parquet
    """
    from forecast.io import write_table
    from forecast.pipeline import series_stage

    s, cat = series_stage(_load(config))
    write_table(s, output)
    write_table(cat, output.with_name(output.stem + "_catalog" + output.suffix))
    typer.echo(f"{cat.shape[0]} series ({int(cat['modelled'].sum())} to model), {s['ds'].nunique()} months -> {output}")


def _series_input(config: Path | None, series_file: Path | None):
    from forecast.pipeline import series_stage
    from forecast.series import read_series_file

    if series_file is not None:
        return read_series_file(series_file), None
    if config is None:
        raise ForecastError("give --series FILE (unique_id, ds, y) or --config EXPERIMENT.toml")
    exp = _load(config)
    s, cat = series_stage(exp)
    return s[s["unique_id"].isin(cat.loc[cat["modelled"], "unique_id"])], exp


@app.command()
@boundary
def backtest(config: Annotated[Path | None, typer.Option("--config", "-c", help="Experiment file.")] = None,
             series_file: Annotated[Path | None, typer.Option("--series", help="Long series file (unique_id, ds, y), CSV or Parquet.")] = None,
             horizon: Annotated[int, typer.Option(help="Months ahead per window.")] = 12,
             windows: Annotated[int, typer.Option(help="Rolling-origin windows.")] = 3,
             model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Model family (repeat); default: all of the experiment or the default families (seasonal_naive, ets, arima, theta, sba, tsb; + their combination).")] = None,
             metric: Annotated[str, typer.Option(help="Selection metric: mase, rmsse, sql or wape.")] = "mase",
             output: Annotated[Path, typer.Option("--output", "-o", help="Folder for backtest tables.")] = Path("outputs/backtest"),
             n_jobs: Annotated[int, typer.Option(help="Processes (0 = all cores).")] = 0) -> None:
    """Rolling-origin backtest per series and model; aggregate MASE, RMSSE, WAPE and interval coverage.

    Example: forecast backtest --series my_series.csv --horizon 12 --windows 3
    """
    import os

    from forecast.io import write_table
    from forecast.config import DEFAULT_FAMILIES
    from forecast.pipeline import backtest_series

    data, exp = _series_input(config, series_file)
    families = model or (list(exp.families) if exp else list(DEFAULT_FAMILIES))
    _check_models(families)
    prog, cb = _progress()
    with prog:
        bt = backtest_series(data, families, horizon, windows, None, metric, n_jobs or os.cpu_count() or 1,
                             progress=lambda d, t: cb("backtest", d, t))
    write_table(bt.cv, output / "backtest.parquet")
    write_table(bt.metrics, output / "metrics.parquet")
    write_table(bt.summary, output / "metrics_summary.csv")
    write_table(bt.selection_score, output / "selection_score.csv")
    write_table(bt.selection, output / "selection.csv")
    _print_table(bt.summary.pivot(index="model", columns="metric", values="value").reset_index())
    if len(bt.selection_score):
        typer.echo("Per-series selection, scored on later windows only (honest):")
        _print_table(bt.selection_score.pivot(index="model", columns="metric", values="value").reset_index())
    typer.echo(f"Backtest tables written to {output}")


def _check_models(families: list[str]) -> None:
    from forecast.models import available_models

    for f in families:
        if f not in available_models():
            raise ForecastError(f"unknown model {f!r} (known: {', '.join(available_models())})")


@app.command()
@boundary
def predict(config: Annotated[Path | None, typer.Option("--config", "-c", help="Experiment file.")] = None,
            series_file: Annotated[Path | None, typer.Option("--series", help="Long series file (unique_id, ds, y), CSV or Parquet.")] = None,
            horizon: Annotated[int, typer.Option(help="Months ahead.")] = 24,
            model: Annotated[str | None, typer.Option("--model", "-m", help="Use this family for every series (default: per-series selection by backtest).")] = None,
            output: Annotated[Path, typer.Option("--output", "-o", help="Forecast file (.parquet, .csv or .xlsx).")] = Path("outputs/forecasts.parquet"),
            n_jobs: Annotated[int, typer.Option(help="Processes (0 = all cores).")] = 0) -> None:
    """Forecast every series: mean and quantiles per month (q0.025 ... q0.975).

    Example: forecast predict --series my_series.csv --horizon 24 --output forecasts.csv
    """
    import os

    from forecast.io import write_table
    from forecast.config import DEFAULT_FAMILIES
    from forecast.pipeline import predict_series

    data, exp = _series_input(config, series_file)
    families = list(exp.families) if exp else list(DEFAULT_FAMILIES)
    if model:
        _check_models([model])
    prog, cb = _progress()
    with prog:
        fc = predict_series(data, families, horizon, model=model, n_jobs=n_jobs or os.cpu_count() or 1,
                            progress=lambda d, t: cb("predict", d, t))
    write_table(fc, output)
    typer.echo(f"{fc['unique_id'].nunique()} series x {horizon} months -> {output}")


@app.command()
@boundary
def supply(config: ConfigOpt,
           output: Annotated[Path, typer.Option("--output", "-o", help="Supply table (.parquet, .csv, .xlsx).")] = Path("outputs/supply.parquet"),
           completion_rate: Annotated[float | None, typer.Option(help="Override [supply] completion_rate (0-1).")] = None,
           insertion_rate: Annotated[float | None, typer.Option(help="Override [supply] insertion_rate (0-1).")] = None,
           outflow_rate: Annotated[float | None, typer.Option(help="Override [supply] outflow_rate of job seekers (0-1).")] = None,
           job_seekers: Annotated[Path | None, typer.Option(help="Job seekers CSV (mois;zone;rome;demandeurs).")] = None) -> None:
    """Project supply per month, occupation and zone: graduates (scheduled + projected sessions) and job seekers.

    Example: forecast supply -c experiments/reims.toml --insertion-rate 0.6 -o outputs/supply.csv
    """
    import dataclasses

    from forecast.io import write_table
    from forecast.pipeline import sessions_of
    from forecast.series import data_end_month
    from forecast.store import Store
    from forecast.supply import check_rates, project_supply, read_job_seekers

    exp = _load(config)
    given = {k: v for k, v in (("completion_rate", completion_rate), ("insertion_rate", insertion_rate),
                               ("outflow_rate", outflow_rate)) if v is not None}
    check_rates(given, "supply")
    rates = dataclasses.replace(exp.supply_rates(), **given)
    js_file = job_seekers or exp.job_seekers
    with Store(exp.store, read_only=True) as st:
        end = exp.end or data_end_month(st)
    sup = project_supply(sessions_of(exp), exp.zones, exp.start, end, exp.horizon, rates.completion_rate,
                         exp.projection_years, rates=rates, job_seekers=read_job_seekers(js_file) if js_file else None)
    write_table(sup, output)
    by = sup.groupby(["component", "status"])["supply"].sum().round(1)
    typer.echo(f"{len(sup)} rows of supply -> {output}; people by component: "
               + ", ".join(f"{c}/{s} {v:g}" for (c, s), v in by.items()))


@app.command()
@boundary
def gap(forecasts: Annotated[Path, typer.Option(help="Forecast file from `forecast predict`.")],
        supply_file: Annotated[Path, typer.Option("--supply", help="Supply file from `forecast supply`.")],
        output: Annotated[Path, typer.Option("--output", "-o", help="Gap table (.parquet, .csv, .xlsx).")] = Path("outputs/gap.parquet"),
        paths_file: Annotated[Path | None, typer.Option("--paths", help="Sample paths (.npz) of the forecasts; default: drawn from the quantiles.")] = None,
        horizon: Annotated[list[int] | None, typer.Option("--horizon", help="Horizon in months (repeat); default 12 and 24.")] = None) -> None:
    """Demand minus supply per occupation, zone and month, and over 12/24-month horizons from sample paths:
    totals with intervals, P(shortage), tension, expected unmet demand, ranked (<output>_horizons.csv).

    Example: forecast gap --forecasts outputs/forecasts.parquet --supply outputs/supply.parquet --horizon 12
    """
    from forecast.gap import compute_gap, horizon_gap
    from forecast.io import read_table, write_table
    from forecast.paths import SamplePaths, paths_from_quantiles

    hz = tuple(horizon or (12, 24))
    if any(h < 1 for h in hz):
        raise ForecastError(f"--horizon must be >= 1 month, got {min(hz)}")
    fc, sup = read_table(forecasts), read_table(supply_file)
    g = compute_gap(fc, None, sup)
    paths = SamplePaths.load(paths_file) if paths_file else paths_from_quantiles(fc)
    table = horizon_gap(paths, None, sup, None, hz)
    write_table(g, output)
    summary = write_table(table, output.with_name(output.stem + "_horizons.csv"))
    if len(table):
        top = table[(table["horizon"] == min(hz)) & table["rank_shortage"].notna()].head(10)
        _print_table(top[["unique_id", "demand_mean", "supply_mean", "unmet_mean", "p_shortage", "tension"]].round(2))
    typer.echo(f"{len(g)} rows -> {output}; horizon summary -> {summary}")


@app.command()
@boundary
def run(experiment: Annotated[Path, typer.Argument(help="Experiment file (TOML), e.g. experiments/reims.toml.")],
        store: Annotated[Path, typer.Option(help="MLflow store folder.")] = Path("mlruns"),
        no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
        engine: Annotated[str | None, typer.Option(help="Where series run: local (process pool) or dask.")] = None,
        scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")] = None,
        cache: Annotated[bool | None, typer.Option("--cache/--no-cache", help="Reuse results of unchanged series.")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the last interrupted run.")] = False,
        wait: Annotated[float | None, typer.Option(help="Seconds to queue behind a run using the same store (-1: no limit).")] = None,
        ) -> None:
    """Run every stage of an experiment (ingest, series, backtest, select, predict, supply, gap), tracked in MLflow.

    Example: forecast run experiments/reims.toml --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from forecast.pipeline import run_experiment
    from forecast.tracking import MlflowTracker, NullTracker

    from forecast.executors import with_engine_options

    exp, run_dir = with_engine_options(_load(experiment), engine, scheduler, cache, wait, resume)
    tracker = NullTracker() if no_tracking else MlflowTracker(store, exp.name)
    prog, cb = _progress()
    with prog:
        result = run_experiment(exp, tracker, progress=cb, run_dir=run_dir)
    s = result.summary
    if as_json:
        typer.echo(json.dumps(s, indent=2, ensure_ascii=False, default=str))
        return
    typer.echo(f"Run {exp.name}: {s['modelled_series']} series modelled of {s['series']}, data up to {s['end']}.")
    sel = s["selection_vs_baseline"]
    if "selected" in sel:
        typer.echo(f"Backtest {s['metric'].upper()} (later windows): selected {sel['selected']:.3f} vs "
                   f"seasonal naive {sel.get('seasonal_naive', float('nan')):.3f}")
    typer.echo(f"Outputs: {result.run_dir}")
    if not no_tracking:
        typer.echo(f"MLflow run {result.run_id} in {store}/mlflow.db; open the UI with: forecast ui --store {store}")


@app.command()
@boundary
def ui(store: Annotated[Path, typer.Option(help="MLflow store folder.")] = Path("mlruns"),
       port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
       experiment: Annotated[str | None, typer.Option(help="Experiment whose runs page to print.")] = None) -> None:
    """Start the MLflow UI on 127.0.0.1 for the project's store; Ctrl-C stops it.

    Example: forecast ui --port 5000
    """
    from forecast.ui import serve

    from forecast.tracking import experiment_id, latest_experiment_id

    if not (store / "mlflow.db").exists():
        raise ForecastError(f"{store}: no MLflow store yet (run `forecast run experiments/reims.toml` first)")
    exp_id = experiment_id(store, experiment) if experiment else latest_experiment_id(store)
    with serve(store, port=port) as server:
        url = server.runs_url(exp_id) if exp_id else server.url
        typer.echo(f"MLflow UI: {url}  (Ctrl-C to stop)")
        try:
            server.wait()
        except KeyboardInterrupt:
            typer.echo("Stopping the MLflow UI.")


@app.command()
@boundary
def plan(run: Annotated[Path, typer.Argument(help="A run folder (outputs/<experiment>/<stamp>) with forecasts.parquet and supply.parquet.")],
         config: ConfigOpt,
         budget: Annotated[float | None, typer.Option(help="Budget in euros (or seats when the experiment's plan unit is seats); default: the experiment's plan budget.")] = None,
         occupation: Annotated[list[str] | None, typer.Option("--occupation", help="Only these occupations (historic ROME code, repeat).")] = None,
         output: Annotated[Path | None, typer.Option("--output", "-o", help="Folder for plan.parquet, budget_curve.csv, exports/ (default: the run folder).")] = None) -> None:
    """Choose the actions (training, reconversion, mobility, employer measures) that minimise expected unmet demand under a budget.

    Example: forecast plan outputs/reims/20261128-160011 -c experiments/reims.toml --budget 500000
    """
    from forecast.pipeline import sessions_of
    from forecast.plan import plan_from_run

    exp = _load(config)
    pp = exp.plan_params
    b = float(pp.get("budget", 0)) if budget is None else budget
    if b < 0:
        raise ForecastError(f"--budget must be >= 0, got {b:g}")
    res = plan_from_run(run, sessions_of(exp), exp.supply_rates(), exp.plan_costs(), b, occupation or None, output,
                        exp.gap_horizons, min(int(pp.get("horizon", 24)), exp.horizon), int(pp.get("paths", 200)),
                        float(pp.get("time_limit", 60)), exp.gap_thresholds)
    if res.plan is None or res.plan.plan.empty:
        typer.echo("No action chosen (no shortage with a lever, or a budget of 0).")
    else:
        _print_table(res.plan.plan[["action_id", "type", "zone", "rome", "start", "quantity", "cost", "expected_reduction"]].round(1))
        p = res.plan
        typer.echo(f"Plan: {len(p.plan)} actions, cost {p.cost:,.0f} of {b:,.0f}; expected unmet demand "
                   f"{p.unmet_before:,.0f} -> {p.unmet_after:,.0f}")
    typer.echo(f"Outputs: {output or run}")


@app.command()
@boundary
def report(run: Annotated[str, typer.Argument(help="A run folder (outputs/<experiment>/<stamp>) or an MLflow run id.")],
           lang: Annotated[str, typer.Option(help="Language of the report: fr or en.")] = "fr",
           output: Annotated[Path | None, typer.Option("--output", "-o", help="HTML file (default: <run folder>/report.html).")] = None,
           store: Annotated[Path, typer.Option(help="MLflow store folder (to find a run by id).")] = Path("mlruns")) -> None:
    """Write the self-contained HTML report of a run (French for decision makers; --lang en for English).

    Example: forecast report outputs/reims/20261128-160011 --lang en -o rapport_en.html
    """
    import re

    from forecast.report.fmt import LANGS
    from forecast.report.html import build_report

    if lang not in LANGS:
        raise ForecastError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    folder = Path(run)
    if not folder.is_dir():
        if not re.fullmatch(r"[0-9a-f]{32}", run):
            raise ForecastError(f"{run}: no such run folder and not an MLflow run id; give outputs/<experiment>/<stamp> "
                                "(printed by `forecast run`) or a run id from `forecast ui`")
        from forecast.tracking import run_folder

        folder = run_folder(store, run)
    typer.echo(f"Report: {build_report(folder, lang, output)}")


@app.command()
@boundary
def collect(departement: Annotated[list[str], typer.Option("--departement", "-d", help="Département code (repeat for several).")],
            since: Annotated[str, typer.Option(help="First creation date (YYYY-MM-DD).")],
            until: Annotated[str, typer.Option(help="Last creation date (YYYY-MM-DD, included).")],
            out: Annotated[Path, typer.Option(help="JSON lines file to append to (resumable).")] = Path("data/collecte/offres.jsonl")) -> None:
    """Collect offers from the France Travail API (credentials in FRANCE_TRAVAIL_CLIENT_ID/_SECRET) into JSON lines.

    Example: forecast collect -d 51 -d 08 --since 2024-03-04 --until 2024-03-04 --out data/collecte/offres_20240304.jsonl
    """
    from datetime import datetime, timedelta

    from forecast.collect import collect as run_collect

    try:
        start, end = datetime.fromisoformat(since), datetime.fromisoformat(until) + timedelta(days=1, seconds=-1)
    except ValueError as exc:
        raise ForecastError(f"--since/--until: expected YYYY-MM-DD ({exc})") from None
    rep = run_collect(out, departement, start, end)
    typer.echo(f"{rep.offers} offers appended to {out} ({rep.parts_done} parts, {rep.parts_skipped} already done, "
               f"{rep.calls} calls, {rep.retries} retries)")
    for key in rep.truncated:
        typer.echo(f"warning: {key}: more than 1,150 offers in one hour for one fiche; only 1,150 collected")


if __name__ == "__main__":
    app()
