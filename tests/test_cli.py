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
    assert res.exit_code == 1 and "experiment file not found" in res.stderr and "experiments/reims.toml" in res.stderr


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


# --- command-line experience: --json, --quiet/--verbose, progress bars, completion, next steps ----------
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

FORECAST = str(Path(sys.executable).parent / "forecast")


def _small_experiment(tmp_path: Path) -> Path:
    """Two occupations in Reims, 2020-2023, seasonal naive only: a full run in about 10 s."""
    import numpy as np
    import pandas as pd

    from conftest import offer, write_jsonl

    rng = np.random.default_rng(1)
    recs, i = [], 0
    for m, month in enumerate(pd.date_range("2020-01-01", "2023-12-01", freq="MS")):
        for rome, lam in (("J1501", 12), ("N1101", 8)):
            for _ in range(rng.poisson(lam + 4 * np.sin(m * np.pi / 6))):
                i += 1
                recs.append(offer(i, romeCode=rome, dateCreation=f"{month:%Y-%m}-1{i % 9}T10:00:00.000Z",
                                  intitule=f"Poste {rome} {i}", description=f"offre {i} {rome} numero {i * 7}"))
    data = write_jsonl(tmp_path / "o.jsonl", recs)
    exp = tmp_path / "mini.toml"
    exp.write_text(f'[experiment]\nname = "mini"\n[data]\noffers = ["{data}"]\nstore = "{tmp_path / "s.duckdb"}"\n'
                   f'dedupe = false\n[scope]\nzones = ["4413"]\nstart = "2020-01"\n[series]\nmin_total = 50\n'
                   f'top_skills = 1\n[models]\nfamilies = ["seasonal_naive"]\n[backtest]\nhorizon = 6\nwindows = 2\n'
                   f'[forecast]\nhorizon = 6\n[output]\ndir = "{tmp_path / "out"}"\ntop_plots = 1\nn_jobs = 1\n',
                   encoding="utf-8")
    return exp


@pytest.mark.slow
def test_run_json_summary_is_the_whole_stdout_and_names_the_mlflow_run(tmp_path):
    from forecast.tracking import find_runs

    exp, store = _small_experiment(tmp_path), tmp_path / "mlruns"
    res = subprocess.run([FORECAST, "run", str(exp), "--store", str(store), "--json"], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)  # stdout holds the JSON only: logs and progress go to stderr
    assert summary["experiment"] == "mini" and summary["modelled_series"] >= 2
    assert summary["ingest"]["accepted"] == summary["ingest"]["input"] > 500
    assert set(summary["backtest"]) == {"seasonal_naive"} and summary["model_version"] == "1"
    assert json.loads((Path(summary["run_dir"]) / "summary.json").read_text()) == summary
    runs = find_runs(store, "mini")
    parent = runs[runs["run_id"] == summary["run_id"]]
    assert len(parent) == 1 and parent["status"].iloc[0] == "FINISHED"
    assert parent[f"metrics.{summary['metric']}_selected"].iloc[0] == pytest.approx(
        summary["selection_vs_baseline"]["selected"])
    assert "INFO forecast" in res.stderr


def _ingest(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    from conftest import offer, write_jsonl

    data = write_jsonl(tmp_path / "o.jsonl", [offer(1), offer(2), offer(3, romeCode="Z9999")])
    store = tmp_path / f"s{len(flags)}{''.join(flags)}.duckdb"
    return subprocess.run([FORECAST, *flags, "ingest", str(data), "--store", str(store)], capture_output=True,
                          text=True, timeout=120)


def test_quiet_and_verbose_set_what_is_logged(tmp_path):
    normal, quiet, verbose = _ingest(tmp_path), _ingest(tmp_path, "-q"), _ingest(tmp_path, "--verbose")
    for res in (normal, quiet, verbose):  # the result itself is printed whatever the level
        assert res.returncode == 0 and "3 records = 2 accepted + 0 duplicates + 1 rejected" in res.stdout
    assert "INFO forecast.store" in normal.stderr and "DEBUG" not in normal.stderr
    assert quiet.stderr.strip() == ""
    assert "DEBUG forecast.store" in verbose.stderr and "INFO forecast.store" in verbose.stderr


def _series_file(tmp_path: Path) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    ds = pd.date_range("2019-01-01", periods=60, freq="MS")
    f = tmp_path / "series.csv"
    pd.concat([pd.DataFrame({"unique_id": u, "ds": ds, "y": rng.poisson(10, 60)}) for u in "abc"]).to_csv(f, index=False)
    return f


def _on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal: (exit code, what the terminal showed, stdout)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    out = proc.stdout.read().decode()
    code = proc.wait(timeout=120)
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace"), out


def test_progress_bar_on_a_terminal_only(tmp_path):
    args = [FORECAST, "backtest", "--series", str(_series_file(tmp_path)), "--horizon", "6", "--windows", "2",
            "-m", "seasonal_naive", "-o", str(tmp_path / "bt"), "--n-jobs", "1"]
    code, tty, out = _on_a_terminal(args)  # stderr is a terminal: a live bar
    assert code == 0
    assert "backtest" in tty and "━" in tty and "0/3" in tty and "3/3" in tty  # 3 series
    assert "━" not in out and "Backtest tables written" in out
    piped = subprocess.run(args, capture_output=True, text=True, timeout=120)  # not a terminal: no bar
    assert piped.returncode == 0 and "━" not in piped.stderr + piped.stdout
    code, tty, out = _on_a_terminal([FORECAST, "--quiet", *args[1:]])  # --quiet: no bar even on a terminal
    assert code == 0 and "━" not in tty and "Backtest tables written" in out


def test_shell_completion(tmp_path):
    script = subprocess.run([FORECAST, "--show-completion", "bash"], capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_FORECAST_COMPLETE=complete_bash" in script.stdout
    assert "complete -o default -F _forecast_completion forecast" in script.stdout

    def complete(words: str, cword: int) -> list[str]:
        env = {**os.environ, "_FORECAST_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        res = subprocess.run([FORECAST], env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout.split()

    assert complete("forecast ba", 1) == ["backtest"]
    assert set(complete("forecast r", 1)) == {"rejects", "run", "report"}
    assert {"--json", "--no-tracking", "--store"} <= set(complete("forecast run --", 2))


def test_errors_say_what_to_do_next(tmp_path):
    def error(*args: str) -> str:
        res = runner.invoke(app, list(args))
        assert res.exit_code == 1 and "Traceback" not in res.output
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
        return lines[0]

    assert "(printed by `forecast run`) or a run id from `forecast ui`" in error("report", str(tmp_path / "nope"))
    empty = tmp_path / "empty-store"
    msg = error("report", "0" * 32, "--store", str(empty))
    assert "no MLflow store" in msg
    assert msg.endswith("run `forecast run EXPERIMENT.toml` first, or point --store at the folder that holds mlflow.db")
    assert error("ui", "--store", str(empty)).endswith("(run `forecast run experiments/reims.toml` first)")
    from forecast.tracking import MlflowTracker

    store = tmp_path / "mlruns"
    with MlflowTracker(store, "reims").parent("r", {}, {}):
        pass
    assert error("report", "f" * 32, "--store", str(store)).endswith(f"list runs with `forecast ui --store {store}`")
    assert error("ui", "--store", str(store), "--experiment", "nope").endswith("known: Default, reims")
    assert "--lang must be one of" in error("report", str(tmp_path), "--lang", "de")
