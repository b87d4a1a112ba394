"""The MLflow "model from code" file of the forecaster set: MLflow copies this file into the model
artifact and runs it at load time (no pickled Python object). See :mod:`forecast.tracking_model`."""
import mlflow

from forecast.tracking_model import ForecasterModel

mlflow.models.set_model(ForecasterModel())
