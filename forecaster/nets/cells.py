"""Recurrent layers for the variants torch has no module for.

`JordanRNN` and `CoupledLSTM` (CIFG) run torch's fused kernels (cuDNN on a GPU) on weights
computed from their own parameters, so gradients reach those parameters through the
computation. `LoopLSTM` is the LSTM written out, the reference CIFG is tested against:
vectorized over the batch, the input projection of all L steps is one matrix product, and only
the recurrence runs as a Python loop over time.

- `JordanRNN`: the previous step's *output* y_{t-1}, not the hidden state, is fed back:
      h_t = tanh(W_x x_t + W_y y_{t-1} + b),   y_t = W_o h_t + b_o
  Its memory is the low-dimensional output y (here `output_size`, default the number of
  targets), which is what sets it apart from the Elman RNN. With y_0 = 0 the first step reads
  no feedback; from the second on W_y y_{t-1} = (W_y W_o) h_{t-1} + W_y b_o, an Elman
  recurrence whose D x D recurrent matrix has rank at most O: torch's RNN kernel runs those
  steps from h_1, and the outputs and gradients match the written-out loop (tested to 1e-5).
- `LoopLSTM`: the LSTM written out, gates in torch's order (input, forget, cell, output):
      c_t = f_t * c_{t-1} + i_t * g_t,   h_t = o_t * tanh(c_t)
  With `coupled=True` it is the CIFG LSTM: the input gate is tied to the forget gate,
  i_t = 1 - f_t, so there is one gate fewer. With `coupled=False` and the same weights it
  reproduces `torch.nn.LSTM` (tested to 1e-5). The product's CIFG is `CoupledLSTM`; this loop
  is the written-out reference it is tested against.
- `CoupledLSTM`: the CIFG LSTM at fused speed. Because 1 - sigmoid(a) = sigmoid(-a), tying
  i_t = 1 - f_t is the same as an LSTM whose input-gate weights are the forget gate's, negated.
  Its parameters are the three gates' weights (f, g, o); each call builds the four-gate weights
  (-f, f, g, o) from them and runs torch's LSTM kernel (cuDNN on a GPU), and autograd carries
  the input gate's gradient back to the forget gate's weights through the negation.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class JordanRNN(nn.Module):
    def __init__(self, n_features: int, hidden_size: int, output_size: int = 1, num_layers: int = 1,
                 dropout: float = 0.0, nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.nonlinearity = nonlinearity
        self.act = torch.tanh if nonlinearity == "tanh" else torch.relu
        sizes = [n_features] + [hidden_size] * (num_layers - 1)
        self.w_x = nn.ModuleList(nn.Linear(n, hidden_size) for n in sizes)
        self.w_y = nn.ModuleList(nn.Linear(output_size, hidden_size, bias=False) for _ in sizes)
        self.w_o = nn.ModuleList(nn.Linear(hidden_size, output_size) for _ in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, F) -> (B, L, D): the hidden sequence of the top layer."""
        elman = torch.rnn_tanh if self.nonlinearity == "tanh" else torch.rnn_relu
        for i, (w_x, w_y, w_o) in enumerate(zip(self.w_x, self.w_y, self.w_o)):
            if i:
                x = self.dropout(x)
            h1 = self.act(w_x(x[:, 0]))  # (B, F) -> (B, D): y_0 = 0, nothing fed back yet
            if x.shape[1] == 1:
                x = h1[:, None]  # (B, D) -> (B, 1, D)
                continue
            # From step 2 on, W_y y_{t-1} = W_y W_o h_{t-1} + W_y b_o: the Elman recurrence with
            # W_hh = W_y W_o (D x D, rank <= O) and b_hh = W_y b_o, which torch's kernel runs
            # (torch.rnn_* is what nn.RNN calls: input, h0, weights, has_biases, num_layers,
            # dropout, train, bidirectional, batch_first).
            weights = one_buffer([w_x.weight, w_y.weight @ w_o.weight, w_x.bias, w_y.weight @ w_o.bias])
            rest, _ = elman(x[:, 1:], h1[None], weights, True, 1, 0.0, self.training, False, True)
            x = torch.cat([h1[:, None], rest], dim=1)  # (B, 1, D) + (B, L-1, D) -> (B, L, D)
        return x


