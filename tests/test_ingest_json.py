"""JSON offers that are broken in the middle, the parallel line reader, and re-published ads.

A JSON array with broken elements, or JSON lines under another name whose first line is garbage
starting with ``[``, must keep every parseable record and reject each broken one with its number.
"""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import Future
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import offer, write_jsonl
from forecast.dedupe import find_republished, jaccard, mark_republished, shingles
from forecast.errors import DataError
from forecast.ingest import read_offers_json
from forecast.ingest import offers_json
from forecast.ingest.tagging import concat_batches
from forecast.store import Store


def _summary(res):
    return (res.n_input, res.n_accepted, res.n_rejected, res.rejects["record"].tolist())


def test_json_lines_with_a_garbage_first_line_starting_with_a_bracket(tmp_path):
    p = tmp_path / "offres.json"   # not named .jsonl: recognised by content
    p.write_text("\n".join(["[garbage {", json.dumps(offer(1)), json.dumps(offer(2))]) + "\n", encoding="utf-8")
    res = read_offers_json(p)
    assert _summary(res) == (3, 2, 1, [1])
    assert res.rejects.iloc[0]["field"] == "record" and "not valid JSON" in res.rejects.iloc[0]["reason"]
    assert res.frames["offers"]["offer_id"].tolist() == ["T000001", "T000002"]
    assert res.frames["offers"]["record"].tolist() == [2, 3]   # line numbers


@pytest.mark.parametrize("text, rejected, accepted", [
    # one element a line, the second broken
    ("[\n" + ",\n".join([json.dumps(offer(1)), '{"id": "x", "bad": tru}', json.dumps(offer(3))]) + "\n]\n", [2], [1, 3]),
    # garbage where the first element should be
    ("[garbage\n" + ",\n".join([json.dumps(offer(1)), json.dumps(offer(3))]) + "\n]\n", [1], [2, 3]),
    # pretty-printed, a stray word inside the second element
    (json.dumps([offer(1), offer(2), offer(3)], indent=2).replace('"T000002"', '"T000002" oops', 1), [2], [1, 3]),
    # compact, on one line, a missing value in the first element
    (json.dumps([offer(1), offer(2), offer(3)]).replace('"nombrePostes": 1', '"nombrePostes": ', 1), [1], [2, 3]),
    # an unclosed string (strings never span lines), then elements without commas between them
    ('[\n{"id": "T000009", "intitule": "cut\n' + json.dumps(offer(2)) + "\n" + json.dumps(offer(3)) + "\n]", [1], [2, 3]),
])
def test_broken_json_array_keeps_every_parseable_record(tmp_path, text, rejected, accepted):
    p = tmp_path / "offres.json"
    p.write_text(text, encoding="utf-8")
    res = read_offers_json(p)
    assert res.n_input == len(rejected) + len(accepted)
    assert res.rejects["record"].tolist() == rejected   # the element's number in the list
    assert (res.rejects["field"] == "record").all()
    assert res.rejects["reason"].str.startswith("not valid JSON").all()
    assert res.frames["offers"]["record"].tolist() == accepted


def test_array_element_with_bytes_that_are_not_utf8_is_rejected_alone(tmp_path):
    p = tmp_path / "offres.json.gz"
    elems = [json.dumps(offer(1)).encode(), json.dumps(offer(2, intitule="Aide-soignant")).encode().replace(
        b"Aide-soignant", b"Aide-soign\xe9", 1), json.dumps(offer(3)).encode()]
    p.write_bytes(gzip.compress(b"[" + b",\n".join(elems) + b"]"))
    res = read_offers_json(p)
    assert _summary(res) == (3, 2, 1, [2])
    assert "not UTF-8" in res.rejects.iloc[0]["reason"]


def test_a_file_that_is_no_json_at_all_is_named_in_the_error(tmp_path):
    p = tmp_path / "offres.json"
    p.write_bytes(b'{\n  "resultats": 12\n}\n')
    with pytest.raises(DataError, match="offres.json: JSON document holds no 'resultats'"):
        read_offers_json(p)
    bad_gz = tmp_path / "offres.json.gz"
    bad_gz.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    with pytest.raises(DataError, match="offres.json.gz: cannot read"):
        read_offers_json(bad_gz)


# corruptions of one scalar member that keep brackets balanced and strings closed
_BROKEN = ['"id": oops', '"dateCreation": ,', '"romeCode": J1501', '"nombrePostes": 1 2']


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.just(None), st.sampled_from(_BROKEN)), min_size=1, max_size=12),
       st.sampled_from(["compact", "lines", "indent"]), st.booleans())
