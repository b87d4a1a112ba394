"""Results cache of the engine: finished batches on disk, looked up per series.

Each series' result is keyed by a hash of what determines it: its values (the whole array the
engine hands to the workers), its training lengths, the work function and its arguments (model
specs, horizon) and the source code of the model families and the engine (:func:`code_fingerprint`),
so a change of data, configuration or model code is a miss, never a stale hit.

Every finished batch is written as soon as it arrives, atomically (temporary file + rename), as
one ``.npz`` holding the batch's flat result arrays, the series keys and their row index. This is
the checkpoint that lets a killed run resume without redoing finished batches, and what lets a
rerun skip every series whose data did not change. The folder defaults to ``cache/`` next to the
experiment's store (``data/cache`` for ``data/forecast.duckdb``); deleting it is always safe.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forecast.io import atomic_path

log = logging.getLogger(__name__)

_FORMAT = "1"
_FINGERPRINT: str | None = None


def code_fingerprint() -> str:
    """Hash of the source of the model families and the engine (computed once per process)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        root = Path(__file__).resolve().parent
        names = ("engine.py", "fastpath.py", "paths.py", "schema.py")
        files = sorted((root / "models").glob("*.py")) + [root / n for n in names]
        h = hashlib.blake2b(_FORMAT.encode(), digest_size=16)
        for f in files:
            if f.exists():
                h.update(f.name.encode())
                h.update(f.read_bytes())
        _FINGERPRINT = h.hexdigest()
    return _FINGERPRINT


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()


class ResultCache:
    """Finished engine batches under ``folder`` (created on first write)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._index: dict[str, tuple[Path, int]] | None = None
        self._states: dict[str, dict[str, Any]] | None = None
        self.hits = 0
        self.misses = 0
        self.batches_written = 0

    # --- keys --------------------------------------------------------------------------------
    def keys(self, arrays: Sequence[np.ndarray], lengths: Sequence[Sequence[int]],
             fn: Callable[..., Any], args: tuple[Any, ...], extra: Sequence[bytes] | None = None) -> list[str]:
        """One key per series: values + training lengths + work function + its args + model code
        (+ ``extra[i]``: e.g. the warm-start states a fit starts from)."""
        context = f"{fn.__module__}.{fn.__qualname__}|{args!r}|{code_fingerprint()}".encode()
        extra = extra if extra is not None else [b""] * len(arrays)
        return [_digest(context, np.ascontiguousarray(a, dtype=float).tobytes(),
                        np.asarray(list(n), dtype=np.int64).tobytes(), x)
                for a, n, x in zip(arrays, lengths, extra)]

    # --- index -----------------------------------------------------------------------------
    def _load_index(self) -> dict[str, tuple[Path, int]]:
        if self._index is None:
            self._index = {}
            if self.folder.is_dir():
                for f in sorted(self.folder.glob("*.npz")):
                    try:
                        with np.load(f, allow_pickle=False) as z:
                            keys, sids = z["_keys"], z["_sids"]
                    except (OSError, ValueError, KeyError) as exc:  # a damaged file is a miss
                        log.warning("cache file %s unreadable (%s): ignored", f, exc)
                        continue
                    for k, s in zip(keys.tolist(), sids.tolist()):
                        self._index[k] = (f, int(s))
        return self._index

    def __len__(self) -> int:
        """Number of series results stored."""
        return len(self._load_index())

    def __bool__(self) -> bool:  # an empty cache is still a cache
        return True

    # --- lookup ----------------------------------------------------------------------------
    def lookup(self, keys: Sequence[str]) -> tuple[list[dict[str, Any]], list[int]]:
        """``(result dicts of the cached series, with "sid" set to their index in keys; the indices
        of the series still to compute)``."""
        index = self._load_index()
        by_file: dict[Path, list[tuple[int, int]]] = {}
        todo: list[int] = []
        for i, k in enumerate(keys):
            hit = index.get(k)
            if hit is None:
                todo.append(i)
            else:
                by_file.setdefault(hit[0], []).append((i, hit[1]))
        out: list[dict[str, Any]] = []
        for f, pairs in by_file.items():
            part = self._read(f, pairs)
            if part is None:  # vanished or damaged since indexing: recompute those series
                todo.extend(i for i, _ in pairs)
            else:
                out.append(part)
        todo.sort()
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        return out, todo

    def _read(self, f: Path, pairs: list[tuple[int, int]]) -> dict[str, Any] | None:
        try:
            with np.load(f, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            log.warning("cache file %s unreadable (%s): recomputing its series", f, exc)
            return None
        sid = data.pop("sid")
        errors = json.loads(str(data.pop("_errors")))
        warm = json.loads(str(data.pop("_warm"))) if "_warm" in data else []
        for k in ("_keys", "_sids"):
            data.pop(k)
        order = np.argsort(sid, kind="stable")
        sorted_sid = sid[order]
        rows, new_sid = [], []
        for new, old in pairs:
            a, b = np.searchsorted(sorted_sid, [old, old + 1])
            rows.append(order[a:b])
            new_sid.append(np.full(b - a, new, dtype=sid.dtype))
        take = np.concatenate(rows) if rows else np.zeros(0, int)
        out: dict[str, Any] = {k: v[take] for k, v in data.items()}
        out["sid"] = np.concatenate(new_sid) if new_sid else sid[:0]
        remap: dict[int, list[int]] = {}
        for new, old in pairs:
            remap.setdefault(old, []).append(new)
        out["errors"] = [tuple([new, *e[1:]]) for e in errors for new in remap.get(int(e[0]), [])]
        out["warm"] = [tuple([new, *e[1:]]) for e in warm for new in remap.get(int(e[0]), [])]
        return out

    # --- store -----------------------------------------------------------------------------
    def store(self, keys: Sequence[str], sids: Sequence[int], result: dict[str, Any]) -> Path | None:
        """Write one finished batch (``keys[j]`` is the series whose rows have ``sid == sids[j]``).

        Results whose arrays are not all row-aligned with ``"sid"`` are not cached (returns None).
        """
        nrows = len(result["sid"])
        arrays: dict[str, np.ndarray] = {}
        for k, v in result.items():
            if k in ("errors", "warm"):
                continue
            if not isinstance(v, np.ndarray) or v.ndim == 0 or v.shape[0] != nrows or v.dtype == object:
                log.debug("result key %r is not row-aligned: batch not cached", k)
                return None
            arrays[k] = v
        errors = [[int(e[0]), *[x if isinstance(x, (int, float, str)) else str(x) for x in e[1:]]]
                  for e in result.get("errors", [])]
        arrays["_errors"] = np.array(json.dumps(errors))
        # warm-start states: (series index, alias, training length, state as JSON-able dict)
        arrays["_warm"] = np.array(json.dumps([list(w) for w in result.get("warm", [])]))
        arrays["_keys"] = np.asarray(list(keys), dtype="U32")
        arrays["_sids"] = np.asarray(list(sids), dtype=np.int64)
        path = self.folder / f"{_digest(''.join(keys).encode())}.npz"
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        self.batches_written += 1
        if self._index is not None:
            for k, s in zip(keys, sids):
                self._index[k] = (path, int(s))
        return path

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "batches_written": self.batches_written}

    # --- model states of anchored full-history fits (forecast.engine._warm_for) ----------------
    def states_get(self, key: str) -> dict[str, Any] | None:
        """The model state stored under ``key`` (a prefix hash), or None."""
        if self._states is None:
            self._states = {}
            for f in sorted((self.folder / "states").glob("*.json")):
                try:
                    self._states.update(json.loads(f.read_text(encoding="utf-8")))
                except (OSError, ValueError) as exc:  # a damaged file is a miss
                    log.warning("cache file %s unreadable (%s): ignored", f, exc)
        return self._states.get(key)

    def states_put(self, states: dict[str, dict[str, Any]]) -> None:
        """Store model states by key, in one new file (atomically)."""
        if not states:
            return
        body = json.dumps(states, sort_keys=True)
        f = self.folder / "states" / f"{_digest(body.encode())}.json"
        f.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(f) as tmp:
            Path(tmp).write_text(body, encoding="utf-8")
        if self._states is not None:
            self._states.update(states)

    # --- memos: small results of the driver's own stages, keyed by a hash of their inputs ------
    def memo_get(self, kind: str, key: str) -> Any | None:
        """The JSON value stored by :meth:`memo_put` for (``kind``, ``key``), or None."""
        f = self.folder / "memo" / f"{kind}-{key}.json"
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def memo_put(self, kind: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` for (``kind``, ``key``), atomically."""
        f = self.folder / "memo" / f"{kind}-{key}.json"
        f.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(f) as tmp:
            Path(tmp).write_text(json.dumps(value), encoding="utf-8")


    def memo_frames_get(self, kind: str, key: str, names: Sequence[str]) -> dict[str, Any] | None:
        """The frames stored by :meth:`memo_frames_put` (Parquet), or None if any is missing."""
        import pandas as pd

        folder = self.folder / "memo" / f"{kind}-{key}"
        try:
            return {n: pd.read_parquet(folder / f"{n}.parquet") for n in names}
        except (OSError, ValueError):
            return None

    def memo_frames_put(self, kind: str, key: str, frames: dict[str, Any]) -> None:
        """Store frames for (``kind``, ``key``) as Parquet files, each atomically."""
        folder = self.folder / "memo" / f"{kind}-{key}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in frames.items():
            with atomic_path(folder / f"{name}.parquet") as tmp:
                frame.to_parquet(tmp, index=False)


