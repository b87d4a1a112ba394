"""Vectorised cheap families: the same forecasts as the families' own classes, much faster."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from forecast import schema as S
from forecast.backtest import cross_validation
from forecast.engine import fit_predict
from forecast.executors import session
from forecast.fastpath import fit_many, supports
from forecast.models import make_model


def rows(seed: int, n: int, T: int) -> np.ndarray:
    """Sparse, dense, all-zero, constant and single-demand series."""
    rng = np.random.default_rng(seed)
    lam = np.exp(rng.normal(-0.5, 1.5, n))[:, None] * (1 + 0.4 * np.sin(np.arange(T) * 2 * np.pi / 12))[None, :]
    Y = rng.poisson(rng.gamma(2.0, lam / 2.0)).astype(float)
    Y[0] = 0.0
    Y[1] = 3.0
    Y[2] = 0.0
    Y[2, T // 2] = 4.0
    Y[3] = 0.0
    Y[3, -1] = 2.0
    return Y


CASES = [("seasonal_naive", {}), ("sba", {}), ("croston", {"alpha": 0.2}), ("tsb", {"alpha": 0.15, "alpha_p": 0.05}),
         ("ses", {}), ("seasonal_naive", {"season_length": 4}), ("theta", {}), ("theta", {"season_length": 4})]


@pytest.mark.parametrize("family,params", CASES)
@pytest.mark.parametrize("T", [1, 2, 5, 13, 40, 84])
def test_same_forecasts_as_the_model_classes(family: str, params: dict, T: int) -> None:
    Y = rows(T, 60, T)
    h = 7
    mean, q = fit_many(family, params, Y, h)
    for i, y in enumerate(Y):
        fc = make_model(family, **params).fit(y).predict(h)
        np.testing.assert_allclose(mean[i], fc.mean, rtol=1e-9, atol=1e-12, err_msg=f"{family} row {i}")
        np.testing.assert_allclose(q[i], fc.quantiles, rtol=1e-9, atol=1e-12, err_msg=f"{family} row {i}")


def test_supports_only_default_forms() -> None:
    assert supports("sba", {}) and supports("seasonal_naive", {"season_length": 12})
    assert not supports("seasonal_naive", {"interval": "empirical"})
    assert supports("theta", {}) and not supports("arima", {}) and not supports("ets", {})


def test_engine_uses_the_fast_path_with_identical_frames() -> None:
    Y = rows(3, 10, 40)
    frame = pd.concat([pd.DataFrame({S.UID: f"s{i:02d}", S.DS: pd.date_range("2021-01-01", periods=40, freq="MS"),
                                     S.Y: y}) for i, y in enumerate(Y)], ignore_index=True)
    specs = {"seasonal_naive": {}, "sba": {}, "tsb": {}, "theta": {}, "ets": {}}
    with session(fast=True):
        fast_cv = cross_validation(frame, specs, h=6, n_windows=2)
        fast_fc = fit_predict(frame, specs, h=6)
    with session(fast=False):
        slow_cv = cross_validation(frame, specs, h=6, n_windows=2)
        slow_fc = fit_predict(frame, specs, h=6)
    pdt.assert_frame_equal(fast_cv, slow_cv, rtol=1e-9)
    pdt.assert_frame_equal(fast_fc, slow_fc, rtol=1e-9)
