"""Training with a Lightning Trainer. No pandas here.

Gradient clipping (on by default), early stopping on the validation loss, a checkpoint of the
best epoch (whose weights are restored before anything is predicted) and of the last
completed epoch (`last.ckpt`, to resume from). Faults:

- A NaN or infinite training loss stops training at once with `TrainingDiverged`, which names
  the likely causes; the checkpoints of earlier epochs are kept.
- Ctrl-C or SIGTERM stops training with `TrainingInterrupted`, which says how to resume;
  `last.ckpt` holds the last completed epoch. Resuming from it repeats the interrupted epoch
  and reaches the same weights as an uninterrupted run with the same seed.

Training runs with torch's deterministic algorithms, turned on for the fit only (see
`deterministic_algorithms`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger

from forecaster._io import atomic_write
from forecaster.errors import ConfigError, ForecasterError
from forecaster.training.module import ForecastModule
from forecaster.data.windows import WindowDataModule


# Two pieces of Lightning's own noise, filtered narrowly where they arise (everything else it
# says still shows): its advertisement for a cloud logger on every Trainer, and the FutureWarning
# torch raises when Lightning's own pytree helper builds a LeafSpec (nothing a user can change).
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                        category=FutureWarning, module=r"lightning\.pytorch\.utilities\._pytree")


def _not_an_advert(record: logging.LogRecord) -> bool:
    """False for the cloud-logger advert and for hardware lines that say nothing is there
    ("TPU available: False, using: 0 TPU cores"); "GPU available: True, used: False" still shows."""
    msg = str(record.msg)
    return not (msg.startswith("\N{ELECTRIC LIGHT BULB} Tip:") or msg == "GPU available: False, used: False"
                or msg.startswith(("TPU available: False", "HPU available: False")))


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_not_an_advert)


class TrainingDiverged(ForecasterError):
    """The training loss became NaN or infinite."""


class TrainingInterrupted(ForecasterError):
    """Ctrl-C or SIGTERM during training."""

    exit_code = 130


class LossHistory(Callback):
    """Mean training and validation loss of every epoch; saved in checkpoints."""

    def __init__(self) -> None:
        self.train: list[float] = []
        self.val: list[float] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Runs before the checkpoint callbacks, so a checkpoint holds its own epoch's losses.
        if trainer.sanity_checking:
            return
        self.train.append(pl_module.epoch_train_loss())
        self.val.append(float(trainer.callback_metrics.get("val_loss", float("nan"))))

    def state_dict(self) -> dict:
        return {"train": list(self.train), "val": list(self.val)}

    def load_state_dict(self, state: dict) -> None:
        self.train, self.val = list(state["train"]), list(state["val"])


class FiniteLoss(Callback):
    """Stops at the first NaN or infinite training loss instead of training on garbage."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = float(outputs["loss"] if isinstance(outputs, dict) else outputs)
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"training loss became {loss} at epoch {trainer.current_epoch + 1}, "
                f"step {batch_idx + 1}")


