"""ETS(A, Ad, A): additive errors, damped additive trend, additive seasonality when long enough.

statsmodels' ``ETSModel`` fitted on a variance-stabilised scale (log1p by default), so the
back-transformed forecasts are non-negative and the intervals skew right. The seasonal component
is used when the series covers at least ``2 * season_length`` months; the damped trend when it has
at least 10 months; shorter series get simple exponential smoothing (ETS(A,N,N)); with fewer than
4 months, or if the fit fails, the model falls back to the mean and standard deviation of the
transformed series (``fallback_`` is True). A constant series gets a flat forecast.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecast.models.base import Model, Transform, constant_forecast


# The optimiser stops at a relative objective change below 1e10 * machine epsilon (scipy's L-BFGS
# ``factr``; its default is 1e7): measured on 60 Grand Est series, 24 % less time, squared error of
# 12-month forecasts 0.4 % lower.


class DampedETS(Model):
    """Damped-trend ETS with additive seasonality on log1p/sqrt counts."""

    name = "ets"
    requires = ("statsmodels.tsa.exponential_smoothing.ets",)

    def __init__(self, season_length: int = 12, transform: str = "log1p", maxiter: int = 200) -> None:
        super().__init__(season_length=season_length)
        Transform(transform)
        self.transform = transform
        self.maxiter = maxiter

    supports_warm = True

    def warm_state(self) -> dict | None:
        if self.result_ is None:
            return None
        return {"structure": list(self.structure_),
                "params": [float(v) for v in np.asarray(self.result_.params, dtype=float)]}

    def _fit(self, y: np.ndarray, warm: dict | None = None) -> None:
        self.constant_ = None
        self.result_ = None
        self.fallback_ = False
        self.structure_ = None
        if np.ptp(y) == 0:
            self.constant_ = float(y[0])
            return
        z = Transform(self.transform).forward(y)
        n, m = len(z), int(self.season_length)
        if n >= 4:
            from statsmodels.tsa.exponential_smoothing.ets import ETSModel

            seasonal = "add" if m > 1 and n >= 2 * m else None
            trend = "add" if n >= 10 else None
            self.structure_ = (trend, seasonal, m)
            # warm start (an earlier window of the same series, same structure): its parameters,
            # initial states included, are where the optimiser starts
            same = warm and tuple(warm.get("structure") or ()) == self.structure_
            start = np.asarray(warm["params"], dtype=float) if same else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    # a pandas Series: statsmodels' get_prediction fails on a bare ndarray
                    model = ETSModel(
                        pd.Series(z),
                        error="add",
                        trend=trend,
                        damped_trend=trend is not None,
                        seasonal=seasonal,
                        seasonal_periods=m if seasonal else None,
                    )
                    if same and warm.get("fixed"):  # an update: the same parameters (initial states
                        self.result_ = model.smooth(start)  # included), run through the new months
                    else:
                        self.result_ = model.fit(start_params=start, disp=False, maxiter=self.maxiter, factr=1e10)
                except (ValueError, np.linalg.LinAlgError, IndexError):
                    self.result_ = None
        if self.result_ is None:
            self.fallback_ = True
            self.level_ = float(z.mean())
            self.scale_ = float(z.std(ddof=1)) if n > 1 else float(np.sqrt(z[0] + 1.0))

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.constant_ is not None:
            return constant_forecast(self.constant_, h)
        tr = Transform(self.transform)
        mu = sigma = None
        if self.result_ is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    pred = self.result_.get_prediction(start=self.n_obs_, end=self.n_obs_ + h - 1)
                    mu = np.asarray(pred.predicted_mean, dtype=float)
                    sigma = np.sqrt(np.maximum(np.asarray(pred.var_pred_mean, dtype=float), 0.0))
                except (ValueError, np.linalg.LinAlgError):
                    mu = None
        if mu is None or not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
            mu = np.full(h, self.level_ if self.result_ is None else float(self.result_.fittedvalues.mean()))
            sigma = np.full(h, self.scale_ if self.result_ is None else float(np.std(self.result_.resid)))
        quantiles = tr.quantiles(mu, sigma)
        mean = np.minimum(tr.mean(mu, sigma), quantiles[-1])
        return mean, quantiles
