"""The Theta method (Assimakopoulos & Nikolopoulos 2000) as SES with drift (Hyndman & Billah 2003).

1. Seasonality: when the series covers at least ``3 * season_length`` months and its lag-m
   autocorrelation passes the 90 % test of the M3 Theta method
   (|r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)), the series is seasonally adjusted by a
   classical decomposition: multiplicative when every value is positive, additive otherwise
   (counts with zeros).
2. The adjusted series x is forecast by simple exponential smoothing (alpha chosen by least
   squares in [0.01, 0.99]) plus half the slope b of the linear trend of x:
   x_hat(n + k) = l_n + b / 2 * ((k - 1) + 1 / alpha - (1 - alpha)^n / alpha).
3. Intervals: the SES ones, sigma * sqrt(1 + (k - 1) alpha^2) with sigma the one-step residual
   standard deviation, normal on the adjusted scale; then re-seasonalised.

A constant series gets a flat forecast; fewer than 4 months fall back to the mean and standard
deviation (``fallback_`` is True).
"""
from __future__ import annotations

import numpy as np

from forecast.models.base import Model, constant_forecast, normal_quantiles


def _acf(x: np.ndarray, nlags: int) -> np.ndarray:
    x = x - x.mean()
    den = float(np.dot(x, x))
    if den == 0:
        return np.zeros(nlags + 1)
    return np.array([1.0] + [float(np.dot(x[k:], x[:-k])) / den for k in range(1, nlags + 1)])


def seasonal_indices(y: np.ndarray, m: int, multiplicative: bool) -> np.ndarray | None:
    """Seasonal indices (length m, by phase of the position in y) of a classical decomposition,
    or None when the 90 % autocorrelation test finds no seasonality."""
    n = len(y)
    if m < 2 or n < 3 * m:
        return None
    r = _acf(y, m)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[1:m] ** 2)) / n)
    if abs(r[m]) <= limit:
        return None
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.convolve(y, w, mode="valid")
    off = (len(w) - 1) // 2
    seg = y[off: off + len(trend)]
    detr = seg / trend if multiplicative else seg - trend
    phase = (np.arange(len(detr)) + off) % m
    idx = np.array([detr[phase == p].mean() for p in range(m)])
    if multiplicative:
        if not np.all(np.isfinite(idx)) or np.any(idx <= 0):
            return None
        return idx / idx.mean()
    return idx - idx.mean()


def ses(x: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """One-step SES forecasts (initial level x[0]) and the final level."""
    from scipy.signal import lfilter

    level, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], x, zi=[(1.0 - alpha) * x[0]])
    fitted = np.r_[x[0], level[:-1]]
    return fitted, float(level[-1])


class Theta(Model):
    """Standard Theta method (theta = 2) with the M3 seasonal test; see the module docstring."""

    name = "theta"

    def __init__(self, season_length: int = 12) -> None:
        super().__init__(season_length=season_length)

    def _fit(self, y: np.ndarray) -> None:
        self.constant_ = None
        self.seasonal_ = None
        self.fallback_ = False
        if np.ptp(y) == 0:
            self.constant_ = float(y[0])
            return
        n, m = len(y), int(self.season_length)
        self.multiplicative_ = bool(np.all(y > 0))
        self.seasonal_ = seasonal_indices(y, m, self.multiplicative_)
        x = y
        if self.seasonal_ is not None:
            s = self.seasonal_[np.arange(n) % m]
            x = y / s if self.multiplicative_ else y - s
        if n < 4:
            self.fallback_ = True
            self.level_, self.sigma_ = float(x.mean()), float(x.std(ddof=1)) if n > 1 else float(np.sqrt(x[0] + 1))
            return
        from scipy.optimize import minimize_scalar

        def sse(a: float) -> float:
            f, _ = ses(x, a)
            return float(np.sum((x[1:] - f[1:]) ** 2))

        self.alpha_ = float(minimize_scalar(sse, bounds=(0.01, 0.99), method="bounded",
                                            options={"xatol": 1e-4}).x)
        fitted, self.level_ = ses(x, self.alpha_)
        t = np.arange(n)
        self.slope_ = float(np.polyfit(t, x, 1)[0])
        resid = x[1:] - fitted[1:]
        self.sigma_ = float(np.sqrt(np.mean(resid**2)))

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.constant_ is not None:
            return constant_forecast(self.constant_, h)
        k = np.arange(1, h + 1)
        if self.fallback_:
            mu = np.full(h, self.level_)
            sd = np.full(h, self.sigma_)
        else:
            a, n = self.alpha_, self.n_obs_
            mu = self.level_ + 0.5 * self.slope_ * ((k - 1) + 1 / a - (1 - a) ** n / a)
            sd = self.sigma_ * np.sqrt(1 + (k - 1) * a**2)
        q = normal_quantiles(mu, sd)
        if self.seasonal_ is not None:
            s = self.seasonal_[(self.n_obs_ + k - 1) % int(self.season_length)]
            if self.multiplicative_:
                mu, q = mu * s, q * s[None, :]
            else:
                mu, q = mu + s, q + s[None, :]
        return mu, q
