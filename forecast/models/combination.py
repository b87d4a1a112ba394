"""A combination of families: the median (or mean) of the members' means and quantiles.

Combining quantiles level by level (Vincentisation) keeps them ordered. Members that fail on a
series are skipped; if all fail the fit raises. :func:`combine_arrays` is shared with
:func:`forecast.select.combine`, which builds the same combination from already computed
forecasts (so a backtest does not fit the members twice).
"""
from __future__ import annotations

import numpy as np

from forecast.models.base import Model

HOW = ("median", "mean")


def combine_arrays(stack: np.ndarray, how: str) -> np.ndarray:
    """Combine along axis 0, ignoring NaN (members that failed)."""
    with np.errstate(all="ignore"):
        return np.nanmedian(stack, axis=0) if how == "median" else np.nanmean(stack, axis=0)


class Combination(Model):
    """Median/mean of ``members`` (registered family names)."""

    name = "combo"

    def __init__(self, season_length: int = 12, members: tuple[str, ...] | list[str] = ("ets", "arima", "theta"),
                 how: str = "mean") -> None:
        super().__init__(season_length=season_length)
        from forecast.models import MODEL_REGISTRY

        if how not in HOW:
            raise ValueError(f"how must be one of {', '.join(HOW)}")
        members = tuple(members)
        if not members or any(m not in MODEL_REGISTRY or m == self.name for m in members):
            raise ValueError(f"members must be registered families other than {self.name}: {members}")
        self.members = members
        self.how = how

    def _fit(self, y: np.ndarray) -> None:
        from forecast.models import make_model

        self.fitted_ = []
        errors = []
        for m in self.members:
            try:
                self.fitted_.append(make_model(m, season_length=self.season_length).fit(y))
            except Exception as exc:  # noqa: BLE001 - a failing member is skipped
                errors.append(f"{m}: {exc}")
        if not self.fitted_:
            raise RuntimeError("every member failed: " + "; ".join(errors))

    def _predict(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        fcs = [m.predict(h) for m in self.fitted_]
        mean = combine_arrays(np.stack([f.mean for f in fcs]), self.how)
        q = combine_arrays(np.stack([f.quantiles for f in fcs]), self.how)
        return mean, q
