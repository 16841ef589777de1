"""The one LightningModule: loss, optimizer and logging around any network of `forecaster.nets`.

Teacher forcing (for the seq2seq family) starts at `teacher_forcing` and is multiplied by
`teacher_forcing_decay` after every epoch. Gradient clipping, early stopping and
checkpointing are Trainer settings and callbacks, configured in `forecaster.train`.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F


class ForecastModule(L.LightningModule):
    def __init__(self, network: nn.Module, learning_rate: float = 1e-3, weight_decay: float = 0.0,
                 teacher_forcing: float = 0.0, teacher_forcing_decay: float = 1.0) -> None:
        super().__init__()
        self.network = network
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.teacher_forcing = teacher_forcing
        self.teacher_forcing_decay = teacher_forcing_decay
        self.save_hyperparameters(ignore=["network"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)  # (B, L, F) -> (B, H, C)

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        if self.training:
            return F.mse_loss(self.network(x, target=y, teacher_forcing=self.teacher_forcing), y)
        return F.mse_loss(self(x), y)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=len(batch[0]))
        return loss

    def on_train_epoch_end(self) -> None:
        self.teacher_forcing *= self.teacher_forcing_decay

    def validation_step(self, batch, batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), on_epoch=True, prog_bar=True,
                 batch_size=len(batch[0]))

    def test_step(self, batch, batch_idx: int) -> None:
        self.log("test_loss", self._loss(batch), on_epoch=True, batch_size=len(batch[0]))

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self(batch[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate,
                                weight_decay=self.weight_decay)
