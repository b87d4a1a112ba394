"""Backtest plots of the top series: what the chosen model forecast at each backtest cutoff, against
what happened (one PNG per series, written next to the forecast plots and logged to MLflow).

For each rolling-origin window: the chosen candidate's forecast (mean and 80 % band) from its
cutoff, on top of the observed monthly series; the cutoffs are dotted vertical lines. The series
are the run's top occupations by forecast demand, the same as the forecast plots
(``plots/NN_<zone>_<rome>.png``), so ``plots/backtest/NN_<zone>_<rome>.png`` sits beside each.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from forecast import schema as S  # noqa: E402
from forecast.report.plots import finish_monthly_plot  # noqa: E402

BACKTEST_DIR = "backtest"
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def top_occupations(catalog: pd.DataFrame, forecasts: pd.DataFrame, top: int) -> list[str]:
    """The ``top`` modelled occupation x zone series by total forecast demand (the forecast plots' choice)."""
    occ = catalog[(catalog[S.LEVEL] == "rome_zone") & catalog["modelled"]]
    fc = forecasts[forecasts[S.UID].isin(occ[S.UID])]
    return list(fc.groupby(S.UID)[S.MEAN].sum().sort_values(ascending=False).head(top).index)


def plot_backtest(history: pd.DataFrame, cv: pd.DataFrame, title: str, path: Path,
                  measure: str = "postes") -> Path:
    """history: ds, y (one series); cv: its backtest rows (cutoff, ds, mean, q0.1, q0.9, model)."""
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=100)
    try:
        h = history.sort_values(S.DS)
        ax.plot(h[S.DS], h[S.Y], color="#333333", lw=1.2, label="Offres observées")
        for i, (cutoff, w) in enumerate(cv.sort_values(S.DS).groupby(S.CUTOFF, sort=True)):
            color = COLORS[i % len(COLORS)]
            ax.fill_between(w[S.DS], w[S.qcol(0.1)], w[S.qcol(0.9)], color=color, alpha=0.18)
            model = ", ".join(sorted(set(map(str, w[S.MODEL]))))
            ax.plot(w[S.DS], w[S.MEAN], color=color, lw=1.8,
                    label=f"Prévision au {pd.Timestamp(cutoff):%m/%Y} ({model}), bande 80 %")
            ax.axvline(pd.Timestamp(cutoff), color=color, lw=0.8, ls=":")
        return finish_monthly_plot(fig, ax, title, measure, path)
    finally:
        plt.close(fig)


def backtest_plots(run_dir: Path, series: pd.DataFrame, catalog: pd.DataFrame, forecasts: pd.DataFrame,
                   cv: pd.DataFrame, selection: pd.DataFrame, top: int, months: int = 48) -> list[Path]:
    """``<run_dir>/plots/backtest/NN_<zone>_<rome>.png`` for the top occupations: the chosen
    candidate's backtest windows against the last ``months`` months of the series."""
    chosen = selection.set_index(S.UID)[S.MODEL]
    info = catalog.set_index(S.UID)
    start = series[S.DS].max() - pd.DateOffset(months=months - 1)
    paths = []
    for rank, uid in enumerate(top_occupations(catalog, forecasts, top), start=1):
        row = info.loc[uid]
        rows = cv[(cv[S.UID] == uid) & (cv[S.MODEL] == chosen.get(uid))]
        hist = series[(series[S.UID] == uid) & (series[S.DS] >= start)]
        name = f"{rank:02d}_{row[S.ZONE]}_{row[S.KEY]}.png"
        title = f"Backtest : {row['label']} ({row[S.KEY]}), modèle retenu {chosen.get(uid, '?')}"
        paths.append(plot_backtest(hist, rows, title, Path(run_dir) / "plots" / BACKTEST_DIR / name))
    return paths


__all__ = ["backtest_plots", "plot_backtest", "top_occupations", "BACKTEST_DIR"]
