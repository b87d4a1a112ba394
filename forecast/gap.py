"""Gap between forecast demand and projected supply, per (occupation or skill, zone), month and horizon.

Monthly table (:func:`compute_gap`): gap = mean demand - supply; p_shortage = P(demand > supply) read
from the forecast's quantiles (the predictive CDF interpolated between quantile levels; beyond the outer
quantiles the probability is held at half the tail mass, so it never claims certainty the quantiles lack).

Horizon table (:func:`horizon_gap`): everything comes from the demand **sample paths** (each path summed
over the months, never summed quantiles) and from supply draws (projected sessions drawn as Bernoulli of
their recurrence probability). Over a horizon of ``H`` months:

- demand and supply totals with 95% intervals, gap = demand - supply with its interval;
- ``p_shortage`` = P(total demand > total supply);
- ``tension`` = E[demand] / max(E[supply], 1) (the floor of one person keeps it finite);
- ``unmet`` = expected unmet demand with people as a stock: supply that is not hired in a month stays
  available later, demand that finds nobody in its month is lost. Unmet over the horizon is then
  ``max(0, max_m (cum. demand to m - cum. supply to m))`` (max-flow / min-cut of that flow problem),
  the quantity the plan minimises (:mod:`forecast.plan`).

A pair is flagged a shortage (``shortage``) when ``p_shortage >= SHORTAGE_P`` (0.8) and ``tension >=
SHORTAGE_TENSION`` (3: demand at least three times the expected supply, "forte tension"), and a surplus
when ``p_shortage <= 1 - SHORTAGE_P`` (supply covers demand with probability 0.8 or more); both are
set in the experiment's [gap] section. The threshold 3 was chosen on the demo data (seed 42), where
pairs the generator calls "balanced" (places 0.6-1 x positions) reach a tension of 2-2.5 once
completion and insertion rates apply, and checked on another seed (benchmarks/gap_precision_recall.py). Shortages are ranked by
expected unmet demand, among the occupations that the training offer covers in the zone (sessions seen
there): without any training data the supply of a pair is unknown, not zero (``covered`` is False).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.paths import SamplePaths
from forecast.supply import P_RECURRENCE

SHORTAGE_P = 0.8
SHORTAGE_TENSION = 3.0
HORIZONS = (12, 24)


def prob_exceeds(quantiles: np.ndarray, levels: tuple[float, ...], threshold: np.ndarray) -> np.ndarray:
    """P(X > threshold) per row, from quantile values ``quantiles`` (n, len(levels))."""
    lv = np.asarray(levels, dtype=float)
    out = np.empty(len(threshold))
    lo_tail, hi_tail = lv[0] / 2, 1 - (1 - lv[-1]) / 2
    for i, (q, t) in enumerate(zip(quantiles, threshold)):
        q = np.maximum.accumulate(q)
        if t < q[0]:
            cdf = lo_tail
        elif t >= q[-1]:
            cdf = hi_tail
        else:
            # Where several levels share a value (a point mass, e.g. at 0), P(X <= t) is the highest.
            k = np.searchsorted(q, t, side="right")
            cdf = lv[k - 1] if q[k] == q[k - 1] else lv[k - 1] + (lv[k] - lv[k - 1]) * (t - q[k - 1]) / (q[k] - q[k - 1])
        out[i] = 1.0 - cdf
    return out


def occupations_of(unique_ids: pd.Series) -> pd.DataFrame:
    """Occupation x zone series recognised from their identifiers ('4413/J1501')."""
    ids = pd.Series(pd.unique(unique_ids.astype(str)))
    m = ids.str.extract(r"^(?P<zone>[0-9A-Z]{4})/(?P<key>[A-N]\d{4})$")
    out = pd.DataFrame({S.UID: ids, S.ZONE: m["zone"], S.KEY: m["key"]}).dropna()
    out["label"] = out[S.UID]
    return out


def skills_of(unique_ids: pd.Series) -> pd.DataFrame:
    """Skill x zone series recognised from their identifiers ('4413/skill:100023')."""
    ids = pd.Series(pd.unique(unique_ids.astype(str)))
    m = ids.str.extract(r"^(?P<zone>[0-9A-Z]{4})/skill:(?P<key>\w+)$")
    out = pd.DataFrame({S.UID: ids, S.ZONE: m["zone"], S.KEY: m["key"]}).dropna()
    out["label"] = out[S.UID]
    return out


def series_keys(unique_ids: pd.Series, catalog: pd.DataFrame | None, level: str = "rome_zone") -> pd.DataFrame:
    """uid, zone, key, label of the ``level`` series among ``unique_ids`` (catalog labels when given)."""
    if catalog is not None and len(catalog):
        keys = catalog[catalog[S.LEVEL] == level][[S.UID, S.ZONE, S.KEY, "label"]]
        return keys[keys[S.UID].isin(set(unique_ids.astype(str)))].reset_index(drop=True)
    return (occupations_of if level == "rome_zone" else skills_of)(unique_ids).reset_index(drop=True)


def compute_gap(forecasts: pd.DataFrame, catalog: pd.DataFrame | None, supply: pd.DataFrame) -> pd.DataFrame:
    """Monthly gap table (schema.GAP_COLUMNS + label) for the occupation x zone forecasts.

    Without a catalog, occupation series are recognised by their identifiers ('4413/J1501').
    """
    S.require_columns(forecasts, S.FORECAST_COLUMNS, "forecasts")
    S.require_columns(supply, S.SUPPLY_COLUMNS, "supply")
    occ = series_keys(forecasts[S.UID], catalog)
    f = forecasts.merge(occ, on=S.UID, how="inner").rename(columns={S.KEY: S.ROME})
    monthly = supply.groupby([S.ZONE, S.ROME, S.DS], as_index=False)[S.SUPPLY].sum()
    g = f.merge(monthly, on=[S.ZONE, S.ROME, S.DS], how="left")
    g[S.SUPPLY] = g[S.SUPPLY].fillna(0.0)
    g[S.GAP] = g[S.MEAN] - g[S.SUPPLY]
    g[S.P_SHORTAGE] = prob_exceeds(g[S.QUANTILE_COLUMNS].to_numpy(float), S.QUANTILE_LEVELS, g[S.SUPPLY].to_numpy(float))
    cols = [*S.GAP_COLUMNS, "label", S.MODEL]
    return g[cols].sort_values([S.ZONE, S.ROME, S.DS]).reset_index(drop=True)


def gap_summary(gap: pd.DataFrame, months: int = 12) -> pd.DataFrame:
    """Per (zone, rome): mean demand and supply over the first ``months`` of the horizon, ranked by gap.

    Totals of the mean only (the monthly table's view); intervals of horizon totals come from
    :func:`horizon_gap` over sample paths, never from summed quantiles.
    """
    first = gap[S.DS] < gap[S.DS].min() + pd.DateOffset(months=months)
    g = gap[first].groupby([S.ZONE, S.ROME, "label"], as_index=False).agg(
        demand=(S.MEAN, "sum"), supply=(S.SUPPLY, "sum"),
        months_short=(S.P_SHORTAGE, lambda p: int((p > 0.5).sum())))
    g["gap"] = g["demand"] - g["supply"]
    g["ratio_supply_demand"] = np.where(g["demand"] > 0, g["supply"] / g["demand"].where(g["demand"] > 0, 1), np.nan)
    return g.sort_values("gap", ascending=False).reset_index(drop=True)


# --- sample-path gap --------------------------------------------------------------------------------

def unmet(demand: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """Unmet demand over the months (last axis) when unused supply carries over and unmet demand is lost:
    ``max(0, max_m cumsum(demand - supply)[m])``. Broadcasts over the leading axes."""
    c = np.cumsum(np.asarray(demand, float) - np.asarray(supply, float), axis=-1)
    return np.maximum(c.max(axis=-1), 0.0)


def supply_arrays(supply: pd.DataFrame, keys: pd.DataFrame, ds: pd.DatetimeIndex, key_col: str = S.ROME
                  ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]]:
    """(sure supply (n, h), uncertain parts [(row idx, month idx, amount if it happens, probability)])."""
    n, h = len(keys), len(ds)
    sure = np.zeros((n, h))
    if supply.empty:
        return sure, []
    # vectorised lookups of each supply row's series and month (-1: not in the table); the skills'
    # supply has millions of rows (every skill of each supplied occupation)
    where = pd.MultiIndex.from_arrays([keys[S.ZONE].astype(str), keys[S.KEY].astype(str)])
    rows = pd.MultiIndex.from_arrays([supply[S.ZONE].astype(str), supply[key_col].astype(str)])
    if where.is_unique:
        i_idx = where.get_indexer(rows)
    else:  # the last of duplicate keys, as a dict would keep
        pos = {(z, k): i for i, (z, k) in enumerate(zip(where.get_level_values(0), where.get_level_values(1)))}
        i_idx = np.fromiter((pos.get(r, -1) for r in rows), dtype=np.int64, count=len(rows))
    months = pd.DatetimeIndex(ds).as_unit("ns")
    t_idx = months.get_indexer(pd.DatetimeIndex(supply[S.DS]).as_unit("ns"))
    sp = supply.assign(_i=i_idx, _t=t_idx)
    sp = sp[(sp["_i"] >= 0) & (sp["_t"] >= 0)]
    p = sp[P_RECURRENCE].to_numpy(float) if P_RECURRENCE in sp.columns else np.ones(len(sp))
    certain = p >= 1.0
    np.add.at(sure, (sp["_i"].to_numpy()[certain], sp["_t"].to_numpy()[certain]), sp[S.SUPPLY].to_numpy(float)[certain])
    u = ~certain & (p > 0)
    parts = [(sp["_i"].to_numpy()[u], sp["_t"].to_numpy()[u], sp[S.SUPPLY].to_numpy(float)[u] / p[u], p[u])]
    return sure, parts if u.any() else []


class SupplyDraws:
    """Supply draws (n, n_samples, h) made row block by row block (:meth:`rows`): the sure supply plus
    each uncertain session with its probability, the random draws made once for all rows (so any
    block holds exactly what :func:`draw_supply` would give for those rows). On the Grand Est's 8,100
    skill series the whole array is 0.8 GB; a block of 1,024 rows, 0.1 GB."""

    def __init__(self, sure: np.ndarray, parts: list, n_samples: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.sure, self.n_samples = sure, int(n_samples)
        self.shape = (sure.shape[0], self.n_samples, sure.shape[1])
        self.parts = []
        for i, t, amount, p in parts:
            # the draws (uncertain sessions x samples) made a block of sessions at a time: the same
            # random stream, without a float64 matrix of all of them (1 GB for the skills' supply)
            hits = []
            for a in range(0, len(i), 4096):
                r, d = np.nonzero(rng.random((min(len(i), a + 4096) - a, n_samples)) < p[a:a + 4096, None])
                hits.append((r + a, d))
            rows = np.concatenate([h[0] for h in hits]) if hits else np.zeros(0, dtype=int)
            draws = np.concatenate([h[1] for h in hits]) if hits else np.zeros(0, dtype=int)
            self.parts.append((i[rows], draws, t[rows], amount[rows]))

    def rows(self, a: int, b: int) -> np.ndarray:
        out = np.repeat(self.sure[a:b, None, :], self.n_samples, axis=1)
        for i, draws, t, amount in self.parts:
            k = (i >= a) & (i < b)
            np.add.at(out, (i[k] - a, draws[k], t[k]), amount[k])
        return out


def draw_supply(sure: np.ndarray, parts: list, n_samples: int, seed: int = 0) -> np.ndarray:
    """Supply draws (n, n_samples, h): sure supply plus each uncertain session with its probability."""
    return SupplyDraws(sure, parts, n_samples, seed).rows(0, sure.shape[0])


def _stats(prefix: str, x: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{prefix}_mean": x.mean(axis=1), f"{prefix}_q0.025": np.quantile(x, 0.025, axis=1),
            f"{prefix}_q0.975": np.quantile(x, 0.975, axis=1)}


#: Rows of the (n, n_samples, h) arrays the horizon table works on at once (bounded memory).
CHUNK = 1024


def horizon_table(demand: np.ndarray, supply: "np.ndarray | SupplyDraws", keys: pd.DataFrame,
                  horizons: tuple[int, ...]) -> pd.DataFrame:
    """Per row of ``keys`` and horizon: totals, gap, P(shortage), tension, unmet (see module doc).
    ``demand`` (any float dtype) and ``supply`` (an array or :class:`SupplyDraws`) are read
    :data:`CHUNK` rows at a time, in float64: every row's figures are computed on its own."""
    n, h_max = demand.shape[0], demand.shape[2]
    hzs = sorted({min(h, h_max) for h in horizons})
    parts: dict[int, list[dict[str, np.ndarray]]] = {hz: [] for hz in hzs}
    for a in range(0, max(n, 1), CHUNK):
        b = min(n, a + CHUNK)
        dd = np.asarray(demand[a:b], dtype=float)
        ss = supply.rows(a, b) if isinstance(supply, SupplyDraws) else np.asarray(supply[a:b], dtype=float)
        for hz in hzs:
            d, s = dd[:, :, :hz], ss[:, :, :hz]
            dt, st = d.sum(axis=2), s.sum(axis=2)
            um = unmet(d, s)
            cols = {**_stats("demand", dt), **_stats("supply", st), **_stats("gap", dt - st), **_stats("unmet", um)}
            cols["p_shortage"] = (dt > st).mean(axis=1)
            cols["tension"] = cols["demand_mean"] / np.maximum(cols["supply_mean"], 1.0)
            cols["surplus_mean"] = np.maximum(st - dt, 0).mean(axis=1)
            parts[hz].append(cols)
    rows = []
    for hz in hzs:
        cols = {k: np.concatenate([c[k] for c in parts[hz]]) for k in parts[hz][0]}
        rows.append(keys.reset_index(drop=True).assign(horizon=hz, **cols))
    return pd.concat(rows, ignore_index=True)


def classify(table: pd.DataFrame, p: float = SHORTAGE_P, tension: float = SHORTAGE_TENSION) -> pd.DataFrame:
    """Add ``situation`` (shortage | surplus | balanced) and the shortage/surplus ranks per horizon."""
    t = table.copy()
    short = (t["p_shortage"] >= p) & (t["tension"] >= tension)
    surplus = t["p_shortage"] <= 1 - p
    t["situation"] = np.where(short, "shortage", np.where(surplus, "surplus", "balanced"))
    covered = t["covered"] if "covered" in t.columns else pd.Series(True, index=t.index)
    t["rank_shortage"] = np.nan
    t["rank_surplus"] = np.nan
    for _, g in t.groupby("horizon"):
        sh = g[(g["situation"] == "shortage") & covered.loc[g.index]].sort_values(
            ["unmet_mean", S.UID], ascending=[False, True])
        t.loc[sh.index, "rank_shortage"] = np.arange(1, len(sh) + 1)
        su = g[g["situation"] == "surplus"].sort_values(["surplus_mean", S.UID], ascending=[False, True])
        t.loc[su.index, "rank_surplus"] = np.arange(1, len(su) + 1)
    return t


def demand_supply(paths: SamplePaths, catalog: pd.DataFrame | None, supply: pd.DataFrame, seed: int = 0,
                  lazy: bool = False) -> tuple[pd.DataFrame, np.ndarray, Any]:
    """(keys of the occupation x zone series, demand paths (n, n_samples, h), supply draws alike).
    The draws depend only on the uncertain (projected) sessions and ``seed``: adding sure supply
    (an action) leaves them unchanged, so a gap re-run with an action applied is comparable."""
    S.require_columns(supply, S.SUPPLY_COLUMNS, "supply")
    keys = series_keys(pd.Series(paths.unique_ids), catalog)
    if keys.empty:
        return keys, np.zeros((0, paths.n_samples, len(paths.ds))), np.zeros((0, paths.n_samples, len(paths.ds)))
    sub = paths.for_ids(list(keys[S.UID]))
    sure, parts = supply_arrays(supply, keys, sub.ds)
    if lazy:  # the paths' own float32 and the supply draws made block by block (SupplyDraws)
        return keys, sub.values, SupplyDraws(sure, parts, paths.n_samples, seed)
    return keys, sub.values.astype(float), draw_supply(sure, parts, paths.n_samples, seed)


def horizon_gap(paths: SamplePaths, catalog: pd.DataFrame | None, supply: pd.DataFrame,
                sessions: pd.DataFrame | None = None, horizons: tuple[int, ...] = HORIZONS,
                region: str | None = "R44", seed: int = 0,
                thresholds: tuple[float, float] = (SHORTAGE_P, SHORTAGE_TENSION)) -> pd.DataFrame:
    """The gap summary per (occupation, zone) and horizon, plus the region per occupation (``zone`` =
    ``region``: demand paths summed across zones draw by draw, supply pooled); ranked (see module doc).
    ``sessions`` (the store table) marks which pairs the training offer covers."""
    keys, demand, sup = demand_supply(paths, catalog, supply, seed, lazy=True)
    if keys.empty:
        return pd.DataFrame()
    keys = keys.assign(covered=_covered(keys, sessions))
    table = horizon_table(demand, sup, keys, horizons)
    if region:
        codes = sorted(keys[S.KEY].unique())
        idx = keys[S.KEY].map({c: i for i, c in enumerate(codes)}).to_numpy()
        rd = np.zeros((len(codes), *demand.shape[1:]))
        rs = np.zeros_like(rd)
        np.add.at(rd, idx, demand)
        for a in range(0, len(keys), CHUNK):  # same sums, in the same order, block by block
            np.add.at(rs, idx[a:a + CHUNK], sup.rows(a, min(len(keys), a + CHUNK)))
        rkeys = pd.DataFrame({S.UID: [f"{region}/{c}" for c in codes], S.ZONE: region, S.KEY: codes,
                              "label": [f"{c} — région" for c in codes]})
        rkeys["covered"] = [bool(keys.loc[keys[S.KEY] == c, "covered"].any()) for c in codes]
        table = pd.concat([table, horizon_table(rd, rs, rkeys, horizons)], ignore_index=True)
    table = classify(table, *thresholds).rename(columns={S.KEY: S.ROME})
    return table.sort_values(["horizon", "rank_shortage", "unmet_mean"], ascending=[True, True, False],
                             na_position="last").reset_index(drop=True)


def _covered(keys: pd.DataFrame, sessions: pd.DataFrame | None) -> np.ndarray:
    if sessions is None:
        return np.ones(len(keys), dtype=bool)
    seen = set(zip(sessions[S.ZONE].astype(str), sessions[S.ROME].astype(str)))
    return np.array([(z, k) in seen for z, k in zip(keys[S.ZONE], keys[S.KEY])], dtype=bool)


def ranked(table: pd.DataFrame, horizon: int = 12, kind: str = "shortage", n: int = 20,
           zone_level: bool = True) -> pd.DataFrame:
    """The ``n`` largest shortages (or surpluses) at ``horizon``; zone rows only unless ``zone_level`` is False."""
    col = f"rank_{kind}"
    t = table[(table["horizon"] == table["horizon"][table["horizon"] <= horizon].max()) & table[col].notna()]
    is_region = ~t[S.ZONE].str.fullmatch(r"\d{4}|2A\d{2}|2B\d{2}")
    t = t[~is_region] if zone_level else t[is_region]
    metric = "unmet_mean" if kind == "shortage" else "surplus_mean"
    return t.sort_values([metric, S.UID], ascending=[False, True]).head(n).reset_index(drop=True)


def domain_shortage(keys: pd.DataFrame, demand: np.ndarray, supply: np.ndarray, horizon: int = 12) -> pd.DataFrame:
    """P(shortage) per (zone, ROME grand domain): demand and supply of the domain's occupations summed
    path by path over the first ``horizon`` months (surpluses offset shortages within a domain)."""
    from forecast import referential

    h = min(horizon, demand.shape[2])
    d, s = demand[:, :, :h].sum(axis=2), supply[:, :, :h].sum(axis=2)
    groups = pd.DataFrame({S.ZONE: keys[S.ZONE].to_numpy(), "domain": keys[S.KEY].str[0].to_numpy()})
    rows = []
    for (z, dom), idx in groups.groupby([S.ZONE, "domain"]).indices.items():
        dz, sz = d[idx].sum(axis=0), s[idx].sum(axis=0)
        rows.append({S.ZONE: z, "domain": dom, "p_shortage": float((dz > sz).mean()),
                     "demand_mean": float(dz.mean()), "supply_mean": float(sz.mean())})
    out = pd.DataFrame(rows, columns=[S.ZONE, "domain", "p_shortage", "demand_mean", "supply_mean"])
    labels = {z: referential.zone_label(z) for z in out[S.ZONE].unique()} if len(out) else {}
    out["zone_label"] = [f"{z} {labels.get(z, '')}".strip() for z in out[S.ZONE]]
    return out


def skill_gap(paths: SamplePaths, catalog: pd.DataFrame | None, supply: pd.DataFrame,
              horizons: tuple[int, ...] = HORIZONS, seed: int = 0,
              thresholds: tuple[float, float] = (SHORTAGE_P, SHORTAGE_TENSION)) -> pd.DataFrame:
    """Demand per (skill, zone) against the skills that supplied people bring: a person supplied for a
    historic ROME code brings every skill listed by the ROME 4.0 fiches of that code (referential)."""
    from forecast import referential

    keys = series_keys(pd.Series(paths.unique_ids), catalog, level="skill_zone")
    if keys.empty or supply.empty:
        return pd.DataFrame()
    fiches = referential.load_fiches()[["code_rome", "code_rome_parent"]]
    fs = referential.load_fiche_skills().merge(fiches, on="code_rome")
    rome_skills = fs[["code_rome_parent", "code_ogr"]].drop_duplicates().rename(
        columns={"code_rome_parent": S.ROME, "code_ogr": S.SKILL})
    wanted = set(keys[S.KEY])
    by_skill = supply.merge(rome_skills[rome_skills[S.SKILL].isin(wanted)], on=S.ROME)
    by_skill = by_skill.drop(columns=[S.ROME]).rename(columns={S.SKILL: S.ROME})
    sub = paths.for_ids(list(keys[S.UID]))
    sure, parts = supply_arrays(by_skill, keys, sub.ds)
    sup = SupplyDraws(sure, parts, paths.n_samples, seed)  # made block by block, like the float64 demand
    table = horizon_table(sub.values, sup, keys.assign(covered=True), horizons)
    return classify(table, *thresholds).rename(columns={S.KEY: S.SKILL}).sort_values(
        ["horizon", "unmet_mean"], ascending=[True, False]).reset_index(drop=True)
