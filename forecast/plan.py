"""Action plan under a budget: a mixed-integer programme over the demand sample paths (HiGHS via scipy).

Decision: ``x_a`` units of each candidate action (integer, ``0 <= x_a <= max_units``). An action brings
``people_per_unit`` people to its target (occupation, zone) at its arrival month and takes
``taken_per_unit`` from its source pair at its start month. Unmet demand of series ``j`` on path ``s``
over the horizon is ``max(0, max_m C_js(m) - sum_a e_aj x_a [t_a <= m])`` with ``C`` the cumulative
demand minus supply (see :mod:`forecast.gap`); the action terms only change at the effects' months, so
one constraint per (series, path, segment between effect months) is exact:

    minimise (1/N) sum_js u_js   s.t.   u_js >= max_{m in segment k} C_js(m) - sum_a e_ajk x_a,  u >= 0,
                                        sum_a cost_a x_a <= budget.

The programme is solved on ``n_opt`` of the paths and every plan is evaluated on all of them. A plan
for a budget is never worse than a plan for a smaller budget (it stays feasible): the budget curve
keeps the best plan known so far, so more budget never means more unmet demand.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.errors import DataError
from forecast.gap import demand_supply, unmet
from forecast.paths import SamplePaths

if TYPE_CHECKING:
    from forecast.actions import Costs
    from forecast.supply import SupplyRates

log = logging.getLogger(__name__)


@dataclass
class PlanProblem:
    """Demand and supply of the series that candidate actions touch, and the actions' effects."""

    uids: list[str]
    demand: np.ndarray          # (n, N, h)
    supply: np.ndarray          # (n, N, h)
    actions: pd.DataFrame       # candidates (forecast.actions.ACTION_COLUMNS)
    effects: list[tuple[int, int, int, float]]   # (action, series, month, people per unit)
    unmet_untouched: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (N,) other series

    @property
    def cost(self) -> np.ndarray:
        return self.actions["unit_cost"].to_numpy(float)

    @property
    def max_units(self) -> np.ndarray:
        return self.actions["max_units"].to_numpy(float)


@dataclass
class PlanResult:
    """Chosen actions (one row each) with quantity, cost and reduction, and the headline figures."""

    plan: pd.DataFrame
    budget: float
    cost: float
    unmet_before: float
    unmet_after: float
    budget_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    solver: dict = field(default_factory=dict)


def build_problem(paths: SamplePaths, catalog: pd.DataFrame | None, supply: pd.DataFrame,
                  actions: pd.DataFrame, horizon: int = 24, seed: int = 0) -> PlanProblem:
    """Gather the paths and supply draws (the gap's own, same seed) of the series the actions touch."""
    keys, demand, sup = demand_supply(paths, catalog, supply, seed)
    h = min(horizon, demand.shape[2])
    pos = {(z, k): i for i, (z, k) in enumerate(zip(keys[S.ZONE], keys[S.KEY]))}
    effects: list[tuple[int, int, int, float]] = []
    for a, row in enumerate(actions.itertuples(index=False)):
        tgt = pos.get((row.zone, row.rome))
        if tgt is None:
            raise DataError(f"action {row.action_id}: no demand paths for {row.zone}/{row.rome}")
        effects.append((a, tgt, int(row.arrival), float(row.people_per_unit)))
        if row.taken_per_unit > 0:
            src = pos.get((row.source_zone, row.source_rome))
            if src is not None:
                start = (pd.Period(row.start, "M") - paths.ds[0].to_period("M")).n
                effects.append((a, src, max(0, min(start, int(row.arrival))), -float(row.taken_per_unit)))
    touched = sorted({j for _, j, _, _ in effects})
    remap = {j: i for i, j in enumerate(touched)}
    others = np.setdiff1d(np.arange(len(keys)), touched)
    rest = unmet(demand[others, :, :h], sup[others, :, :h]).sum(axis=0) if len(others) else np.zeros(demand.shape[1])
    return PlanProblem([keys[S.UID].iloc[j] for j in touched], demand[touched, :, :h], sup[touched, :, :h],
                       actions.reset_index(drop=True), [(a, remap[j], t, e) for a, j, t, e in effects if t < h], rest)


