"""Coherent forecasts across the grouped hierarchy: bottom-up, structural WLS, MinT (shrinkage).

The hierarchy (:func:`build_hierarchy`)
---------------------------------------
Bottom series are the modelled occupation x zone series (``rome_zone``) plus, per zone, a
remainder ``{zone}/other`` (the zone total minus its modelled occupations: small occupations below
``min_total``), and, when the region total covers zones outside the experiment, a remainder
``{region}/other_zones``. Aggregates (each a sum of bottom series, stored as a scipy.sparse
summing matrix so that it scales to France's 306 zones x 532 occupations):

- ``zone_total`` (``{zone}/total``) and ``region_total`` (``R44/total``): the existing series;
- ``grand_domain_zone`` (``{zone}/grand_domain:{code}``) and ``domain_zone``
  (``{zone}/domain:{code}``): the modelled occupations of a ROME grand domain / professional
  domain (``code_grand_domaine``, ``code_domaine`` of :func:`forecast.referential.load_rome_parents`)
  in a zone; ``grand_domain_region``, ``domain_region`` (``{region}/grand_domain:{code}``...): the
  same over the zones of the experiment (only with several zones: with one zone they would repeat
  the zone's nodes).

Reconciliation (:func:`reconcile`)
----------------------------------
With base forecasts y (aggregates first, then bottoms), the constraint matrix C = [I, -A] (A:
aggregates x bottoms) and a diagonal or full covariance W, the reconciled forecast is
y~ = y - W C' (C W C')^-1 C y (the MinT projection; sparse solve when W is diagonal):

- ``bottom_up``: y~ = S y_bottom;
- ``wls_struct``: W = diag(number of bottom series under each node);
- ``wls_var``: W = diag(backtest error variance of each series);
- ``mint_shrink``: W = Schäfer-Strimmer shrinkage of the backtest error covariance towards its
  diagonal (dense: used up to ``MINT_MAX`` series, otherwise ``wls_var``).

Non-negative results: negative bottom values are set to 0 and every aggregate is recomputed as
the sum of its bottoms, so the output is exactly coherent and >= 0.

:func:`choose_method` applies each method to every backtest window, with the error (co)variance of
WLS and MinT estimated on the *other* windows (so that MinT is not scored on the errors it was fitted
to), and compares every level with the unreconciled forecasts. A level that a method makes worse can
be *trusted*: its nodes get a tiny variance (``TRUST``), so they keep their base forecasts and the
other nodes absorb the incoherence (still exactly coherent). The choice is the best mean over levels
among the candidates no worse than unreconciled at any level of the backtest.

Quantiles follow their mean: each series' calibrated quantiles are multiplied by
reconciled mean / base mean (shifted when the base mean is 0), so their relative width is kept.

Skill series (``skill_zone``) are not sums of occupations (an offer asks for several skills, a
skill serves many occupations), so they are not in the summing matrix; they stay consistent with
their zone: each is scaled by the zone total's reconciled / base ratio, and capped at the zone
total (a skill cannot be asked by more positions than the zone offers).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from forecast import schema as S

log = logging.getLogger(__name__)
METHODS = ("bottom_up", "wls_struct", "wls_var", "mint_shrink")
MINT_MAX = 3000
TRUST = 1e-8
TOL = 1e-6  # "no worse than base": mean RMSSE at most base * (1 + TOL) + TOL
SKILL_LEVEL = "skill_zone"


@dataclass(frozen=True)
class Hierarchy:
    """``agg_ids`` (n_a) and ``bottom_ids`` (n_b); ``A`` (n_a x n_b, sparse 0/1); ``levels``: uid -> level."""

    agg_ids: np.ndarray
    bottom_ids: np.ndarray
    A: sp.csr_matrix
    levels: dict[str, str]

    @property
    def ids(self) -> np.ndarray:
        return np.r_[self.agg_ids, self.bottom_ids]

    def summing_matrix(self) -> sp.csr_matrix:
        return sp.vstack([self.A, sp.identity(len(self.bottom_ids), format="csr")]).tocsr()


def _region_of(series: pd.DataFrame) -> str | None:
    reg = series.loc[series[S.LEVEL] == "region_total", S.ZONE]
    return str(reg.iloc[0]) if len(reg) else None


def build_hierarchy(series: pd.DataFrame, modelled: set[str] | None = None,
                    domains: bool = True) -> tuple[Hierarchy, pd.DataFrame]:
    """The grouped hierarchy of a series frame (``SERIES_COLUMNS``, full grid) and the history of
    every node it adds (remainders, domain levels) as a series frame. ``modelled``: the rome_zone
    uids at the bottom (default: all)."""
    from forecast import referential

    occ = series[series[S.LEVEL] == "rome_zone"]
    if modelled is not None:
        occ = occ[occ[S.UID].isin(modelled)]
    zt = series[series[S.LEVEL] == "zone_total"]
    region = _region_of(series)
    months = pd.DatetimeIndex(sorted(series[S.DS].unique()))
    wide = lambda f: f.pivot_table(index=S.UID, columns=S.DS, values=S.Y, aggfunc="sum").reindex(columns=months, fill_value=0.0)  # noqa: E731
    occ_w = wide(occ) if len(occ) else pd.DataFrame(columns=months, dtype=float)
    keys = occ.drop_duplicates(S.UID).set_index(S.UID)[[S.ZONE, S.KEY]].reindex(occ_w.index)
    extra = []  # (uid, level, zone, key, values)
    zones = sorted(set(zt[S.ZONE]) | set(keys[S.ZONE]))
    zt_w = wide(zt) if len(zt) else None
    for z in zones:
        tot_uid = f"{z}/total"
        if zt_w is not None and tot_uid in zt_w.index:
            rest = zt_w.loc[tot_uid].to_numpy() - occ_w[keys[S.ZONE] == z].sum(axis=0).to_numpy()
            extra.append((f"{z}/other", "other_zone", z, "", np.maximum(rest, 0.0)))
    bottom_vals = [occ_w.to_numpy()] + [e[4][None, :] for e in extra]
    bottom_ids = np.r_[occ_w.index.to_numpy(dtype=object), np.array([e[0] for e in extra], dtype=object)]
    bottom_zone = np.r_[keys[S.ZONE].to_numpy(dtype=object), np.array([e[2] for e in extra], dtype=object)]
    bottom_rome = np.r_[keys[S.KEY].to_numpy(dtype=object), np.array([""] * len(extra), dtype=object)]
    if region is not None:
        rt = series[series[S.LEVEL] == "region_total"]
        rtot = wide(rt).iloc[0].to_numpy()
        ztot = np.vstack(bottom_vals).sum(axis=0) if len(bottom_ids) else np.zeros(len(months))
        rest = rtot - ztot
        if np.any(rest > 1e-9):
            extra.append((f"{region}/other_zones", "other_region", region, "", np.maximum(rest, 0.0)))
            bottom_vals.append(extra[-1][4][None, :])
            bottom_ids = np.r_[bottom_ids, [extra[-1][0]]]
            bottom_zone = np.r_[bottom_zone, [region]]
            bottom_rome = np.r_[bottom_rome, [""]]
    levels = {u: "rome_zone" for u in occ_w.index}
    levels.update({e[0]: e[1] for e in extra})
    nb = len(bottom_ids)
    groups: list[tuple[str, str, np.ndarray]] = []  # (uid, level, bottom indices)
    for z in zones:
        idx = np.flatnonzero(bottom_zone == z)
        if zt_w is not None and f"{z}/total" in zt_w.index:
            groups.append((f"{z}/total", "zone_total", idx))
    if region is not None:
        groups.append((f"{region}/total", "region_total", np.arange(nb)))
    if domains and len(occ_w):
        parents = referential.load_rome_parents().set_index("code_rome")
        dom = pd.Series(bottom_rome).map(parents["code_domaine"]).to_numpy(dtype=object)
        gdom = pd.Series(bottom_rome).map(parents["code_grand_domaine"]).to_numpy(dtype=object)
        scope = region or "all"
        for name, codes in (("grand_domain", gdom), ("domain", dom)):
            valid = pd.notna(codes)
            for code in sorted(set(codes[valid])):
                inc = valid & (codes == code)
                for z in zones:
                    idx = np.flatnonzero(inc & (bottom_zone == z))
                    if len(idx):
                        groups.append((f"{z}/{name}:{code}", f"{name}_zone", idx))
                if len(zones) > 1:  # with one zone the region-level node would repeat the zone's
                    groups.append((f"{scope}/{name}:{code}", f"{name}_region", np.flatnonzero(inc)))
    rows = np.concatenate([np.full(len(g[2]), i) for i, g in enumerate(groups)]) if groups else np.zeros(0, int)
    cols = np.concatenate([g[2] for g in groups]) if groups else np.zeros(0, int)
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(groups), nb))
    levels.update({g[0]: g[1] for g in groups})
    hier = Hierarchy(np.array([g[0] for g in groups], dtype=object), bottom_ids, A, levels)
    # history of the added nodes: remainders and domain aggregates (zone/region totals exist)
    Y_b = np.vstack(bottom_vals) if nb else np.zeros((0, len(months)))
    add = [(e[0], e[1], e[2], e[3], e[4]) for e in extra]
    Y_a = A @ Y_b
    for i, (u, lv, idx) in enumerate(groups):
        if "domain" in lv:
            zone, key = u.split("/", 1)
            add.append((u, lv, zone, key, Y_a[i]))
    frames = [pd.DataFrame({S.UID: u, S.DS: months, S.Y: v.astype(float), S.LEVEL: lv, S.ZONE: z, S.KEY: k})
              for u, lv, z, k, v in add]
    extra_series = (pd.concat(frames, ignore_index=True) if frames
                    else pd.DataFrame(columns=S.SERIES_COLUMNS))
    return hier, extra_series[S.SERIES_COLUMNS]


def _shrink_cov(E: np.ndarray) -> np.ndarray:
    """Schäfer-Strimmer shrinkage of the covariance of the rows of E (series x observations)."""
    n = E.shape[1]
    X = E - E.mean(axis=1, keepdims=True)
    cov = X @ X.T / max(n - 1, 1)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    Z = X / sd[:, None]
    corr = Z @ Z.T / max(n - 1, 1)
    W = np.einsum("it,jt->ijt", Z, Z) if E.shape[0] <= 200 else None
    if W is not None:
        var_r = n / max((n - 1) ** 3, 1) * np.sum((W - W.mean(axis=2, keepdims=True)) ** 2, axis=2)
        off = ~np.eye(len(sd), dtype=bool)
        lam = float(np.clip(var_r[off].sum() / max(np.sum(corr[off] ** 2), 1e-12), 0, 1))
    else:
        lam = 0.5
    shrunk = (1 - lam) * corr
    np.fill_diagonal(shrunk, 1.0)
    return shrunk * np.outer(sd, sd)


def reconcile_matrix(hier: Hierarchy, base: np.ndarray, method: str, errors: np.ndarray | None = None,
                     trusted: np.ndarray | None = None) -> np.ndarray:
    """Reconcile base forecasts (rows in ``hier.ids`` order, columns months or samples); returns
    coherent, non-negative forecasts of the same shape. ``errors``: backtest errors, rows as base.
    ``trusted``: boolean mask (rows as base) of nodes whose error variance is scaled by ``TRUST``, so
    that they keep their base forecast (to about ``TRUST`` relative) and the others absorb the
    incoherence; ignored by bottom-up.

    Non-negativity: a column whose reconciled bottoms go negative is solved again with those bottoms
    pinned at 0 (trusted at a base of 0), a few rounds, so that the other nodes (trusted ones
    included) absorb it; whatever is still negative is then set to 0 and the aggregates summed."""
    if method not in METHODS:
        raise ValueError(f"unknown reconciliation method {method!r} (known: {', '.join(METHODS)})")
    na, nb = hier.A.shape
    base = np.asarray(base, dtype=float)
    t = np.ones(na + nb) if trusted is None else np.where(np.asarray(trusted, bool), TRUST, 1.0)
    if method == "bottom_up" or na == 0:
        yb = base[na:]
    else:
        A = hier.A
        dense = method == "mint_shrink" and errors is not None and na + nb <= MINT_MAX
        if dense:
            cov = _shrink_cov(errors)
            Ct = sp.vstack([sp.identity(na), -A.T]).toarray()
        else:
            if method == "wls_struct":
                w0 = np.r_[np.asarray(A.sum(axis=1)).ravel(), np.ones(nb)]
            else:
                if errors is None:
                    raise ValueError(f"{method} needs backtest errors")
                w0 = np.maximum(np.nanvar(errors, axis=1), 1e-6)

        def solve(y: np.ndarray, tt: np.ndarray) -> np.ndarray:
            inc = y[:na] - A @ y[na:]  # C y
            if dense:
                d = np.sqrt(tt)
                W = cov * np.outer(d, d)
                low = tt < 1
                if low.any():  # a trusted node: its own tiny variance, no covariance with the others
                    W[np.ix_(low, ~low)] = 0.0
                    W[np.ix_(~low, low)] = 0.0
                WCt = W @ Ct
                return (y - WCt @ np.linalg.solve(Ct.T @ WCt, inc))[na:]
            w = w0 * tt
            wa, wb = sp.diags(w[:na]), sp.diags(w[na:])
            lam = splu((wa + A @ wb @ A.T).tocsc()).solve(inc)
            return y[na:] + wb @ (A.T @ lam)  # -W C' lam, with C' = [I; -A']

        yb = np.asarray(solve(base, t))
        if yb.ndim == 1:
            yb = yb[:, None]
        b2 = base.reshape(len(base), -1)
        for j in np.flatnonzero((yb < -1e-9).any(axis=0)):
            y, tt, col = b2[:, j].copy(), t.copy(), yb[:, j]
            for _ in range(5):
                neg = np.flatnonzero(col < -1e-9)
                if not len(neg):
                    break
                y[na + neg], tt[na + neg] = 0.0, TRUST
                col = np.asarray(solve(y, tt)).ravel()
            yb[:, j] = col
        yb = yb.reshape(base[na:].shape)
    yb = np.maximum(yb, 0.0)
    return np.vstack([hier.A @ yb, yb]) if yb.ndim == 2 else np.r_[hier.A @ yb, yb]


def _wide(frame: pd.DataFrame, ids: np.ndarray, col: str, keys: list[str]) -> pd.DataFrame:
    return frame.pivot_table(index=S.UID, columns=keys, values=col, aggfunc="first").reindex(ids)


def backtest_errors(cv: pd.DataFrame, hier: Hierarchy) -> np.ndarray:
    """Backtest errors y - mean, rows in ``hier.ids`` order, columns (cutoff, ds)."""
    e = cv.assign(_e=cv[S.Y] - cv[S.MEAN])
    return np.nan_to_num(_wide(e, hier.ids, "_e", [S.CUTOFF, S.DS]).to_numpy(float))


def _levels(hier: Hierarchy, uids: pd.Series) -> pd.Series:
    lv = uids.map(hier.levels)
    return lv.where(lv.notna() | ~uids.str.contains("/skill:", regex=False), SKILL_LEVEL)


def trusted_mask(hier: Hierarchy, levels: frozenset[str] | set[str] | None) -> np.ndarray | None:
    """Boolean mask over ``hier.ids`` of the nodes of the trusted ``levels`` (skill series follow their
    zone total, so trusting ``skill_zone`` trusts ``zone_total``)."""
    if not levels:
        return None
    lv = set(levels) | ({"zone_total"} if SKILL_LEVEL in levels else set())
    return np.array([hier.levels.get(u) in lv for u in hier.ids], dtype=bool)


@dataclass(frozen=True)
class MethodChoice:
    """What :func:`choose_method` chose: the method, the levels kept at their base forecasts, the
    table level x candidate of honest backtest RMSSE ("base" = unreconciled) and the label of the
    chosen column."""

    method: str
    trusted: frozenset[str]
    table: pd.DataFrame
    label: str


def _honest_scores(cv: pd.DataFrame, series: pd.DataFrame, hier: Hierarchy, method: str,
                   trusted: frozenset[str]) -> pd.DataFrame:
    """Mean RMSSE per level (rows) and backtest window (columns) of ``method`` applied to each window,
    with the error (co)variance estimated on the *other* windows only (all of them when there is a
    single window)."""
    E_all = _wide(cv.assign(_e=cv[S.Y] - cv[S.MEAN]), hier.ids, "_e", [S.CUTOFF, S.DS])
    cuts = E_all.columns.get_level_values(0)
    mask = trusted_mask(hier, trusted)
    cols = {}
    for cut, g in cv.groupby(S.CUTOFF):
        other = cuts != cut
        E = np.nan_to_num(E_all.loc[:, other if other.any() else slice(None)].to_numpy(float))
        rec = reconcile_forecasts(g[[*S.FORECAST_COLUMNS]], hier, method, E, trusted=mask)
        rec = rec.merge(g[[S.UID, S.DS, S.CUTOFF, S.Y]], on=[S.UID, S.DS]).assign(**{S.MODEL: method})
        cols[cut] = _level_table(rec, series, hier)
    return pd.DataFrame(cols)


def _level_table(cv: pd.DataFrame, series: pd.DataFrame, hier: Hierarchy) -> pd.Series:
    from forecast.metrics import evaluate

    met = evaluate(cv[S.CV_COLUMNS], series)
    met = met[met[S.METRIC] == "rmsse"]
    met = met.assign(level=_levels(hier, met[S.UID]).to_numpy())
    v = met[np.isfinite(met[S.VALUE])]
    return v.groupby("level")[S.VALUE].mean()


def choose_method(cv: pd.DataFrame, series: pd.DataFrame, hier: Hierarchy,
                  methods: tuple[str, ...] = METHODS, max_rounds: int = 4) -> MethodChoice:
    """Choose the reconciliation by backtest, honestly and level by level.

    ``cv``: the selected forecasts' backtest (one model per series) of every node of ``hier``, plus
    any skill series (they follow their zone total). Every method is applied to each window with its
    error (co)variance estimated on the other windows (never on the window it is scored on), and
    scored by mean RMSSE per level against the unreconciled ("base") forecasts. For each method but
    bottom-up, a *trusted* variant keeps at their base forecasts the levels that the method does not
    improve (growing the set for a few rounds while more levels stop improving; never every level),
    the other nodes absorbing the incoherence: a level is changed only where changing it helped. The
    choice: among the candidates no worse than base at any level, the lowest mean over levels; if none,
    the one whose worst level ratio to base is smallest."""
    S.require_columns(cv, S.CV_COLUMNS, "cross-validation frame")
    base = pd.DataFrame({cut: _level_table(g.assign(**{S.MODEL: "base"}), series, hier)
                         for cut, g in cv.groupby(S.CUTOFF)}).mean(axis=1)
    cols: dict[str, pd.Series] = {"base": base}
    spec: dict[str, tuple[str, frozenset[str]]] = {}
    levels = frozenset(base.index)
    for method in methods:
        sc = _honest_scores(cv, series, hier, method, frozenset()).mean(axis=1)
        cols[method], spec[method] = sc, (method, frozenset())
        if method == "bottom_up":
            continue
        trusted: frozenset[str] = frozenset()
        for _ in range(max_rounds):
            b = base.reindex(sc.index)
            idle = frozenset(sc.index[(sc >= b * (1 - TOL) - TOL).to_numpy()])  # not improved
            if idle <= trusted or (trusted | idle) >= levels:
                break
            trusted = trusted | idle
            sc = _honest_scores(cv, series, hier, method, trusted).mean(axis=1)
        if trusted:
            cols[f"{method}_trusted"], spec[f"{method}_trusted"] = sc, (method, trusted)
    table = pd.DataFrame(cols)
    table.index.name = "level"
    no_worse = {c: bool((table[c] <= table["base"] * (1 + TOL) + TOL).all()) for c in spec}
    ok = [c for c in spec if no_worse[c]]
    if ok:
        label = str(table[ok].mean(axis=0).idxmin())
    else:
        label = str(table[list(spec)].div(table["base"] + TOL, axis=0).max(axis=0).idxmin())
    method, trusted = spec[label]
    log.info("reconciliation chosen by backtest: %s (trusted levels %s; mean RMSSE over levels %s)", label,
             sorted(trusted), table.mean(axis=0).round(4).to_dict())
    return MethodChoice(method, trusted, table, label)


def reconcile_forecasts(forecasts: pd.DataFrame, hier: Hierarchy, method: str,
                        errors: np.ndarray | None = None, trusted: np.ndarray | None = None) -> pd.DataFrame:
    """Reconciled copy of a forecasts frame holding every node of ``hier`` (other series, e.g.
    skills, pass through, scaled with their zone total: see the module docstring)."""
    ids = hier.ids
    inside = forecasts[forecasts[S.UID].isin(set(ids))]
    mean = _wide(inside, ids, S.MEAN, [S.DS])
    if mean.isna().to_numpy().any():
        missing = mean.index[mean.isna().any(axis=1)][:5].tolist()
        raise ValueError(f"reconcile: no forecast for node(s) {missing}")
    rec = pd.DataFrame(reconcile_matrix(hier, mean.to_numpy(float), method, errors, trusted), index=ids,
                       columns=mean.columns)
    ratio = (rec / mean.where(mean > 0)).stack().rename("_r").reset_index()
    ratio.columns = [S.UID, S.DS, "_r"]
    recl = rec.stack().rename("_m").reset_index()
    recl.columns = [S.UID, S.DS, "_m"]
    out = forecasts.merge(ratio, on=[S.UID, S.DS], how="left").merge(recl, on=[S.UID, S.DS], how="left")
    # skills: follow their zone total
    lv = out[S.UID].str.contains("/skill:", regex=False)
    if lv.any():
        zone_uid = out.loc[lv, S.UID].str.split("/").str[0] + "/total"
        zr = ratio.set_index([S.UID, S.DS])["_r"]
        zm = recl.set_index([S.UID, S.DS])["_m"]
        key = pd.MultiIndex.from_arrays([zone_uid.to_numpy(), out.loc[lv, S.DS].to_numpy()])
        r = zr.reindex(key).to_numpy(float)
        out.loc[lv, "_r"] = np.where(np.isfinite(r), r, 1.0)
        cap = zm.reindex(key).to_numpy(float)
        out.loc[lv, "_m"] = np.fmin(out.loc[lv, S.MEAN].to_numpy(float) * out.loc[lv, "_r"].to_numpy(float), cap)
    has = out["_m"].notna()
    r = out["_r"].to_numpy(float)
    base = out[S.MEAN].to_numpy(float)
    new = out["_m"].to_numpy(float)
    q = out[S.QUANTILE_COLUMNS].to_numpy(float)
    scaled = np.where(np.isfinite(r)[:, None], q * np.nan_to_num(r)[:, None], q + (new - base)[:, None])
    q = np.where(has.to_numpy()[:, None], np.maximum(scaled, 0.0), q)
    out[S.QUANTILE_COLUMNS] = np.sort(q, axis=1)
    out.loc[has, S.MEAN] = out.loc[has, "_m"]
    return out.drop(columns=["_r", "_m"])


def coherence_error(forecasts: pd.DataFrame, hier: Hierarchy) -> float:
    """Largest |aggregate - sum of its bottoms| over nodes and months."""
    mean = _wide(forecasts, hier.ids, S.MEAN, [S.DS]).to_numpy(float)
    na = len(hier.agg_ids)
    return float(np.max(np.abs(mean[:na] - hier.A @ mean[na:]))) if na else 0.0
