"""The sections of the HTML report, each a function ``(run data, texts, lang) -> HTML fragment``.

Fragments are built from escaped data only (:func:`esc`, :func:`fmt_num`, :func:`fmt_pct`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.report import svg
from forecast.report.fmt import METHOD, esc, fmt_month, fmt_num, fmt_pct

if TYPE_CHECKING:  # pragma: no cover
    from forecast.report.html import RunData

HORIZON_MONTHS = 12
TOP_SHORTAGES = 10
FANS_PER_ZONE = 4
HISTORY_MONTHS = 36

Cell = tuple[str, bool]  # (html, numeric)


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], cls: str = "") -> str:
    """An HTML table; headers are escaped here, cells are already-safe HTML with a numeric flag."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if num else f"<td>{c}</td>" for c, num in row)
                   + "</tr>" for row in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{esc(text)}</p>'


def _zone_label(zone: str) -> str:
    from forecast.referential import zone_label

    try:
        return zone_label(zone)
    except Exception:  # noqa: BLE001 - an unknown zone keeps its code
        return zone


def _first_months(gap: pd.DataFrame, months: int = HORIZON_MONTHS) -> pd.DataFrame:
    return gap[gap[S.DS] < gap[S.DS].min() + pd.DateOffset(months=months)]


def shortages(data: RunData, top: int = TOP_SHORTAGES) -> pd.DataFrame:
    """The largest positive gaps over the first 12 months, with the mean monthly P(shortage)."""
    summ = data.get("gap_summary.csv")
    gap = data.get("gap.parquet")
    if summ is None or gap is None or summ.empty:
        return pd.DataFrame()
    p = _first_months(gap).groupby([S.ZONE, S.ROME])[S.P_SHORTAGE].mean().rename("p_shortage").reset_index()
    out = summ.astype({S.ZONE: str}).merge(p, on=[S.ZONE, S.ROME], how="left")
    return out[out["gap"] > 0].sort_values("gap", ascending=False).head(top).reset_index(drop=True)


# --- 1. decision makers ----------------------------------------------------------------------
def summary_section(data: RunData, t: dict[str, str], lang: str) -> str:
    top = shortages(data)
    html = [f"<p>{esc(t['summary_intro'].format(months=HORIZON_MONTHS))}</p>", f"<h3>{esc(t['shortages'])}</h3>"]
    if top.empty:
        html.append(note(t["none"]))
    else:
        rows = [[(esc(r["label"]), False), (esc(r[S.ZONE]), False), (fmt_num(r["demand"], lang), True),
                 (fmt_num(r["supply"], lang), True), (fmt_num(r["gap"], lang), True),
                 (fmt_pct(r["p_shortage"], lang), True), (fmt_num(r["months_short"], lang), True)]
                for _, r in top.iterrows()]
        html.append(table([t["occupation"], t["zone"], t["demand"], t["supply"], t["gap"], t["p_short"],
                           t["months_short"]], rows, "shortages"))
    html.append(f"<h3>{esc(t['actions'])}</h3>")
    html.append(plan_table(data.get("plan.parquet"), t, lang))
    html.append(f"<h3>{esc(t['budget'])}</h3>")
    html.append(budget_chart(data.get("budget_curve.csv"), t, lang))
    return "".join(html)


PLAN_HEADERS = {
    "fr": {"type": "Action", "action": "Action", "zone": "Zone", "rome": "Métier (ROME)", "label": "Métier",
           "skills": "Compétences", "timing": "Calendrier", "start": "Début", "quantity": "Quantité",
           "cost": "Coût (€)", "expected_reduction": "Réduction attendue", "reduction": "Réduction attendue",
           "reduction_lo": "Réduction (bas)", "reduction_hi": "Réduction (haut)", "rationale": "Justification"},
    "en": {"rationale": "Rationale", "expected_reduction": "Expected reduction", "cost": "Cost (€)"},
}


def plan_table(plan: pd.DataFrame | None, t: dict[str, str], lang: str, top: int = 15) -> str:
    """Every column of plan.parquet, largest expected reduction first; a clear note if there is none."""
    if plan is None:
        return note(t["no_plan"], "note no-plan")
    if plan.empty:
        return note(t["no_plan"], "note no-plan")
    order = next((c for c in ("expected_reduction", "reduction", "unmet_avoided") if c in plan.columns), None)
    rows_df = plan.sort_values(order, ascending=False) if order else plan
    names = PLAN_HEADERS.get(lang, {})
    headers = [names.get(c, c.replace("_", " ")) for c in plan.columns]
    rows = [[_cell(v, lang) for v in r] for r in rows_df.head(top).itertuples(index=False)]
    return table(headers, rows, "plan")


def _cell(value: Any, lang: str) -> Cell:
    if isinstance(value, (list, tuple, np.ndarray)):
        return esc(", ".join(str(v) for v in value)), False
    if isinstance(value, (bool, np.bool_)):
        return esc(value), False
    if isinstance(value, (int, float, np.integer, np.floating)):
        decimals = 0 if float(value).is_integer() or abs(float(value)) >= 100 else 1
        return fmt_num(value, lang, decimals), True
    if isinstance(value, pd.Timestamp):
        return esc(fmt_month(value, lang)), False
    return esc(value), False


