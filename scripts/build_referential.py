"""Convert the published ROME 4.0 and INSEE zones d'emploi files into the package's data files.

Re-runnable: reads ``/work/shared/data`` (or ``--src``) and rewrites
``forecast/referential/data/*.csv.gz`` byte-identically (gzip mtime fixed at 0).
The package never reads the source folder at runtime.

Usage::

    python scripts/build_referential.py [--src /work/shared/data]
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "forecast" / "referential" / "data"
ROME = "rome_v460/unix_{}_v460_utf8.csv"


def _read(src: Path, rel: str) -> pd.DataFrame:
    return pd.read_csv(src / rel, dtype=str, keep_default_na=False)


def _write(df: pd.DataFrame, name: str) -> None:
    """Write ``df`` as gzip CSV atomically, with a fixed gzip header so reruns are identical."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(df.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=OUT, prefix=f".{name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    os.chmod(tmp, 0o644)
    os.replace(tmp, OUT / name)
    print(f"{name}: {len(df):,} rows, {len(buf.getvalue()) / 1024:.0f} KiB")


def build(src: Path) -> None:
    codes = _read(src, ROME.format("referentiel_code_rome"))
    gd = _read(src, ROME.format("cr_gd_dp"))
    fiches = codes[["code_rome", "libelle_rome", "code_rome_parent"]].merge(
        gd[["code_rome", "code_grand_domaine", "libelle_grand_domaine",
            "code_domaine_professionel", "libelle_domaine_professionel"]],
        on="code_rome", how="left", validate="1:1",
    ).rename(columns={"code_domaine_professionel": "code_domaine",
                      "libelle_domaine_professionel": "libelle_domaine"})
    assert fiches.notna().all().all() and len(fiches) == 1584
    _write(fiches.sort_values("code_rome"), "fiches.csv.gz")

    comp = _read(src, ROME.format("referentiel_competence"))
    kind = comp["cat_comp"].map({"Savoir-faire": "savoir-faire",
                                 "Savoir-être professionnel": "savoir-etre"})
    assert kind.notna().all(), comp.loc[kind.isna(), "cat_comp"].unique()
    sav = _read(src, ROME.format("referentiel_savoir"))
    skills = pd.concat([
        pd.DataFrame({"code_ogr": comp["code_ogr"], "libelle": comp["libelle_competence"], "kind": kind}),
        pd.DataFrame({"code_ogr": sav["code_ogr_savoir"], "libelle": sav["libelle_savoir"], "kind": "savoir"}),
    ], ignore_index=True)
    assert not skills["code_ogr"].duplicated().any()
    skills = skills.sort_values("code_ogr", key=lambda s: s.astype(int))
    _write(skills, "skills.csv.gz")

    # Block 5 = "Compétences"; rubrique 1 savoir-faire, 2 savoir-être professionnels, 3 savoirs.
    links = _read(src, ROME.format("liens_rome_referentiels"))
    links = links[links["code_compo_bloc"] == "5"]
    links = links.assign(kind=links["code_rubrique"].map({"1": "savoir-faire", "2": "savoir-etre", "3": "savoir"}))
    fs = links[["code_rome", "code_ogr", "kind"]].drop_duplicates()
    assert fs["code_ogr"].isin(skills["code_ogr"]).all()
    _write(fs.sort_values(["code_rome", "kind", "code_ogr"]), "fiche_skills.csv.gz")

    app = _read(src, ROME.format("referentiel_appellation"))
    app = app.rename(columns={"libelle_appellation_long": "libelle", "libelle_appellation_court": "libelle_court"})
    _write(app[["code_ogr", "libelle", "libelle_court", "code_rome", "code_rome_parent", "peu_usite"]]
           .sort_values(["code_rome", "code_ogr"], key=lambda s: s if s.name == "code_rome" else s.astype(int)),
           "appellations.csv.gz")

    mob = _read(src, ROME.format("rubrique_mobilite"))
    _write(mob[["code_rome", "code_rome_cible", "numero_ordre"]], "mobility.csv.gz")

    comp_ze = _read(src, "insee_ze/ze2020_composition_communale_geo2022.csv")
    communes = comp_ze.rename(columns={"CODGEO": "commune", "LIBGEO": "libelle", "ZE2020": "zone",
                                       "DEP": "dep", "REG": "reg"})[["commune", "libelle", "zone", "dep", "reg"]]
    assert len(communes) == 34955
    _write(communes.sort_values("commune"), "communes.csv.gz")

    ze = _read(src, "insee_ze/ze2020_liste_geo2022.csv").rename(
        columns={"ZE2020": "zone", "LIBZE2020": "libelle", "NB_COM": "nb_com"})
    # reg = the region of most of the zone's communes (ties: smallest code).
    counts = communes.groupby(["zone", "reg"]).size().rename("n").reset_index()
    counts = counts.sort_values(["zone", "n", "reg"], ascending=[True, False, True])
    major = counts.drop_duplicates("zone").set_index("zone")["reg"]
    ze["reg"] = ze["zone"].map(major)
    assert ze["reg"].notna().all() and len(ze) == 306
    _write(ze[["zone", "libelle", "nb_com", "reg"]].sort_values("zone"), "zones.csv.gz")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=Path("/work/shared/data"))
    build(ap.parse_args().src)


if __name__ == "__main__":
    main()
