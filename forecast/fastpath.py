"""Vectorised fits of the cheap families over many aligned series at once (2-D numpy).

Fitting seasonal naive, Croston/SBA, TSB or SES is a few dozen arithmetic operations per month;
one at a time, the per-call overheads (model object, validation, BLAS thread limits, one
``scipy.stats`` quantile call per series) cost 10-50x the arithmetic. Here the series of a batch
that share a training length are stacked into a 2-D array and each recursion runs once over time
for all of them; the count quantiles are one broadcast ``ppf`` call.

The results are those of the families' own classes (:mod:`forecast.models.naive`,
:mod:`forecast.models.intermittent`), including their edge cases and the protocol's
post-processing (clip at 0, sorted quantiles): ``tests/test_fastpath.py`` checks every family
against its class to 1e-9 on random sparse and dense series. Only the default hyper-parameter
forms listed in :func:`supports` take this path; anything else runs the class itself.

:func:`fit_batch` has the engine worker's signature and output (``forecast.engine._fit_batch``),
so the executors run it like any other batch (any executor, cached, resumable).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from forecast.schema import QUANTILE_LEVELS

_LV = np.asarray(QUANTILE_LEVELS, dtype=float)


def _z() -> np.ndarray:
    from forecast.models.base import Z_LEVELS

    return Z_LEVELS[:, 0]


def supports(family: str, params: dict[str, Any]) -> bool:
    """True when ``family`` with ``params`` has a vectorised implementation here."""
    p = dict(params)
    if family == "seasonal_naive":
        return p.get("interval", "normal") == "normal" and set(p) <= {"season_length", "interval"}
    if family in ("sba", "croston", "ses"):
        return set(p) <= {"season_length", "alpha"}
    if family == "tsb":
        return set(p) <= {"season_length", "alpha", "alpha_p"}
    return False


def _post(mean: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's post-processing: clip at 0, sort the quantiles. q: (n, levels, h)."""
    return np.maximum(mean, 0.0), np.sort(np.maximum(q, 0.0), axis=1)


