"""The library's own exceptions: the CLI turns them into one ``Error: ...`` line."""
from __future__ import annotations


class ForecastError(Exception):
    """Base class of every error a user can cause (bad file, bad config, empty selection)."""


class ConfigError(ForecastError):
    """A malformed experiment file: names the file and the key."""


class DataError(ForecastError):
    """Unreadable or invalid input data: names the file, row and field when known."""


class ModelError(ForecastError):
    """A model could not be fitted or is unknown."""
