"""Demand forecast against supply: one PNG per series (history, forecast, 80%/95% bands, supply)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from forecast import schema as S  # noqa: E402
from forecast.io import write_with  # noqa: E402


def finish_monthly_plot(fig, ax, title: str, measure: str, path: Path, ncol: int = 1) -> Path:
    """The shared look of the monthly charts (title, yearly axis, grid, legend), written as PNG."""
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(f"{measure} par mois")
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", ncol=ncol)
    fig.tight_layout()
    return write_with(lambda p: fig.savefig(p, format="png"), Path(path))


def plot_demand_vs_supply(history: pd.DataFrame, forecast: pd.DataFrame, supply: pd.DataFrame,
                          title: str, path: Path, measure: str = "postes") -> Path:
    """history: ds, y; forecast: ds, mean, quantile columns; supply: ds, supply, status."""
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=100)
    try:
        h = history.sort_values(S.DS)
        ax.plot(h[S.DS], h[S.Y], color="#333333", lw=1.2, label="Offres observées")
        f = forecast.sort_values(S.DS)
        ax.fill_between(f[S.DS], f[S.qcol(0.025)], f[S.qcol(0.975)], color="#1f77b4", alpha=0.15,
                        label="Intervalle 95 %")
        ax.fill_between(f[S.DS], f[S.qcol(0.1)], f[S.qcol(0.9)], color="#1f77b4", alpha=0.3,
                        label="Intervalle 80 %")
        ax.plot(f[S.DS], f[S.MEAN], color="#1f77b4", lw=1.8, label="Demande prévue")
        if len(supply):
            sp = supply.groupby([S.DS, S.STATUS], as_index=False)[S.SUPPLY].sum()
            for status, color, lab in (("scheduled", "#2ca02c", "Diplômés (sessions programmées)"),
                                       ("projected", "#98df8a", "Diplômés (sessions projetées)")):
                part = sp[sp[S.STATUS] == status]
                if len(part):
                    ax.bar(part[S.DS], part[S.SUPPLY], width=20, color=color, alpha=0.8, label=lab)
        return finish_monthly_plot(fig, ax, title, measure, path, ncol=2)
    finally:
        plt.close(fig)
