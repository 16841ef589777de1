"""The one LightningModule: loss, optimizer and logging around any network of `forecaster.nets`.

The network's output is read through `forecaster.nets.build.distribution` (the output contract).

`loss` is "mse" (point forecasts) or "gaussian" (the network emits a mean and a log standard
deviation per target and step, trained by Gaussian negative log-likelihood).
The learning rate may decay per epoch (`lr_decay`, see `configure_optimizers`).
Teacher forcing (for the seq2seq family) is `teacher_forcing * teacher_forcing_decay ** epoch`.
Checkpoints also hold torch's random state, so that a resumed run continues exactly. Gradient clipping, early stopping and
checkpointing are Trainer settings and callbacks, configured in `forecaster.training.trainer`.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from forecaster.data.windows import Batch
from forecaster.nets.build import distribution

_PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "_loss_sum", "_loss_count"})  # see __setattr__


class ForecastModule(L.LightningModule):
    def __init__(self, network: nn.Module, learning_rate: float = 1e-3, weight_decay: float = 0.0,
                 teacher_forcing: float = 0.0, teacher_forcing_decay: float = 1.0,
                 loss: str = "mse", lr_decay: float = 1.0) -> None:
        super().__init__()
        self.network = network
        self.loss = loss
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.teacher_forcing = teacher_forcing
        self.teacher_forcing_decay = teacher_forcing_decay
        self._loss_sum = 0.0
        self._loss_count = 0
        self.grad_norms: list[float] = []  # total gradient norm of every step, before clipping
        self.save_hyperparameters(ignore=["network"])

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets `_current_fx_name` around every hook call, about 46 times a training
        # step, and the epoch's loss sums change every step: plain values, which need none of
        # nn.Module.__setattr__'s checks for parameters, buffers and submodules (about 12 ms a
        # run, 0.5% of the small task's time: BENCHMARKS.md benchmark 6).
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def teacher_forcing_ratio(self) -> float:
        return self.teacher_forcing * self.teacher_forcing_decay ** self.current_epoch

    def distribution(self, x: torch.Tensor, target: torch.Tensor | None = None,
                     future: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mean (B, H, C) and, with the Gaussian loss, standard deviation (B, H, C), of windows x
        (B, L, F) and their known-future inputs (B, H, K) where the network takes them."""
        tf = self.teacher_forcing_ratio if self.training and target is not None else 0.0
        return distribution(self.network, x, target, tf, future)  # (B, L, F) -> (B, H, C) twice

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        return self.distribution(x, future=future)[0]  # (B, L, F) -> (B, H, C)

    def _loss(self, batch: Batch) -> torch.Tensor:
        x, y, future = batch
        mean, std = self.distribution(x, target=y if self.training else None, future=future)
        if std is None:
            return F.mse_loss(mean, y)
        return F.gaussian_nll_loss(mean, y, std ** 2, full=True)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._loss(batch)

    def on_train_epoch_start(self) -> None:
        self._loss_sum, self._loss_count = 0.0, 0

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # The epoch's mean loss is summed here, in plain floats, and logged once per epoch:
        # cheaper per step than Lightning's own running mean.
        self._loss_sum += float(outputs["loss"]) * len(batch[0])
        self._loss_count += len(batch[0])

    def on_train_epoch_end(self) -> None:
        self.log("train_loss", self.epoch_train_loss(), prog_bar=True, sync_dist=True)  # mean over processes

    def epoch_train_loss(self) -> float:
        """Mean training loss of the current epoch so far."""
        return self._loss_sum / self._loss_count if self._loss_count else float("nan")

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None,
                                    gradient_clip_algorithm=None) -> None:
        """Clip to the Trainer's `gradient_clip_val` by total norm (if set), and record that norm,
        computed once for both, before clipping."""
        if gradient_clip_algorithm not in (None, "norm"):
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        limit = gradient_clip_val if gradient_clip_val else float("inf")
        self.grad_norms.append(float(torch.nn.utils.clip_grad_norm_(self.parameters(), limit)))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["torch_rng_state"] = torch.get_rng_state()
        checkpoint["grad_norms"] = list(self.grad_norms)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])
        self.grad_norms = list(checkpoint.get("grad_norms", []))

    def validation_step(self, batch, batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), on_epoch=True, prog_bar=True,
                 batch_size=len(batch[0]), sync_dist=True)  # every process picks the same best epoch

    def test_step(self, batch, batch_idx: int) -> None:
        self.log("test_loss", self._loss(batch), on_epoch=True, batch_size=len(batch[0]))

    def predict_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self(batch.x, batch.future)

    def configure_optimizers(self):
        """Adam; with `lr_decay` < 1 the rate is multiplied by it after each epoch from the third
        on (epoch e, counted from 0, trains at lr * lr_decay ** max(0, e - 2)).

        Adam runs torch's fused kernel where every parameter is a floating-point tensor on the
        CPU or a CUDA device (Lightning has moved them there before it calls this): one kernel
        per step instead of seven per parameter, 3.5 times faster on the CPU for the default
        LSTM (BENCHMARKS.md, benchmark 6). torch never picks it by default (on the CPU its
        default is a Python loop over the parameters)."""
        params = list(self.parameters())
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params) or None
        adam = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay, fused=fused)
        if self.lr_decay == 1.0:
            return adam
        decay = torch.optim.lr_scheduler.LambdaLR(adam, lambda e: self.lr_decay ** max(0, e - 2))
        return {"optimizer": adam, "lr_scheduler": {"scheduler": decay, "interval": "epoch"}}
