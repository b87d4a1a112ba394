"""Shared helpers of the scale benchmarks (benchmarks/scale_*.py): machine load, peak memory,
the Grand Est benchmark experiment and its series, result files.

The Grand Est benchmark experiment reads the demo data (``forecast demo --out data/demo``: the 27
zones d'emploi of region 44) into its own store under ``WORK`` (default /tmp/forecast_scale_bench), so a
benchmark never touches the project's store, outputs or MLflow runs.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = Path(os.environ.get("FORECAST_BENCH_WORK", "/tmp/forecast_scale_bench"))

GE_TOML = """# Benchmark experiment: the whole Grand Est (27 zones), >= 10,000 bottom series.
[experiment]
name = "{name}"
description = "Grand Est scale benchmark"
[data]
offers = ["{root}/data/demo/offres"]
sessions = ["{root}/data/demo/formations"]
store = "{work}/grand_est.duckdb"
[scope]
region = "44"
start = "2019-01"
end = "{end}"
[series]
min_total = 12       # occupations with 12 positions or more over the history
top_skills = 300     # 300 skills per zone: 2,757 occupation + 8,100 skill series = 10,857 bottom series
[output]
dir = "{work}/outputs"
[engine]
cache = {cache}
cache_dir = "{work}/cache"
"""


def machine() -> dict[str, Any]:
    """Date, cores, load averages (the machine is shared: timings depend on it)."""
    load = os.getloadavg()
    return {"date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(),
            "load_1_5_15": [round(x, 2) for x in load], "python": platform.python_version(),
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory (MB) of this process and of its largest waited-for child."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_mb": round(me, 1), "largest_child_mb": round(kids, 1)}


def write_experiment(name: str = "ge_bench", end: str = "", cache: bool = True, work: Path = WORK) -> Path:
    """The Grand Est benchmark experiment file under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{name}.toml"
    path.write_text(GE_TOML.format(name=name, root=ROOT, work=work, end=end, cache=str(cache).lower()),
                    encoding="utf-8")
    return path


def grand_est_series(work: Path = WORK, end: str = "") -> tuple[Any, Any]:
    """(modelled long series, catalog) of the Grand Est benchmark experiment (cached in ``work``)."""
    import pandas as pd

    from forecast.config import load_experiment
    from forecast.pipeline import ingest_stage, series_stage

    tag = end or "all"
    fs, fc = work / f"ge_series_{tag}.parquet", work / f"ge_catalog_{tag}.parquet"
    if fs.exists() and fc.exists():
        return pd.read_parquet(fs), pd.read_parquet(fc)
    if not (ROOT / "data" / "demo" / "offres").is_dir():
        sys.exit("benchmarks need the demo data: .venv/bin/forecast demo --out data/demo")
    exp = load_experiment(write_experiment(end=end, work=work))
    ingest_stage(exp)
    series, catalog = series_stage(exp)
    ids = set(catalog.loc[catalog["modelled"], "unique_id"])
    modelled = series[series["unique_id"].isin(ids)].reset_index(drop=True)
    modelled.to_parquet(fs)
    catalog.to_parquet(fc)
    return modelled, catalog


def sample_ids(series: Any, n: int, seed: int = 0, levels: tuple[str, ...] = ("rome_zone", "skill_zone")) -> list[str]:
    """A seeded random sample of ``n`` bottom series ids."""
    import numpy as np

    pool = sorted(series.loc[series["level"].isin(levels), "unique_id"].unique())
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(pool, size=min(n, len(pool)), replace=False).tolist())


def record(name: str, command: str, result: dict[str, Any], notes: list[str] | None = None) -> Path:
    """Write ``benchmarks/results/<name>.json`` and ``.md`` (command, date, machine, figures)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "command": command, "machine": machine(), **result}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    lines = [f"# {name}", "", f"Command: `{command}`", "",
             f"Date (UTC): {payload['machine']['date_utc']}; {payload['machine']['cores']} cores; "
             f"load average at the end (1/5/15 min): {payload['machine']['load_1_5_15']}", ""]
    for k, v in result.items():
        lines.append(f"- **{k}**: `{json.dumps(v, default=str)}`")
    if notes:
        lines += ["", *notes]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return RESULTS / f"{name}.md"


class Timer:
    def __enter__(self) -> "Timer":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
