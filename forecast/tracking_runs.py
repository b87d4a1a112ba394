"""Looking runs up in a tracker's store: experiments, runs as a table, a run's folder, the registered model.

Read-only helpers over the store written by :class:`forecast.tracking.MlflowTracker` (re-exported
by :mod:`forecast.tracking`); mlflow is imported lazily, inside the functions.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast.errors import ForecastError
from forecast.tracking_store import PARENT_TAG, _existing_client, tracking_uri

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def experiment_id(store: Path, experiment: str) -> str:
    """The id of ``experiment`` in ``store``; ``ForecastError`` if the store or experiment is missing."""
    client = _existing_client(store)
    found = client.get_experiment_by_name(experiment)
    if found is None or found.lifecycle_stage != "active":
        names = sorted(e.name for e in client.search_experiments())
        raise ForecastError(f"no experiment {experiment!r} in {store}; known: {', '.join(names) or 'none'}")
    return str(found.experiment_id)


def latest_experiment_id(store: Path) -> str | None:
    """The id of the experiment with the newest run (the Default experiment only if it is the only one)."""
    client = _existing_client(store)
    exps = [e for e in client.search_experiments() if e.lifecycle_stage == "active"]
    if not exps:
        return None
    runs = client.search_runs([e.experiment_id for e in exps], max_results=1, order_by=["attributes.start_time DESC"])
    return str(runs[0].info.experiment_id) if runs else str(exps[0].experiment_id)


def find_runs(store: Path, experiment: str = "default") -> pd.DataFrame:
    """Every run of ``experiment`` as one row: run_id, run_name, status, parent_run_id, start/end
    time, artifact_uri, then ``params.*``, ``metrics.*`` and ``tags.*`` columns (newest first)."""
    import pandas as pd

    client = _existing_client(store)
    exp_id = experiment_id(store, experiment)
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.search_runs([exp_id], max_results=1000, page_token=token,
                                  order_by=["attributes.start_time DESC"])
        for run in page:
            row: dict[str, Any] = {
                "run_id": run.info.run_id,
                "run_name": run.info.run_name,
                "status": run.info.status,
                "parent_run_id": run.data.tags.get(PARENT_TAG),
                "start_time": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
                "end_time": pd.to_datetime(run.info.end_time, unit="ms", utc=True) if run.info.end_time else pd.NaT,
                "artifact_uri": run.info.artifact_uri,
            }
            row.update({f"params.{k}": v for k, v in run.data.params.items()})
            row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
            row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
            rows.append(row)
        token = page.token
        if not token:
            break
    base = ["run_id", "run_name", "status", "parent_run_id", "start_time", "end_time", "artifact_uri"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    rest = sorted(c for c in frame.columns if c not in base)
    return frame[base + rest]


def load_forecaster(store: Path, name: str, version: str | None = None) -> Any:
    """The registered forecaster set ``name`` (default: newest version) as an MLflow pyfunc model:
    ``.predict(pd.DataFrame({"unique_id": [...], "horizon": [...]}))`` returns the forecasts frame."""
    from forecast import tracking_model

    _existing_client(store)
    try:
        return tracking_model.load_forecaster(tracking_uri(store), name, version)
    except LookupError as exc:
        raise ForecastError(f"{exc} in {store}; run an experiment with tracking first") from None


def run_folder(store: Path, run_id: str, dest: Path | None = None) -> Path:
    """The output folder of an MLflow run: its ``run_dir`` tag if that folder still exists, otherwise
    its ``outputs`` artifacts downloaded into ``dest`` (default ``<store>/downloads/<run_id>``)."""
    from mlflow.exceptions import MlflowException

    client = _existing_client(store)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ForecastError(f"no MLflow run {run_id!r} in {store}; list runs with `forecast ui --store {store}`") from None
    local = run.data.tags.get("run_dir")
    if local and (Path(local) / "summary.json").is_file():
        return Path(local)
    target = Path(dest or Path(store) / "downloads" / run_id)
    target.mkdir(parents=True, exist_ok=True)
    try:
        client.download_artifacts(run_id, "outputs", str(target))
    except (MlflowException, OSError) as exc:
        raise ForecastError(f"run {run_id} has no outputs folder and no 'outputs' artifacts ({exc})") from None
    return target / "outputs"


__all__ = ["experiment_id", "latest_experiment_id", "find_runs", "load_forecaster", "run_folder"]
