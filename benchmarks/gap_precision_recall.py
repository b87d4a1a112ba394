"""Precision and recall of the shortages found on the synthetic Grand Est demo (planted ground truth).

Runs the real pipeline (`run_experiment`: ingest, series, backtest, selection, forecast, supply with
job seekers, sample-path gap, actions, MILP plan) on a freshly generated demo, then compares the top 20
shortages of the Grand Est (12-month horizon, zone level, ranked by expected unmet demand) with the
shortages the generator planted (``verite_terrain.json``: ``planted.shortage``).

- precision@20: share of the top 20 shortages that are planted ones (target >= 0.8);
- recall: share of planted shortages flagged as shortages (P(shortage) >= 0.8 and tension >= 3) (target >= 0.8).

To stay within minutes on 2 cores, the model families are the cheap ones (seasonal naive and damped
ETS, one backtest window) and the skill series are limited to the 10 most demanded per zone.

    .venv/bin/python benchmarks/gap_precision_recall.py --seed 42 --seed 7
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def experiment(demo: Path, work: Path) -> dict:
    return {"experiment": {"name": "gap_bench"},
            "data": {"offers": [str(demo / "offres")], "sessions": [str(demo / "formations")],
                     "store": str(work / "store.duckdb")},
            "scope": {"region": "44", "start": "2019-01"},
            "series": {"levels": ["rome_zone", "skill_zone", "zone_total", "region_total"], "top_skills": 10},
            "models": {"families": ["seasonal_naive", "ets"]},
            "backtest": {"horizon": 12, "windows": 1},
            "supply": {"job_seekers": str(demo / "demandeurs" / "demandeurs_emploi.csv")},
            "plan": {"budget": 2_000_000},
            "output": {"dir": str(work / "outputs"), "top_plots": 0}}


def evaluate(run_dir: Path, truth: dict, top_n: int = 20, horizon: int = 12) -> dict:
    from forecast.gap import ranked

    table = pd.read_parquet(run_dir / "gap_horizons.parquet")
    planted = {tuple(p.split(":")) for p in truth["planted"]["shortage"]}
    situation = {(p["zone"], p["rome"]): p["situation"] for p in truth["series"]}
    top = ranked(table, horizon, "shortage", top_n)
    zones = table[(table["horizon"] == horizon) & table["zone"].str.fullmatch(r"\d{4}")]
    flagged = zones[(zones["situation"] == "shortage") & zones["covered"]]
    found = {(z, r) for z, r in zip(flagged["zone"], flagged["rome"])}
    hits = [(z, r) in planted for z, r in zip(top["zone"], top["rome"])]
    return {"top_n": top_n, "horizon_months": horizon, "planted_shortages": len(planted),
            "precision_at_top": sum(hits) / max(len(hits), 1), "top_listed": len(hits),
            "recall": len(found & planted) / max(len(planted), 1), "flagged_shortages": len(found),
            "flagged_by_ground_truth": pd.Series([situation.get(k, "unknown") for k in found]).value_counts().to_dict(),
            "top": [{"zone": z, "rome": r, "planted": h, "truth": situation.get((z, r)), "unmet_mean": round(u, 1),
                     "tension": round(t, 2), "p_shortage": round(p, 3)}
                    for z, r, h, u, t, p in zip(top["zone"], top["rome"], hits, top["unmet_mean"], top["tension"],
                                                top["p_shortage"])],
            "planted_missed": sorted(f"{z}:{r}" for z, r in planted - found)}


def rerun_gap_plan(exp, run_dir: Path) -> dict:
    """Supply, gap and plan stages again on a finished run's forecasts and paths (``--reuse``)."""
    from forecast.gap import compute_gap
    from forecast.io import read_table
    from forecast.pipeline import sessions_of
    from forecast.plan import gap_plan_stage, paths_for
    from forecast.supply import project_supply, read_job_seekers

    forecasts = read_table(run_dir / "forecasts.parquet") if (run_dir / "forecasts.parquet").exists() else None
    if forecasts is None:
        raise SystemExit(f"{run_dir}: no forecasts.parquet to reuse")
    catalog = read_table(run_dir / "catalog.parquet")
    sessions = sessions_of(exp)
    end = str(pd.Timestamp(forecasts["ds"].min()).to_period("M") - 1)
    supply = project_supply(sessions, exp.zones, exp.start, end, exp.horizon, exp.completion_rate, exp.projection_years,
                            rates=exp.supply_rates(), job_seekers=read_job_seekers(exp.job_seekers))
    pp = exp.plan_params
    gp = gap_plan_stage(paths_for(forecasts, run_dir), catalog, supply, sessions, compute_gap(forecasts, catalog, supply),
                        run_dir, rates=exp.supply_rates(), costs=exp.plan_costs(), budget=float(pp["budget"]),
                        horizons=exp.gap_horizons, plan_horizon=min(int(pp["horizon"]), exp.horizon),
                        n_opt=int(pp["paths"]), time_limit=float(pp["time_limit"]), fans=0, thresholds=exp.gap_thresholds)
    return {k: round(v, 2) for k, v in gp.metrics.items()}


