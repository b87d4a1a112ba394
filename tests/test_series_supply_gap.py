import numpy as np
import pandas as pd
import pytest

from conftest import lheo_xml, offer, write_jsonl
from forecast import schema as S
from forecast.errors import DataError
from forecast.gap import compute_gap, gap_summary, prob_exceeds
from forecast.series import build_series, read_series_file
from forecast.store import Store
from forecast.supply import project_supply


@pytest.fixture()
def store(tmp_path):
    recs = [
        offer(1, dateCreation="2024-01-10T08:00:00Z", nombrePostes=2),
        offer(2, dateCreation="2024-03-20T08:00:00Z", description="autre texte tout à fait différent"),
        offer(3, dateCreation="2024-03-22T08:00:00Z", romeCode="A1401",
              competences=[{"code": "123", "exigence": "S"}]),
        offer(4, dateCreation="2024-02-02T08:00:00Z", lieuTravail={"commune": "51230"}),  # Épernay, 4406
        offer(5, dateCreation="2024-04-30T08:00:00Z"),
    ]
    p = write_jsonl(tmp_path / "o.jsonl", recs)
    x = tmp_path / "f.xml"
    x.write_text(lheo_xml(), encoding="utf-8")
    st = Store(tmp_path / "s.duckdb")
    st.ingest([p], "offers")
    st.ingest([x], "sessions")
    yield st
    st.close()


def test_series_full_grid_levels_and_values(store):
    series, cat = build_series(store, ["4413"], "2024-01", "", min_total=2, top_skills=5)
    months = pd.date_range("2024-01-01", "2024-04-01", freq="MS")
    assert series.groupby(S.UID).size().eq(4).all()          # zero-filled grid up to the last full month (April)
    j = series[series[S.UID] == "4413/J1501"].set_index(S.DS)[S.Y]
    assert list(j.reindex(months)) == [2.0, 0.0, 1.0, 1.0]   # positions, not ads
    tot = series[series[S.UID] == "4413/total"].set_index(S.DS)[S.Y]
    assert list(tot) == [2.0, 0.0, 2.0, 1.0]
    reg = series[series[S.UID] == "R44/total"].set_index(S.DS)[S.Y]
    assert list(reg) == [2.0, 1.0, 2.0, 1.0]                # includes Épernay
    assert series.loc[series[S.UID] == "4413/skill:100008", S.Y].sum() == 4.0
    c = cat.set_index(S.UID)
    assert bool(c.loc["4413/J1501", "modelled"]) and not bool(c.loc["4413/A1401", "modelled"])
    assert c.loc["4413/J1501", "label"].startswith("Aide-soignant")


def test_series_empty_selection_is_an_error(store):
    with pytest.raises(DataError, match="empty selection"):
        build_series(store, ["4423"], "2024-01", "2024-04")


def test_supply_scheduled_and_projected(store):
    sessions = store.query("SELECT * FROM sessions")
    sup = project_supply(sessions, ["4413"], "2022-01", "2025-06", horizon=25, completion_rate=0.5)
    # Sessions end in June -> graduates counted in July; 20 places x 0.5.
    assert set(sup[S.DS].dt.month) == {7}
    sched = sup[sup[S.STATUS] == "scheduled"]
    assert list(sched[S.DS].dt.year) == [2023, 2024, 2025] and (sched[S.SUPPLY] == 10).all()
    proj = sup[sup[S.STATUS] == "projected"]
    assert list(proj[S.DS].dt.year) == [2026, 2027] and (proj[S.SUPPLY] == 10).all()


def test_prob_exceeds_reads_the_quantiles():
    q = np.array([[1, 2, 3, 4, 5, 6, 7]] * 3, dtype=float)
    p = prob_exceeds(q, S.QUANTILE_LEVELS, np.array([4.0, 0.0, 100.0]))
    assert p[0] == pytest.approx(0.5) and p[1] == pytest.approx(1 - 0.0125) and p[2] == pytest.approx(0.0125)


