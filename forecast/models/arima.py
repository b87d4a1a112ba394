"""ARIMA with a small, bounded automatic order choice (statsmodels SARIMAX).

The series is fitted on a variance-stabilised scale (``transform``: log1p by default, or sqrt), so
back-transformed forecasts stay non-negative and intervals skew right; the mean is bias-corrected
(see :class:`forecast.models.base.Transform`).

Order choice, in the spirit of ``auto.arima`` but bounded (2 or 3 fits):

1. seasonal differencing D = 1 when the series covers at least ``3 * season_length`` months and its
   seasonal strength (classical decomposition, as in ``nsdiffs``) exceeds 0.64;
2. differencing d = 1 when a KPSS test (5 %) rejects level stationarity of the (seasonally
   differenced) transformed series;
3. a handful of candidates for that (d, D) are fitted and the lowest AICc wins (AICc is only
   compared between models with the same differencing). With fewer than 3 seasons the seasonal
   part is dropped.

A fit whose AR or MA polynomial (non-seasonal, or seasonal in its own lag) has a root within 1.01 of
the unit circle is rejected, as ``auto.arima`` does: such fits are nearly non-stationary or
non-invertible, and the optimiser can land on one where an AR and an MA root almost cancel, with a
finite likelihood but forecasts that alternate between the data's level and 1e21. A warm start that
lands there searches again.

A constant series gets a flat forecast; if every candidate fails the model falls back to the
mean of the transformed series with its standard deviation (``fallback_`` is True).
"""
from __future__ import annotations

import warnings

import numpy as np

from forecast.models.base import Model, Transform, constant_forecast

Order = tuple[int, int, int]
#: L-BFGS stopping rule: relative objective change below 1e11 * machine epsilon (about 2e-5) or a
#: projected gradient below 1e-4. Measured on 60 Grand Est series (12-month forecasts): 37 % less
#: time than scipy's defaults, squared error unchanged to 0.004 %.
_LBFGS = {"factr": 1e11, "pgtol": 1e-4}
Candidate = tuple[Order, tuple[int, int, int, int], str]
#: Smallest root modulus accepted for each AR / MA polynomial (``auto.arima``'s 1 + 1e-2).
MIN_ROOT = 1.01


def near_unit_root(res) -> bool:
    """True when a fitted SARIMAX's AR, MA, seasonal AR or seasonal MA polynomial (each in its own
    lag unit) has a root of modulus below :data:`MIN_ROOT`."""
    names = list(res.model.param_names)
    params = np.asarray(res.params, dtype=float)
    for prefix, sign in (("ar.L", -1.0), ("ma.L", 1.0), ("ar.S.L", -1.0), ("ma.S.L", 1.0)):
        coef = [params[i] for i, n in enumerate(names) if n.startswith(prefix)]
        if not coef:
            continue
        if not np.all(np.isfinite(coef)):
            return True
        poly = np.r_[1.0, sign * np.asarray(coef)]  # 1 -/+ c1 z - ... (lowest degree first)
        roots = np.roots(poly[::-1])
        if len(roots) and float(np.min(np.abs(roots))) < MIN_ROOT:
            return True
    return False


def seasonal_strength(z: np.ndarray, m: int) -> float:
    """Hyndman's F_S = max(0, 1 - var(R) / var(S + R)) from a classical additive decomposition."""
    n = len(z)
    if n < 2 * m + 1:
        return 0.0
    if m % 2 == 0:
        w = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        w = np.ones(m) / m
    trend = np.convolve(z, w, mode="valid")
    off = (len(w) - 1) // 2
    detr = z[off : off + len(trend)] - trend
    phase = (np.arange(len(detr)) + off) % m
    means = np.array([detr[phase == p].mean() for p in range(m)])
    seas = means[phase] - means.mean()
    rem = detr - seas
    denom = np.var(seas + rem)
    if denom <= 0:
        return 0.0
    return float(max(0.0, 1.0 - np.var(rem) / denom))


def needs_difference(z: np.ndarray) -> bool:
    """KPSS level-stationarity test at 5 %: True when stationarity is rejected."""
    if len(z) < 8 or np.ptp(z) == 0:
        return False
    from statsmodels.tsa.stattools import kpss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            stat, pvalue, *_ = kpss(z, regression="c", nlags="auto")
        except (ValueError, np.linalg.LinAlgError, OverflowError):
            return False
    return bool(pvalue < 0.05)


def candidates(d: int, seasonal_d: int, m: int, seasonal: bool) -> list[Candidate]:
    """The bounded candidate list for one differencing choice."""
    if seasonal and seasonal_d == 1:
        if d == 1:
            return [((0, 1, 1), (0, 1, 1, m), "n"), ((1, 1, 0), (0, 1, 1, m), "n")]
        return [((1, 0, 0), (0, 1, 1, m), "c"), ((1, 0, 0), (0, 1, 1, m), "n")]
    if seasonal:
        if d == 1:
            return [((0, 1, 1), (1, 0, 0, m), "n"), ((1, 1, 1), (0, 0, 0, 0), "n"), ((0, 1, 1), (0, 0, 0, 0), "n")]
        return [((1, 0, 0), (1, 0, 0, m), "c"), ((1, 0, 1), (1, 0, 0, m), "c"), ((1, 0, 0), (0, 0, 0, 0), "c")]
    if d == 1:
        return [((0, 1, 1), (0, 0, 0, 0), "n"), ((1, 1, 1), (0, 0, 0, 0), "n"), ((1, 1, 0), (0, 0, 0, 0), "n")]
    return [((1, 0, 0), (0, 0, 0, 0), "c"), ((1, 0, 1), (0, 0, 0, 0), "c"), ((0, 0, 0), (0, 0, 0, 0), "c")]