def run(seed: int, base: Path, reuse: bool = False) -> dict:
    from forecast.config import experiment_from_dict
    from forecast.demo import generate_demo
    from forecast.pipeline import run_experiment

    demo, work = base / f"demo_{seed}", base / f"work_{seed}"
    t0 = time.perf_counter()
    manifest = generate_demo(demo, seed=seed, end="2026-10")
    t_demo = time.perf_counter() - t0
    exp = experiment_from_dict(experiment(demo, work), Path(f"gap_bench_seed{seed}.toml"))
    t0 = time.perf_counter()
    run_dir = work / "run"
    if reuse and (run_dir / "forecasts.parquet").exists():
        summary = {"gap_plan": rerun_gap_plan(exp, run_dir), "reused_forecasts": True}
    else:
        summary = run_experiment(exp, run_dir=run_dir).summary
    t_run = time.perf_counter() - t0
    out = evaluate(run_dir, manifest.ground_truth)
    curve = pd.read_csv(run_dir / "budget_curve.csv")
    out.update(seed=seed, demo_seconds=round(t_demo, 1), pipeline_seconds=round(t_run, 1),
               reused_forecasts=bool(summary.get("reused_forecasts")), timings_s=summary.get("timings_s"),
               modelled_series=summary.get("modelled_series"), gap_plan=summary.get("gap_plan"),
               budget_curve=curve.round(1).to_dict("records"))
    return out


def markdown(record: dict) -> str:
    """The recorded figures as a short Markdown page."""
    lines = [f"# {record['benchmark']}", "", f"- command: `{record['command']}`", f"- date: {record['date']}",
             f"- machine: {record['machine']}; load average at start {record['load_avg_at_start']}, "
             f"at end {record['load_avg_at_end']}", f"- code: {record['code_version']}", f"- models: {record['models']}",
             "- precision@20: share of the 20 largest shortages found (12 months, zone level, ranked by expected "
             "unmet demand) that the generator planted; recall: share of planted shortages flagged "
             "(P(shortage) >= 0.8 and tension >= 3). Target: both >= 0.8.", "",
             "| seed | precision@20 | recall | planted | flagged (by ground truth) | pipeline s | plan cost / budget | unmet avoided by the plan |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in record["results"]:
        gp = r.get("gap_plan") or {}
        lines.append(f"| {r['seed']} | **{r['precision_at_top']:.2f}** | **{r['recall']:.2f}** | {r['planted_shortages']} | "
                     f"{r['flagged_shortages']} ({r['flagged_by_ground_truth']}) | {r['pipeline_seconds']:.0f} | "
                     f"{gp.get('plan_cost', 0):,.0f} / {gp.get('plan_budget', 0):,.0f} | "
                     f"{gp.get('plan_unmet_avoided', 0):,.0f} of {gp.get('plan_unmet_before', 0):,.0f} |")
    for r in record["results"]:
        lines += ["", f"## seed {r['seed']}: top {r['top_n']}", "", "| zone | rome | planted | truth | unmet | tension | P(shortage) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {t['zone']} | {t['rome']} | {t['planted']} | {t['truth']} | {t['unmet_mean']} | {t['tension']} | {t['p_shortage']} |"
                  for t in r["top"]]
        lines += ["", f"Planted shortages not flagged: {', '.join(r['planted_missed']) or 'none'}.", "",
                  "Budget curve (euros -> unmet demand over 24 months):", "", "| budget | cost | unmet | avoided | actions |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {c['budget']:,.0f} | {c['cost']:,.0f} | {c['unmet_demand']:,.0f} | {c['unmet_avoided']:,.0f} | {c['actions']} |"
                  for c in r["budget_curve"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, action="append", help="demo seed (repeat); default 42")
    ap.add_argument("--work", type=Path, default=Path("/tmp/gap_precision_recall"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gap_precision_recall.json")
    ap.add_argument("--reuse", action="store_true", help="reuse a finished run's forecasts: re-run supply, gap, plan only")
    args = ap.parse_args()
    load = os.getloadavg()
    results = [run(s, args.work, args.reuse) for s in (args.seed or [42])]
    record = {"benchmark": "gap_precision_recall", "date": dt.datetime.now().isoformat(timespec="seconds"),
              "command": "python benchmarks/gap_precision_recall.py " + " ".join(f"--seed {s}" for s in (args.seed or [42])),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other engineers",
              "load_avg_at_start": [round(x, 2) for x in load], "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
              "code_version": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                             text=True).stdout.strip(),
              "models": "seasonal_naive + ets, 1 backtest window (cheap families to keep it within minutes)",
              "targets": {"precision_at_top": 0.8, "recall": 0.8}, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(record), encoding="utf-8")
    for r in results:
        print(f"seed {r['seed']}: precision@{r['top_n']} = {r['precision_at_top']:.2f}, recall = {r['recall']:.2f} "
              f"({r['planted_shortages']} planted, {r['flagged_shortages']} flagged), pipeline {r['pipeline_seconds']:.0f} s")


if __name__ == "__main__":
    main()
