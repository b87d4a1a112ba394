"""Re-published ads: the same job advertised again counts once.

The rule follows DARES: same ROME fiche, same département, created within ``days`` days of an
earlier offer, and a near-identical description (Jaccard similarity of the descriptions' word sets
at least ``similarity``). Candidates are also required to share their title, which keeps the
pairwise comparisons few on dense occupations. The later offer gets ``duplicate_of`` = the id of
the first one.

On a large store only the candidates (offers with a same-key neighbour within the window) are read
back, streamed from DuckDB in (fiche, département) order and compared a few tens of thousands at a
time, so memory is bounded by a chunk, not by the store.
"""
from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numpy as np
import pandas as pd

CHUNK_ROWS = 50_000   # candidates compared at a time (whole (fiche, département) groups)


def shingles(text: str) -> frozenset[str]:
    """The set of lower-cased words of a text."""
    return frozenset(str(text).lower().split())


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def find_republished(offers: pd.DataFrame, days: int = 14, similarity: float = 0.95,
                     max_compare: int = 200) -> pd.Series:
    """Map offer_id -> id of the original it re-publishes, for the offers that are re-publications.

    ``offers`` needs offer_id, created, rome_fiche, commune, description (and title, if any). Each
    offer is compared with at most ``max_compare`` earlier originals of its key (the most recent
    ones), which bounds the work when one employer posts hundreds of same-title ads at once.
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
    secs = df["created"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    window = int(round(float(days) * 86400))
    gap = np.full(len(df), np.iinfo(np.int64).max, dtype=np.int64)
    gap[1:] = np.where(key_same, secs[1:] - secs[:-1], gap[1:])
    # Offers with a neighbour of the same key within the window are candidates.
    near = gap <= window
    candidate = near.copy()
    candidate[:-1] |= near[1:]
    idx = np.flatnonzero(candidate).tolist()
    starts = (~near).tolist()
    created = secs.tolist()
    ids = df["offer_id"].tolist()
    desc = df["description"].tolist()
    result: dict[str, str] = {}
    words: dict[int, frozenset[str]] = {}   # word sets of the originals still in the window
    originals: list[int] = []
    for i in idx:
        si = shingles(desc[i] if desc[i] is not None else "")
        if starts[i]:   # a new key group, or too far from the previous offer: a new original
            originals = [i]
            words = {i: si}
            continue
        ci = created[i]
        if ci - created[originals[0]] > window:   # drop originals that fell out of the window
            kept = [j for j in originals if ci - created[j] <= window]
            words = {j: words[j] for j in kept}
            originals = kept
        match = None
        ni = len(si)
        for j in reversed(originals[-max_compare:]):
            sj = words[j]
            nj = len(sj)
            small, large = (ni, nj) if ni <= nj else (nj, ni)
            if large and small / large < similarity:   # Jaccard <= |small| / |large|
                continue
            if jaccard(si, sj) >= similarity:
                match = j
                break
        if match is None:
            originals.append(i)
            words[i] = si
        else:
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
SELECT o.offer_id, o.created, o.rome_fiche, o.commune, o.title, o.description,
       coalesce(o.rome_fiche, '') || '|' || coalesce(substr(o.commune, 1, 2), '') AS _group
FROM offers o JOIN w USING (offer_id)
WHERE w.gp <= ? OR w.gn <= ?
ORDER BY _group
"""


def iter_candidate_chunks(con: duckdb.DuckDBPyConnection, days: int,
                          chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The candidates of the store in chunks of whole (fiche, département) groups."""
    window = int(days) * 86400
    reader = con.sql(_CANDIDATES, params=[window, window]).to_arrow_reader(chunk_rows)
    carry: pd.DataFrame | None = None
    for rb in reader:
        df = rb.to_pandas()
        if carry is not None:
            df = pd.concat([carry, df], ignore_index=True)
        groups = df["_group"].to_numpy(dtype=object)
        last = np.flatnonzero(groups != groups[-1])   # sorted by group: the last group is at the end
        if not len(last) or len(df) < chunk_rows:
            carry = df   # the last group may continue in the next record batch
            continue
        cut = int(last[-1]) + 1
        carry = df.iloc[cut:].reset_index(drop=True)
        yield df.iloc[:cut].drop(columns="_group")
    if carry is not None and len(carry):
        yield carry.drop(columns="_group")


def mark_republished(con: duckdb.DuckDBPyConnection, days: int = 14, similarity: float = 0.95,
                     enabled: bool = True, chunk_rows: int = CHUNK_ROWS) -> int:
    """Recompute ``offers.duplicate_of`` over the whole store; return how many offers are marked.

    Only offers with a same-key neighbour within ``days`` are read back from the store (the others
    cannot be re-publications), in chunks of ``chunk_rows`` candidates, which keeps memory low on
    millions of offers. ``enabled=False`` clears every mark (each offer counts once per id).
    """
    parts: list[pd.Series] = []
    if enabled:
        for chunk in iter_candidate_chunks(con, days, chunk_rows):
            parts.append(find_republished(chunk, days, similarity))
    dup = pd.concat(parts) if parts else pd.Series(dtype=object)
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
