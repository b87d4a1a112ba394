"""Training programmes (LHEO 2.2 XML) and registered job seekers of the demo generator."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

from forecast.demo_catalogue import FINANCERS, TRAININGS

LHEO_NS = "http://www.lheo.org/2.2"


@dataclass
class Programme:
    """One recurring programme (one LHEO ``formation`` with one ``action`` at a fixed place)."""

    numero: str
    zone: str
    rome: str
    title: str
    formacode: str
    nsf: str
    months: int
    start_month: int
    places: int
    commune: str
    town: str
    dep: str
    postcode: str
    financer: str
    first_year: int
    last_year: int
    sessions: list[tuple[str, dt.date, dt.date]]


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    return dt.date(d.year + y, m + 1, 1)


def plan_programmes(zone: str, rome: str, annual_places: float, situation: str, first_year: int,
                    last_session_start: dt.date, town: tuple[str, str, str, str], serial: int,
                    rng: np.random.Generator) -> list[Programme]:
    """Programmes of one (zone, rome) whose yearly places approach ``annual_places``.

    Programmes recur every year (same place, similar dates); about 15% stop or start mid-period
    unless the situation is planted (then they run through the whole period and the future).
    """
    catalogue = TRAININGS[rome]
    out: list[Programme] = []
    remaining = annual_places
    k = 0
    while remaining >= 4 or (k == 0 and situation in ("shortage", "surplus")):
        title, formacode, nsf, months, starts = catalogue[k % len(catalogue)]
        per_year = len(starts) if months <= 12 else 1
        size = int(np.clip(round(remaining / per_year), 8, 20)) if remaining / per_year >= 8 else 8
        size = int(min(size, 12 + rng.integers(0, 9)))
        years = (first_year - 1, last_session_start.year)
        planted = situation in ("shortage", "surplus")
        u = rng.random()
        if not planted and u < 0.12:
            years = (years[0], int(rng.integers(first_year + 1, last_session_start.year)))   # stops
        elif not planted and u < 0.24:
            years = (int(rng.integers(first_year + 1, last_session_start.year)), years[1])   # starts later
        numero = f"PROG-{zone}-{rome}-{serial + k:03d}"
        sessions: list[tuple[str, dt.date, dt.date]] = []
        for year in range(years[0], years[1] + 1):
            for j, month in enumerate(starts[:per_year]):
                day = 1 + int(rng.integers(0, 10))
                debut = dt.date(year, month, 1) + dt.timedelta(days=day)
                if debut > last_session_start:
                    continue
                fin = _add_months(debut, months) - dt.timedelta(days=int(rng.integers(1, 20)))
                sessions.append((f"SES-{numero[5:]}-{year}-{j + 1}", debut, fin))
        fin_code = "5" if "apprentissage" in title or "alternance" in title else FINANCERS[int(rng.random() < 0.2)][0]
        out.append(Programme(numero, zone, rome, title, formacode, nsf, months, starts[0], size, *town,
                             fin_code, years[0], years[1], sessions))
        remaining -= size * per_year
        k += 1
        if k >= 12:
            break
    return out


def lheo_xml(programmes: list[Programme]) -> str:
    """The LHEO 2.2 document (``lheo > offres > formation > action > session``), escaped properly."""
    e = escape
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<lheo xmlns="{LHEO_NS}">', "<offres>"]
    for p in programmes:
        lines.append(f'<formation numero="{e(p.numero)}">')
        lines.append(f"<domaine-formation><code-FORMACODE>{p.formacode}</code-FORMACODE>"
                     f"<code-NSF>{e(p.nsf)}</code-NSF><code-ROME>{p.rome}</code-ROME></domaine-formation>")
        lines.append(f"<intitule-formation>{e(p.title)}</intitule-formation>")
        lines.append(f"<objectif-formation>Préparer au métier visé par la certification « {e(p.title)} » "
                     f"et favoriser l'accès à l'emploi sur le bassin de {e(p.town)}.</objectif-formation>")
        lines.append(f"<resultats-attendus>{e(p.title)}</resultats-attendus>")
        lines.append("<contenu-formation>Modules théoriques, mises en situation professionnelle et stage "
                     "en entreprise.</contenu-formation>")
        certif = "0" if p.title.startswith("POEC") or p.title.startswith("Formation courte") else "1"
        lines.append(f"<certifiante>{certif}</certifiante>")
        lines.append(f'<action numero="ACT-{e(p.numero[5:])}">')
        lines.append(f"<rythme-formation>{'En alternance' if p.financer == '5' else 'Temps plein'}</rythme-formation>")
        lines.append("<niveau-entree-obligatoire>0</niveau-entree-obligatoire>")
        lines.append("<lieu-de-formation><coordonnees><adresse>"
                     f"<ligne>Centre de formation de {e(p.town)}</ligne>"
                     f"<codepostal>{p.postcode}</codepostal><ville>{e(p.town)}</ville>"
                     f"<departement>{p.dep}</departement><code-INSEE-commune>{p.commune}</code-INSEE-commune>"
                     "<region>44</region></adresse></coordonnees></lieu-de-formation>")
        lines.append("<modalites-entrees-sorties>0</modalites-entrees-sorties>")
        for numero, debut, fin in p.sessions:
            lines.append(f'<session numero="{e(numero)}"><periode><debut>{debut:%Y%m%d}</debut>'
                         f"<fin>{fin:%Y%m%d}</fin></periode></session>")
        lines.append(f"<duree-indicative>{p.months} mois</duree-indicative>")
        lines.append(f"<organisme-financeur><code-financeur>{p.financer}</code-financeur>"
                     f"<nb-places-financees>{p.places}</nb-places-financees></organisme-financeur>")
        lines.append("</action>")
        lines.append("</formation>")
    lines.append("</offres>")
    lines.append("</lheo>")
    return "\n".join(lines) + "\n"