def seasonal_naive(Y: np.ndarray, h: int, season_length: int = 12, **_: Any) -> tuple[np.ndarray, np.ndarray]:
    """Y (n, T) -> mean (n, h), quantiles (n, levels, h); as :class:`SeasonalNaive` (normal intervals)."""
    n, T = Y.shape
    m = max(int(season_length), 1)
    lag = m if T > m else 1
    k = np.arange(h)
    last = Y[:, -lag:] if T >= lag else Y[:, -1:]
    lag = last.shape[1]
    mean = last[:, k % lag]
    if T > lag:
        e = Y[:, lag:] - Y[:, :-lag]
        sigma = np.sqrt(np.mean(e**2, axis=1))
    else:
        sigma = np.sqrt(np.maximum(Y[:, -1], 0.0))
    scale = np.sqrt(k // lag + 1.0)
    q = mean[:, None, :] + _z()[None, :, None] * (sigma[:, None] * scale[None, :])[:, None, :]
    return _post(mean.astype(float), q)


def _smooth_masked(x: np.ndarray, mask: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """SES of the masked values of each row, initialised at the row's first masked value; returns
    the level after each masked value (held in between) and whether it is defined yet."""
    n, T = x.shape
    level = np.zeros(n)
    started = np.zeros(n, dtype=bool)
    out = np.zeros((n, T))
    seen = np.zeros((n, T), dtype=bool)
    for t in range(T):
        m = mask[:, t]
        first = m & ~started
        upd = m & started
        level = np.where(first, x[:, t], level)
        level = np.where(upd, alpha * x[:, t] + (1.0 - alpha) * level, level)
        started |= m
        out[:, t] = level
        seen[:, t] = started
    return out, seen


def _dispersion(Y: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Row-wise :func:`forecast.models.intermittent.dispersion`."""
    n, T = Y.shape
    pos = Y > 0
    any_nz = pos.any(axis=1)
    first = np.where(any_nz, pos.argmax(axis=1), T)
    t = np.arange(T)[None, :]
    after = t >= (first + 1)[:, None]
    e = np.where(after, Y - fitted, 0.0)
    f = np.where(after, fitted, 0.0)
    count = after.sum(axis=1)
    fsum = f.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        main = np.sum(e**2, axis=1) / fsum
        nz_cnt = pos.sum(axis=1)
        nz_mean = np.where(pos, Y, 0.0).sum(axis=1) / np.maximum(nz_cnt, 1)
        nz_var = np.where(pos, (Y - nz_mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(nz_cnt, 1)
        alt = nz_var / np.maximum(nz_mean, 1e-9)
    phi = np.where((count < 2) | (fsum <= 0), np.maximum(1.0, alt), np.maximum(1.0, main))
    return np.where(any_nz, phi, 1.0)


def count_quantiles(rate: np.ndarray, phi: np.ndarray, h: int, zero_below: float) -> np.ndarray:
    """Row-wise :func:`forecast.models.intermittent.count_quantiles` of a flat rate: (n, levels, h)."""
    from scipy import stats

    n = len(rate)
    q = np.zeros((n, len(_LV)))
    live = rate > zero_below
    mu = np.maximum(rate, 1e-12)
    pois = live & (phi <= 1.01)
    nb = live & ~(phi <= 1.01)
    if pois.any():
        q[pois] = stats.poisson.ppf(_LV[None, :], mu[pois][:, None])
    if nb.any():
        size = mu[nb] / (phi[nb] - 1.0)
        q[nb] = stats.nbinom.ppf(_LV[None, :], size[:, None], (1.0 / phi[nb])[:, None])
    q = np.nan_to_num(q, nan=0.0, posinf=0.0)
    return np.repeat(q[:, :, None], h, axis=2)


def croston(Y: np.ndarray, h: int, alpha: float = 0.1, variant: str = "classic", **_: Any) -> tuple[np.ndarray, np.ndarray]:
    """As :class:`Croston` (``variant="sba"``: :class:`SBA`)."""
    Y = np.maximum(Y, 0.0)
    n, T = Y.shape
    pos = Y > 0
    # interval since the previous demand (the first one counts from index -1)
    idx = np.arange(T)[None, :]
    last_demand = np.maximum.accumulate(np.where(pos, idx, -1), axis=1)
    before = np.c_[np.full((n, 1), -1), last_demand[:, :-1]]
    interval = np.where(pos, idx - before, 0).astype(float)
    z, _ = _smooth_masked(Y, pos, alpha)
    p, seen = _smooth_masked(interval, pos, alpha)
    factor = 1.0 - alpha / 2 if variant == "sba" else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(seen, factor * z / np.where(seen, p, 1.0), 0.0)
    rate = rates[:, -1]
    # one-step in-sample forecasts: the rate known after each demand, from the month after it
    fitted = np.c_[np.zeros((n, 1)), rates[:, :-1]]
    phi = _dispersion(Y, fitted)
    any_nz = pos.any(axis=1)
    rate = np.where(any_nz, rate, 0.0)
    mean = np.repeat(rate[:, None], h, axis=1)
    q = count_quantiles(rate, phi, h, 0.0)
    mean = np.where((rate > 0)[:, None], mean, 0.0)
    return _post(mean, q)


def tsb(Y: np.ndarray, h: int, alpha: float = 0.1, alpha_p: float = 0.1, **_: Any) -> tuple[np.ndarray, np.ndarray]:
    """As :class:`TSB`."""
    Y = np.maximum(Y, 0.0)
    n, T = Y.shape
    occ = (Y > 0).astype(float)
    any_nz = occ.any(axis=1)
    first = np.where(any_nz, occ.argmax(axis=1), 0)
    upto = np.arange(T)[None, :] <= first[:, None]
    pr = (occ * upto).sum(axis=1) / upto.sum(axis=1)
    sz = Y[np.arange(n), first]
    rates = np.empty((n, T))
    for t in range(T):
        pr = pr + alpha_p * (occ[:, t] - pr)
        sz = np.where(occ[:, t] > 0, sz + alpha * (Y[:, t] - sz), sz)
        rates[:, t] = pr * sz
    rate = np.where(any_nz, rates[:, -1], 0.0)
    phi = np.where(any_nz, _dispersion(Y, np.c_[rates[:, :1], rates[:, :-1]]), 1.0)
    mean = np.where((rate > 1e-9)[:, None], np.repeat(rate[:, None], h, axis=1), 0.0)
    q = count_quantiles(rate, phi, h, 1e-9)
    return _post(mean, q)


def ses(Y: np.ndarray, h: int, alpha: float = 0.1, **_: Any) -> tuple[np.ndarray, np.ndarray]:
    """As :class:`SES`."""
    Y = np.maximum(Y, 0.0)
    n, T = Y.shape
    level, _ = _smooth_masked(Y, np.ones_like(Y, dtype=bool), alpha)
    rate = level[:, -1]
    phi = _dispersion(Y, np.c_[level[:, :1], level[:, :-1]])
    mean = np.where((rate > 1e-9)[:, None], np.repeat(rate[:, None], h, axis=1), 0.0)
    return _post(mean, count_quantiles(rate, phi, h, 1e-9))


def fit_many(family: str, params: dict[str, Any], Y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised fit + predict of ``family`` on the rows of Y (n, T): mean (n, h), q (n, levels, h)."""
    if family == "seasonal_naive":
        return seasonal_naive(Y, h, **params)
    if family in ("croston", "sba"):
        return croston(Y, h, variant="sba" if family == "sba" else "classic", **params)
    if family == "tsb":
        return tsb(Y, h, **params)
    if family == "ses":
        return ses(Y, h, **params)
    raise ValueError(f"no vectorised implementation of {family!r}")


def fit_batch(items: list[tuple[int, np.ndarray, list[int]]], specs: list[tuple[str, str, dict[str, Any]]],
              h: int) -> dict[str, Any]:
    """Engine worker for specs that :func:`supports`: same inputs and output as the engine's batch
    worker (flat arrays sid, spec, n, step, mean, q (rows x levels), errors)."""
    nq = len(QUANTILE_LEVELS)
    groups: dict[int, list[tuple[int, np.ndarray]]] = {}
    for idx, y, lengths in items:
        for n in lengths:
            groups.setdefault(int(n), []).append((idx, y[:n]))
    sid, spec, ntr, mean, quant = [], [], [], [], []
    for n in sorted(groups):
        rows = groups[n]
        Y = np.vstack([r[1] for r in rows]).astype(float)
        ids = np.array([r[0] for r in rows])
        for j, (_alias, family, params) in enumerate(specs):
            mu, q = fit_many(family, params, Y, h)
            sid.append(np.repeat(ids, h))
            spec.append(np.full(len(ids) * h, j))
            ntr.append(np.full(len(ids) * h, n))
            mean.append(mu.reshape(-1))
            quant.append(q.transpose(0, 2, 1).reshape(-1, nq))
    if not sid:
        return {"sid": np.zeros(0, int), "spec": np.zeros(0, int), "n": np.zeros(0, int),
                "step": np.zeros(0, int), "mean": np.zeros(0), "q": np.zeros((0, nq)), "errors": []}
    sid_a = np.concatenate(sid)
    return {"sid": sid_a, "spec": np.concatenate(spec), "n": np.concatenate(ntr),
            "step": np.tile(np.arange(h), len(sid_a) // h), "mean": np.concatenate(mean),
            "q": np.vstack(quant), "errors": []}
