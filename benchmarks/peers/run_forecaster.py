"""forecaster: what `forecaster fit` runs to train (WindowDataModule + ForecastModule +
`make_trainer` with fit's defaults: clipping at 1, early stopping with patience 5, best and last
checkpoints every epoch into a temporary folder, the best epoch's weights restored + `train`), as
bench_small_task.py's product; prediction is `forecaster.training.inference.predict_windows`
over the test split. Prints one JSON line (see task.py)."""

import time

START = time.perf_counter()
import logging  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from task import EPOCHS, HIDDEN, HORIZON, LAYERS, LR, PATIENCE, clock, cpu, emit, series, window_module  # noqa: E402
from common import steady_process  # noqa: E402
from forecaster.nets.build import build_network  # noqa: E402
from forecaster.training.inference import predict_windows  # noqa: E402
from forecaster.training.module import ForecastModule  # noqa: E402
from forecaster.training.trainer import make_trainer, train  # noqa: E402

IMPORT_S = time.perf_counter() - START


def main() -> None:
    steady_process()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    x = series()
    data = window_module(x)
    with tempfile.TemporaryDirectory() as tmp:
        t, c = clock(), cpu()
        torch.manual_seed(0)
        module = ForecastModule(build_network("lstm", 1, HORIZON, 1, hidden_size=HIDDEN, num_layers=LAYERS),
                                learning_rate=LR)
        trainer = make_trainer(Path(tmp), max_epochs=EPOCHS, patience=PATIENCE, progress=False)
        result = train(module, data, trainer)
        train_s = clock() - t
        train_cpu_s = cpu() - c
    t, c = clock(), cpu()
    mean, _ = predict_windows(module, data, "test")  # (N, H, 1)
    predict_s = clock() - t
    predict_cpu_s = cpu() - c
    emit("forecaster", "fit's defaults", IMPORT_S, train_s, predict_s, mean[..., 0], x,
         train_cpu_s=train_cpu_s, predict_cpu_s=predict_cpu_s, epochs=result.epochs, best_epoch=result.best_epoch)


if __name__ == "__main__":
    main()
