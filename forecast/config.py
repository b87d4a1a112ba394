"""Experiment files (TOML): load, validate, and expose as a typed :class:`Experiment`.

Every error names the file and the key (``experiments/reims.toml: [backtest] windows: ...``).
Relative paths in an experiment file resolve against the current working directory (run the
commands from the project folder, as ``make demo`` does).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecast.errors import ConfigError

LEVELS = ("rome_zone", "skill_zone", "zone_total", "region_total")
MEASURES = ("positions", "offers")
#: The product's default model families (cheap and robust; add "prophet" or "croston" per experiment).
DEFAULT_FAMILIES = ("seasonal_naive", "ets", "arima", "theta", "sba", "tsb")

# The schema: section -> key -> (type(s), default). A default of ... means required.
_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "experiment": {
        "name": ((str,), ...),
        "description": ((str,), ""),
    },
    "data": {
        "offers": ((list,), []),
        "sessions": ((list,), []),
        "store": ((str,), "data/forecast.duckdb"),
        # tabular offers (CSV/Parquet/XLSX): field -> column name, e.g. {id = "Référence", date = "Date"}
        "offer_columns": ((dict,), {}),
        # mark re-published ads (same fiche, département, title, within dedupe_days) as duplicates
        "dedupe": ((bool,), True),
    },
    "scope": {
        "zones": ((list,), []),
        "region": ((str,), ""),
        "start": ((str,), "2019-01"),
        "end": ((str,), ""),
    },
    "series": {
        "levels": ((list,), list(LEVELS)),
        "measure": ((str,), "positions"),
        "min_total": ((int, float), 36),
        "top_skills": ((int,), 30),
        "dedupe_days": ((int,), 14),
        "dedupe_similarity": ((int, float), 0.95),  # the DARES rule: Jaccard >= 0.95
    },
    "models": {
        "families": ((list,), list(DEFAULT_FAMILIES)),
        "params": ((dict,), {}),
        "combine": ((dict,), {"combo": ["ets", "arima", "theta"]}),  # name -> members (forecast/strategy.py)
        "combine_how": ((str,), "mean"),
    },
    "reconcile": {  # forecast/reconcile.py: auto (chosen by backtest), none, bottom_up, wls_struct, ...
        "method": ((str,), "auto"),
        "domains": ((bool,), True),
    },
    "backtest": {
        "horizon": ((int,), 12),
        "windows": ((int,), 3),
        "step": ((int,), 0),
        "metric": ((str,), "mase"),
    },
    "forecast": {
        "horizon": ((int,), 24),
    },
    "supply": {  # rates: forecast/supply.py SupplyRates (defaults documented there and in the README)
        "completion_rate": ((int, float), 0.8),
        "projection_years": ((int,), 3),
        "insertion_rate": ((int, float), 0.7),
        "delay_months": ((int,), 1),
        "job_seekers": ((str,), ""),
        "outflow_rate": ((int, float), 0.05),
        "domains": ((dict,), {}),
    },
    "gap": {  # forecast/gap.py: a shortage needs P(shortage) >= shortage_probability and tension >= shortage_tension
        "horizons": ((list,), [12, 24]),
        "shortage_probability": ((int, float), 0.8),
        "shortage_tension": ((int, float), 3.0),
    },
    "plan": {  # forecast/actions.py Costs, forecast/plan.py
        "budget": ((int, float), 1_000_000),
        "unit": ((str,), "euros"),
        "cost_per_seat": ((int, float), 9000),
        "cost_per_seat_domains": ((dict,), {}),
        "mobility_cost": ((int, float), 2500),
        "employer_cost_per_hire": ((int, float), 3000),
        "lead_months": ((int,), 2),
        "max_sessions": ((int,), 3),
        "horizon": ((int,), 24),
        "paths": ((int,), 200),
        "time_limit": ((int, float), 60),
    },
    "output": {
        "dir": ((str,), "outputs"),
        "top_plots": ((int,), 10),
        "n_jobs": ((int,), 0),
    },
    "engine": {  # where and how per-series work runs: forecast/executors.py, cache.py, locking.py
        "engine": ((str,), "local"),
        "scheduler": ((str,), ""),
        "cache": ((bool,), True),
        "cache_dir": ((str,), ""),
        "lock_wait": ((int, float), 0),
        "backtest_refresh": ((int,), 1),
        "screen_sample": ((int,), 200),  # costly families screened per series class (forecast/screening.py); 0 = off
        # a costly family runs on a whole class only if it beats the best cheap candidate on the sample
        # by this share of the metric (0 = whenever it wins; forecast/screening.py DEFAULT_MARGIN)
        "screen_margin": ((int, float), 0.01),
    },
}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    path: Path
    name: str
    description: str
    offers: tuple[Path, ...]
    sessions: tuple[Path, ...]
    store: Path
    zones: tuple[str, ...]
    start: str
    end: str
    levels: tuple[str, ...]
    measure: str
    min_total: float
    top_skills: int
    dedupe_days: int
    dedupe_similarity: float
    families: tuple[str, ...]
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    backtest_horizon: int = 12
    backtest_windows: int = 3
    backtest_step: int = 12
    metric: str = "mase"
    horizon: int = 24
    completion_rate: float = 0.8
    projection_years: int = 3
    supply_params: dict[str, Any] = field(default_factory=dict)
    job_seekers: Path | None = None
    gap_horizons: tuple[int, ...] = (12, 24)
    gap_thresholds: tuple[float, float] = (0.8, 3.0)
    plan_params: dict[str, Any] = field(default_factory=dict)
    output_dir: Path = Path("outputs")
    top_plots: int = 10
    n_jobs: int = 0
    engine: str = "local"  # "local" process pool or "dask" cluster ([engine] section)
    scheduler: str = ""
    cache: bool = True
    cache_dir: Path | None = None
    lock_wait: float | None = 0.0
    backtest_refresh: int = 1
    screen_sample: int = 200
    screen_margin: float = 0.01
    combos: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"combo": ("ets", "arima", "theta")})
    combo_how: str = "mean"
    reconcile_method: str = "auto"
    reconcile_domains: bool = True
    offer_columns: dict[str, str] = field(default_factory=dict)
    dedupe: bool = True
    raw: dict[str, Any] = field(default_factory=dict)

    def supply_rates(self) -> Any:
        """The [supply] rates as a :class:`forecast.supply.SupplyRates`."""
        from forecast.supply import SupplyRates

        p = self.supply_params
        return SupplyRates(self.completion_rate, p.get("insertion_rate", 0.7), p.get("delay_months", 1),
                           p.get("outflow_rate", 0.05), dict(p.get("domains", {})))

    def plan_costs(self) -> Any:
        """The [plan] costs as a :class:`forecast.actions.Costs`."""
        from forecast.actions import Costs

        p = self.plan_params
        return Costs(p.get("unit", "euros"), float(p.get("cost_per_seat", 9000)), dict(p.get("cost_per_seat_domains", {})),
                     float(p.get("mobility_cost", 2500)), float(p.get("employer_cost_per_hire", 3000)),
                     int(p.get("lead_months", 2)), int(p.get("max_sessions", 3)))

    def model_specs(self) -> dict[str, dict[str, Any]]:
        """{family: params} for the engine."""
        return {f: dict(self.model_params.get(f, {})) for f in self.families}


def _err(path: Path, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _month(path: Path, where: str, value: str, allow_empty: bool) -> str:
    if value == "" and allow_empty:
        return ""
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise _err(path, where, f"expected a month as YYYY-MM, got {value!r}")
    return value


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: experiment file not found; give the path of a TOML experiment file, "
                          "e.g. experiments/reims.toml (copy it to start a new one)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read experiment file ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return experiment_from_dict(raw, path)


def experiment_from_dict(raw: dict[str, Any], path: Path = Path("<experiment>")) -> Experiment:
    """Validate a parsed experiment mapping (unknown keys, types, codes, names)."""
    values: dict[str, dict[str, Any]] = {}
    for section in raw:
        if section not in _SCHEMA:
            raise _err(path, f"[{section}]", f"unknown section (known: {', '.join(_SCHEMA)})")
        if not isinstance(raw[section], dict):
            raise _err(path, f"[{section}]", "must be a table")
    for section, keys in _SCHEMA.items():
        given = raw.get(section, {})
        for key in given:
            if key not in keys:
                raise _err(path, f"[{section}] {key}", f"unknown key (known: {', '.join(keys)})")
        values[section] = {}
        for key, (types, default) in keys.items():
            if key in given:
                value = given[key]
                if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                    names = " or ".join(t.__name__ for t in types)
                    raise _err(path, f"[{section}] {key}", f"expected {names}, got {type(value).__name__} {value!r}")
            elif default is ...:
                raise _err(path, f"[{section}] {key}", "required key is missing")
            else:
                value = default
            values[section][key] = value
    return _build(values, path, raw)


def _str_list(path: Path, where: str, value: list[Any]) -> list[str]:
    if not all(isinstance(v, str) for v in value):
        raise _err(path, where, "expected a list of strings")
    return list(value)


_RATES = ("completion_rate", "insertion_rate", "outflow_rate")


def _supply_plan(path: Path, v: dict[str, dict[str, Any]]) -> tuple[dict, dict, tuple[int, ...]]:
    """Validate [supply] rates (per domain too), [gap] horizons and [plan]."""
    sp = v["supply"]
    for key in _RATES[1:]:
        if not 0 <= float(sp[key]) <= 1:
            raise _err(path, f"[supply] {key}", f"must be in [0, 1], got {sp[key]}")
    if sp["delay_months"] < 0:
        raise _err(path, "[supply] delay_months", f"must be >= 0, got {sp['delay_months']}")
    for dom, rates in sp["domains"].items():
        where = f"[supply.domains.{dom}]"
        if not (len(dom) in (1, 3) and dom[0] in "ABCDEFGHIJKLMN"):
            raise _err(path, where, "a ROME grand domain ('J') or domain ('J15')")
        if not isinstance(rates, dict):
            raise _err(path, where, "must be a table of rates")
        for key, val in rates.items():
            if key not in (*_RATES, "delay_months"):
                raise _err(path, f"{where} {key}", f"unknown key (known: {', '.join((*_RATES, 'delay_months'))})")
            if isinstance(val, bool) or not isinstance(val, (int, float)):
                raise _err(path, f"{where} {key}", f"expected a number, got {val!r}")
            if key != "delay_months" and not 0 <= val <= 1:
                raise _err(path, f"{where} {key}", f"must be in [0, 1], got {val}")
            if key == "delay_months" and val < 0:
                raise _err(path, f"{where} {key}", f"must be >= 0, got {val}")
    horizons = v["gap"]["horizons"]
    if not horizons or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in horizons):
        raise _err(path, "[gap] horizons", f"expected a list of months >= 1, got {horizons!r}")
    gp = v["gap"]
    if not 0.5 <= gp["shortage_probability"] <= 1:
        raise _err(path, "[gap] shortage_probability", f"must be in [0.5, 1], got {gp['shortage_probability']}")
    if gp["shortage_tension"] < 1:
        raise _err(path, "[gap] shortage_tension", f"must be >= 1 (demand / supply), got {gp['shortage_tension']}")
    pl = v["plan"]
    if pl["budget"] < 0:
        raise _err(path, "[plan] budget", f"must be >= 0, got {pl['budget']}")
    if pl["unit"] not in ("euros", "seats"):
        raise _err(path, "[plan] unit", f"must be 'euros' or 'seats', got {pl['unit']!r}")
    for key in ("cost_per_seat", "mobility_cost", "employer_cost_per_hire", "time_limit"):
        if pl[key] < 0:
            raise _err(path, f"[plan] {key}", f"must be >= 0, got {pl[key]}")
    for dom, val in pl["cost_per_seat_domains"].items():
        if isinstance(val, bool) or not isinstance(val, (int, float)) or val < 0:
            raise _err(path, f"[plan.cost_per_seat_domains] {dom}", f"expected a cost >= 0, got {val!r}")
    for key in ("lead_months", "max_sessions", "horizon", "paths"):
        if pl[key] < (0 if key == "lead_months" else 1):
            raise _err(path, f"[plan] {key}", f"must be >= {0 if key == 'lead_months' else 1}, got {pl[key]}")
    supply = {k: sp[k] for k in ("insertion_rate", "delay_months", "outflow_rate", "domains")}
    return supply, dict(pl), tuple(sorted(set(horizons)))


def _offer_columns(path: Path, value: dict[str, Any]) -> dict[str, str]:
    from forecast.ingest.tabular import FIELDS

    for k, col in value.items():
        if k not in FIELDS:
            raise _err(path, f"[data.offer_columns] {k}", f"unknown field (known: {', '.join(FIELDS)})")
        if not isinstance(col, str) or not col:
            raise _err(path, f"[data.offer_columns] {k}", f"expected a column name, got {col!r}")
    return dict(value)


def _build(v: dict[str, dict[str, Any]], path: Path, raw: dict[str, Any]) -> Experiment:
    from forecast import referential
    from forecast.models import available_models

    zones = _str_list(path, "[scope] zones", v["scope"]["zones"])
    region = v["scope"]["region"]
    known_zones = set(referential.load_zones()["zone"])
    for z in zones:
        if z not in known_zones:
            raise _err(path, "[scope] zones", f"unknown zone d'emploi {z!r} (ZE2020 code, e.g. '4413' for Reims)")
    if region:
        region_zones = referential.region_zones(region) if region in set(referential.load_communes()["reg"]) else []
        if not region_zones:
            raise _err(path, "[scope] region", f"unknown region {region!r} (INSEE code, e.g. '44' for Grand Est)")
        zones = sorted(set(zones) | set(region_zones))
    if not zones:
        raise _err(path, "[scope]", "select at least one zone (zones = [\"4413\"]) or a region (region = \"44\")")
    start = _month(path, "[scope] start", v["scope"]["start"], allow_empty=False)
    end = _month(path, "[scope] end", v["scope"]["end"], allow_empty=True)
    if end and end < start:
        raise _err(path, "[scope] end", f"{end} is before start {start}")

    levels = _str_list(path, "[series] levels", v["series"]["levels"])
    for lv in levels:
        if lv not in LEVELS:
            raise _err(path, "[series] levels", f"unknown level {lv!r} (known: {', '.join(LEVELS)})")
    if "rome_zone" not in levels:
        raise _err(path, "[series] levels", "must include 'rome_zone' (the occupation x zone series)")
    measure = v["series"]["measure"]
    if measure not in MEASURES:
        raise _err(path, "[series] measure", f"unknown measure {measure!r} (known: {', '.join(MEASURES)})")
    if not 0.0 <= float(v["engine"]["screen_margin"]) < 1.0:
        raise _err(path, "[engine] screen_margin", f"must be in [0, 1), got {v['engine']['screen_margin']}")
    sim = float(v["series"]["dedupe_similarity"])
    if not 0 < sim <= 1:
        raise _err(path, "[series] dedupe_similarity", f"must be in (0, 1], got {sim}")

    known_models = available_models()
    families = _str_list(path, "[models] families", v["models"]["families"])
    if not families:
        raise _err(path, "[models] families", "name at least one model family")
    for f in families:
        if f not in known_models:
            raise _err(path, "[models] families", f"unknown model {f!r} (known: {', '.join(known_models)})")
    params = v["models"]["params"]
    for f, p in params.items():
        if f not in families:
            raise _err(path, f"[models.params.{f}]", f"parameters for a model that is not in families ({', '.join(families)})")
        if not isinstance(p, dict):
            raise _err(path, f"[models.params.{f}]", "must be a table")

    bt = v["backtest"]
    for key in ("horizon", "windows"):
        if bt[key] < 1:
            raise _err(path, f"[backtest] {key}", f"must be >= 1, got {bt[key]}")
    if bt["step"] < 0:
        raise _err(path, "[backtest] step", f"must be >= 0 (0 means equal to the horizon), got {bt['step']}")
    if bt["metric"] not in ("mase", "rmsse", "sql", "wape"):
        raise _err(path, "[backtest] metric", f"unknown metric {bt['metric']!r} (known: mase, rmsse, sql, wape)")
    combos = v["models"]["combine"]
    for name, members in combos.items():
        if not isinstance(members, list) or not all(isinstance(m, str) and m in known_models and m != "combo"
                                                    for m in members):
            raise _err(path, f"[models.combine] {name}", f"expected a list of model families, got {members!r}")
    if v["models"]["combine_how"] not in ("mean", "median"):
        raise _err(path, "[models] combine_how", "must be mean or median")
    from forecast.reconcile import METHODS as _RECONCILE

    if v["reconcile"]["method"] not in ("auto", "none", *_RECONCILE):
        raise _err(path, "[reconcile] method", f"unknown method {v['reconcile']['method']!r} "
                   f"(known: auto, none, {', '.join(_RECONCILE)})")
    if v["forecast"]["horizon"] < 1:
        raise _err(path, "[forecast] horizon", f"must be >= 1, got {v['forecast']['horizon']}")
    rate = float(v["supply"]["completion_rate"])
    if not 0 <= rate <= 1:
        raise _err(path, "[supply] completion_rate", f"must be in [0, 1], got {rate}")
    supply_params, plan_params, horizons = _supply_plan(path, v)
    if v["output"]["n_jobs"] < 0:
        raise _err(path, "[output] n_jobs", "must be >= 0 (0 = all cores)")
    eng = v["engine"]
    if eng["engine"] not in ("local", "dask"):
        raise _err(path, "[engine] engine", f"unknown engine {eng['engine']!r} (known: local, dask)")
    if eng["engine"] == "dask" and not eng["scheduler"]:
        raise _err(path, "[engine] scheduler", "the dask engine needs a scheduler address, e.g. \"tcp://10.0.0.5:8786\"")
    if eng["backtest_refresh"] < 1:
        raise _err(path, "[engine] backtest_refresh", f"must be >= 1 month, got {eng['backtest_refresh']}")

    return Experiment(
        path=path,
        name=v["experiment"]["name"],
        description=v["experiment"]["description"],
        offers=tuple(Path(p) for p in _str_list(path, "[data] offers", v["data"]["offers"])),
        sessions=tuple(Path(p) for p in _str_list(path, "[data] sessions", v["data"]["sessions"])),
        store=Path(v["data"]["store"]),
        offer_columns=_offer_columns(path, v["data"]["offer_columns"]),
        dedupe=v["data"]["dedupe"],
        zones=tuple(zones),
        start=start,
        end=end,
        levels=tuple(levels),
        measure=measure,
        min_total=float(v["series"]["min_total"]),
        top_skills=int(v["series"]["top_skills"]),
        dedupe_days=int(v["series"]["dedupe_days"]),
        dedupe_similarity=sim,
        families=tuple(families),
        model_params={k: dict(p) for k, p in params.items()},
        backtest_horizon=bt["horizon"],
        backtest_windows=bt["windows"],
        backtest_step=bt["step"] or bt["horizon"],
        metric=bt["metric"],
        horizon=v["forecast"]["horizon"],
        completion_rate=rate,
        projection_years=v["supply"]["projection_years"],
        supply_params=supply_params,
        job_seekers=Path(v["supply"]["job_seekers"]) if v["supply"]["job_seekers"] else None,
        gap_horizons=horizons,
        gap_thresholds=(float(v["gap"]["shortage_probability"]), float(v["gap"]["shortage_tension"])),
        plan_params=plan_params,
        output_dir=Path(v["output"]["dir"]),
        top_plots=v["output"]["top_plots"],
        n_jobs=v["output"]["n_jobs"],
        engine=eng["engine"],
        scheduler=eng["scheduler"],
        cache=eng["cache"],
        cache_dir=Path(eng["cache_dir"]) if eng["cache_dir"] else None,
        lock_wait=None if eng["lock_wait"] < 0 else float(eng["lock_wait"]),
        backtest_refresh=eng["backtest_refresh"],
        screen_sample=max(0, eng["screen_sample"]),
        screen_margin=float(eng["screen_margin"]),
        combos={k: tuple(m) for k, m in v["models"]["combine"].items()},
        combo_how=v["models"]["combine_how"],
        reconcile_method=v["reconcile"]["method"],
        reconcile_domains=v["reconcile"]["domains"],
        raw=raw,
    )
