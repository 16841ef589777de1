"""Contract test over every network and shape, and the hand-written cells against torch."""

import numpy as np
import pytest
import torch

from forecaster.data.windows import Batch
from forecaster.training.module import ForecastModule
from forecaster.nets import NETWORKS
from forecaster.nets.build import build_network, count_parameters
from forecaster.nets.cells import CoupledLSTM, JordanRNN, LoopLSTM
from forecaster.training.diagnostics import gradient_flow

SHAPES = {"N-to-1": 1, "N-to-M": 4}


def _net(name, horizon, seed=0):
    torch.manual_seed(seed)
    return build_network(name, n_features=3, horizon=horizon, n_targets=2, hidden_size=32,
                         num_layers=2 if name != "vec2seq" else 1)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", NETWORKS)
def test_network_contract(name, shape, tmp_path):
    horizon = SHAPES[shape]
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 12, 3, generator=g), torch.randn(16, horizon, 2, generator=g)
    net = _net(name, horizon)
    net.eval()
    assert net(x).shape == (16, horizon, 2, 1)  # the output contract: (B, H, C, P), P = 1 point

    # The same seed gives the same network and the same predictions.
    twin = _net(name, horizon).eval()
    assert torch.equal(net(x), twin(x))

    # A single batch overfits: the loss falls at least tenfold.
    module = ForecastModule(net, learning_rate=1e-2, teacher_forcing=0.5)
    module.train()
    opt = module.configure_optimizers()
    with torch.no_grad():
        first = module._loss(Batch(x, y)).item()
    for _ in range(250):
        opt.zero_grad()
        loss = module._loss(Batch(x, y))
        loss.backward()
        opt.step()
    module.eval()
    with torch.no_grad():
        assert module._loss(Batch(x, y)).item() < first / 10

    # A checkpoint round trip (weights only, no code execution) gives identical predictions.
    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": module.state_dict()}, path)
    fresh = ForecastModule(_net(name, horizon, seed=99)).eval()
    fresh.load_state_dict(torch.load(path, weights_only=True)["state_dict"])
    with torch.no_grad():
        assert torch.equal(fresh(x), module(x))


