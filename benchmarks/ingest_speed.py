"""Benchmark: ingest ~1,000,000 France Travail offers (JSON lines) — read, placed, tagged, deduplicated.

The offers are the demo generator's (``forecast.demo.generate_demo``, scale 1: ~230k offers over
2019-2025), replicated with new ids and dates shifted by 20 days per replica until 1,000,000 lines.
About 9% of them carry no skills and have them found in their text. The ingest runs in a child
process (``forecast.store.Store.ingest``; ``--workers 0`` = the default: two parsing worker
processes on this input). The whole process tree's memory is sampled once a second (psutil): the
sum of PSS (proportional set size: a page shared by the forked workers counts once, split between
them — the honest figure) and the sum of RSS (shared pages counted in every process: an
over-estimate); each process's peak RSS is also read from getrusage. The load average is sampled
with it (the machine is shared).

    .venv/bin/python benchmarks/ingest_speed.py [--n 1000000] [--workers 0] [--out benchmarks/results/ingest_speed.json]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.gettempdir()) / "forecast_bench"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from forecast.store import Store, default_workers
t0 = time.perf_counter()
workers = int(sys.argv[3]) or default_workers("offers", [Path(sys.argv[2])])   # 0: the default, by load
with Store(sys.argv[1]) as st:
    reports = st.ingest([sys.argv[2]], "offers", workers=workers)
    counts = st.counts()
    tags = st.query("SELECT how, count(*) AS n FROM offer_skills GROUP BY how").set_index("how")["n"].to_dict()
secs = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
self_rss, kids_rss = me.ru_maxrss, kids.ru_maxrss
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
r = reports[0]
print("RESULT " + json.dumps({"seconds": secs, "workers_used": workers, "n_input": r.n_input, "accepted": r.n_accepted, "duplicates": r.n_duplicates,
                  "rejected": r.n_rejected, "counts": counts, "skill_tags": tags,
                  "cpu_seconds": cpu, "peak_rss_main_mb": self_rss / 1024, "peak_rss_worker_mb": kids_rss / 1024}))
"""


def demo_offers() -> list[Path]:
    demo = ROOT / "data" / "demo" / "offres"
    if not demo.exists():
        from forecast.demo import generate_demo

        generate_demo(WORK / "demo", seed=42, start="2019-01", end="2025-12")
        demo = WORK / "demo" / "offres"
    return sorted(demo.glob("*.jsonl.gz"))


def make_input(n: int) -> Path:
    path = WORK / f"offers_{n}.jsonl.gz"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    base = []
    for f in demo_offers():
        with gzip.open(f, "rb") as fh:
            base.extend(orjson.loads(line) for line in fh if line.strip())
    tmp = path.with_suffix(".tmp")
    written = 0
    with gzip.open(tmp, "wb", compresslevel=1) as out:
        k = 0
        while written < n:
            for rec in base:
                if written >= n:
                    break
                r = dict(rec)
                r["id"] = f"{rec['id']}R{k}"
                if k:
                    d = datetime.fromisoformat(rec["dateCreation"].replace("Z", "")) + timedelta(days=20 * k)
                    r["dateCreation"] = d.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                out.write(orjson.dumps(r) + b"\n")
                written += 1
            k += 1
    tmp.rename(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest_speed.json")
    args = ap.parse_args()
    t = time.perf_counter()
    src = make_input(args.n)
    prep = time.perf_counter() - t
    store = WORK / "bench.duckdb"
    for p in (store, store.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    load_before = os.getloadavg()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(store), str(src), str(args.workers)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    ps = psutil.Process(proc.pid)
    peak_tree = peak_pss = 0
    loads = [load_before[0]]
    while proc.poll() is None:
        try:
            mem = [p.memory_full_info() for p in [ps, *ps.children(recursive=True)]]
            peak_tree = max(peak_tree, sum(m.rss for m in mem))
            peak_pss = max(peak_pss, sum(m.pss for m in mem))
        except psutil.Error:
            pass
        loads.append(os.getloadavg()[0])
        time.sleep(1.0)   # reading PSS costs CPU: once a second
    out = proc.stdout.read()
    if proc.returncode:
        raise SystemExit(f"ingest failed ({proc.returncode})")
    lines = [x[x.index("RESULT "):] for x in out.splitlines() if "RESULT " in x]
    if not lines:
        raise SystemExit(f"no result from the ingest child:\n{out[-2000:]}")
    res = json.loads(lines[-1][len("RESULT "):])
    res.update({
        "command": f"{Path(sys.executable).name} benchmarks/ingest_speed.py --n {args.n} --workers {args.workers}",
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
        "load_avg_before": [round(x, 2) for x in load_before], "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "input": str(src), "input_mb": round(src.stat().st_size / 2**20, 1), "input_prep_seconds": round(prep, 1),
        "records_per_second": round(res["n_input"] / res["seconds"]),
        "load_avg_1min_during": [round(min(loads), 2), round(max(loads), 2)],
        "peak_rss_tree_mb": round(peak_tree / 2**20), "peak_pss_tree_mb": round(peak_pss / 2**20),
        "target": "<= 180 s, peak memory (PSS of the process tree) < 2048 MB",
        "met": res["seconds"] <= 180 and peak_pss < 2 << 30,
    })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
