"""Facts about the shipped reference data (ROME 4.0 v460, INSEE zones d'emploi 2020)."""
from __future__ import annotations

import pytest

from forecast import referential as ref
from forecast.errors import DataError


def test_fiches_and_parents() -> None:
    f = ref.load_fiches()
    assert len(f) == 1584 and f["code_rome"].is_unique
    assert list(f.columns) == ["code_rome", "libelle_rome", "code_rome_parent", "code_grand_domaine",
                               "libelle_grand_domaine", "code_domaine", "libelle_domaine"]
    assert f["code_rome"].str.fullmatch(r"[A-N]\d{4}").all()
    assert f["code_grand_domaine"].nunique() == 14
    p = ref.load_rome_parents()
    assert len(p) == 532 and p["code_rome"].is_unique
    assert set(p["code_rome"]) == set(f["code_rome_parent"])
    assert p.set_index("code_rome").loc["J1501", "libelle_rome"] == f.set_index("code_rome").loc["J1501", "libelle_rome"]


def test_rome_parent_of() -> None:
    assert ref.rome_parent_of(["A1102", "A1101"]) == {"A1102": "A1101", "A1101": "A1101"}
    assert ref.rome_parent_of("J1501") == {"J1501": "J1501"}
    with pytest.raises(DataError, match="Z9999"):
        ref.rome_parent_of(["A1101", "Z9999"])


def test_skills_and_links() -> None:
    s = ref.load_skills()
    assert set(s["kind"]) == {"savoir-faire", "savoir-etre", "savoir"}
    assert s["code_ogr"].is_unique
    assert (s.set_index("code_ogr").loc["100023", "libelle"]) == "Abattre un arbre"
    fs = ref.load_fiche_skills()
    assert set(fs["code_rome"]) <= set(ref.load_fiches()["code_rome"])
    assert fs["code_ogr"].isin(s["code_ogr"]).all()
    kinds = fs.merge(s, on="code_ogr", suffixes=("", "_ref"))
    assert (kinds["kind"] == kinds["kind_ref"]).all()
    per_fiche = fs.groupby("code_rome").size()
    assert 30 <= per_fiche.median() <= 80


def test_appellations_and_mobility() -> None:
    a = ref.load_appellations()
    assert len(a) == 13120 and a["code_ogr"].is_unique
    fiches = set(ref.load_fiches()["code_rome"])
    assert a["code_rome"].isin(fiches).all()
    assert {"code_ogr", "libelle", "libelle_court", "code_rome", "code_rome_parent"} <= set(a.columns)
    m = ref.load_mobility()
    assert list(m.columns) == ["code_rome", "code_rome_cible", "numero_ordre"]
    assert m["code_rome"].isin(fiches).all() and m["code_rome_cible"].isin(fiches).all()


def test_zones_and_communes() -> None:
    z = ref.load_zones()
    assert len(z) == 306 and list(z.columns) == ["zone", "libelle", "nb_com", "reg"]
    assert "0051" in set(z["zone"])  # leading zero kept
    assert ref.zone_label("4413") == "Reims"
    ge = ref.region_zones()
    assert ge == [f"44{i:02d}" for i in range(1, 28)]
    c = ref.load_communes()
    assert len(c) == 34955 and c["commune"].is_unique
    assert c["commune"].str.len().eq(5).all() and "01001" in set(c["commune"])
    assert c.set_index("commune").loc["51454", "zone"] == "4413"  # Reims
    assert sorted(c.loc[c["zone"] == "4412", "dep"].unique()) == ["54", "55", "57", "88"]  # Nancy
    assert (c["reg"] == "44").sum() == 5121
    assert z.set_index("zone").loc["4413", "nb_com"] == (c["zone"] == "4413").sum()


def test_unknown_arguments() -> None:
    with pytest.raises(DataError, match="region"):
        ref.region_zones("99")
    with pytest.raises(DataError, match="zone"):
        ref.zone_label("9999")


def test_cached() -> None:
    assert ref.load_fiches() is ref.load_fiches()
