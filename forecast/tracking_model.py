"""MLflow side of the forecaster set: the pyfunc wrapper, logging and registering it, per-series tables.

Imported only by :mod:`forecast.tracking` (the one place that talks to MLflow), lazily.

The model is written with ``mlflow.pyfunc.save_model`` into a temporary folder, uploaded as the
run's ``model`` artifact through ``MlflowClient`` (explicit run id, no active-run state), then
registered: one new version of ``<experiment>-forecaster`` per run, whose description holds the
backtest metrics. Load it anywhere with::

    mlflow.set_tracking_uri("sqlite:///.../mlruns/mlflow.db")
    model = mlflow.pyfunc.load_model("models:/reims-forecaster/3")
    model.predict(pd.DataFrame({"unique_id": ["4413/J1501"], "horizon": [36]}))
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

ARTIFACT_PATH = "model"
ARTIFACT_KEY = "forecasters"
DEFAULT_HORIZON = 12
CODE_FILE = Path(__file__).with_name("tracking_model_code.py")
# Listed explicitly: inferring requirements would import and probe the model (about 2 s).
PIP_REQUIREMENTS = ["mlflow==3.17.2", "pandas>=3.0,<4", "numpy>=2.0,<3", "statsmodels>=0.14,<0.16",
                    "prophet>=1.1.5,<2", "pyarrow>=15"]


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """pyfunc model: input frame ``unique_id`` (+ optional ``horizon``, months), output the forecasts
    frame (``unique_id, ds, model, mean, q0.025 ... q0.975, chosen, source``): the run's final
    forecasts up to its horizon, refitted and calibrated after it (see :mod:`forecast.pyfunc`). The
    ``horizon`` param is the default for rows without one."""

    def load_context(self, context: Any) -> None:
        from forecast.pyfunc import ForecasterSet

        self.forecasters = ForecasterSet.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        horizon = int((params or {}).get("horizon", DEFAULT_HORIZON))
        return self.forecasters.forecast_frame(model_input, default_horizon=horizon)


def signature() -> Any:
    """Input ``unique_id`` (string) and optional ``horizon`` (long); param ``horizon`` (default 12)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(inputs=Schema([ColSpec("string", "unique_id"), ColSpec("long", "horizon", required=False)]),
                          params=ParamSchema([ParamSpec("horizon", "long", DEFAULT_HORIZON)]))


def log_forecaster(client: MlflowClient, run_id: str, directory: Path, name: str, description: str) -> str:
    """Save the forecaster set in ``directory`` as a pyfunc model, log it on ``run_id`` and register a
    new version of ``name`` with ``description``; return the version number."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory(prefix="forecast-model-") as tmp:
        path = Path(tmp) / ARTIFACT_PATH
        # A model from code (this package's tracking_model_code.py), not a pickled object. No input
        # example on purpose: MLflow would run a forecast at logging time to check it.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            mlflow.pyfunc.save_model(str(path), python_model=str(CODE_FILE),
                                     artifacts={ARTIFACT_KEY: str(Path(directory).resolve())},
                                     pip_requirements=PIP_REQUIREMENTS, signature=signature())
        client.log_artifacts(run_id, str(path), ARTIFACT_PATH)
    try:
        client.create_registered_model(name, description="Per-series selected forecasters (forecast toolkit)")
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
    source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}"
    version = client.create_model_version(name, source=source, run_id=run_id, description=description)
    log.info("registered model %s version %s", name, version.version)
    return str(version.version)


def log_table(client: MlflowClient, run_id: str, frame: pd.DataFrame, artifact_file: str) -> None:
    """``MlflowClient.log_table`` with values the JSON table accepts (timestamps as ISO strings)."""
    data = frame.copy()
    for col in data.columns:
        if pd.api.types.is_datetime64_any_dtype(data[col]):
            data[col] = data[col].dt.strftime("%Y-%m-%d")
    client.log_table(run_id, data=data, artifact_file=artifact_file)


def load_forecaster(tracking: str, name: str, version: str | None = None) -> Any:
    """``mlflow.pyfunc.load_model`` of a registered version (default: the newest)."""
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)
    if version is None:
        versions = MlflowClient(tracking).search_model_versions(f"name = '{name}'")
        if not versions:
            raise LookupError(f"no registered model {name!r}")
        version = str(max(int(v.version) for v in versions))
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}")
