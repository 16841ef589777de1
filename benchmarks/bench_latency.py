"""Latency: `forecaster predict --run RUN` from process start, and one window through the Python
API after warm-up.

(a) Process start to exit of `forecaster predict --run RUN --out DIR` (a subprocess, wall time),
beside the reference `python -c "import torch"` (the least any torch forecast costs) and the
import of torch, lightning, pandas, exchange_calendars, plotly and yfinance alone, each as
`python -c "import X"` less the bare interpreter (`python -c pass`). One round runs every
command once, in an order rotated round by round; medians over the rounds; the ratio
predict / import torch is the median of the rounds' ratios.

(b) After warm-up, in one process: `forecaster.runs.predict.forecast(RUN)` (load the run, read
its data, build the window, call the network, assemble the table with future sessions and
intervals) and the network call alone on that one window (with torch's default threads, as
`predict` runs it, and with one), each the median of many calls.

`--before REV` adds the code of git revision REV (`git archive`, into a temporary folder on
PYTHONPATH; the working tree is not touched) as a second `predict` in every round and in (b).

    cd benchmarks && ../.venv/bin/python bench_latency.py [--run RUN] [--repeats 9] [--before REV]

Without --run it first fits `forecaster fit --dataset ibm --max-epochs 2` into a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from verdicts import Verdict

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = {  # what each import check runs; lightning's includes torch, exchange_calendars' pandas
    "torch": "import torch",
    "lightning": "import lightning",
    "pandas": "import pandas",
    "exchange_calendars": "import exchange_calendars",
    "plotly": "import plotly.graph_objects as go; go.Figure()",  # plotly loads lazily: one figure
    "yfinance": "import yfinance",
}
WARMUP, CALLS, NET_CALLS = 3, 25, 200


def env_for(tree: Path | None) -> dict[str, str]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
    if tree is not None:  # ahead of the editable install's finder
        env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def api_latency(run: str) -> dict[str, list]:
    """(b), in this process: seconds per `forecast(run)` and per network call on its window, with
    torch's default threads (what `predict` runs with) and with one."""
    import torch

    from forecaster.nets.build import distribution
    from forecaster.runs.future import model_windows, new_data
    from forecaster.runs.predict import forecast, load_run

    loaded = load_run(run)
    net = loaded.network if hasattr(loaded, "network") else loaded.module.network  # before: a LightningModule
    x = torch.from_numpy(model_windows(loaded.card, new_data(loaded.config, loaded.card)))  # (1, L, F)
    threads = torch.get_num_threads()
    out: dict[str, list] = {"threads": [threads], "window": [list(x.shape)]}
    for n in (threads, 1):
        torch.set_num_threads(n)
        for _ in range(WARMUP):
            forecast(run)
        calls = out[f"forecast@{n}"] = []
        for _ in range(CALLS):
            start = time.perf_counter()
            forecast(run)
            calls.append(time.perf_counter() - start)
        calls = out[f"network@{n}"] = []
        with torch.inference_mode():
            for _ in range(WARMUP):
                distribution(net, x)
            for _ in range(NET_CALLS):
                start = time.perf_counter()
                distribution(net, x)  # (1, L, F) -> (1, H, C)
                calls.append(time.perf_counter() - start)
    torch.set_num_threads(threads)
    return out


def api_in_subprocess(run: str, tree: Path | None) -> dict[str, list]:
    out = subprocess.run([sys.executable, __file__, "--api-only", "--run", run], check=True,
                         env=env_for(tree), capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:,.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished run folder [default: fit one on ibm, 2 epochs]")
    parser.add_argument("--repeats", type=int, default=9, help="rounds of (a) [default: 9]")
    parser.add_argument("--before", metavar="REV", help="also measure the code of this git revision")
    parser.add_argument("--api-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.api_only:
        print(json.dumps(api_latency(args.run)))
        return
    exe = str(Path(sys.executable).with_name("forecaster"))
    py = sys.executable
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run = args.run
        if run is None:
            run = str(tmp / "run")
            subprocess.run([exe, "fit", "--dataset", "ibm", "--max-epochs", "2", "--out", run], check=True,
                           env=env_for(None), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        trees: dict[str, Path | None] = {"after": None}
        if args.before:
            old = tmp / "before"
            old.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "forecaster"],
                                     check=True, capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(old, filter="data")
            trees = {"before": old, "after": None}
        commands = {"python -c pass": ([py, "-c", "pass"], None)}
        commands.update({f"import {k}": ([py, "-c", v], None) for k, v in IMPORTS.items()})
        for label, tree in trees.items():
            commands[f"predict ({label})"] = ([exe, "predict", "--run", run, "--out", str(tmp / "out")], tree)
        for cmd, tree in commands.values():  # warm the file cache once
            wall(cmd, env_for(tree))
        times: dict[str, list[float]] = {k: [] for k in commands}
        names = list(commands)
        for i in range(args.repeats):
            for name in names[i % len(names):] + names[:i % len(names)]:
                cmd, tree = commands[name]
                times[name].append(wall(cmd, env_for(tree)))
        api = {}  # (b): each variant in its own process, alternating, twice
        for i in range(2):
            for label in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
                got = api_in_subprocess(run, trees[label])
                for k, v in got.items():
                    api.setdefault(label, {}).setdefault(k, []).extend(v)

    import torch

    print(f"latency: run {run if args.run else 'ibm lstm (fit --max-epochs 2)'}; torch {torch.__version__}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.repeats} interleaved rounds; "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (other work on the "
          "cores inflates every figure, torch's threads most)")
    bare = times["python -c pass"]
    print(f"  {'command':<34}{'median':>9}{'import alone':>14}   (all rounds, s)")
    for name in names:
        med = statistics.median(times[name])
        alone = statistics.median([t - b for t, b in zip(times[name], bare)])
        extra = f"{alone:>13.2f}s" if name.startswith("import") else " " * 14
        print(f"  {name:<34}{med:>8.2f}s{extra}   {' '.join(f'{t:.2f}' for t in times[name])}")
    beyond = statistics.median([a - b for a, b in zip(times["import lightning"], times["import torch"])])
    print(f"  lightning beyond torch: {beyond:.2f} s")
    for label in trees:
        p = times[f"predict ({label})"]
        v = Verdict('ratio to `python -c "import torch"`', tuple(a / b for a, b in zip(p, times["import torch"])))
        print(f"(a) forecaster predict ({label}): median {statistics.median(p):.2f} s from process start; {v.line()}")
    if args.before:
        gain = Verdict("gain", tuple(b / a for a, b in zip(times["predict (after)"], times["predict (before)"])))
        low, high = gain.interval
        print(f"(a) before / after: {gain.median:.2f}x faster (90% interval {low:.2f}-{high:.2f}; "
              f"{statistics.median(times['predict (before)']) - statistics.median(times['predict (after)']):.2f} s less)")
    for label, got in api.items():
        n = got["threads"][0]
        print(f"(b) API after warm-up ({label}): forecast(run) {ms(got[f'forecast@{n}'])} with {n} threads, "
              f"{ms(got['forecast@1'])} with 1 (medians of {len(got['forecast@1'])} calls); the network "
              f"alone on one window {tuple(got['window'][0])}: {statistics.median(got[f'network@{n}']) * 1e3:.2f} "
              f"ms with {n} threads, {statistics.median(got['network@1']) * 1e3:.2f} ms with 1 (medians of "
              f"{len(got['network@1'])})")

if __name__ == "__main__":
    main()
