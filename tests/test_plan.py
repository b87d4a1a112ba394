import itertools

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast import schema as S
from forecast.actions import Costs, candidate_actions
from forecast.errors import DataError
from forecast.gap import compute_gap, horizon_gap
from forecast.io import write_table
from forecast.plan import (apply_actions, budget_curve, build_problem, gap_plan_stage, make_plan, solve,
                           unmet_paths)
from test_gap_fixtures import scenario


@pytest.fixture(scope="module")
def setup():
    fc, ses, sup, paths, rates = scenario(n_samples=200)
    table = horizon_gap(paths, None, sup, ses, (12, 24))
    cands = candidate_actions(table, ses, paths.ds, rates, Costs(), 24)
    return fc, ses, sup, paths, cands, build_problem(paths, None, sup, cands, 24)


def _zone_unmet(paths, sup, ses, horizon=24):
    t = horizon_gap(paths, None, sup, ses, (horizon,))
    return t[t[S.ZONE].str.fullmatch(r"\d{4}")]["unmet_mean"].sum()


@pytest.mark.parametrize("budget", [0, 40_000, 123_456, 500_000])
def test_plan_never_exceeds_its_budget(setup, budget):
    *_, problem = setup
    res = make_plan(problem, budget)
    assert res.cost <= budget + 1e-6 and res.plan["cost"].sum() <= budget + 1e-6
    assert (res.plan["quantity"] <= res.plan["max_units"]).all() and (res.plan["quantity"] >= 1).all()


def test_doubling_the_budget_never_increases_unmet_demand(setup):
    *_, problem = setup
    budgets = [0, 25_000, 50_000, 100_000, 200_000, 400_000, 800_000]
    curve, plans = budget_curve(problem, budgets)
    assert list(curve["budget"]) == budgets
    assert (np.diff(curve["unmet_demand"]) <= 1e-9).all()
    assert curve["unmet_avoided"].iloc[0] == 0 and curve["unmet_avoided"].iloc[-1] > 100
    assert (curve["cost"] <= curve["budget"] + 1e-6).all()


def test_each_claimed_reduction_is_checked_by_rerunning_the_gap(setup):
    fc, ses, sup, paths, cands, problem = setup
    res = make_plan(problem, 800_000)
    assert len(res.plan) >= 3
    with_plan = _zone_unmet(paths, apply_actions(sup, res.plan, paths.ds), ses)
    assert with_plan == pytest.approx(res.unmet_after, rel=1e-9)
    assert _zone_unmet(paths, sup, ses) == pytest.approx(res.unmet_before, rel=1e-9)
    for i, row in res.plan.iterrows():
        without = _zone_unmet(paths, apply_actions(sup, res.plan.drop(index=i), paths.ds), ses)
        assert without - with_plan == pytest.approx(row["expected_reduction"], rel=1e-6, abs=1e-6)
        assert row["reduction_q0.025"] <= row["reduction_q0.975"] and row["expected_reduction"] <= row["reduction_q0.975"] + 1e-9


def test_the_solver_finds_the_optimum_of_a_small_problem(setup):
    fc, ses, sup, paths, cands, _ = setup
    small = cands[cands["type"].isin(["formation", "employeur"])].copy()
    small["max_units"] = np.minimum(small["max_units"], 3)
    small["unit_cost"] = [100.0, 80.0, 30.0][: len(small)]
    problem = build_problem(paths, None, sup, small.reset_index(drop=True), 24)
    units, info = solve(problem, 250, n_opt=paths.n_samples)
    assert "Optimal" in info["status"]
    best = min((unmet_paths(problem, np.array(u, float)).mean(), u)
               for u in itertools.product(*(range(int(m) + 1) for m in problem.max_units))
               if np.dot(u, problem.cost) <= 250)
    assert unmet_paths(problem, units).mean() == pytest.approx(best[0], rel=1e-6)


def test_negative_budget_is_an_error(setup):
    *_, problem = setup
    with pytest.raises(DataError, match="budget must be >= 0"):
        solve(problem, -1)