def added_supply(problem: PlanProblem, units: np.ndarray) -> np.ndarray:
    """(n, h) people the actions bring (+) or take (-) per series and month."""
    add = np.zeros((len(problem.uids), problem.demand.shape[2]))
    for a, j, t, e in problem.effects:
        add[j, t] += e * units[a]
    return add


def unmet_paths(problem: PlanProblem, units: np.ndarray) -> np.ndarray:
    """(N,) total unmet demand per path with ``units`` of each action (touched + untouched series)."""
    s = problem.supply + added_supply(problem, units)[:, None, :]
    return unmet(problem.demand, s).sum(axis=0) + problem.unmet_untouched


def solve(problem: PlanProblem, budget: float, n_opt: int = 200, time_limit: float = 60.0) -> tuple[np.ndarray, dict]:
    """Integer units per action minimising mean unmet demand on ``n_opt`` paths, cost <= ``budget``."""
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import coo_array

    if budget < 0:
        raise DataError(f"plan: budget must be >= 0, got {budget}")
    n_act = len(problem.actions)
    if n_act == 0 or not len(problem.uids):
        return np.zeros(n_act), {"status": "no candidate action"}
    n, n_all, h = problem.demand.shape
    pick = np.unique(np.linspace(0, n_all - 1, min(n_opt, n_all)).round().astype(int))
    N = len(pick)
    c_cum = np.cumsum(problem.demand[:, pick] - problem.supply[:, pick], axis=2)        # (n, N, h)
    rows, cols, vals, lbs = [], [], [], []
    r0 = 0
    for j in range(n):
        eff = [(a, t, e) for a, jj, t, e in problem.effects if jj == j]
        marks = sorted({0, *(t for _, t, _ in eff)})
        for k, b in enumerate(marks):
            end = marks[k + 1] if k + 1 < len(marks) else h
            rhs = c_cum[j, :, b:end].max(axis=1)                                         # (N,)
            coef: dict[int, float] = {}
            for a, t, e in eff:
                if t <= b:
                    coef[a] = coef.get(a, 0.0) + e
            ridx = r0 + np.arange(N)
            rows.append(ridx), cols.append(n_act + j * N + np.arange(N)), vals.append(np.ones(N))
            for a, e in coef.items():
                rows.append(ridx), cols.append(np.full(N, a)), vals.append(np.full(N, e))
            lbs.append(rhs)
            r0 += N
    A = coo_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                  shape=(r0, n_act + n * N)).tocsr()
    lb = np.concatenate(lbs)
    budget_row = np.concatenate([problem.cost, np.zeros(n * N)])[None, :]
    c = np.concatenate([np.zeros(n_act), np.full(n * N, 1.0 / N)])
    # a tiny cost on units breaks ties towards the cheaper plan
    c[:n_act] = 1e-9 * problem.cost
    bounds_lo = np.zeros(n_act + n * N)
    bounds_hi = np.concatenate([problem.max_units, np.full(n * N, np.inf)])
    from scipy.optimize import Bounds

    t0 = time.perf_counter()
    res = milp(c, integrality=np.r_[np.ones(n_act), np.zeros(n * N)], bounds=Bounds(bounds_lo, bounds_hi),
               constraints=[LinearConstraint(A, lb, np.inf), LinearConstraint(budget_row, -np.inf, budget)],
               options={"time_limit": time_limit, "mip_rel_gap": 1e-4, "disp": False})
    info = {"status": res.message, "seconds": round(time.perf_counter() - t0, 2), "rows": int(r0 + 1),
            "columns": int(n_act + n * N), "paths": int(N)}
    if res.x is None:
        log.warning("plan: solver found no solution (%s); no action taken", res.message)
        return np.zeros(n_act), info
    units = np.round(res.x[:n_act])
    while units @ problem.cost > budget + 1e-6:          # rounding guard (integrality tolerance)
        a = int(np.argmax(np.where(units > 0, problem.cost, -1)))
        units[a] -= 1
    return units, info


