"""Smart work: the costly families (ARIMA, ETS, Prophet) only where they can win.

The product chooses one candidate per Syntetos-Boylan class (:func:`forecast.select.select_by_group`:
the lowest mean backtest metric over the class's series). Fitting ARIMA four times on thousands of
sparse series costs most of a regional run and is wasted whenever a cheap family wins that class.
Screening measures it instead of guessing:

1. group every series as the strategy chooses (Syntetos-Boylan class: smooth, erratic, intermittent,
   lumpy, zero; x volume decade: :func:`forecast.strategy.choice_groups`);
2. in each class with more than ``2 * sample`` series, backtest every family (and the combinations)
   on a seeded random sample of ``sample`` series (through the engine: with the results cache on,
   these fits are reused by the full backtest, nothing is computed twice);
3. a costly family runs on the whole class only if the class winner on the sample uses it (it wins,
   or a combination containing it wins) and beats the best cheap candidate by at least ``margin`` of
   its score and significantly (paired over the sample's series, one-sided 5 %): a costly winner
   that does not pay for its cost is replaced by that cheap candidate (``[engine] screen_margin``); the others run on the class's sample only (they cover less
   than half of it, so they cannot win it: the selection rules are unchanged). If a cheap family
   wins, every costly family stays on the sample.

4. full-history fits: a costly family is fitted on the full history of a class's series only if the
   class winner uses it (itself, or a combination it belongs to): elsewhere the selection cannot
   choose it, so that forecast would never be used.

With a results cache in the session, classes of up to ``2 * sample`` series are screened whole
(their backtest is the strategy's own, computed once); without one they are not screened. Series
the plan does not know (hierarchy nodes, aggregates) always get every family. The resulting :class:`WorkPlan` is handed to the engine through
:func:`forecast.executors.set_plan`; the engine skips the (series, family) pairs it excludes.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecast import schema as S

log = logging.getLogger(__name__)

#: Families measured at 40-200 ms per fit on this machine (the others take well under 1 ms).
COSTLY: tuple[str, ...] = ("arima", "ets", "prophet")
#: A costly family must beat the best cheap candidate by 1 % of the metric on a group's sample to run
#: on the whole group: on the Grand Est demo ARIMA won the 150-series intermittent group by 0.5 %
#: for 500 times the cost (``[engine] screen_margin``; 0 = whenever it wins).
DEFAULT_MARGIN = 0.01
#: ... and beyond the noise of its sample: the paired (series by series) difference to the best cheap
#: candidate must be significant, one-sided z >= 1.645 (5 %), when the sample has 10 series or more.
SIGNIFICANCE_Z = 1.645


@dataclass
class WorkPlan:
    """Which series each costly family runs on. ``allowed[alias]`` = the unique_ids of the
    restricted classes it still runs on (its screening sample); ``restricted`` = the unique_ids
    where it does not run. Series outside ``restricted`` get every family."""

    allowed: dict[str, frozenset[str]] = field(default_factory=dict)
    restricted: frozenset[str] = frozenset()
    report: pd.DataFrame = field(default_factory=pd.DataFrame)
    final_skip: dict[str, frozenset[str]] = field(default_factory=dict)

    def mask(self, alias: str, ids: list[Any], final: bool = False) -> np.ndarray | None:
        """Boolean mask of ``ids`` the spec ``alias`` runs on, or None when it runs on all.

        ``final``: the full-history fit. A costly family is not fitted on the full history of the
        series of a class whose backtest winner does not use it (``final_skip``): the selection
        cannot choose it there, so that forecast would never be used."""
        if alias not in self.allowed:
            return None
        if final:
            skip = self.final_skip.get(alias)
            if not skip:
                return None
            m = np.fromiter((u not in skip for u in ids), dtype=bool, count=len(ids))
            return None if m.all() else m
        if not self.restricted:
            return None
        keep = self.allowed[alias]
        m = np.fromiter((u not in self.restricted or u in keep for u in ids), dtype=bool, count=len(ids))
        return None if m.all() else m

    def skipped_fraction(self, families: list[str] | tuple[str, ...], n_series: int) -> float:
        """Share of (series, family) pairs the plan skips."""
        if not n_series or not families:
            return 0.0
        skipped = sum(len(self.restricted - self.allowed[f]) for f in families if f in self.allowed)
        return skipped / (n_series * len(families))


def costly_pays(gain: float, diff: np.ndarray, margin: float = DEFAULT_MARGIN) -> tuple[bool, float]:
    """Does a costly winner pay for its cost? ``gain``: its relative gain over the best cheap
    candidate (mean metric); ``diff``: the paired per-series differences (cheap - costly, positive
    where the costly one is better). It must gain at least ``margin`` and, on 10 series or more,
    significantly (one-sided paired z >= :data:`SIGNIFICANCE_Z`). Returns (pays, z)."""
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    sd = float(d.std(ddof=1)) if len(d) > 2 else 0.0
    z = float(d.mean() / (sd / np.sqrt(len(d)))) if sd > 0 else (np.inf if len(d) and d.mean() > 0 else 0.0)
    noisy = len(d) >= 10 and z < SIGNIFICANCE_Z
    return bool(gain >= margin and not noisy), z


def screen(series: pd.DataFrame, families: list[str] | tuple[str, ...], backtest_horizon: int = 12,
           windows: int = 3, step: int | None = None, metric: str = "rmsse",
           params: dict[str, dict[str, Any]] | None = None, combos: dict[str, tuple[str, ...]] | None = None,
           combo_how: str = "mean", sample: int = 200, seed: int = 0, costly: tuple[str, ...] = COSTLY,
           n_jobs: int = 1, progress: Callable[[int, int], None] | None = None,
           margin: float = DEFAULT_MARGIN) -> WorkPlan:
    """Screen the costly families per class on a sample (module docstring) -> :class:`WorkPlan`."""
    from forecast.backtest import cross_validation
    from forecast.classify_series import CLASS, classify
    from forecast.metrics import evaluate
    from forecast.select import combine, select_by_group
    from forecast.strategy import usable_combos

    params = params or {}
    expensive = [f for f in families if f in costly]
    cheap = [f for f in families if f not in costly]
    if not expensive or not cheap or sample < 1:
        return WorkPlan()
    data = series[[S.UID, S.DS, S.Y]]
    from forecast.strategy import choice_groups

    # the strategy's own choice groups (Syntetos-Boylan class x volume decade): the winner of a group
    # screened whole is then exactly the strategy's choice, and a sampled group's costly families
    # cover less than half of it, so a skipped full-history fit is never the one selected
    from forecast.backtest import backtest_span

    span = backtest_span(data, None, backtest_horizon, windows, step)  # as the strategy: stable between refreshes
    classes = choice_groups(span, classify(span)).rename(CLASS)
    from forecast.executors import current_cache

    whole = current_cache() is not None  # small classes: their full backtest is reused, not redone
    rng = np.random.default_rng(seed)
    samples: dict[str, np.ndarray] = {}
    for cls, ids in classes.groupby(classes).groups.items():
        ids = np.sort(np.asarray(list(ids), dtype=object))
        if len(ids) > 2 * sample:
            samples[str(cls)] = np.sort(rng.choice(ids, size=sample, replace=False))
        elif whole:
            samples[str(cls)] = ids
    if not samples:
        return WorkPlan()
    picked = np.concatenate(list(samples.values()))
    sub = data[data[S.UID].isin(set(picked))]
    total = len(families) * len(picked)
    parts = []
    for k, fam in enumerate(families):  # one family per call, as the strategy does: cache keys match
        tick = (lambda d, t, k=k: progress(k * len(picked) + d, total)) if progress else None
        parts.append(cross_validation(sub, {fam: dict(params.get(fam, {}))}, h=backtest_horizon, n_windows=windows,
                                      step=step, n_jobs=n_jobs, progress=tick))
    cv = pd.concat(parts, ignore_index=True)
    usable = usable_combos(families, combos)
    for name, members in usable.items():
        cv = combine(cv, members, name=name, how=combo_how)
    metrics = evaluate(cv, sub)
    fallback = next(iter(usable), "seasonal_naive" if "seasonal_naive" in families else families[0])
    chosen = select_by_group(metrics, classes.reindex(picked), metric=metric, fallback=fallback)
    winner = chosen.set_index(S.UID)[S.MODEL]
    table = metrics[metrics[S.METRIC] == metric].pivot_table(index=S.UID, columns=S.MODEL, values=S.VALUE,
                                                             aggfunc="first", dropna=False)
    table = table.where(np.isfinite(table))
    cheap_cands = [c for c in table.columns if not set(usable.get(c, (c,))) & set(expensive)]
    rows, restricted, allowed = [], set(), {f: set() for f in expensive}
    final_skip: dict[str, set[str]] = {f: set() for f in expensive}
    for cls, ids in samples.items():
        win = str(winner.reindex(ids).mode().iloc[0])
        sub = table.reindex(ids)
        score = sub.mean()[sub.notna().mean() >= 0.5]
        cheap_score = score.reindex(cheap_cands).dropna()
        gain, z = float("nan"), float("nan")
        replaced = False
        if win in score.index and not cheap_score.empty and cheap_score.min() > 0:
            best_cheap = str(cheap_score.idxmin())
            gain = 1.0 - float(score[win]) / float(cheap_score.min())  # of the winner over the best cheap one
            pays, z = costly_pays(gain, (sub[best_cheap] - sub[win]).to_numpy(float), margin)
            if set(usable.get(win, (win,))) & set(expensive) and win != best_cheap and not pays:
                win, replaced = best_cheap, True
        members = set(usable.get(win, (win,)))
        winners = members & set(expensive)  # the costly families the class winner uses
        n_cls = int((classes == cls).sum())
        sampled = len(ids) < n_cls
        members_cls = set(classes.index[classes == cls])
        for f in expensive:
            if f not in members:
                final_skip[f] |= members_cls
        if replaced:  # the costly families are out of this group altogether: the strategy cannot pick them
            restricted |= members_cls
        elif sampled:  # a costly family the winner does not use runs on the sample only
            restricted |= members_cls
            for f in expensive:
                allowed[f] |= members_cls if f in winners else set(ids)
        rows.append({"series_class": cls, "n_series": n_cls, "sample": len(ids), "winner_on_sample": win,
                     "gain_over_best_cheap": round(gain, 4) if np.isfinite(gain) else None,
                     "gain_z": round(z, 2) if np.isfinite(z) else None,
                     "costly_backtest": "; ".join(f"{f}: {'none (below the margin)' if replaced else 'all series' if f in winners or not sampled else 'sample only'}"
                                                  for f in expensive),
                     "costly_final_fit": ", ".join(sorted(winners)) or "none"})
    report = pd.DataFrame(rows)
    plan = WorkPlan({f: frozenset(v) for f, v in allowed.items()}, frozenset(restricted), report,
                    {f: frozenset(v) for f, v in final_skip.items()})
    log.info("screening: costly families %s skip %.0f%% of their fits (%s)", ", ".join(expensive),
             100 * plan.skipped_fraction(expensive, len(classes)),
             "; ".join(f"{r['series_class']}: {r['winner_on_sample']} (gain over the best cheap candidate "
                       f"{r['gain_over_best_cheap']}) -> backtest {r['costly_backtest']}, final fit "
                       f"{r['costly_final_fit']}" for r in rows))
    return plan


def screen_experiment(exp: Any, modelled: pd.DataFrame,
                      progress: Callable[[str, int, int], None] | None = None) -> WorkPlan:
    """Screen an experiment's modelled series with its ``[models]``/``[backtest]``/``[engine]``
    settings and install the plan in the current engine session (no-op when ``screen_sample`` is 0)."""
    import os

    from forecast.executors import set_plan

    sample = int(getattr(exp, "screen_sample", 0) or 0)
    if sample < 1:
        return WorkPlan()
    plan = screen(modelled, exp.families, exp.backtest_horizon, exp.backtest_windows, exp.backtest_step,
                  exp.metric, params=exp.model_params, combos=getattr(exp, "combos", None),
                  combo_how=getattr(exp, "combo_how", "mean"), sample=sample, n_jobs=exp.n_jobs or os.cpu_count() or 1,
                  margin=float(getattr(exp, "screen_margin", DEFAULT_MARGIN)),
                  progress=(lambda d, t: progress("screening", d, t)) if progress else None)
    set_plan(plan)
    return plan
