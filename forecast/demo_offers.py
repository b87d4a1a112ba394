"""Offer records of the demo generator, in the France Travail "Offres d'emploi v2" JSON shape.

Called by :func:`forecast.demo.generate_demo`: random draws are vectorised per occupation / zone, and one
plain loop assembles the records (no pandas row loops).
"""
from __future__ import annotations

import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast import referential as ref
from forecast.demo_catalogue import (COMPANY_PATTERNS, CONTRACT_LABEL, CONTRACTS, FAMILIES, INTERIM,
                                     OCCUPATIONS, SURNAMES)

_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
# Préfectures and sous-préfectures of Grand Est plus other large towns: the size proxy of communes.
PREFECTURES = {"08105", "10387", "51108", "52121", "54395", "55029", "57463", "67482", "68066", "88160"}
TOWNS = {
    # sous-préfectures
    "08362", "08409", "08490", "10033", "10268", "51230", "51454", "51507", "51649", "52269", "52448",
    "54099", "54329", "54528", "55138", "55545", "57227", "57630", "57631", "57672", "67180", "67300",
    "67437", "67462", "68004", "68112", "68224", "68269", "68297", "68334", "88160", "88413", "88321",
    # other large communes
    "67447", "67218", "67043", "54547", "54304", "54578", "57480", "57757", "57306", "57606", "57160",
    "57751", "51573", "51055", "51172", "10362", "10081", "10333", "10323", "68376", "68278", "68154",
    "68271", "68166", "67267", "67365", "67462", "57433", "57019", "54323",
}
# Approximate postcodes of large towns; other communes get dep + 2 digits + "0" (see README).
POSTCODES = {"51454": "51100", "68224": "68100", "51230": "51200", "57672": "57100", "67180": "67500",
             "08409": "08200", "52448": "52100", "55545": "55100", "57227": "57600", "57631": "57200",
             "88413": "88100", "54329": "54300", "54528": "54200", "67462": "67600", "67437": "67700",
             "57630": "57400", "51649": "51300", "52269": "52200", "10323": "10100", "68297": "68300",
             "68112": "68500", "51108": "51000", "67482": "67000", "57463": "57000", "54395": "54000"}

SECTORS = {
    "wine": "Culture de la vigne", "agri": "Culture de céréales, de légumineuses et de graines oléagineuses",
    "hosp": "Restauration traditionnelle", "retail": "Supermarchés", "food": "Boulangerie et boulangerie-pâtisserie",
    "sales": "Commerce de gros non spécialisé", "constr": "Travaux de maçonnerie générale et gros oeuvre de bâtiment",
    "renov": "Travaux d'installation électrique dans tous locaux", "btp_cadre": "Ingénierie, études techniques",
    "indus": "Fabrication de structures métalliques et de parties de structures",
    "indus_tech": "Réparation de machines et équipements mécaniques", "print": "Imprimerie (sauf journaux)",
    "repair": "Entretien et réparation de véhicules automobiles légers",
    "logist": "Entreposage et stockage non frigorifique", "transport": "Transports routiers de fret interurbains",
    "health": "Hébergement médicalisé pour personnes âgées", "care": "Aide à domicile",
    "social": "Hébergement social pour enfants en difficultés", "services": "Nettoyage courant des bâtiments",
    "office": "Activités comptables", "office_down": "Activités juridiques", "it": "Programmation informatique",
}
EXTRAS = {
    "wine": "Travail en extérieur, hébergement possible pendant la période des vendanges.",
    "agri": "Travail en extérieur selon la météo, permis B apprécié.",
    "hosp": "Service en coupure, repas pris sur place.",
    "retail": "Travail le samedi, horaires variables selon le planning.",
    "health": "Travail en horaires décalés, un week-end sur deux.",
    "care": "Interventions au domicile des bénéficiaires, véhicule indispensable.",
    "logist": "Port de charges, travail en équipes 2x8.",
    "transport": "Permis C et FIMO à jour exigés.",
    "constr": "Permis B souhaité, déplacements sur les chantiers du secteur.",
    "renov": "Véhicule de service fourni, chantiers de rénovation énergétique.",
    "indus": "Travail en 3x8, port des EPI obligatoire.",
    "it": "Télétravail partiel possible.",
}
OPENERS = (
    "{ent} recherche un(e) {metier} pour son site de {ville}.",
    "Nous recrutons un(e) {metier} pour renforcer notre équipe à {ville}.",
    "Dans le cadre de son développement, {ent} recrute un(e) {metier} ({ville}).",
    "Vous souhaitez rejoindre une équipe dynamique ? Poste de {metier} à pourvoir à {ville}.",
)
PROFILE = {"D": "Débutant(e) accepté(e), une formation est assurée en interne.",
           "S": "Une expérience sur un poste similaire serait appréciée.",
           "E": "Une expérience de {n} ans minimum sur un poste similaire est exigée."}
