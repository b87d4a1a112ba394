import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.gap import demand_supply, domain_shortage, horizon_gap, ranked, skill_gap, unmet
from test_gap_fixtures import scenario


def _pool(demand, supply):
    """Brute force: a stock of people, hires = min(demand, stock), unmet demand lost."""
    stock, lost = 0.0, 0.0
    for d, s in zip(demand, supply):
        stock += s
        hire = min(d, stock)
        stock -= hire
        lost += d - hire
    return lost


def test_unmet_closed_form_equals_the_pool_simulation():
    rng = np.random.default_rng(0)
    d = rng.gamma(2.0, 3.0, size=(50, 24))
    s = rng.gamma(2.0, 3.0, size=(50, 24)) * rng.random((50, 1)) * 2
    got = unmet(d, s)
    assert np.allclose(got, [_pool(a, b) for a, b in zip(d, s)])


def test_horizon_totals_and_p_shortage_come_from_the_paths():
    fc, ses, sup, paths, _ = scenario()
    t = horizon_gap(paths, None, sup, ses, (12, 24))
    row = t[(t[S.UID] == "4413/J1501") & (t["horizon"] == 12)].iloc[0]
    i = list(paths.unique_ids).index("4413/J1501")
    tot = paths.values[i, :, :12].sum(axis=1)
    assert row["demand_mean"] == pytest.approx(tot.mean())
    assert row["demand_q0.975"] == pytest.approx(np.quantile(tot, 0.975))
    summed_q = fc[fc[S.UID] == "4413/J1501"].head(12)["q0.975"].sum()
    assert row["demand_q0.975"] < summed_q                       # not the sum of monthly quantiles
    keys, dem, supd = demand_supply(paths, None, sup)
    k = list(keys[S.UID]).index("4413/J1501")
    assert row["p_shortage"] == pytest.approx((dem[k, :, :12].sum(1) > supd[k, :, :12].sum(1)).mean())
    assert row["unmet_mean"] == pytest.approx(unmet(dem[k, :, :12], supd[k, :, :12]).mean())
    assert row["tension"] == pytest.approx(row["demand_mean"] / row["supply_mean"])
    assert row["gap_mean"] == pytest.approx(row["demand_mean"] - row["supply_mean"])


def test_shortages_surpluses_ranked_and_region_rows():
    fc, ses, sup, paths, _ = scenario()
    t = horizon_gap(paths, None, sup, ses, (12, 24))
    s = t.set_index([S.UID, "horizon"])
    assert s.loc[("4413/J1501", 12), "situation"] == "shortage" and s.loc[("4413/J1501", 12), "rank_shortage"] == 1
    assert s.loc[("4413/J1301", 24), "situation"] == "surplus"
    assert s.loc[("4406/J1501", 24), "situation"] == "surplus" and not s.loc[("4406/J1501", 24), "covered"]
    region = s.loc[("R44/J1501", 24)]
    assert region["demand_mean"] == pytest.approx(s.loc[("4413/J1501", 24), "demand_mean"] + s.loc[("4406/J1501", 24), "demand_mean"])
    top = ranked(t, 12, "shortage")
    assert list(top[S.UID]) == ["4413/J1501"]
    assert set(ranked(t, 24, "surplus")[S.UID]) == {"4413/J1301", "4406/J1501"}


def test_supply_draws_depend_only_on_uncertain_sessions():
    fc, ses, sup, paths, _ = scenario()
    _, _, a = demand_supply(paths, None, sup, seed=5)
    extra = pd.DataFrame({S.ZONE: ["4413"], S.ROME: ["J1501"], S.DS: [paths.ds[3]], S.SUPPLY: [7.0],
                          S.COMPONENT: ["action:formation"], S.STATUS: ["planned"], "p_recurrence": [1.0]})
    keys, _, b = demand_supply(paths, None, pd.concat([sup, extra], ignore_index=True), seed=5)
    k = list(keys[S.UID]).index("4413/J1501")
    diff = b - a
    assert np.allclose(diff[k, :, 3], 7.0) and np.isclose(np.abs(diff).sum(), 7.0 * paths.n_samples)


def test_projected_sessions_make_supply_uncertain():
    fc, ses, sup, paths, _ = scenario()
    sup = sup.copy()
    sup.loc[sup[S.STATUS] == "projected", "p_recurrence"] = 0.5
    sup.loc[sup[S.STATUS] == "projected", S.SUPPLY] *= 0.5
    t = horizon_gap(paths, None, sup, ses, (24,))
    r = t[t[S.UID] == "4413/J1301"].iloc[0]
    assert r["supply_q0.025"] < r["supply_mean"] < r["supply_q0.975"]


def test_skill_gap_counts_the_skills_people_bring():
    fc, ses, sup, _, _ = scenario()
    from forecast.paths import paths_from_quantiles
    from test_gap_fixtures import forecasts

    skill_fc = forecasts({"4413/skill:100470": 5.0, "4413/skill:999999": 5.0})  # 100470: a J1501 fiche skill
    paths = paths_from_quantiles(skill_fc, n_samples=200)
    g = skill_gap(paths, None, sup, (12,))
    s = g.set_index(S.SKILL)
    from forecast import referential

    fiches = referential.load_fiches()
    j15 = set(fiches.loc[fiches["code_rome_parent"] == "J1501", "code_rome"])
    fs = referential.load_fiche_skills()
    has = "100470" in set(fs.loc[fs["code_rome"].isin(j15), "code_ogr"])
    assert has and s.loc["100470", "supply_mean"] > 0
    assert s.loc["999999", "supply_mean"] == 0


def test_domain_heatmap_table():
    fc, ses, sup, paths, _ = scenario()
    keys, d, s = demand_supply(paths, None, sup)
    h = domain_shortage(keys, d, s, 12)
    assert set(h["domain"]) == {"J"} and set(h[S.ZONE]) == {"4413", "4406"}
    assert h.set_index(S.ZONE).loc["4406", "p_shortage"] == 0.0
    assert h.set_index(S.ZONE).loc["4406", "zone_label"].startswith("4406 ")
