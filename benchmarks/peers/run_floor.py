"""The floor: benchmark 6's plain PyTorch loop (`bench_throughput.reference_train`: one
validation pass per epoch, shuffled batches, Adam, clipping at 1, no checkpoints) on forecaster's
network (LSTM 64 x 2, a linear head from the last hidden state to 16 steps) and zero-copy windows;
prediction is a plain inference-mode loop in batches of 1,024 over the test windows.
Prints one JSON line (see task.py)."""

import time

START = time.perf_counter()
import torch  # noqa: E402

from task import EPOCHS, HIDDEN, HORIZON, LAYERS, clock, cpu, emit, series, window_module  # noqa: E402
from common import steady_process  # noqa: E402
from bench_throughput import reference_train  # noqa: E402
from forecaster.nets.build import build_network  # noqa: E402

IMPORT_S = time.perf_counter() - START


def main() -> None:
    steady_process()
    x = series()
    data = window_module(x)
    nets = []

    def network():  # the network bench_small_task.py builds, kept for prediction
        torch.manual_seed(0)
        nets.append(build_network("lstm", 1, HORIZON, 1, hidden_size=HIDDEN, num_layers=LAYERS))
        return nets[-1]

    t, c = clock(), cpu()
    reference_train(data, network, EPOCHS)
    train_s = clock() - t
    train_cpu_s = cpu() - c
    net = nets[0].eval()
    t, c = clock(), cpu()
    ds = data.dataset("test")
    out = torch.empty(len(ds), HORIZON)
    with torch.inference_mode():
        for i in range(0, len(ds), 1024):
            xb = ds[torch.arange(i, min(i + 1024, len(ds)))].x  # (B, L, 1)
            out[i:i + len(xb)] = net(xb)[:, :, 0, 0]  # (B, H, C, P) -> (B, H)
    predict_s = clock() - t
    predict_cpu_s = cpu() - c
    emit("PyTorch loop (floor)", "-", IMPORT_S, train_s, predict_s, out.numpy(), x,
         train_cpu_s=train_cpu_s, predict_cpu_s=predict_cpu_s)


if __name__ == "__main__":
    main()
