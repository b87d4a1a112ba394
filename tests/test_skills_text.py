"""Skills found in free text from the referential's French labels."""
from __future__ import annotations

import pytest

from forecast.skills_text import CONF_EXACT, CONF_STEM, OFF_FICHE_FACTOR, SkillFinder, fold, skill_finder, stem


@pytest.mark.parametrize("a,b", [("conducteur", "conductrice"), ("utiliser", "utilisées"), ("utiliser", "utilisez"),
                                 ("commerciaux", "commerciale"), ("vendeur", "vendeuse"), ("contrôles", "contrôle"),
                                 ("animaux", "animal"), ("équipements", "equipement")])
def test_stem_merges_genders_plurals_and_verb_forms(a, b):
    assert stem(fold(a)) == stem(fold(b))


def test_small_finder_exact_stem_and_single_words():
    f = SkillFinder([("1", "Traitement des commandes"), ("2", "Utiliser des équipements de cuisine"),
                     ("3", "Cuisinier"), ("4", "Son")], fiche_skills={"G1603": frozenset({"1", "2"})})
    text = "Vos missions : utilisez les Équipements de cuisine et le traitement des commandes. Son poste : cuisine."
    found = {m.code: m.confidence for m in f.find(text)}
    assert found["1"] == CONF_EXACT and found["2"] == CONF_STEM
    assert "3" not in found                 # one-word labels match word for word only ("cuisine" is not "Cuisinier")
    assert "4" not in found                 # nor do ambiguous small words alone ("son poste" is not "Son")
    f2 = SkillFinder([("1", "Traitement des commandes"), ("5", "Traitement du son")],
                     fiche_skills={"G1603": frozenset({"1"})})
    off = {m.code: m.confidence for m in f2.find("Traitement des commandes, traitement du son.", fiche="G1603")}
    assert off["1"] == CONF_EXACT and off["5"] == pytest.approx(CONF_EXACT * OFF_FICHE_FACTOR)


def test_referential_finder_on_a_demo_like_description():
    text = ("Restaurant Le Vautrin recherche un(e) préparateur livreur. Vos missions : utiliser des équipements "
            "de cuisine spécifiques et relever, contrôler, ajuster des mesures et dosages. Connaissances appréciées : "
            "traitement des commandes.")
    found = {m.code: m for m in skill_finder().find(text, fiche="G1603")}
    assert {"122632", "483910", "300130"} <= set(found)
    assert all(0 < m.confidence <= 1 for m in found.values())
