"""SegRNN: segment-wise recurrence, parallel decoding, channel independence, normalization.

The family-wide checks (output contract, overfitting a batch, checkpoint round trip, Gaussian
head) run over segrnn in tests/test_nets.py; these are its own."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from forecaster.data.windows import Batch
from forecaster.data.sources import load_dataset
from forecaster.nets.build import build_network, sequential_steps
from forecaster.nets.segrnn import SegRNN, segment_length_for
from forecaster.training.diagnostics import gradient_flow
from forecaster.training.module import ForecastModule


def _segrnn(**kw) -> SegRNN:
    torch.manual_seed(0)
    args = dict(n_features=3, horizon=30, n_targets=3, hidden_size=16, segment_length=12)
    return SegRNN(**{**args, **kw}).eval()


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_parallel_decoding_is_one_cell_step_per_window_channel_and_segment(cell):
    """The broadcast decoder equals running the cell once on every (window, channel, future
    segment) with input [position; channel] from the encoder's final state."""
    net = _segrnn(cell=cell, num_layers=2)
    B, C, m, d = 4, 3, net.n_out, 16
    x = torch.randn(B, 48, 3)
    series = x.transpose(1, 2) - x.transpose(1, 2)[..., -1:]  # (B, C, L) minus the last value
    _, state = net.rnn(torch.relu(net.embed(series.reshape(B * C, 4, 12))))
    fast = net._decode_parallel(state, B)  # (B, C, m, d)

    inp = torch.cat([net.position[None].expand(C, m, -1), net.channel[:, None].expand(C, m, -1)], dim=-1)
    inp = inp[None].expand(B, C, m, d).reshape(B * C * m, 1, d)  # every (window, channel, segment)
    one = type(net.rnn)(d, d, batch_first=True)  # a one-layer cell with the top layer's weights
    one.load_state_dict({k.replace("_l1", "_l0"): v for k, v in net.rnn.state_dict().items() if k.endswith("_l1")})
    top = (lambda s: s[-1:].repeat_interleave(m, dim=1).contiguous())
    init = (top(state[0]), top(state[1])) if cell == "lstm" else top(state)
    slow, _ = one(inp, init)
    torch.testing.assert_close(fast, slow.view(B, C, m, d), atol=1e-5, rtol=1e-5)


def test_a_720_step_window_takes_30_recurrent_steps():
    net = _segrnn(n_features=1, n_targets=1, segment_length=24, horizon=96)
    seen = []
    net.rnn.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape))
    assert net(torch.randn(2, 720, 1)).shape == (2, 96, 1, 1)
    assert seen == [torch.Size([2, 30, 16])]  # (B * C, n = 720 / 24 segments, d): one call, 30 steps
    assert sequential_steps(net, 720) == 31  # 30 encoder steps and one parallel decoder step
    assert sequential_steps(_segrnn(decoding="recurrent", horizon=96, segment_length=24), 720) == 30 + 4
    assert sequential_steps(build_network("lstm", 1, 96), 720) == 720
    assert sequential_steps(build_network("seq2seq", 1, 96), 720) == 720 + 96


def test_window_not_a_multiple_of_the_segment_is_padded_at_its_start():
    net = _segrnn()
    x = torch.randn(2, 40, 3)  # 40 rows: 4 segments of 12, the first padded with 8 copies of row 0
    padded = torch.cat([x[:, :1].expand(2, 8, 3), x], dim=1)
    torch.testing.assert_close(net(x), net(padded))


