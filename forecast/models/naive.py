"""Seasonal naive: the value of the same month one season earlier, repeated.

Intervals (Hyndman & Athanasopoulos, FPP3 5.5): the in-sample seasonal differences
e_t = y_t - y_{t-m} give sigma = sqrt(mean(e^2)); the k-th step ahead (k = 1..h) has standard
deviation sigma * sqrt(floor((k - 1) / m) + 1): it grows with each season ahead. With
``interval="empirical"`` and at least two seasons of differences, the empirical quantiles of e are
used instead (scaled the same way): they keep the right skew of counts.

A series shorter than ``season_length + 1`` falls back to the naive forecast (last value, one-step
differences, sigma * sqrt(k)); a single observation gives a flat forecast with a Poisson-like
spread sqrt(y).
"""
from __future__ import annotations

import numpy as np

from forecast.models.base import Model, normal_quantiles
from forecast.schema import QUANTILE_LEVELS

INTERVALS = ("normal", "empirical")


class SeasonalNaive(Model):
    """y[t + k] = y[t + k - m]; see the module docstring for the intervals."""

    name = "seasonal_naive"

    def __init__(self, season_length: int = 12, interval: str = "normal") -> None:
        super().__init__(season_length=season_length)
        if interval not in INTERVALS:
            raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
        self.interval = interval

    def _fit(self, y: np.ndarray) -> None:
        m = max(int(self.season_length), 1)
        n = len(y)
        if n > m:
            self.lag_ = m
        else:
            self.lag_ = 1
        lag = self.lag_
        self.last_ = y[-lag:] if n >= lag else y[-1:]
        if n > lag:
            e = y[lag:] - y[:-lag]
            self.residuals_ = e
            self.sigma_ = float(np.sqrt(np.mean(e**2)))
        else:  # a single observation: Poisson-like spread
            self.residuals_ = np.zeros(0)
            self.sigma_ = float(np.sqrt(max(y[-1], 0.0)))

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        lag = len(self.last_)
        k = np.arange(h)
        mean = self.last_[k % lag]
        scale = np.sqrt(k // lag + 1.0)
        e = self.residuals_
        if self.interval == "empirical" and len(e) >= 2 * max(int(self.season_length), 1):
            q = np.quantile(e, QUANTILE_LEVELS)[:, None]
            quantiles = mean[None, :] + q * scale[None, :]
        else:
            quantiles = normal_quantiles(mean, self.sigma_ * scale)
        return mean.astype(float), quantiles
