"""Title -> ROME classifier: normalisation, a small real fit, and the full cached model through ingest."""
from __future__ import annotations

import pytest

from conftest import offer, write_jsonl
from forecast import referential
from forecast.classify import TitleClassifier, normalise_title


def test_normalise_title_drops_gender_markers_and_accents():
    assert normalise_title("Aide-soignant / Aide-soignante (H/F)") == "aide soignant aide soignante"
    assert normalise_title("Cuisinier F/H - Œuvre") == "cuisinier oeuvre"


def _subset(parents: list[str]):
    a = referential.load_appellations()
    return a[a["code_rome_parent"].isin(parents)]


def test_small_fit_predicts_held_out_titles_and_fiche():
    parents = ["J1501", "G1602", "N1101", "H2913", "K2204", "D1106", "F1703", "M1607"]
    sub = _subset(parents)
    held = sub.groupby("code_rome_parent").head(2)
    train = sub.drop(held.index)
    model = TitleClassifier().fit(list(train["libelle"]), list(train["code_rome_parent"]), list(train["code_rome"]))
    preds = model.predict_topk(list(held["libelle"]), k=3)
    top1 = sum(p.parents[0] == t for p, t in zip(preds, held["code_rome_parent"])) / len(held)
    assert top1 >= 0.7
    assert all(len(p.parents) == 3 and 0 < p.confidences[0] <= 1 and p.confidences[0] >= p.confidences[1]
               for p in preds)
    (p,) = model.predict_topk(["Aide-soignant de nuit (H/F)"], k=1)
    assert p.parents == ("J1501",) and p.fiche.startswith("J15")
    (p,) = model.predict_topk(["Cariste magasinier"], k=1)
    assert p.parents == ("N1101",)


@pytest.mark.slow
def test_offers_without_rome_are_classified_and_tagged_inferred(tmp_path, monkeypatch):
    """The whole referential model (trained once, cached under FORECAST_CACHE) through ingest."""
    from forecast.classify import title_classifier
    from forecast.store import Store

    monkeypatch.setenv("FORECAST_CACHE", str(tmp_path / "cache"))
    title_classifier.cache_clear()
    recs = [offer(1, romeCode=None, intitule="Aide-soignant de nuit (H/F)"),
            offer(2, romeCode=None, intitule="Conducteur d autobus urbain", competences=[],
                  description="Conduire un autobus en agglomération, accueil des voyageurs."),
            offer(3, romeCode=None, intitule="")]              # nothing to classify: rejected
    p = write_jsonl(tmp_path / "o.jsonl", recs)
    with Store(tmp_path / "s.duckdb") as st:
        (r,) = st.ingest([p], "offers")
        assert (r.n_input, r.n_accepted, r.n_rejected) == (3, 2, 1)
        o = st.query("SELECT offer_id, rome, rome_fiche, rome_how, rome_confidence FROM offers ORDER BY 1")
        assert list(o["rome_how"]) == ["inferred", "inferred"]
        assert o["rome"].tolist() == ["J1501", "N4103"]
        assert o["rome_confidence"].between(0, 1).all()
        assert st.rejects().iloc[0]["reason"] == "no ROME code and no title to classify"
    assert list((tmp_path / "cache").glob("title_classifier-*.pkl"))   # cached for the next run
    title_classifier.cache_clear()
