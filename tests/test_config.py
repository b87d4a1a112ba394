from pathlib import Path

import pytest

from forecast.config import DEFAULT_FAMILIES, load_experiment
from forecast.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_experiments_load():
    reims = load_experiment(ROOT / "experiments/reims.toml")
    assert reims.name == "reims" and reims.zones == ("4413",)
    assert reims.horizon == 24 and reims.families == (*DEFAULT_FAMILIES, "prophet")
    assert reims.backtest_step == reims.backtest_horizon == 12
    ge = load_experiment(ROOT / "experiments/grand_est.toml")
    assert len(ge.zones) == 27 and "4413" in ge.zones and ge.families == DEFAULT_FAMILIES
    for exp in (reims, ge):  # the demo's registered job seekers are part of the supply
        assert str(exp.job_seekers).endswith("data/demo/demandeurs/demandeurs_emploi.csv")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "body, expected",
    [
        ('[experiment]\nname="x"\n[scope]\nzones=["4413"]\nbogus=1\n', r"\[scope\] bogus: unknown key"),
        ('[experiment]\nname="x"\n[scope]\nzones=["9999"]\n', r"\[scope\] zones: unknown zone d'emploi '9999'"),
        ('[experiment]\nname="x"\n[scope]\nzones=["4413"]\n[models]\nfamilies=["lstm"]\n', r"unknown model 'lstm'"),
        ('[experiment]\nname="x"\n[scope]\nzones=["4413"]\n[backtest]\nwindows="3"\n', r"\[backtest\] windows: expected int"),
        ('[experiment]\nname="x"\n[scope]\nzones=[]\n', r"select at least one zone"),
        ('[experiment]\nname="x"\n[scope]\nregion="99"\n', r"unknown region '99'"),
        ('[experiment]\n[scope]\nzones=["4413"]\n', r"\[experiment\] name: required key is missing"),
        ('[experiment]\nname="x"\n[scope]\nzones=["4413"]\n[supply]\ncompletion_rate=1.5\n', r"completion_rate: must be in \[0, 1\]"),
        ('[experiment]\nname="x"\n[scope]\nzones=["4413"]\nstart="2019-13"\n', r"expected a month as YYYY-MM"),
        ('[experiment]\nname="x"\n[surprise]\na=1\n', r"\[surprise\]: unknown section"),
        ('[experiment\nname="x"\n', r"not valid TOML"),
        ('[experiment]\nname="x"\n[scope]\nzones=["4413"]\n[engine]\nscreen_margin=1.5\n',
         r"\[engine\] screen_margin: must be in \[0, 1\)"),
    ],
)
def test_bad_experiment_files_name_file_and_key(tmp_path, body, expected):
    p = _write(tmp_path, body)
    with pytest.raises(ConfigError, match=expected) as info:
        load_experiment(p)
    assert str(p) in str(info.value)


def test_missing_experiment_file(tmp_path):
    with pytest.raises(ConfigError, match="experiment file not found"):
        load_experiment(tmp_path / "nope.toml")
