import pytest
import torch

from forecaster.module import ForecastModule
from forecaster.nets import NETWORKS, build_network, count_parameters


@pytest.mark.parametrize("name", NETWORKS)
def test_output_shape_and_single_batch_overfits(name):
    torch.manual_seed(0)
    net = build_network(name, n_features=3, horizon=4, n_targets=2, hidden_size=32, num_layers=2)
    x, y = torch.randn(16, 12, 3), torch.randn(16, 4, 2)
    assert net(x).shape == (16, 4, 2)
    module = ForecastModule(net, learning_rate=1e-2)
    opt = module.configure_optimizers()
    first = module._loss((x, y)).item()
    for _ in range(300):
        opt.zero_grad()
        loss = module._loss((x, y))
        loss.backward()
        opt.step()
    assert loss.item() < first / 10


def test_lstm_has_four_gates_gru_three_rnn_one():
    sizes = {n: count_parameters(build_network(n, 1, 1, hidden_size=8, num_layers=1)) for n in NETWORKS}
    recurrent = {n: sizes[n] - (8 + 1) for n in NETWORKS}  # minus the head
    assert recurrent["lstm"] == 4 * recurrent["rnn"] and recurrent["gru"] == 3 * recurrent["rnn"]


def test_unknown_network():
    with pytest.raises(ValueError, match="choose one of rnn, lstm, gru"):
        build_network("transformer", 1, 1)