def test_channels_are_independent_with_shared_weights():
    net = _segrnn()
    x = torch.randn(5, 48, 3)
    y = x.clone()
    y[..., 0] += torch.randn(5, 48)  # change channel 0 only
    out_x, out_y = net(x), net(y)
    assert not torch.allclose(out_x[:, :, 0], out_y[:, :, 0])
    torch.testing.assert_close(out_x[:, :, 1:], out_y[:, :, 1:])  # the others do not see it
    # One set of weights for every channel: the parameters do not grow with the channels,
    # apart from one channel embedding each.
    wide = SegRNN(n_features=30, horizon=30, n_targets=30, hidden_size=16, segment_length=12)
    extra = sum(p.numel() for p in wide.parameters()) - sum(p.numel() for p in net.parameters())
    assert extra == 27 * (16 - 16 // 2)


def test_covariates_join_every_channels_segments():
    net = _segrnn(n_features=5, n_targets=3)  # 3 targets, 2 covariate columns
    x = torch.randn(4, 48, 5)
    y = x.clone()
    y[..., 4] += 1.0  # a covariate moves every channel's forecast
    assert (net(x) - net(y)).abs().amax(dim=(0, 1, 3)).min() > 0


@pytest.mark.parametrize("norm", ["last", "revin"])
def test_normalization_makes_the_forecast_scale_free(norm):
    net = _segrnn(norm=norm)
    x = torch.randn(4, 48, 3)
    shifted = x + 100.0  # a level shift of every channel
    torch.testing.assert_close(net(shifted), net(x), atol=1e-4, rtol=1e-4)  # changes: unchanged
    lifted = _segrnn(norm=norm, add_last=True)
    torch.testing.assert_close(lifted(shifted), lifted(x) + 100.0, atol=1e-3, rtol=1e-5)  # levels move
    if norm == "revin":  # scaled windows give scaled changes: the window's deviation is put back
        torch.testing.assert_close(net(3.0 * x), 3.0 * net(x), atol=1e-4, rtol=1e-4)


def test_without_normalization_a_level_shift_changes_the_forecast():
    net = _segrnn(norm="none")
    x = torch.randn(4, 48, 3)
    assert not torch.allclose(net(x + 100.0), net(x), atol=1e-3)


def test_revin_gaussian_head_moves_its_scale_with_the_window():
    net = _segrnn(norm="revin", n_params=2)
    x = torch.randn(4, 48, 3)
    a, b = net(x), net(3.0 * x)
    torch.testing.assert_close(b[..., 0], 3.0 * a[..., 0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(b[..., 1], a[..., 1] + math.log(3.0), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("decoding", ["parallel", "recurrent"])
@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_every_cell_and_decoding_learns(cell, decoding):
    torch.manual_seed(0)
    net = build_network("segrnn", n_features=2, horizon=20, n_targets=2, hidden_size=32, num_layers=1,
                        cell=cell, segment_length=8, segment_decoding=decoding)
    x, y = torch.randn(16, 32, 2), torch.randn(16, 20, 2)
    module = ForecastModule(net, learning_rate=1e-2)
    opt = module.configure_optimizers()
    first = module._loss(Batch(x, y)).item()
    for _ in range(200):
        opt.zero_grad()
        loss = module._loss(Batch(x, y))
        loss.backward()
        opt.step()
    assert loss.item() < first / 5


def test_recurrent_decoding_feeds_back_its_own_forecast():
    """Each future segment after the first depends on the segment forecast before it: with the
    output layer's bias moved, later segments change beyond the bias itself."""
    net = _segrnn(decoding="recurrent")
    x = torch.randn(3, 48, 3)
    before = net(x)
    with torch.no_grad():
        net.out.bias += 1.0
    after = net(x) - 1.0
    torch.testing.assert_close(after[:, :12], before[:, :12])  # segment 1: the bias alone
    assert not torch.allclose(after[:, 12:], before[:, 12:])  # segments 2, 3: fed the shifted forecast


def test_segments_keep_the_gradient_of_the_oldest_input():
    """Over a 720-step window, the gradient reaching the oldest input through 30 segment steps
    is far larger than through 720 point-wise steps of a GRU of the same width."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 720, 1), torch.randn(8, 24, 1)
    seg = build_network("segrnn", 1, 24, hidden_size=32, num_layers=1, segment_length=24)
    gru = build_network("gru", 1, 24, hidden_size=32, num_layers=1)
    flow = {name: gradient_flow(net, x, y) for name, net in (("segrnn", seg), ("gru", gru))}
    assert flow["segrnn"][-1] > 1e-9  # k = 720: still there after 30 steps
    assert flow["gru"][-1] == 0  # underflowed to 0 in float32 long before 720 steps
    assert flow["segrnn"][95] > 1e6 * flow["gru"][95]  # k = 96: 4 segment steps against 96


def test_default_segment_length():
    assert segment_length_for(24, 96) == 24  # hourly: a day
    assert segment_length_for(7, 64) == 7  # daily sensor: a week
    assert segment_length_for(168, 96) == 24  # a week does not fit twice into the window
    assert segment_length_for(1, 64) == 16  # no season: a quarter of the window
    assert segment_length_for(1, 2) == 1


def test_segrnn_from_the_cli_fit_then_predict(tmp_path, capsys):
    """The LTSF command of the README with segrnn, shortened: it trains on every channel, prints
    the standardized errors and the segment length it chose, and its model card rebuilds the
    same network for `predict`."""
    from forecaster.cli import main
    from forecaster.runs.card import ModelCard

    out = tmp_path / "seg"
    code = main(["fit", "--dataset", "etth1", "--target", "HUFL,OT", "--features", "none",
                 "--split-rows", "2000,500,500", "--lookback", "96", "--horizon", "48", "--model", "segrnn",
                 "--hidden-size", "16", "--num-layers", "1", "--max-epochs", "1", "--batch-size", "128",
                 "--no-calendar", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "segrnn standardized (train mean/std per target): MSE" in stdout
    assert "segments of 24 rows" in stdout  # chosen from the detected daily season
    assert "segrnn takes each window's last value out itself" in stdout  # "auto" keeps the last value
    assert json.loads((out / "metrics.json").read_text())["split"]["anchor"] == "last"
    card = ModelCard.load(out)
    assert card.network == "segrnn" and card.network_kwargs["segment_length"] == 24
    assert main(["predict", "--run", str(out)]) == 0
    forecast = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    assert len(forecast) == 48 * 2 and set(forecast["target"]) == {"HUFL", "OT"}  # H steps per target
    last = load_dataset("etth1").index[-1]  # predict starts after the last observation
    assert forecast["timestamp"].min() == last + pd.Timedelta(hours=1)
    assert np.isfinite(forecast["forecast"]).all()


def test_lr_decay_keeps_the_rate_for_three_epochs_then_multiplies_it():
    module = ForecastModule(build_network("segrnn", 1, 4, hidden_size=8), learning_rate=1e-3, lr_decay=0.8)
    setup = module.configure_optimizers()
    adam, decay = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(6):
        rates.append(adam.param_groups[0]["lr"])
        adam.step()
        decay.step()  # Lightning steps it once per epoch ("interval": "epoch")
    assert rates == pytest.approx([1e-3, 1e-3, 1e-3, 8e-4, 6.4e-4, 5.12e-4])
    constant = ForecastModule(build_network("lstm", 1, 4), lr_decay=1.0).configure_optimizers()
    assert isinstance(constant, torch.optim.Adam)  # no scheduler without a decay


@pytest.mark.parametrize("flags, message", [
    ({"model": "segrnn", "norm": "batch"}, "unknown norm 'batch'; choose one of last, revin, none"),
    ({"model": "segrnn", "segment_decoding": "beam"}, "unknown segment_decoding 'beam'"),
    ({"model": "segrnn", "segment_length": -1}, "segment_length must be >= 0"),
    ({"lr_decay": 1.5}, "lr_decay must be in \\(0, 1\\]"),
])
def test_bad_segrnn_settings_are_refused_in_one_line(flags, message):
    from forecaster.config import make_config
    from forecaster.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_config(flags)