def test_gap_table_is_consistent():
    ds = pd.date_range("2025-01-01", periods=3, freq="MS")
    fc = pd.DataFrame({S.UID: "4413/J1501", S.DS: ds, S.MODEL: "selected", S.MEAN: [10.0, 10.0, 10.0]})
    for q, v in zip(S.QUANTILE_LEVELS, [4, 6, 8, 10, 12, 14, 16]):
        fc[S.qcol(q)] = float(v)
    sup = pd.DataFrame({S.ZONE: "4413", S.ROME: "J1501", S.DS: ds[:1], S.SUPPLY: [12.0],
                        S.COMPONENT: "training", S.STATUS: "scheduled"})
    g = compute_gap(fc, None, sup)
    assert list(g[S.SUPPLY]) == [12.0, 0.0, 0.0]
    assert np.allclose(g[S.GAP], g[S.MEAN] - g[S.SUPPLY])
    assert g[S.P_SHORTAGE].iloc[0] == pytest.approx(0.25) and g[S.P_SHORTAGE].iloc[1] > 0.98
    s = gap_summary(g)
    assert s.loc[0, "gap"] == pytest.approx(18.0)


def test_read_series_file_validates_and_fills(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("unique_id,ds,y\na,2024-01-01,1\na,2024-03-01,2\nb,2024-01-01,5\n", encoding="utf-8")
    df = read_series_file(p)
    assert list(df.loc[df[S.UID] == "a", S.Y]) == [1.0, 0.0, 2.0]   # missing month filled with 0
    p.write_text("unique_id,ds,y\na,2024-01-01,1\na,2024-01-01,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3: duplicate \(unique_id, ds\)"):
        read_series_file(p)
    p.write_text("unique_id,ds,y\na,2024-01-15,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2: field ds: 2024-01-15 is not a month start"):
        read_series_file(p)
    p.write_text("unique_id,ds,y\na,2024-01-01,abc\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2: field y: not a number"):
        read_series_file(p)
    p.write_text("unique_id,y\na,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        read_series_file(p)


def test_modelled_series_are_decided_on_the_anchored_months(store):
    """[engine] backtest_refresh = 3: which series are modelled is decided on the first 3 of the 4
    months (as the model parameters are), so it changes every 3 months, not with each new month."""
    _, every = build_series(store, ["4413"], "2024-01", "", min_total=4, top_skills=5)
    _, anchored = build_series(store, ["4413"], "2024-01", "", min_total=4, top_skills=5, refresh=3)
    e, a = every.set_index(S.UID), anchored.set_index(S.UID)
    assert e.loc["4413/J1501", "total"] == a.loc["4413/J1501", "total"] == 4.0  # the catalog's total: all months
    assert bool(e.loc["4413/J1501", "modelled"])          # 4 positions over the 4 months
    assert not bool(a.loc["4413/J1501", "modelled"])      # 3 over the first 3 (April is after the anchor)
    assert bool(a.loc["4413/total", "modelled"])          # totals always are


def test_series_written_whole_and_kept_lean(store, tmp_path, monkeypatch):
    """With ``out`` every series goes to the Parquet file (written a few series at a time, the same
    table as the full frame) and only the modelled series and the totals stay in memory."""
    from forecast import series as series_module

    full, cat = build_series(store, ["4413"], "2024-01", "", min_total=2, top_skills=1)
    real = series_module._write_full_grid
    monkeypatch.setattr(series_module, "_write_full_grid", lambda r, m, p: real(r, m, p, chunk=2))
    lean, cat2 = build_series(store, ["4413"], "2024-01", "", min_total=2, top_skills=1, out=tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(cat, cat2)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "s.parquet"), full)
    kept = set(cat.loc[cat["modelled"] | cat[S.LEVEL].isin(["zone_total", "region_total"]), S.UID])
    assert set(lean[S.UID]) == kept and len(kept) < full[S.UID].nunique()
    pd.testing.assert_frame_equal(lean.reset_index(drop=True),
                                  full[full[S.UID].isin(kept)].reset_index(drop=True))
