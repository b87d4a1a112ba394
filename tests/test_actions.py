import pandas as pd
import pytest

from forecast import referential
from forecast import schema as S
from forecast.actions import ACTION_COLUMNS, Costs, candidate_actions, session_profile, zone_neighbours
from forecast.errors import DataError
from forecast.gap import horizon_gap
from test_gap_fixtures import scenario


@pytest.fixture(scope="module")
def cands():
    fc, ses, sup, paths, rates = scenario()
    table = horizon_gap(paths, None, sup, ses, (12, 24))
    return candidate_actions(table, ses, paths.ds, rates, Costs(), 24), table, paths


def test_neighbours_share_a_departement():
    nb = zone_neighbours()
    assert "4406" in nb["4413"] and "4413" in nb["4406"]          # Reims and Épernay: Marne (51)
    com = referential.load_communes()
    deps = com.groupby("zone")["dep"].agg(set)
    assert all(deps["4413"] & deps[z] for z in nb["4413"])
    assert "4423" not in nb["4413"]                                # Strasbourg


def test_session_profile_uses_past_durations_and_sizes():
    _, ses, _, _, _ = scenario()
    p = session_profile(ses).set_index([S.ZONE, S.ROME])
    assert p.loc[("4413", "J1501"), "duration"] == 10 and p.loc[("4413", "J1501"), "size"] == 12
    assert p.loc[("4413", "J1501"), "start_months"] == (9,)
    assert ("*", "J1301") in p.index


def test_every_lever_is_proposed_with_its_fields(cands):
    c, table, paths = cands
    assert list(c.columns) == ACTION_COLUMNS
    assert set(c["type"]) == {"formation", "reconversion", "mobilite", "employeur"}
    assert (c[S.ZONE] == "4413").all() and (c[S.ROME] == "J1501").all()       # the only shortage
    assert c["rationale"].str.len().gt(40).all() and c["action_id"].is_unique
    assert (c["unit_cost"] > 0).all() and (c["max_units"] >= 1).all()


def test_training_arrives_before_the_end_of_the_horizon(cands):
    c, _, paths = cands
    f = c[c["type"] == "formation"]
    assert len(f) == 2                         # earliest start (lead 2 months) and the usual September start
    assert set(f["start"]) == {"2025-03", "2025-09"}
    assert ((f["arrival"] < 24) & (f["arrival"] == [(pd.Period(s, "M") - pd.Period("2025-01", "M")).n + 10 + 1
                                                      for s in f["start"]])).all()
    assert list(f["people_per_unit"]) == pytest.approx([12 * 0.8 * 0.7] * 2)
    assert (f["unit_cost"] == 12 * 9000).all()
    assert "Pénurie probable" in f["rationale"].iloc[0]


def test_reconversion_and_mobility_take_from_surpluses(cands):
    c, table, _ = cands
    r = c[c["type"] == "reconversion"].iloc[0]
    assert (r["source_zone"], r["source_rome"]) == ("4413", "J1301") and r["taken_per_unit"] == 1
    assert 1 <= r["duration_months"] <= 10 and "Reconversion" in r["rationale"]
    m = c[c["type"] == "mobilite"].iloc[0]
    assert (m["source_zone"], m["source_rome"]) == ("4406", "J1501")
    surplus = table[(table[S.UID] == "4406/J1501") & (table["horizon"] == 24)]["surplus_mean"].iloc[0]
    assert m["max_units"] == int(surplus)


def test_employer_measures_only_where_training_is_late(cands):
    c, table, _ = cands
    e = c[c["type"] == "employeur"]
    assert len(e) == 1 and e["arrival"].iloc[0] == 1
    first_training = c.loc[c["type"] == "formation", "arrival"].min()
    unmet = table[(table[S.UID] == "4413/J1501") & (table["horizon"] == 24)]["unmet_mean"].iloc[0]
    assert e["max_units"].iloc[0] == int(0.5 * unmet * first_training / 24)


def test_seats_unit_and_bad_costs():
    assert Costs(unit="seats").seat("J1501") == 1.0 and Costs(by_domain={"J": 12000}).seat("J1501") == 12000
    assert Costs(by_domain={"J": 12000, "J15": 15000}).seat("J1501") == 15000
    with pytest.raises(DataError, match="unit"):
        Costs(unit="dollars")
    with pytest.raises(DataError, match="cost_per_seat"):
        Costs(cost_per_seat=-1)


def test_training_lists_the_skills_most_in_demand_first():
    fc, ses, sup, paths, rates = scenario()
    table = horizon_gap(paths, None, sup, ses, (12, 24))
    from forecast.actions import _rome_skills

    own = sorted(_rome_skills()["J1501"])
    last = own[-1]                                     # would come last by code
    skills = pd.DataFrame({S.ZONE: "4413", S.SKILL: [last, "999999"], "horizon": 24, "unmet_mean": [50.0, 90.0]})
    c = candidate_actions(table, ses, paths.ds, rates, Costs(), 24, skills)
    label = referential.load_skills().drop_duplicates("code_ogr").set_index("code_ogr")["libelle"][last]
    assert c.loc[c["type"] == "formation", "skills"].str.startswith(label).all()
