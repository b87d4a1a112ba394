"""Candidate actions that close a gap: open training, reconversion, mobility, employer-side measures.

Each candidate is one row of a frame (``ACTION_COLUMNS``): a lever on a target (occupation, zone), a
start and an arrival month, a unit (a session, a person), how many people one unit brings to the target
(``people_per_unit``, expected: completion x insertion), how many it takes from a source pair
(reconversion, mobility), the most units that make sense (``max_units``) and the cost of one unit.
:mod:`forecast.plan` chooses how many units of each to take under a budget.

- ``formation``: extra sessions of the occupation, with the median duration and size of its past
  sessions (in the zone, else in the region); start months are the earliest possible one (``lead_months``
  after the last data month) and the programme's usual calendar starts, so that graduates arrive before
  the shortage; a session whose graduates would arrive after the horizon is not proposed.
- ``reconversion``: people of an occupation in surplus in the same zone move to an occupation in
  shortage that the ROME mobility links name or whose fiches share at least ``MIN_SHARED`` of the target's
  skills; bridging training lasts the target's duration x the share of skills to acquire.
- ``mobilite``: people of the same occupation in surplus in a nearby zone (a zone sharing a département).
- ``employeur``: recruitment support and attractiveness where no training arrives in time (no past
  session, or the first graduates arrive after the deficit starts): at most half the expected unmet
  demand before the first graduates, at a cost per hire.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import pandas as pd

from forecast import referential
from forecast import schema as S
from forecast.errors import DataError
from forecast.supply import SupplyRates

MIN_SHARED = 0.3
ACTION_TYPES = ("formation", "reconversion", "mobilite", "employeur")
ACTION_COLUMNS = ["action_id", "type", "zone", "rome", "label", "source_zone", "source_rome", "skills",
                  "start", "arrival", "duration_months", "unit", "people_per_unit", "taken_per_unit",
                  "max_units", "unit_cost", "rationale"]


@dataclass(frozen=True)
class Costs:
    """Costs of the levers. ``unit`` "euros": costs in euros; "seats": every person trained, moved or
    hired counts one seat. ``cost_per_seat``: euros per training seat, per domain or grand domain in
    ``by_domain`` (most specific wins)."""

    unit: str = "euros"
    cost_per_seat: float = 9000.0
    by_domain: dict[str, float] = field(default_factory=dict)
    mobility_cost: float = 2500.0
    employer_cost_per_hire: float = 3000.0
    lead_months: int = 2
    max_sessions: int = 3

    def __post_init__(self) -> None:
        if self.unit not in ("euros", "seats"):
            raise DataError(f"plan: unit must be 'euros' or 'seats', got {self.unit!r}")
        for name in ("cost_per_seat", "mobility_cost", "employer_cost_per_hire"):
            if getattr(self, name) < 0:
                raise DataError(f"plan: {name} must be >= 0, got {getattr(self, name)}")
        for k, v in self.by_domain.items():
            if v < 0:
                raise DataError(f"plan: cost_per_seat for domain {k} must be >= 0, got {v}")

    def seat(self, rome: str) -> float:
        if self.unit == "seats":
            return 1.0
        for key in (rome[:3], rome[:1]):
            if key in self.by_domain:
                return float(self.by_domain[key])
        return float(self.cost_per_seat)

    def person(self, euros: float) -> float:
        return 1.0 if self.unit == "seats" else float(euros)


@functools.lru_cache(maxsize=1)
def _rome_skills() -> dict[str, frozenset[str]]:
    fiches = referential.load_fiches()[["code_rome", "code_rome_parent"]]
    fs = referential.load_fiche_skills()
    fs = fs[fs["kind"] == "savoir-faire"].merge(fiches, on="code_rome")
    return {r: frozenset(g["code_ogr"]) for r, g in fs.groupby("code_rome_parent")}


@functools.lru_cache(maxsize=1)
def _mobility_pairs() -> frozenset[tuple[str, str]]:
    par = dict(zip(referential.load_fiches()["code_rome"], referential.load_fiches()["code_rome_parent"]))
    m = referential.load_mobility()
    return frozenset((par.get(a, a), par.get(b, b)) for a, b in zip(m["code_rome"], m["code_rome_cible"]) if par.get(a, a) != par.get(b, b))


@functools.lru_cache(maxsize=1)
def zone_neighbours() -> dict[str, frozenset[str]]:
    """Zones d'emploi that share at least one département (from the communes of each zone)."""
    com = referential.load_communes()
    deps = com.groupby("zone")["dep"].agg(frozenset).to_dict()
    by_dep: dict[str, set[str]] = {}
    for z, ds in deps.items():
        for d in ds:
            by_dep.setdefault(d, set()).add(z)
    return {z: frozenset(set().union(*(by_dep[d] for d in ds)) - {z}) for z, ds in deps.items()}


