"""The networks: plain `nn.Module`s mapping a window (B, L, F) to a forecast (B, H, C).

No pandas and no Lightning here; loss, optimizer and logging live in `forecaster.module`.

| name | what |
| --- | --- |
| `rnn` | Elman RNN: the hidden state fed back, h_t = tanh(W x_t + U h_{t-1} + b) (relu selectable) |
| `jordan` | Jordan RNN: the previous step's output fed back instead of the hidden state |
| `lstm` | LSTM: forget, input and output gates around an additive cell state |
| `cifg` | coupled-input-forget-gate LSTM: input gate = 1 - forget gate |
| `gru` | GRU: update and reset gates |
| `birnn`, `bilstm`, `bigru` | the same, bidirectional over the input window |
| `seq2seq` | encoder-decoder: a decoder cell unrolled over the horizon (teacher forcing in training) |
| `seq2seq-attn` | the same, attending over every encoder state at each decoder step |
| `vec2seq` | 1 to N: the decoder generates H steps from the window's last row alone |

The first eight use a direct head: the encoder's summary emits all H steps at once (N to 1
when H = 1). Stacked layers and dropout apply to every encoder.
"""

from __future__ import annotations

from torch import nn

from forecaster.nets.encoders import Encoder
from forecaster.nets.seq2seq import DirectForecaster, Seq2Seq, VecToSeq

DIRECT = ("rnn", "jordan", "lstm", "cifg", "gru")
BIDIRECTIONAL = {"birnn": "rnn", "bilstm": "lstm", "bigru": "gru"}
DECODING = ("seq2seq", "seq2seq-attn", "vec2seq")
NETWORKS = (*DIRECT, *BIDIRECTIONAL, *DECODING)


def build_network(name: str, n_features: int, horizon: int, n_targets: int = 1,
                  hidden_size: int = 64, num_layers: int = 2, dropout: float = 0.0,
                  nonlinearity: str = "tanh", bidirectional: bool = False, cell: str = "gru",
                  attention: str = "additive", n_params: int = 1) -> nn.Module:
    """A network by name (see NETWORKS). `cell` is the recurrent cell of the seq2seq family;
    `n_params` outputs per target and step (2 for a Gaussian head: mean, log scale)."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
    def encoder(kind: str, bidi: bool) -> Encoder:
        return Encoder(kind, n_features, hidden_size, num_layers, dropout, bidi, nonlinearity, n_targets)
    if name in DIRECT:
        return DirectForecaster(encoder(name, bidirectional), horizon, n_targets * n_params)
    if name in BIDIRECTIONAL:
        return DirectForecaster(encoder(BIDIRECTIONAL[name], True), horizon, n_targets * n_params)
    if name == "vec2seq":
        return VecToSeq(n_features, horizon, n_targets, hidden_size, cell, n_params)
    attn = attention if name == "seq2seq-attn" else None
    return Seq2Seq(encoder(cell, bidirectional), horizon, n_targets, cell, attn, n_params)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
