"""The forecasting stage of an experiment: what every downstream stage (gap, plan) consumes.

series + catalog -> hierarchy nodes (:func:`forecast.reconcile.build_hierarchy`) -> default strategy
(:func:`forecast.strategy.fit_candidates` then :func:`forecast.strategy.finish_strategy`: backtest
every family and the combinations, Syntetos-Boylan classes, per-series selection, calibrated
quantiles) -> reconciliation (method and trusted levels chosen by backtest unless fixed) -> sample paths of the final forecasts (``paths.npz``, same unique_ids as the
forecasts) -> signals (expected change over 12 months with its interval).

Metrics are also summarised per hierarchy level and per series class, with the same metric names
for every family (the pipeline logs them as child runs).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.classify_series import CLASS
from forecast.metrics import aggregate_by
from forecast.paths import SamplePaths, paths_from_quantiles
from forecast.reconcile import (Hierarchy, MethodChoice, backtest_errors, build_hierarchy, choose_method, coherence_error,
                                reconcile_forecasts, trusted_mask)
from forecast.signals import compute_signals
from forecast.strategy import (StrategyResult, backtest_decisions, final_needs, finish_strategy, fit_candidates,
                               selected_cv, usable_combos)

log = logging.getLogger(__name__)


@dataclass
class ForecastStage:
    """Outputs of :func:`forecast_stage`."""

    strategy: StrategyResult
    data: pd.DataFrame                 # the modelled series + added hierarchy nodes (history)
    forecasts: pd.DataFrame            # final: selected, calibrated, reconciled; FORECAST_COLUMNS + chosen
    paths: SamplePaths
    signals: pd.DataFrame
    by_level: pd.DataFrame             # model, level, metric, value (backtest)
    by_class: pd.DataFrame             # model, series_class, metric, value (backtest)
    hierarchy: Hierarchy | None
    reconcile_method: str
    reconcile_table: pd.DataFrame      # level x method: mean backtest RMSSE ("base" = unreconciled)
    coherence: float
    specs: dict[str, dict[str, Any]]   # families and combinations, as resolve_specs takes them
    timings_s: dict[str, float] = field(default_factory=dict)
    reconcile_trusted: frozenset[str] = frozenset()  # levels kept at their base forecasts


def forecast_stage(series: pd.DataFrame, modelled_ids: set[str], families: list[str] | tuple[str, ...],
                   horizon: int, backtest_horizon: int = 12, windows: int = 3, step: int | None = None,
                   metric: str = "rmsse", params: dict[str, dict[str, Any]] | None = None,
                   combos: dict[str, tuple[str, ...]] | None = None, combo_how: str = "mean",
                   reconcile: str = "auto", domains: bool = True, n_samples: int = 500, seed: int = 0,
                   n_jobs: int = 1, progress: Callable[[str, int, int], None] | None = None,
                   fitted: tuple[pd.DataFrame, pd.DataFrame, dict[str, float]] | None = None,
                   screen: Callable[[pd.DataFrame], Any] | None = None) -> ForecastStage:
    """Run the forecasting stage (module docstring). ``reconcile``: "auto" (chosen by backtest),
    "none", or a method of :data:`forecast.reconcile.METHODS`. ``fitted``: the families' (cv,
    forecasts, timings) of :func:`forecast.strategy.fit_candidates` on these very series, to skip the
    costly fits (benchmarks reuse them); the rest of the stage runs as usual. ``screen``: called with
    every series about to be fitted (bottom series and hierarchy nodes) before the fits, to install a
    work plan (:func:`forecast.screening.screen_experiment`)."""
    timings: dict[str, float] = {}
    modelled = series[series[S.UID].isin(modelled_ids)]
    hier, extra = None, pd.DataFrame(columns=S.SERIES_COLUMNS)
    levels = set(series[S.LEVEL]) if S.LEVEL in series.columns else set()
    if reconcile != "none" and "rome_zone" in levels and "zone_total" in levels:
        hier, extra = build_hierarchy(series, set(modelled[S.UID]), domains=domains)
        modelled = modelled[~modelled[S.UID].isin(set(extra[S.UID]))]
    data = pd.concat([modelled, extra], ignore_index=True) if len(extra) else modelled.reset_index(drop=True)
    if hier is not None:  # every node of the hierarchy is forecast
        missing = set(hier.ids) - set(data[S.UID])
        if missing:
            data = pd.concat([data, series[series[S.UID].isin(missing)]], ignore_index=True)
    data = data.sort_values([S.UID, S.DS]).reset_index(drop=True)
    if screen is not None and fitted is None:
        t0 = time.perf_counter()
        screen(data[[S.UID, S.DS, S.Y]])
        timings["screening"] = time.perf_counter() - t0
        log.info("stage screening: %.1f s", timings["screening"])
    t0 = time.perf_counter()
    history = data[[S.UID, S.DS, S.Y]]
    decided: dict[str, Any] = {}

    def needed(cv: pd.DataFrame) -> dict[str, set[str]]:
        """The choice is made from the backtest before the full-history fits: the costly families are
        then fitted only where the chosen candidate uses them."""
        decided.update(backtest_decisions(cv, history, families, metric, combos, combo_how, windows=windows))
        return final_needs(decided["decisions"]["chosen"], set(history[S.UID]), families, decided["combos"])

    if fitted is None:
        fitted = fit_candidates(history, families, horizon, backtest_horizon, windows, step, params, n_jobs, progress,
                                needed=needed)
    strat = finish_strategy(history, fitted[0], fitted[1], families, metric, combos, combo_how,
                            windows=windows, timings=fitted[2], decided=decided or None)
    fitted = None  # the strategy keeps its own (combined, sorted) copies: not two of each until the end
    timings.update(strat.timings_s)
    timings["strategy"] = time.perf_counter() - t0
    log.info("stage strategy: %.1f s", timings["strategy"])

    fc = strat.forecasts
    method, table, coherence, trusted = "none", pd.DataFrame(), float("nan"), frozenset()
    if hier is not None:
        t0 = time.perf_counter()
        cvsel = selected_cv(strat.cv, strat.selection)
        skills = set(data.loc[data[S.UID].str.contains("/skill:", regex=False), S.UID])
        cvsel = cvsel[cvsel[S.UID].isin(set(hier.ids) | skills)]
        nodes = cvsel[cvsel[S.UID].isin(set(hier.ids))]
        full_cuts = nodes.groupby(S.CUTOFF)[S.UID].nunique()
        cvsel = cvsel[cvsel[S.CUTOFF].isin(full_cuts.index[full_cuts == len(hier.ids)])]
        if reconcile == "auto" and len(cvsel):
            choice = _choose_method_memo(cvsel, data, hier)
            method, table, trusted = choice.method, choice.table, choice.trusted
            label = choice.label
        else:
            method = "bottom_up" if reconcile == "auto" else reconcile
            label = method
        errors = backtest_errors(cvsel[cvsel[S.UID].isin(set(hier.ids))], hier) if len(cvsel) else None
        fc = reconcile_forecasts(fc, hier, method, errors, trusted=trusted_mask(hier, trusted))
        coherence = coherence_error(fc, hier)
        timings["reconcile"] = time.perf_counter() - t0
        log.info("stage reconcile: %.1f s", timings["reconcile"])
        log.info("reconciliation %s: largest incoherence %.2e", label, coherence)

    t0 = time.perf_counter()
    paths = paths_from_quantiles(fc[S.FORECAST_COLUMNS], n_samples=n_samples, seed=seed)
    signals = compute_signals(paths, data, months=min(12, horizon))
    timings["paths_signals"] = time.perf_counter() - t0
    log.info("stage paths_signals: %.1f s", timings["paths_signals"])

    lv = data.drop_duplicates(S.UID)[[S.UID, S.LEVEL]] if S.LEVEL in data.columns else None
    if hier is not None and lv is not None:
        lv = lv.assign(**{S.LEVEL: lv[S.UID].map(hier.levels).fillna(lv[S.LEVEL])})
    by_level = (aggregate_by(strat.metrics, lv, S.LEVEL) if lv is not None
                else pd.DataFrame(columns=[S.MODEL, S.LEVEL, S.METRIC, S.VALUE]))
    by_class = aggregate_by(strat.metrics, strat.classes[[S.UID, CLASS]], CLASS)
    specs = {f: dict((params or {}).get(f, {})) for f in families}
    for name, members in usable_combos(families, combos).items():
        specs[name] = {"model": "combo", "members": list(members), "how": combo_how}
    return ForecastStage(strat, data, fc, paths, signals, by_level, by_class, hier, method, table,
                         coherence, specs, timings, trusted)


def _choose_method_memo(cvsel: pd.DataFrame, data: pd.DataFrame, hier: Hierarchy) -> MethodChoice:
    """:func:`forecast.reconcile.choose_method`, memoised in the session's results cache by a hash of
    what it reads: the selected backtest, the months of history it covers, the hierarchy and the
    code. The backtest is reused between refreshes ([engine] backtest_refresh), and so is this
    choice (95 s on the Grand Est)."""
    from pathlib import Path

    from forecast import metrics as metrics_module
    from forecast import reconcile as reconcile_module
    from forecast.backtest import backtest_span
    from forecast.cache import frame_digest
    from forecast.executors import current_cache

    cache = current_cache()
    if cache is None:
        return choose_method(cvsel, data, hier)
    cv = cvsel[S.CV_COLUMNS].sort_values([S.UID, S.CUTOFF, S.DS]).reset_index(drop=True)
    hist = backtest_span(data[[S.UID, S.DS, S.Y]], cv).sort_values([S.UID, S.DS]).reset_index(drop=True)
    A = hier.A.tocsr()
    key = frame_digest(cv, hist, np.asarray(hier.agg_ids, dtype=str), np.asarray(hier.bottom_ids, dtype=str),
                       A.indptr, A.indices, sorted(hier.levels.items()),
                       *(Path(m.__file__).read_bytes() for m in (reconcile_module, metrics_module)))
    memo = cache.memo_get("reconcile_choice", key)
    if memo is not None:
        table = pd.DataFrame(memo["table"]["data"], index=memo["table"]["index"], columns=memo["table"]["columns"])
        table.index.name = "level"
        log.info("reconciliation choice reused (same backtest): %s", memo["label"])
        return MethodChoice(memo["method"], frozenset(memo["trusted"]), table, memo["label"])
    choice = choose_method(cvsel, data, hier)
    cache.memo_put("reconcile_choice", key, {"method": choice.method, "trusted": sorted(choice.trusted),
                                             "label": choice.label, "table": choice.table.to_dict(orient="split")})
    return choice


def stage_metrics(stage: ForecastStage, model: str) -> dict[str, float]:
    """Flat metrics of one family: overall, per level, per series class — the same names for every
    family (``rmsse``, ``rmsse_level_zone_total``, ``rmsse_class_lumpy``...). ``model="parent"``
    gives the selection and reconciliation summaries instead."""
    if model == "parent":
        return _parent_metrics(stage)
    out: dict[str, float] = {}
    s = stage.strategy.summary
    for _, r in s[s[S.MODEL] == model].iterrows():
        out[r[S.METRIC]] = float(r[S.VALUE])
    for frame, col, tag in ((stage.by_level, S.LEVEL, "level"), (stage.by_class, CLASS, "class")):
        for _, r in frame[frame[S.MODEL] == model].iterrows():
            out[f"{r[S.METRIC]}_{tag}_{r[col]}"] = float(r[S.VALUE])
    return {k: v for k, v in out.items() if np.isfinite(v)}


def _parent_metrics(stage: ForecastStage) -> dict[str, float]:
    """Selection and reconciliation summaries for the parent run."""
    out: dict[str, float] = {}
    counts = stage.strategy.selection[S.MODEL].value_counts()
    for model, n in counts.items():
        out[f"selected_share_{model}"] = float(n / counts.sum())
    nested = stage.strategy.selection_score
    for _, r in nested.iterrows():
        out[f"nested_{r[S.METRIC]}_{r[S.MODEL]}"] = float(r[S.VALUE])
    if len(stage.reconcile_table):
        for level, row in stage.reconcile_table.iterrows():
            for method, v in row.items():
                out[f"reconcile_rmsse_{level}_{method}"] = float(v)
    for level in stage.reconcile_trusted:
        out[f"reconcile_trusted_{level}"] = 1.0
    out["reconcile_coherence_max_abs"] = stage.coherence
    for sig, n in stage.signals["signal"].value_counts().items():
        out[f"signals_{sig}"] = float(n)
    return {k: v for k, v in out.items() if np.isfinite(v)}


def stage_tables(stage: ForecastStage, run_dir: Any) -> dict[str, Any]:
    """Write the stage's own outputs into ``run_dir``: paths.npz (read by gap and plan), signals,
    classes, per-level / per-class metrics, reconciliation table, calibration factors."""
    from pathlib import Path

    from forecast.io import write_table

    run_dir = Path(run_dir)
    out: dict[str, Any] = {"paths": stage.paths.save(run_dir / "paths.npz")}
    out["signals"] = write_table(stage.signals, run_dir / "signals.csv")
    out["series_classes"] = write_table(stage.strategy.classes, run_dir / "series_classes.csv")
    out["metrics_by_level"] = write_table(stage.by_level, run_dir / "metrics_by_level.csv")
    out["metrics_by_class"] = write_table(stage.by_class, run_dir / "metrics_by_class.csv")
    if len(stage.reconcile_table):
        out["reconciliation"] = write_table(stage.reconcile_table.reset_index(), run_dir / "reconciliation.csv")
    if stage.strategy.calibration is not None:
        out["calibration"] = write_table(stage.strategy.calibration.table(), run_dir / "calibration.csv")
    return out
