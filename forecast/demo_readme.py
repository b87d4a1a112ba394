"""The README written next to the demo data (French and English)."""
from __future__ import annotations

from typing import Any


def readme_text(truth: dict[str, Any]) -> str:
    p, c, q = truth["parameters"], truth["counts"], truth["data_quality"]
    shortages, surpluses = truth["planted"]["shortage"], truth["planted"]["surplus"]
    return f"""# Données de démonstration SYNTHÉTIQUES / SYNTHETIC demo data

**FR — Ces données sont entièrement SYNTHÉTIQUES.** Aucune offre, formation ni entreprise n'est réelle.
Elles imitent la structure des offres France Travail (API « Offres d'emploi v2 »), des sessions de formation
(LHEO 2.2) et des demandeurs d'emploi en Grand Est, avec les vrais codes ROME 4.0, compétences (codes OGR),
communes et zones d'emploi 2020, pour démontrer et tester la chaîne de prévision.

**EN — This data is entirely SYNTHETIC.** No offer, training programme or company is real. It mimics the
structure of France Travail job offers ("Offres d'emploi v2" API), LHEO 2.2 training sessions and registered
job seekers in Grand Est, with the real ROME 4.0 codes, skills (OGR codes), communes and zones d'emploi 2020,
to demonstrate and test the forecasting pipeline.

## Génération / How it was generated
`forecast.demo.generate_demo(seed={p['seed']}, start="{p['start']}", end="{p['end']}", scale={p['scale']},
zones={p['zones']})`. Deterministic: the same arguments give byte-identical files.

- FR : par (zone, code ROME historique) : niveau × tendance lisse × saisonnalité mensuelle × creux du confinement
  de 2020 × bruit AR(1), comptes gamma-Poisson (surdispersés). Taille des zones : emploi approché (milliers).
- EN: per (zone, historic ROME code): level × smooth trend × monthly seasonality × 2020 lockdown dip × AR(1)
  wobble, gamma-Poisson (over-dispersed) counts. Zone sizes: approximate employment (thousands of jobs).

## Ce qui est planté / What is planted
- Offers / offres: {c['offers']:,} lines, of which {c['duplicates']:,} re-published duplicates
  (same ROME, same commune, new id, 1-14 days later; listed in `verite_terrain.json`).
- Planted shortages / pénuries : {len(shortages)} (demand growing 8-15 %/yr over the last 24 months and after,
  training places 0.2-0.4 × annual positions); surpluses / excédents : {len(surpluses)} (flat or declining
  demand, places 2-3 × positions); balanced programmes: places 0.6-1.0 × positions.
- Seasonality / saisonnalité: harvest (A1401/A1405, peak August-September, SAI contracts), hospitality
  (summer), retail (October-November), construction (spring, dips in August and December), logistics (Q4).
- Data-quality realities / défauts réalistes : {q['offers_commune_missing']} offers without commune code (label
  "DEP - TOWN" only), {q['offers_title_upper_case']} upper-case titles, {q['offers_without_competences']} offers
  without competences, {q['offers_rome_fiche_not_parent']} offers coded with a ROME 4.0 fiche that is not a
  historic code (map with `code_rome_parent`).
- Postcodes are approximations (real postcodes are not in the shipped data): known towns get their real
  code, other communes get département + two digits + "0". Latitude/longitude are omitted.

## Files / fichiers
- `offres/offres_YYYY.jsonl.gz`, `formations/sessions_lheo.xml`, `demandeurs/demandeurs_emploi.csv`
  (`mois;zone;rome;demandeurs`), `verite_terrain.json` (ground truth), `verite_terrain_demande.parquet`
  (expected offers a month for the 24 months after `end`: zone, rome, ds, expected, expected_positions).

Reference data: ROME 4.0 v460 (France Travail) and INSEE zones d'emploi 2020, Licence Ouverte / Etalab.
"""
