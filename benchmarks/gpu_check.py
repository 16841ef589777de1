"""Every network of the family through `forecaster fit` on a GPU, then `forecaster predict` from
the saved run, the way a user with a CUDA build runs them (issue #18 part 7). Not a test: the
suite never needs a GPU; run it where one is.

Each model trains for a few epochs on the embedded AAPL prices (segrnn on ETTh1's protocol, its
own use) with `--accelerator gpu` and the given precision, under the product's deterministic
algorithms; the check is that fit and predict exit 0, the test MASE is finite, and the forecast
has H rows. Prints one line per model with its training seconds and test MASE.

    cd benchmarks && python gpu_check.py [--precision bf16-mixed] [--epochs 3] [--models lstm,gru]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAMILY = ("rnn", "jordan", "lstm", "cifg", "gru", "birnn", "bilstm", "bigru", "seq2seq", "seq2seq-attn",
          "vec2seq", "segrnn")
ETTH1 = ["--dataset", "etth1", "--target", "HUFL,HULL,MUFL,MULL,LUFL,LULL,OT", "--features", "none",
         "--split-rows", "8640,2880,2880", "--lookback", "96", "--horizon", "96"]


def run(cmd: list[str], log: Path) -> None:
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-6:]
        raise RuntimeError(f"exit {proc.returncode}: " + " | ".join(tail))


def check(model: str, accelerator: str, precision: str, epochs: int, tmp: Path) -> str:
    exe = str(Path(sys.executable).with_name("forecaster"))
    out = tmp / model
    data = ETTH1 if model == "segrnn" else []
    start = time.perf_counter()
    run([exe, "fit", *data, "--model", model, "--accelerator", accelerator, "--precision", precision,
         "--max-epochs", str(epochs), "--out", str(out)], tmp / f"{model}-fit.log")
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    mase = metrics["model"]["MASE"]
    run([exe, "predict", "--run", str(out), "--offline"], tmp / f"{model}-predict.log")
    with open(out / "forecast.csv") as fh:
        rows = sum(1 for _ in csv.DictReader(fh))
    horizon = metrics["split"]["horizon"]
    assert rows % horizon == 0 and rows > 0, f"forecast.csv has {rows} rows, horizon {horizon}"
    assert math.isfinite(mase), f"test MASE {mase}"
    t = metrics["training"]
    return (f"{model:>13}: ok, {t['epochs']} epochs in {t['seconds']:.1f} s ({wall:.1f} s from process start), "
            f"test MASE {mase:.3f}, forecast {rows} rows")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", default="gpu", help="cpu tries the script where no GPU is")
    ap.add_argument("--precision", default="bf16-mixed")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--models", default=",".join(FAMILY))
    args = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            try:
                print(check(model, args.accelerator, args.precision, args.epochs, Path(tmp)), flush=True)
            except (RuntimeError, AssertionError, KeyError, OSError) as err:
                print(f"{model:>13}: FAILED {err}", flush=True)
                failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
