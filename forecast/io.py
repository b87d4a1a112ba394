"""Atomic output writers: write to a temporary file in the same folder, then rename."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_csv(df: pd.DataFrame, path: Path, **kwargs: Any) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, **kwargs)
    return Path(path)


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """Parquet, CSV or XLSX by the file's suffix."""
    path = Path(path)
    if path.suffix == ".parquet":
        return write_parquet(df, path)
    if path.suffix == ".csv":
        return write_csv(df, path)
    if path.suffix == ".xlsx":
        with atomic_path(path) as tmp:
            df.to_excel(tmp, index=False, engine="openpyxl")
        return path
    raise ValueError(f"{path}: unsupported table format (use .parquet, .csv or .xlsx)")


def write_text(text: str, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(obj: Any, path: Path) -> Path:
    return write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", path)


def write_with(writer: Callable[[Path], None], path: Path) -> Path:
    """Atomic write through a callable that writes to the path it is given (e.g. savefig)."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet, CSV or XLSX table written by this tool; a clear error if it cannot."""
    from forecast.errors import DataError

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path, parse_dates=["ds"])
        if path.suffix == ".xlsx":
            return pd.read_excel(path)
    except Exception as exc:  # noqa: BLE001 - reader failures become one clear error
        raise DataError(f"{path}: cannot read ({exc})") from None
    raise DataError(f"{path}: unsupported table format (use .parquet, .csv or .xlsx)")
