"""Benchmarks 1 and 4: the whole Grand Est through `forecast run`, then a rerun after one more month.

1. Full run: the 27 zones d'emploi, >= 10,000 bottom series (2,757 occupation x zone + 8,100
   skill x zone series of the demo data), every default family, 3 backtest windows + final fit,
   selection, calibration, reconciliation, supply, gap, plan, MLflow logging: the real CLI in a
   subprocess on a fresh store and a cold cache. Wall time (target <= 15 min) and peak memory of
   the whole process tree, sampled every second (target < 4 GB): the sum of the processes'
   proportional set sizes (PSS: pages shared by the forked workers counted once); the plain sum of
   their RSS, which counts shared pages once per process, is reported next to it.
4. Rerun: the month after is added as a new offers file (ingested incrementally), the same command
   again with the warm cache (target <= 20 % of the full run).

The demo offers are split by creation month into "everything before the last month" and "the last
month" (files under the work folder); ``[engine] backtest_refresh`` is ``--refresh`` months.

    .venv/bin/python benchmarks/scale_grand_est.py
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_common import ROOT, WORK, machine, record  # noqa: E402

TOML = """[experiment]
name = "ge_scale"
description = "Grand Est scale benchmark (benchmarks/scale_grand_est.py)"
[data]
offers = {offers}
sessions = ["{root}/data/demo/formations"]
store = "{work}/store.duckdb"
[scope]
{scope}
start = "2019-01"
[series]
min_total = 12
top_skills = 300
[output]
dir = "{work}/outputs"
[engine]
cache_dir = "{work}/cache"
backtest_refresh = {refresh}
screen_sample = {sample}
"""


def split_offers(work: Path) -> tuple[Path, Path, str]:
    """Demo offers -> (before the last month, the last month, that month as YYYY-MM)."""
    src = sorted((ROOT / "data" / "demo" / "offres").glob("*.jsonl*"))
    if not src:
        sys.exit("benchmarks need the demo data: .venv/bin/forecast demo --out data/demo")
    lines = []
    for f in src:
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            lines += [ln for ln in fh if ln.strip()]
    pattern = re.compile(r'"dateCreation"\s*:\s*"(\d{4}-\d{2})')
    month = [m.group(1) if (m := pattern.search(ln)) else "" for ln in lines]
    last = max(month)
    old, new = work / "offers_before.jsonl.gz", work / f"offers_{last}.jsonl.gz"
    with gzip.open(old, "wt", encoding="utf-8") as a, gzip.open(new, "wt", encoding="utf-8") as b:
        for ln, m in zip(lines, month):
            (b if m == last else a).write(ln)
    return old, new, last


def run_cli(exp: Path, mlruns: Path) -> dict:
    """`forecast run EXP --json` in a subprocess; wall time and peak RSS of the process tree."""
    import psutil

    cmd = [str(ROOT / ".venv" / "bin" / "forecast"), "run", str(exp), "--store", str(mlruns), "--json"]
    # output to files, not pipes: a pipe nobody reads until the end blocks a chatty child
    log_out = exp.parent / f"run_{int(time.time())}.out"
    log_err = log_out.with_suffix(".err")
    t0 = time.perf_counter()
    fo, fe = open(log_out, "w"), open(log_err, "w")
    proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True, cwd=ROOT)
    root = psutil.Process(proc.pid)
    peak = peak_rss = 0
    while proc.poll() is None:
        try:  # PSS: shared pages (forked workers) counted once, in proportion
            procs = [root, *root.children(recursive=True)]
            info = [p.memory_full_info() for p in procs if p.is_running()]
            peak = max(peak, sum(m.pss for m in info))
            peak_rss = max(peak_rss, sum(m.rss for m in info))
        except psutil.Error:
            pass
        time.sleep(1.0)  # reading PSS of GB-sized processes costs CPU: sample once a second
    proc.wait()
    seconds = time.perf_counter() - t0
    fo.close()
    fe.close()
    out, err = log_out.read_text(), log_err.read_text()
    if proc.returncode != 0:
        sys.exit(f"forecast run failed ({proc.returncode}):\n{err[-3000:]}")
    summary = json.loads(out[out.index("{"):])
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak / 2**20),
            "peak_rss_sum_mb_shared_pages_counted_per_process": round(peak_rss / 2**20), "summary": summary,
            "cache_log": [ln for ln in err.splitlines() if "cache:" in ln or "screening:" in ln][-3:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refresh", type=int, default=3, help="[engine] backtest_refresh (months)")
    ap.add_argument("--screen-sample", type=int, default=200)
    ap.add_argument("--zone", action="append", help="only these zones (a quick check), default: region 44")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    work = WORK / "grand_est_run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    old, new, last = split_offers(work)
    exp = work / "ge_scale.toml"
    load_start = machine()["load_1_5_15"]

    def write(files: list[Path]) -> None:
        exp.write_text(TOML.format(offers=json.dumps([str(f) for f in files]), root=ROOT, work=work,
                                   refresh=args.refresh, sample=args.screen_sample,
                                   scope=f"zones = {json.dumps(args.zone)}" if args.zone else 'region = "44"'),
                       encoding="utf-8")

    write([old])
    full = run_cli(exp, work / "mlruns")
    print("full run", full["seconds"], "s", full["peak_rss_mb"], "MB", flush=True)
    write([old, new])
    rerun = run_cli(exp, work / "mlruns")
    print("rerun", rerun["seconds"], "s", flush=True)

    def brief(r: dict) -> dict:
        s = r["summary"]
        return {"seconds": r["seconds"], "peak_memory_pss_mb": r["peak_rss_mb"],
                "peak_rss_sum_mb": r["peak_rss_sum_mb_shared_pages_counted_per_process"], "data_end": s.get("end"),
                "series": s.get("series"), "modelled_series": s.get("modelled_series"),
                "timings_s": s.get("timings_s"), "log": r["cache_log"]}

    ratio = rerun["seconds"] / full["seconds"]
    result = {
        "full_run": brief(full), "rerun_after_one_month": brief(rerun), "added_month": last,
        "rerun_ratio": round(ratio, 3),
        "target_full_run_15min_met": full["seconds"] <= 900, "target_memory_4GB_met": full["peak_rss_mb"] < 4096,
        "target_rerun_20pct_met": ratio <= 0.20,
        "settings": {"backtest_refresh": args.refresh, "screen_sample": args.screen_sample},
        "load_at_start": load_start,
    }
    print(json.dumps(result, indent=1, default=str))
    if not args.no_record:
        record("scale_grand_est", ".venv/bin/python benchmarks/scale_grand_est.py", result)


if __name__ == "__main__":
    main()
