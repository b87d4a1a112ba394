"""Experiment tracking: the tracker the pipeline is handed (the tracking layer is the only code that imports mlflow).

The pipeline is handed a :class:`Tracker` and calls it at stage boundaries; stages never see it.
:class:`NullTracker` does nothing (library use, fast tests); :class:`MlflowTracker` writes to a
local MLflow store folder::

    <store>/mlflow.db        sqlite backend (MLflow 3.17 refuses the plain folder store)
    <store>/artifacts/       every run's artifacts (the experiment's artifact_location)

One parent run per experiment run; one child run per model family (never one run per series:
per-series results go into a table artifact, aggregates into metrics). Everything goes through
``MlflowClient`` with explicit run ids, so no global active-run state is touched, and params,
metrics and tags are sent with ``log_batch``.

``mlflow`` is imported lazily, inside the functions that need it: importing it costs about 1.4 s,
which ``NullTracker`` users and the CLI's ``--help`` should not pay.

The store's URIs and clients live in :mod:`forecast.tracking_store`, the run lookups
(``find_runs``, ``experiment_id``, ``run_folder``, ``load_forecaster``) in
:mod:`forecast.tracking_runs`, the pyfunc model in :mod:`forecast.tracking_model`; all are
re-exported here.
"""
from __future__ import annotations

import contextlib
import getpass
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from forecast.tracking_runs import experiment_id, find_runs, latest_experiment_id, load_forecaster, run_folder
from forecast.tracking_store import (ARTIFACTS_DIR, DB_NAME, PARENT_TAG, RUN_NAME_TAG, _client, _create_store,
                                     _store_lock, artifacts_uri, tracking_uri)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation, 3.17): checked in tests/test_tracking.py.
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_KEY_LENGTH = 250
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000

_STATUSES = ("FINISHED", "FAILED", "KILLED")
# Allowed characters for param and metric keys: word characters, '.', '-', '/', ' '. MLflow also
# accepts ':' except on Windows; we drop it so that stores stay portable.
_BAD_KEY_CHARS = re.compile(r"[^\w.\-/ ]")