def make_plan(problem: PlanProblem, budget: float, n_opt: int = 200, time_limit: float = 60.0,
              incumbents: list[np.ndarray] | None = None) -> PlanResult:
    """Solve, keep the best of the solution and the (feasible) incumbents on all paths, and describe
    each chosen action: quantity, cost, and its reduction of unmet demand (plan without it minus plan,
    path by path: mean and 95% interval)."""
    units, info = solve(problem, budget, n_opt, time_limit)
    base = unmet_paths(problem, np.zeros(len(problem.actions)))
    best, best_u = units, unmet_paths(problem, units).mean()
    for inc in incumbents or []:
        if inc @ problem.cost <= budget + 1e-6 and unmet_paths(problem, inc).mean() < best_u - 1e-9:
            best, best_u = inc, unmet_paths(problem, inc).mean()
    with_plan = unmet_paths(problem, best)
    chosen = np.flatnonzero(best > 0)
    plan = problem.actions.iloc[chosen].copy()
    plan["quantity"] = best[chosen].astype(int)
    plan["people"] = plan["quantity"] * plan["people_per_unit"]
    plan["cost"] = plan["quantity"] * plan["unit_cost"]
    red = []
    for a in chosen:
        without = best.copy()
        without[a] = 0
        red.append(unmet_paths(problem, without) - with_plan)
    red_arr = np.array(red) if red else np.zeros((0, len(with_plan)))
    plan["expected_reduction"] = red_arr.mean(axis=1) if len(chosen) else []
    plan["reduction_q0.025"] = np.quantile(red_arr, 0.025, axis=1) if len(chosen) else []
    plan["reduction_q0.975"] = np.quantile(red_arr, 0.975, axis=1) if len(chosen) else []
    plan = plan.sort_values(["expected_reduction", "action_id"], ascending=[False, True]).reset_index(drop=True)
    return PlanResult(plan, float(budget), float(best @ problem.cost), float(base.mean()), float(with_plan.mean()),
                      solver={**info, "units": best})


def budget_curve(problem: PlanProblem, budgets: list[float], n_opt: int = 200,
                 time_limit: float = 60.0) -> tuple[pd.DataFrame, dict[float, PlanResult]]:
    """Budget -> unmet demand and unmet demand avoided, budgets in increasing order, each plan at
    least as good as every cheaper one (monotone by construction and by optimality)."""
    rows, plans, incumbents = [], {}, []
    for b in sorted(set(float(x) for x in budgets)):
        res = make_plan(problem, b, n_opt, time_limit, incumbents)
        incumbents.append(res.solver["units"])
        plans[b] = res
        rows.append({"budget": b, "cost": res.cost, "unmet_demand": res.unmet_after,
                     "unmet_avoided": res.unmet_before - res.unmet_after, "actions": len(res.plan)})
    return pd.DataFrame(rows), plans


