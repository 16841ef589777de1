"""`tune`: a search over hyperparameters with Optuna, judged on the validation split, then a
`fit` of the best config.

    forecaster tune --dataset ibm --trials 30 [--timeout S] [--storage URL] [--space FILE] --out DIR

A trial's config is the command's own (flags and --config) with the search space's values on
top (`forecaster.runs.space`); how a trial trains and is pruned: `forecaster.runs.study`.
The --out folder holds:

- study.db: the study (SQLite, the default storage). The same command again with the same
  --out continues it until it holds --trials finished trials, so an interrupted tune resumes;
- trials/<number>/trial.json: each trial run here: values, state, validation loss per epoch;
- best.yaml: the best trial's config, only the keys that differ from the defaults
  (`forecaster fit --config best.yaml` trains it);
- tune.html: the best trial, the space, Optuna's figures of the study and every trial;
- best/: the fit of the best config, with its report.html and metrics.json: the test split is
  evaluated here, once, against the naive baselines, and never for a trial.

The study is named after the data and a digest of the settings and the space, so the same
command given the same --storage URL on several machines adds trials to one study (a server
database such as PostgreSQL; SQLite suits one machine).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forecaster._io import atomic_write_text
from forecaster.config import FitConfig
from forecaster.data.select import data_label, load_series
from forecaster.errors import ConfigError, ForecasterError
from forecaster.report.tune import TuneSummary, write_tune_report
from forecaster.runs.fit import fit
from forecaster.runs.folder import LOCK_NAME, claimed
from forecaster.runs.pipeline import trainer_for
from forecaster.runs.results import FitResult
from forecaster.runs.space import SearchSpace, load_space, params_text, trial_config
from forecaster.runs.study import (TrialRecord, complete_trials, fail_stale, open_storage, open_study,
                                   optuna, optuna_warnings_only, run_trials, shown_url, state_counts,
                                   studies_in, study_figures, trial_rows)

STUDY_DB = "study.db"
OUTPUTS = {STUDY_DB, "best.yaml", "tune.html", "trials", "best", LOCK_NAME}  # what --out may hold
# Not part of what a study searches under: where it writes, how long it runs, and the
# processes and hardware of one machine (machines sharing a study may differ in them).
NOT_SETTINGS = ("trials", "timeout", "storage", "space", "out", "overwrite", "logger", "offline",
                "accelerator", "devices", "strategy", "num_nodes")
NOT_IN_BEST = ("trials", "timeout", "storage", "space", "out", "overwrite")


@dataclass
class TuneResult:
    study_name: str
    storage: str  # the SQLAlchemy URL of the study
    best_trial: int
    best_value: float  # its best validation loss
    best_params: dict[str, Any]
    best_config: FitConfig
    best_yaml: Path
    report: Path  # tune.html
    best_run: Path  # the fit of the best config
    fit: FitResult = field(repr=False)
    counts: dict[str, int] = field(default_factory=dict)  # the study's trials by state
    added: list[TrialRecord] = field(default_factory=list)  # the trials this call ran

    @property
    def verdict(self) -> str:
        """The best fit's verdict on the test split against the naive last value."""
        return self.fit.verdict


def one_process(cfg: FitConfig) -> FitConfig:
    """Trials and the best fit run in this process: several processes are refused, and
    `devices auto` becomes one device (Lightning would start a process per GPU)."""
    if cfg.strategy != "auto" or cfg.num_nodes != 1 or str(cfg.devices) not in ("auto", "1"):
        raise ConfigError("tune trains each trial in one process; drop --strategy, --num-nodes and "
                          "--devices (several machines tune one study with the same --storage)")
    return dataclasses.replace(cfg, devices="1")


def check_not_given(cfg: FitConfig, space: SearchSpace) -> None:
    """A value given for a searched field would be silently replaced: refuse it."""
    defaults = FitConfig()
    given = [n for n in space.names if getattr(cfg, n) != getattr(defaults, n)]
    if given:
        name = given[0]
        raise ConfigError(f"{name} is searched by the tune space ({space.source}), so its value "
                          f"{getattr(cfg, name)!r} would be ignored; drop --{name.replace('_', '-')} from "
                          f"the flags and --config, or take {name} out of the space (--space FILE)")


def tune_dir(cfg: FitConfig) -> Path:
    if cfg.out:
        path = Path(cfg.out)
    else:
        path = Path("runs") / f"{data_label(cfg).lower()}-tune-{time.strftime('%Y%m%d-%H%M%S')}"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file; choose a folder path")
    return path


def check_tune_folder(path: Path, overwrite: bool) -> None:
    """--out may hold a tune's own files (resuming it); anything else needs --overwrite."""
    foreign = sorted(p.name for p in path.iterdir() if not is_tune_output(p.name))
    if foreign and not overwrite:
        raise ConfigError(f"--out {path} holds files that are not a tune's ({', '.join(foreign[:3])}); "
                          "choose another --out, or pass --overwrite to tune there anyway")


def is_tune_output(name: str) -> bool:
    """A name `tune` writes in --out: its outputs, SQLite's side files, an atomic write's
    temporary file left by a killed process."""
    return (name in OUTPUTS or name.startswith(f"{STUDY_DB}-")
            or (name.startswith((".best.yaml.", ".tune.html.")) and name.endswith(".tmp")))


def study_settings(cfg: FitConfig, space: SearchSpace) -> dict[str, Any]:
    """What the study's trials share: the config the trials start from and the space."""
    fixed = {k: v for k, v in cfg.to_dict().items() if k not in NOT_SETTINGS and k not in space.names}
    return {"config": fixed, "space": space.describe()}


