"""Encoders read a window (B, L, F) into per-step states (B, L, D) and a summary (B, D).

Every cell runs on torch's fused kernels (cuDNN on a GPU): the Elman RNN, LSTM and GRU as
torch's modules, CIFG as an LSTM with tied weights (`forecaster.nets.cells.CoupledLSTM`) and
Jordan as an Elman recurrence from its second step (`forecaster.nets.cells.JordanRNN`).
Bidirectional encoders run over the input window only, never over the future; their summary
joins the forward state after the last step with the backward state after the first.
"""

from __future__ import annotations

import torch
from torch import nn

from forecaster.nets.cells import CoupledLSTM, JordanRNN

FUSED: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CUSTOM = ("jordan", "cifg")


class Encoder(nn.Module):
    def __init__(self, cell: str, n_features: int, hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, bidirectional: bool = False, nonlinearity: str = "tanh",
                 n_targets: int = 1) -> None:
        super().__init__()
        if bidirectional and cell not in FUSED:
            raise ValueError(f"bidirectional is available for {', '.join(FUSED)}, not {cell!r}")
        self.cell = cell
        self.bidirectional = bidirectional
        self.output_size = hidden_size * (2 if bidirectional else 1)
        drop = dropout if num_layers > 1 else 0.0
        if cell in FUSED:
            kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
            # torch names the per-step feature count `input_size`; here it is n_features.
            self.rnn = FUSED[cell](n_features, hidden_size, num_layers=num_layers, batch_first=True,
                                   dropout=drop, bidirectional=bidirectional, **kwargs)
        elif cell == "jordan":
            self.rnn = JordanRNN(n_features, hidden_size, output_size=n_targets,
                                 num_layers=num_layers, dropout=drop, nonlinearity=nonlinearity)
        elif cell == "cifg":
            self.rnn = CoupledLSTM(n_features, hidden_size, num_layers=num_layers, dropout=drop)
        else:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join([*FUSED, *CUSTOM])}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cell not in FUSED:
            out = self.rnn(x)  # (B, L, F) -> (B, L, D)
            return out, out[:, -1]  # (B, L, D) -> (B, D)
        out, state = self.rnn(x)  # (B, L, F) -> (B, L, D or 2D)
        h = state[0] if isinstance(state, tuple) else state  # (layers * dirs, B, D)
        if self.bidirectional:
            return out, torch.cat([h[-2], h[-1]], dim=1)  # 2 x (B, D) -> (B, 2D)
        return out, h[-1]  # (B, D)