def apply_actions(supply: pd.DataFrame, plan: pd.DataFrame, ds: pd.DatetimeIndex) -> pd.DataFrame:
    """The supply frame with the plan's people added (target) and taken (source), as sure supply rows
    (component ``action:<type>``, status ``planned``): re-run the gap on it to check a plan."""
    from forecast.supply import P_RECURRENCE

    rows = []
    for r in plan.itertuples(index=False):
        q = float(r.quantity)
        rows.append({S.ZONE: r.zone, S.ROME: r.rome, S.DS: ds[int(r.arrival)], S.SUPPLY: q * r.people_per_unit,
                     S.COMPONENT: f"action:{r.type}", S.STATUS: "planned", P_RECURRENCE: 1.0})
        if r.taken_per_unit > 0:
            start = max(0, min((pd.Period(r.start, "M") - ds[0].to_period("M")).n, int(r.arrival)))
            rows.append({S.ZONE: r.source_zone, S.ROME: r.source_rome, S.DS: ds[start],
                         S.SUPPLY: -q * r.taken_per_unit, S.COMPONENT: f"action:{r.type}", S.STATUS: "planned",
                         P_RECURRENCE: 1.0})
    if not rows:
        return supply
    add = pd.DataFrame(rows)
    add[S.DS] = add[S.DS].astype(supply[S.DS].dtype) if len(supply) else add[S.DS]
    return pd.concat([supply, add], ignore_index=True)


# --- the gap and plan stage of a run ------------------------------------------------------------------

def paths_for(forecasts: pd.DataFrame, run_dir: Path | None = None, n_samples: int = 500, seed: int = 0,
              paths: SamplePaths | None = None) -> SamplePaths:
    """The engine's sample paths (``paths``, the run's own in memory, else ``run_dir/paths.npz`` when
    present), completed by the quantile-copula fallback (:func:`forecast.paths.paths_from_quantiles`)
    for the series they lack."""
    from forecast.paths import paths_from_quantiles

    fc = forecasts[S.FORECAST_COLUMNS]
    file = Path(run_dir) / "paths.npz" if run_dir else None
    if paths is None and (file is None or not file.exists()):
        return paths_from_quantiles(fc, n_samples=n_samples, seed=seed)
    got = paths if paths is not None else SamplePaths.load(file)
    ds = pd.DatetimeIndex(sorted(fc[S.DS].unique()))
    if len(got.ds) != len(ds) or not (got.ds == ds).all():
        log.warning("%s: months differ from the forecasts; using quantile-based paths", file or "paths")
        return paths_from_quantiles(fc, n_samples=n_samples, seed=seed)
    missing = sorted(set(fc[S.UID]) - set(got.unique_ids))
    if not missing:
        return got
    fb = paths_from_quantiles(fc[fc[S.UID].isin(missing)], n_samples=got.n_samples, seed=seed)
    return SamplePaths(np.concatenate([got.unique_ids, fb.unique_ids]).astype(object), ds,
                       np.concatenate([got.values, fb.values]).astype(np.float32))