class AutoArima(Model):
    """SARIMAX on log1p/sqrt counts with a bounded AICc order search (see module docstring)."""

    name = "arima"
    requires = ("statsmodels.tsa.statespace.sarimax", "statsmodels.tsa.stattools")

    def __init__(self, season_length: int = 12, transform: str = "log1p", maxiter: int = 50) -> None:
        super().__init__(season_length=season_length)
        Transform(transform)  # validates
        self.transform = transform
        self.maxiter = maxiter

    supports_warm = True

    def warm_state(self) -> dict | None:
        if self.result_ is None or self.order_ is None:
            return None
        return {"order": [list(self.order_[0]), list(self.order_[1]), self.order_[2]], "seasonal": self.seasonal_,
                "differencing": list(self.differencing_),
                "params": [float(v) for v in np.asarray(self.result_.params, dtype=float)]}

    def _fit_warm(self, z: np.ndarray, warm: dict) -> bool:
        """One SARIMAX fit with the order of ``warm``, started from its parameters (warm start:
        no differencing tests, no candidate search); with ``warm["fixed"]`` its parameters are kept
        and only filtered through the series (an update). False when it cannot be used."""
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        order, sorder, trend = tuple(warm["order"][0]), tuple(warm["order"][1]), str(warm["order"][2])
        m = int(self.season_length)
        if bool(warm.get("seasonal")) != (m > 1 and len(z) >= 3 * m):
            return False  # the series has just become long enough for a seasonal model: search again
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = SARIMAX(z, order=order, seasonal_order=sorder, trend=trend, concentrate_scale=True)
                params = np.asarray(warm["params"], dtype=float)
                if warm.get("fixed"):  # an update: the same parameters, filtered through the new months
                    res = model.filter(params, cov_type="none")
                else:
                    res = model.fit(start_params=params, disp=False, maxiter=self.maxiter, cov_type="none", **_LBFGS)
            except (ValueError, np.linalg.LinAlgError, IndexError):
                return False
        if not np.isfinite(res.llf) or (not warm.get("fixed") and near_unit_root(res)):
            return False
        self.result_, self.order_, self.differencing_ = res, (order, sorder, trend), tuple(warm["differencing"])
        return True

    def _fit(self, y: np.ndarray, warm: dict | None = None) -> None:
        tr = Transform(self.transform)
        z = tr.forward(y)
        self.result_ = None
        self.order_: Candidate | None = None
        self.fallback_ = False
        self.constant_ = None
        if np.ptp(y) == 0:
            self.constant_ = float(y[0])
            return
        m = int(self.season_length)
        seasonal = m > 1 and len(z) >= 3 * m
        self.seasonal_ = seasonal
        if warm and len(z) >= 6 and self._fit_warm(z, warm):
            return
        seasonal_d = 1 if seasonal and seasonal_strength(z, m) > 0.64 else 0
        zd = z[m:] - z[:-m] if seasonal_d else z
        d = 1 if needs_difference(zd) else 0
        self.differencing_ = (d, seasonal_d)
        best_aicc = np.inf
        if len(z) >= 6:
            from statsmodels.tsa.statespace.sarimax import SARIMAX

            for order, sorder, trend in candidates(d, seasonal_d, m, seasonal):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        res = SARIMAX(z, order=order, seasonal_order=sorder, trend=trend, concentrate_scale=True).fit(
                            disp=False, maxiter=self.maxiter, cov_type="none", **_LBFGS
                        )
                    except (ValueError, np.linalg.LinAlgError, IndexError):
                        continue
                aicc = float(res.aicc)
                if np.isfinite(aicc) and aicc < best_aicc and not near_unit_root(res):
                    best_aicc, self.result_, self.order_ = aicc, res, (order, sorder, trend)
        if self.result_ is None:
            self.fallback_ = True
            self.level_ = float(z.mean())
            self.scale_ = float(z.std(ddof=1)) if len(z) > 1 else float(np.sqrt(z[0] + 1.0))

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.constant_ is not None:
            return constant_forecast(self.constant_, h)
        tr = Transform(self.transform)
        if self.result_ is None:
            mu = np.full(h, self.level_)
            sigma = np.full(h, self.scale_ * np.sqrt(1.0 + 1.0 / self.n_obs_))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = self.result_.get_forecast(h)
                mu = np.asarray(fc.predicted_mean, dtype=float)
                sigma = np.sqrt(np.maximum(np.asarray(fc.var_pred_mean, dtype=float), 0.0))
            bad = ~np.isfinite(mu) | ~np.isfinite(sigma)
            if bad.any():  # degenerate fit: carry the last finite forecast
                mu = np.where(bad, np.nan, mu)
                sigma = np.where(bad, np.nan, sigma)
                mu = np.nan_to_num(mu, nan=float(np.nanmean(mu)) if np.isfinite(mu).any() else 0.0)
                sigma = np.nan_to_num(sigma, nan=float(np.nanmax(sigma)) if np.isfinite(sigma).any() else 0.0)
        quantiles = tr.quantiles(mu, sigma)
        mean = np.minimum(tr.mean(mu, sigma), quantiles[-1])
        return mean, quantiles
