"""Build a network by name, and the one output contract every network keeps.

Every network maps a window x (B, L, F) to `(B, H, C, P)`: H steps, C targets and P outputs
per target and step. A network built with `n_future = K` also takes `future` (B, H, K): the
values of K columns known in advance for the H steps after the cutoff. P = 1 is a point forecast; P = 2 is a Gaussian head (mean, then log
standard deviation). `split_output` is the only code that knows what P means: the loss, the
intervals and the diagnostics all go through it.
"""

from __future__ import annotations

import torch
from torch import nn

from forecaster.nets import BIDIRECTIONAL, DIRECT, NETWORKS, NORMS
from forecaster.nets.encoders import Encoder
from forecaster.nets.norm import WindowNorm
from forecaster.nets.segrnn import SegRNN
from forecaster.nets.seq2seq import DirectForecaster, Seq2Seq, VecToSeq

LOG_STD_LIMIT = 7.0  # the log standard deviation is clamped to [-7, 7] (std 1e-3 to 1e3 scaled units)


def build_network(name: str, n_features: int, horizon: int, n_targets: int = 1,
                  hidden_size: int = 64, num_layers: int = 2, dropout: float = 0.0,
                  nonlinearity: str = "tanh", bidirectional: bool = False, cell: str = "gru",
                  attention: str = "additive", n_params: int = 1, segment_length: int = 24, segment_decoding: str = "parallel", norm: str = "last",
                  add_last: bool = False, n_future: int = 0) -> nn.Module:
    """A network by name (see NETWORKS). `cell` is the recurrent cell of the seq2seq family and
    segrnn; `n_params` outputs per target and step (2 for a Gaussian head: mean, log scale);
    `n_future` known-future columns read over the horizon.
    `segment_length` and `segment_decoding` are segrnn's (see `forecaster.nets.segrnn`).
    `norm` "revin" puts every network in its windows' own scale (`forecaster.nets.norm`), with
    the last value added back at the output where `add_last` (the "level" transform); "last"
    and "none" are segrnn's own choices, and leave the other networks as they are."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if name == "segrnn":
        return SegRNN(n_features, horizon, n_targets, hidden_size, segment_length, cell,
                      num_layers, dropout, segment_decoding, norm, add_last, n_params, n_future)
    net = _pointwise(name, n_features, horizon, n_targets, hidden_size, num_layers, dropout,
                     nonlinearity, bidirectional, cell, attention, n_params, n_future)
    return WindowNorm(net, n_targets, add_last) if norm == "revin" else net


def _pointwise(name: str, n_features: int, horizon: int, n_targets: int, hidden_size: int,
               num_layers: int, dropout: float, nonlinearity: str, bidirectional: bool, cell: str,
               attention: str, n_params: int, n_future: int) -> nn.Module:
    """Every network but segrnn, as `build_network` describes it."""
    def encoder(kind: str, bidi: bool) -> Encoder:
        return Encoder(kind, n_features, hidden_size, num_layers, dropout, bidi, nonlinearity, n_targets)
    if name in DIRECT:
        return DirectForecaster(encoder(name, bidirectional), horizon, n_targets, n_params, n_future)
    if name in BIDIRECTIONAL:
        return DirectForecaster(encoder(BIDIRECTIONAL[name], True), horizon, n_targets, n_params, n_future)
    if name == "vec2seq":
        return VecToSeq(n_features, horizon, n_targets, hidden_size, cell, n_params, n_future)
    attn = attention if name == "seq2seq-attn" else None
    return Seq2Seq(encoder(cell, bidirectional), horizon, n_targets, cell, attn, n_params, n_future)


def split_output(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A network's output (B, H, C, P) -> mean (B, H, C) and, for P = 2, standard deviation."""
    if out.shape[-1] == 1:
        return out[..., 0], None  # (B, H, C, 1) -> (B, H, C)
    mean, log_std = out.unbind(dim=-1)  # (B, H, C, 2) -> 2 x (B, H, C)
    return mean, log_std.clamp(-LOG_STD_LIMIT, LOG_STD_LIMIT).exp()


def distribution(network: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None,
                 teacher_forcing: float = 0.0, future: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean (B, H, C) and standard deviation (B, H, C) or None, of `network` on windows x (and
    their known-future inputs (B, H, K), for a network built with them)."""
    known = {"future": future} if future is not None else {}  # a network without them needs no such argument
    out = network(x, target=target, teacher_forcing=teacher_forcing, **known)  # (B, L, F) -> (B, H, C, P)
    return split_output(out)


def sequential_steps(net: nn.Module, lookback: int) -> int:
    """Recurrent steps one after another between the oldest input and the last output: the length
    of the gradient's path through time (segrnn: L / w encoder steps, then one parallel decoder
    step or m recurrent ones; seq2seq: L then H; vec2seq: H; direct heads: L)."""
    net = net.network if isinstance(net, WindowNorm) else net  # the normalization adds no step
    if isinstance(net, SegRNN):
        decoder = 1 if net.decoding == "parallel" else net.n_out
        return -(-lookback // net.w) + decoder
    if isinstance(net, Seq2Seq):
        return lookback + net.horizon
    if isinstance(net, VecToSeq):
        return net.horizon
    return lookback


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