def test_loop_lstm_matches_torch_lstm():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(5, 16, num_layers=2, batch_first=True)
    mine = LoopLSTM(5, 16, num_layers=2).load_from_torch_lstm(ref)
    x = torch.randn(8, 30, 5)
    want, _ = ref(x)
    got = mine(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # and so do the gradients that train it (the loop is written for speed, not as the textbook)
    want.square().sum().backward()
    got.square().sum().backward()
    for i in range(2):
        torch.testing.assert_close(mine.weight_hh[i].grad, getattr(ref, f"weight_hh_l{i}").grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mine.weight_ih[i].grad, getattr(ref, f"weight_ih_l{i}").grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mine.bias[i].grad, getattr(ref, f"bias_ih_l{i}").grad, atol=1e-5, rtol=1e-4)


def test_cifg_recurrence_is_the_coupled_lstm():
    """The product's CIFG (the fused kernel on tied weights) and the loop's step c = g + f (c - g)
    are both f c + (1 - f) g, checked against a textbook loop."""
    torch.manual_seed(0)
    loop = LoopLSTM(3, 6, coupled=True)
    fused = CoupledLSTM(3, 6)
    fused.load_state_dict(loop.state_dict())  # the same parameter names and shapes
    x = torch.randn(4, 9, 3)
    w_ih, w_hh, b = loop.weight_ih[0], loop.weight_hh[0], loop.bias[0]
    h, c, hs = torch.zeros(4, 6), torch.zeros(4, 6), []
    for t in range(9):
        f, g, o = (x[:, t] @ w_ih.T + h @ w_hh.T + b).split(6, dim=1)
        f, g, o = torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + (1 - f) * g
        h = o * torch.tanh(c)
        hs.append(h)
    want = torch.stack(hs, dim=1)
    torch.testing.assert_close(loop(x), want, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(fused(x), want, atol=1e-6, rtol=1e-5)


def test_fused_cifg_trains_like_the_loop():
    """The gradients reach the three gates' weights through the tying: the input gate's share
    arrives at the forget gate's rows negated, as the loop's 1 - f gives it."""
    torch.manual_seed(0)
    loop = LoopLSTM(5, 16, num_layers=2, coupled=True)
    fused = CoupledLSTM(5, 16, num_layers=2)
    fused.load_state_dict(loop.state_dict())
    x = torch.randn(8, 30, 5)
    loop(x).square().sum().backward()
    fused(x).square().sum().backward()
    for (name, want), got in zip(loop.named_parameters(), fused.parameters()):
        torch.testing.assert_close(got.grad, want.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_fused_cifg_drops_out_between_layers_only_in_training():
    torch.manual_seed(0)
    net = CoupledLSTM(4, 8, num_layers=2, dropout=0.5)
    x = torch.randn(3, 7, 4)
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    net.train()
    assert not torch.allclose(net(x), net(x))
    one = CoupledLSTM(4, 8, num_layers=1, dropout=0.5).train()  # no layer above: nothing to drop
    torch.testing.assert_close(one(x), one(x))


def test_cifg_ties_the_input_gate_to_the_forget_gate():
    full = LoopLSTM(4, 8)
    for cifg in (LoopLSTM(4, 8, coupled=True), CoupledLSTM(4, 8)):
        assert count_parameters(cifg) * 4 == count_parameters(full) * 3  # one gate fewer
        with torch.no_grad():  # forget gate saturated open => input gate 1 - f = 0: c stays 0
            cifg.bias[0][:8] = 50.0
        assert cifg(torch.randn(2, 6, 4)).abs().max() < 1e-6


def _jordan_textbook(net: JordanRNN, x: torch.Tensor) -> torch.Tensor:
    """h_t = act(W_x x_t + W_y y_{t-1} + b), y_t = W_o h_t + b_o, y_0 = 0, step by step."""
    for w_x, w_y, w_o in zip(net.w_x, net.w_y, net.w_o):
        y, hs = x.new_zeros(x.shape[0], net.output_size), []
        for t in range(x.shape[1]):
            h = net.act(w_x(x[:, t]) + w_y(y))
            y = w_o(h)
            hs.append(h)
        x = torch.stack(hs, dim=1)
    return x


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_jordan_on_the_elman_kernel_is_the_textbook_recurrence(nonlinearity):
    """The kernel runs W_y y_{t-1} as (W_y W_o) h_{t-1} + W_y b_o from step 2: the same outputs
    and the same gradients as feeding back y step by step."""
    torch.manual_seed(0)
    net = JordanRNN(3, 16, output_size=2, num_layers=2, nonlinearity=nonlinearity)
    x = torch.randn(8, 40, 3)
    got, want = net(x), _jordan_textbook(net, x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    params = list(net.parameters())
    for g, w in zip(torch.autograd.grad(got.square().sum(), params),
                    torch.autograd.grad(want.square().sum(), params)):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
    one = torch.randn(8, 1, 3)  # a single step: no feedback at all
    torch.testing.assert_close(net(one), _jordan_textbook(net, one))


def test_jordan_feeds_back_the_output_not_the_hidden_state():
    torch.manual_seed(0)
    net = JordanRNN(3, 16, output_size=2)
    x = torch.randn(4, 3, 3)  # short: at initialization its memory fades within ~10 steps
    moved = x.clone()
    moved[:, 0] += 5.0
    assert not torch.allclose(net(x)[:, -1], net(moved)[:, -1])  # memory through y
    with torch.no_grad():
        net.w_o[0].weight.zero_()
        net.w_o[0].bias.zero_()
    torch.testing.assert_close(net(x)[:, -1], net(moved)[:, -1])  # no output, no memory


def test_teacher_forcing_feeds_the_truth_only_in_training():
    torch.manual_seed(0)
    net = build_network("seq2seq", 3, horizon=4, n_targets=1, hidden_size=8, num_layers=1)
    x, y = torch.randn(2, 6, 3), torch.randn(2, 4, 1)
    other = y.clone()
    other[:, 0] += 3.0
    net.train()
    a = net(x, target=y, teacher_forcing=1.0)
    b = net(x, target=other, teacher_forcing=1.0)
    assert torch.equal(a[:, 0], b[:, 0]) and not torch.allclose(a[:, 1], b[:, 1])
    net.eval()
    torch.testing.assert_close(net(x, target=y, teacher_forcing=1.0), net(x))


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_attention_weights_are_a_distribution_over_encoder_steps(kind):
    net = build_network("seq2seq-attn", 3, horizon=5, hidden_size=8, num_layers=1, attention=kind)
    pred, weights = net.forward_with_attention(torch.randn(2, 7, 3))
    assert pred.shape == (2, 5, 1, 1) and weights.shape == (2, 5, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))


def test_gates_by_parameter_count():
    sizes = {n: count_parameters(build_network(n, 1, 1, hidden_size=8, num_layers=1))
             for n in ("rnn", "lstm", "gru", "birnn")}
    recurrent = {n: sizes[n] - (8 + 1) for n in ("rnn", "lstm", "gru")}  # minus the head
    assert recurrent["lstm"] == 4 * recurrent["rnn"] and recurrent["gru"] == 3 * recurrent["rnn"]
    assert sizes["birnn"] - (16 + 1) == 2 * recurrent["rnn"]


def test_unknown_network():
    with pytest.raises(ValueError, match="choose one of rnn, jordan, lstm"):
        build_network("transformer", 1, 1)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_has_a_gaussian_head(name):
    torch.manual_seed(0)
    net = build_network(name, n_features=3, horizon=4, n_targets=2, hidden_size=16, num_layers=1, n_params=2)
    module = ForecastModule(net, loss="gaussian", teacher_forcing=0.5, learning_rate=1e-2)
    x, y = torch.randn(16, 8, 3), torch.randn(16, 4, 2)
    module.train()
    opt = module.configure_optimizers()
    first = module._loss(Batch(x, y)).item()
    for _ in range(60):
        opt.zero_grad()
        loss = module._loss(Batch(x, y))
        loss.backward()
        opt.step()
    assert loss.item() < first  # the negative log-likelihood falls
    module.eval()
    assert net(x).shape == (16, 4, 2, 2)  # (B, H, C, P): mean and log scale per target and step
    mean, std = module.distribution(x)
    assert mean.shape == std.shape == (16, 4, 2) and (std > 0).all()
    torch.testing.assert_close(mean, net(x)[..., 0])  # every consumer reads the mean from slot 0

    # The gradient flow of a Gaussian head is that of its mean, with several targets too.
    flow = gradient_flow(net, x, y)
    xg = x.clone().requires_grad_(True)
    ((net(xg)[..., 0] - y) ** 2).mean(dim=(1, 2)).sum().backward()
    want = xg.grad.norm(dim=2).mean(dim=0).flip(0).numpy()
    np.testing.assert_allclose(flow, want, rtol=1e-4, atol=1e-12)
    assert torch.equal(module(x), mean)


FUTURE_VARIANTS = [(name, {}) for name in NETWORKS] + [("segrnn", {"segment_decoding": "recurrent"})]


@pytest.mark.parametrize("name, extra", FUTURE_VARIANTS, ids=[f"{n}{'-' + '-'.join(e.values()) if e else ''}"
                                                               for n, e in FUTURE_VARIANTS])
def test_known_future_inputs_reach_every_network(name, extra):
    """A network built with K known-future columns reads (B, H, K) over the horizon: the shape
    contract holds, each step's forecast moves with the future values, and a target that is one
    of those future columns (invisible in the window) is learned."""
    torch.manual_seed(0)
    H, K = 5, 2
    net = build_network(name, n_features=3, horizon=H, n_targets=2, hidden_size=32, num_layers=1,
                        segment_length=4, n_future=K, **extra)
    g = torch.Generator().manual_seed(1)
    x, future = torch.randn(64, 12, 3, generator=g), torch.randn(64, H, K, generator=g)
    assert net(x, future=future).shape == (64, H, 2, 1)
    with pytest.raises(ValueError, match=r"needs the known-future inputs \(B, 5, 2\)"):
        net(x)
    with pytest.raises(ValueError, match="without known-future inputs"):
        build_network(name, n_features=3, horizon=H, n_targets=2, hidden_size=8, num_layers=1,
                      segment_length=4, **extra)(x, future=future)

    moved = future.clone()
    moved[:, -1] += 1.0  # only the last step's future values change
    with torch.no_grad():
        assert not torch.allclose(net(x, future=moved)[:, -1], net(x, future=future)[:, -1])

    y = future[..., :1].expand(64, H, 2)  # both targets: the first future column at each step
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    with torch.no_grad():
        first = torch.nn.functional.mse_loss(net(x, future=future)[..., 0], y).item()
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x, future=future)[..., 0], y)
        loss.backward()
        opt.step()
    assert loss.item() < first / 10