def test_array_with_broken_elements_property(elements, layout, gz):
    """Every valid element is accepted, every broken one rejected with its element number."""
    texts, broken = [], []
    for n, br in enumerate(elements, 1):
        rec = offer(n)
        text = json.dumps(rec, indent=2 if layout == "indent" else None)
        if br is not None:
            key = br.split(":")[0]
            start = text.index(key)
            end = text.index("\n", start) if layout == "indent" else None
            if end is None:   # replace the member's value up to the next member
                nxt = text.index(', "', start) if ', "' in text[start:] else text.rindex("}")
                text = text[:start] + br + text[nxt:]
            else:
                text = text[:start] + br + ("," if text[end - 1] == "," else "") + text[end:]
            broken.append(n)
        texts.append(text)
    sep = ",\n" if layout != "compact" else ","
    data = ("[" + sep.join(texts) + "]").encode()
    p = Path(tempfile.mkdtemp()) / ("a.json.gz" if gz else "a.json")
    p.write_bytes(gzip.compress(data) if gz else data)
    res = read_offers_json(p)
    assert res.n_input == len(elements)
    assert res.rejects["record"].tolist() == broken
    assert sorted(res.frames["offers"]["record"]) == [n for n in range(1, len(elements) + 1) if n not in broken]


class _InProcess:
    """An executor running the work here: the parallel reading path without processes."""

    def submit(self, fn, *args):
        f = Future()
        f.set_result(fn(*args))
        return f


