"""Re-published ads: the same job advertised again counts once.

The rule follows DARES: same ROME fiche, same département, created within ``days`` days of an
earlier offer, and a near-identical description (Jaccard similarity of character 5-shingles at
least ``similarity``). The later offer gets ``duplicate_of`` = the id of the first one.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd


def shingles(text: str, k: int = 5) -> frozenset[str]:
    t = " ".join(str(text).lower().split())
    if len(t) <= k:
        return frozenset([t])
    return frozenset(t[i : i + k] for i in range(len(t) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def find_republished(offers: pd.DataFrame, days: int = 14, similarity: float = 0.9) -> pd.Series:
    """Map offer_id -> id of the original it re-publishes, for the offers that are re-publications.

    ``offers`` needs offer_id, created, rome_fiche, commune, description.
    """
    if offers.empty:
        return pd.Series(dtype=object)
    df = offers[["offer_id", "created", "rome_fiche", "commune", "description"]].copy()
    df["dep"] = df["commune"].str[:2]
    df = df.sort_values(["rome_fiche", "dep", "created", "offer_id"], kind="stable").reset_index(drop=True)
    key_same = (df["rome_fiche"].values[1:] == df["rome_fiche"].values[:-1]) & (
        df["dep"].values[1:] == df["dep"].values[:-1]
    )
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
            continue
        # drop originals that fell out of the window
        originals = [j for j in originals if (created[i] - created[j]).astype(float) / 86400.0 <= window]
        si = cache.setdefault(int(i), shingles(desc[i]))
        match = None
        for j in reversed(originals):
            sj = cache.setdefault(j, shingles(desc[j]))
            if jaccard(si, sj) >= similarity:
                match = j
                break
        if match is None:
            originals.append(int(i))
        else:
            result[ids[i]] = ids[match]
    return pd.Series(result, dtype=object)


def mark_republished(con: duckdb.DuckDBPyConnection, days: int = 14, similarity: float = 0.9) -> int:
    """Recompute ``offers.duplicate_of`` over the whole store; return how many offers are marked."""
    offers = con.execute(
        "SELECT offer_id, created, rome_fiche, commune, description FROM offers").df()
    dup = find_republished(offers, days, similarity)
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
