import json

import pytest

from conftest import lheo_xml, offer, write_jsonl
from forecast.errors import DataError
from forecast.ingest import read_lheo, read_offers_json
from forecast.store import Store


def test_offers_jsonl_accepts_and_rejects_with_reasons(tmp_path):
    recs = [
        offer(1),
        offer(2, lieuTravail={"libelle": "51 - SAINT-BRICE-COURCELLES"}),   # placed by name within its département
        offer(3, romeCode="Z9999"),                                         # unknown ROME
        offer(4, lieuTravail={"commune": "99999"}),                         # unknown commune
        offer(5, dateCreation="hier"),                                      # bad date
        offer(6, nombrePostes=0),                                           # bad positions
        "{not json",
        offer(7, lieuTravail={"libelle": "51 - NULLEPART"}),
    ]
    p = write_jsonl(tmp_path / "o.jsonl.gz", recs, gz=True)
    res = read_offers_json(p)
    assert res.n_input == 8 and res.n_accepted == 2 and res.n_rejected == 6
    offers = res.frames["offers"]
    assert list(offers["zone"]) == ["4413", "4413"]
    assert offers.loc[offers["offer_id"] == "T000002", "commune"].item() == "51474"
    assert set(offers["rome"]) == {"J1501"}
    rj = res.rejects.set_index("record")
    assert rj.loc[3, "field"] == "romeCode" and "unknown ROME code 'Z9999'" in rj.loc[3, "reason"]
    assert rj.loc[4, "field"] == "lieuTravail.commune"
    assert rj.loc[5, "field"] == "dateCreation"
    assert rj.loc[6, "field"] == "nombrePostes"
    assert rj.loc[7, "field"] == "record" and "not valid JSON" in rj.loc[7, "reason"]
    assert "NULLEPART" in rj.loc[8, "reason"]
    assert set(res.rejects["source"]) == {str(p)}
    assert list(res.frames["offer_skills"]["skill"]) == ["100008", "100008"]


def test_search_response_and_array(tmp_path):
    p1 = tmp_path / "search.json"
    p1.write_text(json.dumps({"resultats": [offer(1), offer(2)], "filtresPossibles": []}), encoding="utf-8")
    p2 = tmp_path / "array.json"
    p2.write_text(json.dumps([offer(3)]), encoding="utf-8")
    assert read_offers_json(p1).n_accepted == 2
    assert read_offers_json(p2).n_accepted == 1


def test_truncated_array_keeps_every_record(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("[1, 2", encoding="utf-8")
    res = read_offers_json(p)
    assert (res.n_input, res.n_accepted, res.n_rejected) == (3, 0, 3)
    assert "ends before the closing" in res.rejects.iloc[2]["reason"]
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps([offer(1), offer(2)])[:-40], encoding="utf-8")
    res = read_offers_json(cut)
    assert (res.n_input, res.n_accepted, res.n_rejected) == (2, 1, 1)


def test_document_without_offers_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{\n "filtresPossibles": []\n}', encoding="utf-8")
    with pytest.raises(DataError, match="bad.json: JSON document holds no 'resultats'"):
        read_offers_json(p)


def test_lheo_sessions_and_rejects(tmp_path):
    p = tmp_path / "f.xml"
    p.write_text(lheo_xml(), encoding="utf-8")
    res = read_lheo(p)
    assert res.n_input == 4 and res.n_accepted == 3
    s = res.frames["sessions"]
    assert set(s["places"]) == {20} and set(s["zone"]) == {"4413"} and set(s["rome"]) == {"J1501"}
    assert (s["end"] > s["start"]).all()
    assert res.rejects.iloc[0]["field"] == "code-ROME"


def test_lheo_refuses_entity_expansion(tmp_path):
    p = tmp_path / "bomb.xml"
    p.write_text('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
                 "<lheo>&lol2;</lheo>", encoding="utf-8")
    with pytest.raises(DataError, match="refused unsafe XML"):
        read_lheo(p)


