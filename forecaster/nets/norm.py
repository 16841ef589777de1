"""Per-window normalization, RevIN-style: a window's target inputs in its own scale, the
statistics put back at the output.

The transforms (`forecaster.data.prepare`) scale every column with moments of the training rows.
A window from a calmer or a wilder stretch than the training rows then reaches the network at
another scale than it learned. With `norm="revin"` each window's C target inputs are taken
relative to their last value and divided by their own standard deviation over the window; the
network's forecast is multiplied by that deviation again (a Gaussian head's log standard
deviation moves by its log), and the last value is added back where the network forecasts
levels (`add_last`, the "level" transform). Under the relative transforms the network forecasts
changes from the anchor, which scale with the window and need no shift.

`put_back` is the one place that maps a forecast back from a window's scale: `WindowNorm`
(around the point-wise networks and seq2seq) and SegRNN (which normalizes inside its segment
layout) both use it. The standard deviation is shift-invariant, so it is the same whether taken
before or after the last value is subtracted.
"""

from __future__ import annotations

import torch
from torch import nn

SCALE_FLOOR = 1e-5  # a flat window is divided by this, not by zero


def window_scale(series: torch.Tensor, dim: int) -> torch.Tensor:
    """The standard deviation of each channel over the window's `dim`, kept as a size-1 dim."""
    return series.std(dim=dim, keepdim=True).clamp_min(SCALE_FLOOR)


def put_back(y: torch.Tensor, scale: torch.Tensor | None, shift: torch.Tensor | None = None) -> torch.Tensor:
    """(..., P) outputs in a window's own scale -> the pipeline's target space: the mean times
    `scale` (plus `shift`), a log standard deviation (P = 2) plus log(scale). `scale` and
    `shift` (either may be None: left alone) broadcast against y[..., :1]."""
    mean, rest = y[..., :1], y[..., 1:]
    if scale is not None:
        mean, rest = mean * scale, rest + scale.log()
    mean = mean + shift if shift is not None else mean
    return torch.cat([mean, rest], dim=-1)


class WindowNorm(nn.Module):
    """`network` reading each window's target inputs relative to their last value and divided by
    their own deviation; its forecast (B, H, C, P) put back (see the module docstring)."""

    def __init__(self, network: nn.Module, n_targets: int, add_last: bool = False) -> None:
        super().__init__()
        self.network, self.n_targets, self.add_last = network, n_targets, add_last
        self.horizon = network.horizon
        self.n_future = getattr(network, "n_future", 0)

    def _normalize(self, x: torch.Tensor, target: torch.Tensor | None):
        C = self.n_targets
        last = x[:, -1:, :C]  # (B, L, F) -> (B, 1, C)
        scale = window_scale(x[..., :C], dim=1)  # (B, 1, C)
        x = torch.cat([(x[..., :C] - last) / scale, x[..., C:]], dim=-1)  # (B, L, F)
        shift = last if self.add_last else None
        if target is not None:  # teacher forcing feeds the truth in the network's own scale
            target = (target - shift if shift is not None else target) / scale  # (B, H, C)
        return x, target, scale[..., None], None if shift is None else shift[..., None]  # (B, 1, C, 1)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None,
                teacher_forcing: float = 0.0, future: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_attention(x, target, teacher_forcing, future)[0]

    def forward_with_attention(self, x: torch.Tensor, target: torch.Tensor | None = None,
                               teacher_forcing: float = 0.0, future: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The forecast and, for a network with attention, its (B, H, L) weights (else None)."""
        x, target, scale, shift = self._normalize(x, target)
        known = {"future": future} if future is not None else {}
        if hasattr(self.network, "forward_with_attention"):
            y, weights = self.network.forward_with_attention(x, target, teacher_forcing, **known)
        else:
            y, weights = self.network(x, target=target, teacher_forcing=teacher_forcing, **known), None
        return put_back(y, scale, shift), weights  # (B, H, C, P)
