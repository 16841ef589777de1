"""SegRNN: recurrence over segments of the window, all future segments decoded at once.

After Lin et al. (2023), "SegRNN: Segment Recurrent Neural Network for Long-Term Time Series
Forecasting", written from the paper's description.

A point-wise RNN over a 720-step window takes 720 sequential steps, and its gradient has to
survive all of them. SegRNN cuts each target channel's window into n = ceil(L / w) segments
of w rows, embeds each segment (linear + ReLU) and runs one recurrent cell over the n segment
embeddings: 30 steps for L = 720, w = 24. The forecast is m = ceil(H / w) future segments.

- Parallel decoding (`decoding="parallel"`, the paper's PMF): every future segment j of
  channel c is one decoder step from the encoder's final state, with the input
  [position embedding j ; channel embedding c]. The steps do not depend on each other, so there
  is no error accumulation and no loop. The hidden-side product of that step is the same for
  all m segments, and the input-side product depends only on (j, c), not on the window, so
  both are computed once and broadcast: the decoder costs elementwise gate arithmetic on
  (B, C, m, d) plus the output layer, instead of m * C full cell products per window.
- Recurrent decoding (`decoding="recurrent"`, the paper's RMF): the cell runs on over the
  future segments, each step fed the embedding of the segment it forecast before.

Channel independence: the C target channels share every weight; each is one sequence of its
own (the batch becomes B * C). Further input columns (features, calendar) are covariates:
their rows of each segment join every channel's segment before the embedding.

Known-future inputs (`n_future` = K columns known at the cutoff for the H steps after it): each
future segment's w x K values are embedded (linear) and added to that segment's decoder input,
so parallel decoding reads [position j ; channel c] + future embedding j, and recurrent decoding
adds it to each step's input.

Normalization (`norm`), per window and target channel, on the network's inputs:
- "last": the window's last value is subtracted (the paper's choice), so a level shift never
  leaves the training range;
- "revin": the last value subtracted and the result divided by the window's own standard
  deviation; the forecast is multiplied by it again (RevIN-style, statistics put back; the
  same `forecaster.nets.norm` functions as every other network's `--norm revin`);
- "none".
The network predicts in the pipeline's target space: changes from the anchor under the relative
transforms (with norm "last", the window's last value taken out of the inputs is exactly that
anchor); with `add_last` the last value is added back at the output (for the "level" transform).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from forecaster.nets import NORMS, SEGMENT_DECODING
from forecaster.nets.encoders import FUSED as CELLS  # the fused torch layers by cell name
from forecaster.nets.norm import put_back, window_scale
from forecaster.nets.seq2seq import check_future
LONGEST_DEFAULT_SEGMENT = 24


def segment_length_for(season: int, lookback: int) -> int:
    """The default segment length: the season where it is 2 to lookback/2 rows (a day of an
    hourly log), else a quarter of the lookback, at most 24 rows."""
    if 2 <= season <= lookback // 2:
        return season
    return max(1, min(LONGEST_DEFAULT_SEGMENT, lookback // 4))


class SegRNN(nn.Module):
    def __init__(self, n_features: int, horizon: int, n_targets: int = 1,
                 hidden_size: int = 512, segment_length: int = 24, cell: str = "gru",
                 num_layers: int = 1, dropout: float = 0.0, decoding: str = "parallel",
                 norm: str = "last", add_last: bool = False, n_params: int = 1, n_future: int = 0) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
        if decoding not in SEGMENT_DECODING:
            raise ValueError(f"unknown decoding {decoding!r}; choose parallel or recurrent")
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
        if segment_length < 1:
            raise ValueError(f"segment_length must be >= 1, got {segment_length}")
        self.horizon, self.n_targets = horizon, n_targets
        self.w = segment_length
        self.n_out = math.ceil(horizon / segment_length)  # future segments m
        self.n_cov = n_features - n_targets  # covariate columns joining every channel's segments
        self.cell, self.decoding, self.norm = cell, decoding, norm
        self.add_last, self.n_params, self.n_future = add_last, n_params, n_future
        d = hidden_size
        self.embed = nn.Linear(segment_length * (1 + self.n_cov), d)
        self.rnn = CELLS[cell](d, d, num_layers=num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        if decoding == "parallel":
            self.position = nn.Parameter(torch.randn(self.n_out, d // 2))  # (m, d/2)
            self.channel = nn.Parameter(torch.randn(n_targets, d - d // 2))  # (C, d - d/2)
        self.future_embed = nn.Linear(segment_length * n_future, d, bias=False) if n_future else None
        self.dropout = dropout
        self.out = nn.Linear(d, segment_length * n_params)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None,
                teacher_forcing: float = 0.0, future: torch.Tensor | None = None) -> torch.Tensor:
        check_future(future, self.n_future, self.horizon)
        B, L, _ = x.shape
        C, w, m = self.n_targets, self.w, self.n_out
        n = math.ceil(L / w)  # input segments
        series = x[..., :C].transpose(1, 2)  # (B, L, C) -> (B, C, L)
        last = series[..., -1:]  # (B, C, 1)
        series = series - last if self.norm != "none" else series
        scale = None
        if self.norm == "revin":
            scale = window_scale(series, dim=-1)  # (B, C, 1)
            series = series / scale
        pad = n * w - L  # the window is padded at its start by repeating its first row
        series = F.pad(series, (pad, 0), mode="replicate") if pad else series  # (B, C, n * w)
        segments = series.reshape(B * C, n, w)  # (B, C, n*w) -> (B*C, n, w)
        if self.n_cov:
            cov = x[..., C:].transpose(1, 2)  # (B, L, F-C) -> (B, F-C, L)
            cov = F.pad(cov, (pad, 0), mode="replicate") if pad else cov
            cov = cov.reshape(B, self.n_cov, n, w).transpose(1, 2).reshape(B, 1, n, -1)  # -> (B, 1, n, (F-C)*w)
            cov = cov.expand(B, C, n, cov.shape[-1]).reshape(B * C, n, -1)  # (B*C, n, (F-C)*w)
            segments = torch.cat([segments, cov], dim=-1)  # (B*C, n, w + (F-C)*w)
        _, state = self.rnn(torch.relu(self.embed(segments)))  # (B*C, n, w') -> (layers, B*C, d)
        ahead = self._embed_future(future) if future is not None else None  # (B, m, d) or None
        if self.decoding == "parallel":
            h = self._decode_parallel(state, B, ahead)  # (B, C, m, d)
        else:
            if ahead is not None:
                ahead = ahead[:, None].expand(B, C, m, -1).reshape(B * C, m, -1)  # (B, m, d) -> (B*C, m, d)
            h = self._decode_recurrent(state, segments[:, -1], ahead)  # (B*C, m, d)
        y = self.out(self._drop(h))  # (..., m, d) -> (..., m, w * P)
        y = y.reshape(B, C, m * w, self.n_params)[:, :, :self.horizon]  # -> (B, C, H, P)
        if scale is not None or self.add_last:  # back from the window's own scale, and level
            y = put_back(y, None if scale is None else scale[..., None],  # (B, C, 1) -> (B, C, 1, 1)
                         last[..., None] if self.add_last else None)  # (B, C, H, P)
        return y.permute(0, 2, 1, 3)  # (B, C, H, P) -> (B, H, C, P)

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        """Dropout on the decoder states (..., m, d) with one mask per window and channel, shared
        by its m future segments (as variational dropout shares one over time steps): random
        numbers for (..., 1, d) instead of (..., m, d), which dominated training at long horizons."""
        if not self.training or self.dropout == 0:
            return h
        keep = torch.empty_like(h[..., :1, :]).bernoulli_(1 - self.dropout)  # (..., 1, d)
        return h * keep / (1 - self.dropout)  # (..., m, d) * (..., 1, d)

    def _embed_future(self, future: torch.Tensor) -> torch.Tensor:
        """The known-future values of each future segment, embedded: (B, H, K) -> (B, m, d).
        The last segment is padded with zeros past H (its extra steps are cut from the output)."""
        B, H, K = future.shape
        future = F.pad(future, (0, 0, 0, self.n_out * self.w - H))  # (B, H, K) -> (B, m*w, K)
        return self.future_embed(future.reshape(B, self.n_out, self.w * K))  # (B, m*w, K) -> (B, m, w*K) -> (B, m, d)

    def _decode_parallel(self, state, B: int, ahead: torch.Tensor | None = None) -> torch.Tensor:
        """One decoder step of the encoder's last layer for every (window, channel, segment):
        (layers, B*C, d) -> (B, C, m, d), the two products computed once and broadcast. With
        known-future inputs, their embedding `ahead` (B, m, d) joins the input side per window."""
        C, m = self.n_targets, self.n_out
        h = (state[0] if isinstance(state, tuple) else state)[-1]  # (B*C, d)
        h = h.view(B, C, 1, -1)  # (B*C, d) -> (B, C, 1, d)
        inp = torch.cat([self.position[None].expand(C, m, -1),
                         self.channel[:, None].expand(C, m, -1)], dim=-1)  # (C, m, d)
        layer = self.rnn.num_layers - 1  # the top layer's weights
        w_ih, w_hh = getattr(self.rnn, f"weight_ih_l{layer}"), getattr(self.rnn, f"weight_hh_l{layer}")
        b_ih, b_hh = getattr(self.rnn, f"bias_ih_l{layer}"), getattr(self.rnn, f"bias_hh_l{layer}")
        gi = F.linear(inp, w_ih, b_ih)  # (C, m, d) -> (C, m, G*d): no window in it
        if ahead is not None:
            gi = gi + F.linear(ahead[:, None], w_ih)  # (C, m, G*d) + (B, 1, m, G*d) -> (B, C, m, G*d)
        gh = F.linear(h, w_hh, b_hh)  # (B, C, 1, d) -> (B, C, 1, G*d): one per window and channel
        if self.cell == "rnn":
            return torch.tanh(gi + gh)  # (B, C, m, d)
        if self.cell == "gru":
            ir, iz, i_n = gi.chunk(3, dim=-1)
            hr, hz, h_n = gh.chunk(3, dim=-1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            cand = torch.tanh(i_n + r * h_n)  # (B, C, m, d)
            return (1 - z) * cand + z * h
        c = state[1][-1].view(B, C, 1, -1)  # LSTM cell state (B*C, d) -> (B, C, 1, d)
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # (B, C, m, d)
        return torch.sigmoid(o) * torch.tanh(c)

    def _decode_recurrent(self, state, last_segment: torch.Tensor, ahead: torch.Tensor | None = None
                          ) -> torch.Tensor:
        """The cell run on over the m future segments, each fed the embedding of the segment
        forecast before it (the first: the window's last segment), plus the embedding of its
        known-future values `ahead` (B*C, m, d) when given: (B*C, m, d)."""
        hs, seg = [], last_segment  # (B*C, w')
        cov = seg[:, self.w:]  # covariates of the last input segment, carried along
        for j in range(self.n_out):
            step_in = torch.relu(self.embed(seg))  # (B*C, d)
            step_in = step_in + ahead[:, j] if ahead is not None else step_in
            step, state = self.rnn(step_in[:, None], state)  # (B*C, 1, d)
            hs.append(step)
            mean = self.out(step[:, 0]).unflatten(1, (self.w, self.n_params))[..., 0]  # (B*C, w*P) -> (B*C, w)
            seg = torch.cat([mean, cov], dim=-1)  # (B*C, w')
        return torch.cat(hs, dim=1)  # m x (B*C, 1, d) -> (B*C, m, d)
