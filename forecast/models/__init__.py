"""Model families and their registry.

Each family is a plain class on the :class:`forecast.models.base.Model` protocol; the engine builds
them by name with :func:`make_model`. Importing this package is fast: heavy libraries (statsmodels'
state-space code, Prophet) are imported inside the families' ``_fit``.
"""
from __future__ import annotations

from forecast.errors import ModelError
from forecast.models.arima import AutoArima
from forecast.models.base import Model, ModelForecast
from forecast.models.combination import Combination
from forecast.models.ets import DampedETS
from forecast.models.intermittent import SBA, SES, TSB, Croston
from forecast.models.naive import SeasonalNaive
from forecast.models.prophet import ProphetModel
from forecast.models.theta import Theta

MODEL_REGISTRY: dict[str, type[Model]] = {
    SeasonalNaive.name: SeasonalNaive,
    AutoArima.name: AutoArima,
    ProphetModel.name: ProphetModel,
    DampedETS.name: DampedETS,
    Theta.name: Theta,
    Croston.name: Croston,
    SBA.name: SBA,
    TSB.name: TSB,
    SES.name: SES,
    Combination.name: Combination,
}


def available_models() -> list[str]:
    """Names accepted by :func:`make_model`, sorted."""
    return sorted(MODEL_REGISTRY)


def make_model(name: str, **params: object) -> Model:
    """Instantiate the registered family ``name`` with its hyper-parameters.

    Raises :class:`ModelError` for an unknown name (listing the known ones) or invalid parameters.
    """
    try:
        cls = MODEL_REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(available_models())}") from None
    try:
        return cls(**params)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ModelError(f"model {name!r}: invalid parameters {params!r}: {exc}") from None


def preload(families: "list[str] | tuple[str, ...]") -> None:
    """Import the modules the given families import lazily in ``fit`` (their ``requires``), e.g. in a
    parent process before it forks workers, so each worker does not pay the import itself."""
    import importlib

    for family in families:
        for mod in getattr(MODEL_REGISTRY.get(family), "requires", ()):
            try:
                importlib.import_module(mod)
            except ImportError:  # the fit itself reports it
                pass


__all__ = ["MODEL_REGISTRY", "Model", "ModelForecast", "available_models", "make_model", "preload"]