def test_gap_plan_stage_writes_the_run_files(setup, tmp_path):
    fc, ses, sup, paths, cands, _ = setup
    from forecast.supply import SupplyRates

    res = gap_plan_stage(paths, None, sup, ses, compute_gap(fc, None, sup), tmp_path, rates=SupplyRates(),
                         costs=Costs(), budget=200_000, fans=1)
    plan = pd.read_parquet(tmp_path / "plan.parquet")
    assert len(plan) == len(res.plan.plan) and {"type", "zone", "rome", "skills", "start", "quantity", "cost",
                                                 "expected_reduction", "reduction_q0.025", "rationale"} <= set(plan.columns)
    curve = pd.read_csv(tmp_path / "budget_curve.csv")
    assert {"budget", "unmet_demand", "unmet_avoided"} <= set(curve.columns) and 200_000 in set(curve["budget"])
    summ = pd.read_csv(tmp_path / "gap_summary.csv", dtype={"zone": str})
    assert {"demand", "supply", "gap", "tension", "unmet_mean", "p_shortage_horizon", "demand_q0.025"} <= set(summ.columns)
    assert summ.iloc[0]["unique_id"] == "4413/J1501"
    for f in ("gap_horizons.parquet", "exports/plan_actions.xlsx", "exports/ecarts_horizon.csv",
              "plots/gap/heatmap_p_penurie.png", "plots/gap/courbe_budget.png", "plots/gap/eventail_01_4413_J1501.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert res.metrics["plan_cost"] <= 200_000 and res.metrics["gap_shortages_12m"] == 1


# --- command line ---------------------------------------------------------------------------------

@pytest.fixture()
def run_dir(tmp_path, setup):
    from conftest import lheo_xml
    from forecast.store import Store

    fc, ses, sup, *_ = setup
    x = tmp_path / "f.xml"
    x.write_text(lheo_xml(), encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as st:
        st.ingest([x], "sessions")
    cfg = tmp_path / "e.toml"
    cfg.write_text(f'[experiment]\nname="t"\n[data]\nstore="{tmp_path / "s.duckdb"}"\n[scope]\nzones=["4413","4406"]\n'
                   '[plan]\nbudget=100000\npaths=100\n', encoding="utf-8")
    run = tmp_path / "run"
    write_table(fc, run / "forecasts.parquet")
    write_table(sup, run / "supply.parquet")
    return run, cfg


def _cli(*args):
    from cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_plan_writes_a_plan(run_dir):
    run, cfg = run_dir
    r = _cli("plan", run, "-c", cfg, "--budget", 150000)
    assert r.exit_code == 0, r.output
    assert "Plan:" in r.output and (run / "plan.parquet").exists()
    assert pd.read_parquet(run / "plan.parquet")["cost"].sum() <= 150000


def test_cli_plan_bad_parameters(run_dir, tmp_path):
    run, cfg = run_dir
    r = _cli("plan", run, "-c", cfg, "--budget", -5)
    assert r.exit_code == 1 and "Error: --budget must be >= 0" in r.output
    r = _cli("plan", run, "-c", cfg, "--occupation", "Z9999")
    assert r.exit_code == 1 and "Error: unknown occupation(s) Z9999" in r.output
    r = _cli("plan", run, "-c", cfg, "--occupation", "A1101")
    assert r.exit_code == 1 and "Error: occupation(s) A1101 have no forecast" in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname="t"\n[scope]\nzones=["4413"]\n[supply]\ninsertion_rate=1.5\n', encoding="utf-8")
    r = _cli("plan", run, "-c", bad)
    assert r.exit_code == 1 and "Error:" in r.output and "insertion_rate: must be in [0, 1]" in r.output
    r = _cli("supply", "-c", cfg, "--outflow-rate", 1.2)
    assert r.exit_code == 1 and "Error: supply: outflow_rate must be in [0, 1]" in r.output
