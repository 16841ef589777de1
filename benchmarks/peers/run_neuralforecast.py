"""NeuralForecast on the peer task, one configuration per process (argument):

- `lstm`: LSTM out of the box: h 16, input_size 64, encoder 64 x 2, 128 windows per step and
  135 steps (5 epochs of 27 batches: NeuralForecast counts steps, not epochs); its defaults
  otherwise: MAE loss, the "robust" scaler on every window, a 2-layer MLP decoder (128 hidden),
  no validation, no checkpoints, Lightning's default logger and progress bar.
- `lstm-matched`: ours as far as its API allows: MSE loss, scaler "identity" (the series is
  already standardized on the training part), a linear decoder (decoder_layers=1), validation
  every 27 steps on the 128 validation windows (val_size 143: the last 143 rows of the series
  handed to fit), early stopping after 5 checks without improvement, clipping at 1, best and last
  checkpoints after each validation (a Lightning ModelCheckpoint through its trainer keywords;
  NeuralForecast's "epoch" is a single step, so the default would save last.ckpt every step) and the best one
  reloaded after training (counted in training), no logger, progress bar or model summary.

Prediction is `NeuralForecast.predict` with every test window as its own 64-step series
(2,729 series), building that frame included. Prints one JSON line (see task.py).
"""

import time

START = time.perf_counter()
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from neuralforecast import NeuralForecast  # noqa: E402
from neuralforecast.losses.pytorch import MSE  # noqa: E402
from neuralforecast.models import LSTM  # noqa: E402
from pytorch_lightning.callbacks import ModelCheckpoint  # noqa: E402

from task import (BATCH, EPOCHS, FIT_ROWS, HIDDEN, HORIZON, LAYERS, LOOKBACK, LR, PATIENCE, TRAIN_WINDOWS,  # noqa: E402
                  VAL_ROWS, VAL_START, VAL_WINDOWS, clock, cpu, emit, series, test_windows)
from common import steady_process  # noqa: E402

IMPORT_S = time.perf_counter() - START
STEPS_PER_EPOCH = -(-TRAIN_WINDOWS // BATCH)  # 27


def frame(values: np.ndarray) -> pd.DataFrame:
    """Rows (S, T) -> NeuralForecast's long frame, series s named s, times 0..T-1."""
    s, t = values.shape
    return pd.DataFrame({"unique_id": np.repeat(np.arange(s), t), "ds": np.tile(np.arange(t), s),
                         "y": values.reshape(-1)})


def main(config: str, tmp: str) -> None:
    steady_process()
    os.chdir(tmp)  # Lightning's default logger writes lightning_logs/ here
    x = series()
    sizes = dict(h=HORIZON, input_size=LOOKBACK, encoder_hidden_size=HIDDEN, encoder_n_layers=LAYERS,
                 windows_batch_size=BATCH, max_steps=EPOCHS * STEPS_PER_EPOCH, learning_rate=LR, random_seed=0)
    t, c = clock(), cpu()
    if config == "lstm":
        model = LSTM(**sizes)
        nf = NeuralForecast(models=[model], freq=1)
        nf.fit(frame(x[None, :FIT_ROWS]))
    else:
        logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        # after each validation only: NeuralForecast's "epoch" is one step (one batch of windows)
        best = ModelCheckpoint(dirpath=tmp, filename="best", monitor="ptl/val_loss", mode="min", save_last=True,
                               save_on_train_epoch_end=False)
        model = LSTM(**sizes, loss=MSE(), scaler_type="identity", decoder_layers=1, valid_batch_size=1024,
                     val_check_steps=STEPS_PER_EPOCH, early_stop_patience_steps=PATIENCE,
                     gradient_clip_val=1.0, enable_checkpointing=True, callbacks=[best], logger=False,
                     enable_progress_bar=False, enable_model_summary=False)
        nf = NeuralForecast(models=[model], freq=1)
        end = VAL_START + VAL_ROWS  # validation: every window whose target lies in the last 143 rows
        nf.fit(frame(x[None, :end]), val_size=VAL_WINDOWS + HORIZON - 1)
        state = torch.load(os.path.join(tmp, "best.ckpt"), map_location="cpu", weights_only=False)["state_dict"]
        nf.models[0].load_state_dict(state)
    train_s = clock() - t
    train_cpu_s = cpu() - c
    t, c = clock(), cpu()
    inputs, _ = test_windows(x)
    pred = nf.predict(df=frame(inputs)).sort_values(["unique_id", "ds"])
    out = pred["LSTM"].to_numpy().reshape(len(inputs), HORIZON)
    predict_s = clock() - t
    predict_cpu_s = cpu() - c
    emit("NeuralForecast", config, IMPORT_S, train_s, predict_s, out, x,
         train_cpu_s=train_cpu_s, predict_cpu_s=predict_cpu_s)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(sys.argv[1], tmp)
