import numpy as np
import pytest
import torch
from torch import nn

from forecaster.data.windows import Batch
from forecaster.training.diagnostics import attention_weights, gradient_flow
from forecaster.nets.build import build_network


class LinearRNN(nn.Module):
    """h_t = w h_{t-1} + x_t, forecast h_L: d h_L / d x_{L-k+1} = w^(k-1) exactly."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = w

    def forward(self, x, target=None, teacher_forcing=0.0):
        h = torch.zeros(x.shape[0], 1)
        for t in range(x.shape[1]):
            h = self.w * h + x[:, t, :1]
        return h[:, None, :]  # (B, 1) -> (B, 1, 1)


@pytest.mark.parametrize("w", [0.5, 0.9, 1.2])
def test_gradient_flow_matches_the_analytic_w_power_k(w):
    x = torch.randn(8, 20, 1)
    y = torch.randn(8, 1, 1)
    g = gradient_flow(LinearRNN(w), x, y)
    assert g.shape == (20,)
    np.testing.assert_allclose(g / g[0], w ** np.arange(20), rtol=1e-5)


def test_elman_gradient_vanishes_faster_than_lstm_at_init():
    torch.manual_seed(0)
    x, y = torch.randn(32, 64, 3), torch.randn(32, 1, 1)
    flows = {n: gradient_flow(build_network(n, 3, 1, hidden_size=32, num_layers=1), x, y)
             for n in ("rnn", "lstm")}
    decay = {n: f[48:].mean() / f[:4].mean() for n, f in flows.items()}
    assert decay["rnn"] < 1e-3 and decay["lstm"] > decay["rnn"]


def test_attention_weights_only_for_attention_models():
    x = torch.randn(3, 9, 2)
    w = attention_weights(build_network("seq2seq-attn", 2, 4, hidden_size=8, num_layers=1), x)
    assert w.shape == (3, 4, 9) and np.allclose(w.sum(-1), 1, atol=1e-6)
    assert attention_weights(build_network("seq2seq", 2, 4, hidden_size=8, num_layers=1), x) is None
    assert attention_weights(build_network("lstm", 2, 4, hidden_size=8), x) is None


def test_lstm_gates_reproduce_the_fused_lstm():
    from forecaster.training.diagnostics import lstm_gates
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 8, batch_first=True)
    x = torch.randn(2, 6, 3)
    g = lstm_gates(lstm, x)
    assert set(g) == {"input", "forget", "output"} and g["forget"].shape == (2, 6, 8)
    assert ((g["forget"] > 0) & (g["forget"] < 1)).all()
    # Rebuild h_t from the gates and compare with torch's output.
    out, _ = lstm(x)
    w_ih, w_hh, b = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = c = torch.zeros(2, 8)
    for t in range(6):
        gcell = torch.tanh((x[:, t] @ w_ih.T + b + h @ w_hh.T)[:, 16:24])
        c = torch.tensor(g["forget"][:, t]) * c + torch.tensor(g["input"][:, t]) * gcell
        h = torch.tensor(g["output"][:, t]) * torch.tanh(c)
    torch.testing.assert_close(h, out[:, -1].detach(), atol=1e-5, rtol=1e-5)


def test_grad_norm_is_recorded_before_clipping_and_clipping_applies():
    from forecaster.training.module import ForecastModule
    torch.manual_seed(0)
    module = ForecastModule(build_network("rnn", 2, 1, hidden_size=4, num_layers=1))
    x, y = torch.randn(8, 5, 2) * 100, torch.randn(8, 1, 1) * 100
    module._loss(Batch(x, y)).backward()
    want = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.parameters()]))
    opt = module.configure_optimizers()
    module.configure_gradient_clipping(opt, gradient_clip_val=0.01, gradient_clip_algorithm="norm")
    assert module.grad_norms == [pytest.approx(float(want), rel=1e-5)] and float(want) > 0.01
    after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.parameters()]))
    assert float(after) == pytest.approx(0.01, rel=1e-4)
    module.configure_gradient_clipping(opt, gradient_clip_val=None, gradient_clip_algorithm=None)
    assert module.grad_norms[-1] == pytest.approx(0.01, rel=1e-4)  # recorded, not clipped
