"""The Optuna side of `tune`: the study in its storage, and its trials asked and told one by one.

A trial draws its values from the search space, trains that network on the training split and
stops early on the validation split, as `fit` does. After every epoch Lightning's pruning
callback reports the validation loss to a median pruner, which stops a trial whose loss trails
the median of earlier trials at the same epoch. A trial's value is its best validation loss:
no trial forecasts the test split. A trial whose settings or training fail (a lookback longer
than the data allows, a diverged training) is recorded as failed with the reason, and the study
goes on. Only the best config matters afterwards, so each trial's checkpoints are deleted and a
small `trial.json` is kept in its folder.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import plotly.graph_objects as go
import torch

from forecaster._io import atomic_write_text
from forecaster.config import FitConfig
from forecaster.data.frame import ValidFrame
from forecaster.errors import ConfigError, ForecasterError
from forecaster.report.tune import TARGET, TrialRow
from forecaster.runs.pipeline import prepare_data, train_network, trainer_for
from forecaster.runs.space import SearchSpace, trial_config
from forecaster.training.trainer import LossHistory, TrainingInterrupted

try:  # the optional `tune` extra
    import optuna
    from optuna.trial import FrozenTrial, TrialState
    from optuna.visualization import plot_optimization_history, plot_parallel_coordinate, plot_param_importances
    from optuna_integration import PyTorchLightningPruningCallback
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
except ImportError as err:
    raise ConfigError(f"forecaster tune needs the {err.name} package; install the tune extra with "
                      "`pip install 'forecaster[tune]'`") from None

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STATE_NAMES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
               TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}
PRUNER_STARTUP_TRIALS = 3  # trials that run to the end before the pruner compares any
PRUNER_WARMUP_EPOCHS = 2  # epochs of every trial that are never pruned


@dataclass
class TrialRecord:
    """One finished trial, as this process ran it (kept as trials/<number>/trial.json)."""

    number: int
    state: str  # complete, pruned or failed
    value: float | None  # best validation loss (complete trials only)
    params: dict[str, Any]
    val_loss: list[float] = field(default_factory=list)  # per epoch, as far as it trained
    seconds: float = 0.0
    reason: str = ""  # why it was pruned or failed

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


def shown_url(url: str) -> str:
    """A storage URL fit to print: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return url


@contextmanager
def optuna_warnings_only() -> Iterator[None]:
    """Optuna's log at WARNING while tuning ("A new study created..." is not news), and none of
    Lightning's "`Trainer.fit` stopped: ..." lines: the command prints its own line per trial."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lightning_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    lightning_log.addFilter(_not_a_trial_end)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)
        lightning_log.removeFilter(_not_a_trial_end)


def _not_a_trial_end(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("`Trainer.fit` stopped:")


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The study's database (created if new); an unusable URL is a one-line ConfigError."""
    try:
        return optuna.storages.RDBStorage(url)
    except (ImportError, SQLAlchemyError, ValueError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0][:160]
        raise ConfigError(f"--storage {shown_url(url)} cannot be opened ({type(err).__name__}: {first}); "
                          "give a SQLAlchemy URL such as sqlite:///study.db or "
                          "postgresql://user:password@host/db, with its driver installed") from None


def studies_in(storage: optuna.storages.RDBStorage) -> dict[str, optuna.study.StudySummary]:
    """Each study in `storage` by name (its user_attrs hold the settings it was started with)."""
    return {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}


def open_study(storage: optuna.storages.RDBStorage, name: str, settings: dict,
               seed: int | None) -> optuna.Study:
    """The study `name` in `storage`, created or continued, minimizing the validation loss."""
    pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                         n_warmup_steps=PRUNER_WARMUP_EPOCHS)
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=pruner)
    if "settings" not in study.user_attrs:
        study.set_user_attr("settings", settings)
    return study


