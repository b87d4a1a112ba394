"""Job title -> ROME: a linear classifier over the 13,120 appellations of the referential.

Used when an offer has no ``romeCode``. Titles are folded (accents, case), stripped of gender
markers ("(H/F)") and described by word 1-2-grams and character 2-5-grams (TF-IDF); a linear SVM
over the 532 historic codes (``code_rome_parent``) is trained on every appellation plus the fiche
labels, and a second one over the ROME domains smooths its scores (``domain_weight``). Inside the predicted historic code, the fiche (ROME 4.0 code) is the one of the nearest
appellation. Confidence is a softmax of the decision scores (0..1; compare offers, not absolutes).

The fitted model takes about 30 s to train on 2 cores; :func:`title_classifier` caches it on disk
(``$FORECAST_CACHE`` or ``~/.cache/forecast``), keyed by a hash of the referential files.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse

log = logging.getLogger(__name__)

_GENDER = re.compile(r"\(?\b[hf]\s*/\s*[hf]\b\)?|\(?\bf\s*/\s*h\b\)?")
_NONWORD = re.compile(r"[^a-z0-9]+")
SOFTMAX_SCALE = 8.0   # turns SVM margins into a peaked 0..1 confidence


def normalise_title(title: str) -> str:
    """'Aide-soignant / Aide-soignante (H/F)' -> 'aide soignant aide soignante'."""
    t = unicodedata.normalize("NFKD", str(title).replace("œ", "oe").replace("Œ", "OE")).encode("ascii", "ignore").decode().lower()
    t = _GENDER.sub(" ", t)
    return _NONWORD.sub(" ", t).strip()


@dataclass(frozen=True)
class Prediction:
    """Top-k codes for one title, best first, with confidences."""

    parents: tuple[str, ...]
    confidences: tuple[float, ...]
    fiche: str


class TitleClassifier:
    """Word + character TF-IDF and a linear SVM; ``fit(titles, parents, fiches)`` then ``predict``."""

    def __init__(self, C: float = 0.5, char_ngrams: tuple[int, int] = (2, 5), domain_weight: float = 0.2) -> None:
        self.C = C
        self.char_ngrams = char_ngrams
        self.domain_weight = domain_weight

    def _features(self, titles: Sequence[str], fit: bool = False) -> sparse.csr_matrix:
        docs = [normalise_title(t) for t in titles]
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.words_ = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                          token_pattern=r"\b\w+\b", dtype=np.float32)
            self.chars_ = TfidfVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True,
                                          dtype=np.float32)
            return sparse.hstack([self.words_.fit_transform(docs), self.chars_.fit_transform(docs)]).tocsr()
        return sparse.hstack([self.words_.transform(docs), self.chars_.transform(docs)]).tocsr()

    def fit(self, titles: Sequence[str], parents: Sequence[str], fiches: Sequence[str] | None = None) -> "TitleClassifier":
        """Learn from titles labelled with historic codes (and their fiche codes, for :meth:`predict`)."""
        from sklearn.svm import LinearSVC

        X = self._features(titles, fit=True)
        y = np.asarray(parents, dtype=object)
        self.svm_ = LinearSVC(C=self.C).fit(X, y)
        self.classes_ = np.asarray(self.svm_.classes_, dtype=object)
        # Domain smoothing: a second SVM on the ROME domain (first 3 characters, ~110 classes) adds
        # its score to every code of the domain; near misses then stay inside the right domain.
        if self.domain_weight:
            self.domain_svm_ = LinearSVC(C=self.C).fit(X, np.asarray([c[:3] for c in y], dtype=object))
            pos = {d: i for i, d in enumerate(self.domain_svm_.classes_)}
            self.domain_col_ = np.asarray([pos[c[:3]] for c in self.classes_])
        self.train_X_ = X
        self.train_parent_ = y
        self.train_fiche_ = np.asarray(fiches if fiches is not None else parents, dtype=object)
        return self

    def scores(self, titles: Sequence[str]) -> np.ndarray:
        """Decision scores (n_titles, n_classes), columns in ``classes_`` order."""
        return self._scores(self._features(titles))

    def _scores(self, X: sparse.csr_matrix) -> np.ndarray:
        S = self.svm_.decision_function(X)
        if self.domain_weight:
            D = self.domain_svm_.decision_function(X)
            S = S + self.domain_weight * (D if D.ndim == 2 else np.c_[-D, D])[:, self.domain_col_]
        return S

    def predict_topk(self, titles: Sequence[str], k: int = 3) -> list[Prediction]:
        """The k most likely historic codes per title, with softmax confidences and the best fiche."""
        if len(titles) == 0:
            return []
        X = self._features(titles)
        S = self._scores(X)
        order = np.argsort(-S, axis=1)[:, :k]
        E = np.exp(SOFTMAX_SCALE * (S - S.max(axis=1, keepdims=True)))
        P = E / E.sum(axis=1, keepdims=True)
        sims = (X @ self.train_X_.T).tocsr()
        out = []
        for i in range(len(titles)):
            best = self.classes_[order[i, 0]]
            row = sims.getrow(i)
            fiche = best
            if row.nnz:
                idx, val = row.indices, row.data
                inside = self.train_parent_[idx] == best
                if inside.any():
                    fiche = self.train_fiche_[idx[inside][np.argmax(val[inside])]]
            out.append(Prediction(tuple(self.classes_[order[i]]), tuple(float(P[i, j]) for j in order[i]), str(fiche)))
        return out


def training_set() -> tuple[list[str], list[str], list[str]]:
    """Titles, historic codes and fiche codes: every appellation (long and short label) and fiche label."""
    from forecast import referential

    a = referential.load_appellations()
    f = referential.load_fiches()
    titles = list(a["libelle"]) + list(f["libelle_rome"])
    parents = list(a["code_rome_parent"]) + list(f["code_rome_parent"])
    fiches = list(a["code_rome"]) + list(f["code_rome"])
    return titles, parents, fiches


def _cache_dir() -> Path:
    return Path(os.environ.get("FORECAST_CACHE") or Path.home() / ".cache" / "forecast")


def _referential_key() -> str:
    from importlib import resources

    h = hashlib.sha256()
    for name in ("appellations.csv.gz", "fiches.csv.gz"):
        h.update(resources.files("forecast.referential").joinpath("data", name).read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def title_classifier() -> TitleClassifier:
    """The classifier trained on the whole referential, from the disk cache when it is there."""
    from forecast.io import atomic_path

    path = _cache_dir() / f"title_classifier-{_referential_key()}.pkl"
    if path.exists():
        try:
            with path.open("rb") as fh:
                model = pickle.load(fh)
            if isinstance(model, TitleClassifier):
                return model
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            log.warning("title classifier cache %s unreadable: retraining", path)
    log.info("training the title classifier on the ROME appellations (once; cached in %s)", path.parent)
    model = TitleClassifier().fit(*training_set())
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError as exc:
        log.warning("cannot cache the title classifier in %s (%s)", path, exc)
    return model