class EpochCheckpoints(ModelCheckpoint):
    """`best.ckpt` whenever the validation loss improves and `last.ckpt` after every epoch.

    Lightning's own ModelCheckpoint (2.6) writes `last.ckpt` only in epochs that also write a
    new best, so after an epoch without improvement it held an older epoch; and in an epoch
    that improved it serialized the same state twice. Here an epoch that improves writes
    best.ckpt and copies its bytes to last.ckpt (both hold the same state: `last_model_path` is
    set before either is written); an epoch that does not writes last.ckpt alone. Every write is
    atomic (a temporary file renamed into place), so a hard kill (SIGKILL, power loss) leaves
    the previous epoch's files whole: `--resume` then repeats at most the epoch it interrupted.
    """

    def __init__(self, dirpath: Path) -> None:
        super().__init__(dirpath=dirpath, filename="best", monitor="val_loss", mode="min", save_top_k=1,
                         save_last=True, enable_version_counter=False)
        self._state_key: str | None = None

    @property
    def state_key(self) -> str:
        # ModelCheckpoint's key, so that checkpoints written before this class resume the same
        # way; computed once (Lightning reads it on every hook call of every step).
        if self._state_key is None:
            key = super().state_key
            self._state_key = "ModelCheckpoint" + key[len(type(self).__qualname__):]
        return self._state_key

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._should_skip_saving_checkpoint(trainer) and self._should_save_on_train_epoch_end(trainer):
            self._save_epoch(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._should_skip_saving_checkpoint(trainer) and not self._should_save_on_train_epoch_end(trainer):
            self._save_epoch(trainer)

    def _save_epoch(self, trainer: L.Trainer) -> None:
        candidates = self._monitor_candidates(trainer)
        last = self.format_checkpoint_name(candidates, self.CHECKPOINT_NAME_LAST)
        self.last_model_path = last  # part of the state in both files
        self._save_topk_checkpoint(trainer, candidates)
        best = self.best_model_path
        if self._last_global_step_saved == trainer.global_step and best and os.path.isfile(best):
            if trainer.is_global_zero:  # the same state, just written: its bytes, not a second serialization
                atomic_write(last, lambda tmp: shutil.copyfile(best, tmp))
            trainer.strategy.barrier()
        else:  # no new best (or a strategy that saves a folder): serialize the state for last.ckpt
            self._save_last_checkpoint(trainer, candidates)


@dataclass
class TrainResult:
    checkpoint: Path
    best_epoch: int  # 1-based epoch of the best validation loss
    epochs: int
    seconds: float
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)  # per training step, before clipping


def make_trainer(run_dir: Path, max_epochs: int = 30, patience: int = 5,
                 gradient_clip_val: float = 1.0, accelerator: str = "auto",
                 devices: str | int = "auto", precision: str = "32-true",
                 strategy: str = "auto", num_nodes: int = 1, progress: bool = True,
                 callbacks: list[Callback] | None = None, logger: str = "none") -> L.Trainer:
    """A Trainer with clipping, early stopping, and best and last checkpoints in
    `run_dir/checkpoints/`; `logger` (csv, tensorboard, mlflow) also logs into `run_dir`.
    Fit it with `train`, which makes training deterministic (the Trainer itself leaves torch's
    global flags alone).

    Lightning's own objections to accelerator, devices or precision become a ConfigError.
    """
    callbacks = [EpochCheckpoints(Path(run_dir) / "checkpoints"), LossHistory(), FiniteLoss(), *(callbacks or [])]
    if patience > 0:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=patience))
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    check_logger(logger)  # the logger itself is made by `train`, once the run folder is claimed
    try:
        return L.Trainer(max_epochs=max_epochs, accelerator=accelerator, devices=devices,
                         precision=precision, strategy=strategy, num_nodes=num_nodes,
                         gradient_clip_val=gradient_clip_val or None,
                         callbacks=callbacks, logger=False, benchmark=False,  # `train` sets determinism
                         enable_model_summary=False, enable_progress_bar=progress,
                         default_root_dir=run_dir, log_every_n_steps=10,
                         num_sanity_val_steps=0,  # our validation_step is tested code: no extra pass
                         use_distributed_sampler=False)  # WindowBatches shards by rank itself
    except (MisconfigurationException, ValueError, TypeError) as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"Lightning refused the trainer settings: {first}; check --accelerator, "
                          "--devices, --precision, --strategy and --num-nodes") from None


@contextmanager
def deterministic_algorithms() -> Iterator[None]:
    """torch's deterministic algorithms (what Lightning's `deterministic=True` sets) for the
    duration of a fit, and the caller's flags back afterwards.

    Without torch's filling of uninitialized memory, which that mode also turns on: every
    tensor torch allocates uninitialized (each LSTM step's gates and their gradients) would
    first be filled with NaN, which made the small task's plain loop 1.16x slower (BENCHMARKS.md,
    benchmark 6). The filling only makes a read of memory that no kernel wrote visible; a kernel
    that writes its whole output gives the same results without it.
    """
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.utils.deterministic.fill_uninitialized_memory)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, as Lightning sets it
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.utils.deterministic.fill_uninitialized_memory = before[2]


# Each logger: its optional dependency (module to import, extra that installs it).
LOGGER_EXTRAS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}


