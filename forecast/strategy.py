"""The product's default forecasting strategy for long series: backtest every family, add the
combination(s), choose per series by a backtest metric, forecast, calibrate the quantiles.

Steps (each a library function of its own module):

1. :func:`forecast.backtest.cross_validation` of every family (rolling origin);
2. :func:`forecast.select.combine` adds each combination (e.g. ``combo`` = mean of ETS, ARIMA and
   Theta) from the members' backtest forecasts, without refitting;
3. :func:`forecast.classify_series.classify` (Syntetos-Boylan class of each series);
4. the choice of candidate by ``metric``: ``selection="class"`` (default) gives every series of a
   group (Syntetos-Boylan class x volume decade, :func:`choice_groups`) the candidate that is best
   on average over that group
   (:func:`forecast.select.select_by_group`: pooled over many series, far less noisy than a per-series
   choice on a few windows, which loses to the combination on tourism and on the demo);
   ``selection="series"``: each series its own best (:func:`forecast.select.select_best`). Failed
   models cannot win; the fallback is the first combination, else seasonal naive;
5. every family is fitted on the full history, the combinations built, the selection applied;
6. :func:`forecast.calibrate.fit_calibration` on the chosen candidates' backtest residuals (per
   horizon step and series class) and :func:`forecast.calibrate.apply_calibration`, for the classes
   where it brings the coverage of the intervals nearer nominal out of sample, with factors per
   class or pooled over all series, whichever does better there (:func:`choose_calibration`,
   :func:`calibration_helps`: fitted on the earlier windows, judged on the last one).

Timings of each family's backtest are measured (``timings_s``).
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
from forecast.backtest import backtest_span, cross_validation
from forecast.calibrate import Calibration, apply_calibration, fit_calibration
from forecast.classify_series import CLASS, classify
from forecast.engine import fit_predict, warm_scope
from forecast.metrics import aggregate, evaluate
from forecast.select import CHOSEN, SELECTED, combine, nested_selection_score, select_best, select_by_group

log = logging.getLogger(__name__)
DEFAULT_COMBOS: dict[str, tuple[str, ...]] = {"combo": ("ets", "arima", "theta")}
SELECTIONS = ("class", "series")


@dataclass
class StrategyResult:
    """Everything the strategy computed (frames in the project's schemas)."""

    cv: pd.DataFrame                   # every candidate, CV_COLUMNS
    metrics: pd.DataFrame              # per series, model, metric
    summary: pd.DataFrame              # per model
    selection_score: pd.DataFrame      # nested (honest) score of the selection
    selection: pd.DataFrame            # unique_id, model
    classes: pd.DataFrame              # unique_id, adi, cv2, series_class
    candidates: pd.DataFrame           # full-history forecasts of every candidate (uncalibrated)
    forecasts: pd.DataFrame            # selected, calibrated: FORECAST_COLUMNS + chosen
    calibration: Calibration | None
    timings_s: dict[str, float] = field(default_factory=dict)


def usable_combos(families: list[str] | tuple[str, ...],
                  combos: dict[str, tuple[str, ...]] | None) -> dict[str, tuple[str, ...]]:
    """The combinations whose members are at least two of ``families``."""
    out = {}
    for name, members in (DEFAULT_COMBOS if combos is None else combos).items():
        kept = tuple(m for m in members if m in families)
        if len(kept) >= 2:
            out[name] = kept
    return out


def selected_cv(cv: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """Backtest rows of each series' chosen candidate."""
    sel = selection.rename(columns={S.MODEL: CHOSEN})
    m = cv.merge(sel, on=S.UID)
    return m[m[S.MODEL] == m[CHOSEN]].drop(columns=CHOSEN)


def run_strategy(series: pd.DataFrame, families: list[str] | tuple[str, ...], horizon: int,
                 backtest_horizon: int = 12, windows: int = 3, step: int | None = None,
                 metric: str = "rmsse", combos: dict[str, tuple[str, ...]] | None = None,
                 params: dict[str, dict[str, Any]] | None = None, n_jobs: int = 1, calibrate: bool = True,
                 combo_how: str = "mean", selection: str = "class",
                 progress: Callable[[str, int, int], None] | None = None) -> StrategyResult:
    """Run the default strategy (module docstring) on a long frame (unique_id, ds, y, full grid)."""
    cv, cand, timings = fit_candidates(series, families, horizon, backtest_horizon, windows, step, params,
                                       n_jobs, progress)
    return finish_strategy(series, cv, cand, families, metric, combos, combo_how, selection, calibrate,
                           windows, timings)


def fit_candidates(series: pd.DataFrame, families: list[str] | tuple[str, ...], horizon: int,
                   backtest_horizon: int = 12, windows: int = 3, step: int | None = None,
                   params: dict[str, dict[str, Any]] | None = None, n_jobs: int = 1,
                   progress: Callable[[str, int, int], None] | None = None,
                   needed: Callable[[pd.DataFrame], dict[str, set[str]]] | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """The costly part: every family's backtest and full-history forecasts (cv, forecasts, timings).

    ``needed(cv)`` (optional): called with the backtest before the full-history fits, returns for some
    families the series whose forecast can be used (:func:`final_needs`); those families are fitted
    on the full history of these series only."""
    params = params or {}
    timings: dict[str, float] = {}

    def tick(stage: str) -> Callable[[int, int], None] | None:
        return (lambda d, t: progress(stage, d, t)) if progress else None

    parts = []
    with warm_scope():  # full-history fits keep / update their anchored states ([engine] backtest_refresh)
        for fam in families:
            t0 = time.perf_counter()
            parts.append(cross_validation(series, {fam: dict(params.get(fam, {}))}, h=backtest_horizon,
                                          n_windows=windows, step=step, n_jobs=n_jobs,
                                          progress=tick(f"backtest {fam}")))
            timings[f"backtest_{fam}"] = time.perf_counter() - t0
            log.info("backtest %s: %.1f s", fam, timings[f"backtest_{fam}"])
        cv = pd.concat(parts, ignore_index=True)
        t0 = time.perf_counter()
        specs = {f: dict(params.get(f, {})) for f in families}
        only = needed(cv) if needed is not None else {}
        free = {f: p for f, p in specs.items() if f not in only}
        outs = [fit_predict(series, free, horizon, n_jobs=n_jobs, progress=tick("predict"))] if free else []
        for f, ids in sorted(only.items()):
            sub = series[series[S.UID].isin(ids)]
            if len(sub):
                outs.append(fit_predict(sub, {f: specs[f]}, horizon, n_jobs=n_jobs, progress=tick(f"predict {f}")))
        if only:
            log.info("full-history fits of %s only where the choice can use them (%s series)", ", ".join(sorted(only)),
                     ", ".join(f"{f}: {len(ids)}" for f, ids in sorted(only.items())))
        cand = (pd.concat(outs, ignore_index=True).sort_values([S.UID, S.MODEL, S.DS], kind="stable")
                .reset_index(drop=True) if outs else pd.DataFrame(columns=S.FORECAST_COLUMNS))
        timings["predict"] = time.perf_counter() - t0
        log.info("full-history fits: %.1f s", timings["predict"])
    return cv, cand, timings


def final_needs(chosen: pd.DataFrame, series_ids: set[str], families: list[str] | tuple[str, ...],
                combos: dict[str, tuple[str, ...]], costly: tuple[str, ...] = ("arima", "ets", "prophet")
                ) -> dict[str, set[str]]:
    """For each costly family: the series whose chosen candidate uses it (itself, or a combination it
    belongs to), plus every series the choice does not cover (no backtest: the fallback decides).
    Elsewhere its full-history forecast could never be used."""
    pick = chosen.set_index(S.UID)[S.MODEL]
    out: dict[str, set[str]] = {}
    for f in families:
        if f not in costly:
            continue
        users = {m for m in set(pick) if m == f or f in combos.get(m, ())}
        out[f] = set(pick.index[pick.isin(users)]) | (set(series_ids) - set(pick.index))
    return out


def backtest_decisions(cv: pd.DataFrame, series: pd.DataFrame, families: list[str] | tuple[str, ...],
                       metric: str = "rmsse", combos: dict[str, tuple[str, ...]] | None = None,
                       combo_how: str = "mean", selection: str = "class", calibrate: bool = True,
                       windows: int = 3, point: str = "mean", calibration_criterion: str = "coverage"
                       ) -> dict[str, Any]:
    """The backtest with its combinations (``cv``) and what the strategy decides from it alone
    (:func:`_decisions`, memoised): ``{"cv", "decisions", "fallback", "combos"}``."""
    families = list(families)
    combos = usable_combos(families, combos)
    for name, members in combos.items():
        cv = combine(cv, members, name=name, how=combo_how)
    cv = cv.sort_values([S.UID, S.MODEL, S.CUTOFF, S.DS]).reset_index(drop=True)
    if point not in ("mean", "median"):
        raise ValueError("point must be mean or median")
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}")
    fallback = next(iter(combos), "seasonal_naive" if "seasonal_naive" in families else families[0])
    # classes and groups from the months the backtest covers: the choice is a function of the backtest
    # alone, so it stays the same until the backtest windows move ([engine] backtest_refresh)
    span = backtest_span(series, cv)
    d = _decisions_memo(cv, span, metric, selection, fallback, windows, calibrate, point, calibration_criterion)
    return {"cv": cv, "decisions": d, "fallback": fallback, "combos": combos}


def finish_strategy(series: pd.DataFrame, cv: pd.DataFrame, cand: pd.DataFrame, families: list[str] | tuple[str, ...],
                    metric: str = "rmsse", combos: dict[str, tuple[str, ...]] | None = None,
                    combo_how: str = "mean", selection: str = "class", calibrate: bool = True,
                    windows: int = 3, timings: dict[str, float] | None = None, point: str = "mean",
                    calibration_criterion: str = "coverage", decided: dict[str, Any] | None = None) -> StrategyResult:
    """The cheap part: combinations, classes, choice, calibration (from the families' cv and forecasts).

    ``point="median"`` scores the point metrics (MASE, RMSSE, WAPE) on the median instead of the mean:
    right when the target is an absolute error (MASE, MAPE), which the median minimises.
    ``calibration_criterion``: what decides, per series class, whether the calibration is kept
    (:func:`calibration_helps`): "coverage" (default: the 80 % and 95 % intervals' coverage error) or
    "pinball" (the mean quantile loss). ``decided``: :func:`backtest_decisions` of this very ``cv``
    with these settings, when already made (before the full-history fits)."""
    if decided is None:
        decided = backtest_decisions(cv, series, families, metric, combos, combo_how, selection, calibrate,
                                     windows, point, calibration_criterion)
    cv, d, fallback = decided["cv"], decided["decisions"], decided["fallback"]
    for name, members in decided["combos"].items():
        cand = combine(cand, members, name=name, how=combo_how)
    metrics, classes, chosen, nested = d["metrics"], d["classes"], d["chosen"], d["nested"]
    fc = _apply(cand, chosen, fallback)
    calib = None
    if calibrate:
        groups = classes.set_index(S.UID)[CLASS]
        pooled, keep = bool(d["pooled"]), set(d["keep"])
        calib = Calibration(d["factors"])
        on = fc[S.UID].map(groups).isin(keep).to_numpy()
        if on.any():
            fc = pd.concat([apply_calibration(fc[on], calib, series, None if pooled else groups), fc[~on]])
            fc = fc.sort_values([S.UID, S.DS])
            fc = fc.reset_index(drop=True)
    return StrategyResult(cv, metrics, aggregate(metrics), nested, chosen, classes, cand, fc, calib,
                          dict(timings or {}))


def _decisions(cv: pd.DataFrame, span: pd.DataFrame, metric: str, selection: str, fallback: str, windows: int,
               calibrate: bool, point: str, criterion: str) -> dict[str, Any]:
    """What the strategy decides from the backtest alone (``cv``, with the combinations; ``span``: the
    months of history it covers): metrics, classes, the choice, its nested score and the calibration
    (classes kept, per class or pooled, factors)."""
    metrics = evaluate(cv.assign(**{S.MEAN: cv[S.qcol(0.5)]}) if point == "median" else cv, span)
    classes = classify(span)
    if selection == "class":
        chosen = select_by_group(metrics, choice_groups(span, classes), metric=metric, fallback=fallback)
    else:
        chosen = select_best(metrics, metric=metric, fallback=fallback)
    groups_at = None
    if selection == "class":
        def groups_at(cut: pd.Series) -> pd.Series:
            """The choice groups as they were at each series' cutoff (history up to it only)."""
            hist = span[(span[S.DS] <= span[S.UID].map(cut)).to_numpy()]
            return choice_groups(hist, classify(hist))
    nested = (nested_selection_score(cv, span, metric=metric, fallback=fallback, groups_at=groups_at)
              if windows >= 2 else pd.DataFrame(columns=[S.MODEL, S.METRIC, S.VALUE]))
    out: dict[str, Any] = {"metrics": metrics, "classes": classes, "chosen": chosen, "nested": nested}
    if calibrate:
        groups = classes.set_index(S.UID)[CLASS]
        scv = selected_cv(cv, chosen)
        pooled, keep = choose_calibration(scv, span, groups, criterion)
        out.update(pooled=pooled, keep=sorted(keep),
                   factors=fit_calibration(scv, span, None if pooled else groups).factors)
    return out


_FRAMES = ("metrics", "classes", "chosen", "nested")


def _decisions_memo(cv: pd.DataFrame, span: pd.DataFrame, metric: str, selection: str, fallback: str, windows: int,
                    calibrate: bool, point: str, criterion: str) -> dict[str, Any]:
    """:func:`_decisions`, memoised in the session's results cache by a hash of the backtest, the
    history it covers, the settings and the code: a monthly rerun between two backtest refreshes
    finds the same decisions without recomputing them."""
    from pathlib import Path

    from forecast.executors import current_cache

    args = (metric, selection, fallback, windows, calibrate, point, criterion)
    cache = current_cache()
    if cache is None:
        return _decisions(cv, span, *args)
    from forecast import calibrate as m_cal, classify_series as m_cls, metrics as m_met, select as m_sel
    from forecast.cache import frame_digest

    hist = span[[S.UID, S.DS, S.Y]].sort_values([S.UID, S.DS]).reset_index(drop=True)
    key = frame_digest(cv.reset_index(drop=True), hist, args,
                       *(Path(m.__file__).read_bytes() for m in (m_cal, m_cls, m_met, m_sel)), Path(__file__).read_bytes())
    names = _FRAMES + (("factors",) if calibrate else ())
    frames = cache.memo_frames_get("strategy", key, names)
    extra = cache.memo_get("strategy", key)
    if frames is not None and extra is not None:
        log.info("strategy decisions reused (same backtest)")
        return {**frames, **extra}
    d = _decisions(cv, span, *args)
    cache.memo_frames_put("strategy", key, {n: d[n] for n in names})
    cache.memo_put("strategy", key, {k: d[k] for k in ("pooled", "keep") if k in d})
    return d


def choice_groups(series: pd.DataFrame, classes: pd.DataFrame) -> pd.Series:
    """Group of each series for the pooled choice: its Syntetos-Boylan class and its volume (decade of
    its mean monthly value: 0 for < 9, 1 for < 99, ...), so that a few large totals are not given the
    model that suits hundreds of small series."""
    mean = series.groupby(S.UID)[S.Y].mean()
    vol = np.floor(np.log10(mean.clip(lower=0) + 1)).astype(int)
    cls = classes.set_index(S.UID)[CLASS]
    return cls + "/v" + vol.reindex(cls.index).fillna(0).astype(int).astype(str)


CRITERIA = ("coverage", "pinball")
INTERVALS = ((0.1, 0.9, 0.8), (0.025, 0.975, 0.95))


def _late_split(scv: pd.DataFrame, series: pd.DataFrame, groups: pd.Series, pooled: bool
                ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The last backtest window before and after the calibration fitted on the earlier windows
    (per class, or ``pooled`` over all series); None with a single window."""
    last = scv.groupby(S.UID)[S.CUTOFF].transform("max")
    early, late = scv[scv[S.CUTOFF] < last], scv[scv[S.CUTOFF] == last]
    if early.empty or late.empty:
        return None
    cal = fit_calibration(early, series, None if pooled else groups)
    cut = late.drop_duplicates(S.UID).set_index(S.UID)[S.CUTOFF]
    hist = series[series[S.DS] <= series[S.UID].map(cut)]
    after = apply_calibration(late[S.FORECAST_COLUMNS], cal, hist, None if pooled else groups)
    return late.reset_index(drop=True), after.reset_index(drop=True)


def _loss(frame: pd.DataFrame, y: np.ndarray, by: np.ndarray, criterion: str) -> pd.Series:
    """Per value of ``by``: coverage error (|cov80 - 0.8| + |cov95 - 0.95|) or mean pinball loss."""
    if criterion == "pinball":
        lv = np.asarray(S.QUANTILE_LEVELS)[None, :]
        d = y[:, None] - frame[S.QUANTILE_COLUMNS].to_numpy(float)
        return pd.Series(np.mean(np.maximum(lv * d, (lv - 1) * d), axis=1)).groupby(by).mean()
    err = 0.0
    for lo, hi, nominal in INTERVALS:
        inside = (y >= frame[S.qcol(lo)].to_numpy(float)) & (y <= frame[S.qcol(hi)].to_numpy(float))
        err = err + (pd.Series(inside.astype(float)).groupby(by).mean() - nominal).abs()
    return err


def calibration_helps(scv: pd.DataFrame, series: pd.DataFrame, groups: pd.Series,
                      criterion: str = "coverage", pooled: bool = False,
                      split: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> set[str]:
    """Classes whose quantiles the calibration improves out of sample: factors fitted on the earlier
    backtest windows (per class, or ``pooled``), applied to the last one, kept for a class when they
    lower its ``criterion`` there: "coverage" = |coverage of the 80 % interval - 0.80| + |coverage of
    the 95 % one - 0.95| (what calibration is for), "pinball" = mean quantile loss (count models'
    discrete quantiles are often best left alone by that measure). With one window: every class."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}")
    split = split if split is not None else _late_split(scv, series, groups, pooled)
    if split is None:
        return set(groups.dropna().unique())
    late, after = split
    y, cls = late[S.Y].to_numpy(float), late[S.UID].map(groups).to_numpy()
    before, cal_loss = _loss(late, y, cls, criterion), _loss(after, y, cls, criterion)
    helps = {str(c) for c in before.index if cal_loss[c] < before[c]}
    log.info("calibration (%s) kept for classes %s (out-of-sample %s)", "pooled" if pooled else "per class",
             sorted(helps), criterion)
    return helps


def choose_calibration(scv: pd.DataFrame, series: pd.DataFrame, groups: pd.Series,
                       criterion: str = "coverage") -> tuple[bool, set[str]]:
    """(pooled, classes): factors per class or pooled over all series, whichever gives the lower
    ``criterion`` on the last backtest window (fitted on the earlier windows, applied to the classes
    :func:`calibration_helps` keeps; the criterion of each class, weighted by its number of rows, so
    that a class too wide and one too narrow do not cancel; ties: per class)."""
    best: tuple[float, bool, set[str]] | None = None
    for pooled in (False, True):
        split = _late_split(scv, series, groups, pooled)
        keep = calibration_helps(scv, series, groups, criterion, pooled, split)
        if split is None:
            return False, keep
        late, after = split
        on = late[S.UID].map(groups).isin(keep).to_numpy()
        mixed = late.copy()
        mixed.loc[on, S.QUANTILE_COLUMNS] = after.loc[on, S.QUANTILE_COLUMNS].to_numpy()
        y, cls = late[S.Y].to_numpy(float), late[S.UID].map(groups).fillna("").to_numpy()
        per = _loss(mixed, y, cls, criterion)  # per class, so that errors of opposite sign do not cancel
        total = float(np.average(per.to_numpy(), weights=pd.Series(cls).value_counts().reindex(per.index)))
        if best is None or total < best[0]:
            best = (total, pooled, keep)
    assert best is not None
    log.info("calibration: %s factors (out-of-sample %s %.4f)", "pooled" if best[1] else "per-class",
             criterion, best[0])
    return best[1], best[2]


def _apply(cand: pd.DataFrame, selection: pd.DataFrame, fallback: str) -> pd.DataFrame:
    """Chosen candidate of each series; the fallback where the chosen one failed (NaN)."""
    sel = selection.rename(columns={S.MODEL: CHOSEN})
    m = cand.merge(sel, on=S.UID)
    out = m[m[S.MODEL] == m[CHOSEN]]
    values = [S.MEAN, *S.QUANTILE_COLUMNS]
    bad = set(out.loc[out[values].isna().any(axis=1), S.UID]) | (set(sel[S.UID]) - set(out[S.UID]))
    if bad:  # failed, or not fitted on the full history (a work plan skipped it)
        log.warning("%d series: chosen model failed or missing on the full history, fallback %s", len(bad), fallback)
        ok = cand[cand[S.UID].isin(bad)]
        nan_row = ok[values].isna().any(axis=1)
        ok = ok[~nan_row.groupby([ok[S.UID], ok[S.MODEL]]).transform("any")]
        # the fallback where it has a forecast, else seasonal naive, else the first candidate that has one
        rank = {fallback: 0, "seasonal_naive": 1}
        ok = ok.assign(_r=ok[S.MODEL].map(lambda x: (rank.get(x, 2), x)))
        first = ok.groupby(S.UID)["_r"].transform("min")
        fb = ok[ok["_r"] == first].drop(columns="_r")
        fb = fb.assign(**{CHOSEN: fb[S.MODEL]})
        out = pd.concat([out[~out[S.UID].isin(bad)], fb], ignore_index=True)
    out = out.assign(**{S.MODEL: SELECTED})
    return out.sort_values([S.UID, S.DS]).reset_index(drop=True)[[*S.FORECAST_COLUMNS, CHOSEN]]


def coverage_of(forecasts: pd.DataFrame, actuals: pd.DataFrame) -> dict[str, float]:
    """Share of actuals inside the 80 % and 95 % intervals of a forecasts frame."""
    m = forecasts.merge(actuals[[S.UID, S.DS, S.Y]], on=[S.UID, S.DS])
    y = m[S.Y].to_numpy(float)
    out = {}
    for name, (lo, hi) in {"coverage_80": (0.1, 0.9), "coverage_95": (0.025, 0.975)}.items():
        out[name] = float(np.mean((y >= m[S.qcol(lo)]) & (y <= m[S.qcol(hi)])))
    return out
