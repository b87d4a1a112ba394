"""Text of the HTML report: escaping, number formatting (French or English) and the two vocabularies.

Every string that comes from data (offer titles, programme names, file names, reasons) goes through
:func:`esc` before it reaches the HTML. French numbers use a narrow no-break space (U+202F) between
thousands and a decimal comma: ``fmt_num(1234.5, "fr", 1) == "1\u202f234,5"``.
"""
from __future__ import annotations

import html
import math
from typing import Any

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"   # no-break space: before % and units in French

LANGS = ("fr", "en")


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included); ``None`` and NaN become an empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def fmt_num(value: Any, lang: str = "fr", decimals: int = 0) -> str:
    """``1234.5 -> "1 234,5"`` (French, narrow no-break space) or ``"1,234.5"`` (English); NaN -> "–"."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if not math.isfinite(number):
        return "–"
    text = f"{number:,.{decimals}f}"
    if lang == "fr":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", NNBSP)
    if text.startswith("-"):
        text = "−" + text[1:]  # a real minus sign
    return "0" if text in ("−0", "−0,0", "−0.0") and decimals == 0 else text


def fmt_pct(value: Any, lang: str = "fr", decimals: int = 0) -> str:
    """A share in [0, 1] as a percentage: ``0.125 -> "12,5 %"`` (French) or ``"12.5%"``."""
    try:
        number = float(value) * 100
    except (TypeError, ValueError):
        return esc(value)
    if not math.isfinite(number):
        return "–"
    text = fmt_num(number, lang, decimals)
    return f"{text}{NBSP}%" if lang == "fr" else f"{text}%"


def fmt_month(ts: Any, lang: str = "fr") -> str:
    """A month as ``"nov. 2026"`` (French) or ``"Nov 2026"`` (English)."""
    import pandas as pd

    t = pd.Timestamp(ts)
    names = MONTHS_FR if lang == "fr" else MONTHS_EN
    return f"{names[t.month - 1]} {t.year}"


MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Besoins en compétences : prévisions et tensions",
        "subtitle": "Expérience « {exp} » — données jusqu'à {end} — rapport généré le {date}",
        "toc": "Sommaire",
        "summary": "Synthèse pour les décideurs",
        "summary_intro": "Les métiers où la demande prévue dépasse le plus l'offre de diplômés sur les {months} prochains mois.",
        "shortages": "Principales pénuries prévues",
        "occupation": "Métier", "zone": "Zone d'emploi", "demand": "Demande prévue", "supply": "Diplômés prévus",
        "gap": "Écart", "p_short": "Probabilité de pénurie", "months_short": "Mois en pénurie probable",
        "actions": "Actions recommandées et leur effet",
        "no_plan": "Pas de plan d'actions dans ce run (plan.parquet absent) : aucune action n'est proposée.",
        "budget": "Courbe budgétaire",
        "no_budget": "Pas de courbe budgétaire dans ce run (budget_curve.csv absent).",
        "budget_x": "Budget (€)", "budget_y": "Demande non couverte", "avoided": "Demande couverte grâce aux actions",
        "heatmap": "Probabilité de pénurie par zone et domaine",
        "heatmap_intro": "Moyenne des probabilités mensuelles de pénurie des métiers du domaine, pondérée par la demande prévue, sur les {months} premiers mois de l'horizon.",
        "domain": "Domaine",
        "zones": "Zones d'emploi",
        "zone_page": "Zone {zone} — {label}",
        "fan_intro": "Demande observée et prévue (médiane, intervalles à 80 % et 95 %) face aux diplômés attendus.",
        "observed": "Observé", "forecast": "Prévision (médiane)", "band80": "Intervalle 80 %", "band95": "Intervalle 95 %",
        "supply_legend": "Diplômés attendus",
        "models": "Comparaison des modèles",
        "models_intro": "Erreurs de prévision mesurées par backtest glissant ({windows} fenêtres de {h} mois) ; plus bas est meilleur pour MASE, RMSSE et WAPE ; la couverture doit approcher 80 % et 95 %.",
        "family": "Famille de modèles", "series_count": "Séries où il est retenu",
        "selected_vs": "Sélection par série contre la référence saisonnière naïve (évaluée sur les fenêtres ultérieures uniquement)",
        "selected": "Sélection par série", "baseline": "Saisonnier naïf",
        "quality": "Qualité des données",
        "records": "Enregistrements lus", "accepted": "Acceptés", "duplicates": "Doublons", "rejected": "Rejetés",
        "files": "Fichiers ingérés", "file": "Fichier", "kind": "Type",
        "rejects": "Rejets et leurs motifs", "reason": "Motif", "field": "Champ", "count": "Nombre", "example": "Exemple",
        "no_rejects": "Aucun enregistrement rejeté.",
        "no_rejects_detail": "Le détail des rejets n'est pas disponible pour ce run.",
        "method": "Méthode et limites",
        "none": "Aucune donnée.",
        "lang": "fr",
    },
    "en": {
        "title": "Skills needs: forecasts and shortages",
        "subtitle": "Experiment “{exp}” — data up to {end} — report generated on {date}",
        "toc": "Contents",
        "summary": "Summary for decision makers",
        "summary_intro": "The occupations where forecast demand most exceeds the supply of graduates over the next {months} months.",
        "shortages": "Largest forecast shortages",
        "occupation": "Occupation", "zone": "Employment zone", "demand": "Forecast demand", "supply": "Expected graduates",
        "gap": "Gap", "p_short": "Probability of shortage", "months_short": "Months likely short",
        "actions": "Recommended actions and their effect",
        "no_plan": "No plan in this run (plan.parquet missing): no action is proposed.",
        "budget": "Budget curve",
        "no_budget": "No budget curve in this run (budget_curve.csv missing).",
        "budget_x": "Budget (€)", "budget_y": "Unmet demand", "avoided": "Demand met thanks to the actions",
        "heatmap": "Probability of shortage by zone and domain",
        "heatmap_intro": "Mean monthly probability of shortage of the domain's occupations, weighted by forecast demand, over the first {months} months of the horizon.",
        "domain": "Domain",
        "zones": "Employment zones",
        "zone_page": "Zone {zone} — {label}",
        "fan_intro": "Observed and forecast demand (median, 80% and 95% intervals) against expected graduates.",
        "observed": "Observed", "forecast": "Forecast (median)", "band80": "80% interval", "band95": "95% interval",
        "supply_legend": "Expected graduates",
        "models": "Model comparison",
        "models_intro": "Forecast errors measured by rolling-origin backtest ({windows} windows of {h} months); lower is better for MASE, RMSSE and WAPE; coverage should be close to 80% and 95%.",
        "family": "Model family", "series_count": "Series where it is selected",
        "selected_vs": "Per-series selection against the seasonal naive baseline (scored on later windows only)",
        "selected": "Per-series selection", "baseline": "Seasonal naive",
        "quality": "Data quality",
        "records": "Records read", "accepted": "Accepted", "duplicates": "Duplicates", "rejected": "Rejected",
        "files": "Ingested files", "file": "File", "kind": "Kind",
        "rejects": "Rejects and why", "reason": "Reason", "field": "Field", "count": "Count", "example": "Example",
        "no_rejects": "No record was rejected.",
        "no_rejects_detail": "Reject details are not available for this run.",
        "method": "Method and limits",
        "none": "No data.",
        "lang": "en",
    },
}

METHOD: dict[str, list[str]] = {
    "fr": [
        "Demande : offres d'emploi France Travail agrégées par mois, par métier (code ROME) et zone d'emploi ; "
        "les offres republiées sont comptées une seule fois. Une offre n'est pas un recrutement : la demande "
        "mesurée est celle qui passe par France Travail.",
        "Prévision : chaque série est classée selon sa régularité (régulière, erratique, intermittente, "
        "sporadique) et son volume ; plusieurs familles de modèles (saisonnier naïf, lissage exponentiel, "
        "ARIMA, Theta, modèles pour petits effectifs Croston-SBA et TSB, Prophet si demandé, et leur "
        "combinaison) sont évaluées par backtest glissant, et chaque classe retient celle qui s'y trompe le "
        "moins. Les intervalles à 80 % et 95 % sont recalés sur les erreurs des backtests ; ils traduisent "
        "l'incertitude des modèles, pas les chocs économiques imprévus. Les prévisions des métiers, domaines, "
        "de la zone et de la région sont rendues cohérentes (leurs sommes concordent).",
        "Offre : diplômés attendus des sessions de formation (LHEO) programmées, puis projetées à partir des "
        "années passées, multipliés par un taux de réussite et un taux d'insertion dans le métier ; s'y "
        "ajoutent, quand le fichier est fourni, les demandeurs d'emploi inscrits dans le métier (une part "
        "de leur stock retrouve un emploi chaque mois).",
        "Écart et probabilité de pénurie : demande moyenne moins offre attendue ; P(pénurie) = P(demande > "
        "offre) lue dans la distribution prévue de chaque mois.",
        "Limites : séries courtes ou très faibles non modélisées ; les ruptures (nouvelle nomenclature, crise) "
        "ne sont pas anticipées ; la mobilité entre zones et métiers voisins n'est pas prise en compte dans l'écart.",
    ],
    "en": [
        "Demand: France Travail job offers aggregated per month, occupation (ROME code) and employment zone; "
        "re-published offers count once. An offer is not a hire: the demand measured is what goes through France Travail.",
        "Forecast: each series is classed by its regularity (smooth, erratic, intermittent, lumpy) and its "
        "volume; several model families (seasonal naive, exponential smoothing, ARIMA, Theta, the sparse-count "
        "models Croston-SBA and TSB, Prophet when asked for, and their combination) are scored by "
        "rolling-origin backtest, and each class takes the one with the smallest error. The 80% and 95% "
        "intervals are calibrated on the backtest errors; they express model uncertainty, not unforeseen "
        "economic shocks. The forecasts of occupations, domains, the zone and the region are made coherent "
        "(their sums agree).",
        "Supply: expected graduates of scheduled training sessions (LHEO), then projected from past years, "
        "times a completion rate and an insertion rate into the occupation; plus, when the file is given, "
        "the job seekers registered in the occupation (a share of their stock finds a job each month).",
        "Gap and probability of shortage: mean demand minus expected supply; P(shortage) = P(demand > "
        "supply) read from each month's forecast distribution.",
        "Limits: short or very sparse series are not modelled; breaks (new nomenclature, crisis) are not "
        "anticipated; mobility between zones and related occupations is not part of the gap.",
    ],
}


def texts(lang: str) -> dict[str, str]:
    """The report's vocabulary in ``lang`` (``fr`` or ``en``); ``ValueError`` otherwise."""
    if lang not in TEXT:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    return TEXT[lang]