def budget_chart(curve: pd.DataFrame | None, t: dict[str, str], lang: str) -> str:
    need = {"budget", "unmet_demand"}
    if curve is None or curve.empty or not need <= set(curve.columns):
        return note(t["no_budget"], "note no-budget")
    c = curve.sort_values("budget")
    series = {t["budget_y"]: c["unmet_demand"].astype(float).tolist()}
    if "unmet_avoided" in c.columns:
        series[t["avoided"]] = c["unmet_avoided"].astype(float).tolist()
    return svg.line_chart(c["budget"].astype(float).tolist(), series, t["budget"], t["budget_x"], lang)


# --- 2. heatmap ------------------------------------------------------------------------------
def _domains() -> dict[str, str]:
    from forecast.referential import load_fiches

    f = load_fiches()
    return dict(zip(f["code_grand_domaine"], f["libelle_grand_domaine"]))


def heatmap_section(data: RunData, t: dict[str, str], lang: str) -> str:
    gap = data.get("gap.parquet")
    if gap is None or gap.empty:
        return note(t["none"])
    g = _first_months(gap).assign(domain=lambda d: d[S.ROME].str[0], w=lambda d: d[S.MEAN].clip(lower=0))
    g["pw"] = g[S.P_SHORTAGE] * g["w"]
    agg = g.groupby([S.ZONE, "domain"]).agg(pw=("pw", "sum"), w=("w", "sum"), p=(S.P_SHORTAGE, "mean"))
    agg["value"] = np.where(agg["w"] > 0, agg["pw"] / agg["w"].where(agg["w"] > 0, 1), agg["p"])
    zones = sorted(g[S.ZONE].unique())
    doms = sorted(g["domain"].unique())
    values = np.full((len(zones), len(doms)), np.nan)
    for (z, d), v in agg["value"].items():
        values[zones.index(z), doms.index(d)] = v
    names = _domains()
    chart = svg.heatmap([f"{z} {_zone_label(z)}" for z in zones], doms, values, t["heatmap"], lang,
                        col_titles=[f"{d} — {names.get(d, d)}" for d in doms])
    legend = table([t["domain"], ""], [[(esc(d), False), (esc(names.get(d, "")), False)] for d in doms], "domains")
    return f"<p>{esc(t['heatmap_intro'].format(months=HORIZON_MONTHS))}</p>{chart}{legend}"


# --- 3. one page per zone --------------------------------------------------------------------
def zones_section(data: RunData, t: dict[str, str], lang: str) -> str:
    gap = data.get("gap.parquet")
    summ = data.get("gap_summary.csv")
    if gap is None or gap.empty or summ is None:
        return note(t["none"])
    top_all = shortages(data, top=len(summ))
    out = []
    for zone in sorted(gap[S.ZONE].unique()):
        zs = summ[summ[S.ZONE].astype(str) == zone].sort_values("gap", ascending=False)
        ztop = top_all[top_all[S.ZONE] == zone].set_index(S.ROME)["p_shortage"] if len(top_all) else pd.Series(dtype=float)
        title = t["zone_page"].format(zone=zone, label=_zone_label(zone))
        rows = [[(esc(r["label"]), False), (fmt_num(r["demand"], lang), True), (fmt_num(r["supply"], lang), True),
                 (fmt_num(r["gap"], lang), True), (fmt_pct(ztop.get(r[S.ROME], np.nan), lang), True)]
                for _, r in zs.head(TOP_SHORTAGES).iterrows()]
        fans = [fan_for(data, zone, rome, label, t, lang) for rome, label in
                zs.head(FANS_PER_ZONE)[[S.ROME, "label"]].itertuples(index=False)]
        out.append(f'<section class="page zone" id="zone-{esc(zone)}"><h3>{esc(title)}</h3>'
                   + table([t["occupation"], t["demand"], t["supply"], t["gap"], t["p_short"]], rows, "zone-table")
                   + f"<p>{esc(t['fan_intro'])}</p><div class=\"charts\">{''.join(f for f in fans if f)}</div></section>")
    return "".join(out)


