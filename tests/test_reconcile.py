"""Grouped hierarchy, reconciliation methods, non-negativity, coherence, skills."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.reconcile import (METHODS, build_hierarchy, choose_method, coherence_error, reconcile_forecasts,
                                reconcile_matrix, trusted_mask)

MONTHS = pd.date_range("2020-01-01", periods=36, freq="MS")
ROMES = ["A1101", "A1201", "A1202", "M1607"]  # A11, A12, A12 (grand domain A), M16


def toy_series(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    totals = {}
    for z in ("4413", "4414"):
        tot = np.zeros(len(MONTHS))
        for r in ROMES:
            y = rng.poisson(8, len(MONTHS)).astype(float)
            tot += y
            rows.append(pd.DataFrame({S.UID: f"{z}/{r}", S.DS: MONTHS, S.Y: y, S.LEVEL: "rome_zone", S.ZONE: z, S.KEY: r}))
        tot += rng.poisson(3, len(MONTHS))  # small occupations that are not modelled
        totals[z] = tot
        rows.append(pd.DataFrame({S.UID: f"{z}/total", S.DS: MONTHS, S.Y: tot, S.LEVEL: "zone_total", S.ZONE: z, S.KEY: ""}))
        rows.append(pd.DataFrame({S.UID: f"{z}/skill:100", S.DS: MONTHS, S.Y: tot * 0.4, S.LEVEL: "skill_zone",
                                  S.ZONE: z, S.KEY: "100"}))
    reg = totals["4413"] + totals["4414"] + 50  # other zones of the region
    rows.append(pd.DataFrame({S.UID: "R44/total", S.DS: MONTHS, S.Y: reg, S.LEVEL: "region_total", S.ZONE: "R44", S.KEY: ""}))
    return pd.concat(rows, ignore_index=True)


def test_hierarchy_structure_and_history_is_coherent() -> None:
    series = toy_series()
    hier, extra = build_hierarchy(series)
    assert set(hier.bottom_ids) == {f"{z}/{r}" for z in ("4413", "4414") for r in ROMES} | {
        "4413/other", "4414/other", "R44/other_zones"}
    assert {"4413/total", "R44/total", "4413/domain:A12", "4413/grand_domain:A", "R44/domain:A12",
            "R44/grand_domain:M"} <= set(hier.agg_ids)
    assert hier.levels["4413/domain:A12"] == "domain_zone" and hier.levels["R44/grand_domain:A"] == "grand_domain_region"
    # every aggregate's history equals the sum of its bottoms' history (exact for the given totals)
    full = pd.concat([series, extra], ignore_index=True)
    wide = full.pivot_table(index=S.UID, columns=S.DS, values=S.Y).reindex(hier.ids).to_numpy()
    na = len(hier.agg_ids)
    np.testing.assert_allclose(wide[:na], hier.A @ wide[na:], atol=1e-9)
    assert extra.loc[extra[S.UID] == "R44/other_zones", S.Y].eq(50).all()
    assert hier.summing_matrix().shape == (len(hier.ids), len(hier.bottom_ids))


@pytest.mark.parametrize("method", METHODS)
def test_methods_are_coherent_and_non_negative(method: str) -> None:
    hier, _ = build_hierarchy(toy_series())
    rng = np.random.default_rng(1)
    base = rng.normal(5, 4, (len(hier.ids), 6))  # incoherent, some negative
    errors = rng.normal(0, 1, (len(hier.ids), 40))
    rec = reconcile_matrix(hier, base, method, errors)
    na = len(hier.agg_ids)
    assert rec.shape == base.shape
    np.testing.assert_allclose(rec[:na], hier.A @ rec[na:], atol=1e-9)
    assert rec.min() >= 0


@pytest.mark.parametrize("method", ["wls_struct", "wls_var", "mint_shrink"])
def test_coherent_input_is_unchanged(method: str) -> None:
    hier, _ = build_hierarchy(toy_series())
    rng = np.random.default_rng(2)
    bottom = rng.uniform(1, 10, (len(hier.bottom_ids), 4))
    coherent = np.vstack([hier.A @ bottom, bottom])
    errors = rng.normal(0, 1, (len(hier.ids), 40))
    np.testing.assert_allclose(reconcile_matrix(hier, coherent, method, errors), coherent, atol=1e-8)


def test_wls_struct_matches_dense_formula() -> None:
    hier, _ = build_hierarchy(toy_series(), domains=False)
    Smat = hier.summing_matrix().toarray()
    base = np.random.default_rng(3).uniform(20, 40, (len(hier.ids), 3))
    Winv = np.diag(1 / Smat.sum(axis=1))
    P = np.linalg.solve(Smat.T @ Winv @ Smat, Smat.T @ Winv)
    np.testing.assert_allclose(reconcile_matrix(hier, base, "wls_struct"), Smat @ P @ base, rtol=1e-9)


def _forecasts(series: pd.DataFrame, hier, factor: float) -> pd.DataFrame:
    ds = pd.date_range(MONTHS[-1] + pd.offsets.MonthBegin(), periods=3, freq="MS")
    hist = series.groupby(S.UID)[S.Y].mean()
    rows = []
    for u, m in hist.items():
        mu = m * (factor if u.endswith("/total") else 1.0)
        q = np.array([0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5]) * mu
        for d in ds:
            rows.append({S.UID: u, S.DS: d, S.MODEL: "selected", S.MEAN: mu, **dict(zip(S.QUANTILE_COLUMNS, q))})
    return pd.DataFrame(rows)


def test_reconcile_forecasts_frame_and_skills_follow_zone() -> None:
    series = toy_series()
    hier, extra = build_hierarchy(series)
    full = pd.concat([series, extra], ignore_index=True)
    fc = _forecasts(full, hier, factor=1.3)  # totals forecast 30 % too high: incoherent
    assert coherence_error(fc, hier) > 1
    rec = reconcile_forecasts(fc, hier, "wls_struct")
    assert coherence_error(rec, hier) < 1e-6
    assert (rec[S.QUANTILE_COLUMNS].to_numpy() >= 0).all()
    assert np.all(np.diff(rec[S.QUANTILE_COLUMNS].to_numpy(), axis=1) >= 0)
    tot = rec.set_index([S.UID, S.DS])[S.MEAN]
    base = fc.set_index([S.UID, S.DS])[S.MEAN]
    key = ("4413/skill:100", rec[S.DS].iloc[0])
    zkey = ("4413/total", key[1])
    assert tot[key] == pytest.approx(base[key] * tot[zkey] / base[zkey])
    assert tot[key] <= tot[zkey]


def test_choose_method_on_backtest() -> None:
    series = toy_series()
    hier, extra = build_hierarchy(series)
    full = pd.concat([series, extra], ignore_index=True)
    full = full[full[S.UID].isin(set(hier.ids))]
    rng = np.random.default_rng(4)
    cut = MONTHS[23]
    later = full[full[S.DS] > cut].copy()
    later[S.MEAN] = later[S.Y] * rng.uniform(0.7, 1.3, len(later))
    for c in S.QUANTILE_COLUMNS:
        later[c] = later[S.MEAN]
    later[S.MODEL] = "selected"
    later[S.CUTOFF] = cut
    choice = choose_method(later[S.CV_COLUMNS], full, hier)
    method, table = choice.method, choice.table
    assert method in METHODS
    assert {"rome_zone", "zone_total", "region_total", "domain_zone"} <= set(table.index)
    assert "base" in table.columns


@pytest.mark.parametrize("method", ["wls_struct", "wls_var", "mint_shrink"])
def test_trusted_levels_keep_their_base_forecasts(method: str) -> None:
    hier, _ = build_hierarchy(toy_series())
    rng = np.random.default_rng(5)
    base = rng.uniform(20, 40, (len(hier.ids), 3))
    na = len(hier.agg_ids)
    base[:na] = hier.A @ base[na:] * 1.2  # aggregates 20 % above the sum of their bottoms
    errors = rng.normal(0, 1, (len(hier.ids), 40))
    trusted = trusted_mask(hier, {"zone_total", "region_total"})
    assert trusted.sum() == 3  # 4413/total, 4414/total, R44/total
    rec = reconcile_matrix(hier, base, method, errors, trusted)
    np.testing.assert_allclose(rec[:na], hier.A @ rec[na:], atol=1e-9)  # still exactly coherent
    np.testing.assert_allclose(rec[trusted], base[trusted], rtol=1e-6)  # trusted nodes kept
    free = reconcile_matrix(hier, base, method, errors)
    assert np.abs(free[trusted] - base[trusted]).max() > 1  # without trust they move
    # skill series follow their zone total: trusting them trusts the zone totals
    assert trusted_mask(hier, {"skill_zone"}).sum() == 2


def _backtest(full: pd.DataFrame, hier, cuts: list[int], seed: int) -> pd.DataFrame:
    """Backtest-like frame: bottoms noisy around the truth, the zone and region totals exact."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in cuts:
        cut = MONTHS[k]
        w = full[(full[S.DS] > cut) & (full[S.DS] <= MONTHS[k + 6])].copy()
        exact = w[S.UID].map(hier.levels).isin(["zone_total", "region_total"]).to_numpy()
        w[S.MEAN] = np.where(exact, w[S.Y], w[S.Y] * rng.uniform(0.5, 1.5, len(w)))
        for c in S.QUANTILE_COLUMNS:
            w[c] = w[S.MEAN]
        w[S.MODEL], w[S.CUTOFF] = "selected", cut
        parts.append(w)
    return pd.concat(parts, ignore_index=True)[S.CV_COLUMNS]


def test_choose_method_keeps_exact_totals_and_is_no_worse_at_any_level() -> None:
    series = toy_series()
    hier, extra = build_hierarchy(series)
    full = pd.concat([series, extra], ignore_index=True)
    full = full[full[S.UID].isin(set(hier.ids))]
    cv = _backtest(full, hier, [11, 17, 23, 29], seed=6)
    choice = choose_method(cv, full, hier)
    t = choice.table
    # the totals are perfect in the backtest: structural WLS spoils them, its trusted variant keeps them
    assert t.loc["zone_total", "wls_struct"] > 0.1 and t.loc["region_total", "wls_struct"] > 0.1
    assert t.loc["zone_total", "wls_struct_trusted"] == pytest.approx(0, abs=1e-6)
    assert t.loc["rome_zone", "wls_struct_trusted"] < t.loc["rome_zone", "base"]
    # the choice is no worse than the base forecasts at any level, and better on average
    assert choice.label in t.columns and choice.method in METHODS
    assert (t[choice.label] <= t["base"] * (1 + 1e-6) + 1e-6).all()
    assert t[choice.label].mean() < t["base"].mean() - 0.1
    # bottom-up cannot keep the totals: never chosen here
    assert choice.method != "bottom_up"