@dataclass
class GapPlanResult:
    """Tables, files and headline figures of the gap and plan stage."""

    horizon_table: pd.DataFrame
    summary: pd.DataFrame
    skills: pd.DataFrame
    plan: PlanResult | None
    curve: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def gap_plan_stage(paths: SamplePaths, catalog: pd.DataFrame | None, supply: pd.DataFrame,
                   sessions: pd.DataFrame | None, monthly_gap: pd.DataFrame, run_dir: Path, *,
                   rates: "SupplyRates", costs: "Costs", budget: float, horizons: tuple[int, ...] = (12, 24),
                   plan_horizon: int = 24, n_opt: int = 200, time_limit: float = 60.0,
                   series: pd.DataFrame | None = None, fans: int = 10, seed: int = 0,
                   thresholds: tuple[float, float] = (0.8, 3.0)) -> GapPlanResult:
    """Horizon gap (occupations, region, skills), candidate actions, plan and budget curve; writes
    gap_summary.csv, gap_horizons.parquet, gap_skills.parquet, actions_candidates.parquet, plan.parquet,
    budget_curve.csv, exports/ (French headers: Parquet, CSV, XLSX) and plots/gap/."""
    from forecast.actions import candidate_actions
    from forecast.export import export_table
    from forecast.gap import demand_supply, domain_shortage, gap_summary, horizon_gap, skill_gap
    from forecast.io import write_table
    from forecast.report import plots_gap

    if budget < 0:
        raise DataError(f"plan: budget must be >= 0, got {budget}")
    run_dir = Path(run_dir)
    table = horizon_gap(paths, catalog, supply, sessions, horizons, seed=seed, thresholds=thresholds)
    skills = skill_gap(paths, catalog, supply, horizons, seed=seed, thresholds=thresholds)
    first = min(horizons)
    legacy = gap_summary(monthly_gap, months=first) if len(monthly_gap) else pd.DataFrame()
    zone_rows = table[(table["horizon"] == table["horizon"].min()) & table[S.ZONE].str.fullmatch(r"\d{4}")] \
        if len(table) else table
    summary = zone_rows.rename(columns={"p_shortage": "p_shortage_horizon"})
    if len(legacy) and len(summary):
        summary = summary.merge(legacy[[S.ZONE, S.ROME, "months_short"]], on=[S.ZONE, S.ROME], how="left")
        summary = summary.assign(demand=summary["demand_mean"], supply=summary["supply_mean"], gap=summary["gap_mean"],
                                 ratio_supply_demand=summary["supply_mean"] / summary["demand_mean"].where(summary["demand_mean"] > 0))
    files = {"gap_summary": write_table(summary, run_dir / "gap_summary.csv"),
             "gap_horizons": write_table(table, run_dir / "gap_horizons.parquet"),
             "gap_skills": write_table(skills, run_dir / "gap_skills.parquet")}
    curve, result = pd.DataFrame(columns=["budget", "cost", "unmet_demand", "unmet_avoided", "actions"]), None
    if len(table):
        cands = candidate_actions(table, sessions, paths.ds, rates, costs, plan_horizon, skills)
        files["actions_candidates"] = write_table(cands, run_dir / "actions_candidates.parquet")
        problem = build_problem(paths, catalog, supply, cands, plan_horizon, seed)
        curve, plans = budget_curve(problem, [0.0, budget / 4, budget / 2, budget, 2 * budget, 4 * budget], n_opt, time_limit)
        result = plans[float(budget)]
        result.budget_curve = curve
        plan_df = result.plan.assign(arrival_month=[str(paths.ds[0].to_period("M") + int(a)) for a in result.plan["arrival"]])
        files["plan"] = write_table(plan_df, run_dir / "plan.parquet")
        files["budget_curve"] = write_table(curve, run_dir / "budget_curve.csv")
        export_table(plan_df, run_dir / "exports" / "plan_actions")
        export_table(curve, run_dir / "exports" / "courbe_budget")
    for name, df in (("ecarts_horizon", table), ("ecarts_competences", skills), ("ecarts_mensuels", monthly_gap)):
        if len(df):
            export_table(df, run_dir / "exports" / name)
    plots = _gap_plots(paths, catalog, supply, table, curve, run_dir, costs.unit, series, fans, seed,
                       demand_supply, domain_shortage, plots_gap)
    metrics = _metrics(table, result, first)
    return GapPlanResult(table, summary, skills, result, curve, files, plots, metrics)


def _metrics(table: pd.DataFrame, result: PlanResult | None, first: int) -> dict[str, float]:
    m: dict[str, float] = {}
    if len(table):
        zones = table[table[S.ZONE].str.fullmatch(r"\d{4}")]
        for hz, g in zones.groupby("horizon"):
            m[f"gap_unmet_{hz}m"] = float(g["unmet_mean"].sum())
            m[f"gap_shortages_{hz}m"] = float((g["situation"] == "shortage").sum())
            m[f"gap_surpluses_{hz}m"] = float((g["situation"] == "surplus").sum())
    if result is not None:
        m.update({"plan_budget": result.budget, "plan_cost": result.cost, "plan_unmet_before": result.unmet_before,
                  "plan_unmet_after": result.unmet_after, "plan_unmet_avoided": result.unmet_before - result.unmet_after,
                  "plan_actions": float(len(result.plan)), "plan_solver_s": float(result.solver.get("seconds", 0.0))})
    return m


