"""Benchmarks 1 and 2: training and prediction throughput, product against a pure-PyTorch floor.

Reference settings: lookback 64, horizon 16, LSTM hidden 64 x 2 layers, batch 128, 5 epochs,
float32, 2 threads (on a GPU: BENCH_DEVICE and BENCH_PRECISION, see common.py). The reference
is the same network and the same zero-copy windows, with shuffled indices, clipping, Adam and
one validation pass per epoch in a plain loop; the product is WindowDataModule +
ForecastModule + Lightning Trainer through `forecaster.training.trainer.make_trainer`
(clipping, checkpoints, early-stopping bookkeeping, gradient-norm history, finite-loss guard:
everything a real fit does).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from common import ACCELERATOR, DEVICE, PRECISION, autocast, describe, sensor_arrays, settle_times, steady_process
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


def reference_train(data: WindowDataModule, make_network=network, epochs: int = EPOCHS,
                    fused_adam: bool = False) -> None:
    """The floor: a plain loop (also the reference of bench_small_task.py), run with torch's
    default flags whatever a product run left behind (Lightning's `deterministic=True` used to
    leave torch's deterministic mode on in the process, which fills every new tensor with NaN).
    Its Adam is torch's default, as a plain loop has it; `fused_adam` gives it the product's
    fused kernel, which leaves the framework's own cost alone in the ratio."""
    flags = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        _reference_train(data, make_network, epochs, fused_adam)
    finally:
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])


def _reference_train(data: WindowDataModule, make_network, epochs: int, fused_adam: bool = False) -> None:
    net = make_network().to(DEVICE)
    batch = data.batch_size
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused_adam or None)
    ds, val = data.dataset("train"), data.dataset("val")
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        net.eval()
        with torch.inference_mode(), autocast():  # one validation pass per epoch, as the product does
            for i in range(0, len(val), batch):
                x, y, _ = val[torch.arange(i, min(i + batch, len(val)))]
                F.mse_loss(net(x.to(DEVICE))[..., 0].float(), y.to(DEVICE))  # (B, H, C, 1) -> (B, H, C)
        net.train()
        order = torch.randperm(len(ds), generator=g)
        for i in range(0, len(ds), batch):
            x, y, _ = ds[order[i:i + batch]]
            opt.zero_grad()
            with autocast():
                loss = F.mse_loss(net(x.to(DEVICE))[..., 0].float(), y.to(DEVICE))  # (B, H, C, 1) -> (B, H, C)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()


def product_train(data: WindowDataModule, make_network=network, epochs: int = EPOCHS, patience: int = 0) -> None:
    """What `forecaster fit` runs to train, checkpoints included, into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(Path(tmp), max_epochs=epochs, patience=patience, progress=False,
                               accelerator=ACCELERATOR, devices=1, precision=PRECISION)
        train(ForecastModule(make_network()), data, trainer)


def report(name: str, unit: str, work: int, fn_ref, fn_product, target: float) -> None:
    """Product throughput / reference throughput (the reference's time / the product's), settled."""
    v, ref_s, prod_s = settle_times(fn_ref, fn_product, name, target, higher_is_better=True,
                                    ratio=lambda r, p: r / p)
    print(f"{name}: reference {work / statistics.median(ref_s):,.0f} {unit}, "
          f"product {work / statistics.median(prod_s):,.0f} {unit}")
    print(v.line())


def main() -> None:
    steady_process()
    import logging
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    print(describe())
    data = setup()
    n_train = len(data.dataset("train"))
    report("training throughput", "windows/s", EPOCHS * n_train, lambda: reference_train(data),
           lambda: product_train(data), target=0.97)

    module = ForecastModule(network()).to(DEVICE).eval()
    ds = data.dataset("test")

    @torch.inference_mode()
    def reference_predict():  # float32, as the product predicts whatever precision it trained in
        for i in range(0, len(ds), 1024):
            x = ds[torch.arange(i, min(i + 1024, len(ds)))].x
            module.network(x.to(DEVICE)).cpu()

    report("prediction throughput", "windows/s", len(ds), reference_predict,
           lambda: predict_windows(module, data, "test"), target=0.9)

if __name__ == "__main__":
    main()
