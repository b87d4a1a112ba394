"""Property-based tests: whatever the input, every record is accepted or rejected — never a crash.

Records are valid offers with random fields replaced by random values of any type, removed, made
huge, or whole lines replaced by random bytes (wrong encodings) or cut short. (Titles without a
ROME code are kept out: classifying them is tested in test_classify.py.)
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import offer
from forecast.ingest import read_offers_json
from forecast.ingest.tabular import iter_tabular_batches
from forecast.ingest.tagging import concat_batches

FIELDS = ["id", "dateCreation", "lieuTravail", "romeCode", "nombrePostes", "competences", "intitule", "description"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
huge = st.integers(10_000, 200_000).map(lambda n: "é" * n)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def records(draw) -> str | bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "bytes", "cut", "latin1"]))
    rec = offer(draw(st.integers(0, 50)))
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=200)).replace(b"\n", b" ")
    for f in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        action = draw(st.sampled_from(["delete", "value", "huge"]))
        if action == "delete":
            rec.pop(f, None)
        elif action == "huge":
            rec[f] = draw(huge)
        else:
            rec[f] = draw(json_values)
    if not isinstance(rec.get("romeCode"), str) or not rec.get("romeCode"):
        rec.pop("intitule", None)
    text = json.dumps(rec, ensure_ascii=False)
    if kind == "cut":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if kind == "latin1":
        return text.encode("latin-1", errors="replace")
    return text


def _write(lines: list[str | bytes]) -> Path:
    d = Path(tempfile.mkdtemp())
    p = d / "o.jsonl"
    p.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8") for x in lines) + b"\n")
    return p


@SETTINGS
@given(st.lists(records(), min_size=1, max_size=25))
def test_json_lines_always_accepted_or_rejected(lines):
    p = _write(lines)
    res = read_offers_json(p)
    n_lines = sum(1 for x in p.read_bytes().split(b"\n") if x.strip())
    assert res.n_input == n_lines
    assert res.n_accepted + res.n_rejected == res.n_input == len(res.frames["offers"]) + len(res.rejects)
    assert res.rejects["record"].between(1, len(lines)).all()
    assert (res.rejects["reason"].str.len() > 0).all() and (res.rejects["field"].str.len() > 0).all()
    o = res.frames["offers"]
    if len(o):
        assert o["zone"].str.fullmatch(r"\d{4}").all() and o["rome"].notna().all() and (o["positions"] >= 1).all()


@SETTINGS
@given(st.lists(records().filter(lambda x: isinstance(x, str)), max_size=10),
       st.integers(0, 10_000))
def test_truncated_json_array_never_crashes(lines, cut):
    good = [json.loads(x) for x in lines if _loads(x) is not None]
    text = json.dumps(good, ensure_ascii=False)
    text = text[: min(cut, len(text))] or "["
    p = Path(tempfile.mkdtemp()) / "a.json"
    p.write_text(text, encoding="utf-8")
    res = read_offers_json(p)
    assert res.n_accepted + res.n_rejected == res.n_input <= len(good) + 1


def _loads(x: str):
    try:
        return json.loads(x)
    except ValueError:
        return None


cells = st.one_of(st.text(max_size=20), huge.map(lambda s: s[:20_000]), st.sampled_from(
    ["05/03/2024", "2024-03-05", "31/02/2024", "51454", "99999", "J1501", "Z9999", "1,5", "2", "-1", ""]))


@SETTINGS
@given(st.lists(st.lists(cells, min_size=5, max_size=5), min_size=1, max_size=15),
       st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), st.sampled_from([";", ","]))
def test_csv_rows_always_accepted_or_rejected(rows, encoding, sep):
    header = ["id", "date", "commune", "rome", "positions"]
    clean = [[c.replace(sep, " ").replace("\n", " ").replace("\r", " ").replace('"', " ") for c in r] for r in rows]
    text = "\n".join(sep.join(r) for r in [header, *clean]) + "\n"
    p = Path(tempfile.mkdtemp()) / "o.csv"
    p.write_bytes(text.encode(encoding, errors="replace"))
    res = concat_batches(str(p), iter_tabular_batches(p))
    assert res.n_input == len(rows)
    assert res.n_accepted + res.n_rejected == res.n_input
