"""Shared fixtures: small hand-made inputs and one small demo data set per session."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def offer(i: int, **over) -> dict:
    """A valid France Travail v2 offer in Reims (zone 4413) for an aide-soignant (J1501)."""
    rec = {
        "id": f"T{i:06d}",
        "intitule": "Aide-soignant / Aide-soignante (H/F)",
        "description": f"Établissement de santé recherche un aide-soignant, poste numéro {i}, équipe de jour.",
        "dateCreation": "2024-03-05T10:12:33.000Z",
        "lieuTravail": {"libelle": "51 - REIMS", "commune": "51454", "codePostal": "51100"},
        "romeCode": "J1501",
        "romeLibelle": "Aide-soignant / Aide-soignante",
        "competences": [{"code": "100008", "libelle": "x", "exigence": "E"}],
        "typeContrat": "CDI",
        "nombrePostes": 1,
    }
    rec.update(over)
    return rec


def write_jsonl(path: Path, records: list, gz: bool = False) -> Path:
    text = "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


LHEO = """<?xml version="1.0" encoding="utf-8"?>
<lheo xmlns="http://www.lheo.org/2.2"><offres>
<formation numero="PROG-1">
  <intitule-formation>DEAS - Diplôme d'État d'aide-soignant</intitule-formation>
  <domaine-formation><code-FORMACODE>43436</code-FORMACODE><code-ROME>J1501</code-ROME></domaine-formation>
  <action numero="A1">
    <lieu-de-formation><coordonnees><adresse><ville>Reims</ville><code-INSEE-commune>51454</code-INSEE-commune></adresse></coordonnees></lieu-de-formation>
    <organisme-financeur><code-financeur>2</code-financeur><nb-places-financees>20</nb-places-financees></organisme-financeur>
    {sessions}
  </action>
</formation>
<formation numero="PROG-2">
  <intitule-formation>Formation sans code ROME connu</intitule-formation>
  <domaine-formation><code-ROME>Z9999</code-ROME></domaine-formation>
  <action numero="A2">
    <lieu-de-formation><coordonnees><adresse><code-INSEE-commune>51454</code-INSEE-commune></adresse></coordonnees></lieu-de-formation>
    <organisme-financeur><nb-places-financees>10</nb-places-financees></organisme-financeur>
    <session numero="S-bad"><periode><debut>20240901</debut><fin>20250630</fin></periode></session>
  </action>
</formation>
</offres></lheo>
"""


def lheo_xml(years=(2022, 2023, 2024)) -> str:
    sessions = "".join(
        f'<session numero="S{y}"><periode><debut>{y}0901</debut><fin>{y + 1}0630</fin></periode></session>' for y in years
    )
    return LHEO.replace("{sessions}", sessions)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small deterministic demo: Reims and Épernay, 2019-01..2024-12, reduced volume."""
    from forecast.demo import generate_demo

    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, seed=7, start="2019-01", end="2024-12", zones=["4413", "4406"], scale=0.6)
    return out

@pytest.fixture(scope="session")
def tracked_run(demo_dir, tmp_path_factory):
    """A small tracked run of the demo (Reims, seasonal naive + damped ETS, 2 windows): (store, run_dir, summary).

    Shared by the report, browser and pyfunc tests; about 20 s.
    """
    from forecast.config import load_experiment
    from forecast.pipeline import run_experiment
    from forecast.tracking import MlflowTracker

    tmp = tmp_path_factory.mktemp("tracked")
    exp_file = tmp / "pilote.toml"
    exp_file.write_text(f"""
[experiment]
name = "pilote"
[data]
offers = ["{demo_dir / 'offres'}"]
sessions = ["{demo_dir / 'formations'}"]
store = "{tmp / 'store.duckdb'}"
[scope]
zones = ["4413"]
start = "2019-01"
[series]
min_total = 300
top_skills = 2
[models]
families = ["seasonal_naive", "ets"]
[backtest]
horizon = 6
windows = 2
[forecast]
horizon = 12
[output]
dir = "{tmp / 'outputs'}"
top_plots = 2
n_jobs = 2
""", encoding="utf-8")
    store = tmp / "mlruns"
    result = run_experiment(load_experiment(exp_file), MlflowTracker(store, "pilote"))
    return store, result.run_dir, result.summary
