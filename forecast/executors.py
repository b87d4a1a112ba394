"""Where per-series batches run: in-process, a local process pool, or a Dask ``distributed`` cluster.

One small interface (:class:`Executor`): ``map(fn, payloads, *args)`` submits batches of picklable
work and yields ``(batch index, result)`` as batches finish; :func:`run_batches` gathers them in
batch order, reports progress, and consults the results cache (:mod:`forecast.cache`) so that a
batch finished once (by this run, a killed run, or the run of last month) is never computed again.

The engine (:mod:`forecast.engine`) calls :func:`run_batches` at its single dispatch point; which
executor and which cache it uses is set for a block of code with :func:`session` (the pipeline does
this from the experiment's ``[engine]`` section) and defaults to a local pool of ``n_jobs``
processes without cache. Models are deterministic and every frame the engine returns is sorted,
so the result does not depend on the executor, the number of workers or the batch sizes.

Batch sizes: about ``4`` batches per worker (load balance) and at most :data:`MAX_BATCH` series
per batch, so that a killed run loses at most one batch per worker and progress bars move.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import numpy as np

from forecast.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from forecast.cache import ResultCache

log = logging.getLogger(__name__)

ENGINES = ("local", "dask")
#: Upper bound on series per batch (checkpoint and progress granularity).
MAX_BATCH = 250
Item = tuple[int, np.ndarray, list[int]]


class Executor:
    """Runs batches of picklable work. Subclasses implement :meth:`map`."""

    name = "executor"
    n_workers = 1

    def map(self, fn: Callable[..., Any], payloads: Sequence[Any], *args: Any) -> Iterator[tuple[int, Any]]:
        """Yield ``(k, fn(payloads[k], *args))`` for every ``k``, in completion order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers or the connection (idempotent)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.name} ({self.n_workers} worker{'s' if self.n_workers != 1 else ''})"


class LocalExecutor(Executor):
    """``n_jobs`` processes on this machine ("fork" on Linux: workers start in milliseconds with
    the models already imported; "spawn" elsewhere); ``n_jobs <= 1`` runs in-process."""

    name = "local"

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_workers = max(1, int(n_jobs))
        self._pool: ProcessPoolExecutor | None = None

    def start(self, families: Sequence[str] = ()) -> None:
        """Fork the workers now, once for the whole run (:func:`experiment_session` calls it before
        the run loads any data): forked later from a parent holding gigabytes of frames, each worker
        would end up with its own copy of them (copy-on-write pages touched by reference counting;
        measured: 2.3 GB per worker on the Grand Est). ``families``: model families whose modules are
        imported first, so the workers inherit them."""
        if self.n_workers <= 1 or self._pool is not None:
            return
        from forecast.models import preload

        preload(list(families))
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.n_workers, mp_context=ctx)
        for fut in [self._pool.submit(int) for _ in range(self.n_workers)]:  # fork them all now
            fut.result()

    def map(self, fn: Callable[..., Any], payloads: Sequence[Any], *args: Any) -> Iterator[tuple[int, Any]]:
        if self.n_workers <= 1 or len(payloads) <= 1:
            for k, p in enumerate(payloads):
                yield k, fn(p, *args)
            return
        if self._pool is not None:
            yield from self._map(self._pool, fn, payloads, *args)
            return
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with ProcessPoolExecutor(max_workers=min(self.n_workers, len(payloads)), mp_context=ctx) as pool:
            yield from self._map(pool, fn, payloads, *args)

    @staticmethod
    def _map(pool: ProcessPoolExecutor, fn: Callable[..., Any], payloads: Sequence[Any],
             *args: Any) -> Iterator[tuple[int, Any]]:
        futures = {pool.submit(fn, p, *args): k for k, p in enumerate(payloads)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """A Dask ``distributed`` cluster: ``address`` of a running scheduler (``tcp://host:8786``), or
    an existing ``distributed.Client``. The workers need the ``forecast`` package installed (same
    version): batches reference the engine's functions by name."""

    name = "dask"

    def __init__(self, address: str | None = None, client: Any = None, timeout: float = 30.0) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
            raise ConfigError("the dask engine needs the 'distributed' package: pip install 'dask[distributed]'") from exc
        self._own = client is None
        if client is None:
            if not address:
                raise ConfigError("the dask engine needs a scheduler address (--scheduler tcp://HOST:8786)")
            try:
                client = Client(address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.client = client
        self.address = client.scheduler.address
        self.n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))

    def map(self, fn: Callable[..., Any], payloads: Sequence[Any], *args: Any) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed as dask_completed

        if not payloads:
            return
        futures = [self.client.submit(fn, p, *args, pure=False, retries=1) for p in payloads]
        index = {f.key: k for k, f in enumerate(futures)}
        try:
            for fut in dask_completed(futures, loop=self.client.loop):
                yield index[fut.key], fut.result()
                fut.release()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        if self._own and self.client is not None:
            self.client.close()
            self.client = None

    def describe(self) -> str:
        return f"dask at {self.address} ({self.n_workers} workers)"


