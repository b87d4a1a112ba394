"""Supply of trained people (first version): graduates per month per (occupation, zone).

A session ends with ``places x completion_rate`` graduates, available the month after its end
(``delay_months``). Sessions in the data are ``scheduled``; recurring programmes (sessions that
started in at least two different years, the latest within the last two years) are projected
yearly after their latest session, same calendar, duration and size: ``projected``.
"""
from __future__ import annotations

import pandas as pd

from forecast import schema as S

SESSION_NEEDED = [S.PROGRAMME, S.ROME, S.ZONE, S.START, S.END, S.PLACES]


def project_sessions(sessions: pd.DataFrame, asof: pd.Timestamp, until: pd.Timestamp,
                     projection_years: int = 3) -> pd.DataFrame:
    """Sessions of the data plus projected future sessions of recurring programmes, with ``status``."""
    S.require_columns(sessions, SESSION_NEEDED, "sessions")
    data = sessions.assign(status="scheduled")
    if data.empty:
        return data
    proj = []
    for programme, g in data.sort_values([S.PROGRAMME, S.START]).groupby(S.PROGRAMME, sort=True):
        years = g[S.START].dt.year.nunique()
        last = g.iloc[-1]
        if years < 2 or last[S.START] < asof - pd.DateOffset(years=2):
            continue
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
            proj.append(row)
    if proj:
        data = pd.concat([data, pd.DataFrame(proj)], ignore_index=True)
    return data.reset_index(drop=True)


def supply_from_sessions(sessions: pd.DataFrame, zones: list[str] | tuple[str, ...], start: str,
                         until: pd.Timestamp, completion_rate: float = 0.8, delay_months: int = 1
                         ) -> pd.DataFrame:
    """Monthly graduates per (zone, rome, ds, component="training", status) in schema.SUPPLY_COLUMNS."""
    s = sessions[sessions[S.ZONE].isin(list(zones))]
    if s.empty:
        return pd.DataFrame(columns=S.SUPPLY_COLUMNS).astype({S.SUPPLY: float})
    ds = (s[S.END].dt.to_period("M") + delay_months).dt.to_timestamp()
    out = pd.DataFrame({S.ZONE: s[S.ZONE].values, S.ROME: s[S.ROME].values, S.DS: ds.values,
                        S.SUPPLY: s[S.PLACES].astype(float).values * completion_rate,
                        S.COMPONENT: "training", S.STATUS: s["status"].values})
    lo = pd.Timestamp(start)
    out = out[(out[S.DS] >= lo) & (out[S.DS] <= until)]
    out = out.groupby([S.ZONE, S.ROME, S.DS, S.COMPONENT, S.STATUS], as_index=False)[S.SUPPLY].sum()
    out[S.DS] = out[S.DS].astype("datetime64[us]")
    return out[S.SUPPLY_COLUMNS].sort_values([S.ZONE, S.ROME, S.DS, S.STATUS]).reset_index(drop=True)


def project_supply(sessions: pd.DataFrame, zones: list[str] | tuple[str, ...], start: str, asof: str,
                   horizon: int, completion_rate: float = 0.8, projection_years: int = 3) -> pd.DataFrame:
    """The supply stage: scheduled + projected sessions -> monthly graduates up to asof + horizon."""
    if not 0 <= completion_rate <= 1:
        raise ValueError(f"completion_rate must be in [0, 1], got {completion_rate}")
    asof_ts = pd.Period(asof, "M").to_timestamp()
    until = (pd.Period(asof, "M") + horizon).to_timestamp()
    projected = project_sessions(sessions, asof_ts, until + pd.DateOffset(months=1), projection_years)
    return supply_from_sessions(projected, zones, start, until, completion_rate)
