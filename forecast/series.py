"""Offers -> monthly demand series in the long format (unique_id, ds, y, level, zone, key).

Levels: ``rome_zone`` (historic ROME code x zone), ``skill_zone`` (OGR skill x zone: the demand of
the offers that ask for the skill), ``zone_total`` and ``region_total`` (the whole region(s) the
zones belong to). The grid is full: a month with no offer is a 0, never a missing row.
Re-published ads (``duplicate_of`` set) are not counted.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast import referential
from forecast import schema as S
from forecast.errors import DataError
from forecast.store import Store

log = logging.getLogger(__name__)

CATALOG_COLUMNS = [S.UID, S.LEVEL, S.ZONE, S.KEY, "label", "total", "modelled"]


def uid(level: str, zone: str, key: str) -> str:
    """Series identifier: '4413/J1501', '4413/skill:100023', '4413/total', 'R44/total'."""
    if level == "rome_zone":
        return f"{zone}/{key}"
    if level == "skill_zone":
        return f"{zone}/skill:{key}"
    return f"{zone}/total"


def data_end_month(store: Store) -> str:
    """The last full month in the store: the month of the newest offer if it reaches that month's
    last three days, otherwise the month before."""
    newest = store.con.execute("SELECT max(created) FROM offers").fetchone()[0]
    if newest is None:
        raise DataError(f"{store.path}: the store holds no offers (run `forecast ingest` first)")
    ts = pd.Timestamp(newest)
    month = ts.to_period("M")
    if ts.day < ts.days_in_month - 2:
        month -= 1
    return str(month)


def build_series(store: Store, zones: list[str] | tuple[str, ...], start: str, end: str = "",
                 levels: tuple[str, ...] = ("rome_zone", "skill_zone", "zone_total", "region_total"),
                 measure: str = "positions", min_total: float = 36, top_skills: int = 30, refresh: int = 1,
                 out: Path | None = None, submit: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (series, catalog). ``catalog`` has one row per series with its label, total and
    whether it is modelled (occupations with at least ``min_total`` over the history, the
    ``top_skills`` skills per zone, and every total).

    ``refresh`` (``[engine] backtest_refresh``): which series are modelled is decided on the first
    months of the history rounded down to a multiple of ``refresh`` (as the model parameters are), so
    the set, and with it the hierarchy, the classes and the screening, changes every ``refresh``
    months, not with every month of new offers.

    ``out``: write every series (full grid) to this Parquet file and return only the modelled series
    and the totals (the rest is in the file and the catalog): on the Grand Est, 10,878 + 28 of the
    165,844 series, whose full grid (15 million rows) took 2 GB and 12 s in pandas. ``submit`` (e.g. a
    thread pool's ``submit``): how to run that write, so that it overlaps the next stages; the caller
    then waits for the future it returns before reading the file."""
    end = end or data_end_month(store)
    months = pd.period_range(start, end, freq="M")
    if len(months) == 0:
        raise DataError(f"empty period: start {start} is after end {end}")
    lo, hi = months[0].start_time, (months[-1] + 1).start_time
    value = "sum(o.positions)" if measure == "positions" else "count(*)"
    zones = list(zones)
    cond = "o.duplicate_of IS NULL AND o.created >= ? AND o.created < ?"
    params = [lo.to_pydatetime(), hi.to_pydatetime()]
    frames = []
    zl = ", ".join("?" for _ in zones)
    if "rome_zone" in levels or "zone_total" in levels:
        df = store.query(
            f"SELECT o.zone, o.rome AS key, date_trunc('month', o.created) AS ds, {value} AS y FROM offers o "
            f"WHERE {cond} AND o.zone IN ({zl}) GROUP BY ALL", params + zones)
        if df.empty:
            raise DataError(f"no offers for zone(s) {', '.join(zones)} between {start} and {end}: empty selection")
        if "rome_zone" in levels:
            frames.append(df.assign(level="rome_zone"))
        if "zone_total" in levels:
            frames.append(df.groupby(["zone", "ds"], as_index=False)["y"].sum().assign(level="zone_total", key=""))
    if "skill_zone" in levels:
        df = store.query(
            f"SELECT o.zone, s.skill AS key, date_trunc('month', o.created) AS ds, {value} AS y "
            f"FROM offers o JOIN offer_skills s USING (offer_id) "
            f"WHERE {cond} AND o.zone IN ({zl}) GROUP BY ALL", params + zones)
        frames.append(df.assign(level="skill_zone"))
    if "region_total" in levels:
        communes = referential.load_communes()
        zone_reg = communes.groupby("zone")["reg"].agg(lambda s: s.mode().iloc[0])
        regions = sorted({zone_reg[z] for z in zones if z in zone_reg.index})
        reg_zones = sorted(set(zone_reg[zone_reg.isin(regions)].index))
        if reg_zones:
            rl = ", ".join("?" for _ in reg_zones)
            df = store.query(
                f"SELECT date_trunc('month', o.created) AS ds, {value} AS y FROM offers o "
                f"WHERE {cond} AND o.zone IN ({rl}) GROUP BY ALL", params + reg_zones)
            # One region in practice; several regions are summed into one total per region.
            df = df.assign(zone="R" + "+".join(regions), key="", level="region_total")
            frames.append(df)
    raw = pd.concat(frames, ignore_index=True)
    raw["ds"] = pd.to_datetime(raw["ds"]).dt.to_period("M").dt.to_timestamp()
    raw[S.UID] = [uid(lv, z, k) for lv, z, k in zip(raw["level"], raw["zone"], raw["key"])]
    from forecast.engine import anchor_length

    decided = months[anchor_length(len(months), max(1, int(refresh))) - 1].to_timestamp()
    if out is not None:
        catalog = _catalog(raw[[S.UID, S.DS, S.Y, S.LEVEL, S.ZONE, S.KEY]], min_total, top_skills, decided)
        if submit is not None:
            submit(_write_full_grid, raw[[S.UID, S.DS, S.Y, S.LEVEL, S.ZONE, S.KEY]], months, Path(out))
        else:
            _write_full_grid(raw, months, Path(out))
        keep = catalog.loc[catalog["modelled"] | catalog[S.LEVEL].isin(("zone_total", "region_total")), S.UID]
        series = _full_grid(raw[raw[S.UID].isin(set(keep))], months)
    else:
        series = _full_grid(raw, months)
        catalog = _catalog(series, min_total, top_skills, decided)
    log.info("%d series (%d modelled) over %d months", len(catalog), int(catalog["modelled"].sum()), len(months))
    return series, catalog