def make_executor(engine: str = "local", n_jobs: int = 1, scheduler: str | None = None) -> Executor:
    """``"local"`` -> :class:`LocalExecutor` of ``n_jobs``; ``"dask"`` -> :class:`DaskExecutor` on ``scheduler``."""
    if engine == "local":
        return LocalExecutor(n_jobs)
    if engine == "dask":
        return DaskExecutor(scheduler)
    raise ConfigError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


_EXECUTOR: contextvars.ContextVar[Executor | None] = contextvars.ContextVar("forecast_executor", default=None)
_CACHE: contextvars.ContextVar["ResultCache | None"] = contextvars.ContextVar("forecast_cache", default=None)
_PLAN: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("forecast_plan", default=None)
_REFRESH: contextvars.ContextVar[int] = contextvars.ContextVar("forecast_refresh", default=1)
_FAST: contextvars.ContextVar[bool] = contextvars.ContextVar("forecast_fast", default=True)


@contextlib.contextmanager
def session(executor: Executor | None = None, cache: "ResultCache | None" = None, plan: Any = None,
            refresh: int = 1, fast: bool = True) -> Iterator[None]:
    """Within the block, the engine runs its batches on ``executor`` (default: a local pool of
    the caller's ``n_jobs``), reads/writes finished batches in ``cache`` (default: none) and skips
    the (series, family) pairs a work ``plan`` (:class:`forecast.screening.WorkPlan`) excludes.

    ``refresh`` (months, ``[engine] backtest_refresh``): backtest training lengths are rounded down
    to a multiple of ``refresh``, so the backtest windows move every ``refresh`` months instead of
    every month; with the cache, a monthly rerun then reuses the whole backtest and only refits the
    full-history forecasts. Final fits (the whole series) are never shifted. 1 = no rounding.

    ``fast``: the cheap families run vectorised (:mod:`forecast.fastpath`, same forecasts)."""
    t1 = _EXECUTOR.set(executor)
    t2 = _CACHE.set(cache)
    t3 = _PLAN.set([plan])
    t4 = _REFRESH.set(max(1, int(refresh)))
    t5 = _FAST.set(bool(fast))
    try:
        yield
    finally:
        _EXECUTOR.reset(t1)
        _CACHE.reset(t2)
        _PLAN.reset(t3)
        _REFRESH.reset(t4)
        _FAST.reset(t5)


def set_plan(plan: Any) -> None:
    """Install a work plan in the current :func:`session` (for the rest of the block)."""
    box = _PLAN.get()
    if box is None:
        raise RuntimeError("set_plan needs an engine session (forecast.executors.session)")
    box[0] = plan


def current_cache() -> "ResultCache | None":
    return _CACHE.get()


def current_refresh() -> int:
    """The session's ``[engine] backtest_refresh`` (months; 1 outside a session)."""
    return _REFRESH.get()