class LoopLSTM(nn.Module):
    def __init__(self, n_features: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 coupled: bool = False) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.coupled = coupled
        self.weight_ih, self.weight_hh, self.bias = gate_parameters(n_features, hidden_size, num_layers,
                                                                    3 if coupled else 4)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, F) -> (B, L, D): the hidden sequence of the top layer."""
        for i, (w_ih, w_hh, b) in enumerate(zip(self.weight_ih, self.weight_hh, self.bias)):
            if i:
                x = self.dropout(x)
            xp = x @ w_ih.T + b  # (B, L, F) -> (B, L, G*D), all steps at once
            x = lstm_steps(xp, w_hh, self.coupled)  # (B, L, G*D) -> (B, L, D)
        return x

    @torch.no_grad()
    def load_from_torch_lstm(self, lstm: nn.LSTM) -> "LoopLSTM":
        """Copy the weights of a `torch.nn.LSTM` (uncoupled only)."""
        assert not self.coupled
        for i in range(len(self.weight_ih)):
            self.weight_ih[i].copy_(getattr(lstm, f"weight_ih_l{i}"))
            self.weight_hh[i].copy_(getattr(lstm, f"weight_hh_l{i}"))
            self.bias[i].copy_(getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}"))
        return self


def lstm_steps(xp: torch.Tensor, w_hh: torch.Tensor, coupled: bool) -> torch.Tensor:
    """The LSTM recurrence over input projections xp (B, L, G*D) with recurrent weights w_hh
    (G*D, D): the hidden sequence (B, L, D).

    Gates in torch's order, i, f, g, o (coupled: f, g, o with i = 1 - f), activated with one
    sigmoid over all of them and a tanh over g, the cell update one fused multiply-add: on small
    batches the loop's cost is its number of operations per step. (A hand-written backward pass
    through time measured no faster than autograd over these steps.)"""
    B, L, GD = xp.shape
    D = w_hh.shape[1]
    g_cols = slice(D, 2 * D) if coupled else slice(2 * D, 3 * D)
    w_hh_t = w_hh.T  # (D, G*D)
    h, c = xp.new_zeros(B, D), xp.new_zeros(B, D)
    hs = []
    # unbind, not xp[:, t]: its backward writes each step's gradient into one (B, L, G*D) tensor,
    # where indexing would allocate and add a full-size zero tensor per step.
    for xp_t in xp.unbind(1):
        z = torch.addmm(xp_t, h, w_hh_t)  # (B, D) @ (D, G*D) + (B, G*D)
        gates = torch.sigmoid(z).split(D, dim=1)  # G x (B, D); g's sigmoid unused
        g = torch.tanh(z[:, g_cols])
        if coupled:  # c = f c + (1 - f) g = g + f (c - g)
            f, o = gates[0], gates[2]
            c = torch.addcmul(g, f, c - g)
        else:
            i_gate, f, o = gates[0], gates[1], gates[3]
            c = torch.addcmul(f * c, i_gate, g)
        h = o * torch.tanh(c)
        hs.append(h)
    return torch.stack(hs, dim=1)  # L x (B, D) -> (B, L, D)


class CoupledLSTM(nn.Module):
    """The CIFG LSTM (i_t = 1 - f_t) through torch's fused LSTM kernel, as the module docstring
    explains. Parameters as `LoopLSTM(coupled=True)`: per layer `weight_ih` (3D, F),
    `weight_hh` (3D, D) and `bias` (3D), gates f, g, o."""

    def __init__(self, n_features: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout  # between layers, applied by the kernel in training
        self.weight_ih, self.weight_hh, self.bias = gate_parameters(n_features, hidden_size, num_layers, 3)

    def lstm_weights(self) -> list[torch.Tensor]:
        """The tied four-gate weights in torch's order, per layer w_ih (4D, F), w_hh (4D, D),
        b_ih (4D), b_hh (4D, zero), in one buffer (`one_buffer`)."""
        D = self.hidden_size
        pieces = []
        for w_ih, w_hh, b in zip(self.weight_ih, self.weight_hh, self.bias):
            for w in (w_ih, w_hh, b):
                pieces.append(torch.cat([-w[:D], w]))  # (3D, ...) -> (4D, ...): i = -f, then f, g, o
            pieces.append(b.new_zeros(4 * D))  # b_hh: the bias is all in b_ih
        return one_buffer(pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, F) -> (B, L, D): the hidden sequence of the top layer."""
        h0 = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)  # (layers, B, D)
        # torch.lstm is what nn.LSTM calls: input, (h0, c0), weights, has_biases, num_layers,
        # dropout, train, bidirectional, batch_first
        out, _, _ = torch.lstm(x, (h0, h0), self.lstm_weights(), True, self.num_layers,
                               self.dropout, self.training, False, True)
        return out


def gate_parameters(n_features: int, hidden_size: int, num_layers: int, gates: int
                    ) -> tuple[nn.ParameterList, nn.ParameterList, nn.ParameterList]:
    """Per layer, the input weights (G*D, F), recurrent weights (G*D, D) and bias (G*D) of G
    gates stacked, initialized as `torch.nn.LSTM` initializes its own."""
    sizes = [n_features] + [hidden_size] * (num_layers - 1)
    weight_ih = nn.ParameterList(nn.Parameter(torch.empty(gates * hidden_size, n)) for n in sizes)
    weight_hh = nn.ParameterList(nn.Parameter(torch.empty(gates * hidden_size, hidden_size)) for _ in sizes)
    bias = nn.ParameterList(nn.Parameter(torch.empty(gates * hidden_size)) for _ in sizes)
    bound = 1 / math.sqrt(hidden_size)
    for p in (*weight_ih, *weight_hh, *bias):
        nn.init.uniform_(p, -bound, bound)
    return weight_ih, weight_hh, bias


def one_buffer(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """`weights` copied into one contiguous buffer, returned as views of it in the same order and
    shapes: how `nn.RNN` and `nn.LSTM` keep their weights for cuDNN (`flatten_parameters`).
    Gradients pass through to the tensors the weights were computed from."""
    flat = torch.cat([w.reshape(-1) for w in weights])
    return [v.view(w.shape) for v, w in zip(flat.split([w.numel() for w in weights]), weights)]
