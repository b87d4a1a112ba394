"""Signals from sample paths: change, intervals, emerging / declining / stable lists."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast import schema as S
from forecast.paths import SamplePaths
from forecast.signals import SIGNAL_COLUMNS, compute_signals

HIST = pd.date_range("2022-01-01", periods=24, freq="MS")
FUT = pd.date_range("2024-01-01", periods=12, freq="MS")


def test_signals_classify_and_use_path_totals() -> None:
    rng = np.random.default_rng(0)
    history = pd.concat([pd.DataFrame({S.UID: u, S.DS: HIST, S.Y: 10.0}) for u in ("up", "down", "flat", "noisy", "new")])
    history.loc[history[S.UID] == "new", S.Y] = 0.0
    base = {"up": 15.0, "down": 6.0, "flat": 10.0, "noisy": 10.0, "new": 3.0}
    spread = {"up": 0.5, "down": 0.5, "flat": 0.2, "noisy": 8.0, "new": 0.5}
    vals = np.stack([np.maximum(rng.normal(base[u], spread[u], (400, 12)), 0) for u in base]).astype(np.float32)
    paths = SamplePaths(np.array(list(base), dtype=object), FUT, vals)
    sig = compute_signals(paths, history, months=12, level=0.8, threshold=0.1).set_index(S.UID)
    assert list(sig.reset_index().columns) == SIGNAL_COLUMNS
    assert sig.loc["up", "signal"] == "emerging" and sig.loc["up", "change"] == pytest.approx(0.5, abs=0.02)
    assert sig.loc["down", "signal"] == "declining"
    assert sig.loc["flat", "signal"] == "stable"
    assert sig.loc["noisy", "signal"] == "uncertain"
    assert sig.loc["new", "signal"] == "emerging" and np.isnan(sig.loc["new", "change"])
    # the interval of the total comes from the paths' totals
    tot = vals[0].sum(axis=1)
    assert sig.loc["up", "forecast_lo"] == pytest.approx(np.quantile(tot, 0.1), rel=1e-5)
    assert sig.loc["up", "recent_total"] == 120.0
    assert sig.index[0] == "up"  # sorted by change, largest first
