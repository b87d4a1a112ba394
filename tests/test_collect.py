"""forecast.collect against a local API server (real HTTP on 127.0.0.1) that follows the contract."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from conftest import offer
from fake_ft_api import FakeFranceTravail
from forecast.collect import FranceTravailClient, collect
from forecast.errors import ConfigError, ForecastError
from forecast.store import Store

T0 = datetime(2024, 3, 4)


def _offers() -> list[dict]:
    out = []
    for i in range(700):                        # spread over the first hour in the Marne
        d = T0 + timedelta(seconds=i * 5)
        out.append(offer(i, dateCreation=f"{d:%Y-%m-%dT%H:%M:%S}.000Z"))
    romes = ["J1501", "G1603", "K1302"]         # a burst: 1,200 offers within the second hour, three domains
    for i in range(1200):
        d = T0 + timedelta(hours=1, seconds=i * 2)
        out.append(offer(10_000 + i, romeCode=romes[i % 3], dateCreation=f"{d:%Y-%m-%dT%H:%M:%S}.000Z"))
    for i in range(50):                         # another département: not asked for
        out.append(offer(20_000 + i, lieuTravail={"commune": "10387", "libelle": "10 - TROYES"}))
    return out


def _client(api: FakeFranceTravail, **kw) -> FranceTravailClient:
    return FranceTravailClient("cid", "secret", token_url=api.url + "/token", search_url=api.url + "/search",
                               backoff=0.05, **kw)


@pytest.mark.slow
def test_collect_splits_pages_retries_and_resumes(tmp_path):
    offers = _offers()
    expected = {o["id"] for o in offers if o["lieuTravail"]["commune"].startswith("51")}
    out = tmp_path / "collecte" / "offres.jsonl"
    # First run: the API dies after 12 calls; what was collected stays, with its state.
    with FakeFranceTravail(offers, dead_after=8) as api:
        with pytest.raises(ForecastError, match="HTTP 503"):
            collect(out, ["51"], T0, T0 + timedelta(hours=2) - timedelta(seconds=1), _client(api, retries=2))
    first = [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    assert len(first) < len(expected)
    # Second run resumes: every offer of the Marne exactly once, nothing else.
    with FakeFranceTravail(offers) as api:
        rep = collect(out, ["51"], T0, T0 + timedelta(hours=2) - timedelta(seconds=1), _client(api))
        assert api.violations == []                           # never more than 150 a call, 1,150 a query
        assert api.n_503 >= 1 and api.n_429 + api.n_503 == rep.retries
        assert api.n_401 >= 1 and rep.token_refreshes >= 2   # the token expired during the run
        assert any("codeROME" in q for _, q in api.calls)    # the one-hour burst was split by ROME domain
    ids = [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert rep.parts_skipped >= 1 and rep.truncated == []
    # The collected file is what `forecast ingest` reads.
    with Store(tmp_path / "s.duckdb") as st:
        (r,) = st.ingest([out], "offers")
        assert r.n_input == len(expected) and r.n_accepted + r.n_duplicates + r.n_rejected == r.n_input
        assert r.n_rejected == 0


def test_credentials_required_and_never_shown(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("FRANCE_TRAVAIL_CLIENT_ID", raising=False)
    monkeypatch.delenv("FRANCE_TRAVAIL_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigError, match="FRANCE_TRAVAIL_CLIENT_ID"):
        FranceTravailClient.from_env()
    with FakeFranceTravail([offer(1)]) as api:
        bad = FranceTravailClient("cid", "wrong-secret-XYZ", token_url=api.url + "/token", search_url=api.url + "/search")
        with pytest.raises(ForecastError, match="token refused") as exc:
            collect(tmp_path / "o.jsonl", ["51"], T0, T0 + timedelta(days=1), bad)
        assert "wrong-secret-XYZ" not in str(exc.value) and "wrong-secret-XYZ" not in repr(bad)
        caplog.set_level("DEBUG")
        good = _client(api)
        collect(tmp_path / "o.jsonl", ["51"], T0, T0 + timedelta(days=2), good)
        assert "secret" not in caplog.text and good._token not in caplog.text
    assert "secret" not in (tmp_path / "o.jsonl.state.json").read_text()


def test_cli_collect_then_ingest_then_rejects(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli import app

    offers = [offer(i, dateCreation=f"2024-03-04T{8 + i % 8:02d}:00:00.000Z") for i in range(40)]
    offers.append(offer(99, romeCode="Z9999", dateCreation="2024-03-04T09:00:00.000Z"))
    out = tmp_path / "offres.jsonl"
    with FakeFranceTravail(offers, fail_every=0) as api:
        for k, v in {"FRANCE_TRAVAIL_CLIENT_ID": "cid", "FRANCE_TRAVAIL_CLIENT_SECRET": "secret",
                     "FRANCE_TRAVAIL_TOKEN_URL": api.url + "/token", "FRANCE_TRAVAIL_SEARCH_URL": api.url + "/search"}.items():
            monkeypatch.setenv(k, v)
        res = CliRunner().invoke(app, ["collect", "-d", "51", "--since", "2024-03-04", "--until", "2024-03-04",
                                       "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "41 offers appended to" in res.output
    store = tmp_path / "s.duckdb"
    res = CliRunner().invoke(app, ["ingest", str(out), "--store", str(store)])
    assert res.exit_code == 0, res.output
    assert "41 records = 40 accepted + 0 duplicates + 1 rejected" in res.output
    res = CliRunner().invoke(app, ["rejects", "--store", str(store), "--output", str(tmp_path / "rj.csv")])
    assert res.exit_code == 0 and "1 rejects written" in res.output
    assert "unknown ROME code 'Z9999'" in (tmp_path / "rj.csv").read_text(encoding="utf-8")