def _gap_plots(paths, catalog, supply, table, curve, run_dir, unit, series, fans, seed,
               demand_supply, domain_shortage, plots_gap) -> list[Path]:
    out: list[Path] = []
    if not len(table):
        return out
    keys, demand, sup = demand_supply(paths, catalog, supply, seed)
    out.append(plots_gap.plot_heatmap(domain_shortage(keys, demand, sup, int(table["horizon"].min())),
                                      run_dir / "plots" / "gap" / "heatmap_p_penurie.png"))
    if len(curve):
        out.append(plots_gap.plot_budget_curve(curve, run_dir / "plots" / "gap" / "courbe_budget.png", unit))
    top = table[(table["horizon"] == table["horizon"].min()) & table["rank_shortage"].notna()
                & table[S.ZONE].str.fullmatch(r"\d{4}")].sort_values("rank_shortage").head(fans)
    pos = {u: i for i, u in enumerate(keys[S.UID])}
    for rank, r in enumerate(top.itertuples(index=False), start=1):
        i = pos[r.unique_id]
        hist = None
        if series is not None:
            hist = series[series[S.UID] == r.unique_id].sort_values(S.DS).tail(36)
        out.append(plots_gap.plot_fan(paths.ds, demand[i], sup[i].mean(axis=0), f"{r.label} ({r.rome})",
                                      run_dir / "plots" / "gap" / f"eventail_{rank:02d}_{r.zone}_{r.rome}.png", hist))
    return out


def plan_from_run(run_dir: Path, sessions: pd.DataFrame, rates: "SupplyRates", costs: "Costs", budget: float,
                  occupations: list[str] | None = None, output: Path | None = None, horizons: tuple[int, ...] = (12, 24),
                  plan_horizon: int = 24, n_opt: int = 200, time_limit: float = 60.0,
                  thresholds: tuple[float, float] = (0.8, 3.0)) -> GapPlanResult:
    """Re-plan from a finished run folder (forecasts.parquet, supply.parquet, catalog.parquet, and
    paths.npz when the engine saved them), optionally only for some occupations (historic ROME codes)."""
    from forecast import referential
    from forecast.gap import compute_gap
    from forecast.io import read_table

    if budget < 0:
        raise DataError(f"plan: budget must be >= 0, got {budget}")
    run_dir = Path(run_dir)
    forecasts = read_table(run_dir / "forecasts.parquet")
    supply = read_table(run_dir / "supply.parquet")
    catalog = read_table(run_dir / "catalog.parquet") if (run_dir / "catalog.parquet").exists() else None
    if occupations:
        known = set(referential.load_rome_parents()["code_rome"])
        bad = [o for o in occupations if o not in known]
        if bad:
            raise DataError(f"unknown occupation(s) {', '.join(bad)}: expected historic ROME codes such as J1501")
        present = set(forecasts[S.UID].str.extract(r"/([A-N]\d{4})$")[0].dropna())
        absent = [o for o in occupations if o not in present]
        if absent:
            raise DataError(f"occupation(s) {', '.join(absent)} have no forecast in {run_dir}")
        keep = forecasts[S.UID].str.extract(r"/([A-N]\d{4})$")[0].isin(occupations)
        forecasts = forecasts[keep]
    out = Path(output or run_dir)
    paths = paths_for(forecasts, run_dir)
    if occupations:
        paths = paths.for_ids([u for u in paths.unique_ids if u in set(forecasts[S.UID])])
    return gap_plan_stage(paths, catalog, supply, sessions, compute_gap(forecasts, catalog, supply), out,
                          rates=rates, costs=costs, budget=budget, horizons=horizons, plan_horizon=plan_horizon,
                          n_opt=n_opt, time_limit=time_limit, fans=0, thresholds=thresholds)