def fail_stale(study: optuna.Study) -> int:
    """Mark trials left running by a process that stopped (killed, or interrupted between
    trials) as failed. Only for a storage no other process uses: on a shared one, a running
    trial may be another machine's."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study.tell(t.number, state=TrialState.FAIL)
    return len(stale)


def finished(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


def run_trials(study: optuna.Study, base: FitConfig, space: SearchSpace, frames: dict[str, ValidFrame],
               target: int, deadline: float | None, folder: Path,
               on_trial: Callable[[TrialRecord], None] | None = None) -> list[TrialRecord]:
    """Ask, train and tell trials on the loaded series `frames` until the study holds `target`
    finished ones (counting those of other processes sharing it) or `deadline`
    (time.monotonic) has passed."""
    records = []
    while len(finished(study)) < target and (deadline is None or time.monotonic() < deadline):
        trial = study.ask()
        record = run_trial(study, trial, base, space, frames, folder / str(trial.number))
        records.append(record)
        if on_trial:
            on_trial(record)
    return records


def run_trial(study: optuna.Study, trial: optuna.Trial, base: FitConfig, space: SearchSpace,
              frames: dict[str, ValidFrame], folder: Path) -> TrialRecord:
    """Train one trial's network (train and validation splits only) and tell the study how it went."""
    started = time.perf_counter()
    params = space.suggest(trial)
    state, value, reason, trainer = TrialState.FAIL, None, "", None
    drop_checkpoints(folder)  # a trial folder of an older study
    try:
        cfg = trial_config(base, params, f"trial {trial.number}")
        pruner = PyTorchLightningPruningCallback(trial, monitor="val_loss")
        trainer = trainer_for(cfg, folder, progress=False, callbacks=[pruner])
        _, panel, data = prepare_data(cfg, frames)  # the series loaded once, for every trial
        net = train_network(cfg, cfg.model, panel, data, trainer)
        value = best_loss(net.training.val_loss)
        state = TrialState.COMPLETE if value is not None else TrialState.FAIL
        reason = "" if value is not None else "its validation loss was never finite"
    except optuna.TrialPruned:
        state = TrialState.PRUNED
        reason = (f"pruned after epoch {len(epoch_losses(trainer))}: its validation loss trailed "
                  "the median of earlier trials at that epoch")
    except TrainingInterrupted:
        study.tell(trial, state=TrialState.FAIL)
        raise TrainingInterrupted(f"tuning interrupted during trial {trial.number}; the finished "
                                  "trials are kept: run the same command again to continue the study") from None
    except ForecasterError as err:
        reason = str(err)
    except torch.cuda.OutOfMemoryError:
        reason = "out of GPU memory: a smaller hidden_size, batch_size or lookback in the space fits"
    except BaseException:  # a bug or Ctrl-C outside training: the study records the trial as failed
        study.tell(trial, state=TrialState.FAIL)
        raise
    finally:
        drop_checkpoints(folder)
    losses = epoch_losses(trainer)
    trial.set_user_attr("epochs", len(losses))
    if reason:
        trial.set_user_attr("reason", reason)
    study.tell(trial, value, state=state)
    record = TrialRecord(trial.number, STATE_NAMES[state], value, params, losses,
                         round(time.perf_counter() - started, 2), reason)
    atomic_write_text(folder / "trial.json", record.to_json())
    return record


def drop_checkpoints(folder: Path) -> None:
    """A trial's checkpoints: only its record and the best config matter afterwards."""
    if (folder / "checkpoints").is_dir():
        shutil.rmtree(folder / "checkpoints")


def best_loss(val_loss: list[float]) -> float | None:
    """The objective: the lowest finite validation loss of any epoch (None if there is none)."""
    finite = [v for v in val_loss if math.isfinite(v)]
    return min(finite) if finite else None


def epoch_losses(trainer: L.Trainer | None) -> list[float]:
    """The validation loss of every epoch the trainer finished (a pruned trial's too)."""
    if trainer is None:
        return []
    return list(next(c for c in trainer.callbacks if isinstance(c, LossHistory)).val)


def complete_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def state_counts(study: optuna.Study) -> dict[str, int]:
    """The study's trials by state name (complete, pruned, failed, running), those present."""
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return {name: states.count(s) for s, name in STATE_NAMES.items() if s in states}


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    """Every trial of the study (of every process sharing it), for the report's table."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        note = t.user_attrs.get("reason", "interrupted: its process stopped before the trial ended"
                                if t.state == TrialState.FAIL else "")
        rows.append(TrialRow(t.number, STATE_NAMES[t.state], t.value if t.state == TrialState.COMPLETE else None,
                             t.user_attrs.get("epochs"), dict(t.params),
                             round(t.duration.total_seconds(), 1) if t.duration else None, note))
    return rows


def study_figures(study: optuna.Study) -> tuple[dict[str, go.Figure], list[str]]:
    """Optuna's own figures of the study, and a sentence for each one left out and why."""
    complete = complete_trials(study)
    if not complete:
        return {}, ["No trial has completed yet, so the study has no figures."]
    figs = {"history": plot_optimization_history(study, target_name=TARGET)}
    notes = []
    varying = [n for n in complete[0].params if len({repr(t.params.get(n)) for t in complete}) > 1]
    if len(complete) >= 2 and len(varying) > 1:
        figs["importances"] = plot_param_importances(study, params=varying, target_name=TARGET)
    else:
        notes.append(f"Hyperparameter importances are left out: they need at least two completed "
                     f"trials that differ in more than one parameter ({len(complete)} completed, "
                     f"{len(varying)} parameter{'s' if len(varying) != 1 else ''} varying).")
    figs["parallel"] = plot_parallel_coordinate(study, target_name=TARGET)
    return figs, notes
