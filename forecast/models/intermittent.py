"""Models made for sparse counts: Croston, SBA (Syntetos-Boylan approximation) and TSB.

- Croston: exponential smoothing (``alpha``) of the non-zero demand sizes z and of the intervals
  p between them; rate = z / p. SBA multiplies it by (1 - alpha / 2) to remove Croston's bias.
- TSB (Teunter, Syntetos & Babai 2011): smooths the demand probability every month (``alpha_p``)
  and the size on demand months (``alpha``); rate = prob * size. Unlike Croston it decays when
  demand stops, so obsolete items fade out.

Forecasts are flat (rate per month). Quantiles come from a count distribution around the rate
(:func:`count_quantiles`): negative binomial with variance phi * mean, where the dispersion phi >= 1
is estimated from the in-sample one-step errors (Poisson when phi is about 1); so they are whole
numbers, non-negative, and most low quantiles of a sparse series are 0.
"""
from __future__ import annotations

import numpy as np

from forecast.models.base import Model, constant_forecast
from forecast.schema import QUANTILE_LEVELS


def count_quantiles(mean: np.ndarray, phi: float) -> np.ndarray:
    """Quantiles at ``QUANTILE_LEVELS`` of a count with this mean and variance ``phi * mean``
    (negative binomial, Poisson when phi <= 1.01): shape (len(levels), h)."""
    from scipy import stats  # lazy: scipy.stats is slow to import

    mu = np.maximum(np.asarray(mean, dtype=float).reshape(1, -1), 1e-12)
    lv = np.asarray(QUANTILE_LEVELS)[:, None]
    if phi <= 1.01:
        q = stats.poisson.ppf(lv, mu)
    else:
        n = mu / (phi - 1.0)
        q = stats.nbinom.ppf(lv, n, 1.0 / phi)
    q = np.where(np.asarray(mean).reshape(1, -1) <= 1e-12, 0.0, q)
    return np.nan_to_num(q, nan=0.0, posinf=0.0)


def dispersion(y: np.ndarray, fitted: np.ndarray) -> float:
    """Variance-to-mean ratio of the one-step errors, >= 1 (from the first demand on)."""
    nz = np.flatnonzero(y > 0)
    if len(nz) == 0:
        return 1.0
    start = nz[0] + 1
    e, f = y[start:] - fitted[start:], fitted[start:]
    if len(e) < 2 or f.sum() <= 0:
        return max(1.0, float(np.var(y[nz])) / max(float(np.mean(y[nz])), 1e-9))
    return float(max(1.0, np.sum(e**2) / np.sum(f)))


def _smooth(x: np.ndarray, alpha: float) -> np.ndarray:
    """SES levels after each observation, initialised at x[0]."""
    from scipy.signal import lfilter

    level, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], x, zi=[(1.0 - alpha) * x[0]])
    return level


class Croston(Model):
    """Croston's method; ``variant="sba"`` applies the Syntetos-Boylan bias correction."""

    name = "croston"
    _variant = "classic"

    def __init__(self, season_length: int = 12, alpha: float = 0.1) -> None:
        super().__init__(season_length=season_length)
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha

    def _fit(self, y: np.ndarray) -> None:
        y = np.maximum(y, 0.0)
        nz = np.flatnonzero(y > 0)
        self.rate_ = 0.0
        self.phi_ = 1.0
        if len(nz) == 0:
            return
        z = _smooth(y[nz], self.alpha)
        p = _smooth(np.diff(np.r_[-1, nz]).astype(float), self.alpha)
        factor = 1.0 - self.alpha / 2 if self._variant == "sba" else 1.0
        rates = factor * z / p
        self.rate_ = float(rates[-1])
        # one-step in-sample forecasts: the rate known after each demand, held until the next
        fitted = np.zeros(len(y))
        for j, i in enumerate(nz):
            fitted[i + 1: (nz[j + 1] + 1) if j + 1 < len(nz) else len(y)] = rates[j]
        self.phi_ = dispersion(y, fitted)

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.rate_ <= 0:
            return constant_forecast(0.0, h)
        mean = np.full(h, self.rate_)
        return mean, count_quantiles(mean, self.phi_)


class SBA(Croston):
    """Croston with the Syntetos-Boylan approximation (bias factor 1 - alpha / 2)."""

    name = "sba"
    _variant = "sba"


class TSB(Model):
    """Teunter-Syntetos-Babai: smoothed demand probability x smoothed demand size."""

    name = "tsb"

    def __init__(self, season_length: int = 12, alpha: float = 0.1, alpha_p: float = 0.1) -> None:
        super().__init__(season_length=season_length)
        for k, v in (("alpha", alpha), ("alpha_p", alpha_p)):
            if not 0 < v <= 1:
                raise ValueError(f"{k} must be in (0, 1]")
        self.alpha = alpha
        self.alpha_p = alpha_p

    def _fit(self, y: np.ndarray) -> None:
        y = np.maximum(y, 0.0)
        nz = np.flatnonzero(y > 0)
        self.rate_ = 0.0
        self.phi_ = 1.0
        if len(nz) == 0:
            return
        occ = (y > 0).astype(float)
        prob = np.empty(len(y))
        size = np.empty(len(y))
        pr, sz = float(occ[: max(nz[0] + 1, 1)].mean()), float(y[nz[0]])
        for t in range(len(y)):
            pr += self.alpha_p * (occ[t] - pr)
            if occ[t]:
                sz += self.alpha * (y[t] - sz)
            prob[t], size[t] = pr, sz
        rates = prob * size
        self.rate_ = float(rates[-1])
        self.phi_ = dispersion(y, np.r_[rates[0], rates[:-1]])

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.rate_ <= 1e-9:
            return constant_forecast(0.0, h)
        mean = np.full(h, self.rate_)
        return mean, count_quantiles(mean, self.phi_)


class SES(Model):
    """Simple exponential smoothing with a fixed ``alpha`` (the classic reference for sparse
    demand), flat forecast, count quantiles around the level."""

    name = "ses"

    def __init__(self, season_length: int = 12, alpha: float = 0.1) -> None:
        super().__init__(season_length=season_length)
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha

    def _fit(self, y: np.ndarray) -> None:
        y = np.maximum(y, 0.0)
        level = _smooth(y, self.alpha)
        self.rate_ = float(level[-1])
        self.phi_ = dispersion(y, np.r_[level[0], level[:-1]])

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.rate_ <= 1e-9:
            return constant_forecast(0.0, h)
        mean = np.full(h, self.rate_)
        return mean, count_quantiles(mean, self.phi_)
