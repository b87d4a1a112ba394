"""Runs per-series model work in parallel: fit + forecast, and the cross-validation loop.

The engine owns everything a model must not know: grouping, dates, parallelism. Each series is
converted once to a numpy array; models only ever see numpy. Work is split into BATCHES of series
(about ``4 * n_jobs`` of them, contiguous in sorted ``unique_id`` order) run by a process pool
("fork" on Linux: workers start in milliseconds with the models already imported, and scripts
need no ``if __name__ == "__main__"`` guard; "spawn" elsewhere). Workers return flat numpy arrays
and their failure messages; only the parent logs. ``n_jobs=1`` runs in-process. Models are deterministic and the output is
sorted, so the result does not depend on ``n_jobs``.

A model that raises on a series gives NaN rows for that (series, window, model) and a logged
warning; it never stops the run.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.errors import DataError, ModelError
from forecast.models import make_model
from forecast.models.base import single_threaded

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
#: Warm starts across backtest windows: within one series, each family's fit on a window starts
#: from its fit on the previous (shorter) window (same ARIMA order, optimiser started from its
#: parameters: :meth:`forecast.models.base.Model.fit`). Deterministic: the windows of a series
#: always run in order in one worker, so every engine gives the same result. The full-history fits
#: are estimated cold (:func:`_warm_for` says why), or updated from their anchored state.
WARM_START = os.environ.get("FORECAST_WARM_START", "1") != "0"
#: Key of a warm state asking the worker to estimate the parameters on the first ``state[ANCHOR]``
#: months and only run them through the rest (:func:`_warm_for`).
ANCHOR = "_anchor"
#: (alias shown in the ``model`` column, registry family, hyper-parameters)
Spec = tuple[str, str, dict[str, Any]]
_MAX_LOGGED_FAILURES = 20


def resolve_specs(model_specs: dict[str, dict[str, Any]]) -> list[Spec]:
    """``{alias: params}`` -> validated specs.

    The alias is the registry name, or any name if ``params`` holds ``"model": family``
    (e.g. ``{"arima_sqrt": {"model": "arima", "transform": "sqrt"}}``). Every spec is
    instantiated once here so that an unknown model or a bad parameter fails early with a
    :class:`ModelError`.
    """
    if not model_specs:
        raise ModelError("no model to run: model_specs is empty")
    specs: list[Spec] = []
    for alias in sorted(model_specs):
        params = dict(model_specs[alias] or {})
        family = str(params.pop("model", alias))
        make_model(family, **params)
        specs.append((alias, family, params))
    return specs


def default_n_jobs() -> int:
    """Number of usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _months(ds: pd.Series) -> np.ndarray:
    """Month starts -> months since 1970-01 (int64)."""
    d = pd.DatetimeIndex(ds)
    return (d.year.to_numpy(dtype=np.int64) - 1970) * 12 + d.month.to_numpy(dtype=np.int64) - 1


def _to_datetime(months: np.ndarray) -> np.ndarray:
    return np.asarray(months, dtype="datetime64[M]").astype("datetime64[ns]")


def prepare_series(series: pd.DataFrame) -> tuple[list[Any], list[np.ndarray], np.ndarray]:
    """Split a long frame into (sorted ids, one float array per id, first month of each id).

    Raises :class:`DataError` if a series has gaps, duplicate months or invalid values.
    """
    S.require_columns(series, [S.UID, S.DS, S.Y], "series")
    if series.empty:
        raise DataError("series: the frame is empty")
    df = series[[S.UID, S.DS, S.Y]].sort_values([S.UID, S.DS], kind="stable")
    months = _months(df[S.DS])
    y = df[S.Y].to_numpy(dtype=float)
    if not np.all(np.isfinite(y)):
        raise DataError("series: y has missing or infinite values (a month without offers is a 0)")
    codes, uniques = pd.factorize(df[S.UID], sort=True)
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.r_[0, bounds]
    step = np.diff(months)
    inner = np.ones(len(step), dtype=bool)
    inner[bounds - 1] = False
    if np.any(step[inner] != 1):
        bad = uniques[codes[1:][inner & (step != 1)][0]]
        raise DataError(f"series {bad!r}: months must be consecutive with no gap or duplicate (full grid)")
    arrays = np.split(y, bounds)
    return list(uniques), arrays, months[starts]


