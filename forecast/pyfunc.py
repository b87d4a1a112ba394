"""The selected forecaster set of a run, as a self-contained, reloadable object (no mlflow here).

A :class:`ForecasterSet` holds, for every modelled series, its monthly history, the family that
won its backtest and that family's hyper-parameters, and (since format 2) what the run did after
the families' forecasts: its *replay* (:class:`Replay`). Saved as a folder that
:mod:`forecast.tracking_model` wraps as an MLflow pyfunc model::

    forecaster/history.parquet      unique_id, ds, y of every listed series
    forecaster/selection.json       chosen family per series, the families' parameters
    forecaster/final.parquet        the run's final forecasts (selected, calibrated, reconciled)
    forecaster/calibration.parquet  the run's conformal factors (group, step, level, factor, n)
    forecaster/replay.json          horizon, reconciliation method, series classes, calibrated classes

    fs = ForecasterSet.load(run_dir / "forecaster")
    fs.forecast(["4413/J1501"], horizon=36)

What ``forecast(ids, horizon)`` returns, row by row (column ``source`` says which):

- months 1..H, H the run's horizon: the run's **final** forecasts (``source="run"``), exactly
  ``forecasts.parquet`` of the run: calibrated and reconciled. Reconciliation needs every node of
  the hierarchy forecast together and the backtest errors, so it is stored as its result rather
  than recomputed: the same numbers whatever subset of series is asked.
- months after H (``source="refit"``): the chosen family refitted on the stored history, then
  the run's conformal calibration applied to the series of the classes the run calibrated (steps
  beyond the backtest horizon use the last step's factors, as in the run). These months are *not*
  reconciled (there is no run result to replay), so the hierarchy's sums hold only up to H.

Refitting rather than pickling fitted models keeps the artifact small (one float per month and
series), independent of statsmodels/Prophet pickle formats, and valid for any horizon. A set saved
without its replay (format 1, or a library user's ``from_run``) forecasts every month by refit,
uncalibrated and unreconciled (``source="refit"``).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.errors import ModelError
from forecast.io import write_parquet, write_text

log = logging.getLogger(__name__)

HISTORY_FILE = "history.parquet"
SELECTION_FILE = "selection.json"
FINAL_FILE = "final.parquet"
CALIBRATION_FILE = "calibration.parquet"
REPLAY_FILE = "replay.json"
FORMAT_VERSION = 1
SOURCE = "source"  # "run": the run's final forecast; "refit": refitted (and calibrated) here


@dataclass
class Replay:
    """What the run did after the families' forecasts, stored so that the set gives its numbers.

    ``final``: the run's final forecasts for months 1..``horizon`` (FORECAST_COLUMNS + chosen);
    ``factors``: the conformal calibration factors (:class:`forecast.calibrate.Calibration`);
    ``groups``: series class of each series; ``calibrated``: the classes whose quantiles the run
    calibrated; ``reconcile_method``: for the record ("none" without a hierarchy).
    """

    final: pd.DataFrame
    factors: pd.DataFrame
    groups: dict[str, str]
    calibrated: list[str]
    reconcile_method: str
    horizon: int

    @classmethod
    def from_strategy(cls, strategy: Any, final: pd.DataFrame, reconcile_method: str) -> Replay:
        """From a :class:`forecast.strategy.StrategyResult` and the run's final forecasts.

        The calibrated classes are those in which the strategy's forecasts differ from the chosen
        candidates' uncalibrated ones (the strategy keeps calibration per class)."""
        from forecast.classify_series import CLASS

        S.require_columns(final, [*S.FORECAST_COLUMNS, "chosen"], "final forecasts")
        groups = {str(u): str(c) for u, c in zip(strategy.classes[S.UID], strategy.classes[CLASS])}
        cand = strategy.candidates[[S.UID, S.DS, S.MODEL, *S.QUANTILE_COLUMNS]]
        cal = strategy.forecasts[[S.UID, S.DS, "chosen", *S.QUANTILE_COLUMNS]].rename(columns={"chosen": S.MODEL})
        both = cal.merge(cand, on=[S.UID, S.DS, S.MODEL], suffixes=("", "_base"))
        base = both[[f"{c}_base" for c in S.QUANTILE_COLUMNS]].to_numpy(float)
        changed = ~np.isclose(both[S.QUANTILE_COLUMNS].to_numpy(float), base, rtol=1e-9, atol=1e-9, equal_nan=True)
        uids = both.loc[changed.any(axis=1), S.UID].unique()
        calibrated = sorted({groups[u] for u in uids if u in groups})
        factors = strategy.calibration.table() if strategy.calibration is not None else pd.DataFrame()
        steps = final.groupby(S.UID)[S.DS].nunique()
        horizon = int(steps.min()) if len(steps) else 0
        keep = final[[*S.FORECAST_COLUMNS, "chosen"]].sort_values([S.UID, S.DS]).reset_index(drop=True)
        return cls(keep, factors, groups, calibrated, str(reconcile_method), horizon)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        write_parquet(self.final, directory / FINAL_FILE)
        write_parquet(self.factors, directory / CALIBRATION_FILE)
        meta = {"format": FORMAT_VERSION, "horizon": self.horizon, "reconcile_method": self.reconcile_method,
                "calibrated_classes": self.calibrated, "series_class": self.groups}
        write_text(json.dumps(meta, indent=1, sort_keys=True), directory / REPLAY_FILE)

    @classmethod
    def load(cls, directory: Path) -> Replay | None:
        """The replay saved in ``directory``, or ``None`` if there is none."""
        directory = Path(directory)
        if not (directory / REPLAY_FILE).is_file():
            return None
        try:
            meta = json.loads((directory / REPLAY_FILE).read_text(encoding="utf-8"))
            final = pd.read_parquet(directory / FINAL_FILE)
            factors = pd.read_parquet(directory / CALIBRATION_FILE)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{directory}: incomplete replay of the run ({exc})") from None
        return cls(final, factors, meta["series_class"], meta["calibrated_classes"], meta["reconcile_method"],
                   int(meta["horizon"]))

    def calibrate(self, forecasts: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
        """The run's calibration applied to refitted forecasts (series of the calibrated classes only)."""
        from forecast.calibrate import Calibration, apply_calibration

        if self.factors.empty or not self.calibrated:
            return forecasts
        groups = pd.Series(self.groups, dtype=object)
        on = forecasts[S.UID].map(groups).isin(set(self.calibrated)).to_numpy()
        if not on.any():
            return forecasts
        done = apply_calibration(forecasts[on], Calibration(self.factors), history, groups)
        return pd.concat([done, forecasts[~on]]).sort_values([S.UID, S.DS]).reset_index(drop=True)


def save_replay(directory: Path, strategy: Any, final: pd.DataFrame, reconcile_method: str) -> Path:
    """Write the run's :class:`Replay` into the forecaster folder ``directory`` (before or after
    :meth:`ForecasterSet.save`: they write different files)."""
    Replay.from_strategy(strategy, final, reconcile_method).save(directory)
    return Path(directory)


@dataclass
class ForecasterSet:
    """Per-series history (``unique_id, ds, y``), chosen family and the families' parameters."""

    history: pd.DataFrame
    chosen: dict[str, str]
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    fallback: str = "seasonal_naive"
    replay: Replay | None = None

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
        if self.replay is not None:
            self.replay.save(directory)
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
        return cls(history, meta["chosen"], meta["specs"], meta["fallback"], Replay.load(directory))

    # ------------------------------------------------------------------ use
    @property
    def ids(self) -> list[str]:
        """The series this set can forecast, sorted."""
        return sorted(self.chosen)

    def forecast(self, ids: Iterable[str] | None = None, horizon: int = 12, n_jobs: int = 1) -> pd.DataFrame:
        """Forecast ``ids`` (default: all) ``horizon`` months after their last month.

        Columns: ``unique_id, ds, model ("selected"), mean, quantiles..., chosen`` (the family),
        ``source`` (``run`` or ``refit``: see the module docstring). Unknown ids raise
        :class:`ModelError`; a family failing on a series falls back to ``fallback`` for that
        series, as in the pipeline.
        """
        if int(horizon) < 1:
            raise ModelError(f"horizon must be at least 1 month, not {horizon}")
        horizon = int(horizon)
        wanted = self.ids if ids is None else list(dict.fromkeys(str(i) for i in ids))
        unknown = [i for i in wanted if i not in self.chosen]
        if unknown:
            raise ModelError(f"unknown series {unknown[:5]}; this model forecasts {len(self.chosen)} series, "
                             f"e.g. {self.ids[:3]}")
        rp = self.replay
        run = pd.DataFrame(columns=[*S.FORECAST_COLUMNS, "chosen"])
        if rp is not None:
            run = rp.final[rp.final[S.UID].isin(set(wanted))]
            run = run[run.groupby(S.UID).cumcount() < horizon]  # final is sorted by unique_id, ds
            if horizon <= rp.horizon and run[S.UID].nunique() == len(wanted):
                return self._finish(run.assign(**{SOURCE: "run"}))
        fc = self._refit(wanted, horizon, n_jobs)
        if rp is None:
            return self._finish(fc.assign(**{SOURCE: "refit"}))
        fc = rp.calibrate(fc, self.history)
        last_run = run.groupby(S.UID)[S.DS].max()
        later = fc[S.DS] > fc[S.UID].map(last_run).fillna(pd.Timestamp.min)
        return self._finish(pd.concat([run.assign(**{SOURCE: "run"}), fc[later].assign(**{SOURCE: "refit"})],
                                      ignore_index=True))

    @staticmethod
    def _finish(fc: pd.DataFrame) -> pd.DataFrame:
        out = fc[[*S.FORECAST_COLUMNS, "chosen", SOURCE]].sort_values([S.UID, S.DS]).reset_index(drop=True)
        out[S.DS] = pd.to_datetime(out[S.DS])
        return out

    def _refit(self, wanted: list[str], horizon: int, n_jobs: int) -> pd.DataFrame:
        """Each series' chosen family refitted on its stored history (fallback where it fails)."""
        from forecast.engine import fit_predict

        hist = self.history[self.history[S.UID].isin(set(wanted))]
        parts = []
        for family in sorted({self.chosen[i] for i in wanted}):
            ids_f = [i for i in wanted if self.chosen[i] == family]
            parts.append(self._fit_predict(hist[hist[S.UID].isin(ids_f)], family, horizon, n_jobs))
        fc = pd.concat(parts, ignore_index=True)
        failed = fc.loc[fc[S.MEAN].isna(), S.UID].unique()
        if len(failed):
            log.warning("%d series: chosen family failed, fallback %s", len(failed), self.fallback)
            fb = fit_predict(hist[hist[S.UID].isin(failed)], {self.fallback: self.specs.get(self.fallback, {})},
                             horizon, n_jobs=1)
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
        return (pd.concat(parts, ignore_index=True) if parts
                else pd.DataFrame(columns=[*S.FORECAST_COLUMNS, "chosen", SOURCE]))


__all__ = ["ForecasterSet", "Replay", "save_replay"]