def fan_for(data: RunData, zone: str, rome: str, label: str, t: dict[str, str], lang: str) -> str:
    """Fan chart of one occupation x zone: last 36 months observed, forecast bands, expected graduates."""
    gap = data.get("gap.parquet")
    g = gap[(gap[S.ZONE] == zone) & (gap[S.ROME] == rome)].sort_values(S.DS)
    if g.empty:
        return ""
    hist_y: list[float] = []
    hist_ds: list[pd.Timestamp] = []
    series, catalog = data.get("series.parquet"), data.get("catalog.parquet")
    if series is not None and catalog is not None:
        uid = catalog[(catalog[S.LEVEL] == "rome_zone") & (catalog[S.ZONE] == zone) & (catalog[S.KEY] == rome)][S.UID]
        if len(uid):
            h = series[series[S.UID] == uid.iloc[0]].sort_values(S.DS).tail(HISTORY_MONTHS)
            hist_y, hist_ds = h[S.Y].astype(float).tolist(), list(h[S.DS])
    q = {c: g[c].astype(float).tolist() for c in ("q0.025", "q0.1", "q0.5", "q0.9", "q0.975")}
    fmt: Callable[[Any], str] = lambda d: str(pd.Timestamp(d).year) if pd.Timestamp(d).month == 1 else ""  # noqa: E731
    legend = {"observed": t["observed"], "forecast": t["forecast"], "supply": t["supply_legend"]}
    return svg.fan_chart(hist_y, [fmt(d) for d in hist_ds], q, [fmt(d) for d in g[S.DS]],
                         g[S.SUPPLY].astype(float).tolist(), f"{label} ({rome})", legend, lang)


# --- 4. models -------------------------------------------------------------------------------
def models_section(data: RunData, t: dict[str, str], lang: str) -> str:
    s = data.summary
    metric = s.get("metric", "mase")
    summ = data.get("metrics_summary.csv")
    html = [f"<p>{esc(t['models_intro'].format(windows=s.get('backtest_windows', '?'), h=s.get('backtest_horizon', '?')))}</p>"]
    if summ is None or summ.empty:
        return html[0] + note(t["none"])
    wide = summ.pivot(index=S.MODEL, columns=S.METRIC, values=S.VALUE)
    cols = [c for c in ("mase", "rmsse", "wape", "coverage_80", "coverage_95") if c in wide.columns]
    cols += [c for c in wide.columns if c not in cols]
    counts = s.get("selection_counts", {})
    rows = []
    for model, r in wide.iterrows():
        cells = [(esc(model), False)]
        for c in cols:
            pct = c.startswith("coverage") or c == "wape"
            cells.append((fmt_pct(r[c], lang, 1) if pct else fmt_num(r[c], lang, 3), True))
        cells.append((fmt_num(counts.get(model, 0), lang), True))
        rows.append(cells)
    html.append(table([t["family"], *[c.upper() if not c.startswith("coverage") else c for c in cols], t["series_count"]],
                      rows, "models"))
    score = data.get("selection_score.csv")
    if score is not None and not score.empty:
        m = score[score[S.METRIC] == metric].set_index(S.MODEL)[S.VALUE]
        labels = [t["selected"] if k == "selected" else t["baseline"] if k == "seasonal_naive" else k for k in m.index]
        html.append(f"<h3>{esc(t['selected_vs'])}</h3>")
        html.append(svg.bar_chart(labels, m.astype(float).tolist(), f"{metric.upper()}", lang, highlight=t["selected"]))
        html.append(table([t["family"], metric.upper()], [[(esc(lab), False), (fmt_num(v, lang, 3), True)]
                                                          for lab, v in zip(labels, m)], "selection"))
    return "".join(html)


# --- 5. data quality -------------------------------------------------------------------------
def quality_section(data: RunData, t: dict[str, str], lang: str) -> str:
    ing = data.summary.get("ingest", {})
    html = [table([t["records"], t["accepted"], t["duplicates"], t["rejected"]],
                  [[(fmt_num(ing.get(k, np.nan), lang), True) for k in ("input", "accepted", "duplicates", "rejected")]],
                  "ingest-totals")]
    files = data.get("ingest.csv")
    if files is not None and not files.empty:
        html.append(f"<h3>{esc(t['files'])}</h3>")
        rows = [[(esc(r["source"]), False), (esc(r["kind"]), False)]
                + [(fmt_num(r[f"n_{k}"], lang), True) for k in ("input", "accepted", "duplicates", "rejected")]
                for _, r in files.iterrows()]
        html.append(table([t["file"], t["kind"], t["records"], t["accepted"], t["duplicates"], t["rejected"]],
                          rows, "ingest-files"))
    html.append(f"<h3>{esc(t['rejects'])}</h3>")
    rej = data.get("rejects_summary.csv")
    if rej is None:
        html.append(note(t["no_rejects"] if not ing.get("rejected") else t["no_rejects_detail"]))
    elif rej.empty:
        html.append(note(t["no_rejects"]))
    else:
        rows = [[(esc(r["reason"]), False), (esc(r["field"]), False), (fmt_num(r["count"], lang), True),
                 (esc(r.get("example", "")), False), (esc(r.get("source", "")), False)]
                for _, r in rej.sort_values("count", ascending=False).iterrows()]
        html.append(table([t["reason"], t["field"], t["count"], t["example"], t["file"]], rows, "rejects"))
    return "".join(html)


# --- 6. method -------------------------------------------------------------------------------
def method_section(t: dict[str, str], lang: str) -> str:
    return "<ul>" + "".join(f"<li>{esc(p)}</li>" for p in METHOD[lang]) + "</ul>"