def _batches(n: int, n_jobs: int) -> list[range]:
    k = 4 * n_jobs if n_jobs > 1 else 8  # in-process: a few batches, for the progress callback
    k = max(1, min(k, n))
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _run_batch(items: list[tuple[int, np.ndarray, list[int]]], specs: list[Spec], h: int) -> dict[str, Any]:
    """Worker entry point: :func:`_fit_batch` with BLAS limited to one thread (oversubscribed
    OpenBLAS threads in forked workers made ARIMA 10x slower; also keeps results bit-identical
    whatever ``n_jobs``)."""
    with single_threaded():
        return _fit_batch(items, specs, h)


def _fit_batch(items: list[tuple[int, np.ndarray, list[int]]], specs: list[Spec], h: int) -> dict[str, Any]:
    """Worker: for each (series index, values, training lengths) and spec, fit and predict ``h``.

    Returns flat arrays: series index, spec index, training length, step (0..h-1), mean,
    quantiles (rows x levels), and the failure messages.
    """
    nq = len(S.QUANTILE_LEVELS)
    sid, spec, ntr, mean, quant, errors, states = [], [], [], [], [], [], []
    steps = np.arange(h)
    for item in items:
        idx, y, lengths = item[:3]
        given = item[3] if len(item) > 3 and item[3] else {}  # alias -> state (e.g. last backtest window)
        # spec -> warm state of its fit on the previous (shorter) window
        warm: dict[int, Any] = {j: given[a] for j, (a, _f, _p) in enumerate(specs) if a in given}
        last = max(lengths) if len(lengths) else -1
        for n in sorted(lengths):
            ytr = y[:n]
            for j, (alias, family, params) in enumerate(specs):
                try:
                    start = warm.get(j) if WARM_START else None
                    anchor = int(start.get(ANCHOR, 0)) if start else 0
                    if anchor and n == last and anchor < n:  # final fit between two refreshes (_warm_for)
                        base = {k: v for k, v in start.items() if k != ANCHOR} or None
                        first = make_model(family, **params).fit(y[:anchor], warm=base)
                        start = first.warm_state() if first.supports_warm else None
                        if start is not None:
                            states.append((idx, alias, anchor, start))
                            start = {**start, "fixed": True}
                    model = make_model(family, **params).fit(ytr, warm=start)
                    if WARM_START and model.supports_warm:
                        warm[j] = model.warm_state()
                        if n == len(y) and warm[j] is not None and not anchor:  # a full-history fit: its
                            states.append((idx, alias, int(n), warm[j]))  # state may be an anchor to keep
                    fc = model.predict(h)  # raises ModelError on a non-finite or implausible forecast
                    mu, q = fc.mean, fc.quantiles.T
                except Exception as exc:  # noqa: BLE001 - one bad series must never kill the run
                    mu, q = np.full(h, np.nan), np.full((h, nq), np.nan)
                    errors.append((idx, n, alias, f"{type(exc).__name__}: {exc}"))
                sid.append(np.full(h, idx))
                spec.append(np.full(h, j))
                ntr.append(np.full(h, n))
                mean.append(mu)
                quant.append(q)
    if not sid:
        return {"sid": np.zeros(0, int), "spec": np.zeros(0, int), "n": np.zeros(0, int),
                "step": np.zeros(0, int), "mean": np.zeros(0), "q": np.zeros((0, nq)), "errors": errors,
                "warm": states}
    return {
        "sid": np.concatenate(sid), "spec": np.concatenate(spec), "n": np.concatenate(ntr),
        "step": np.tile(steps, len(sid)), "mean": np.concatenate(mean), "q": np.vstack(quant),
        "errors": errors, "warm": states,
    }


def _context() -> mp.context.BaseContext:
    """"fork" on Linux (no re-import, works from unguarded scripts and notebooks; the workers
    do not log and touch no parent lock), "spawn" elsewhere."""
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


# --- anchored full-history fits ---------------------------------------------------------------
# Inside a :func:`warm_scope` (the strategy opens one around its backtests and full-history fits),
# with ``[engine] backtest_refresh`` > 1, a full-history fit estimates its parameters on the anchored
# prefix and keeps that state in the results cache, keyed by the content of the prefix and the spec
# (so a state can never be applied to another series); a later run between two refreshes only
# updates it (:func:`_warm_for`). Outside a scope nothing is kept, so a result never depends on
# what ran earlier in the process.

