"""Gap plots (French labels): demand fan chart against supply, P(shortage) heatmap, budget curve."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecast.io import write_with  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    try:
        fig.tight_layout()
        return write_with(lambda p: fig.savefig(p, format="png"), Path(path))
    finally:
        plt.close(fig)


def plot_fan(ds: pd.DatetimeIndex, demand: np.ndarray, supply: np.ndarray, title: str, path: Path,
             history: pd.DataFrame | None = None) -> Path:
    """Demand fan (median, 50/80/95% bands from the sample paths ``demand`` (n_samples, h)) against the
    expected monthly supply ``supply`` (h,), and the cumulative view (demand vs supply to date)."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), dpi=100, gridspec_kw={"width_ratios": [3, 2]})
    if history is not None and len(history):
        ax.plot(history["ds"], history["y"], color="#333333", lw=1.1, label="Demande observée")
    for (lo, hi), alpha in (((2.5, 97.5), 0.15), ((10, 90), 0.25), ((25, 75), 0.35)):
        ax.fill_between(ds, np.percentile(demand, lo, axis=0), np.percentile(demand, hi, axis=0), color="#1f77b4",
                        alpha=alpha, lw=0, label=f"Demande prévue {hi - lo:.0f} %")
    ax.plot(ds, np.median(demand, axis=0), color="#1f77b4", lw=1.8, label="Demande prévue (médiane)")
    ax.bar(ds, supply, width=20, color="#2ca02c", alpha=0.7, label="Offre attendue (personnes)")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("postes ou personnes par mois")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m/%Y"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    cum = np.cumsum(demand, axis=1)
    ax2.fill_between(ds, np.percentile(cum, 2.5, axis=0), np.percentile(cum, 97.5, axis=0), color="#1f77b4",
                     alpha=0.2, lw=0, label="Demande cumulée 95 %")
    ax2.plot(ds, np.median(cum, axis=0), color="#1f77b4", lw=1.8, label="Demande cumulée (médiane)")
    ax2.plot(ds, np.cumsum(supply), color="#2ca02c", lw=2, label="Offre cumulée")
    ax2.set_title("Cumul sur l'horizon", fontsize=10)
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%m/%Y"))
    ax2.set_ylim(bottom=0)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="upper left")
    for a in (ax, ax2):
        a.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _save(fig, path)


def plot_heatmap(table: pd.DataFrame, path: Path, title: str = "Probabilité de pénurie par zone et domaine") -> Path:
    """Heatmap of ``p_shortage`` with rows ``zone_label`` and columns ``domain`` (long frame)."""
    grid = table.pivot(index="zone_label", columns="domain", values="p_shortage").sort_index()
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * grid.shape[1] + 3), max(3, 0.32 * grid.shape[0] + 1.5)), dpi=100)
    im = ax.imshow(grid.to_numpy(float), cmap="RdYlGn_r", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}".replace(".", ","), ha="center", va="center", fontsize=6)
    ax.set_xlabel("Grand domaine ROME")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="P(pénurie)")
    return _save(fig, path)


def plot_budget_curve(curve: pd.DataFrame, path: Path, unit: str = "euros") -> Path:
    """Budget -> unmet demand avoided (and left)."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    b = curve["budget"] / (1000 if unit == "euros" else 1)
    ax.plot(b, curve["unmet_avoided"], marker="o", color="#1f77b4", label="Demande non satisfaite évitée")
    ax.plot(b, curve["unmet_demand"], marker="s", color="#d62728", ls="--", label="Demande non satisfaite restante")
    ax.set_xlabel("Budget (k€)" if unit == "euros" else "Budget (places)")
    ax.set_ylabel("postes sur l'horizon")
    ax.set_title("Courbe budget : demande non satisfaite évitée", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
