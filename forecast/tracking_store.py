"""The MLflow store folder of the tracker: its URIs, its creation and clients on it.

Part of the tracking layer (with :mod:`forecast.tracking`, :mod:`forecast.tracking_runs` and
:mod:`forecast.tracking_model`): only these modules import mlflow, always lazily here::

    <store>/mlflow.db        sqlite backend (MLflow 3.17 refuses the plain folder store)
    <store>/artifacts/       every run's artifacts (the experiment's artifact_location)
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from forecast.errors import ForecastError

if TYPE_CHECKING:  # pragma: no cover
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "artifacts"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"


def tracking_uri(store: Path) -> str:
    """``sqlite:///<absolute store>/mlflow.db``."""
    return f"sqlite:///{Path(store).expanduser().resolve() / DB_NAME}"


def artifacts_uri(store: Path) -> str:
    """File URI of ``<store>/artifacts``: where every run's artifacts land."""
    return (Path(store).expanduser().resolve() / ARTIFACTS_DIR).as_uri()


@contextlib.contextmanager
def _store_lock(store: Path) -> Iterator[None]:
    """Serialise store creation between processes (sqlite + alembic migrations race otherwise)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, creation races are rare there
        yield
        return
    with open(store / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create_store(store: Path) -> None:
    """Create ``<store>/mlflow.db`` (alembic migrations: about 2 s) with MLflow's ``Default``
    experiment under ``<store>/artifacts/0``; through ``MlflowClient`` it would point at
    ``./mlruns/0`` relative to whatever the working directory happens to be."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    started = time.perf_counter()
    SqlAlchemyStore(tracking_uri(store), artifacts_uri(store))
    log.debug("MLflow store %s created in %.2f s", store, time.perf_counter() - started)


def _client(store: Path) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(store))


def _existing_client(store: Path) -> MlflowClient:
    store = Path(store).expanduser()
    if not (store / DB_NAME).is_file():
        raise ForecastError(f"no MLflow store at {store} (missing {DB_NAME}); run `forecast run EXPERIMENT.toml` "
                            f"first, or point --store at the folder that holds {DB_NAME}")
    return _client(store)
