"""One run at a time per store and per output folder: advisory file locks (``fcntl.flock``).

A run takes ``<store>.lock`` (guards the DuckDB file and the results cache next to it) and
``<output dir>/.<experiment>.lock``. A second run against the same store either waits for the
first one (``wait`` seconds, ``None`` = forever: the runs queue) or fails at once with a
:class:`LockBusy` error naming the holder (pid, host, start time, command). The kernel releases the
locks when the holding process ends, even if it is killed: a crashed run never leaves a stale lock.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from forecast.errors import ForecastError

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class LockBusy(ForecastError):
    """Another run holds the lock."""


def lock_path_of_store(store: str | Path) -> Path:
    """``data/forecast.duckdb`` -> ``data/forecast.duckdb.lock``."""
    store = Path(store)
    return store.with_name(store.name + ".lock")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    if not info:
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')} ({info.get('command', '')})"


@contextlib.contextmanager
def file_lock(path: str | Path, wait: float | None = 0.0, poll: float = 0.2) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block.

    ``wait``: seconds to wait for a busy lock (0 = fail at once, ``None`` = wait forever).
    Raises :class:`LockBusy` naming the holder if the lock is still busy after ``wait``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            deadline = None if wait is None else time.monotonic() + max(wait, 0.0)
            announced = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise LockBusy(
                            f"{path} is held by {_holder(path)}: another run uses this store or output "
                            f"folder; wait for it to finish or rerun with --wait SECONDS to queue") from None
                    if not announced:
                        log.info("waiting for %s (held by %s)", path, _holder(path))
                        announced = True
                    time.sleep(poll)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now().isoformat(timespec="seconds"), "command": " ".join(sys.argv)[:200]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def run_lock(paths: Sequence[str | Path], wait: float | None = 0.0) -> Iterator[list[Path]]:
    """Hold every lock of ``paths`` (taken in sorted order, so two runs never deadlock)."""
    unique = sorted({Path(p).resolve() for p in paths})
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        for p in unique:
            left = None if wait is None else max(0.0, wait - (time.monotonic() - start))
            stack.enter_context(file_lock(p, wait=left))
        yield unique


def experiment_lock(exp: object, wait: float | None = 0.0) -> contextlib.AbstractContextManager[list[Path]]:
    """The locks of one experiment run: its store and its output folder."""
    store = Path(getattr(exp, "store"))
    out = Path(getattr(exp, "output_dir")) / f".{getattr(exp, 'name')}.lock"  # outside the run folders
    return run_lock([lock_path_of_store(store), out], wait=wait)