def _full_grid(raw: pd.DataFrame, months: pd.PeriodIndex) -> pd.DataFrame:
    keys = raw[[S.UID, S.LEVEL, S.ZONE, S.KEY]].drop_duplicates(S.UID).set_index(S.UID)
    ds = months.to_timestamp()
    grid = pd.MultiIndex.from_product([keys.index, ds], names=[S.UID, S.DS])
    y = raw.groupby([S.UID, S.DS])[S.Y].sum().astype(float).reindex(grid, fill_value=0.0)
    out = y.reset_index().join(keys, on=S.UID)
    out[S.DS] = out[S.DS].astype("datetime64[us]")
    return out[S.SERIES_COLUMNS].sort_values([S.UID, S.DS], kind="stable").reset_index(drop=True)


def _write_full_grid(raw: pd.DataFrame, months: pd.PeriodIndex, path: Path, chunk: int = 40_000) -> Path:
    """Every series of ``raw`` on every month (0 where no offer), sorted by unique_id then month, as
    :func:`_full_grid` gives it, written to Parquet (atomically) ``chunk`` series at a time: the same
    file without the whole grid in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from forecast.io import atomic_path

    raw = raw.sort_values(S.UID, kind="stable")
    uid = raw[S.UID].to_numpy(dtype=object)
    starts = np.r_[0, np.flatnonzero(uid[1:] != uid[:-1]) + 1] if len(uid) else np.zeros(0, dtype=int)
    edges = [*starts[::chunk].tolist(), len(uid)]
    with atomic_path(path) as tmp:
        writer = None
        try:
            for a, b in zip(edges[:-1], edges[1:]):
                table = pa.Table.from_pandas(_full_grid(raw.iloc[a:b], months), preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
            if writer is None:  # no series at all: an empty table with the columns
                _full_grid(raw, months).to_parquet(tmp, index=False)
        finally:
            if writer is not None:
                writer.close()
    return path


def _catalog(series: pd.DataFrame, min_total: float, top_skills: int,
             decided: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per series; ``modelled`` decided on the months up to ``decided`` (default: all)."""
    cat = series.groupby(S.UID, sort=True).agg(level=(S.LEVEL, "first"), zone=(S.ZONE, "first"),
                                               key=(S.KEY, "first"), total=(S.Y, "sum")).reset_index()
    if decided is None or decided >= series[S.DS].max():
        basis = cat["total"]
    else:
        upto = series[series[S.DS] <= decided]
        basis = upto.groupby(S.UID, sort=True)[S.Y].sum().reindex(cat[S.UID]).fillna(0.0).to_numpy()
        basis = pd.Series(basis, index=cat.index)
    romes = referential.load_rome_parents().set_index("code_rome")["libelle_rome"]
    skills = referential.load_skills().drop_duplicates("code_ogr").set_index("code_ogr")["libelle"]
    zones = referential.load_zones().set_index("zone")["libelle"]

    def label(level: str, zone: str, key: str) -> str:
        zl = zones.get(zone, zone)
        if level == "rome_zone":
            return f"{romes.get(key, key)} — {zl}"
        if level == "skill_zone":
            return f"{skills.get(key, key)} — {zl}"
        if level == "zone_total":
            return f"Toutes offres — {zl}"
        return f"Toutes offres — région {zone[1:]}"

    cat["label"] = [label(lv, z, k) for lv, z, k in zip(cat["level"], cat["zone"], cat["key"])]
    modelled = cat["level"].isin(["zone_total", "region_total"])
    modelled |= (cat["level"] == "rome_zone") & (basis >= min_total)
    sk = cat.assign(_basis=basis)[cat["level"] == "skill_zone"].sort_values(["zone", "_basis", S.UID],
                                                                           ascending=[True, False, True])
    top = sk.groupby("zone").head(top_skills)
    modelled |= cat[S.UID].isin(top[S.UID]) & (basis > 0)
    cat["modelled"] = modelled
    return cat[CATALOG_COLUMNS]


