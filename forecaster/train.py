"""Training and batched prediction with a Lightning Trainer. No pandas here.

Gradient clipping (on by default), early stopping on the validation loss, and a checkpoint of
the best epoch, whose weights are restored before anything is predicted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from forecaster.diagnostics import GradNormHistory
from forecaster.errors import ConfigError
from forecaster.module import ForecastModule
from forecaster.windows import WindowDataModule


class LossHistory(Callback):
    """Records the mean training and validation loss of every epoch."""

    def __init__(self) -> None:
        self.train: list[float] = []
        self.val: list[float] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        m = trainer.callback_metrics
        self.train.append(float(m["train_loss"]) if "train_loss" in m else float("nan"))
        self.val.append(float(m["val_loss"]) if "val_loss" in m else float("nan"))


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
                 progress: bool = True) -> L.Trainer:
    """A Trainer with clipping, early stopping and a best-epoch checkpoint in `run_dir`.

    Lightning's own objections to accelerator, devices or precision become a ConfigError.
    """
    callbacks = [ModelCheckpoint(dirpath=run_dir, filename="best", monitor="val_loss", mode="min",
                                 save_top_k=1, enable_version_counter=False), LossHistory(),
                 GradNormHistory()]
    if patience > 0:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=patience))
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    try:
        return L.Trainer(max_epochs=max_epochs, accelerator=accelerator, devices=devices,
                         precision=precision, gradient_clip_val=gradient_clip_val or None,
                         callbacks=callbacks, logger=False, deterministic=True,
                         enable_model_summary=False, enable_progress_bar=progress,
                         default_root_dir=run_dir, log_every_n_steps=10)
    except (MisconfigurationException, ValueError, TypeError) as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"Lightning refused the trainer settings: {first}; check --accelerator, "
                          "--devices and --precision") from None


def train(module: ForecastModule, data: WindowDataModule, trainer: L.Trainer) -> TrainResult:
    """Fit `module` on `data`; restore the best epoch's weights into `module`."""
    best = trainer.checkpoint_callback
    history = next(c for c in trainer.callbacks if isinstance(c, LossHistory))
    norms = next(c for c in trainer.callbacks if isinstance(c, GradNormHistory))
    started = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - started
    path = Path(best.best_model_path)
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state)
    best_epoch = int(np.nanargmin(history.val)) + 1 if history.val else 0
    return TrainResult(checkpoint=path, best_epoch=best_epoch, epochs=len(history.val),
                       seconds=seconds, train_loss=history.train, val_loss=history.val,
                       grad_norms=norms.norms)


@torch.inference_mode()
def predict(module: torch.nn.Module, data: WindowDataModule, split: str = "test") -> np.ndarray:
    """Model-space forecasts (N, H, C) for every window of `split`, in batched passes."""
    module.eval()
    device = next(module.parameters()).device
    ds = data.dataset(split)
    step = max(data.batch_size, 1024)
    out = []
    for i in range(0, len(ds), step):
        x, _ = ds[torch.arange(i, min(i + step, len(ds)))]
        out.append(module(x.to(device)).float().cpu())
    return torch.cat(out).numpy()
