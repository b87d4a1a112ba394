"""Model selection per series, and an honest estimate of what selection buys.

:func:`select_best` picks each series' model by a backtest metric, :func:`select_by_group` one model
per group of series; :func:`nested_selection_score` measures either strategy out of sample (choose on past windows, score on the next one), next to every
single model scored on the same windows; :func:`apply_selection` keeps the chosen forecasts.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.metrics import aggregate, evaluate, window_metrics

log = logging.getLogger(__name__)
SELECTED = "selected"
CHOSEN = "chosen"


def _choose(table: pd.DataFrame, fallback: str) -> pd.Series:
    """table: index unique_id, columns models, values the metric (lower is better)."""
    vals = table.to_numpy(dtype=float)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    models = np.asarray(table.columns, dtype=object)
    # ties: the fallback first, then the alphabetical order of the columns
    order = sorted(range(len(models)), key=lambda j: (models[j] != fallback, models[j]))
    best = order[0] * np.ones(len(table), dtype=int) if len(table) else np.zeros(0, dtype=int)
    if len(models):
        sub = vals[:, order]
        best = np.asarray(order)[np.argmin(sub, axis=1)]
        chosen = models[best]
        chosen[~np.isfinite(sub.min(axis=1))] = fallback
    else:
        chosen = np.full(len(table), fallback, dtype=object)
    return pd.Series(chosen, index=table.index, name=S.MODEL)


def select_best(metrics: pd.DataFrame, metric: str = "mase", fallback: str = "seasonal_naive") -> pd.DataFrame:
    """Best model of each series by ``metric`` (lower is better): frame [unique_id, model].

    Models whose value is NaN or inf (failed, or undefined scale) cannot win; a series where no
    model has a finite value gets ``fallback``. Ties go to ``fallback``, then alphabetical order.
    """
    S.require_columns(metrics, S.METRIC_COLUMNS, "metrics frame")
    m = metrics[metrics[S.METRIC] == metric]
    if m.empty:
        raise ValueError(f"select_best: no {metric!r} rows in the metrics frame")
    table = m.pivot_table(index=S.UID, columns=S.MODEL, values=S.VALUE, aggfunc="first", dropna=False)
    chosen = _choose(table, fallback)
    return pd.DataFrame({S.UID: table.index.to_numpy(), S.MODEL: chosen.to_numpy()}).sort_values(S.UID).reset_index(drop=True)


def nested_selection_score(
    cv: pd.DataFrame,
    train: pd.DataFrame,
    metric: str = "mase",
    fallback: str = "seasonal_naive",
    m: int = 12,
    groups_at: Callable[[pd.Series], pd.Series] | None = None,
) -> pd.DataFrame:
    """Honest accuracy of the selection: frame [model, metric, value].

    For each series and each window k >= 2 (1-based, by cutoff), the model is chosen by ``metric``
    averaged over windows 1..k-1 and its forecasts of window k are scored. The choice is the
    strategy's own: per series (as :func:`select_best` does), or, with ``groups_at``, pooled per group
    (as :func:`select_by_group` does) with the groups of the history *up to window k's cutoff*:
    ``groups_at(cutoffs)`` gets each series' cutoff (Series unique_id -> Timestamp) and returns each
    series' group. The "selected" rows are aggregated with :func:`forecast.metrics.aggregate` next to
    every model scored on exactly the same windows (k >= 2), so "selected" vs "seasonal_naive"
    is a fair comparison. Series with a single window do not contribute.
    """
    S.require_columns(cv, S.CV_COLUMNS, "cross-validation frame")
    if metric not in ("mase", "rmsse", "sql", "wape"):
        raise ValueError(f"nested_selection_score: metric must be mase, rmsse, sql or wape, got {metric!r}")
    w = window_metrics(cv, train, m)
    cut = cv[[S.UID, S.CUTOFF]].drop_duplicates().sort_values([S.UID, S.CUTOFF])
    cut["_k"] = cut.groupby(S.UID).cumcount()
    w = w.merge(cut, on=[S.UID, S.CUTOFF])
    if metric == "wape":
        with np.errstate(divide="ignore", invalid="ignore"):
            w["wape"] = w["abs_error"] / w["abs_actual"]
    picks = []
    for k in sorted(cut["_k"].unique()):
        if k < 1:
            continue
        past = w[w["_k"] < k]
        ids = cut.loc[cut["_k"] == k, [S.UID, S.CUTOFF]]
        past = past[past[S.UID].isin(ids[S.UID])]
        if metric == "wape":
            g = past.groupby([S.UID, S.MODEL])[["abs_error", "abs_actual"]].sum(min_count=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                score = g["abs_error"] / g["abs_actual"]
            failed = past["wape"].isna().groupby([past[S.UID], past[S.MODEL]]).any()
        else:
            score = past.groupby([S.UID, S.MODEL])[metric].mean()
            failed = past[metric].isna().groupby([past[S.UID], past[S.MODEL]]).any()
        score = score.where(~failed)
        table = score.unstack(S.MODEL)
        if groups_at is None:
            chosen = _choose(table, fallback)
        else:
            grp = groups_at(ids.set_index(S.UID)[S.CUTOFF])
            chosen = _choose_by_group(table, grp, fallback)
        picks.append(ids.merge(pd.DataFrame({S.UID: chosen.index.to_numpy(), CHOSEN: chosen.to_numpy()}), on=S.UID))
    cols = [S.MODEL, S.METRIC, S.VALUE]
    if not picks:
        log.warning("nested_selection_score: no series has 2 backtest windows; nothing to score")
        return pd.DataFrame(columns=cols)
    pick = _available_or_fallback(pd.concat(picks, ignore_index=True), cv, fallback)
    scored = cv.merge(pick[[S.UID, S.CUTOFF]], on=[S.UID, S.CUTOFF])
    sel = cv.merge(pick, on=[S.UID, S.CUTOFF])
    sel = sel[sel[S.MODEL] == sel[CHOSEN]].drop(columns=CHOSEN).assign(**{S.MODEL: SELECTED})
    missing = len(pick) - sel[[S.UID, S.CUTOFF]].drop_duplicates().shape[0]
    if missing:
        log.warning("nested_selection_score: no model has a forecast for %d windows", missing)
    both = pd.concat([scored, sel], ignore_index=True)[S.CV_COLUMNS]
    return aggregate(evaluate(both, train, m))[cols]


def _available_or_fallback(pick: pd.DataFrame, cv: pd.DataFrame, fallback: str) -> pd.DataFrame:
    """Where the chosen model has no forecast of a window (it failed, or a work plan did not run it on
    that series), the strategy uses the fallback: the same here, so that the series still counts.
    The fallback where it has a forecast, else seasonal naive, else the first model that has one."""
    values = [S.MEAN, *S.QUANTILE_COLUMNS]
    ok = cv[values].notna().all(axis=1).groupby([cv[S.UID], cv[S.CUTOFF], cv[S.MODEL]]).all()
    ok = ok[ok].reset_index()[[S.UID, S.CUTOFF, S.MODEL]]
    has = pick.merge(ok.rename(columns={S.MODEL: CHOSEN}).assign(_has=True), on=[S.UID, S.CUTOFF, CHOSEN],
                     how="left")["_has"].notna().to_numpy()
    if has.all():
        return pick
    rank = ok[S.MODEL].map({fallback: 0, "seasonal_naive": 1}).fillna(2)
    first = ok.assign(_r=rank).sort_values([S.UID, S.CUTOFF, "_r", S.MODEL]).drop_duplicates([S.UID, S.CUTOFF])
    repl = pick.loc[~has, [S.UID, S.CUTOFF]].merge(first[[S.UID, S.CUTOFF, S.MODEL]], on=[S.UID, S.CUTOFF], how="left")
    pick = pick.copy()
    pick.loc[~has, CHOSEN] = repl[S.MODEL].to_numpy()
    log.info("nested_selection_score: the chosen model has no forecast for %d windows: fallback used", int((~has).sum()))
    return pick


def apply_selection(forecasts: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """Keep each series' chosen forecasts, labelled model="selected" with the family in ``chosen``.

    Series without a selection or without forecasts of their chosen model are dropped (logged).
    """
    S.require_columns(forecasts, S.FORECAST_COLUMNS, "forecasts frame")
    S.require_columns(selection, [S.UID, S.MODEL], "selection frame")
    sel = selection[[S.UID, S.MODEL]].rename(columns={S.MODEL: CHOSEN})
    out = forecasts.merge(sel, on=S.UID, how="inner")
    out = out[out[S.MODEL] == out[CHOSEN]].assign(**{S.MODEL: SELECTED})
    lost = set(forecasts[S.UID]) - set(out[S.UID])
    if lost:
        log.warning("apply_selection: %d series have no forecast of their selected model", len(lost))
    return out.sort_values([S.UID, S.DS]).reset_index(drop=True)[[*S.FORECAST_COLUMNS, CHOSEN]]


def combine(frame: pd.DataFrame, members: list[str] | tuple[str, ...], name: str = "combo",
            how: str = "mean") -> pd.DataFrame:
    """Add rows ``model=name``: the median/mean of the ``members``' mean and quantiles, per series and
    month (and cutoff in a cross-validation frame), as :class:`forecast.models.combination.Combination`
    would give, without fitting anything again. Members that failed (NaN) are skipped; a series
    needs at least one member. Works on forecasts and cross-validation frames alike."""
    from forecast.models.combination import combine_arrays

    S.require_columns(frame, [S.UID, S.DS, S.MODEL, S.MEAN, *S.QUANTILE_COLUMNS], "forecasts frame")
    keys = [S.UID, S.DS] + ([S.CUTOFF] if S.CUTOFF in frame.columns else [])
    sub = frame[frame[S.MODEL].isin(members)]
    if sub.empty:
        raise ValueError(f"combine: none of the members {list(members)} is in the frame")
    vals = [S.MEAN, *S.QUANTILE_COLUMNS]
    sub = sub.sort_values([*keys, S.MODEL])
    grid = sub.set_index([*keys, S.MODEL])[vals].unstack(S.MODEL)
    present = [m for m in members if m in set(sub[S.MODEL])]
    stack = np.stack([grid.xs(m, axis=1, level=S.MODEL)[vals].to_numpy(float) for m in present])
    combined = combine_arrays(stack, how)
    out = pd.DataFrame(combined, columns=vals, index=grid.index).reset_index()
    out[S.MODEL] = name
    q = out[S.QUANTILE_COLUMNS].to_numpy(float)
    out[S.QUANTILE_COLUMNS] = np.sort(q, axis=1)
    if S.Y in frame.columns:
        out = out.merge(frame[[*keys, S.Y]].drop_duplicates(keys), on=keys, how="left")
    extra = [c for c in frame.columns if c not in out.columns]
    for c in extra:
        out[c] = np.nan
    return pd.concat([frame[frame[S.MODEL] != name], out[frame.columns]], ignore_index=True)


def select_by_group(metrics: pd.DataFrame, groups: pd.Series, metric: str = "rmsse",
                    fallback: str = "seasonal_naive") -> pd.DataFrame:
    """One model per group of series (e.g. the Syntetos-Boylan class): the model with the lowest mean
    ``metric`` over the group's series (finite values only; a model that failed on more than half of
    the group cannot win). Pooling over many series makes the choice far less noisy than a per-series
    choice on a few backtest windows. Series without a group get the overall best. Frame [unique_id, model].
    """
    S.require_columns(metrics, S.METRIC_COLUMNS, "metrics frame")
    m = metrics[metrics[S.METRIC] == metric]
    if m.empty:
        raise ValueError(f"select_by_group: no {metric!r} rows in the metrics frame")
    table = m.pivot_table(index=S.UID, columns=S.MODEL, values=S.VALUE, aggfunc="first", dropna=False)
    chosen = _choose_by_group(table, groups, fallback)
    return pd.DataFrame({S.UID: table.index.to_numpy(), S.MODEL: chosen.to_numpy()}).sort_values(S.UID).reset_index(drop=True)


def _choose_by_group(table: pd.DataFrame, groups: pd.Series, fallback: str) -> pd.Series:
    """table: index unique_id, columns models, values the metric; the choice of
    :func:`select_by_group` as a Series unique_id -> model."""
    vals = table.where(np.isfinite(table))
    grp = groups.reindex(table.index).fillna("_all")

    def best(sub: pd.DataFrame) -> str:
        ok = sub.notna().mean() >= 0.5
        score = sub.mean()[ok]
        if score.empty or not np.isfinite(score).any():
            return fallback
        ordered = sorted(score.index, key=lambda k: (score[k], k != fallback, k))
        return str(ordered[0])

    overall = best(vals)
    chosen = {g: best(vals[grp == g]) for g in grp.unique()}
    return pd.Series([chosen.get(g, overall) for g in grp], index=table.index, name=S.MODEL, dtype=object)