def skill_labels(codes: list[str] | frozenset[str], n: int = 3) -> str:
    lab = referential.load_skills().drop_duplicates("code_ogr").set_index("code_ogr")["libelle"]
    return " ; ".join(str(lab.get(c, c)) for c in sorted(codes)[:n])


def session_profile(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per (zone, rome) and per rome (zone ``*``): median duration (months), median places, usual start months."""
    if sessions is None or sessions.empty:
        return pd.DataFrame(columns=[S.ZONE, S.ROME, "duration", "size", "start_months"])
    s = sessions.assign(duration=((sessions[S.END] - sessions[S.START]).dt.days / 30.44).round().clip(lower=1),
                        month=sessions[S.START].dt.month)

    def prof(g: pd.DataFrame) -> pd.Series:
        counts = g["month"].value_counts()
        return pd.Series({"duration": int(g["duration"].median()), "size": int(max(1, g[S.PLACES].median())),
                          "start_months": tuple(sorted(counts.index[counts >= counts.max() / 2]))})

    local = s.groupby([S.ZONE, S.ROME]).apply(prof, include_groups=False).reset_index()
    regional = s.groupby(S.ROME).apply(prof, include_groups=False).reset_index().assign(**{S.ZONE: "*"})
    return pd.concat([local, regional], ignore_index=True)


def _fmt_p(p: float) -> str:
    return f"{p:.2f}".replace(".", ",")


def _fmt(x: float) -> str:
    return f"{x:,.0f}".replace(",", "\u202f")


def candidate_actions(table: pd.DataFrame, sessions: pd.DataFrame | None, ds: pd.DatetimeIndex,
                      rates: SupplyRates, costs: Costs, horizon: int = 24,
                      skills: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidate actions for the shortages of ``table`` (a :func:`forecast.gap.horizon_gap` frame) at
    the planning ``horizon``, where the training offer covers the pair (``covered``); ``ds``: the
    forecast months (arrival months are indexes into them).
    ``skills`` (a :func:`forecast.gap.skill_gap` frame): a training action lists first the skills of
    the occupation with the largest expected unmet demand in the zone."""
    hz = int(table.loc[table["horizon"] <= horizon, "horizon"].max())
    t = table[(table["horizon"] == hz) & table[S.ZONE].str.fullmatch(r"\d{4}")]
    covered = t["covered"] if "covered" in t.columns else True
    short = t[(t["situation"] == "shortage") & covered]       # without training data, supply is unknown
    surplus = t[t["situation"] == "surplus"]
    prof = session_profile(sessions).set_index([S.ZONE, S.ROME]) if sessions is not None else pd.DataFrame()
    h = min(hz, len(ds))
    short_skills = _skills_in_demand(skills, hz)
    rows: list[dict] = []
    for _, g in short.iterrows():
        z, r = g[S.ZONE], g[S.ROME]
        p = _profile(prof, z, r)
        first_training = math.inf
        if p is not None:
            first_training = _training(rows, g, p, ds, h, rates, costs, short_skills.get(z, []))
        _reconversion(rows, g, surplus[surplus[S.ZONE] == z], p, ds, h, rates, costs)
        _mobility(rows, g, surplus[(surplus[S.ROME] == r) & surplus[S.ZONE].isin(zone_neighbours().get(z, ()))],
                  ds, h, rates, costs)
        _employer(rows, g, first_training, ds, h, costs)
    out = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    out["action_id"] = [f"A{i + 1:03d}" for i in range(len(out))]
    return out


def _profile(prof: pd.DataFrame, zone: str, rome: str) -> pd.Series | None:
    for key in ((zone, rome), ("*", rome)):
        if len(prof) and key in prof.index:
            return prof.loc[key]
    return None


def _month(ds: pd.DatetimeIndex, i: int) -> str:
    return str((ds[0].to_period("M") + i))


def _skills_in_demand(skills: pd.DataFrame | None, hz: int) -> dict[str, list[str]]:
    """Per zone, skill codes by decreasing expected unmet demand."""
    if skills is None or skills.empty:
        return {}
    s = skills[skills["horizon"] == skills.loc[skills["horizon"] <= hz, "horizon"].max()]
    s = s.sort_values(["unmet_mean", S.SKILL], ascending=[False, True])
    return {z: list(g[S.SKILL]) for z, g in s.groupby(S.ZONE)}


def _training(rows: list, g: pd.Series, p: pd.Series, ds: pd.DatetimeIndex, h: int, rates: SupplyRates,
              costs: Costs, in_demand: list[str] | None = None) -> float:
    r = g[S.ROME]
    dur, size = int(p["duration"]), int(p["size"])
    delay = int(rates.get(r, "delay_months"))
    per_grad = rates.get(r, "completion_rate") * rates.get(r, "insertion_rate")
    starts = {costs.lead_months}
    for m in p["start_months"]:
        k = (int(m) - ds[0].month) % 12
        while k < costs.lead_months:
            k += 12
        starts.add(k)
    first = math.inf
    for k in sorted(starts):
        arrival = k + dur + delay
        if arrival >= h:
            continue
        first = min(first, arrival)
        rows.append({"type": "formation", S.ZONE: g[S.ZONE], S.ROME: r, "label": g["label"], "source_zone": "",
                     "source_rome": "", "skills": _first_skills(_rome_skills().get(r, frozenset()), in_demand or []),
                     "start": _month(ds, k), "arrival": arrival, "duration_months": dur, "unit": f"session de {size} places",
                     "people_per_unit": size * per_grad, "taken_per_unit": 0.0, "max_units": costs.max_sessions,
                     "unit_cost": size * costs.seat(r),
                     "rationale": (f"Pénurie probable (P = {_fmt_p(g['p_shortage'])}) : {_fmt(g['demand_mean'])} postes attendus "
                                   f"sur {h} mois pour {_fmt(g['supply_mean'])} personnes disponibles. Session de {size} places "
                                   f"(taille et durée habituelles : {dur} mois) débutant en {_month(ds, k)} ; diplômés "
                                   f"disponibles en {_month(ds, arrival)}, avant la fin de l'horizon.")})
    return first


def _first_skills(own: frozenset[str], in_demand: list[str], n: int = 3) -> str:
    """The occupation's skills that are most in demand in the zone first, then the others by code."""
    first = [c for c in in_demand if c in own][:n]
    rest = sorted(own - set(first))
    lab = _skill_labels()
    return " ; ".join(str(lab.get(c, c)) for c in (first + rest)[:n])


@functools.lru_cache(maxsize=1)
def _skill_labels() -> dict[str, str]:
    """code_ogr -> label (built once: it was rebuilt for every candidate action)."""
    return referential.load_skills().drop_duplicates("code_ogr").set_index("code_ogr")["libelle"].to_dict()


def _reconversion(rows: list, g: pd.Series, sources: pd.DataFrame, p: pd.Series | None, ds: pd.DatetimeIndex,
                  h: int, rates: SupplyRates, costs: Costs) -> None:
    r = g[S.ROME]
    target = _rome_skills().get(r, frozenset())
    dur = int(p["duration"]) if p is not None else 6
    for _, src in sources.iterrows():
        sr = src[S.ROME]
        if sr == r or not target:
            continue
        shared = len(target & _rome_skills().get(sr, frozenset())) / len(target)
        linked = (sr, r) in _mobility_pairs()
        if not linked and shared < MIN_SHARED:
            continue
        bridge = max(1, math.ceil(dur * (1 - shared)))
        arrival = costs.lead_months + bridge + int(rates.get(r, "delay_months"))
        available = math.floor(src["surplus_mean"])
        if arrival >= h or available < 1:
            continue
        missing = target - _rome_skills().get(sr, frozenset())
        rows.append({"type": "reconversion", S.ZONE: g[S.ZONE], S.ROME: r, "label": g["label"],
                     "source_zone": src[S.ZONE], "source_rome": sr, "skills": skill_labels(missing),
                     "start": _month(ds, costs.lead_months), "arrival": arrival, "duration_months": bridge,
                     "unit": "personne", "people_per_unit": rates.get(r, "insertion_rate"), "taken_per_unit": 1.0,
                     "max_units": available, "unit_cost": costs.seat(r) * bridge / max(dur, 1) if costs.unit == "euros" else 1.0,
                     "rationale": (f"Reconversion depuis {src['label']} (excédent attendu de {_fmt(src['surplus_mean'])} "
                                   f"personnes) : {shared * 100:.0f}\u00a0% des compétences du métier cible déjà acquises"
                                   f"{', passerelle ROME' if linked else ''} ; formation passerelle de {bridge} mois.")})


def _mobility(rows: list, g: pd.Series, sources: pd.DataFrame, ds: pd.DatetimeIndex, h: int, rates: SupplyRates,
              costs: Costs) -> None:
    for _, src in sources.iterrows():
        available = math.floor(src["surplus_mean"])
        arrival = costs.lead_months
        if available < 1 or arrival >= h:
            continue
        rows.append({"type": "mobilite", S.ZONE: g[S.ZONE], S.ROME: g[S.ROME], "label": g["label"],
                     "source_zone": src[S.ZONE], "source_rome": g[S.ROME], "skills": "",
                     "start": _month(ds, costs.lead_months), "arrival": arrival, "duration_months": 0,
                     "unit": "personne", "people_per_unit": 1.0, "taken_per_unit": 1.0, "max_units": available,
                     "unit_cost": costs.person(costs.mobility_cost),
                     "rationale": (f"Mobilité géographique : excédent attendu de {_fmt(src['surplus_mean'])} personnes "
                                   f"du même métier dans la zone voisine {src[S.ZONE]} ({referential.zone_label(src[S.ZONE])}), "
                                   f"même département.")})


def _employer(rows: list, g: pd.Series, first_training: float, ds: pd.DatetimeIndex, h: int, costs: Costs) -> None:
    before = min(first_training, h)
    cap = math.floor(0.5 * g["unmet_mean"] * before / h)
    if first_training <= costs.lead_months + 1 or cap < 1:
        return
    why = ("aucune formation de ce métier n'est connue dans la région" if math.isinf(first_training)
           else f"les premiers diplômés n'arriveraient qu'en {_month(ds, int(first_training))}")
    rows.append({"type": "employeur", S.ZONE: g[S.ZONE], S.ROME: g[S.ROME], "label": g["label"], "source_zone": "",
                 "source_rome": "", "skills": "", "start": _month(ds, 1), "arrival": 1, "duration_months": 0,
                 "unit": "recrutement accompagné", "people_per_unit": 1.0, "taken_per_unit": 0.0, "max_units": cap,
                 "unit_cost": costs.person(costs.employer_cost_per_hire),
                 "rationale": (f"Mesures côté employeurs (aide au recrutement, attractivité) : {why}, alors que le "
                               f"déficit est attendu dès les premiers mois (demande non satisfaite attendue "
                               f"{_fmt(g['unmet_mean'])} sur {h} mois).")})