def check_logger(kind: str) -> None:
    """A logger whose optional package is missing is a one-line ConfigError naming the extra."""
    if kind in LOGGER_EXTRAS:
        package, extra = LOGGER_EXTRAS[kind]
        try:
            __import__(package)
        except ImportError:
            raise ConfigError(f"--logger {kind} needs the {package} package; install it with "
                              f"`pip install 'forecaster[{extra}]'`") from None


def make_logger(kind: str, run_dir: Path) -> Logger | None:
    """The Lightning logger `kind` writing into the run folder (None for `none`):
    csv -> logs/metrics.csv, tensorboard -> tensorboard/ (event files), mlflow -> mlflow.db (a
    SQLite tracking store with the artifacts beside it in mlartifacts/), or the server named by
    MLFLOW_TRACKING_URI when that is set."""
    if kind == "none":
        return None
    check_logger(kind)
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger
        return CSVLogger(run_dir, name="logs", version="")
    if kind == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger
        return TensorBoardLogger(run_dir, name="tensorboard", version="", default_hp_metric=False)
    from lightning.pytorch.loggers import MLFlowLogger
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # "Creating initial tables"
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{run_dir.resolve() / 'mlflow.db'}"
    artifacts = None if os.environ.get("MLFLOW_TRACKING_URI") else (run_dir.resolve() / "mlartifacts").as_uri()
    return MLFlowLogger(experiment_name="forecaster", run_name=run_dir.name, tracking_uri=uri,
                        artifact_location=artifacts)


def train(module: ForecastModule, data: WindowDataModule, trainer: L.Trainer,
          resume_from: Path | None = None, logger: str = "none", hparams: dict | None = None) -> TrainResult:
    """Fit `module` on `data` (from `resume_from` if given); restore the best epoch's weights.
    `logger` (see `make_logger`) records the run and its `hparams` into its folder, which the
    caller has claimed."""
    best = trainer.checkpoint_callback
    run_dir = Path(best.dirpath).parent
    if logger != "none" and trainer.is_global_zero:
        trainer.loggers = [make_logger(logger, run_dir)]
        trainer.logger.log_hyperparams(hparams or {})
    history = next(c for c in trainer.callbacks if isinstance(c, LossHistory))
    started = time.perf_counter()
    try:
        with deterministic_algorithms(), warnings.catch_warnings():
            # Lightning suggests loader workers on any machine of over 2 cores; our batches are
            # gathered from zero-copy windows in memory, which workers would only copy.
            warnings.filterwarnings("ignore", message=r"The '\w+_dataloader' does not have many workers",
                                    module=r"lightning\.pytorch\.trainer\.connectors\.data_connector")
            if resume_from is not None:  # the folder holds this run's own checkpoints, as it should
                warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty",
                                        module=r"lightning\.pytorch\.callbacks\.model_checkpoint")
            trainer.fit(module, datamodule=data, ckpt_path=resume_from)
    except TrainingDiverged as err:
        kept = (f"the best epoch so far is kept in {best.best_model_path}" if best.best_model_path
                else "no epoch finished, so no checkpoint was kept")
        raise TrainingDiverged(f"{err}; likely causes: a learning rate too high (try --learning-rate "
                               "1e-4), exploding gradients (lower --gradient-clip-val) or extreme "
                               f"values in the data; {kept}") from None
    except (KeyboardInterrupt, SystemExit) as err:  # Lightning turns Ctrl-C into sys.exit(1)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning ignored further ^C
        last = Path(best.dirpath) / "last.ckpt"
        where = (f"the last completed epoch is saved in {last}; continue with "
                 f"`forecaster fit --resume {run_dir}`") if last.is_file() else \
            "no epoch had finished, so there is nothing to resume; run it again"
        raise TrainingInterrupted(f"training interrupted ({type(err).__name__}); {where}") from None
    seconds = time.perf_counter() - started
    path = Path(best.best_model_path)
    if trainer.is_global_zero:  # the process that saved it (and writes the run) restores it
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
    best_epoch = int(np.nanargmin(history.val)) + 1 if history.val else 0
    return TrainResult(checkpoint=path, best_epoch=best_epoch, epochs=len(history.val),
                       seconds=seconds, train_loss=history.train, val_loss=history.val,
                       grad_norms=list(module.grad_norms))
