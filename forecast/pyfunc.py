"""The selected forecaster set of a run, as a self-contained, reloadable object (no mlflow here).

A :class:`ForecasterSet` holds, for every modelled series, its monthly history, the family that
won its backtest and that family's hyper-parameters. ``forecast(ids, horizon)`` refits the chosen
family on the stored history and forecasts any horizon: the training data need not be at hand.
Saved as a folder (``history.parquet`` + ``selection.json``) that :mod:`forecast.tracking_model`
wraps as an MLflow pyfunc model::

    fs = ForecasterSet.from_run(series, selection, specs)
    fs.save(run_dir / "forecaster")
    ForecasterSet.load(run_dir / "forecaster").forecast(["4413/J1501"], horizon=36)

The forecasts are the chosen family's (or combination's) own: the run's later adjustments that need
the whole hierarchy or the backtest (reconciliation, conformal calibration) are not replayed.
Refitting rather than pickling fitted models keeps the artifact small (one float per month and
series), independent of statsmodels/Prophet pickle formats, and valid for any horizon.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from forecast import schema as S
from forecast.errors import ModelError
from forecast.io import write_parquet, write_text

log = logging.getLogger(__name__)

HISTORY_FILE = "history.parquet"
SELECTION_FILE = "selection.json"
FORMAT_VERSION = 1


@dataclass
class ForecasterSet:
    """Per-series history (``unique_id, ds, y``), chosen family and the families' parameters."""

    history: pd.DataFrame
    chosen: dict[str, str]
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    fallback: str = "seasonal_naive"

    @classmethod
    def from_run(cls, series: pd.DataFrame, selection: pd.DataFrame, specs: Mapping[str, Mapping[str, Any]],
                 fallback: str = "seasonal_naive") -> ForecasterSet:
        """From the modelled series (long frame) and the per-series selection (``unique_id, model``)."""
        S.require_columns(series, [S.UID, S.DS, S.Y], "series")
        S.require_columns(selection, [S.UID, S.MODEL], "selection")
        chosen = {str(u): str(m) for u, m in zip(selection[S.UID], selection[S.MODEL])}
        hist = series[series[S.UID].isin(set(chosen))][[S.UID, S.DS, S.Y]]
        missing = set(chosen) - set(hist[S.UID])
        if missing:
            raise ModelError(f"{len(missing)} selected series have no history, e.g. {sorted(missing)[:3]}")
        used = set(chosen.values()) | {fallback}
        for name in list(used):  # a combination needs its members' parameters too
            used |= set(specs.get(name, {}).get("members", []))
        return cls(hist.sort_values([S.UID, S.DS]).reset_index(drop=True), chosen,
                   {f: dict(specs.get(f, {})) for f in sorted(used)}, fallback)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> Path:
        """Write ``history.parquet`` and ``selection.json`` into ``directory`` (atomically each)."""
        directory = Path(directory)
        write_parquet(self.history, directory / HISTORY_FILE)
        meta = {"format": FORMAT_VERSION, "chosen": self.chosen, "specs": self.specs, "fallback": self.fallback}
        write_text(json.dumps(meta, indent=1, sort_keys=True, default=str), directory / SELECTION_FILE)
        return directory

    @classmethod
    def load(cls, directory: Path) -> ForecasterSet:
        directory = Path(directory)
        try:
            meta = json.loads((directory / SELECTION_FILE).read_text(encoding="utf-8"))
            history = pd.read_parquet(directory / HISTORY_FILE)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{directory}: not a saved forecaster set ({exc})") from None
        if meta.get("format") != FORMAT_VERSION:
            raise ModelError(f"{directory}: forecaster format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        return cls(history, meta["chosen"], meta["specs"], meta["fallback"])

    # ------------------------------------------------------------------ use
    @property
    def ids(self) -> list[str]:
        """The series this set can forecast, sorted."""
        return sorted(self.chosen)

    def forecast(self, ids: Iterable[str] | None = None, horizon: int = 12, n_jobs: int = 1) -> pd.DataFrame:
        """Forecast ``ids`` (default: all) ``horizon`` months after their last month.

        Columns: ``unique_id, ds, model ("selected"), mean, quantiles..., chosen`` (the family).
        Unknown ids raise :class:`ModelError`; a family failing on a series falls back to
        ``fallback`` for that series, as in the pipeline.
        """
        from forecast.engine import fit_predict

        if int(horizon) < 1:
            raise ModelError(f"horizon must be at least 1 month, not {horizon}")
        wanted = self.ids if ids is None else list(dict.fromkeys(str(i) for i in ids))
        unknown = [i for i in wanted if i not in self.chosen]
        if unknown:
            raise ModelError(f"unknown series {unknown[:5]}; this model forecasts {len(self.chosen)} series, "
                             f"e.g. {self.ids[:3]}")
        hist = self.history[self.history[S.UID].isin(set(wanted))]
        parts = []
        for family in sorted({self.chosen[i] for i in wanted}):
            ids_f = [i for i in wanted if self.chosen[i] == family]
            parts.append(self._fit_predict(hist[hist[S.UID].isin(ids_f)], family, int(horizon), n_jobs))
        fc = pd.concat(parts, ignore_index=True)
        failed = fc.loc[fc[S.MEAN].isna(), S.UID].unique()
        if len(failed):
            log.warning("%d series: chosen family failed, fallback %s", len(failed), self.fallback)
            fb = fit_predict(hist[hist[S.UID].isin(failed)], {self.fallback: self.specs.get(self.fallback, {})},
                             int(horizon), n_jobs=1)
            fc = pd.concat([fc[~fc[S.UID].isin(failed)], fb], ignore_index=True)
        fc = fc.rename(columns={S.MODEL: "chosen"}).assign(**{S.MODEL: "selected"})
        return fc[[*S.FORECAST_COLUMNS, "chosen"]].sort_values([S.UID, S.DS]).reset_index(drop=True)

    def _fit_predict(self, hist: pd.DataFrame, name: str, horizon: int, n_jobs: int) -> pd.DataFrame:
        """Forecasts of ``name``: a registered family (or alias with ``"model"``), or a combination
        (``{"model": "combo", "members": [...], "how": ...}``) of its members' forecasts."""
        from forecast.engine import fit_predict
        from forecast.select import combine

        spec = self.specs.get(name, {})
        if spec.get("model") != "combo":
            return fit_predict(hist, {name: spec}, horizon, n_jobs=n_jobs)
        members = list(spec["members"])
        cand = fit_predict(hist, {m: self.specs.get(m, {}) for m in members}, horizon, n_jobs=n_jobs)
        both = combine(cand, members, name=name, how=spec.get("how", "mean"))
        return both[both[S.MODEL] == name].reset_index(drop=True)

    def forecast_frame(self, request: pd.DataFrame, default_horizon: int = 12) -> pd.DataFrame:
        """Forecast from a request frame: ``unique_id`` and optionally ``horizon`` (per row)."""
        if S.UID not in request.columns:
            raise ModelError(f"the input needs a {S.UID!r} column (and optionally 'horizon'); got {list(request.columns)}")
        req = request.assign(horizon=request["horizon"] if "horizon" in request.columns else default_horizon)
        parts = [self.forecast(g[S.UID].astype(str), int(h)) for h, g in req.groupby("horizon", sort=True)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*S.FORECAST_COLUMNS, "chosen"])


__all__ = ["ForecasterSet"]
