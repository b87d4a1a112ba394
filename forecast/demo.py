"""Realistic SYNTHETIC demo data: job offers, training sessions and job seekers for Grand Est.

:func:`generate_demo` writes, under ``out_dir``:

- ``offres/offres_YYYY.jsonl.gz``: one France Travail "Offres d'emploi v2" JSON object per line, one file
  per year of ``dateCreation`` (gzip with a fixed header, so reruns are byte-identical);
- ``formations/sessions_lheo.xml``: LHEO 2.2 programmes (``formation > action > session``);
- ``demandeurs/demandeurs_emploi.csv``: ``mois;zone;rome;demandeurs`` (registered job seekers);
- ``verite_terrain.json``: the ground truth (parameters, per (zone, rome) process and planted situation,
  duplicates, data-quality counts) and ``verite_terrain_demande.parquet`` (expected monthly offers for the
  24 months after ``end``: ``zone, rome, ds, expected, expected_positions``);
- ``README.md``: what is synthetic and what is planted (French and English).

The demand process per (zone, historic ROME code) is: level x smooth trend (with a recent acceleration for
planted shortages) x monthly seasonal profile x the 2020 lockdown dip x an AR(1) log-normal wobble, and the
monthly count is gamma-Poisson (over-dispersed). Measured on this machine (2 cores): the full default demo
(27 zones, 2019-01..2026-10, 259,751 offer lines) took 23-34 s (shared machine); see :data:`MEASURED_SECONDS`.
"""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast import referential as ref
from forecast.demo_catalogue import (AFFINITY_CODE, AFFINITY_FAMILY, FAMILIES, OCCUPATIONS, SEASONS, TRAININGS,
                                     ZONE_SIZE)
from forecast.demo_offers import build_records, commune_weights, fold_upper, lookups, offer_ids, positions, \
    postcode, swap_word
from forecast.demo_readme import readme_text
from forecast.demo_training import lheo_xml, plan_programmes
from forecast.errors import DataError

log = logging.getLogger(__name__)

MEASURED_SECONDS = 34.0
TARGET_MONTHLY = 2750.0     # Grand Est offers a month at scale 1 in the start year, before seasonality
DUPLICATE_RATE = 0.04
MISSING_COMMUNE_RATE = 0.002
UPPER_TITLE_RATE = 0.01
ELIGIBLE_LEVEL = 4.0        # offers a month (scale 1) for a (zone, rome) to carry a planted situation
SHORTAGE_PREFERENCE = {"health": 3, "care": 4, "logist": 3, "transport": 3, "renov": 4, "indus": 1.5,
                       "indus_tech": 3, "hosp": 1.5, "it": 3, "constr": 1.5, "wine": 1}
SURPLUS_PREFERENCE = {"office_down": 5, "office": 3, "retail": 3, "sales": 2, "services": 2, "indus": 2,
                      "social": 2, "hosp": 1, "agri": 1}


@dataclass
class DemoManifest:
    """What :func:`generate_demo` wrote. ``offers`` counts every line (re-published duplicates included);
    ``duplicates`` of them are re-publications; ``sessions`` counts LHEO sessions."""

    out_dir: Path
    files: dict[str, Path]
    offers: int
    duplicates: int
    sessions: int
    programmes: int
    job_seeker_rows: int
    offers_by_zone: dict[str, int]
    data_quality: dict[str, int]
    ground_truth: dict[str, Any] = field(repr=False)
    seconds: float = 0.0


def _month_index(value: str, what: str) -> int:
    try:
        y, m = value.split("-")
        y, m = int(y), int(m)
        if not 1 <= m <= 12 or len(value) != 7:
            raise ValueError
    except ValueError:
        raise DataError(f"{what}: expected a month 'YYYY-MM', got {value!r}") from None
    return y * 12 + m - 1


def _last_full_month(today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first:%Y-%m}"


