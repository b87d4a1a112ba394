import openpyxl
import pandas as pd
import pytest

from forecast.export import FRENCH, export_table, french, neutralise, safe_frame


@pytest.mark.parametrize("text", ["=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://x\")"])
def test_formula_starts_are_neutralised(text):
    assert neutralise(text) == "'" + text


def test_other_values_are_untouched():
    assert neutralise("Aide-soignant") == "Aide-soignant" and neutralise(-3.5) == -3.5 and neutralise(None) is None


def _frame():
    return pd.DataFrame({"zone": ["4413", "=cmd|' /C calc'!A0"], "rome": ["J1501", "@x"], "gap_mean": [-12.5, 3.0],
                         "situation": ["shortage", "surplus"], "rationale": ["-démarrer", "ok"],
                         "ds": pd.to_datetime(["2025-01-01", "2025-02-01"])})


def test_french_headers_and_labels():
    f = french(_frame())
    assert list(f.columns[:3]) == ["Zone d'emploi", "Code ROME", "Écart attendu"]
    assert list(f["Situation"]) == ["pénurie", "excédent"]
    assert FRENCH["p_shortage"] == "Probabilité de pénurie"


def test_export_three_formats_safe(tmp_path):
    paths = export_table(_frame(), tmp_path / "ecarts")
    assert [p.suffix for p in paths] == [".parquet", ".csv", ".xlsx"]
    pq = pd.read_parquet(tmp_path / "ecarts.parquet")
    assert pq["Zone d'emploi"].tolist() == ["4413", "'=cmd|' /C calc'!A0"] and pq["Écart attendu"].tolist() == [-12.5, 3.0]
    raw = (tmp_path / "ecarts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                                    # BOM for spreadsheets
    csv = pd.read_csv(tmp_path / "ecarts.csv", sep=";", decimal=",", encoding="utf-8-sig", dtype={"Zone d'emploi": str})
    assert csv["Écart attendu"].tolist() == [-12.5, 3.0] and csv["Justification"].tolist() == ["'-démarrer", "ok"]
    assert csv["Code ROME"].tolist() == ["J1501", "'@x"]
    ws = openpyxl.load_workbook(tmp_path / "ecarts.xlsx").active
    cells = [c for row in ws.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)                        # no formula anywhere
    assert ws["A3"].value == "'=cmd|' /C calc'!A0" and ws["C2"].value == -12.5
    assert ws["A1"].value == "Zone d'emploi"


def test_safe_frame_keeps_numbers():
    s = safe_frame(pd.DataFrame({"a": [-1, 2], "b": ["-1", "2"]}))
    assert s["a"].tolist() == [-1, 2] and s["b"].tolist() == ["'-1", "2"]
