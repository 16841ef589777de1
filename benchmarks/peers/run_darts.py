"""Darts on the peer task, one configuration per process (argument):

- `rnn`: RNNModel(model="LSTM") out of the box: Darts' "RNN" model, trained next-step on
  sequences of training_length 80 (3,442 of them), forecasting 16 steps by feeding its own
  forecasts back; the task's sizes, Darts' defaults otherwise (no validation, no clipping, no
  checkpoints, MSE, Adam at 1e-3).
- `block`: BlockRNNModel(model="LSTM") out of the box: input_chunk_length 64,
  output_chunk_length 16, the task's sizes, Darts' defaults otherwise.
- `block-matched`: the same network with ours around it: validation on the 128 validation
  windows every epoch, clipping at 1, early stopping with patience 5, best and last checkpoints
  (save_checkpoints=True), the best epoch reloaded after training (counted in training), no
  progress bar or model summary.

Training is `fit` on the first 3,521 standardized values (3,442 windows); prediction is
`historical_forecasts(retrain=False, stride=1)` over every test window. Prints one JSON line.
"""

import time

START = time.perf_counter()
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
from darts import TimeSeries  # noqa: E402
from darts.models import BlockRNNModel, RNNModel  # noqa: E402
from pytorch_lightning.callbacks import EarlyStopping  # noqa: E402

from task import (BATCH, EPOCHS, FIT_ROWS, HIDDEN, HORIZON, LAYERS, LOOKBACK, PATIENCE, SPAN, TEST_START,  # noqa: E402
                  VAL_ROWS, VAL_START, clock, cpu, emit, series)
from common import steady_process  # noqa: E402

IMPORT_S = time.perf_counter() - START


def model(config: str, work_dir: str):
    sizes = dict(hidden_dim=HIDDEN, n_rnn_layers=LAYERS, input_chunk_length=LOOKBACK, batch_size=BATCH,
                 n_epochs=EPOCHS, random_state=0)
    if config == "rnn":
        return RNNModel(model="LSTM", training_length=SPAN, **sizes)
    if config == "block":
        return BlockRNNModel(model="LSTM", output_chunk_length=HORIZON, **sizes)
    trainer = {"gradient_clip_val": 1.0, "enable_progress_bar": False, "enable_model_summary": False,
               "callbacks": [EarlyStopping(monitor="val_loss", mode="min", patience=PATIENCE)]}
    return BlockRNNModel(model="LSTM", output_chunk_length=HORIZON, save_checkpoints=True, force_reset=True,
                         work_dir=work_dir, model_name="peers", pl_trainer_kwargs=trainer, **sizes)


def main(config: str) -> None:
    steady_process()
    if config == "block-matched":
        logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
        logging.getLogger("darts").setLevel(logging.ERROR)
    x = series()
    with tempfile.TemporaryDirectory() as tmp:
        t, c = clock(), cpu()
        net = model(config, tmp)
        full = TimeSeries.from_values(x)  # float32, a RangeIndex: time = row
        if config == "block-matched":
            net.fit(full[:FIT_ROWS], val_series=full[VAL_START:VAL_START + VAL_ROWS], verbose=False)
            net = BlockRNNModel.load_from_checkpoint("peers", work_dir=tmp, best=True)
        else:
            net.fit(full[:FIT_ROWS])
        train_s = clock() - t
        train_cpu_s = cpu() - c
        t, c = clock(), cpu()
        forecasts = net.historical_forecasts(full, start=TEST_START + LOOKBACK, forecast_horizon=HORIZON, stride=1,
                                             retrain=False, last_points_only=False, overlap_end=False,
                                             verbose=False)
        out = np.stack([f.values()[:, 0] for f in forecasts])  # (N, H)
        predict_s = clock() - t
        predict_cpu_s = cpu() - c
    emit("Darts", config, IMPORT_S, train_s, predict_s, out, x,
         train_cpu_s=train_cpu_s, predict_cpu_s=predict_cpu_s)


if __name__ == "__main__":
    main(sys.argv[1])
