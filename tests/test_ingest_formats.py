"""Tabular offers (CSV/Parquet/XLSX), LHEO CSV, job seekers, the shared LHEO examples, kind detection."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT
from forecast.errors import DataError
from forecast.ingest.formats import detect_kind
from forecast.ingest.job_seekers import read_job_seekers
from forecast.ingest.lheo import read_lheo
from forecast.ingest.lheo_csv import read_lheo_csv
from forecast.ingest.tabular import iter_tabular_batches
from forecast.ingest.tagging import concat_batches
from forecast.store import Store

SHARED_LHEO = ROOT.parent / "shared" / "data" / "lheo"

FRENCH_CSV = (
    "Référence;Date de création;Code postal;Ville;Code ROME;Intitulé;Nb postes;Compétences\n"
    "A1;05/03/2024;51100;Reims;J1501;Aide-soignant (H/F);1,0;100008|122632\n"
    "A2;06/03/2024 10:15;51370;Saint-Brice-Courcelles;J1501;Aide-soignante de nuit;2;\n"
    "A3;31/02/2024;51100;Reims;J1501;Aide-soignant;1;\n"          # no such date
    "A4;07/03/2024;51100;Nullepart;J1501;Aide-soignant;1;\n"      # town not in 51
    "A5;07/03/2024;51100;Reims;Z9999;Aide-soignant;1;\n"          # unknown ROME
    "A6;07/03/2024;51100;Reims;J1501;Aide-soignant;1,5;\n"        # not a whole number
)
MAPPING = {"id": "Référence", "date": "Date de création", "postcode": "Code postal", "town": "Ville",
           "rome": "Code ROME", "title": "Intitulé", "positions": "Nb postes", "skills": "Compétences"}


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-8"])
def test_french_csv_with_mapping(tmp_path, encoding):
    p = tmp_path / "offres.csv"
    p.write_bytes(FRENCH_CSV.encode(encoding))
    res = concat_batches(str(p), iter_tabular_batches(p, MAPPING))
    assert (res.n_input, res.n_accepted, res.n_rejected) == (6, 2, 4)
    o = res.frames["offers"].set_index("offer_id")
    assert o.loc["A1", "commune"] == "51454" and o.loc["A2", "commune"] == "51474"
    assert o.loc["A2", "positions"] == 2 and str(o.loc["A2", "created"]) == "2024-03-06 10:15:00"
    assert set(o["rome"]) == {"J1501"} and set(o["rome_how"]) == {"given"}
    sk = res.frames["offer_skills"]
    given = sk[sk["how"] == "given"]
    assert sorted(given.loc[given["offer_id"] == "A1", "skill"]) == ["100008", "122632"]
    rj = res.rejects.set_index("record")
    assert rj.loc[3, "field"] == "date" and rj.loc[4, "field"] == "lieuTravail.libelle"
    assert rj.loc[5, "field"] == "rome" and rj.loc[6, "field"] == "positions"


def test_skills_found_in_text_when_none_given(tmp_path):
    p = tmp_path / "offres.csv"
    p.write_text("id;date;commune;rome;title;description\n"
                 "B1;2024-03-05;51454;G1603;Préparateur livreur;Vos missions : traitement des commandes, "
                 "utilisez les équipements de cuisine spécifiques.\n", encoding="utf-8")
    res = concat_batches(str(p), iter_tabular_batches(p))
    sk = res.frames["offer_skills"].set_index("skill")
    assert set(sk["how"]) == {"inferred"}
    assert sk.loc["122632", "confidence"] == pytest.approx(0.95)        # word for word
    assert 0.5 < sk.loc["483910", "confidence"] < 0.95                  # stems only (utilisez / utiliser)


def test_parquet_and_xlsx_and_zone_only(tmp_path):
    df = pd.DataFrame({"id": ["P1", "P2"], "date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
                       "zone": ["4413", "9999"], "rome": ["J1501", "J1501"], "positions": [1, 3]})
    for name in ("o.parquet", "o.xlsx"):
        p = tmp_path / name
        df.to_parquet(p) if name.endswith("parquet") else df.to_excel(p, index=False)
        res = concat_batches(str(p), iter_tabular_batches(p))
        assert (res.n_input, res.n_accepted, res.n_rejected) == (2, 1, 1), name
        assert res.frames["offers"]["zone"].tolist() == ["4413"]
        assert res.rejects.iloc[0]["field"] == "zone"


def test_tabular_without_needed_columns_is_a_clear_error(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column for id, date, rome or title"):
        list(iter_tabular_batches(p))
    with pytest.raises(DataError, match="column 'Ref' \\(mapped to id\\) not found"):
        list(iter_tabular_batches(p, {"id": "Ref"}))


def test_lheo_csv(tmp_path):
    p = tmp_path / "sessions.csv"
    p.write_bytes("numero-action;intitule-formation;code-ROME;code-INSEE-commune;debut;fin;nb-places\n"
                  "A1;DEAS aide-soignant;J1501;51454;01/09/2024;30/06/2025;20\n"
                  "A2;Sans ROME;;51454;20240901;20250630;10\n"
                  "A3;Dates inversées;J1501;51454;2025-06-30;2024-09-01;10\n".encode("cp1252"))
    res = read_lheo_csv(p)
    assert (res.n_input, res.n_accepted, res.n_rejected) == (3, 1, 2)
    s = res.frames["sessions"].iloc[0]
    assert (s["zone"], s["places"], str(s["start"])[:10]) == ("4413", 20, "2024-09-01")
    assert list(res.rejects["field"]) == ["code-ROME", "fin"]


def test_job_seekers(tmp_path):
    p = tmp_path / "de.csv"
    p.write_text("mois;zone;commune;rome;demandeurs\n2024-03;4413;;J1501;12\n03/2024;;51454;J1501;3,0\n"
                 "2024-13;4413;;J1501;1\n2024-03;4413;;J1501;-1\n", encoding="utf-8")
    res = read_job_seekers(p)
    assert (res.n_input, res.n_accepted, res.n_rejected) == (4, 2, 2)
    assert res.frames["job_seekers"]["job_seekers"].tolist() == [12, 3]
    assert set(res.frames["job_seekers"]["zone"]) == {"4413"}
    assert detect_kind(p) == "job_seekers"


@pytest.mark.skipif(not SHARED_LHEO.exists(), reason="shared LHEO examples not present")
def test_shared_lheo_examples_every_session_counted():
    for f in sorted(SHARED_LHEO.glob("*.xml")):
        res = read_lheo(f)
        assert res.n_input >= 1, f                            # LHEO 1.x and 2.x layouts both found
        assert res.n_accepted + res.n_rejected == res.n_input
        assert set(res.rejects["field"]) <= {"code-ROME", "nb-places"}


def test_store_counts_add_up_for_every_kind(tmp_path):
    csv = tmp_path / "offres.csv"
    csv.write_bytes(FRENCH_CSV.encode("cp1252"))
    de = tmp_path / "de.csv"
    de.write_text("mois;zone;rome;demandeurs\n2024-03;4413;J1501;12\n2024-03;4413;Z0000;1\n", encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as st:
        reports = st.ingest([csv], "offers", offer_columns=MAPPING) + st.ingest([de], "job_seekers")
        for r in reports:
            assert r.n_accepted + r.n_duplicates + r.n_rejected == r.n_input
        assert st.counts()["job_seekers"] == 1 and st.counts()["offers"] == 2
        assert st.query("SELECT DISTINCT how FROM offer_skills")["how"].tolist() == ["given"]
        assert len(st.rejects()) == 5
