"""The synthetic demo generator: determinism, formats, referential consistency, planted signals."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from forecast import referential as ref
from forecast.demo import DemoManifest, generate_demo
from forecast.demo_catalogue import OCCUPATIONS, TRAININGS
from forecast.errors import DataError

ZONES = ["4413", "4406", "4410"]
KW = {"seed": 7, "start": "2019-01", "end": "2021-12", "zones": ZONES, "scale": 0.15}
NS = "{http://www.lheo.org/2.2}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoManifest]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, **KW)


@pytest.fixture(scope="module")
def offers(demo: tuple[Path, DemoManifest]) -> list[dict]:
    out, _ = demo
    recs = []
    for path in sorted((out / "offres").glob("offres_*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                assert rec["dateCreation"][:4] == path.name[7:11]
                recs.append(rec)
    return recs


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic(demo: tuple[Path, DemoManifest], tmp_path: Path) -> None:
    out, _ = demo
    generate_demo(tmp_path, **KW)
    assert _files(out) == _files(tmp_path)


def test_files_and_counts(demo: tuple[Path, DemoManifest], offers: list[dict]) -> None:
    out, m = demo
    for name in ("formations/sessions_lheo.xml", "demandeurs/demandeurs_emploi.csv", "verite_terrain.json",
                 "verite_terrain_demande.parquet", "README.md", "offres/offres_2019.jsonl.gz",
                 "offres/offres_2021.jsonl.gz"):
        assert (out / name).is_file(), name
    assert all(p.exists() for p in m.files.values())
    assert "SYNTH" in (out / "README.md").read_text(encoding="utf-8")
    assert len(offers) == m.offers > 500
    ids = [r["id"] for r in offers]
    assert len(set(ids)) == len(ids) and all(len(i) == 7 for i in ids)
    truth = json.loads((out / "verite_terrain.json").read_text(encoding="utf-8"))
    assert len(truth["duplicates"]) == m.duplicates and 0.02 < m.duplicates / m.offers < 0.06
    assert truth["counts"]["offers"] == m.offers
    js = pd.read_csv(out / "demandeurs/demandeurs_emploi.csv", sep=";", dtype=str)
    assert list(js.columns) == ["mois", "zone", "rome", "demandeurs"] and len(js) == m.job_seeker_rows
    future = pd.read_parquet(out / "verite_terrain_demande.parquet")
    assert {"zone", "rome", "ds", "expected"} <= set(future.columns)
    assert future["ds"].min() == pd.Timestamp("2022-01-01") and future["ds"].nunique() == 24
    assert set(future["zone"]) == set(ZONES)


def test_offer_fields_match_referential(demo: tuple[Path, DemoManifest], offers: list[dict]) -> None:
    _, m = demo
    fiches = ref.load_fiches().set_index("code_rome")
    fs = ref.load_fiche_skills()
    skills = set(zip(fs["code_rome"], fs["code_ogr"], strict=True))
    labels = ref.load_skills().set_index("code_ogr")["libelle"]
    com = ref.load_communes().set_index("commune")
    zone_counts: Counter[str] = Counter()
    missing = 0
    for r in offers:
        for key in ("id", "intitule", "description", "dateCreation", "dateActualisation", "lieuTravail",
                    "romeCode", "romeLibelle", "appellationlibelle", "typeContrat", "typeContratLibelle",
                    "natureContrat", "experienceExige", "dureeTravailLibelle", "nombrePostes"):
            assert key in r, key
        assert r["romeCode"] in fiches.index and r["romeLibelle"] == fiches.loc[r["romeCode"], "libelle_rome"]
        assert r["typeContrat"] in {"CDI", "CDD", "MIS", "SAI"} and r["experienceExige"] in {"D", "E", "S"}
        assert 100 <= len(r["description"]) <= 400
        assert r["dateActualisation"] >= r["dateCreation"] and r["dateCreation"].endswith(".000Z")
        for c in r.get("competences", []):
            assert (r["romeCode"], c["code"]) in skills and c["libelle"] == labels[c["code"]]
            assert c["exigence"] in ("E", "S")
        assert 3 <= len(r.get("competences", [1, 2, 3])) <= 8
        lieu = r["lieuTravail"]
        if "commune" in lieu:
            zone_counts[com.loc[lieu["commune"], "zone"]] += 1
            assert lieu["libelle"].startswith(com.loc[lieu["commune"], "dep"] + " - ")
            assert lieu["codePostal"][:2] == com.loc[lieu["commune"], "dep"]
        else:
            missing += 1
            assert " - " in lieu["libelle"]
    assert missing == m.data_quality["offers_commune_missing"]
    assert sum(zone_counts.values()) + missing == m.offers
    for z in ZONES:  # communes are drawn within their zone
        assert abs(zone_counts[z] - m.offers_by_zone[z]) <= missing
    share = sum(1 for r in offers if "competences" not in r) / len(offers)
    assert 0.05 < share < 0.16


def test_duplicates(demo: tuple[Path, DemoManifest], offers: list[dict]) -> None:
    out, _ = demo
    by_id = {r["id"]: r for r in offers}
    truth = json.loads((out / "verite_terrain.json").read_text(encoding="utf-8"))
    for d in truth["duplicates"]:
        a, b = by_id[d["duplicate_of"]], by_id[d["id"]]
        assert a["romeCode"] == b["romeCode"] and a["lieuTravail"] == b["lieuTravail"]
        ta = dt.datetime.fromisoformat(a["dateCreation"][:19])
        tb = dt.datetime.fromisoformat(b["dateCreation"][:19])
        assert dt.timedelta(0) < tb - ta <= dt.timedelta(days=14, hours=1)
        wa, wb = a["description"].split(), b["description"].split()
        assert len(wa) == len(wb) and sum(x != y for x, y in zip(wa, wb, strict=True)) <= 1


def test_seasonality_and_lockdown(offers: list[dict]) -> None:
    com = ref.load_communes().set_index("commune")["zone"]
    parent = ref.rome_parent_of(sorted({r["romeCode"] for r in offers}))
    months = Counter(int(r["dateCreation"][5:7]) for r in offers
                     if parent[r["romeCode"]] == "A1401" and com.get(r["lieuTravail"].get("commune")) == "4413")
    assert months[8] + months[9] > 2.5 * (months[2] + months[3])
    total = Counter(r["dateCreation"][:7] for r in offers)
    assert total["2020-04"] < 0.6 * total["2019-04"]
    assert total["2021-04"] > total["2020-04"]


def test_lheo(demo: tuple[Path, DemoManifest]) -> None:
    out, m = demo
    root = ET.parse(out / "formations/sessions_lheo.xml").getroot()
    assert root.tag == f"{NS}lheo"
    fiches = set(ref.load_fiches()["code_rome"])
    com = ref.load_communes().set_index("commune")["zone"]
    sessions = 0
    for f in root.iter(f"{NS}formation"):
        assert f.findtext(f"{NS}domaine-formation/{NS}code-ROME") in fiches
        assert f.findtext(f"{NS}intitule-formation")
        for action in f.iter(f"{NS}action"):
            commune = action.findtext(f".//{NS}code-INSEE-commune")
            assert com[commune] in ZONES
            assert 8 <= int(action.findtext(f".//{NS}nb-places-financees")) <= 20
            for s in action.iter(f"{NS}session"):
                debut, fin = s.findtext(f"{NS}periode/{NS}debut"), s.findtext(f"{NS}periode/{NS}fin")
                assert debut < fin
                assert debut <= "20230131"  # at most about 12 months after end
                sessions += 1
    assert sessions == m.sessions > 0


def test_ground_truth(demo: tuple[Path, DemoManifest]) -> None:
    _, m = demo
    truth = m.ground_truth
    assert truth["synthetic"] is True
    short = [p for p in truth["series"] if p["situation"] == "shortage"]
    assert any(p["zone"] == "4413" for p in short) and len(truth["planted"]["shortage"]) >= 3
    for p in short:
        assert p["trend_recent"] >= 0.08 and 0.2 <= p["supply_ratio_target"] <= 0.4
    for p in truth["series"]:
        if p["situation"] == "surplus":
            assert p["trend_recent"] <= 0.0 and 2.0 <= p["supply_ratio_target"] <= 3.0


def test_catalogue_codes_exist() -> None:
    parents = set(ref.load_rome_parents()["code_rome"])
    assert set(OCCUPATIONS) <= parents and set(TRAININGS) <= set(OCCUPATIONS)
    assert 150 <= len(OCCUPATIONS) <= 250


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="zones"):
        generate_demo(tmp_path, zones=["7501"], end="2019-03")
    with pytest.raises(DataError, match="YYYY-MM"):
        generate_demo(tmp_path, start="2019/01")
    with pytest.raises(DataError, match="before"):
        generate_demo(tmp_path, start="2020-01", end="2019-12")
