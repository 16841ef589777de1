"""The networks: plain `nn.Module`s mapping a window (B, L, F) to a forecast (B, H, C).

No pandas, no Lightning here. Loss, optimizer and logging live in `forecaster.module`.

- `rnn`: Elman RNN, the hidden state fed back: h_t = tanh(W x_t + U h_{t-1} + b).
- `lstm`: forget, input and output gates around a cell state c_t that carries memory additively,
  which keeps gradients alive over long windows.
- `gru`: update and reset gates, no separate cell state.

All three use torch's fused kernels (cuDNN on a GPU) and a direct multi-step head: the last
hidden state emits all H steps at once, so errors do not compound step by step.
"""

from __future__ import annotations

import torch
from torch import nn

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentForecaster(nn.Module):
    """A stacked recurrent encoder read at its last step, then a linear head for H x C outputs."""

    def __init__(self, n_features: int, horizon: int, n_targets: int = 1, cell: str = "lstm",
                 hidden_size: int = 64, num_layers: int = 2, dropout: float = 0.0,
                 nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.horizon = horizon
        self.n_targets = n_targets
        kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        # torch calls the per-step feature count `input_size`; here it is n_features.
        self.encoder = CELLS[cell](n_features, hidden_size, num_layers=num_layers, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0, **kwargs)
        self.head = nn.Linear(hidden_size, horizon * n_targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)  # (B, L, F) -> (B, L, D)
        last = out[:, -1]  # (B, L, D) -> (B, D)
        y = self.head(last)  # (B, D) -> (B, H * C)
        return y.view(-1, self.horizon, self.n_targets)  # (B, H * C) -> (B, H, C)


NETWORKS = tuple(CELLS)


def build_network(name: str, n_features: int, horizon: int, n_targets: int = 1,
                  hidden_size: int = 64, num_layers: int = 2, dropout: float = 0.0) -> nn.Module:
    """A network by name (see NETWORKS)."""
    if name not in CELLS:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
    return RecurrentForecaster(n_features, horizon, n_targets, cell=name, hidden_size=hidden_size,
                               num_layers=num_layers, dropout=dropout)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
