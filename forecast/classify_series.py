"""Syntetos-Boylan classification of demand series by ADI and CV².

ADI is the average inter-demand interval (months per non-zero month), CV² the squared coefficient
of variation of the non-zero demand sizes. With the usual cut-offs (ADI 1.32, CV² 0.49):
smooth (regular, stable sizes), erratic (regular, variable sizes), intermittent (sparse, stable
sizes), lumpy (sparse, variable sizes); a series without any demand is "zero".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecast import schema as S

ADI_CUT = 1.32
CV2_CUT = 0.49
CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "zero")
CLASS = "series_class"


def classify_values(y: np.ndarray) -> tuple[float, float, str]:
    """(ADI, CV², class) of one series."""
    y = np.asarray(y, dtype=float)
    nz = y[y > 0]
    if len(nz) == 0:
        return float("inf"), float("nan"), "zero"
    adi = len(y) / len(nz)
    cv2 = float(np.var(nz) / np.mean(nz) ** 2) if len(nz) > 1 else 0.0
    sparse, variable = adi >= ADI_CUT, cv2 >= CV2_CUT
    cls = ("lumpy" if variable else "intermittent") if sparse else ("erratic" if variable else "smooth")
    return float(adi), cv2, cls


def classify(series: pd.DataFrame, last_months: int | None = None) -> pd.DataFrame:
    """Class of each series of a long frame: columns unique_id, adi, cv2, series_class.

    ``last_months`` restricts the statistics to each series' most recent months (all by default).
    """
    S.require_columns(series, [S.UID, S.DS, S.Y], "series")
    rows = []
    for uid, g in series.sort_values([S.UID, S.DS]).groupby(S.UID, sort=True):
        y = g[S.Y].to_numpy(dtype=float)
        if last_months:
            y = y[-last_months:]
        rows.append((uid, *classify_values(y)))
    return pd.DataFrame(rows, columns=[S.UID, "adi", "cv2", CLASS])