def _covid(fam: str, ym: np.ndarray) -> np.ndarray:
    """Lockdown dip (March-May 2020 down to 30-50%, depth by family), second lockdown, 2021-22 rebound."""
    shape = {2020 * 12 + 2: 0.55, 2020 * 12 + 3: 1.0, 2020 * 12 + 4: 0.75, 2020 * 12 + 5: 0.35,
             2020 * 12 + 6: 0.15, 2020 * 12 + 7: 0.1, 2020 * 12 + 8: 0.05, 2020 * 12 + 9: 0.05,
             2020 * 12 + 10: 0.3, 2020 * 12 + 11: 0.2, 2021 * 12: 0.1, 2021 * 12 + 1: 0.1,
             2021 * 12 + 2: 0.1, 2021 * 12 + 3: 0.15, 2021 * 12 + 4: 0.05}
    s = np.array([shape.get(int(v), 0.0) for v in ym])
    if fam == "hosp":   # restaurants closed from November 2020 to May 2021
        s = np.where((ym >= 2020 * 12 + 10) & (ym <= 2021 * 12 + 4), 0.75, s)
    f = 1.0 - (1.0 - FAMILIES[fam].covid_floor) * s
    rebound = (ym >= 2021 * 12 + 5) & (ym <= 2022 * 12 + 8)
    return f * np.where(rebound, 1.25 if fam == "hosp" else 1.06, 1.0)


def _structure(seed: int, t0: int, n_hist: int) -> dict[str, Any]:
    """Per (zone, rome) parameters for all 27 Grand Est zones (independent of the zones selected)."""
    rng = np.random.default_rng([seed, 1])
    zones = ref.region_zones("44")
    romes = sorted(OCCUPATIONS)
    fams = [OCCUPATIONS[r][0] for r in romes]
    size = np.array([ZONE_SIZE[z] for z in zones])
    w = np.array([OCCUPATIONS[r][1] for r in romes])
    aff = np.ones((len(zones), len(romes)))
    for j, (r, f) in enumerate(zip(romes, fams, strict=True)):
        table = AFFINITY_CODE.get(r) or AFFINITY_FAMILY.get(f) or {}
        for i, z in enumerate(zones):
            aff[i, j] = table.get(z, table.get("*", 1.0))
    raw = size[:, None] * w[None, :] * aff * rng.lognormal(0.0, 0.35, size=aff.shape)
    base = TARGET_MONTHLY * raw / raw.sum()
    sparse = (base < 0.4) & (rng.random(base.shape) < 0.45)
    base = np.where(sparse, 0.0, base)
    trend = np.array([FAMILIES[f].trend for f in fams])[None, :] + rng.normal(0, 0.015, size=base.shape)
    recent = trend.copy()
    years = n_hist / 12
    level_end = base * (1 + trend) ** years
    situation = np.full(base.shape, "no_training", dtype=object)
    ratio = np.zeros(base.shape)
    trainable = np.array([r in TRAININGS for r in romes])
    eligible = (level_end >= ELIGIBLE_LEVEL) & trainable[None, :]
    share = size / size.sum()
    n_short = {z: max(1, round(34 * s)) for z, s in zip(zones, share, strict=True)}
    n_surp = {z: round(20 * s) for z, s in zip(zones, share, strict=True)}
    n_short["4413"], n_surp["4413"] = max(n_short["4413"], 4), max(n_surp["4413"], 2)
    for i, z in enumerate(zones):
        for kind, quota, pref in (("shortage", n_short[z], SHORTAGE_PREFERENCE),
                                  ("surplus", n_surp[z], SURPLUS_PREFERENCE)):
            cand = np.flatnonzero(eligible[i] & (situation[i] == "no_training"))
            pw = np.array([pref.get(fams[j], 0.2) for j in cand], dtype=float)
            k = min(quota, len(cand))
            if k == 0:
                continue
            chosen = rng.choice(cand, size=k, replace=False, p=pw / pw.sum())
            for j in sorted(chosen):
                situation[i, j] = kind
                if kind == "shortage":
                    recent[i, j] = rng.uniform(0.08, 0.15)
                    ratio[i, j] = rng.uniform(0.2, 0.4)
                else:
                    trend[i, j] = recent[i, j] = rng.uniform(-0.04, 0.0)
                    ratio[i, j] = rng.uniform(2.0, 3.0)
    balanced = (situation == "no_training") & trainable[None, :] & (level_end >= 1.0) & \
        (rng.random(base.shape) < 0.75)
    situation[balanced] = "balanced"
    ratio[balanced] = rng.uniform(0.6, 1.0, size=int(balanced.sum()))
    return {"zones": zones, "romes": romes, "fams": fams, "base": base, "trend": trend, "recent": recent,
            "situation": situation, "ratio": ratio}


