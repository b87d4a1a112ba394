"""Skills found in an offer's free text, from the ROME referential's French labels.

Used when an offer carries no ``competences``: the title and description are searched for the
33,671 skill and knowledge labels (``referential.load_skills``). Matching is on sequences of word
stems with the small words removed, so accents, case, plurals, feminine forms and common verb
inflections do not stop a match ("utiliser des équipements de cuisine" matches "Utilisez les
équipements de cuisine", "contrôles qualité" matches "Contrôle qualité").

Each match carries a confidence: higher when the label appears word for word, lower when only the
stems match, and lower again for a skill that the offer's ROME fiche does not list.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

STOPWORDS = frozenset(
    "a au aux avec d de des du en et l la le les leur leurs ou par pour sur sous un une dans sa ses "
    "votre vos notre nos ce cet cette ces qui que quoi dont se s y afin ainsi selon chez entre vers "
    "etc tout tous toute toutes".split()
)
# Kept inside multi-word labels ("Traitement du son") but never matched alone: in offers they are
# mostly possessives or other small words ("son poste").
AMBIGUOUS = frozenset({"son", "sons", "or", "est", "vie", "point", "site"})
_WORD = re.compile(r"[a-z0-9]+")
_PAREN = re.compile(r"\([^)]*\)")

# Confidence of a match: the label word for word, or only its stems.
CONF_EXACT = 0.95
CONF_STEM = 0.75
OFF_FICHE_FACTOR = 0.8   # the skill is not one of the offer's fiche skills


def fold(text: str) -> str:
    """Lower case without accents or ligatures: 'Contrôle Qualité' -> 'controle qualite'."""
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("’", "'")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


# Endings removed after the plural "s"/"x" and one feminine "e": genders, plurals, verb forms and
# the "-ation"/"-ement" nouns share one stem ("conducteur"/"conductrice", "utiliser"/"utilisées").
_SUFFIXES = tuple(sorted(
    ("issement", "ement", "ation", "ions", "ant", "teur", "tric", "eur", "eus", "ier", "ienn", "ien",
     "ell", "el", "iv", "if", "al", "er", "ez", "e"), key=len, reverse=True))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light French stemmer on folded words: genders, plurals and verb endings share one stem."""
    if len(word) <= 3 or word.isdigit():
        return word
    w = word
    if w.endswith("aux") and len(w) > 5:
        w = w[:-3] + "al"
    elif w.endswith(("s", "x")) and len(w) > 4:
        w = w[:-1]
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


def words(text: str) -> list[str]:
    """Folded content words of a text (small words removed)."""
    return [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def stems(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in words(text))


@dataclass(frozen=True)
class SkillMatch:
    """One skill found in a text: OGR code, the label matched and the match confidence (0..1)."""

    code: str
    label: str
    confidence: float


class SkillFinder:
    """Finds referential skill labels in free text. Build once (about 1 s), then call :meth:`find`."""

    def __init__(self, skills: list[tuple[str, str]] | None = None, max_words: int = 8,
                 fiche_skills: dict[str, frozenset[str]] | None = None) -> None:
        """``skills``: (OGR code, label) pairs (default: the whole referential); labels longer than
        ``max_words`` content words are too specific to appear in an offer and are left out."""
        if skills is None or fiche_skills is None:
            from forecast import referential

            if skills is None:
                sk = referential.load_skills()
                skills = list(zip(sk["code_ogr"].tolist(), sk["libelle"].tolist()))
            if fiche_skills is None:
                fs = referential.load_fiche_skills()
                fiche_map: dict[str, set[str]] = {}
                for rome, code in zip(fs["code_rome"].tolist(), fs["code_ogr"].tolist()):
                    fiche_map.setdefault(rome, set()).add(code)
                fiche_skills = {k: frozenset(v) for k, v in fiche_map.items()}
        self.fiche_skills = fiche_skills
        # Labels of two words or more are keyed by their first two stems, one-word labels by the
        # word itself (a single stem alone matches too much: "cuisine" is not "Cuisinier").
        pairs: dict[tuple[str, str], list[tuple[tuple[str, ...], tuple[str, ...], str, str]]] = {}
        singles: dict[str, list[tuple[str, str]]] = {}
        for code, label in skills:
            for variant in {label, _PAREN.sub(" ", label)}:
                ws = tuple(words(variant))
                if not ws or len(ws) > max_words:
                    continue
                if len(ws) == 1:
                    if ws[0] not in AMBIGUOUS:
                        singles.setdefault(_singular(ws[0]), []).append((str(code), label))
                    continue
                st = tuple(stem(w) for w in ws)
                pairs.setdefault(st[:2], []).append((st, ws, str(code), label))
        self.pairs = pairs
        self.singles = singles

    def find(self, text: str, fiche: str | None = None) -> list[SkillMatch]:
        """Skills whose label occurs in ``text``; ``fiche`` (ROME code) lowers off-fiche matches."""
        ws = words(text)
        st = [stem(w) for w in ws]
        own = self.fiche_skills.get(fiche or "", frozenset())
        best: dict[str, float] = {}
        labels: dict[str, str] = {}

        def add(code: str, label: str, conf: float) -> None:
            if fiche and code not in own:
                conf *= OFF_FICHE_FACTOR
            if best.get(code, -1.0) < conf:
                best[code] = conf
                labels[code] = label

        n = len(st)
        for i in range(n):
            for code, label in self.singles.get(_singular(ws[i]), ()):
                add(code, label, CONF_EXACT)
            if i + 1 >= n:
                continue
            for sst, sws, code, label in self.pairs.get((st[i], st[i + 1]), ()):
                k = len(sst)
                if i + k > n or tuple(st[i:i + k]) != sst:
                    continue
                add(code, label, CONF_EXACT if tuple(ws[i:i + k]) == sws else CONF_STEM)
        return sorted((SkillMatch(c, labels[c], round(v, 3)) for c, v in best.items()),
                      key=lambda m: (-m.confidence, m.code))


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith(("s", "x")) else word


@lru_cache(maxsize=1)
def skill_finder() -> SkillFinder:
    """The shared finder over the whole referential (built on first use)."""
    return SkillFinder()