# (word, replacement) pairs used to make the "one word changed" re-published duplicates.
SWAPS = (("recherche", "recrute"), ("recrutons", "cherchons"), ("équipe", "structure"),
         ("appréciée", "souhaitée"), ("poste", "emploi"), ("Vos missions", "Vos tâches"))
SMIC = {2019: 10.03, 2020: 10.15, 2021: 10.25, 2022: 10.85, 2023: 11.27, 2024: 11.65, 2025: 11.88, 2026: 12.02}
PAY = {"wine": 1.0, "agri": 1.0, "hosp": 1.05, "retail": 1.02, "food": 1.1, "sales": 1.25, "constr": 1.15,
       "renov": 1.2, "btp_cadre": 1.7, "indus": 1.1, "indus_tech": 1.4, "print": 1.15, "repair": 1.15,
       "logist": 1.03, "transport": 1.15, "health": 1.12, "care": 1.02, "social": 1.15, "services": 1.0,
       "office": 1.15, "office_down": 1.1, "it": 1.9}
EXPERIENCE = {"D": "Débutant accepté", "S": "Expérience souhaitée", "E": "Expérience exigée"}


def fold_upper(text: str) -> str:
    """'Épernay' -> 'EPERNAY' (France Travail writes lieuTravail.libelle in plain upper case)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def postcode(commune: str, dep: str) -> str:
    """Approximate postcode: known large towns, else département + 2 digits from the code + "0"."""
    if commune in POSTCODES:
        return POSTCODES[commune]
    if commune in PREFECTURES:
        return dep + "000"
    return f"{dep}{int(commune[2:]) * 7 % 97 + 1:02d}0"[:5]


def commune_weights(codes: list[str], names: list[str], zone_label: str, rng: np.random.Generator) -> np.ndarray:
    """Size proxy of the communes of a zone: the town named like the zone, préfectures, sous-préfectures
    and large towns carry fixed heavy weights; the other communes get log-normal (heavy-tailed) weights."""
    parts = {fold_upper(p).strip() for p in zone_label.replace(" - ", "|").split("|")}
    w = rng.lognormal(-1.0, 1.2, size=len(codes))
    for i, (code, name) in enumerate(zip(codes, names, strict=True)):
        if fold_upper(name) in parts or any(fold_upper(name) == p.split(" ")[0] for p in parts if " " in p
                                                 and "SAINT" not in p):
            w[i] = 150.0
        elif code in PREFECTURES:
            w[i] = 80.0
        elif code in TOWNS:
            w[i] = 25.0
    return w


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def metier(label: str) -> str:
    return _lower_first(label.split(" / ")[0].strip())


@dataclass
class Lookups:
    """Referential lookups the record builder needs, prepared once."""

    fiches_of: dict[str, tuple[list[str], list[float]]]
    fiche_label: dict[str, str]
    apps_of: dict[str, tuple[list[str], list[float]]]
    skills_of: dict[str, list[str]]
    soft_of: dict[str, list[str]]
    skill_label: dict[str, str]
    knowledge: frozenset[str]


def lookups(romes: list[str]) -> Lookups:
    f = ref.load_fiches()
    f = f[f["code_rome_parent"].isin(romes)]
    fiches_of: dict[str, tuple[list[str], list[float]]] = {}
    for parent, grp in f.groupby("code_rome_parent", sort=True):
        codes = sorted(grp["code_rome"])
        w = np.array([4.0 if c == parent else 1.0 for c in codes])
        fiches_of[str(parent)] = (codes, (np.cumsum(w) / w.sum()).tolist())
    a = ref.load_appellations()
    a = a[a["code_rome"].isin(f["code_rome"]) & (a["peu_usite"] != "O")]
    apps_of: dict[str, tuple[list[str], list[float]]] = {}
    for fiche, grp in a.groupby("code_rome", sort=True):
        labels = list(grp["libelle"])
        fl = f.loc[f["code_rome"] == fiche, "libelle_rome"].iloc[0]
        w = 1.0 / np.arange(1, len(labels) + 1) ** 0.7
        w[[i for i, lab in enumerate(labels) if lab == fl]] = w.max() * 3  # the fiche's own title
        apps_of[str(fiche)] = (labels, (np.cumsum(w) / w.sum()).tolist())
    fs = ref.load_fiche_skills()
    fs = fs[fs["code_rome"].isin(f["code_rome"])]
    hard = fs[fs["kind"] != "savoir-etre"]
    soft = fs[fs["kind"] == "savoir-etre"]
    skills_of = {str(k): list(v) for k, v in hard.groupby("code_rome", sort=True)["code_ogr"]}
    soft_of = {str(k): list(v) for k, v in soft.groupby("code_rome", sort=True)["code_ogr"]}
    sk = ref.load_skills()
    sk = sk[sk["code_ogr"].isin(fs["code_ogr"])]
    return Lookups(fiches_of, dict(zip(f["code_rome"], f["libelle_rome"], strict=True)), apps_of, skills_of,
                   soft_of, dict(zip(sk["code_ogr"], sk["libelle"], strict=True)),
                   frozenset(sk.loc[sk["kind"] == "savoir", "code_ogr"]))


def offer_ids(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` unique 7-character ids like "193XKLM" (3 digits, 4 letters)."""
    space = 1000 * 26**4
    ids = rng.integers(0, space, size=n)
    while True:
        _, first = np.unique(ids, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        if dup.size == 0:
            break
        ids[dup] = rng.integers(0, space, size=dup.size)
    digits, rest = ids // 26**4, ids % 26**4
    letters = [_LETTERS[(rest // 26**k) % 26] for k in (3, 2, 1, 0)]
    return [f"{d:03d}{a}{b}{c}{e}" for d, a, b, c, e in zip(digits.tolist(), *letters, strict=True)]


def _company(fam: str, contract: str, town: str, u: float, v: float) -> str:
    pats = INTERIM if contract == "MIS" and u < 0.6 else COMPANY_PATTERNS[fam]
    pat = pats[int(v * len(pats)) % len(pats)]
    return pat.format(s=SURNAMES[int(u * 997 + v * 31) % len(SURNAMES)], z=town)


def _contract_label(contract: str, fam: str, r: float) -> str:
    if contract == "CDI":
        return CONTRACT_LABEL["CDI"]
    if contract == "SAI":
        dur = ("15 Jour(s)", "3 Semaine(s)", "1 Mois", "2 Mois")[int(r * 4)] if fam == "wine" else \
            ("2 Mois", "3 Mois", "4 Mois", "6 Mois")[int(r * 4)]
    elif contract == "MIS":
        dur = ("1 Mois", "2 Mois", "3 Mois", "6 Mois", "18 Mois")[int(r * 5)]
    else:
        dur = ("3 Mois", "6 Mois", "6 Mois", "9 Mois", "12 Mois")[int(r * 5)]
    return f"{CONTRACT_LABEL[contract]} - {dur}"


def build_records(offers: dict[str, np.ndarray], romes: list[str], lk: Lookups, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Build the JSON-ready offer records.

    ``offers`` holds aligned arrays: ``rome`` (index into ``romes``), ``commune``, ``dep``, ``town`` (upper case), ``name``,
    ``created``/``updated`` (ISO strings), ``missing_commune`` (bool), ``upper_title`` (bool), ``id``.
    """
    n = len(offers["id"])
    U = rng.random((n, 12)).tolist()
    k_skills = rng.integers(3, 9, size=n).tolist()
    no_skill = (rng.random(n) < 0.10).tolist()
    draws = rng.random((n, 14)).tolist()
    contract_cum = {f: np.cumsum(fam.contracts).tolist() for f, fam in FAMILIES.items()}
    cols = {k: (v.tolist() if isinstance(v, np.ndarray) else list(v)) for k, v in offers.items()}
    rome_i, town_l, dep_l, commune_l, name_l = cols["rome"], cols["town"], cols["dep"], cols["commune"], cols["name"]
    out: list[dict[str, Any]] = []
    for i in range(n):
        rome = romes[rome_i[i]]
        fam = OCCUPATIONS[rome][0]
        family = FAMILIES[fam]
        u = U[i]
        fcodes, fcum = lk.fiches_of[rome]
        fiche = fcodes[min(bisect_left(fcum, u[0]), len(fcodes) - 1)]
        labels, acum = lk.apps_of.get(fiche, ([lk.fiche_label[fiche]], [1.0]))
        app = labels[min(bisect_left(acum, u[1]), len(labels) - 1)]
        cum = contract_cum[fam]
        contract = CONTRACTS[min(bisect_left(cum, u[2] * cum[-1]), 3)]
        exp = "D" if u[3] < 0.42 else ("S" if u[3] < 0.68 else "E")
        if fam == "wine" or (contract in ("SAI", "MIS") and u[3] < 0.6):
            exp = "D"
        town, dep, commune, name = town_l[i], dep_l[i], commune_l[i], name_l[i]
        ent = _company(fam, contract, name, u[4], u[5])
        # competences: savoir-faire and savoirs of the fiche (savoir-être go to qualitesProfessionnelles)
        pool = lk.skills_of.get(fiche, [])
        comps: list[str] = []
        if pool and not no_skill[i]:
            npool = len(pool)
            for d in draws[i]:
                c = pool[int(d * npool)]
                if c not in comps:
                    comps.append(c)
                if len(comps) == k_skills[i]:
                    break
        soft = lk.soft_of.get(fiche, [])
        qual = [soft[int(u[6] * len(soft))]] if soft and u[6] < 0.5 else []
        intitule = app + (" (H/F)" if u[7] < 0.4 else "")
        if cols["upper_title"][i]:
            intitule = intitule.upper()
        # description
        opener = OPENERS[int(u[8] * len(OPENERS))].format(ent=ent, metier=metier(app), ville=name)
        said = [_lower_first(lk.skill_label[c]) for c in comps if c not in lk.knowledge][:3]
        known = [_lower_first(lk.skill_label[c]) for c in comps if c in lk.knowledge][:1]
        ctr_label = _contract_label(contract, fam, u[10])
        tail = [f"Poste en {contract if contract in ('CDI', 'CDD') else ctr_label.lower()}.",
                PROFILE[exp].format(n=1 + int(u[11] * 3))]
        extra = [EXTRAS[fam]] if fam in EXTRAS and u[9] < 0.7 else []
        if known:
            extra.insert(0, f"Connaissances appréciées : {known[0]}.")
        desc = _describe(opener, said, extra, tail)
        nature = "Contrat travail"
        if contract in ("CDD", "CDI") and u[9] > 0.94:
            nature = "Contrat apprentissage" if u[9] > 0.97 else "Cont. professionnalisation"
        full = not (fam in ("care", "services", "retail", "hosp") and u[10] < 0.3)
        if full:
            hours = "39H Horaires normaux" if fam in ("constr", "renov") else (
                "35H Travail en équipe" if fam in ("indus", "logist") else "35H Horaires normaux")
        else:
            hours = ("24H Horaires normaux", "28H Travail samedi", "20H Horaires variables")[int(u[11] * 3)]
        lieu: dict[str, Any] = {"libelle": f"{dep} - {town}"}
        if not cols["missing_commune"][i]:
            lieu["codePostal"] = postcode(commune, dep)
            lieu["commune"] = commune
        rec: dict[str, Any] = {
            "id": cols["id"][i],
            "intitule": intitule,
            "description": desc,
            "dateCreation": cols["created"][i],
            "dateActualisation": cols["updated"][i],
            "lieuTravail": lieu,
            "romeCode": fiche,
            "romeLibelle": lk.fiche_label[fiche],
            "appellationlibelle": app,
        }
        if u[4] < 0.75:
            rec["entreprise"] = {"nom": ent.upper()}
        rec["typeContrat"] = contract
        rec["typeContratLibelle"] = ctr_label
        rec["natureContrat"] = nature
        rec["experienceExige"] = exp
        rec["experienceLibelle"] = EXPERIENCE[exp] if exp == "D" else f"{1 + int(u[11] * 3)} An(s)"
        if comps:
            rec["competences"] = [{"code": c, "libelle": lk.skill_label[c],
                                   "exigence": "E" if draws[i][13] < 0.45 or k == 0 and exp == "E" else "S"}
                                  for k, c in enumerate(comps)]
        if qual:
            rec["qualitesProfessionnelles"] = [{"libelle": lk.skill_label.get(qual[0], "")}]
        if u[5] < 0.65:
            hourly = SMIC.get(cols["year"][i], 12.0) * PAY[fam] * (1 + 0.15 * u[6])
            if fam in ("it", "btp_cadre"):
                lo = round(hourly * 1820 / 1000) * 1000
                rec["salaire"] = {"libelle": f"Annuel de {lo:.2f} Euros à {lo + 6000:.2f} Euros sur 12 mois"}
            else:
                rec["salaire"] = {"libelle": f"Mensuel de {hourly * 151.67:.2f} Euros sur 12 mois"}
        rec["dureeTravailLibelle"] = hours
        rec["dureeTravailLibelleConverti"] = "Temps plein" if full else "Temps partiel"
        rec["alternance"] = nature != "Contrat travail"
        rec["nombrePostes"] = cols["positions"][i]
        if u[7] > 0.2:
            rec["secteurActiviteLibelle"] = ("Activités des agences de travail temporaire" if contract == "MIS"
                                             else SECTORS[fam])
        if u[8] > 0.3:
            rec["qualificationLibelle"] = family.qualification
        out.append(rec)
    return out


def _describe(opener: str, said: list[str], extra: list[str], tail: list[str]) -> str:
    """Join the sentences, dropping optional ones until the text fits in 385 characters (room for the
    one-word change of a duplicate, the whole staying under 400)."""
    while True:
        if said:
            missions = "Vos missions : " + (", ".join(said[:-1]) + " et " + said[-1] if len(said) > 1 else said[0]) + "."
        else:
            missions = "Vous assurez les missions courantes du poste au sein de l'équipe."
        desc = " ".join([opener, missions, *extra, *tail])
        if len(desc) <= 385:
            return desc
        if extra:
            extra = extra[:-1]
        elif len(tail) > 1:
            tail = tail[:1]
        elif len(said) > 1:
            said = said[:-1]
        else:
            cut = desc[:384].rsplit(" ", 1)[0].rstrip(",;:")
            return cut + "."


def positions(fams: list[str], rng: np.random.Generator) -> np.ndarray:
    """nombrePostes: mostly 1, sometimes 2-5 (more often for harvest, agriculture and logistics)."""
    p_multi = np.array([FAMILIES[f].multi_positions for f in fams])
    multi = rng.random(len(fams)) < p_multi
    extra = np.minimum(rng.geometric(0.45, size=len(fams)), 4)
    return np.where(multi, 1 + extra, 1)


def swap_word(desc: str, r: float) -> str:
    """One word changed (re-published duplicate); identical if no known word is present."""
    present = [(a, b) for a, b in SWAPS if a in desc]
    if not present:
        return desc
    a, b = present[int(r * len(present))]
    return desc.replace(a, b, 1)