def batch_ranges(n: int, n_workers: int) -> list[range]:
    """Contiguous ranges of ``n`` items: about 4 per worker (8 in-process, for the progress
    bar), none larger than :data:`MAX_BATCH`."""
    if n <= 0:
        return []
    k = 4 * n_workers if n_workers > 1 else 8
    k = max(k, -(-n // MAX_BATCH))
    k = max(1, min(k, n))
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def anchored_lengths(lengths: list[int], n_obs: int) -> list[int]:
    """Backtest training lengths as the current session runs them (anchored with ``refresh`` > 1)."""
    refresh = _REFRESH.get()
    return _anchor(list(lengths), n_obs, refresh) if refresh > 1 else list(lengths)


def _anchor(lengths: list[int], n_obs: int, refresh: int) -> list[int]:
    """Shift the backtest windows (training lengths < ``n_obs``) back together so that the latest
    one is a multiple of ``refresh``; the full-history length is kept."""
    windows = [n for n in lengths if n < n_obs]
    if not windows:
        return lengths
    shift = max(windows) % refresh
    if min(windows) - shift < 1:
        return lengths
    return sorted({n - shift if n < n_obs else n for n in lengths})


def run_specs(
    fn: Callable[..., dict[str, Any]],
    ids: Sequence[Any],
    arrays: Sequence[np.ndarray],
    lengths: Sequence[list[int]],
    specs: list[Any],
    h: int,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    warm: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The engine's dispatch point: ``fn(items, specs, h)`` over every series, as
    :func:`run_batches`, except that

    - specs of the cheap families run vectorised (:func:`forecast.fastpath.fit_batch`, same
      results) unless the session says ``fast=False``;
    - a spec the session's work plan restricts runs only on its series (the result then simply
      has no rows for the others, like a family that was not asked);
    - with ``refresh`` > 1 the backtest windows are anchored (:func:`session`).
    """
    from forecast import fastpath

    refresh = _REFRESH.get()
    if refresh > 1:  # anchored backtest windows (session docstring); series on one monthly grid
        lengths = [_anchor(list(ln), len(a), refresh) for a, ln in zip(arrays, lengths)]
    box = _PLAN.get()
    plan = box[0] if box else None
    final = all(len(ln) == 1 and ln[0] == len(a) for a, ln in zip(arrays, lengths))  # full-history fits
    masks = [plan.mask(spec[0], list(ids), final) if plan is not None else None for spec in specs]
    fast = [_FAST.get() and fastpath.supports(spec[1], spec[2]) for spec in specs]
    n = len(arrays)
    groups: dict[tuple[bool, int], list[int]] = {}
    for j in range(len(specs)):
        groups.setdefault((fast[j], -1 if masks[j] is None else j), []).append(j)
    if list(groups) == [(False, -1)]:
        return run_batches(fn, arrays, lengths, (specs, h), n_jobs, progress, warm=warm)
    plan_groups = []
    for (is_fast, restricted), js in sorted(groups.items()):
        sel = np.arange(n) if restricted < 0 else np.flatnonzero(masks[restricted])
        plan_groups.append((fastpath.fit_batch if is_fast else fn, js, sel))
    total = sum(len(sel) * len(js) for _, js, sel in plan_groups)
    out: list[dict[str, Any]] = []
    offset = 0
    for work, js, sel in plan_groups:
        if len(sel) == 0:
            continue
        tick = (lambda d, t, o=offset, w=len(js): progress(o + d * w, total)) if progress else None
        aliases = {specs[j][0] for j in js}
        sub_warm = None if warm is None or work is not fn else [
            {a: st for a, st in warm[i].items() if a in aliases} for i in sel]
        parts = run_batches(work, [arrays[i] for i in sel], [lengths[i] for i in sel], ([specs[j] for j in js], h),
                            n_jobs, tick, warm=sub_warm)
        spec_map = np.asarray(js)
        for r in parts:
            r = dict(r)
            r["sid"] = sel[np.asarray(r["sid"], dtype=int)]
            if "spec" in r:
                r["spec"] = spec_map[np.asarray(r["spec"], dtype=int)]
            r["errors"] = [tuple([int(sel[e[0]]), *e[1:]]) for e in r.get("errors", [])]
            r["warm"] = [tuple([int(sel[e[0]]), *e[1:]]) for e in r.get("warm", [])]
            out.append(r)
        offset += len(sel) * len(js)
    return out or [fn([], specs, h)]  # every series excluded: the worker's own empty result


def run_batches(
    fn: Callable[..., dict[str, Any]],
    arrays: Sequence[np.ndarray],
    lengths: Sequence[list[int]],
    args: tuple[Any, ...],
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    warm: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Run ``fn(items, *args)`` over every series, in batches, on the session's executor.

    ``warm[i]`` (optional): ``{alias: state}`` the fits of series ``i`` start from (warm starts,
    :func:`forecast.engine.fit_predict`); it is part of the cache key and reaches the worker as a
    fourth item element.

    ``items`` are ``(series index, values, training lengths)``; ``fn`` returns a dict of flat
    arrays whose rows carry the series index in ``"sid"`` (plus an ``"errors"`` list of tuples
    starting with the series index). With a cache in the session, series whose result is already
    stored (same values, training lengths, ``args`` and model code) are not recomputed, and every
    finished batch is stored as soon as it arrives (a killed run resumes from there).
    Returns the result dicts (cached parts first, then batches in order).
    """
    # a worker sees only what its fits may use: the longest training prefix (no look-ahead; and a
    # new month of data leaves the backtest's cache keys unchanged)
    arrays = [a[: max(ln)] if len(ln) else a[:0] for a, ln in zip(arrays, lengths)]
    n = len(arrays)
    cache = _CACHE.get()
    executor = _EXECUTOR.get()
    own = executor is None
    results: list[dict[str, Any]] = []
    todo = list(range(n))
    keys: list[str] = []
    if warm is not None and not any(warm):
        warm = None
    if cache is not None:
        extra = None if warm is None else [json.dumps(w, sort_keys=True).encode() for w in warm]
        keys = cache.keys(arrays, lengths, fn, args, extra)
        hits, todo = cache.lookup(keys)
        results.extend(hits)
    done = n - len(todo)
    if progress:
        progress(done, n)
    if not todo:
        return results
    if own:
        executor = LocalExecutor(n_jobs)
    try:
        ranges = batch_ranges(len(todo), executor.n_workers)
        batches = [[todo[j] for j in r] for r in ranges]
        payloads = [[(i, arrays[i], list(lengths[i])) if warm is None else (i, arrays[i], list(lengths[i]), warm[i])
                     for i in b] for b in batches]
        fresh: list[dict[str, Any] | None] = [None] * len(batches)
        for k, res in executor.map(fn, payloads, *args):
            fresh[k] = res
            if cache is not None:
                cache.store([keys[i] for i in batches[k]], batches[k], res)
            done += len(batches[k])
            if progress:
                progress(done, n)
    finally:
        if own:
            executor.close()
    results.extend(r for r in fresh if r is not None)
    return results


@contextlib.contextmanager
def experiment_session(exp: Any) -> Iterator[dict[str, Any]]:
    """Everything a run of experiment ``exp`` needs around its stages: the run locks (store and
    output folder, :mod:`forecast.locking`), the executor of its ``[engine]`` section and its
    results cache. Yields a dict that receives the cache statistics when the block ends."""
    import os

    from forecast.cache import ResultCache, default_cache_dir
    from forecast.locking import experiment_lock

    info: dict[str, Any] = {}
    with experiment_lock(exp, wait=exp.lock_wait):
        executor = make_executor(exp.engine, exp.n_jobs or os.cpu_count() or 1, exp.scheduler or None)
        cache = ResultCache(exp.cache_dir or default_cache_dir(exp.store)) if exp.cache else None
        info["engine"] = executor.describe()
        log.info("engine: %s; cache: %s", info["engine"], cache.folder if cache else "off")
        if isinstance(executor, LocalExecutor):  # workers forked while the parent is still small
            executor.start(exp.families)
        with executor, session(executor, cache, refresh=exp.backtest_refresh):
            try:
                yield info
            finally:
                if cache is not None:
                    info.update(cache.stats())
                    log.info("cache: %d series results reused, %d computed (%s)", cache.hits, cache.misses, cache.folder)


def with_engine_options(exp: Any, engine: str | None = None, scheduler: str | None = None,
                        cache: bool | None = None, wait: float | None = None,
                        resume: bool = False) -> tuple[Any, Any]:
    """Command-line overrides of an experiment's ``[engine]`` section -> ``(experiment, run_dir)``.

    ``resume``: continue the newest interrupted run of the experiment (its folder is reused and the
    cache supplies every batch it finished); ``run_dir`` is None when starting a new run.
    ``wait`` < 0 means wait for a busy store as long as it takes.
    """
    import dataclasses

    from forecast.cache import incomplete_run_dir

    changes: dict[str, Any] = {}
    if engine is not None:
        if engine not in ENGINES:
            raise ConfigError(f"--engine: unknown engine {engine!r} (known: {', '.join(ENGINES)})")
        changes["engine"] = engine
    if scheduler:
        changes["scheduler"] = scheduler
        changes.setdefault("engine", "dask")
    if cache is not None:
        changes["cache"] = cache
    if wait is not None:
        changes["lock_wait"] = None if wait < 0 else float(wait)
    exp = dataclasses.replace(exp, **changes) if changes else exp
    if exp.engine == "dask" and not exp.scheduler:
        raise ConfigError("--engine dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    run_dir = None
    if resume:
        if not exp.cache:
            raise ConfigError("--resume needs the results cache (drop --no-cache)")
        run_dir = incomplete_run_dir(exp.output_dir, exp.name)
        if run_dir is None:
            raise ConfigError(f"--resume: no interrupted run of {exp.name!r} under {exp.output_dir / exp.name}")
    return exp, run_dir
