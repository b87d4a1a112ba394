"""Prophet with yearly seasonality only, on a variance-stabilised scale.

The model sees numpy only: synthetic month-start dates from 2000-01-01 are built internally (the
phase does not matter for a yearly seasonality of monthly data). Prophet is imported lazily, inside
:meth:`ProphetModel._fit`, so that importing :mod:`forecast.models` stays fast; the plotly
warning of ``import prophet`` is filtered there, locally, and cmdstanpy is silenced only around
the fit (``cmdstanpy.disable_logging()`` as a context manager).

Uncertainty: Prophet's predictive samples (trend changepoints + observation noise) on the
transformed scale, drawn with numpy's legacy generator seeded by ``seed`` (the global state is
restored afterwards); the mean and the quantiles are those of the back-transformed samples, which
bias-corrects the mean. With ``uncertainty_samples=0`` the quantiles come from the in-sample
residual standard deviation instead (normal on the transformed scale), which is faster.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from forecast.models.base import Model, Transform, constant_forecast
from forecast.schema import QUANTILE_LEVELS

_ORIGIN = "2000-01-01"


class _DropPlotlyWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "plotly" not in record.getMessage().lower()


def _import_prophet() -> Any:
    """Import Prophet with its plotly complaint filtered locally (logger ``prophet.plot``)."""
    logger = logging.getLogger("prophet.plot")
    filt = _DropPlotlyWarning()
    logger.addFilter(filt)
    try:
        from prophet import Prophet
    finally:
        logger.removeFilter(filt)
    return Prophet


class ProphetModel(Model):
    """Prophet (linear trend, yearly Fourier seasonality) on log1p/sqrt counts.

    Series shorter than one season get a flat trend (a linear trend through a few months
    extrapolates wildly); the yearly seasonality needs two seasons.
    """

    name = "prophet"
    requires = ("prophet",)

    def __init__(
        self,
        season_length: int = 12,
        transform: str = "log1p",
        yearly_order: int = 4,
        changepoint_prior_scale: float = 0.05,
        seasonality_prior_scale: float = 10.0,
        uncertainty_samples: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__(season_length=season_length)
        Transform(transform)
        self.transform = transform
        self.yearly_order = yearly_order
        self.changepoint_prior_scale = changepoint_prior_scale
        self.seasonality_prior_scale = seasonality_prior_scale
        self.uncertainty_samples = uncertainty_samples
        self.seed = seed

    def _fit(self, y: np.ndarray) -> None:
        self.constant_ = None
        self.model_ = None
        if np.ptp(y) == 0 or len(y) < 3:
            self.constant_ = float(y.mean())
            return
        Prophet = _import_prophet()
        import cmdstanpy

        tr = Transform(self.transform)
        z = tr.forward(y)
        n = len(z)
        df = pd.DataFrame({"ds": pd.date_range(_ORIGIN, periods=n, freq="MS"), "y": z})
        yearly = self.yearly_order if n >= 2 * int(self.season_length) else False
        model = Prophet(
            growth="linear" if n >= int(self.season_length) else "flat",
            yearly_seasonality=yearly,
            weekly_seasonality=False,
            daily_seasonality=False,
            n_changepoints=min(25, max(0, int(0.8 * n) - 1)),
            changepoint_prior_scale=self.changepoint_prior_scale,
            seasonality_prior_scale=self.seasonality_prior_scale,
            uncertainty_samples=0,
        )
        with cmdstanpy.disable_logging():
            model.fit(df, seed=int(self.seed))
        fitted = model.predict(df[["ds"]])["yhat"].to_numpy()
        dof = max(n - 2 - 2 * (yearly or 0), 1)
        self.sigma_ = float(np.sqrt(np.sum((z - fitted) ** 2) / dof))
        self.model_ = model

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.constant_ is not None:
            return constant_forecast(self.constant_, h)
        tr = Transform(self.transform)
        model = self.model_
        future = pd.DataFrame({"ds": pd.date_range(_ORIGIN, periods=self.n_obs_ + h, freq="MS")[-h:]})
        if self.uncertainty_samples and self.uncertainty_samples > 0:
            model.uncertainty_samples = int(self.uncertainty_samples)
            state = np.random.get_state()
            try:
                np.random.seed(int(self.seed))
                samples = model.predictive_samples(future)["yhat"]  # (h, n_samples)
            finally:
                np.random.set_state(state)
                model.uncertainty_samples = 0
            back = tr.inverse(np.asarray(samples, dtype=float))
            return back.mean(axis=1), np.quantile(back, QUANTILE_LEVELS, axis=1)
        mu = model.predict(future)["yhat"].to_numpy()
        sigma = np.full(h, self.sigma_)
        return tr.mean(mu, sigma), tr.quantiles(mu, sigma)
