"""The one small protocol every model family follows (sktime-like rules).

- Hyper-parameters are set in ``__init__`` and never changed afterwards.
- Fitted state lives in attributes whose names end in ``_``.
- ``fit`` receives one series as a 1-D float numpy array (monthly, oldest first, no NaN,
  zeros for months without offers) and never modifies it.
- ``predict(h)`` returns a :class:`ModelForecast`: the mean and the quantiles of
  ``QUANTILE_LEVELS`` for the next ``h`` months. Forecasts of counts are never negative.
- A model knows nothing about dates, series identifiers, grouping or parallelism.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.schema import QUANTILE_LEVELS


@dataclass(frozen=True)
class ModelForecast:
    """Forecast of one series: ``mean`` has shape (h,), ``quantiles`` (len(levels), h)."""

    mean: np.ndarray
    quantiles: np.ndarray
    levels: tuple[float, ...] = QUANTILE_LEVELS


class Model:
    """Base class. Subclasses set ``name`` and implement ``_fit`` and ``_predict``."""

    name: str = "model"

    def __init__(self, season_length: int = 12) -> None:
        self.season_length = season_length

    def get_params(self) -> dict[str, object]:
        """Hyper-parameters as given to ``__init__`` (logged to MLflow)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def fit(self, y: np.ndarray) -> "Model":
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError("fit expects a non-empty 1-D series")
        if not np.all(np.isfinite(y)):
            raise ValueError("fit expects finite values")
        self._fit(y.copy())
        self.n_obs_ = len(y)
        return self

    def predict(self, h: int) -> ModelForecast:
        if not hasattr(self, "n_obs_"):
            raise RuntimeError(f"{self.name}: predict called before fit")
        if h < 1:
            raise ValueError("h must be >= 1")
        mean, quantiles = self._predict(h)
        mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
        quantiles = np.maximum(np.asarray(quantiles, dtype=float), 0.0)
        quantiles = np.sort(quantiles, axis=0)  # guarantee ordered quantiles
        return ModelForecast(mean=mean, quantiles=quantiles)

    # --- to implement -----------------------------------------------------------
    def _fit(self, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError
