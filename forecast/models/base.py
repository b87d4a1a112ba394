"""The one small protocol every model family follows (sktime-like rules).

- Hyper-parameters are set in ``__init__`` and never changed afterwards.
- Fitted state lives in attributes whose names end in ``_``.
- ``fit`` receives one series as a 1-D float numpy array (monthly, oldest first, no NaN,
  zeros for months without offers) and never modifies it.
- ``predict(h)`` returns a :class:`ModelForecast`: the mean and the quantiles of
  ``QUANTILE_LEVELS`` for the next ``h`` months. Forecasts of counts are never negative.
- A model knows nothing about dates, series identifiers, grouping or parallelism.

Shared helpers for the families live here too: variance-stabilising transforms of counts
(:class:`Transform`) and normal quantiles (:func:`normal_quantiles`).
"""
from __future__ import annotations

import contextlib
from statistics import NormalDist
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast.schema import QUANTILE_LEVELS

#: A forecast above this many times the history's largest value (plus one) is a failed fit.
IMPLAUSIBLE = 1000.0

#: Standard-normal quantiles of ``QUANTILE_LEVELS``, shape (len(levels), 1).
Z_LEVELS: np.ndarray = np.array([NormalDist().inv_cdf(q) for q in QUANTILE_LEVELS])[:, None]


_CONTROLLER: Any = None


