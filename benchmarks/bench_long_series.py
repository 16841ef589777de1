"""Benchmark 3: a synthetic sensor log of 10 million rows x 8 channels (float32, ~320 MB) with
lookback 512: data preparation, one epoch limited to 1,000 batches, and evaluation of 100,000
test windows. Target: peak resident memory under twice the raw array plus 500 MB.

Materializing every window would need 10 M x 512 x 8 x 4 bytes, about 160 GB.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from common import sensor_arrays, steady_process
from memory import memory_verdict, peak_mb
from forecaster.data.frame import validate_frame
from forecaster.training.module import ForecastModule
from forecaster.nets.build import build_network
from forecaster.data.prepare import prepare
from forecaster.training.inference import predict_windows
from forecaster.training.trainer import make_trainer, train
from forecaster.data.windows import WindowDataModule

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
FEATURES, LOOKBACK, HORIZON = 8, 512, 16


def main() -> None:
    steady_process()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    raw = sensor_arrays(ROWS, FEATURES)
    raw_mb = raw.nbytes / 2**20
    target = 2 * raw_mb + 500
    index = pd.date_range("2020-01-01", periods=ROWS, freq="s", name="ts")
    frame = pd.DataFrame(raw, index=index, columns=[f"c{i}" for i in range(FEATURES)], copy=False)
    del raw
    print(f"raw array {raw_mb:,.0f} MB; peak after building the frame {peak_mb():,.0f} MB", flush=True)

    start = time.perf_counter()
    vf = validate_frame(frame, ["c0"], [f"c{i}" for i in range(1, FEATURES)], kind="sensor")
    del frame
    print(f"validation: peak {peak_mb():,.0f} MB", flush=True)
    p = prepare(vf, LOOKBACK, HORIZON, calendar=False)
    print(f"preparation (scaled on the fly, starts as runs): peak {peak_mb():,.0f} MB", flush=True)
    data = WindowDataModule(p.scaled, p.scaled.head(1), p.starts, LOOKBACK, HORIZON,  # the frame's memory
                            relative=p.relative, anchor=p.anchor,
                            relative_inputs=p.relative_inputs, batch_size=64)
    prep_s = time.perf_counter() - start
    print(f"preparation {prep_s:.1f} s, peak {peak_mb():,.0f} MB", flush=True)

    torch.manual_seed(0)
    module = ForecastModule(build_network("lstm", p.n_features, HORIZON, 1, hidden_size=32, num_layers=1))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(Path(tmp), max_epochs=1, patience=0, progress=False)
        trainer.limit_train_batches = 1000
        trainer.limit_val_batches = 50
        start = time.perf_counter()
        train(module, data, trainer)
        print(f"1 epoch of 1,000 batches {time.perf_counter() - start:.1f} s, peak {peak_mb():,.0f} MB", flush=True)
    data.starts["test"] = data.starts["test"][:100_000]
    start = time.perf_counter()
    pred, _ = predict_windows(module, data, "test")
    print(f"evaluation of {len(pred):,} test windows {time.perf_counter() - start:.1f} s, "
          f"peak {peak_mb():,.0f} MB", flush=True)
    print(memory_verdict("long series", target))


if __name__ == "__main__":
    main()