def test_store_counts_add_up_idempotent_and_updates(tmp_path):
    store_path = tmp_path / "s.duckdb"
    recs = [offer(i) for i in range(1, 6)] + [offer(99, romeCode="Z9999")]
    # An exact re-publication 3 days later (new id, same description) and a same-id update.
    recs.append(offer(50, description=recs[0]["description"], dateCreation="2024-03-08T09:00:00.000Z"))
    recs.append(offer(1, nombrePostes=3))
    p = write_jsonl(tmp_path / "a.jsonl", recs)
    with Store(store_path) as st:
        (r,) = st.ingest([p], "offers")
        assert r.n_input == 8
        assert r.n_accepted + r.n_duplicates + r.n_rejected == r.n_input
        assert r.n_rejected == 1 and r.n_duplicates == 2
        assert st.query("SELECT positions FROM offers WHERE offer_id='T000001'").iloc[0, 0] == 3
        assert st.query("SELECT duplicate_of FROM offers WHERE offer_id='T000050'").iloc[0, 0] == "T000001"
        before = st.counts()
        (again,) = st.ingest([p], "offers")
        assert again.skipped and st.counts() == before
        assert len(st.rejects()) == 1 and len(st.ingest_log()) == 1


_CHILD = """
import logging, sys
import forecast.store
from forecast.store import Store
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(message)s")
forecast.store.STAGE_COMMIT_ROWS = 10_000   # every batch's staged rows committed
with Store(sys.argv[1]) as st:
    st.ingest([sys.argv[2]], "offers")
"""


def test_killed_ingest_leaves_store_as_before_and_rerun_completes(tmp_path):
    """A real child process is killed (SIGKILL) while it is reading the file, after some of its
    batches were staged and committed: the store's tables are as before, and a rerun completes it."""
    import os
    import signal
    import subprocess
    import sys

    store_path = tmp_path / "s.duckdb"
    good = write_jsonl(tmp_path / "good.jsonl", [offer(1)])
    big = write_jsonl(tmp_path / "big.jsonl", [
        offer(i, intitule=f"Aide-soignant {i % 997}", dateCreation=f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z")
        if i % 50 else offer(i, romeCode="Z9999") for i in range(2, 100_002)])
    with Store(store_path) as st:
        st.ingest([good], "offers")
        before = st.counts()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(store_path), str(big)],
                             stderr=subprocess.PIPE, text=True)
    written = 0
    for line in child.stderr:
        written += "records written" in line
        if written == 2:   # two batches of 20,000 staged and committed, three to go
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with Store(store_path) as st:
        assert st.counts() == before          # nothing of big.jsonl: no offers, no rejects, no log line
        assert len(st.ingest_log()) == 1
        assert st.query("SELECT count(*) AS n FROM _staging_offers")["n"].item() >= 20_000   # staged, not published
        (r,) = st.ingest([big], "offers")     # the rerun completes it
        assert (r.n_input, r.n_rejected) == (100_000, 2_000)
        assert r.n_accepted + r.n_duplicates + r.n_rejected == r.n_input
        assert st.counts()["offers"] == 1 + 100_000 - 2_000 and st.counts()["rejects"] == 2_000
        assert st.query("SELECT count(*) AS n FROM _staging_offers")["n"].item() == 0


@pytest.mark.slow
def test_parallel_parsing_gives_the_same_store(tmp_path):
    recs = [offer(i, intitule=f"Aide-soignant {i % 37}", dateCreation=f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z",
                  competences=[] if i % 5 == 0 else [{"code": "100008", "exigence": "E"}])
            if i % 40 else "{broken" for i in range(1, 3001)]
    p = write_jsonl(tmp_path / "o.jsonl", recs)
    out = []
    for workers in (1, 2):
        with Store(tmp_path / f"s{workers}.duckdb") as st:
            (r,) = st.ingest([p], "offers", workers=workers)
            out.append(((r.n_input, r.n_accepted, r.n_duplicates, r.n_rejected),
                        st.query("SELECT * EXCLUDE (source) FROM offers ORDER BY offer_id"),
                        st.query("SELECT * FROM offer_skills ORDER BY offer_id, skill"),
                        st.query("SELECT record, field FROM rejects ORDER BY record")))
    assert out[0][0] == out[1][0] and out[0][0][3] == 75
    for a, b in zip(out[0][1:], out[1][1:]):
        assert a.equals(b)


def test_same_id_in_a_later_file_updates(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [offer(1), offer(2)])
    b = write_jsonl(tmp_path / "b.jsonl", [offer(2, nombrePostes=5, competences=[{"code": "100011"}]), offer(3)])
    with Store(tmp_path / "s.duckdb") as st:
        st.ingest([a], "offers")
        (r,) = st.ingest([b], "offers")
        assert (r.n_input, r.n_accepted, r.n_duplicates, r.n_rejected) == (2, 1, 1, 0)
        o = st.query("SELECT offer_id, positions FROM offers ORDER BY 1")
        assert o["positions"].tolist() == [1, 5, 1]
        assert st.query("SELECT skill FROM offer_skills WHERE offer_id = 'T000002'")["skill"].tolist() == ["100011"]
