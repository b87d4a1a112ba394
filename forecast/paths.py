"""Sample paths: joint draws of future demand, for horizon totals and P(shortage).

A horizon total's interval comes from summing each path over the months, never from summing
monthly quantiles. Contract shared by the forecast engine (producer) and gap/plan (consumers).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.io import atomic_path


@dataclass(frozen=True)
class SamplePaths:
    """``values[i, s, t]``: sample ``s`` of series ``unique_ids[i]`` at month ``ds[t]`` (>= 0)."""

    unique_ids: np.ndarray          # (n,) str
    ds: pd.DatetimeIndex            # (h,) month starts, common to all series
    values: np.ndarray              # (n, n_samples, h) float32

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.values.shape[0] != len(self.unique_ids) or self.values.shape[2] != len(self.ds):
            raise ValueError(f"sample paths: shape {self.values.shape} does not match "
                             f"{len(self.unique_ids)} series x {len(self.ds)} months")

    @property
    def n_samples(self) -> int:
        return int(self.values.shape[1])

    def index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.unique_ids)}

    def for_ids(self, ids: list[str] | np.ndarray) -> "SamplePaths":
        idx = self.index()
        rows = [idx[u] for u in ids]
        return SamplePaths(np.asarray(ids, dtype=object), self.ds, self.values[rows])

    def totals(self, months: int | None = None) -> np.ndarray:
        """(n, n_samples) sums over the first ``months`` months (all by default)."""
        return self.values[:, :, : months or len(self.ds)].sum(axis=2)

    def quantiles(self, levels: tuple[float, ...] = S.QUANTILE_LEVELS) -> np.ndarray:
        """(n, len(levels), h) empirical quantiles per month."""
        return np.moveaxis(np.quantile(self.values, levels, axis=1), 0, 1)

    def save(self, path: Path) -> Path:
        with atomic_path(Path(path)) as tmp:
            with open(tmp, "wb") as fh:
                # not compressed: float draws barely compress, and compressing 0.7 GB of them took 20 s
                np.savez(fh, unique_ids=np.asarray(self.unique_ids, dtype=str),
                         ds=self.ds.values.astype("datetime64[D]"),
                         values=np.asarray(self.values, dtype=np.float32))  # no copy of 0.7 GB when float32
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> "SamplePaths":
        with np.load(Path(path), allow_pickle=False) as z:
            return cls(z["unique_ids"].astype(object), pd.DatetimeIndex(z["ds"].astype("datetime64[ns]")),
                       z["values"])


def paths_from_quantiles(forecasts: pd.DataFrame, n_samples: int = 500, seed: int = 0,
                         rho: float = 0.7) -> SamplePaths:
    """Sample paths that reproduce each month's forecast quantiles (piecewise-linear inverse CDF),
    linked across months by a Gaussian copula with AR(1) correlation ``rho`` (a fallback when a
    model gives no paths of its own: months of a series move together, as demand does)."""
    S.require_columns(forecasts, S.FORECAST_COLUMNS, "forecasts")
    f = forecasts.sort_values([S.UID, S.DS])
    ids = f[S.UID].unique()
    ds = pd.DatetimeIndex(sorted(f[S.DS].unique()))
    h = len(ds)
    q = f[S.QUANTILE_COLUMNS].to_numpy(float)
    if len(f) != len(ids) * h:
        raise ValueError("paths_from_quantiles: every series needs the same forecast months")
    q = np.maximum.accumulate(q.reshape(len(ids), h, -1), axis=2)
    from scipy.special import ndtr

    lv = np.asarray(S.QUANTILE_LEVELS)
    # extend the quantile grid to the tails linearly, clipped at 0
    lo = np.maximum(q[:, :, :1] - (q[:, :, 1:2] - q[:, :, :1]) * lv[0] / (lv[1] - lv[0]), 0)
    hi = q[:, :, -1:] + (q[:, :, -1:] - q[:, :, -2:-1]) * (1 - lv[-1]) / (lv[-1] - lv[-2])
    grid_p = np.r_[0.0, lv, 1.0]
    grid_q = np.concatenate([lo, q, hi], axis=2)
    # month by month (the same random draws as a whole (series x samples x months) array, in the
    # same order): only the float32 result is kept whole, not four float64 copies of it (the Grand
    # Est's 14,000 series x 500 samples x 24 months are 0.7 GB in float32, 1.3 GB per float64 copy)
    rng = np.random.default_rng(seed)
    out = np.empty((len(ids), n_samples, h), dtype=np.float32)
    z = rng.standard_normal((len(ids), n_samples))
    for t in range(h):
        if t:
            z = rho * z + np.sqrt(1 - rho**2) * rng.standard_normal((len(ids), n_samples))
        u = ndtr(z)
        for i in range(len(ids)):
            out[i, :, t] = np.maximum(np.interp(u[i], grid_p, grid_q[i, t]), 0)
    return SamplePaths(ids.astype(object), ds, out)