_WARM_SCOPE: contextvars.ContextVar[bool] = contextvars.ContextVar("forecast_warm_scope", default=False)


@contextlib.contextmanager
def warm_scope():
    """Within the block, full-history fits use (and keep) their anchored states (:func:`_warm_for`)."""
    token = _WARM_SCOPE.set(True)
    try:
        yield
    finally:
        _WARM_SCOPE.reset(token)


def _prefix_key(alias: str, params: dict[str, Any], y: np.ndarray) -> bytes:
    import hashlib

    h = hashlib.blake2b(f"{alias}|{sorted(params.items())!r}".encode(), digest_size=16)
    h.update(np.ascontiguousarray(y, dtype=float).tobytes())
    return h.digest()


def anchor_length(n_obs: int, refresh: int) -> int:
    """Months on which a full-history fit estimates its parameters between two refreshes: ``n_obs``
    rounded down to a multiple of ``refresh`` (``n_obs`` itself when ``refresh`` is 1)."""
    return n_obs - n_obs % refresh if refresh > 1 and n_obs >= refresh else n_obs


def _warm_for(arrays: list[np.ndarray], specs: list[Spec]) -> list[dict[str, Any]] | None:
    """For full-history fits: per series, ``{alias: state}`` of its anchored fit, or None.

    A full-history fit is *estimated cold*, never started from a shorter window's parameters: on the
    tourism benchmark, full-history fits started from the last backtest window forecast the hold-out
    far worse (ETS MASE 1.589 vs 1.489 cold, ARIMA 2.013 vs 1.838), while inside the backtest the warm
    chain across windows costs nothing measurable (ETS 2.042 vs 2.043, ARIMA 2.456 vs 2.430).

    With ``[engine] backtest_refresh`` > 1 the parameters are estimated (cold) on the anchored prefix
    (:func:`anchor_length`) and only run through the months after it (an update: no estimation),
    like the backtest windows that move every ``refresh`` months: the state of that anchored fit is
    kept in the results cache (:meth:`forecast.cache.ResultCache.states_put`), so a rerun after one
    more month only updates. A series whose anchored state is not known yet gets ``{ANCHOR: n}``
    (the worker fits the prefix first)."""
    if not (WARM_START and _WARM_SCOPE.get()):
        return None
    from forecast.executors import current_cache, current_refresh

    refresh = current_refresh()
    if refresh <= 1:
        return None
    warm_specs = [(a, p) for a, f, p in specs if getattr(_model_class(f), "supports_warm", False)]
    if not warm_specs:
        return None
    cache = current_cache()
    out: list[dict[str, Any]] = []
    for y in arrays:
        found: dict[str, Any] = {}
        anchor = anchor_length(len(y), refresh)
        if anchor < len(y):
            for alias, params in warm_specs:
                key = _prefix_key(alias, params, y[:anchor]).hex()
                known = cache.states_get(key) if cache is not None else None
                found[alias] = {**known, "fixed": True} if known is not None else {ANCHOR: anchor}
        out.append(found)
    return out if any(out) else None


def _keep_anchor_states(out_warm: list[tuple[Any, ...]], arrays: list[np.ndarray], specs: list[Spec]) -> None:
    """Store the anchored fits' states (:func:`_warm_for`) in the session's results cache."""
    from forecast.executors import current_cache, current_refresh

    cache, refresh = current_cache(), current_refresh()
    if cache is None or refresh <= 1:
        return
    params = {a: p for a, _f, p in specs}
    keep = {}
    for sidx, alias, n, state in out_warm:
        y = arrays[int(sidx)]
        if alias in params and state and int(n) == anchor_length(len(y), refresh):  # = len(y): the fit itself
            keep[_prefix_key(alias, params[alias], y[:int(n)]).hex()] = state
    if keep:
        cache.states_put(keep)


def _model_class(family: str) -> type:
    from forecast.models import MODEL_REGISTRY

    return MODEL_REGISTRY.get(family, object)


