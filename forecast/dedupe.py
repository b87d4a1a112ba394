"""Re-published ads: the same job advertised again counts once.

The rule follows DARES: same ROME fiche, same département, created within ``days`` days of an
earlier offer, and a near-identical description (Jaccard similarity of the descriptions' word sets
at least ``similarity``). Candidates are also required to share their title, which keeps the
pairwise comparisons few on dense occupations. The later offer gets ``duplicate_of`` = the id of
the first one.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd


def shingles(text: str) -> frozenset[str]:
    """The set of lower-cased words of a text."""
    return frozenset(str(text).lower().split())


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def find_republished(offers: pd.DataFrame, days: int = 14, similarity: float = 0.9,
                     max_compare: int = 200) -> pd.Series:
    """Map offer_id -> id of the original it re-publishes, for the offers that are re-publications.

    ``offers`` needs offer_id, created, rome_fiche, commune, description. Each offer is compared with
    at most ``max_compare`` earlier originals of its key (the most recent ones), which bounds the work
    when one employer posts hundreds of same-title ads at once.
    """
    if offers.empty:
        return pd.Series(dtype=object)
    cols = ["offer_id", "created", "rome_fiche", "commune", "description"]
    df = offers[cols + (["title"] if "title" in offers.columns else [])].copy()
    df["dep"] = df["commune"].str[:2]
    df["tkey"] = df["title"].fillna("").str.lower().str.strip() if "title" in df.columns else ""
    df = df.sort_values(["rome_fiche", "dep", "tkey", "created", "offer_id"], kind="stable").reset_index(drop=True)
    key_same = np.ones(max(len(df) - 1, 0), dtype=bool)
    for c in ("rome_fiche", "dep", "tkey"):
        v = df[c].to_numpy(dtype=object)
        key_same &= v[1:] == v[:-1]
    created = df["created"].values.astype("datetime64[s]")
    gap_prev = np.full(len(df), np.inf)
    gap_prev[1:] = np.where(key_same, (created[1:] - created[:-1]).astype(float) / 86400.0, np.inf)
    window = float(days)
    # Offers with a neighbour of the same key within the window are candidates.
    candidate = gap_prev <= window
    candidate[:-1] |= gap_prev[1:] <= window
    result: dict[str, str] = {}
    cache: dict[int, frozenset[str]] = {}
    idx = np.flatnonzero(candidate)
    ids = df["offer_id"].values
    desc = df["description"].values
    originals: list[int] = []
    for i in idx:
        if gap_prev[i] > window:
            originals = [int(i)]
            cache.clear()   # a new key group: the word sets of the previous one are no longer needed
            continue
        # drop originals that fell out of the window (and their word sets)
        kept = [j for j in originals if (created[i] - created[j]).astype(float) / 86400.0 <= window]
        for j in set(originals) - set(kept):
            cache.pop(j, None)
        originals = kept
        si = cache.setdefault(int(i), shingles(desc[i]))
        match = None
        for j in reversed(originals[-max_compare:]):
            sj = cache.setdefault(j, shingles(desc[j]))
            small, large = sorted((len(si), len(sj)))
            if large and small / large < similarity:   # Jaccard <= |small| / |large|
                continue
            if jaccard(si, sj) >= similarity:
                match = j
                break
        if match is None:
            originals.append(int(i))
        else:
            cache.pop(int(i), None)
            result[ids[i]] = ids[match]
    return pd.Series(result, dtype=object)


_CANDIDATES = """
WITH k AS (
    SELECT offer_id, created, rome_fiche, substr(commune, 1, 2) AS dep, lower(trim(coalesce(title, ''))) AS tkey
    FROM offers),
w AS (
    SELECT offer_id,
           date_diff('second', lag(created) OVER g, created) AS gp,
           date_diff('second', created, lead(created) OVER g) AS gn
    FROM k WINDOW g AS (PARTITION BY rome_fiche, dep, tkey ORDER BY created, offer_id))
SELECT o.offer_id, o.created, o.rome_fiche, o.commune, o.title, o.description
FROM offers o JOIN w USING (offer_id)
WHERE w.gp <= ? OR w.gn <= ?
"""


def mark_republished(con: duckdb.DuckDBPyConnection, days: int = 14, similarity: float = 0.9,
                     enabled: bool = True) -> int:
    """Recompute ``offers.duplicate_of`` over the whole store; return how many offers are marked.

    Only offers with a same-key neighbour within ``days`` are read back from the store (the others
    cannot be re-publications), which keeps memory low on millions of offers. ``enabled=False``
    clears every mark (each offer counts once per id).
    """
    window = int(days) * 86400
    offers = con.execute(_CANDIDATES, [window, window]).df() if enabled else pd.DataFrame()
    dup = find_republished(offers, days, similarity) if len(offers) else pd.Series(dtype=object)
    frame = pd.DataFrame({"offer_id": dup.index.astype(str), "original": dup.values.astype(str)})
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE offers SET duplicate_of = NULL WHERE duplicate_of IS NOT NULL")
        if len(frame):
            con.register("dups", frame)
            con.execute("UPDATE offers SET duplicate_of = dups.original FROM dups WHERE offers.offer_id = dups.offer_id")
            con.unregister("dups")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(frame)
