"""`--norm revin` for every network (issue #13, item 1): each window's target inputs relative to
their last value and divided by their own deviation, the statistics put back at the output.

The forecast of every network is then scale-free: a window lifted by a constant gives the same
changes (or, for a levels network, levels lifted by it), a window three times wider gives
changes three times larger and a Gaussian head's log deviation larger by log 3. Teacher forcing
feeds the truth in the same scale; attention maps still come out; fit, predict and export agree.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import sensor_frame
from forecaster.config import FitConfig
from forecaster.data.windows import Batch
from forecaster.nets import NETWORKS
from forecaster.nets.build import build_network, sequential_steps
from forecaster.nets.norm import WindowNorm
from forecaster.training.diagnostics import attention_weights
from forecaster.training.module import ForecastModule

C = 2  # targets; the third input column is a covariate the normalization leaves alone


def _net(name: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    size = {"segment_length": 4} if name == "segrnn" else {}
    return build_network(name, n_features=3, horizon=4, n_targets=C, hidden_size=16, num_layers=1,
                         norm="revin", **size, **kw).eval()


def _targets(x: torch.Tensor, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    """x with its target columns scaled and shifted, the covariate as it was."""
    return torch.cat([x[..., :C] * scale + shift, x[..., C:]], dim=-1)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_forecasts_in_the_windows_own_scale(name):
    x = torch.randn(5, 12, 3)
    net = _net(name)
    with torch.no_grad():
        y = net(x)
        torch.testing.assert_close(net(_targets(x, shift=50.0)), y, atol=1e-4, rtol=1e-4)  # changes
        torch.testing.assert_close(net(_targets(x, scale=3.0)), 3.0 * y, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(net(_targets(x, scale=3.0)), y, atol=1e-3)  # it did scale
        levels = _net(name, add_last=True)  # the "level" transform: the last value added back
        torch.testing.assert_close(levels(_targets(x, shift=50.0)) - 50.0, levels(x), atol=1e-3, rtol=1e-4)
        torch.testing.assert_close(levels(_targets(x, scale=3.0)), 3.0 * levels(x), atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("name", ["lstm", "seq2seq", "segrnn"])
def test_a_gaussian_heads_deviation_moves_with_the_window(name):
    net = _net(name, n_params=2)
    x = torch.randn(5, 12, 3)
    with torch.no_grad():
        a, b = net(x), net(_targets(x, scale=3.0))
    torch.testing.assert_close(b[..., 0], 3.0 * a[..., 0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(b[..., 1], a[..., 1] + math.log(3.0), atol=1e-4, rtol=1e-4)


def test_without_revin_the_pointwise_networks_are_not_scale_free():
    torch.manual_seed(0)
    plain = build_network("lstm", n_features=3, horizon=4, n_targets=C, hidden_size=16, num_layers=1).eval()
    assert not isinstance(plain, WindowNorm)  # "last" (the default) leaves them as they are
    x = torch.randn(5, 12, 3)
    with torch.no_grad():
        assert not torch.allclose(plain(_targets(x, scale=3.0)), 3.0 * plain(x), atol=1e-3)


def test_teacher_forcing_feeds_the_truth_in_the_windows_scale():
    net = _net("seq2seq").train()  # no dropout: training mode only turns teacher forcing on
    x, y = torch.randn(5, 12, 3), torch.randn(5, 4, C)
    with torch.no_grad():
        forced = net(x, target=y, teacher_forcing=1.0)
        torch.testing.assert_close(net(_targets(x, scale=3.0), target=3.0 * y, teacher_forcing=1.0),
                                   3.0 * forced, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(net(x, target=y + 1.0, teacher_forcing=1.0), forced)  # the truth is read


def test_attention_maps_and_the_gradient_path_see_through_the_normalization():
    net = _net("seq2seq-attn")
    weights = attention_weights(net, torch.randn(5, 12, 3))
    assert weights.shape == (5, 4, 12)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert attention_weights(_net("lstm"), torch.randn(5, 12, 3)) is None
    assert sequential_steps(net, 12) == 12 + 4  # encoder then decoder steps, as without it


@pytest.mark.parametrize("name", ["lstm", "jordan", "seq2seq-attn"])
def test_a_normalized_network_learns(name):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 12, 3, generator=g), torch.randn(16, 4, C, generator=g)
    module = ForecastModule(_net(name).train(), learning_rate=1e-2, teacher_forcing=0.5)
    opt = module.configure_optimizers()
    with torch.no_grad():
        first = module._loss(Batch(x, y)).item()
    for _ in range(250):
        opt.zero_grad()
        module._loss(Batch(x, y)).backward()
        opt.step()
    module.eval()
    with torch.no_grad():
        assert module._loss(Batch(x, y)).item() < first / 10


def test_fit_with_revin_records_it_and_predict_reproduces_the_forecast(tmp_path):
    from forecaster.runs.card import ModelCard
    from forecaster.runs.fit import fit
    from forecaster.runs.predict import forecast

    log = tmp_path / "log.csv"
    frame = sensor_frame(500)
    frame.reset_index().to_csv(log, index=False)
    r = fit(FitConfig(csv=str(log), target=["temp"], features=["humid"], out=str(tmp_path / "r"), max_epochs=2,
                      hidden_size=8, num_layers=1, lookback=16, horizon=3, patience=0, norm="revin",
                      anchor="last"), progress=False)
    assert isinstance(r.module.network, WindowNorm)
    card = ModelCard.load(r.run_dir)
    assert card.network_kwargs["norm"] == "revin"
    cutoff = r.forecasts.index.get_level_values("cutoff").unique()[4]
    cut = tmp_path / "cut.csv"
    frame.loc[:cutoff].reset_index().to_csv(cut, index=False)
    want = r.forecasts.xs(cutoff, level="cutoff")["lstm"]
    np.testing.assert_allclose(forecast(r.run_dir, csv=str(cut)).table["forecast"], want, rtol=1e-5)


def test_an_unknown_norm_is_refused_for_every_network():
    with pytest.raises(ValueError, match="unknown norm 'batch'; choose one of last, revin, none"):
        build_network("lstm", n_features=3, horizon=4, norm="batch")
