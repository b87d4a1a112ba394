"""Column names and frame contracts shared by every stage (see ARCHITECTURE.md).

Every stage boundary validates its frames with :func:`require_columns`.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from forecast.errors import DataError

# --- offers ---------------------------------------------------------------
OFFER_ID = "offer_id"
CREATED = "created"          # date the offer was created (datetime64, day precision)
ZONE = "zone"                # ZE2020 code, 4 characters ("4413")
COMMUNE = "commune"          # INSEE commune code, 5 characters ("51454")
ROME = "rome"                # historic ROME code (code_rome_parent, one of 532)
ROME_FICHE = "rome_fiche"    # ROME 4.0 fiche code as given by the offer
POSITIONS = "positions"      # nombrePostes (int >= 1)
SOURCE = "source"            # file the offer came from
TITLE = "title"
OFFER_COLUMNS = [OFFER_ID, CREATED, ZONE, COMMUNE, ROME, ROME_FICHE, POSITIONS, SOURCE]

# --- offer_skills -----------------------------------------------------------
SKILL = "skill"              # OGR code as string
REQUIRED = "required"        # bool: exigence == "E"
OFFER_SKILL_COLUMNS = [OFFER_ID, SKILL, REQUIRED]

# --- training sessions --------------------------------------------------------
SESSION_ID = "session_id"
PROGRAMME = "programme"      # programme (action) identifier, stable across years
PROGRAMME_TITLE = "programme_title"
START = "start"
END = "end"
PLACES = "places"
SESSION_COLUMNS = [SESSION_ID, PROGRAMME, PROGRAMME_TITLE, ROME, ZONE, COMMUNE, START, END, PLACES, SOURCE]

# --- series (long, Nixtla style) ------------------------------------------------
UID = "unique_id"
DS = "ds"                    # month start, freq "MS"
Y = "y"                      # float >= 0
LEVEL = "level"              # "rome_zone", "skill_zone", "zone_total", "region_total", ...
KEY = "key"                  # the ROME code or skill code ("" for totals)
SERIES_COLUMNS = [UID, DS, Y, LEVEL, ZONE, KEY]

# --- forecasts -------------------------------------------------------------------
MODEL = "model"
MEAN = "mean"
QUANTILE_LEVELS: tuple[float, ...] = (0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)


def qcol(level: float) -> str:
    """Column name of a quantile level: 0.1 -> "q0.1"."""
    return f"q{level:g}"


QUANTILE_COLUMNS = [qcol(q) for q in QUANTILE_LEVELS]
FORECAST_COLUMNS = [UID, DS, MODEL, MEAN, *QUANTILE_COLUMNS]

# --- cross-validation and metrics -------------------------------------------------
CUTOFF = "cutoff"
CV_COLUMNS = [*FORECAST_COLUMNS, CUTOFF, Y]
METRIC = "metric"
VALUE = "value"
METRIC_COLUMNS = [UID, MODEL, METRIC, VALUE]

# --- supply and gap --------------------------------------------------------------
SUPPLY = "supply"
COMPONENT = "component"      # training | job_seekers
STATUS = "status"            # scheduled | projected
SUPPLY_COLUMNS = [ZONE, ROME, DS, SUPPLY, COMPONENT, STATUS]
GAP = "gap"
P_SHORTAGE = "p_shortage"
GAP_COLUMNS = [ZONE, ROME, DS, MEAN, *QUANTILE_COLUMNS, SUPPLY, GAP, P_SHORTAGE]


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`DataError` naming the frame and the missing columns."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)}")
