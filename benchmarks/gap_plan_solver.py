"""The plan's MILP (HiGHS) against a greedy heuristic, and its solve time against the number of paths.

Reads a finished Grand Est run (by default the one `benchmarks/gap_precision_recall.py --seed 42`
leaves in /tmp/gap_precision_recall/work_42/run): paths.npz (or quantile paths), supply, catalog,
actions_candidates.parquet. For each budget, in one run, side by side:

- ``milp``: :func:`forecast.plan.make_plan` (optimised on ``n_opt`` paths, evaluated on all);
- ``greedy``: add one unit at a time of the action with the largest reduction of mean unmet demand
  per euro (evaluated on the same optimisation paths), until nothing fits the budget.

Both plans are evaluated on all paths; the ratio milp/greedy of unmet demand avoided is recorded.

    .venv/bin/python benchmarks/gap_plan_solver.py --run /tmp/gap_precision_recall/work_42/run
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def greedy(problem, budget: float, n_opt: int) -> np.ndarray:
    from forecast.plan import PlanProblem, unmet_paths

    pick = np.unique(np.linspace(0, problem.demand.shape[1] - 1, n_opt).round().astype(int))
    sub = PlanProblem(problem.uids, problem.demand[:, pick], problem.supply[:, pick], problem.actions,
                      problem.effects, problem.unmet_untouched[pick])
    units = np.zeros(len(problem.actions))
    cost, cap = problem.cost, problem.max_units
    current = unmet_paths(sub, units).mean()
    while True:
        best, best_gain = -1, 0.0
        for a in np.flatnonzero((units < cap) & (units @ cost + cost <= budget + 1e-9)):
            units[a] += 1
            gain = (current - unmet_paths(sub, units).mean()) / max(cost[a], 1e-9)
            units[a] -= 1
            if gain > best_gain:
                best, best_gain = a, gain
        if best < 0:
            return units
        units[best] += 1
        current = unmet_paths(sub, units).mean()


def main() -> None:
    from forecast.io import read_table
    from forecast.plan import build_problem, make_plan, paths_for, unmet_paths

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=Path("/tmp/gap_precision_recall/work_42/run"))
    ap.add_argument("--budget", type=float, action="append", help="euros (repeat); default 100k, 250k, 500k")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gap_plan_solver.json")
    args = ap.parse_args()
    load = os.getloadavg()
    run = args.run
    fc = read_table(run / "forecasts.parquet")
    supply = read_table(run / "supply.parquet")
    catalog = read_table(run / "catalog.parquet")
    cands = read_table(run / "actions_candidates.parquet")
    paths = paths_for(fc, run)
    problem = build_problem(paths, catalog, supply, cands, 24)
    rows = []
    for budget in args.budget or [100_000, 250_000, 500_000]:
        for n_opt in (100, 200):
            t0 = time.perf_counter()
            res = make_plan(problem, budget, n_opt=n_opt, time_limit=120)
            t_milp = time.perf_counter() - t0
            t0 = time.perf_counter()
            g = greedy(problem, budget, n_opt)
            t_greedy = time.perf_counter() - t0
            base = res.unmet_before
            g_after = float(unmet_paths(problem, g).mean())
            rows.append({"budget": budget, "n_opt_paths": n_opt, "milp_avoided": round(base - res.unmet_after, 1),
                         "greedy_avoided": round(base - g_after, 1),
                         "ratio_milp_over_greedy": round((base - res.unmet_after) / max(base - g_after, 1e-9), 3),
                         "milp_cost": round(res.cost), "greedy_cost": round(float(g @ problem.cost)),
                         "milp_seconds": round(t_milp, 1), "greedy_seconds": round(t_greedy, 1),
                         "solver_status": res.solver.get("status"), "rows": res.solver.get("rows"),
                         "columns": res.solver.get("columns")})
            print(rows[-1])
    record = {"benchmark": "gap_plan_solver", "date": dt.datetime.now().isoformat(timespec="seconds"),
              "command": f"python benchmarks/gap_plan_solver.py --run {run}",
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other engineers",
              "load_avg_at_start": [round(x, 2) for x in load], "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
              "series_in_problem": len(problem.uids), "candidate_actions": len(cands), "paths": int(paths.n_samples),
              "unmet_before": round(float(unmet_paths(problem, np.zeros(len(cands))).mean()), 1), "results": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
