"""Why gated cells beat the Elman RNN on long windows, measured. torch only, no pandas.

- `gradient_flow`: for k = 1..L, the norm of the gradient of the forecast's loss with respect
  to the input k steps before the cutoff, averaged over windows. Through an Elman RNN it
  shrinks roughly geometrically with k (the product of L Jacobians W^T diag(tanh')): the
  vanishing gradient. The LSTM's additive cell state and the GRU's update gate keep a path
  along which it can stay up. (A weight with |w| > 1 makes it explode instead, which is what
  gradient clipping caps.)
- The total gradient norm of every training step, before clipping, is recorded by
  `ForecastModule.configure_gradient_clipping` (one norm computation serves both).
- `attention_weights`: decoder step by encoder step, for attention models.
- `lstm_gates`: the input, forget and output gate activations of an LSTM's first layer over
  a window: how much of the cell state the forget gate keeps at each step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from forecaster.nets.build import distribution


def gradient_flow(network: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  future: torch.Tensor | None = None) -> np.ndarray:
    """(L,) mean over windows of ||d loss / d x_{cutoff-k+1}||, for k = 1..L (k=1: the last input)."""
    was_training = network.training
    network.eval()
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):  # cuDNN RNN backward needs train mode
        pred, _ = distribution(network, x, future=future)  # (B, L, F) -> (B, H, C): the mean of any head
        per_window = ((pred - y) ** 2).mean(dim=(1, 2))  # (B,) each window's own squared error
        (grad,) = torch.autograd.grad(per_window.sum(), x)  # (B, L, F)
    network.train(was_training)
    norms = grad.norm(dim=2).mean(dim=0)  # (B, L, F) -> (B, L) -> (L,)
    return norms.flip(0).cpu().numpy()  # index 0 = k=1, the step at the cutoff


@torch.inference_mode()
def attention_weights(network: nn.Module, x: torch.Tensor, future: torch.Tensor | None = None
                      ) -> np.ndarray | None:
    """(B, H, L) attention of each decoder step over the encoder steps, or None."""
    if not hasattr(network, "forward_with_attention"):
        return None
    network.eval()
    _, weights = network.forward_with_attention(x, future=future)
    return None if weights is None else weights.cpu().numpy()


@torch.inference_mode()
def lstm_gates(lstm: nn.LSTM, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Gate activations (B, L, D) of the first layer of a (fused) `nn.LSTM` over windows x."""
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    B, L, _ = x.shape
    D = lstm.hidden_size
    h, c = x.new_zeros(B, D), x.new_zeros(B, D)
    gates: dict[str, list] = {"input": [], "forget": [], "output": []}
    xp = x @ w_ih.T + bias  # (B, L, F) -> (B, L, 4D)
    for t in range(L):
        i, f, g, o = (xp[:, t] + h @ w_hh.T).split(D, dim=1)  # (B, 4D) -> 4 x (B, D)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        c = f * c + i * torch.tanh(g)
        h = o * torch.tanh(c)
        for name, v in (("input", i), ("forget", f), ("output", o)):
            gates[name].append(v)
    return {k: torch.stack(v, dim=1).cpu().numpy() for k, v in gates.items()}  # L x (B, D) -> (B, L, D)
