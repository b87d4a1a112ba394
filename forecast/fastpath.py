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
    if family == "theta":
        return set(p) <= {"season_length"}
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


def _ses_levels(X: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Row-wise SES levels with per-row alpha, initialised as :func:`forecast.models.theta.ses`."""
    n, T = X.shape
    a = alpha
    out = np.empty((n, T))
    level = a * X[:, 0] + (1.0 - a) * X[:, 0]
    out[:, 0] = level
    for t in range(1, T):
        level = a * X[:, t] + (1.0 - a) * level
        out[:, t] = level
    return out


def _sse(X: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    lv = _ses_levels(X, alpha)
    return np.sum((X[:, 1:] - lv[:, :-1]) ** 2, axis=1)


def _bounded_min(X: np.ndarray, lo: float, hi: float, xatol: float, maxfun: int = 500) -> np.ndarray:
    """scipy's bounded Brent minimiser (``minimize_scalar(method="bounded")``), step for step, for
    every row of X at once (rows stop when their own tolerance is met)."""
    n = X.shape[0]
    sqrt_eps = np.sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - np.sqrt(5.0))
    a, b = np.full(n, lo), np.full(n, hi)
    fulc = a + golden_mean * (b - a)
    nfc, xf = fulc.copy(), fulc.copy()
    rat, e = np.zeros(n), np.zeros(n)
    fx = _sse(X, xf)
    num = 1
    ffulc, fnfc = fx.copy(), fx.copy()
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    active = np.abs(xf - xm) > (tol2 - 0.5 * (b - a))
    while active.any() and num < maxfun:
        golden = np.ones(n, dtype=bool)
        para = np.abs(e) > tol1
        r = (xf - nfc) * (fx - ffulc)
        q = (xf - fulc) * (fx - fnfc)
        p = (xf - fulc) * q - (xf - nfc) * r
        q = 2.0 * (q - r)
        p = np.where(q > 0.0, -p, p)
        q = np.abs(q)
        r_old = e
        e = np.where(para, rat, e)
        ok = para & (np.abs(p) < np.abs(0.5 * q * r_old)) & (p > q * (a - xf)) & (p < q * (b - xf))
        with np.errstate(divide="ignore", invalid="ignore"):
            rat_p = (p + 0.0) / q
        x_p = xf + rat_p
        edge = ((x_p - a) < tol2) | ((b - x_p) < tol2)
        si = np.sign(xm - xf) + ((xm - xf) == 0)
        rat = np.where(ok, np.where(edge, tol1 * si, rat_p), rat)
        golden = ~ok
        e = np.where(golden, np.where(xf >= xm, a - xf, b - xf), e)
        rat = np.where(golden, golden_mean * e, rat)
        si = np.sign(rat) + (rat == 0)
        x = xf + si * np.maximum(np.abs(rat), tol1)
        fu = _sse(X, np.where(active, x, xf))
        num += 1
        better = fu <= fx
        # accepted point
        a_n = np.where(better, np.where(x >= xf, xf, a), np.where(x < xf, x, a))
        b_n = np.where(better, np.where(x >= xf, b, xf), np.where(x < xf, b, x))
        c1 = ~better & ((fu <= fnfc) | (nfc == xf))
        c2 = ~better & ~c1 & ((fu <= ffulc) | (fulc == xf) | (fulc == nfc))
        fulc_n = np.where(better | c1, nfc, np.where(c2, x, fulc))
        ffulc_n = np.where(better | c1, fnfc, np.where(c2, fu, ffulc))
        nfc_n = np.where(better, xf, np.where(c1, x, nfc))
        fnfc_n = np.where(better, fx, np.where(c1, fu, fnfc))
        xf_n = np.where(better, x, xf)
        fx_n = np.where(better, fu, fx)
        upd = active
        a, b = np.where(upd, a_n, a), np.where(upd, b_n, b)
        fulc, ffulc = np.where(upd, fulc_n, fulc), np.where(upd, ffulc_n, ffulc)
        nfc, fnfc = np.where(upd, nfc_n, nfc), np.where(upd, fnfc_n, fnfc)
        xf, fx = np.where(upd, xf_n, xf), np.where(upd, fx_n, fx)
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        active = upd & (np.abs(xf - xm) > (tol2 - 0.5 * (b - a)))
    return xf


def _seasonal_indices(Y: np.ndarray, m: int, mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise :func:`forecast.models.theta.seasonal_indices`: (indices (n, m), found (n,))."""
    n, T = Y.shape
    found = np.zeros(n, dtype=bool)
    idx = np.zeros((n, m))
    if m < 2 or T < 3 * m:
        return idx, found
    x = Y - Y.mean(axis=1, keepdims=True)
    den = np.sum(x * x, axis=1)
    r = np.zeros((n, m + 1))
    r[:, 0] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(1, m + 1):
            r[:, k] = np.where(den == 0, 0.0, np.sum(x[:, k:] * x[:, :-k], axis=1) / den)
    r[den == 0, 0] = 0.0
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[:, 1:m] ** 2, axis=1)) / T)
    seasonal = np.abs(r[:, m]) > limit
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    L = T - len(w) + 1
    trend = np.zeros((n, L))
    for j, wj in enumerate(w[::-1]):  # np.convolve(y, w, "valid")
        trend += wj * Y[:, j: j + L]
    off = (len(w) - 1) // 2
    seg = Y[:, off: off + L]
    with np.errstate(divide="ignore", invalid="ignore"):
        detr = np.where(mult[:, None], seg / trend, seg - trend)
    phase = (np.arange(L) + off) % m
    ind = np.stack([detr[:, phase == p].mean(axis=1) for p in range(m)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok_mult = np.all(np.isfinite(ind), axis=1) & np.all(ind > 0, axis=1)
        ind_m = ind / ind.mean(axis=1, keepdims=True)
    ind_a = ind - ind.mean(axis=1, keepdims=True)
    found = seasonal & np.where(mult, ok_mult, True)
    idx = np.where(found[:, None], np.where(mult[:, None], ind_m, ind_a), 0.0)
    return idx, found


def theta(Y: np.ndarray, h: int, season_length: int = 12, **_: Any) -> tuple[np.ndarray, np.ndarray]:
    """As :class:`forecast.models.theta.Theta` (alpha by the same bounded Brent search)."""
    n, T = Y.shape
    m = int(season_length)
    const = np.ptp(Y, axis=1) == 0
    mult = np.all(Y > 0, axis=1)
    sidx, found = _seasonal_indices(Y, m, mult)
    phase_t = np.arange(T) % m
    with np.errstate(divide="ignore", invalid="ignore"):  # rows not taken by np.where
        X = np.where(found[:, None], np.where(mult[:, None], Y / np.where(found[:, None], sidx[:, phase_t], 1.0),
                                              Y - sidx[:, phase_t]), Y)
    k = np.arange(1, h + 1)
    if T < 4:
        level = X.mean(axis=1)
        sigma = X.std(axis=1, ddof=1) if T > 1 else np.sqrt(X[:, 0] + 1)
        mu = np.repeat(level[:, None], h, axis=1)
        sd = np.repeat(sigma[:, None], h, axis=1)
    else:
        alpha = _bounded_min(X, 0.01, 0.99, 1e-4)
        lv = _ses_levels(X, alpha)
        level = lv[:, -1]
        t = np.arange(T, dtype=float)
        tc = t - t.mean()
        slope = (X - X.mean(axis=1, keepdims=True)) @ tc / np.dot(tc, tc)
        resid = X[:, 1:] - lv[:, :-1]
        sigma = np.sqrt(np.mean(resid**2, axis=1))
        a = alpha[:, None]
        mu = level[:, None] + 0.5 * slope[:, None] * ((k - 1)[None, :] + 1 / a - (1 - a) ** T / a)
        sd = sigma[:, None] * np.sqrt(1 + (k - 1)[None, :] * a**2)
    q = mu[:, None, :] + _z()[None, :, None] * np.maximum(sd, 0.0)[:, None, :]
    if m >= 1:
        s = sidx[:, (T + k - 1) % m] if m > 0 else np.zeros((n, h))
        fm = (found & mult)[:, None]
        fa = (found & ~mult)[:, None]
        mu = np.where(fm, mu * s, np.where(fa, mu + s, mu))
        q = np.where(fm[:, :, None], q * s[:, None, :], np.where(fa[:, :, None], q + s[:, None, :], q))
    c = Y[:, 0]
    mu = np.where(const[:, None], c[:, None], mu)
    q = np.where(const[:, None, None], c[:, None, None], q)
    return _post(mu, q)


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
    if family == "theta":
        return theta(Y, h, **params)
    raise ValueError(f"no vectorised implementation of {family!r}")


def fit_batch(items: list[tuple[int, np.ndarray, list[int]]], specs: list[tuple[str, str, dict[str, Any]]],
              h: int) -> dict[str, Any]:
    """Engine worker for specs that :func:`supports`: same inputs and output as the engine's batch
    worker (flat arrays sid, spec, n, step, mean, q (rows x levels), errors)."""
    nq = len(QUANTILE_LEVELS)
    groups: dict[int, list[tuple[int, np.ndarray]]] = {}
    for item in items:  # (index, values, lengths[, warm states]): vectorised fits start cold
        idx, y, lengths = item[:3]
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