def frame_digest(*parts: Any) -> str:
    """Hash of frames, arrays and plain values (a memo key): frames by their values and column names.

    Float columns are hashed at float32 precision: the vectorised families' forecasts can differ in
    the last bit with the batch they ran in (measured: 96 of 2.7 million backtest values, by 1e-16),
    which must not make a rerun miss a result computed from the same backtest."""
    import pandas as pd

    h = hashlib.blake2b(code_fingerprint().encode(), digest_size=16)
    for p in parts:
        if isinstance(p, pd.DataFrame):
            h.update(repr(list(p.columns)).encode())
            floats = {c: np.float32 for c in p.columns if pd.api.types.is_float_dtype(p[c])}
            h.update(pd.util.hash_pandas_object(p.astype(floats) if floats else p, index=False).to_numpy().tobytes())
        elif isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode())
    return h.hexdigest()


def default_cache_dir(store: str | Path) -> Path:
    """``cache/`` next to the store file (``data/forecast.duckdb`` -> ``data/cache``)."""
    return Path(store).resolve().parent / "cache"


def incomplete_run_dir(output_dir: str | Path, experiment: str) -> Path | None:
    """The newest run folder of ``experiment`` that has no ``summary.json`` (an interrupted run),
    or None. Resuming into it reuses its folder; the cache supplies its finished batches."""
    root = Path(output_dir) / experiment
    if not root.is_dir():
        return None
    runs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    for p in reversed(runs):
        return None if (p / "summary.json").exists() else p
    return None
