"""Benchmarks 1 and 2: training and prediction throughput, product against a pure-PyTorch floor.

Reference settings: lookback 64, horizon 16, LSTM hidden 64 x 2 layers, batch 128, 5 epochs,
float32, 2 threads. The reference is the same network and the same zero-copy windows, with
shuffled indices, clipping, Adam and one validation pass per epoch in a plain loop; the product is WindowDataModule + ForecastModule +
Lightning Trainer through `forecaster.training.trainer.make_trainer` (clipping, checkpoints, early-stopping
bookkeeping, gradient-norm history, finite-loss guard: everything a real fit does).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from common import paired, report, sensor_arrays, steady_process
from forecaster.training.module import ForecastModule
from forecaster.nets.build import build_network
from forecaster.training.inference import predict_windows
from forecaster.training.trainer import make_trainer, train
from forecaster.data.windows import WindowDataModule

LOOKBACK, HORIZON, HIDDEN, LAYERS, BATCH, EPOCHS = 64, 16, 64, 2, 128, 5
ROWS, FEATURES = 12_000, 8


def setup():
    x = sensor_arrays(ROWS, FEATURES)
    span = LOOKBACK + HORIZON
    n = ROWS - span + 1
    cut_val, cut_test = int(n * 0.7), int(n * 0.85)
    starts = {"train": np.arange(0, cut_val), "val": np.arange(cut_val + span, cut_test),
              "test": np.arange(cut_test + span, n)}
    return WindowDataModule(x, x[:, :1].copy(), starts, LOOKBACK, HORIZON, batch_size=BATCH, seed=0)


def network():
    torch.manual_seed(0)
    return build_network("lstm", FEATURES, HORIZON, 1, hidden_size=HIDDEN, num_layers=LAYERS)


def reference_train(data: WindowDataModule) -> None:
    net = network()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    ds, val = data.dataset("train"), data.dataset("val")
    g = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        net.eval()
        with torch.inference_mode():  # one validation pass per epoch, as the product does
            for i in range(0, len(val), BATCH):
                x, y = val[torch.arange(i, min(i + BATCH, len(val)))]
                F.mse_loss(net(x), y)
        net.train()
        order = torch.randperm(len(ds), generator=g)
        for i in range(0, len(ds), BATCH):
            x, y = ds[order[i:i + BATCH]]
            opt.zero_grad()
            loss = F.mse_loss(net(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()


def product_train(data: WindowDataModule) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(Path(tmp), max_epochs=EPOCHS, patience=0, progress=False)
        train(ForecastModule(network()), data, trainer)


def main() -> None:
    steady_process()
    import logging
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    data = setup()
    n_train = len(data.dataset("train"))
    ref_s, prod_s = paired(lambda: reference_train(data), lambda: product_train(data), repeats=6)
    report("training throughput", "windows/s", [EPOCHS * n_train / s for s in ref_s],
           [EPOCHS * n_train / s for s in prod_s], target=0.97)

    module = ForecastModule(network()).eval()
    ds = data.dataset("test")

    @torch.inference_mode()
    def reference_predict():
        for i in range(0, len(ds), 1024):
            x, _ = ds[torch.arange(i, min(i + 1024, len(ds)))]
            module.network(x)

    n_test = len(ds)
    ref_s, prod_s = paired(reference_predict, lambda: predict_windows(module, data, "test"), repeats=6)
    report("prediction throughput", "windows/s", [n_test / s for s in ref_s], [n_test / s for s in prod_s],
           target=0.9)


if __name__ == "__main__":
    main()