def study_name(cfg: FitConfig, settings: dict[str, Any]) -> str:
    """`forecaster-<data>-<digest of the settings>`: the same on every machine given the same
    settings, different for different ones."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"forecaster-{data_label(cfg).lower()}-{digest}"


def settings_difference(theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    a, b = theirs.get("config", {}), ours["config"]
    diffs = [f"{k} {a.get(k)!r} there, {b.get(k)!r} here" for k in sorted(set(a) | set(b))
             if a.get(k) != b.get(k)]
    if theirs.get("space") != ours["space"]:
        diffs.append("another search space")
    return "; ".join(diffs[:3]) or "unknown settings"


def best_values(cfg: FitConfig) -> dict[str, Any]:
    """best.yaml: the values of `cfg` that differ from the defaults, without tune's own."""
    defaults = FitConfig()
    return {k: v for k, v in cfg.to_dict().items()
            if k not in NOT_IN_BEST and v != getattr(defaults, k)}


def tune(cfg: FitConfig, progress: bool = True,
         on_trial: Callable[[TrialRecord], None] | None = None) -> TuneResult:
    """Run the study named by `cfg` (up to `cfg.trials` finished trials, or `cfg.timeout`
    seconds), then write best.yaml and tune.html and fit the best config into <out>/best.
    `on_trial` is called with each trial's record as it ends."""
    given = cfg
    cfg = one_process(cfg)
    space = load_space(cfg.space, cfg)
    check_not_given(cfg, space)
    out = tune_dir(cfg)
    trainer_for(cfg, out / "trials", progress=False)  # bad trainer flags fail before any work
    frames = load_series(cfg)  # the data fails here, not in every trial
    settings = study_settings(cfg, space)
    name = study_name(cfg, settings)
    deadline = time.monotonic() + cfg.timeout if cfg.timeout else None
    with claimed(out, reuse=True), optuna_warnings_only():
        check_tune_folder(out, cfg.overwrite)
        study, url = open_tune_study(cfg, out, name, settings)
        added = run_trials(study, cfg, space, frames, cfg.trials, deadline, out / "trials", on_trial)
        return write_outputs(given, cfg, study, url, space, out, added, progress)


def open_tune_study(cfg: FitConfig, out: Path, name: str,
                    settings: dict[str, Any]) -> tuple[optuna.Study, str]:
    """The study and its URL. The default storage (SQLite in --out) holds this study alone and
    no other process uses it: a trial left running there was interrupted and is marked failed.
    Its sampler's seed is --seed plus the trials so far, so a resumed study draws new values;
    on a shared --storage every process draws its own (random) seed, so that machines do not
    propose the same trials."""
    url = cfg.storage or f"sqlite:///{(out / STUDY_DB).resolve()}"
    storage = open_storage(url)
    studies = studies_in(storage)
    others = [s for n, s in studies.items() if n != name]
    if not cfg.storage and others:
        raise ConfigError(f"--out {out} holds the tune study {others[0].study_name} of other settings "
                          f"({settings_difference(others[0].user_attrs.get('settings', {}), settings)}); "
                          "run it with its settings to continue it, or choose another --out")
    seed = None if cfg.storage else cfg.seed + (studies[name].n_trials if name in studies else 0)
    study = open_study(storage, name, settings, seed)
    if not cfg.storage:
        fail_stale(study)
    return study, url


def write_outputs(given: FitConfig, cfg: FitConfig, study: optuna.Study, url: str, space: SearchSpace,
                  out: Path, added: list[TrialRecord], progress: bool) -> TuneResult:
    """best.yaml, tune.html and the fit of the best config, from the study as it stands (with
    the trials of every process sharing it)."""
    counts = state_counts(study)
    complete = complete_trials(study)
    report = out / "tune.html"
    summary = TuneSummary(title=f"Tuning {data_label(cfg)}: {sum(counts.values())} trials",
                          subtitle=(f"study {study.study_name} in {shown_url(url)}: "
                                    + ", ".join(f"{n} {s}" for s, n in counts.items())),
                          best="No trial completed.", best_number=None, space=space.describe(),
                          trials=trial_rows(study))
    if not complete:
        write_tune_report(report, summary, *study_figures(study))
        reasons = [r.note for r in summary.trials if r.note]
        raise ForecasterError(f"no trial of study {study.study_name} completed"
                              + (f" (the first reason: {reasons[0]})" if reasons else "")
                              + f"; see {report}, then fix the settings or widen the space")
    best = study.best_trial
    best_yaml = atomic_write_text(out / "best.yaml", (
        f"# The best of {len(complete)} completed trials of tune study {study.study_name}: trial "
        f"{best.number}, validation loss {best.value:.6g}.\n# Train it: forecaster fit --config best.yaml\n"
        + yaml.safe_dump(best_values(trial_config(given, best.params, "best.yaml")), sort_keys=False)))
    links = {"best.yaml": "best.yaml", "the fit of the best config (test split)": "best/report.html"}
    line = f"Best: trial {best.number}, validation loss {best.value:.4g}: {params_text(best.params)}."
    write_tune_report(report, dataclasses.replace(summary, best=line, best_number=best.number, links=links),
                      *study_figures(study))
    best_cfg = trial_config(cfg, best.params, f"trial {best.number}")
    result = fit(dataclasses.replace(best_cfg, out=str(out / "best"), overwrite=True), progress=progress)
    return TuneResult(study.study_name, url, best.number, best.value, dict(best.params), best_cfg,
                      best_yaml, report, result.run_dir, result, counts, added)