def _expected(st: dict[str, Any], t0: int, months: np.ndarray, t_break: int, scale: float) -> np.ndarray:
    """Expected offers [zone, rome, month] for absolute month indices ``months`` (y*12 + m-1)."""
    t = (months - t0).astype(float)
    lg = np.log1p(st["trend"])[..., None] * (t / 12)
    lg = lg + (np.log1p(st["recent"]) - np.log1p(st["trend"]))[..., None] * (np.maximum(t - t_break, 0) / 12)
    season = np.stack([np.array(SEASONS[FAMILIES[f].season]) / np.mean(SEASONS[FAMILIES[f].season])
                       for f in st["fams"]])[:, months % 12]
    covid = np.stack([_covid(f, months) for f in st["fams"]])
    return scale * st["base"][..., None] * np.exp(lg) * (season * covid)[None, ...]


def _mean_positions(fam: str) -> float:
    return 1.0 + FAMILIES[fam].multi_positions * 2.0


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _gzip_lines(lines: list[str]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=4) as gz:
        gz.write(("\n".join(lines) + "\n").encode("utf-8"))
    return buf.getvalue()


def generate_demo(out_dir: Path, *, seed: int = 42, start: str = "2019-01", end: str | None = None,
                  zones: list[str] | None = None, scale: float = 1.0) -> DemoManifest:
    """Write the synthetic demo data set under ``out_dir`` and return its :class:`DemoManifest`.

    ``end`` is the last full month included (``None``: the last full month before today); ``zones``
    defaults to the 27 Grand Est zones; ``scale`` multiplies every volume (offers, places, job seekers).
    Deterministic for given arguments: rerunning writes byte-identical files.
    """
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    end = end or _last_full_month()
    t0, t1 = _month_index(start, "start"), _month_index(end, "end")
    if t1 < t0:
        raise DataError(f"end {end} is before start {start}")
    if not scale > 0:
        raise DataError(f"scale must be > 0, got {scale}")
    all_zones = ref.region_zones("44")
    zones = sorted(all_zones if zones is None else {str(z) for z in zones})
    bad = [z for z in zones if z not in all_zones]
    if bad or not zones:
        raise DataError(f"zones must be Grand Est zones d'emploi (4401..4427), got {bad or 'none'}")
    n_hist = t1 - t0 + 1
    t_break = max(0, n_hist - 24)
    st = _structure(seed, t0, n_hist)
    zi = [all_zones.index(z) for z in zones]
    romes, fams = st["romes"], st["fams"]
    hist_months = np.arange(t0, t1 + 1)
    lam = _expected(st, t0, hist_months, t_break, scale)[zi]            # [Z, R, T]
    fut_months = np.arange(t1 + 1, t1 + 25)
    lam_future = _expected(st, t0, fut_months, t_break, scale)[zi]

    # --- monthly counts: AR(1) log wobble x gamma-Poisson, one generator per zone -------------------
    counts = np.zeros(lam.shape, dtype=np.int64)
    for a, z in enumerate(zones):
        rz = np.random.default_rng([seed, int(z), 7])
        x = rz.normal(0, 0.14, size=len(romes))
        for t in range(n_hist):
            x = 0.55 * x + rz.normal(0, 0.12, size=len(romes))
            g = rz.gamma(5.0, 1 / 5.0, size=len(romes))
            counts[a, :, t] = rz.poisson(lam[a, :, t] * np.exp(x - 0.0225 / 2) * g)

    # --- one row per original offer --------------------------------------------------------------------
    rng = np.random.default_rng([seed, 2])
    za, ra, ta = np.nonzero(counts)
    reps = counts[za, ra, ta]
    o_zone, o_rome, o_t = np.repeat(za, reps), np.repeat(ra, reps), np.repeat(ta, reps)
    n = len(o_zone)
    com = ref.load_communes()
    o_commune = np.empty(n, dtype=object)
    main_town: dict[str, tuple[str, str, str, str]] = {}
    for a, z in enumerate(zones):
        cz = com[com["zone"] == z].sort_values("commune")
        w = commune_weights(list(cz["commune"]), list(cz["libelle"]), ref.zone_label(z),
                            np.random.default_rng([seed, int(z), 3]))
        idx = np.flatnonzero(o_zone == a)
        pick = np.searchsorted(np.cumsum(w) / w.sum(), rng.random(idx.size))
        o_commune[idx] = cz["commune"].to_numpy()[np.minimum(pick, len(cz) - 1)]
        top = cz.iloc[int(np.argmax(w))]
        main_town[z] = (top["commune"], top["libelle"], top["dep"], postcode(top["commune"], top["dep"]))
    cinfo = com.set_index("commune")
    o_dep = cinfo.loc[o_commune, "dep"].to_numpy()
    o_name = cinfo.loc[o_commune, "libelle"].to_numpy()
    o_town = np.array([fold_upper(s) for s in o_name], dtype=object) if n else np.array([], dtype=object)
    # creation day: weekdays five times likelier than weekends; time 07:00-19:59
    month_abs = hist_months[o_t]
    first_day = np.array([np.datetime64(f"{m // 12:04d}-{m % 12 + 1:02d}-01") for m in hist_months])
    ndays = np.array([(np.datetime64(f"{(m + 1) // 12:04d}-{(m + 1) % 12 + 1:02d}-01") - d).astype(int)
                      for m, d in zip(hist_months, first_day, strict=True)])
    day = np.zeros(n, dtype=np.int64)
    for t in range(n_hist):
        idx = np.flatnonzero(o_t == t)
        if idx.size == 0:
            continue
        days = first_day[t] + np.arange(ndays[t])
        wd = (days.astype("datetime64[D]").view("int64") + 3) % 7       # 0 = Monday
        wgt = np.where(wd >= 5, 0.2, 1.0)
        day[idx] = np.searchsorted(np.cumsum(wgt) / wgt.sum(), rng.random(idx.size))
    secs = rng.integers(7 * 3600, 20 * 3600, size=n)
    created = first_day[o_t].astype("datetime64[s]") + day.astype("timedelta64[D]") + secs.astype("timedelta64[s]")
    order = np.lexsort((secs, day, o_rome, o_zone, o_t))
    o_zone, o_rome, o_t, o_commune, o_dep, o_name, o_town, created, month_abs = (
        v[order] for v in (o_zone, o_rome, o_t, o_commune, o_dep, o_name, o_town, created, month_abs))
    last_second = np.datetime64(f"{(t1 + 1) // 12:04d}-{(t1 + 1) % 12 + 1:02d}-01T00:00:00") - np.timedelta64(1, "s")
    updated = np.minimum(created + (rng.exponential(3.0, size=n) * 86400).astype("timedelta64[s]"), last_second)
    unique_names = set(com.loc[~com.duplicated(["dep", "libelle"], keep=False), "commune"])
    missing = (rng.random(n) < MISSING_COMMUNE_RATE) & np.array([c in unique_names for c in o_commune], dtype=bool)
    upper = rng.random(n) < UPPER_TITLE_RATE
    is_dup = rng.random(n) < DUPLICATE_RATE
    delay = rng.integers(1, 15, size=n).astype("timedelta64[D]") + rng.integers(-3600, 3600, size=n).astype("timedelta64[s]")
    dup_created = created + delay
    is_dup &= dup_created <= last_second
    n_dup = int(is_dup.sum())
    ids = offer_ids(n + n_dup, rng)
    iso = np.char.add(np.datetime_as_string(created, unit="s").astype(str), ".000Z")
    fam_of = [fams[r] for r in o_rome]
    offers = {"id": ids[:n], "rome": o_rome, "commune": o_commune, "dep": o_dep, "town": o_town, "name": o_name,
              "created": iso, "updated": np.char.add(np.datetime_as_string(updated, unit="s").astype(str), ".000Z"),
              "missing_commune": missing, "upper_title": upper, "positions": positions(fam_of, rng),
              "year": month_abs // 12}
    records = build_records(offers, romes, lookups(romes), rng)

    # --- re-published duplicates -----------------------------------------------------------------------
    dup_pairs: list[dict[str, str]] = []
    dup_idx = np.flatnonzero(is_dup)
    d_iso = np.char.add(np.datetime_as_string(dup_created[dup_idx], unit="s").astype(str), ".000Z")
    r_swap = rng.random(n_dup)
    for k, i in enumerate(dup_idx):
        rec = dict(records[i])
        rec["id"] = ids[n + k]
        rec["dateCreation"] = rec["dateActualisation"] = str(d_iso[k])
        if r_swap[k] < 0.5:
            rec["description"] = swap_word(rec["description"], r_swap[k] * 2)
        records.append(rec)
        dup_pairs.append({"id": rec["id"], "duplicate_of": records[i]["id"]})
    all_zone = np.concatenate([o_zone, o_zone[dup_idx]])

    # --- write offers ------------------------------------------------------------------------------------
    files: dict[str, Path] = {}
    keyed = sorted(range(len(records)), key=lambda i: (records[i]["dateCreation"], records[i]["id"]))
    by_year: dict[str, list[str]] = {}
    for i in keyed:
        by_year.setdefault(records[i]["dateCreation"][:4], []).append(
            json.dumps(records[i], ensure_ascii=False, separators=(",", ":")))
    for year, lines in sorted(by_year.items()):
        path = out_dir / "offres" / f"offres_{year}.jsonl.gz"
        _atomic_write(path, _gzip_lines(lines))
        files[f"offres_{year}"] = path
    log.info("wrote %d offers (%d duplicates) in %d files", len(records), n_dup, len(by_year))

    # --- training programmes ---------------------------------------------------------------------------
    rtrain = np.random.default_rng([seed, 4])
    t1y, t1m = divmod(t1, 12)
    last_start = dt.date((t1 + 1) // 12, (t1 + 1) % 12 + 1, 1) + dt.timedelta(days=365)     # ~12 months after end
    programmes = []
    pairs: list[dict[str, Any]] = []
    lam_last = lam[:, :, -12:].mean(axis=2) * 12
    for a, z in enumerate(zones):
        i = all_zones.index(z)
        for j, r in enumerate(romes):
            if st["base"][i, j] <= 0:
                continue
            annual_pos = float(lam_last[a, j] * _mean_positions(fams[j]))
            sit, ratio = str(st["situation"][i, j]), float(st["ratio"][i, j])
            places = 0
            if sit != "no_training" and (ratio * annual_pos >= 4 or sit in ("shortage", "surplus")):
                progs = plan_programmes(z, r, ratio * annual_pos, sit, t0 // 12, last_start, main_town[z],
                                        len(programmes) + 1, rtrain)
                programmes.extend(progs)
                places = sum(p.places * (len([s for s in p.sessions if s[1].year == t1y]) or 0) for p in progs)
            elif sit == "balanced":
                sit = "no_training"
            pairs.append({"zone": z, "rome": r, "family": fams[j],
                          "base": round(float(st["base"][i, j] * scale), 4),
                          "trend": round(float(st["trend"][i, j]), 4),
                          "trend_recent": round(float(st["recent"][i, j]), 4),
                          "season": FAMILIES[fams[j]].season, "situation": sit,
                          "supply_ratio_target": round(ratio, 3) if sit != "no_training" else 0.0,
                          "annual_positions": round(annual_pos, 2), "annual_places": int(places)})
    xml = lheo_xml(programmes)
    files["sessions_lheo"] = out_dir / "formations" / "sessions_lheo.xml"
    _atomic_write(files["sessions_lheo"], xml.encode("utf-8"))
    n_sessions = sum(len(p.sessions) for p in programmes)

    # --- job seekers ---------------------------------------------------------------------------------------
    rj = np.random.default_rng([seed, 5])
    factor = {"shortage": 1.5, "balanced": 4.0, "surplus": 10.0, "no_training": 3.0}
    js_rows: list[str] = ["mois;zone;rome;demandeurs"]
    for a, z in enumerate(zones):
        i = all_zones.index(z)
        for j, r in enumerate(romes):
            if st["base"][i, j] < 1.0:
                continue
            level = lam[a, j].mean() * factor[str(st["situation"][i, j])] * _mean_positions(fams[j])
            x = np.cumsum(rj.normal(0, 0.02, size=n_hist))
            covid = np.where((hist_months >= 2020 * 12 + 3) & (hist_months <= 2021 * 12 + 5), 1.12, 1.0)
            season = 1.0 + 0.06 * np.cos(2 * np.pi * (hist_months % 12) / 12)
            trend = (1 + np.where(str(st["situation"][i, j]) == "surplus", 0.03, -0.01)) ** ((hist_months - t0) / 12)
            vals = np.rint(level * np.exp(x) * covid * season * trend).astype(int)
            for m, v in zip(hist_months, vals, strict=True):
                js_rows.append(f"{m // 12:04d}-{m % 12 + 1:02d};{z};{r};{v}")
    js_rows.sort(key=lambda s: s.split(";")[:3] if s[0].isdigit() else ["0"])
    files["demandeurs"] = out_dir / "demandeurs" / "demandeurs_emploi.csv"
    _atomic_write(files["demandeurs"], ("\n".join(js_rows) + "\n").encode("utf-8"))

    # --- ground truth ---------------------------------------------------------------------------------------
    fz, fr = np.nonzero(lam_future.sum(axis=2) > 0)
    future = pd.DataFrame({
        "zone": np.repeat(np.array(zones)[fz], 24), "rome": np.repeat(np.array(romes)[fr], 24),
        "ds": np.tile(pd.to_datetime([f"{m // 12:04d}-{m % 12 + 1:02d}-01" for m in fut_months]).values, len(fz)),
        "expected": lam_future[fz, fr].reshape(-1).round(4),
    })
    future["expected_positions"] = (future["expected"] * future["rome"].map(
        {r: _mean_positions(f) for r, f in zip(romes, fams, strict=True)})).round(4)
    buf = io.BytesIO()
    future.to_parquet(buf, index=False)
    files["verite_terrain_demande"] = out_dir / "verite_terrain_demande.parquet"
    _atomic_write(files["verite_terrain_demande"], buf.getvalue())
    quality = {"offers_commune_missing": int(missing.sum()), "offers_title_upper_case": int(upper.sum()),
               "offers_without_competences": int(sum(1 for r in records if "competences" not in r)),
               "offers_rome_fiche_not_parent": int(sum(1 for r in records if r["romeCode"] not in OCCUPATIONS)),
               "offers_several_positions": int(sum(1 for r in records if r["nombrePostes"] > 1))}
    by_zone = {z: int((all_zone == a).sum()) for a, z in enumerate(zones)}
    truth = {
        "synthetic": True,
        "parameters": {"seed": seed, "start": start, "end": end, "zones": zones, "scale": scale,
                       "target_monthly_offers_scale1": TARGET_MONTHLY, "duplicate_rate": DUPLICATE_RATE,
                       "trend_break": f"{(t0 + t_break) // 12:04d}-{(t0 + t_break) % 12 + 1:02d}",
                       "zone_size_proxy_thousand_jobs": {z: ZONE_SIZE[z] for z in zones},
                       "seasonal_profiles": {k: list(v) for k, v in SEASONS.items()}},
        "counts": {"offers": len(records), "duplicates": n_dup, "unique_offers": len(records) - n_dup,
                   "sessions": n_sessions, "programmes": len(programmes), "offers_by_zone": by_zone},
        "data_quality": quality,
        "planted": {k: [f"{p['zone']}:{p['rome']}" for p in pairs if p["situation"] == k]
                    for k in ("shortage", "surplus")},
        "series": pairs,
        "duplicates": dup_pairs,
    }
    files["verite_terrain"] = out_dir / "verite_terrain.json"
    _atomic_write(files["verite_terrain"], json.dumps(truth, ensure_ascii=False, indent=1).encode("utf-8"))
    files["readme"] = out_dir / "README.md"
    _atomic_write(files["readme"], readme_text(truth).encode("utf-8"))
    return DemoManifest(out_dir, files, len(records), n_dup, n_sessions, len(programmes), len(js_rows) - 1,
                        by_zone, quality, truth, time.perf_counter() - t_start)
