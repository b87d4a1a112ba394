import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.errors import DataError
from forecast.supply import (P_RECURRENCE, SupplyRates, job_seeker_supply, project_sessions, project_supply,
                             read_job_seekers)
from test_gap_fixtures import job_seekers, sessions


def test_rates_per_domain_and_grand_domain():
    r = SupplyRates(0.8, 0.7, 1, 0.05, {"J": {"insertion_rate": 0.9}, "J15": {"completion_rate": 0.5, "delay_months": 2}})
    assert r.get("J1501", "completion_rate") == 0.5 and r.get("J1501", "insertion_rate") == 0.9
    assert r.get("J1301", "completion_rate") == 0.8 and r.get("J1301", "insertion_rate") == 0.9
    assert r.get("A1101", "insertion_rate") == 0.7 and r.get("J1501", "delay_months") == 2


@pytest.mark.parametrize("kw", [{"completion_rate": 1.2}, {"insertion_rate": -0.1}, {"outflow_rate": 2},
                                {"by_domain": {"J": {"insertion_rate": 1.5}}}])
def test_rates_outside_unit_interval_are_errors(kw):
    with pytest.raises(DataError, match=r"must be in \[0, 1\]"):
        SupplyRates(**kw)


def test_training_supply_uses_completion_insertion_delay():
    rates = SupplyRates(0.5, 0.5, 2, 0.05, {"J13": {"insertion_rate": 1.0}})
    sup = project_supply(sessions(), ["4413"], "2019-01", "2024-12", 24, rates=rates)
    j15 = sup[(sup[S.ROME] == "J1501") & (sup[S.STATUS] == "scheduled")]
    # sessions end in July -> available in September (delay 2); 12 places x 0.5 x 0.5
    assert set(j15[S.DS].dt.month) == {9} and np.allclose(j15[S.SUPPLY], 3.0)
    j13 = sup[(sup[S.ROME] == "J1301") & (sup[S.STATUS] == "scheduled")]
    assert np.allclose(j13[S.SUPPLY], 40 * 0.5 * 1.0)
    assert (sup[S.COMPONENT] == "training").all()


def test_projected_sessions_carry_their_recurrence_probability():
    ses = sessions()
    ses = ses[~((ses[S.PROGRAMME] == "P1") & (ses[S.START].dt.year == 2022))]    # P1 ran 3 of 4 years
    proj = project_sessions(ses, pd.Timestamp("2024-12-01"), pd.Timestamp("2027-12-01"))
    p1 = proj[(proj[S.PROGRAMME] == "P1") & (proj["status"] == "projected")]
    assert len(p1) >= 2 and np.allclose(p1[P_RECURRENCE], 0.75)
    assert (proj.loc[proj["status"] == "scheduled", P_RECURRENCE] == 1).all()
    sup = project_supply(ses, ["4413"], "2019-01", "2024-12", 24, rates=SupplyRates(1.0, 1.0, 1))
    row = sup[(sup[S.ROME] == "J1501") & (sup[S.STATUS] == "projected")].iloc[0]
    assert row[S.SUPPLY] == pytest.approx(12 * 0.75)          # expected people = places x p


def test_job_seekers_outflow_each_month(tmp_path):
    p = tmp_path / "js.csv"
    p.write_text("mois;zone;rome;demandeurs\n2024-11;4413;J1501;100\n2024-12;4413;J1501;40\n2024-12;4406;J1501;300\n",
                 encoding="utf-8")
    js = read_job_seekers(p)
    months = pd.date_range("2025-01-01", periods=3, freq="MS")
    sup = job_seeker_supply(js, ["4413"], months, SupplyRates(outflow_rate=0.1))
    assert list(sup[S.SUPPLY]) == pytest.approx([4.0, 4.0, 4.0])             # last stock x outflow
    assert set(sup[S.COMPONENT]) == {"job_seekers"}
    full = project_supply(sessions(), ["4413", "4406"], "2019-01", "2024-12", 12, rates=SupplyRates(),
                          job_seekers=job_seekers())
    assert set(full[S.COMPONENT]) == {"training", "job_seekers"}
    e = full[(full[S.ZONE] == "4406") & (full[S.COMPONENT] == "job_seekers")]
    assert len(e) == 12 and np.allclose(e[S.SUPPLY], 300 * 0.05)


def test_job_seekers_file_errors(tmp_path):
    p = tmp_path / "js.csv"
    p.write_text("mois;zone;rome\n2024-11;4413;J1501\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        read_job_seekers(p)
    p.write_text("mois;zone;rome;demandeurs\n2024-11;4413;J1501;-3\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2: field demandeurs"):
        read_job_seekers(p)
    with pytest.raises(DataError, match="not found"):
        read_job_seekers(tmp_path / "none.csv")