def single_threaded() -> Any:
    """Context manager limiting BLAS (numpy's and scipy's OpenBLAS) to one thread.

    Fits are small: BLAS threads only add overhead, and on a loaded machine OpenBLAS' spinning
    threads made one SARIMAX fit 40x slower (0.1 s -> 4 s). Parallelism comes from processes
    (the engine). The controller is built at the first fit (about 10 us per use afterwards); without
    threadpoolctl this is a no-op.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - optional
            return contextlib.nullcontext()
        import scipy.linalg  # noqa: F401 - load scipy's own BLAS so the controller sees it too

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


@dataclass(frozen=True)
class ModelForecast:
    """Forecast of one series: ``mean`` has shape (h,), ``quantiles`` (len(levels), h)."""

    mean: np.ndarray
    quantiles: np.ndarray
    levels: tuple[float, ...] = QUANTILE_LEVELS


class Model:
    """Base class. Subclasses set ``name`` and implement ``_fit`` and ``_predict``.

    ``_fit`` and ``_predict`` run with BLAS limited to one thread (:func:`single_threaded`).

    ``fit`` validates the input and hands ``_fit`` a private copy; ``predict`` checks the shapes
    returned by ``_predict``, clips at 0 and sorts the quantiles, so every family honours the
    contract even at its edges. A forecast that is not finite, or whose mean or upper quantile
    exceeds :data:`IMPLAUSIBLE` times the largest value of the history (plus one), is a failed fit
    (:class:`forecast.errors.ModelError`): the engine then records the failure and the strategy
    falls back, instead of scoring or publishing a numerical blow-up.
    """

    name: str = "model"

    def __init__(self, season_length: int = 12) -> None:
        self.season_length = season_length

    def get_params(self) -> dict[str, object]:
        """Hyper-parameters as given to ``__init__`` (logged to MLflow)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    #: True when ``_fit`` accepts a ``warm`` state (:meth:`warm_state` of an earlier fit).
    supports_warm: bool = False
    #: Modules ``_fit`` imports lazily: the engine imports them once in the parent before forking its
    #: workers (a forked worker would otherwise pay the import, about 1 s for statsmodels, per pool).
    requires: tuple[str, ...] = ()

    def fit(self, y: np.ndarray, warm: dict[str, Any] | None = None) -> "Model":
        """Fit on one series (1-D, finite, oldest first); returns ``self``.

        ``warm``: the :meth:`warm_state` of a fit of the same model on a prefix of the same series
        (an earlier backtest window, or last month's run). Families that support it
        (``supports_warm``) reuse its structure (e.g. ARIMA orders) and start their optimiser from
        its parameters: the same model class, a fraction of the cost. With ``warm["fixed"]`` true they
        keep its parameters and only run them through ``y`` (an update, no estimation: the engine's
        monthly refits between two ``[engine] backtest_refresh`` anchors). Others ignore it.
        """
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError("fit expects a non-empty 1-D series")
        if not np.all(np.isfinite(y)):
            raise ValueError("fit expects finite values")
        with single_threaded():
            if warm is not None and self.supports_warm:
                self._fit(y.copy(), warm=warm)
            else:
                self._fit(y.copy())
        self.n_obs_ = len(y)
        self.y_max_ = float(np.max(np.abs(y)))
        return self

    def warm_state(self) -> dict[str, Any] | None:
        """What a later fit on a longer prefix of the same series may start from (None: nothing)."""
        return None

    def predict(self, h: int) -> ModelForecast:
        """Mean and ``QUANTILE_LEVELS`` quantiles of the next ``h`` months, all >= 0."""
        if not hasattr(self, "n_obs_"):
            raise RuntimeError(f"{self.name}: predict called before fit")
        if h < 1:
            raise ValueError("h must be >= 1")
        with single_threaded():
            mean, quantiles = self._predict(int(h))
        mean = np.maximum(np.asarray(mean, dtype=float).reshape(-1), 0.0)
        quantiles = np.maximum(np.asarray(quantiles, dtype=float), 0.0)
        if mean.shape != (h,) or quantiles.shape != (len(QUANTILE_LEVELS), h):
            raise RuntimeError(f"{self.name}: _predict returned shapes {mean.shape}, {quantiles.shape}")
        quantiles = np.sort(quantiles, axis=0)  # guarantee ordered quantiles
        y_max = getattr(self, "y_max_", None)  # None: a model restored without its history's range
        limit = np.inf if y_max is None else IMPLAUSIBLE * (y_max + 1.0)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(quantiles))) or max(
                float(mean.max()), float(quantiles[-1].max())) > limit:
            from forecast.errors import ModelError

            raise ModelError(f"{self.name}: implausible forecast (not finite, or above {IMPLAUSIBLE:g} x the "
                             f"history's largest value + 1: mean up to {float(np.nanmax(mean)):.3g})")
        return ModelForecast(mean=mean, quantiles=quantiles)

    # --- to implement -----------------------------------------------------------
    def _fit(self, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


# --- helpers shared by the families ---------------------------------------------------------


def normal_quantiles(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Quantiles of N(mu, sigma^2) at ``QUANTILE_LEVELS``: shape (len(levels), h)."""
    mu = np.asarray(mu, dtype=float).reshape(1, -1)
    sigma = np.maximum(np.asarray(sigma, dtype=float).reshape(1, -1), 0.0)
    return mu + Z_LEVELS * sigma


def constant_forecast(value: float, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A degenerate forecast: ``value`` everywhere, zero-width intervals."""
    mean = np.full(h, float(value))
    return mean, np.tile(mean, (len(QUANTILE_LEVELS), 1))


TRANSFORMS = ("log1p", "sqrt", "none")


class Transform:
    """Variance-stabilising transform of counts and its back-transforms.

    ``log1p``: z = log(1 + y); ``sqrt``: z = sqrt(y); ``none``: identity. If the model's predictive
    distribution on the transformed scale is N(mu, s^2), :meth:`quantiles` maps its quantiles back
    monotonically (so intervals skew right) and :meth:`mean` returns the bias-corrected mean
    (log-normal mean for log1p, E[z^2] = mu^2 + s^2 for sqrt).
    """

    def __init__(self, kind: str) -> None:
        if kind not in TRANSFORMS:
            raise ValueError(f"unknown transform {kind!r}; choose one of {', '.join(TRANSFORMS)}")
        self.kind = kind

    def forward(self, y: np.ndarray) -> np.ndarray:
        if self.kind == "log1p":
            return np.log1p(np.maximum(y, 0.0))
        if self.kind == "sqrt":
            return np.sqrt(np.maximum(y, 0.0))
        return np.asarray(y, dtype=float)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        if self.kind == "log1p":
            return np.expm1(np.minimum(z, 50.0))
        if self.kind == "sqrt":
            return np.maximum(z, 0.0) ** 2
        return np.asarray(z, dtype=float)

    def mean(self, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        if self.kind == "log1p":
            return np.expm1(np.minimum(mu + 0.5 * sigma**2, 50.0))
        if self.kind == "sqrt":
            return np.maximum(mu, 0.0) ** 2 + sigma**2
        return np.asarray(mu, dtype=float)

    def quantiles(self, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        return self.inverse(normal_quantiles(mu, sigma))
