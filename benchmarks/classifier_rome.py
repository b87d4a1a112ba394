"""Benchmark: job title -> historic ROME code (532 classes), on appellations held out of training.

Split: 20% of the 13,120 appellations held out (numpy default_rng(42) permutation), the rest (plus
the 1,584 fiche labels) for training. Each held-out title is classified to ``code_rome_parent``.
Side by side in one run:
- baseline: character 2-4-gram TF-IDF nearest neighbour (top-k = distinct parents of the nearest
  training appellations, in order);
- forecast.classify.TitleClassifier (word 1-2 + char 2-5 TF-IDF, linear SVM, domain smoothing).

    .venv/bin/python benchmarks/classifier_rome.py [--out benchmarks/results/classifier_rome.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecast import referential  # noqa: E402
from forecast.classify import TitleClassifier  # noqa: E402


def split(seed: int = 42, frac: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    a = referential.load_appellations()
    idx = np.random.default_rng(seed).permutation(len(a))
    n_test = int(frac * len(a))
    return a.iloc[idx[n_test:]], a.iloc[idx[:n_test]]


def scores(pred: list[list[str]], truth: np.ndarray) -> dict[str, float]:
    top1 = np.mean([p[0] == t for p, t in zip(pred, truth)])
    top3 = np.mean([t in p[:3] for p, t in zip(pred, truth)])
    return {"top1": round(float(top1), 4), "top3": round(float(top3), 4)}


def baseline(train: pd.DataFrame, test: pd.DataFrame) -> list[list[str]]:
    v = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    X = v.fit_transform(train["libelle"])
    Q = v.transform(test["libelle"])
    parents = np.asarray(train["code_rome_parent"], dtype=object)
    S = (Q @ X.T).toarray()
    out = []
    for row in np.argsort(-S, axis=1)[:, :50]:
        seen: list[str] = []
        for j in row:
            if parents[j] not in seen:
                seen.append(parents[j])
            if len(seen) == 3:
                break
        out.append(seen)
    return out


def ours(train: pd.DataFrame, test: pd.DataFrame) -> list[list[str]]:
    f = referential.load_fiches()
    titles = list(train["libelle"]) + list(f["libelle_rome"])
    parents = list(train["code_rome_parent"]) + list(f["code_rome_parent"])
    fiches = list(train["code_rome"]) + list(f["code_rome"])
    model = TitleClassifier().fit(titles, parents, fiches)
    return [list(p.parents) for p in model.predict_topk(list(test["libelle"]), k=3)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "classifier_rome.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    train, test = split()
    truth = np.asarray(test["code_rome_parent"], dtype=object)
    t = time.perf_counter()
    base = scores(baseline(train, test), truth)
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    mine = scores(ours(train, test), truth)
    t_mine = time.perf_counter() - t
    res = {
        "command": ".venv/bin/python benchmarks/classifier_rome.py",
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_avg_before": [round(x, 2) for x in load_before], "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "split": {"train_appellations": len(train), "test_appellations": len(test), "seed": 42, "classes": 532},
        "baseline_char_tfidf_nn": {**base, "seconds": round(t_base, 1)},
        "title_classifier": {**mine, "seconds": round(t_mine, 1)},
        "gain_points": {"top1": round(100 * (mine["top1"] - base["top1"]), 1),
                        "top3": round(100 * (mine["top3"] - base["top3"]), 1)},
        "target": "top1 >= baseline + 10 points, top3 >= 0.88",
        "met": mine["top1"] >= base["top1"] + 0.10 and mine["top3"] >= 0.88,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