# --- helpers (no mlflow) -----------------------------------------------------------------------
def sanitize_key(name: object) -> str:
    """Return ``name`` as a valid MLflow param/metric key.

    Forbidden characters become ``_``; empty, ``.`` and ``..`` path segments are dropped (MLflow
    refuses keys that are not normalised paths); the result is cut to 250 characters.

    >>> sanitize_key("mase@h=12 (zone: 5101)")
    'mase_h_12 _zone_ 5101_'
    """
    text = _BAD_KEY_CHARS.sub("_", str(name))
    parts = [p for p in text.split("/") if p not in ("", ".", "..")]
    text = "/".join(parts)[:MAX_KEY_LENGTH].rstrip("/")
    return text or "_"


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested dicts into dotted keys with string values (``{"a": {"b": 1}} -> {"a.b": "1"}``).

    Values longer than MLflow's limit are truncated (with a debug log); keys are sanitised.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, prefix=f"{name}."))
            continue
        text = _to_text(value)
        if len(text) > MAX_PARAM_VAL_LENGTH:
            log.debug("param %r truncated from %d to %d characters", name, len(text), MAX_PARAM_VAL_LENGTH)
            text = text[:MAX_PARAM_VAL_LENGTH]
        flat[sanitize_key(name)] = text
    return flat


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Sanitise metric names and drop values that are not finite numbers (debug log for each)."""
    clean: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            log.debug("metric %r skipped: %r is not a number", key, value)
            continue
        if not math.isfinite(number):
            log.debug("metric %r skipped: value %r is not finite", key, number)
            continue
        clean[sanitize_key(key)] = number
    return clean


def flatten_metrics(frame: pd.DataFrame, model: str | None = None) -> dict[str, float]:
    """Turn a tidy aggregate frame (``model, metric, value``) for one model into ``{metric: value}``.

    With ``model`` given, the frame is first filtered on it; otherwise it must hold one model only.
    Extra key columns (``horizon``, ``level``...) other than model/metric/value are folded into the
    name in column order (``mase/horizon_12``), so the names are identical across child runs as
    long as every model is scored on the same grid. Duplicate names raise ``ValueError``.
    """
    required = {"metric", "value"}
    missing = required - set(frame.columns)
    if missing:
        raise ValueError(f"metrics frame lacks column(s) {sorted(missing)}; has {list(frame.columns)}")
    if "model" in frame.columns:
        if model is not None:
            frame = frame[frame["model"] == model]
        models = frame["model"].unique()
        if len(models) > 1:
            raise ValueError(f"metrics frame holds several models {list(models)}; pass model=...")
    extra = [c for c in frame.columns if c not in ("model", "metric", "value", "unique_id")]
    out: dict[str, float] = {}
    for row in frame.itertuples(index=False):
        parts = [str(getattr(row, "metric"))] + [f"{c}_{getattr(row, c)}" for c in extra]
        name = sanitize_key("/".join(parts))
        if name in out:
            raise ValueError(f"metric {name!r} appears twice: aggregate the frame first")
        out[name] = float(getattr(row, "value"))
    return out


def _to_text(value: Any) -> str:
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, (list, tuple)):
        return ",".join(_to_text(v) for v in value)
    return str(value)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container without a passwd entry
        return "unknown"


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the protocol and the null tracker ---------------------------------------------------------
@runtime_checkable
class Tracker(Protocol):
    """What the pipeline calls. Every method acts on the current parent run."""

    def start_parent(self, run_name: str, params: dict, tags: dict) -> str: ...

    def log_params(self, params: dict) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None: ...

    def log_child(
        self,
        name: str,
        params: dict,
        metrics: dict[str, float],
        tags: dict | None = None,
        artifacts: list[Path] | None = None,
    ) -> str: ...

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...

    def log_artifacts(self, directory: Path, artifact_path: str | None = None) -> None: ...

    def set_tags(self, tags: dict) -> None: ...

    def log_table(self, frame: pd.DataFrame, artifact_file: str) -> None: ...

    def log_forecaster(self, directory: Path, name: str, description: str) -> str | None: ...

    def end_parent(self, status: str = "FINISHED") -> None: ...

    def parent(self, run_name: str, params: dict | None = None, tags: dict | None = None) -> contextlib.AbstractContextManager[str]: ...


class _ParentContext:
    """``with tracker.parent(name, params, tags) as run_id:``: ends FINISHED, or FAILED on error."""

    @contextlib.contextmanager
    def parent(self, run_name: str, params: dict | None = None, tags: dict | None = None) -> Iterator[str]:
        run_id = self.start_parent(run_name, params or {}, tags or {})  # type: ignore[attr-defined]
        try:
            yield run_id
        except KeyboardInterrupt:
            self._end_on_error("KILLED", "interrupted")
            raise
        except BaseException as exc:
            self._end_on_error("FAILED", f"{type(exc).__name__}: {exc}")
            raise
        else:
            self.end_parent("FINISHED")  # type: ignore[attr-defined]

    def _end_on_error(self, status: str, message: str) -> None:
        try:
            self.set_tags({"error": message[:MAX_TAG_VAL_LENGTH]})  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - never hide the original error
            log.debug("could not record the error on the run", exc_info=True)
        self.end_parent(status)  # type: ignore[attr-defined]


class NullTracker(_ParentContext):
    """A tracker that records nothing: same API as :class:`MlflowTracker`."""

    def start_parent(self, run_name: str, params: dict, tags: dict) -> str:
        return ""

    def log_params(self, params: dict) -> None:
        return None

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        return None

    def log_child(self, name: str, params: dict, metrics: dict[str, float], tags: dict | None = None,
                  artifacts: list[Path] | None = None) -> str:
        return ""

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        return None

    def log_artifacts(self, directory: Path, artifact_path: str | None = None) -> None:
        return None

    def set_tags(self, tags: dict) -> None:
        return None

    def log_table(self, frame: pd.DataFrame, artifact_file: str) -> None:
        return None

    def log_forecaster(self, directory: Path, name: str, description: str) -> str | None:
        return None

    def end_parent(self, status: str = "FINISHED") -> None:
        return None


# --- the MLflow tracker ------------------------------------------------------------------------
class MlflowTracker(_ParentContext):
    """Log to a local MLflow store folder through ``MlflowClient`` with explicit run ids.

    Creating a store for the first time runs MLflow's alembic migrations: about 1.7 s on the
    2-core reference machine when idle (up to 8 s under load), plus 1.4 s to import mlflow.
    Opening an existing store takes about 10 ms once mlflow is imported.
    """

    def __init__(self, store: Path = Path("mlruns"), experiment: str = "default", quiet: bool = True,
                 telemetry: bool = False) -> None:
        if not telemetry:
            # MLflow 3 phones home (config.mlflow-telemetry.io) unless told not to; an explicit
            # MLFLOW_DISABLE_TELEMETRY in the environment still wins.
            os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow  # noqa: F401 - configures the ``mlflow`` logger, so quiet it afterwards

        if quiet:
            # MLflow logs INFO lines on store creation ("Creating initial MLflow database
            # tables..."): raise only the ``mlflow`` logger, and only when asked.
            logging.getLogger("mlflow").setLevel(logging.WARNING)
        self.store = Path(store).expanduser().resolve()
        self.experiment = experiment
        self.parent_id: str | None = None
        self._logged_params: dict[str, str] = {}
        self.store.mkdir(parents=True, exist_ok=True)
        (self.store / ARTIFACTS_DIR).mkdir(exist_ok=True)
        started = time.perf_counter()
        with _store_lock(self.store):
            if not (self.store / DB_NAME).is_file():
                _create_store(self.store)
            self.client = _client(self.store)
            self.experiment_id = self._ensure_experiment()
        log.debug("MLflow store %s opened in %.2f s", self.store, time.perf_counter() - started)

    def _ensure_experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            if found.lifecycle_stage != "active":
                log.info("restoring deleted MLflow experiment %r", self.experiment)
                self.client.restore_experiment(found.experiment_id)
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(self.experiment, artifact_location=artifacts_uri(self.store)))
        except MlflowException:  # created meanwhile by another process without the lock
            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return str(found.experiment_id)

    # ---------------------------------------------------------------- parent run
    def start_parent(self, run_name: str, params: dict, tags: dict) -> str:
        """Start the parent run and return its id; params and tags are logged batched."""
        if self.parent_id is not None:
            raise RuntimeError(f"parent run {self.parent_id} is still open: call end_parent() first")
        # What the fluent API would record: the UI's User and Source columns.
        context = {"mlflow.user": _user(), "mlflow.source.type": "LOCAL",
                   "mlflow.source.name": Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"}
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=context)
        self.parent_id = run.info.run_id
        self._logged_params = {}
        try:
            self._batch(self.parent_id, params=params, tags=tags)
        except BaseException:
            self.end_parent("FAILED")
            raise
        return run.info.run_id

    def log_params(self, params: dict) -> None:
        """Log params on the parent (nested dicts flattened, values stringified and truncated)."""
        self._batch(self._require_parent(), params=params)

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        """Log metrics on the parent; NaN/inf values are skipped."""
        self._batch(self._require_parent(), metrics=metrics, step=step)

    def set_tags(self, tags: dict) -> None:
        self._batch(self._require_parent(), tags=tags)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self._require_parent(), str(path), artifact_path)

    def log_artifacts(self, directory: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self._require_parent(), str(directory), artifact_path)

    def log_table(self, frame: pd.DataFrame, artifact_file: str) -> None:
        """A table artifact (``MlflowClient.log_table``, JSON) on the parent: the UI shows it as a table."""
        from forecast import tracking_model

        tracking_model.log_table(self.client, self._require_parent(), frame, artifact_file)

    def log_forecaster(self, directory: Path, name: str, description: str) -> str | None:
        """Log the forecaster set saved in ``directory`` (:class:`forecast.pyfunc.ForecasterSet`) as the
        parent's pyfunc ``model`` and register it as a new version of ``name``; return the version."""
        from forecast import tracking_model

        return tracking_model.log_forecaster(self.client, self._require_parent(), directory, name, description)

    def end_parent(self, status: str = "FINISHED") -> None:
        """Terminate the parent run (``FINISHED``, ``FAILED`` or ``KILLED``); no-op if none is open."""
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {_STATUSES}, not {status!r}")
        if self.parent_id is None:
            return
        run_id, self.parent_id = self.parent_id, None
        self.client.set_terminated(run_id, status=status)

    # ---------------------------------------------------------------- child runs
    def log_child(self, name: str, params: dict, metrics: dict[str, float], tags: dict | None = None,
                  artifacts: list[Path] | None = None) -> str:
        """Log one finished child run nested under the parent (e.g. one model family); return its id."""
        parent_id = self._require_parent()
        run = self.client.create_run(self.experiment_id, run_name=name, tags={PARENT_TAG: parent_id})
        child_id = run.info.run_id
        try:
            self._batch(child_id, params=params, metrics=metrics, tags=tags or {}, track_params=False)
            for path in artifacts or []:
                path = Path(path)
                if path.is_dir():
                    self.client.log_artifacts(child_id, str(path), path.name)
                else:
                    self.client.log_artifact(child_id, str(path))
        except BaseException:
            self.client.set_terminated(child_id, status="FAILED")
            raise
        self.client.set_terminated(child_id, status="FINISHED")
        return child_id

    # ---------------------------------------------------------------- internals
    def _require_parent(self) -> str:
        if self.parent_id is None:
            raise RuntimeError("no parent run: call start_parent() (or use `with tracker.parent(...)`) first")
        return self.parent_id

    def _batch(self, run_id: str, params: Mapping | None = None, metrics: Mapping | None = None,
               tags: Mapping | None = None, step: int = 0, track_params: bool = True) -> None:
        from mlflow.entities import Metric, Param, RunTag

        flat = flatten_params(params or {})
        if track_params:
            # MLflow params are immutable: re-logging the same value is fine, a new value is an error.
            for key, value in list(flat.items()):
                old = self._logged_params.get(key)
                if old == value:
                    del flat[key]
                elif old is not None:
                    raise ValueError(f"param {key!r} already logged as {old!r}; MLflow params cannot change "
                                     f"(got {value!r}): log it as a metric or tag instead")
            self._logged_params.update(flat)
        param_items = [Param(k, v) for k, v in flat.items()]
        tag_items = [RunTag(str(k), _to_text(v)[:MAX_TAG_VAL_LENGTH]) for k, v in (tags or {}).items()]
        now = int(time.time() * 1000)
        metric_items = [Metric(k, v, now, step) for k, v in clean_metrics(metrics or {}).items()]
        # Limits per request: 100 params+tags, 1000 metrics, 1000 entities in all.
        small = param_items + tag_items
        for chunk in _chunks(small, MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, params=[x for x in chunk if isinstance(x, Param)],
                                  tags=[x for x in chunk if isinstance(x, RunTag)])
        for chunk in _chunks(metric_items, MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=chunk)

    def __repr__(self) -> str:
        return f"MlflowTracker(store={str(self.store)!r}, experiment={self.experiment!r})"


__all__ = [
    "Tracker", "NullTracker", "MlflowTracker", "flatten_metrics", "flatten_params", "clean_metrics",
    "sanitize_key", "find_runs", "experiment_id", "tracking_uri", "artifacts_uri", "load_forecaster",
    "run_folder", "latest_experiment_id", "DB_NAME", "ARTIFACTS_DIR", "PARENT_TAG", "RUN_NAME_TAG",
]