def test_parallel_line_blocks_read_exactly_like_the_sequential_reader(tmp_path, monkeypatch):
    lines = [json.dumps(offer(i, description="x" * (i * 37 % 5000))) for i in range(1, 2500)]
    lines[5], lines[10] = "{broken", ""
    data = gzip.compress(("\ufeff" + "\n".join(lines) + "\n").encode())
    whole, cut = tmp_path / "whole.jsonl.gz", tmp_path / "cut.jsonl.gz"
    whole.write_bytes(data)
    cut.write_bytes(data[: len(data) * 2 // 3])   # a gzip stream that stops short
    monkeypatch.setattr(offers_json, "BLOCK_BYTES", 100_000)
    for p in (whole, cut):
        seq = concat_batches(str(p), offers_json.iter_offer_batches(p))
        par = concat_batches(str(p), offers_json.iter_offer_batches(p, executor=_InProcess()))
        assert par.n_input == seq.n_input and len(par.rejects) == len(seq.rejects)
        assert par.frames["offers"].equals(seq.frames["offers"])
        assert par.frames["offer_skills"].equals(seq.frames["offer_skills"])
        assert par.rejects.equals(seq.rejects)
    assert seq.rejects["record"].tolist()[0] == 6 and "file unreadable after line" in seq.rejects.iloc[-1]["reason"]
    assert seq.rejects.iloc[-1]["record"] == seq.frames["offers"]["record"].max() + 1


def _reference_republished(df: pd.DataFrame, days: int, similarity: float) -> dict[str, str]:
    """The rule, pair by pair: an offer re-publishes the most recent earlier original of its key
    (fiche, département, title) within ``days`` whose description is similar enough."""
    df = df.assign(dep=df["commune"].str[:2], tkey=df["title"].str.lower().str.strip())
    df = df.sort_values(["rome_fiche", "dep", "tkey", "created", "offer_id"]).reset_index(drop=True)
    out: dict[str, str] = {}
    originals: list[int] = []
    for i in range(len(df)):
        r = df.iloc[i]
        if i == 0 or tuple(df.loc[i - 1, ["rome_fiche", "dep", "tkey"]]) != (r.rome_fiche, r.dep, r.tkey) \
                or (r.created - df.loc[i - 1, "created"]).total_seconds() > days * 86400:
            originals = [i]
            continue
        originals = [j for j in originals if (r.created - df.loc[j, "created"]).total_seconds() <= days * 86400]
        match = next((j for j in reversed(originals)
                      if jaccard(shingles(r.description), shingles(df.loc[j, "description"])) >= similarity), None)
        if match is None:
            originals.append(i)
        else:
            out[r.offer_id] = df.loc[match, "offer_id"]
    return out


def _offers_frame(n: int, seed: int) -> pd.DataFrame:
    import random

    rnd = random.Random(seed)
    words = "soin patient équipe nuit jour hôpital service accueil".split()
    rows = []
    for i in range(n):
        base = rnd.randrange(6)
        desc = " ".join(words[(base + k) % len(words)] for k in range(6))
        if rnd.random() < 0.3:
            desc += " urgent"
        rows.append({"offer_id": f"O{i:04d}", "created": pd.Timestamp("2024-01-01") + pd.Timedelta(hours=rnd.randrange(24 * 60)),
                     "rome_fiche": rnd.choice(["J1501", "J1502"]), "commune": rnd.choice(["51454", "51100", "57463"]),
                     "title": rnd.choice(["Aide-soignant", "aide-soignant ", "Infirmier"]), "description": desc})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_republished_ads_follow_the_rule_pair_by_pair(seed):
    df = _offers_frame(300, seed)
    for sim in (0.95, 0.8):
        got = find_republished(df, days=14, similarity=sim).to_dict()
        assert got == _reference_republished(df, 14, sim)
        assert got   # the data has re-publications


def test_republished_marks_do_not_depend_on_the_chunk_size(tmp_path):
    df = _offers_frame(400, 7)
    recs = [offer(i, id=r.offer_id, dateCreation=r.created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                  romeCode=r.rome_fiche, intitule=r.title, description=r.description,
                  lieuTravail={"commune": r.commune})
            for i, r in enumerate(df.itertuples())]
    p = write_jsonl(tmp_path / "o.jsonl", recs)
    with Store(tmp_path / "s.duckdb") as st:
        st.ingest([p], "offers", dedupe=False)
        marks = []
        for rows in (10, 50_000):
            n = mark_republished(st.con, days=14, similarity=0.9, chunk_rows=rows)
            marks.append((n, st.query("SELECT offer_id, duplicate_of FROM offers WHERE duplicate_of IS NOT NULL ORDER BY 1")))
    assert marks[0][0] == marks[1][0] > 0
    assert marks[0][1].equals(marks[1][1])
    expected = _reference_republished(df.assign(created=df["created"].dt.floor("s")), 14, 0.9)
    assert dict(zip(marks[0][1]["offer_id"], marks[0][1]["duplicate_of"])) == expected


_CHILD = """
import logging, sys
from forecast.store import Store
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(message)s")
with Store(sys.argv[1]) as st:
    st.ingest([sys.argv[2]], "offers", workers=2)
"""


@pytest.mark.slow
def test_killed_parallel_ingest_leaves_store_as_before_and_its_workers_exit(tmp_path):
    import psutil

    store_path = tmp_path / "s.duckdb"
    big = write_jsonl(tmp_path / "big.jsonl", [
        offer(i, intitule=f"Aide-soignant {i % 997}", dateCreation=f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z")
        for i in range(1, 60_001)])
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(store_path), str(big)], stderr=subprocess.PIPE, text=True)
    for line in child.stderr:
        if "records written" in line:   # inside the file's transaction, workers busy
            break
    workers = psutil.Process(child.pid).children(recursive=True)
    assert workers
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive   # the forked workers die with the ingesting process
    with Store(store_path) as st:
        assert st.counts()["offers"] == 0 and len(st.ingest_log()) == 0
        (r,) = st.ingest([big], "offers", workers=2)
        assert (r.n_input, r.n_rejected) == (60_000, 0) and st.counts()["offers"] == 60_000


def test_an_id_repeated_in_a_file_and_in_the_store_keeps_its_last_version(tmp_path, monkeypatch):
    import forecast.store

    monkeypatch.setattr(forecast.store, "STAGE_COMMIT_ROWS", 1)   # staged rows committed batch by batch
    a = write_jsonl(tmp_path / "a.jsonl", [offer(1), offer(5)])
    b = write_jsonl(tmp_path / "b.jsonl", [
        offer(1, nombrePostes=2, competences=[{"code": "100011"}]), offer(2), "{broken",
        offer(1, nombrePostes=3, competences=[{"code": "100012", "exigence": "E"}, {"code": "100013"}]),
        offer(2, nombrePostes=4)])
    with Store(tmp_path / "s.duckdb") as st:
        st.ingest([a], "offers", dedupe=False)
        (r,) = st.ingest([b], "offers", dedupe=False)
        # 5 records: offer 1 three times (2 duplicates: one in the file, one already in the store),
        # offer 2 twice (1 duplicate), one reject
        assert (r.n_input, r.n_accepted, r.n_duplicates, r.n_rejected) == (5, 1, 3, 1)
        o = st.query("SELECT offer_id, positions FROM offers ORDER BY 1")
        assert o.values.tolist() == [["T000001", 3], ["T000002", 4], ["T000005", 1]]
        sk = st.query("SELECT offer_id, skill, required FROM offer_skills ORDER BY 1, 2")
        assert sk.values.tolist() == [["T000001", "100012", True], ["T000001", "100013", False],
                                      ["T000002", "100008", True], ["T000005", "100008", True]]
        assert st.rejects()[["record", "field"]].values.tolist() == [[3, "record"]]
