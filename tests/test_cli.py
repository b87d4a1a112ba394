"""The command line through typer's CliRunner: exit codes, messages, files written."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def test_help_lists_commands_with_examples():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("demo", "ingest", "series", "backtest", "predict", "supply", "gap", "run", "ui", "rejects"):
        assert cmd in res.output
    for cmd in ("run", "ingest", "backtest", "predict", "gap"):
        sub = runner.invoke(app, [cmd, "--help"])
        assert sub.exit_code == 0 and "Example: forecast" in sub.output


def test_malformed_experiment_is_one_error_line(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[experiment]\nname = "x"\n[scope]\nzones = ["4413"]\n[models]\nfamilies = ["nope"]\n', encoding="utf-8")
    res = runner.invoke(app, ["run", str(p)])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [f"Error: {p}: [models] families: unknown model 'nope' "
                                               "(known: " + res.stderr.split("(known: ")[1].strip()]
    assert "Traceback" not in res.output + res.stderr


def test_missing_input_file_is_named(tmp_path):
    res = runner.invoke(app, ["ingest", str(tmp_path / "absent.jsonl"), "--store", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 1
    assert res.stderr.strip() == f"Error: {tmp_path / 'absent.jsonl'}: input file not found"


def test_missing_experiment_file(tmp_path):
    res = runner.invoke(app, ["run", str(tmp_path / "none.toml")])
    assert res.exit_code == 1 and "experiment file not found" in res.stderr


def test_empty_selection_is_an_error(tmp_path):
    from conftest import offer, write_jsonl

    data = write_jsonl(tmp_path / "o.jsonl", [offer(1)])
    p = tmp_path / "e.toml"
    p.write_text(f'[experiment]\nname = "x"\n[data]\noffers = ["{data}"]\nstore = "{tmp_path / "s.duckdb"}"\n'
                 f'[scope]\nzones = ["4423"]\n[output]\ndir = "{tmp_path / "out"}"\n', encoding="utf-8")
    res = runner.invoke(app, ["run", str(p), "--no-tracking"])
    assert res.exit_code == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: no offers for zone(s) 4423") and last.endswith("empty selection")
    assert "Traceback" not in res.stderr


def test_ingest_prints_counts_that_add_up(tmp_path):
    from conftest import offer, write_jsonl

    data = write_jsonl(tmp_path / "o.jsonl", [offer(1), offer(2), offer(3, romeCode="Z9999"), offer(1)])
    store = tmp_path / "s.duckdb"
    res = runner.invoke(app, ["ingest", str(data), "--store", str(store)])
    assert res.exit_code == 0, res.output
    assert "4 records = 2 accepted + 1 duplicates + 1 rejected" in res.output
    out = tmp_path / "rejets.csv"
    res = runner.invoke(app, ["rejects", "--store", str(store), "--output", str(out)])
    assert res.exit_code == 0 and "1 rejects written" in res.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and ",3,romeCode,unknown ROME code 'Z9999'" in lines[1]


def test_backtest_and_predict_on_a_series_file(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    ds = pd.date_range("2019-01-01", periods=60, freq="MS")
    rows = [pd.DataFrame({"unique_id": u, "ds": ds, "y": rng.poisson(lam + 5 * np.sin(np.arange(60) * np.pi / 6) + 5)})
            for u, lam in (("a", 20), ("b", 8))]
    f = tmp_path / "series.csv"
    pd.concat(rows).to_csv(f, index=False)
    out = tmp_path / "bt"
    res = runner.invoke(app, ["backtest", "--series", str(f), "--horizon", "6", "--windows", "2",
                              "-m", "seasonal_naive", "-m", "arima", "-o", str(out), "--n-jobs", "1"])
    assert res.exit_code == 0, res.output + str(res.exception)
    summary = pd.read_csv(out / "metrics_summary.csv")
    assert set(summary["model"]) == {"seasonal_naive", "arima"}
    assert {"mase", "rmsse", "wape", "coverage_80", "coverage_95"} <= set(summary["metric"])
    fc_path = tmp_path / "fc.csv"
    res = runner.invoke(app, ["predict", "--series", str(f), "--horizon", "5", "--model", "arima",
                              "-o", str(fc_path), "--n-jobs", "1"])
    assert res.exit_code == 0, res.output
    fc = pd.read_csv(fc_path)
    assert len(fc) == 10 and (fc["mean"] >= 0).all() and (fc["q0.025"] <= fc["q0.975"]).all()
    res = runner.invoke(app, ["predict", "--series", str(f), "--model", "nope", "-o", str(fc_path)])
    assert res.exit_code == 1 and "unknown model 'nope'" in res.stderr