def read_series_file(path) -> pd.DataFrame:
    """Read a long series file (CSV or Parquet with unique_id, ds, y) and validate it."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: series file not found")
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype={S.UID: str}, sep=None, engine="python")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user-facing data error
        raise DataError(f"{path}: cannot read series file ({exc})") from None
    missing = [c for c in (S.UID, S.DS, S.Y) if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (need unique_id, ds, y)")
    df = df.copy()
    df[S.UID] = df[S.UID].astype(str)
    ds = pd.to_datetime(df[S.DS], errors="coerce")
    bad = df.index[ds.isna()]
    if len(bad):
        raise DataError(f"{path}: row {int(bad[0]) + 2}: field ds: not a date ({df.loc[bad[0], S.DS]!r})")
    notstart = df.index[ds.dt.day != 1]
    if len(notstart):
        raise DataError(f"{path}: row {int(notstart[0]) + 2}: field ds: {ds[notstart[0]].date()} is not a month start "
                        "(monthly series need the first day of each month)")
    df[S.DS] = ds.astype("datetime64[us]")
    y = pd.to_numeric(df[S.Y], errors="coerce")
    bad = df.index[y.isna() & df[S.Y].notna()]
    if len(bad):
        raise DataError(f"{path}: row {int(bad[0]) + 2}: field y: not a number ({df.loc[bad[0], S.Y]!r})")
    df[S.Y] = y.fillna(0.0).astype(float)
    dup = df.index[df.duplicated([S.UID, S.DS], keep="first")]
    if len(dup):
        r = df.loc[dup[0]]
        raise DataError(f"{path}: row {int(dup[0]) + 2}: duplicate (unique_id, ds) = ({r[S.UID]}, {r[S.DS].date()})")
    # Missing months inside a series are zeros (counts), never silently dropped.
    parts = []
    for key, g in df.sort_values([S.UID, S.DS]).groupby(S.UID, sort=True):
        idx = pd.date_range(g[S.DS].min(), g[S.DS].max(), freq="MS")
        parts.append(g.set_index(S.DS)[S.Y].reindex(idx, fill_value=0.0).rename_axis(S.DS).reset_index().assign(unique_id=key))
    out = pd.concat(parts, ignore_index=True)
    out[S.DS] = out[S.DS].astype("datetime64[us]")
    for col, default in ((S.LEVEL, "series"), (S.ZONE, ""), (S.KEY, "")):
        if col in df.columns:
            out = out.merge(df[[S.UID, col]].drop_duplicates(S.UID), on=S.UID, how="left")
        else:
            out[col] = default
    return out[S.SERIES_COLUMNS]
