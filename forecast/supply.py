"""Supply projection: people available per month, per (occupation, zone), by component and status.

Training: a session ends with ``places x completion_rate`` graduates, of whom ``insertion_rate`` go into
the target occupation, available ``delay_months`` after the month the session ends. Sessions in the
data are ``scheduled``; recurring programmes (sessions that started in at least two different years,
the latest within the last two years) are projected yearly after their latest session, same calendar,
duration and size: ``projected``, weighted by ``p_recurrence``, the share of the programme's years
(first to last) in which it actually ran (its recurrence uncertainty; the gap draws each projected
session as a Bernoulli of that probability).

Job seekers (when given): the registered stock per (occupation, zone) at the last observed month
times a monthly ``outflow_rate`` (share of the stock that takes a job in the occupation each month).

Rates are set per professional domain (``"J15"``) or grand domain (``"J"``) of the ROME code, with a
default: see :class:`SupplyRates`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.errors import DataError

SESSION_NEEDED = [S.PROGRAMME, S.ROME, S.ZONE, S.START, S.END, S.PLACES]
P_RECURRENCE = "p_recurrence"
JOB_SEEKER_COLUMNS = ["mois", "zone", "rome", "demandeurs"]


@dataclass(frozen=True)
class SupplyRates:
    """Rates of the supply projection, with per-domain overrides.

    ``completion_rate``: share of the places that end with a qualification (default 0.8).
    ``insertion_rate``: share of graduates who take a job in the target occupation (default 0.7).
    ``delay_months``: months between the end of a session and graduates being available (default 1).
    ``outflow_rate``: monthly share of registered job seekers who take a job in their occupation (0.05).
    ``by_domain``: {domain or grand domain: {rate name: value}}; the most specific key wins.
    """

    completion_rate: float = 0.8
    insertion_rate: float = 0.7
    delay_months: int = 1
    outflow_rate: float = 0.05
    by_domain: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_rates({"completion_rate": self.completion_rate, "insertion_rate": self.insertion_rate,
                     "outflow_rate": self.outflow_rate}, "supply")
        if self.delay_months < 0:
            raise DataError(f"supply: delay_months must be >= 0, got {self.delay_months}")
        for dom, rates in self.by_domain.items():
            check_rates({k: v for k, v in rates.items() if k != "delay_months"}, f"supply domain {dom}")
            if rates.get("delay_months", 0) < 0:
                raise DataError(f"supply domain {dom}: delay_months must be >= 0")

    def get(self, rome: str, name: str) -> float:
        """The rate ``name`` for a historic ROME code: domain (``J15``), then grand domain (``J``), then default."""
        for key in (rome[:3], rome[:1]):
            if key in self.by_domain and name in self.by_domain[key]:
                return float(self.by_domain[key][name])
        return float(getattr(self, name))


def check_rates(rates: dict[str, float], what: str) -> None:
    """Raise :class:`DataError` for a rate outside [0, 1]."""
    for name, v in rates.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= float(v) <= 1:
            raise DataError(f"{what}: {name} must be in [0, 1], got {v!r}")


def project_sessions(sessions: pd.DataFrame, asof: pd.Timestamp, until: pd.Timestamp,
                     projection_years: int = 3) -> pd.DataFrame:
    """Sessions of the data plus projected future sessions of recurring programmes, with ``status``
    and ``p_recurrence`` (1 for scheduled sessions)."""
    S.require_columns(sessions, SESSION_NEEDED, "sessions")
    data = sessions.assign(status="scheduled", **{P_RECURRENCE: 1.0})
    if data.empty:
        return data
    proj = []
    for programme, g in data.sort_values([S.PROGRAMME, S.START]).groupby(S.PROGRAMME, sort=True):
        years = g[S.START].dt.year
        last = g.iloc[-1]
        if years.nunique() < 2 or last[S.START] < asof - pd.DateOffset(years=2):
            continue
        p = years.nunique() / (years.max() - years.min() + 1)
        duration = last[S.END] - last[S.START]
        for k in range(1, projection_years + 1):
            start = last[S.START] + pd.DateOffset(years=k)
            end = start + duration
            if end > until:
                break
            row = last.copy()
            row[S.START], row[S.END] = start, end
            row[S.SESSION_ID] = f"{last.get(S.SESSION_ID, programme)}+{k}y" if S.SESSION_ID in row else ""
            row["status"] = "projected"
            row[P_RECURRENCE] = float(p)
            proj.append(row)
    if proj:
        data = pd.concat([data, pd.DataFrame(proj)], ignore_index=True)
    return data.reset_index(drop=True)


def supply_from_sessions(sessions: pd.DataFrame, zones: list[str] | tuple[str, ...], start: str,
                         until: pd.Timestamp, completion_rate: float = 0.8, delay_months: int = 1,
                         rates: SupplyRates | None = None) -> pd.DataFrame:
    """Monthly people per (zone, rome, ds, component="training", status) in schema.SUPPLY_COLUMNS
    + ``p_recurrence``. Without ``rates``: ``completion_rate`` and ``delay_months``, insertion 1."""
    s = sessions[sessions[S.ZONE].isin(list(zones))]
    if P_RECURRENCE not in s.columns:
        s = s.assign(**{P_RECURRENCE: 1.0})
    if s.empty:
        return pd.DataFrame(columns=[*S.SUPPLY_COLUMNS, P_RECURRENCE]).astype({S.SUPPLY: float, P_RECURRENCE: float})
    romes = s[S.ROME].astype(str)
    if rates is None:
        factor = np.full(len(s), float(completion_rate))
        delay = np.full(len(s), int(delay_months))
    else:
        factor = np.array([rates.get(r, "completion_rate") * rates.get(r, "insertion_rate") for r in romes])
        delay = np.array([int(rates.get(r, "delay_months")) for r in romes])
    end_month = s[S.END].dt.to_period("M")
    ds = pd.PeriodIndex([m + int(d) for m, d in zip(end_month, delay)], freq="M").to_timestamp()
    p = s[P_RECURRENCE].astype(float).to_numpy()
    out = pd.DataFrame({S.ZONE: s[S.ZONE].values, S.ROME: romes.values, S.DS: ds.values,
                        S.SUPPLY: s[S.PLACES].astype(float).to_numpy() * factor * p,
                        S.COMPONENT: "training", S.STATUS: s["status"].values, P_RECURRENCE: p})
    lo = pd.Timestamp(start)
    out = out[(out[S.DS] >= lo) & (out[S.DS] <= until)]
    out = out.groupby([S.ZONE, S.ROME, S.DS, S.COMPONENT, S.STATUS, P_RECURRENCE], as_index=False)[S.SUPPLY].sum()
    out[S.DS] = out[S.DS].astype("datetime64[us]")
    cols = [*S.SUPPLY_COLUMNS, P_RECURRENCE]
    return out[cols].sort_values([S.ZONE, S.ROME, S.DS, S.STATUS]).reset_index(drop=True)


def read_job_seekers(path: Path) -> pd.DataFrame:
    """Read ``mois;zone;rome;demandeurs`` (the demo's ``demandeurs_emploi.csv``); clear errors."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: job seekers file not found")
    try:
        df = pd.read_csv(path, sep=None, engine="python", dtype=str)
    except Exception as exc:  # noqa: BLE001 - reader failure becomes one clear error
        raise DataError(f"{path}: cannot read job seekers ({exc})") from None
    missing = [c for c in JOB_SEEKER_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (expected mois;zone;rome;demandeurs)")
    n = pd.to_numeric(df["demandeurs"], errors="coerce")
    bad = n.isna() | (n < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(f"{path}: row {row}: field demandeurs: not a number >= 0 ({df['demandeurs'].iloc[row - 2]!r})")
    try:
        ds = pd.to_datetime(df["mois"], format="%Y-%m")
    except ValueError as exc:
        raise DataError(f"{path}: field mois: expected YYYY-MM ({exc})") from None
    return pd.DataFrame({S.DS: ds, S.ZONE: df["zone"].str.zfill(4), S.ROME: df["rome"], "demandeurs": n.astype(float)})


def job_seeker_supply(job_seekers: pd.DataFrame, zones: list[str] | tuple[str, ...], months: pd.DatetimeIndex,
                      rates: SupplyRates) -> pd.DataFrame:
    """Monthly people from the job-seeker stock: last observed stock x outflow rate, every month."""
    js = job_seekers[job_seekers[S.ZONE].isin(list(zones))]
    if js.empty or len(months) == 0:
        return pd.DataFrame(columns=[*S.SUPPLY_COLUMNS, P_RECURRENCE]).astype({S.SUPPLY: float, P_RECURRENCE: float})
    last = js[js[S.DS] == js[S.DS].max()]
    flow = last[S.ROME].map(lambda r: rates.get(r, "outflow_rate")).to_numpy() * last["demandeurs"].to_numpy()
    base = pd.DataFrame({S.ZONE: last[S.ZONE].values, S.ROME: last[S.ROME].values, S.SUPPLY: flow})
    base = base[base[S.SUPPLY] > 0]
    out = base.merge(pd.DataFrame({S.DS: months.astype("datetime64[us]")}), how="cross")
    out[S.COMPONENT], out[S.STATUS], out[P_RECURRENCE] = "job_seekers", "projected", 1.0
    return out[[*S.SUPPLY_COLUMNS, P_RECURRENCE]].sort_values([S.ZONE, S.ROME, S.DS]).reset_index(drop=True)


def project_supply(sessions: pd.DataFrame, zones: list[str] | tuple[str, ...], start: str, asof: str,
                   horizon: int, completion_rate: float = 0.8, projection_years: int = 3,
                   rates: SupplyRates | None = None, job_seekers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The supply stage: scheduled + projected sessions (-> graduates) and, when given, the job-seeker
    outflow, per month up to asof + horizon. ``rates`` (per domain) replaces ``completion_rate``."""
    check_rates({"completion_rate": completion_rate}, "supply")
    asof_ts = pd.Period(asof, "M").to_timestamp()
    until = (pd.Period(asof, "M") + horizon).to_timestamp()
    projected = project_sessions(sessions, asof_ts, until + pd.DateOffset(months=1), projection_years)
    parts = [supply_from_sessions(projected, zones, start, until, completion_rate, rates=rates)]
    if job_seekers is not None:
        months = pd.date_range(asof_ts + pd.DateOffset(months=1), until, freq="MS")
        parts.append(job_seeker_supply(job_seekers, zones, months, rates or SupplyRates(completion_rate)))
    parts = [p for p in parts if len(p)]
    if not parts:
        return supply_from_sessions(projected.iloc[:0], zones, start, until)
    return pd.concat(parts, ignore_index=True).sort_values([S.ZONE, S.ROME, S.DS, S.COMPONENT, S.STATUS]
                                                          ).reset_index(drop=True)