def _run(
    ids: list[Any],
    arrays: list[np.ndarray],
    lengths: list[list[int]],
    specs: list[Spec],
    h: int,
    n_jobs: int,
    progress: Progress | None,
    warm: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    from forecast.executors import run_specs  # local pool, Dask cluster, cache, work plan: forecast/executors.py

    from forecast.models import preload

    preload([family for _a, family, _p in specs])  # imported once here, inherited by forked workers
    results = run_specs(_run_batch, ids, arrays, lengths, specs, h, n_jobs, progress, warm=warm)
    out = {key: np.concatenate([r[key] for r in results if r is not None]) for key in ("sid", "spec", "n", "step", "mean")}
    out["q"] = np.vstack([r["q"] for r in results if r is not None])
    out["warm"] = [w for r in results if r is not None for w in r.get("warm", [])]
    errors = [e for r in results if r is not None for e in r["errors"]]
    for idx, ntrain, alias, msg in errors[:_MAX_LOGGED_FAILURES]:
        log.warning("model %s failed on series %s (%d training months): %s", alias, ids[idx], ntrain, msg)
    if len(errors) > _MAX_LOGGED_FAILURES:
        log.warning("%d model fits failed in total (first %d shown)", len(errors), _MAX_LOGGED_FAILURES)
    return out


def _frame(out: dict[str, Any], ids: list[Any], first: np.ndarray, specs: list[Spec]) -> pd.DataFrame:
    """Flat worker output -> a forecasts-like frame with ``_n`` (training length) kept."""
    uid_arr = np.asarray(ids, dtype=object)
    aliases = np.asarray([s[0] for s in specs], dtype=object)
    month = first[out["sid"]] + out["n"] + out["step"]
    df = pd.DataFrame({S.UID: uid_arr[out["sid"]], S.DS: _to_datetime(month), S.MODEL: aliases[out["spec"]],
                       S.MEAN: out["mean"]})
    for k, c in enumerate(S.QUANTILE_COLUMNS):
        df[c] = out["q"][:, k]
    df["_sid"] = out["sid"]
    df["_n"] = out["n"]
    return df


def fit_predict(
    series: pd.DataFrame,
    model_specs: dict[str, dict[str, Any]],
    h: int,
    n_jobs: int = 1,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Fit every model on each series' full history and forecast ``h`` months.

    Returns a frame with ``schema.FORECAST_COLUMNS``: ds are the ``h`` month starts after each
    series' last month; sorted by unique_id, model, ds. A failed fit gives NaN rows.
    """
    if h < 1:
        raise ModelError(f"horizon must be >= 1, got {h}")
    specs = resolve_specs(model_specs)
    ids, arrays, first = prepare_series(series)
    lengths = [[len(a)] for a in arrays]
    out = _run(ids, arrays, lengths, specs, h, n_jobs, progress, warm=_warm_for(arrays, specs))
    if WARM_START and _WARM_SCOPE.get():
        _keep_anchor_states(out["warm"], arrays, specs)
    df = _frame(out, ids, first, specs)
    df = df.sort_values([S.UID, S.MODEL, S.DS], kind="stable").reset_index(drop=True)
    return df[S.FORECAST_COLUMNS]


def cross_validate(
    series: pd.DataFrame,
    model_specs: dict[str, dict[str, Any]],
    h: int,
    train_lengths: Callable[[int], Sequence[int]],
    n_jobs: int = 1,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The cross-validation loop: for each series and each training length given by
    ``train_lengths(n_obs)``, fit on the first months and forecast the next ``h``.

    Returns ``schema.CV_COLUMNS`` (cutoff = last training month, y = actual), sorted by
    unique_id, model, cutoff, ds. Used by :func:`forecast.backtest.cross_validation`.
    """
    specs = resolve_specs(model_specs)
    ids, arrays, first = prepare_series(series)
    lengths = [[int(n) for n in train_lengths(len(a)) if 1 <= n and n + h <= len(a)] for a in arrays]
    out = _run(ids, arrays, lengths, specs, h, n_jobs, progress)
    df = _frame(out, ids, first, specs)
    df[S.CUTOFF] = _to_datetime(first[out["sid"]] + out["n"] - 1)
    offsets = np.r_[0, np.cumsum([len(a) for a in arrays])]
    flat = np.concatenate(arrays) if arrays else np.zeros(0)
    df[S.Y] = flat[offsets[out["sid"]] + out["n"] + out["step"]] if len(df) else np.zeros(0)
    df = df.sort_values([S.UID, S.MODEL, S.CUTOFF, S.DS], kind="stable").reset_index(drop=True)
    return df[S.CV_COLUMNS]
