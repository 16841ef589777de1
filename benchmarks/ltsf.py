"""The long-horizon (LTSF) benchmark: ETTh1 at lookback 96, horizons 96, 192, 336 and 720, for
`segrnn` and the default LSTM, beside SegRNN's published figures. Writes LTSF.md.

The protocol is the literature's (Informer, DLinear, PatchTST, SegRNN): all 7 channels are
targets; the first 8,640 rows train, the next 2,880 validate and the next 2,880 test (the
windows of a split may read their inputs from the rows before it); each channel is
standardized with its training mean and deviation, and MSE and MAE are averaged over the
standardized channels, windows and steps of the test split (`metrics.json` "standardized").
Every run is the product's own `forecaster fit`; the network settings of segrnn come from
configs/segrnn.yaml, the LSTM runs with the product's defaults.

    ../.venv/bin/python ltsf.py [--horizons 96,192] [--models segrnn] [--extra "--hidden-size 512"]
                                [--csv FILE] [--runs DIR] [--markdown FILE]

`--csv` runs the same protocol on another file with ETTh1's columns (for example ETTh2.csv from
the same public repository, to check without tuning on it). Exit status 0 when every run
finished; non-zero when one failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TARGETS = "HUFL,HULL,MUFL,MULL,LUFL,LULL,OT"
PROTOCOL = ["--target", TARGETS, "--features", "none", "--split-rows", "8640,2880,2880", "--lookback", "96"]
MODEL_FLAGS = {"segrnn": ["--config", str(ROOT / "configs" / "segrnn.yaml")], "lstm": ["--model", "lstm"]}
# SegRNN's README, lookback 96, MSE / MAE (last-batch fix applied).
PUBLISHED = {"etth1": {96: (0.368, 0.395), 192: (0.408, 0.419), 336: (0.444, 0.440), 720: (0.446, 0.457)},
             "etth2": {96: (0.278, 0.335), 192: (0.359, 0.389), 336: (0.421, 0.436), 720: (0.432, 0.455)}}
TIME_TO_ACCURACY = (96, 0.38, 300.0)  # horizon, standardized MSE, training seconds


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit(model: str, horizon: int, data: list[str], out: Path, extra: list[str]) -> tuple[dict, float]:
    exe = Path(sys.executable).with_name("forecaster")
    cmd = [str(exe), "fit", *data, *PROTOCOL, "--horizon", str(horizon), *MODEL_FLAGS[model], *extra,
           "--out", str(out), "--overwrite"]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
    log("$ " + shlex.join(cmd))
    start = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as fh:
        proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = out.with_suffix(".log").read_text(errors="replace").splitlines()[-10:]
        raise RuntimeError(f"exit {proc.returncode}:\n    " + "\n    ".join(tail))
    return json.loads((out / "metrics.json").read_text()), wall


def row(model: str, horizon: int, metrics: dict, wall: float, published: dict) -> dict:
    std, t = metrics["standardized"], metrics["training"]
    pub = published.get(horizon)
    return {"model": model, "H": horizon, "MSE": std["MSE"], "MAE": std["MAE"],
            "published MSE": pub[0] if pub and model == "segrnn" else None,
            "published MAE": pub[1] if pub and model == "segrnn" else None,
            "train s": t["seconds"], "epochs": t["epochs"], "best epoch": t["best_epoch"],
            "parameters": t["parameters"], "wall s": wall}


def verdict(r: dict) -> str:
    if r["published MSE"] is None:
        return ""
    gap = r["MSE"] / r["published MSE"] - 1
    return "meets" if gap <= 0 else f"misses by {100 * gap:.1f}%"


def to_best(r: dict) -> float:
    return r["train s"] * r["best epoch"] / max(r["epochs"], 1)


def where(command: str) -> str:
    """The machine the fits ran on: the GPU when the command asked for one."""
    cpu = f"{platform.machine()} with {torch.get_num_threads()} torch threads ({os.cpu_count()} cores seen)"
    if "--accelerator gpu" in command and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}), {cpu}"
    return cpu


def markdown(rows: list[dict], name: str, command: str, total: float) -> str:
    def f(v, d=3):
        return "" if v is None else f"{v:.{d}f}" if isinstance(v, float) else str(v)
    lines = [f"# LTSF benchmark: {name}, lookback 96", "",
             f"Measured by `{command}` on {where(command)}, torch {torch.__version__}; {total / 60:.1f} min in all.",
             "Standardized test MSE / MAE (each channel with its training mean and deviation), 7 channels, "
             "splits 8640 / 2880 / 2880 rows. Published: SegRNN's README.", "",
             "| model | H | MSE | MAE | published MSE | published MAE | vs published | train s | s to best epoch | epochs (best) | parameters |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['H']} | {f(r['MSE'])} | {f(r['MAE'])} | {f(r['published MSE'])} | "
                     f"{f(r['published MAE'])} | {verdict(r)} | {r['train s']:.0f} | {to_best(r):.0f} | "
                     f"{r['epochs']} ({r['best epoch']}) | "
                     f"{r['parameters']:,} |")
    h, mse, secs = TIME_TO_ACCURACY
    lines.append("\n`s to best epoch`: training seconds up to the end of the epoch whose weights are used "
                 "(train s x best / epochs; the epochs after it are early stopping's patience).")
    for r in rows:
        if r["H"] == h:
            target = (f"target MSE <= {mse} within {secs:.0f} s: "
                      f"{'meets' if r['MSE'] <= mse and to_best(r) <= secs else 'misses'}"
                      if r["model"] == "segrnn" else "no target, for comparison")
            lines.append(f"\nTime to accuracy, {r['model']} at H = {h}: MSE {r['MSE']:.4f} from the weights of "
                         f"epoch {r['best epoch']}, reached after {to_best(r):.0f} s of training ({r['train s']:.0f} s "
                         f"with the patience epochs); {target}.")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizons", default="96,192,336,720")
    ap.add_argument("--models", default="segrnn,lstm")
    ap.add_argument("--extra", default="", help="flags added to every fit, e.g. '--hidden-size 512'")
    ap.add_argument("--csv", help="another file with ETTh1's columns (e.g. ETTh2.csv); default: the embedded etth1")
    ap.add_argument("--runs", help="folder for the run folders (default: a temporary one)")
    ap.add_argument("--markdown", help="write the table here (e.g. ../LTSF.md)")
    args = ap.parse_args()
    name = Path(args.csv).stem.lower() if args.csv else "etth1"
    data = ["--csv", args.csv] if args.csv else ["--dataset", "etth1"]
    runs = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="ltsf-"))
    runs.mkdir(parents=True, exist_ok=True)
    rows, failed, start = [], 0, time.perf_counter()
    for model in args.models.split(","):
        for h in (int(v) for v in args.horizons.split(",")):
            try:
                metrics, wall = fit(model, h, data, runs / f"{name}-{model}-{h}", shlex.split(args.extra))
            except RuntimeError as err:
                log(f"{model} H={h}: {err}")
                failed += 1
                continue
            rows.append(row(model, h, metrics, wall, PUBLISHED.get(name, {})))
            r = rows[-1]
            log(f"{model} H={h}: MSE {r['MSE']:.4f} MAE {r['MAE']:.4f} ({verdict(r) or 'no published figure'}), "
                f"{r['train s']:.0f} s training, best epoch {r['best epoch']} of {r['epochs']}")
    command = "make ltsf" if not (args.extra or args.csv or args.horizons != "96,192,336,720") else \
        "python benchmarks/ltsf.py " + shlex.join(sys.argv[1:])
    text = markdown(rows, name, command, time.perf_counter() - start)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
