"""Peers side by side on benchmark 6's small task: a plain PyTorch loop (the floor), forecaster,
Darts and NeuralForecast (issue #18; the task is in task.py, each runner's setup in its docstring).

Every run is its own `python` process (one runner script, one configuration), so each pays its
own imports and has its own peak RSS; the runners print one JSON line each. Rounds run every
configuration once, the order reversed every other round, so that a drift in the machine's speed
favours none. Per round, each configuration's training and prediction seconds are divided by the
floor's of that round; the table gives the median over rounds of each figure, and for the ratios
also their min-max over rounds. "train CPU" is the process's CPU seconds (all threads) in training,
a second view that other load on the machine sways less than wall time. Training is fit only (after imports and data loading, from the
model's construction to trained weights, the best epoch's restored where the setup keeps one);
prediction is every test window (2,729) into a numpy array; peak MB is the process's maximum RSS;
import s is the runner's imports (torch, the framework, the task's helpers).

    make bench-peers                     # creates .venv-peers, then runs this with it
    .venv-peers/bin/python benchmarks/peers/bench_peers.py [--rounds 4] [--only floor forecaster]
    python bench_peers.py --table ../../runs/bench_peers.jsonl   # the table of every saved round

Runs with any python: the runners run under `--python` (default: .venv-peers's, else this one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE.parent.parent / ".venv-peers" / "bin" / "python"
# name: (runner, argument): the floor first, every ratio is against it
RUNS = {"floor": ("run_floor.py", None), "forecaster": ("run_forecaster.py", None),
        "darts-block": ("run_darts.py", "block"), "darts-block-matched": ("run_darts.py", "block-matched"),
        "darts-rnn": ("run_darts.py", "rnn"),
        "nf-lstm": ("run_neuralforecast.py", "lstm"), "nf-lstm-matched": ("run_neuralforecast.py", "lstm-matched")}
# glibc malloc keeping large temporaries, as the Makefile exports and common.steady_process sets
ENV = {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "1073741824", "PYTHONHASHSEED": "0"}


def run_one(python: str, name: str, log) -> dict | None:
    script, arg = RUNS[name]
    cmd = [python, str(HERE / script), *([arg] if arg else [])]
    proc = subprocess.run(cmd, cwd=HERE, env={**os.environ, **ENV}, capture_output=True, text=True)
    log.write(proc.stderr[-4000:])
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:  # reported, and the other runs go on
        print(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}", flush=True)
        return None
    return {"name": name, **json.loads(lines[-1])}


def spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def table(results: list[dict]) -> str:
    """Markdown: medians over rounds; ratios to the same round's floor with their min-max."""
    rounds: dict[int, dict[str, dict]] = {}
    for r in results:
        rounds.setdefault(r["round"], {})[r["name"]] = r
    floors = {k: v["floor"] for k, v in rounds.items() if "floor" in v}
    rows = ["| framework | config | import s | train s | train / floor | train CPU / floor | predict s "
            "| predict / floor | peak MB | test MAE / naive MAE | rounds |", "|---" * 11 + "|"]
    for name in [n for n in RUNS if any(n in v for v in rounds.values())]:
        runs = [(v[name], floors.get(k)) for k, v in rounds.items() if name in v]
        head = runs[0][0]
        paired = [(r, f) for r, f in runs if f is not None]
        train_ratio = spread([r["train_s"] / f["train_s"] for r, f in paired]) if paired else "-"
        predict_ratio = spread([r["predict_s"] / f["predict_s"] for r, f in paired]) if paired else "-"
        cpu = [r["train_cpu_s"] / f["train_cpu_s"] for r, f in paired if "train_cpu_s" in r and "train_cpu_s" in f]
        cpu_ratio = spread(cpu) if cpu else "-"
        med = {k: statistics.median(r[k] for r, _ in runs) for k in ("import_s", "train_s", "predict_s", "peak_mb")}
        rows.append(f"| {head['framework']} | {head['config']} | {med['import_s']:.1f} | {med['train_s']:.1f} "
                    f"| {train_ratio} | {cpu_ratio} | {med['predict_s']:.2f} | {predict_ratio} | {med['peak_mb']:.0f} "
                    f"| {spread([r['mae_ratio'] for r, _ in runs], 3)} | {len(runs)} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--only", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--python", default=str(PEERS_PYTHON) if PEERS_PYTHON.exists() else sys.executable)
    parser.add_argument("--jsonl", type=Path, default=HERE.parent.parent / "runs" / "bench_peers.jsonl",
                        help="every run's JSON line, appended as it ends (rounds go on numbering)")
    parser.add_argument("--table", type=Path, help="print the table of saved results and stop")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for line in args.table.read_text().splitlines() if line.strip()]))
        return
    names = ["floor", *[n for n in args.only if n != "floor"]]
    args.jsonl.parent.mkdir(parents=True, exist_ok=True)
    saved = [json.loads(line) for line in args.jsonl.read_text().splitlines() if line.strip()] \
        if args.jsonl.exists() else []
    first = 1 + max((r["round"] for r in saved), default=-1)  # rounds appended go on numbering
    results = []
    with open(args.jsonl, "a") as out, open(args.jsonl.with_suffix(".log"), "a") as log:
        for i in range(first, first + args.rounds):
            for name in (names if i % 2 == 0 else names[::-1]):
                result = run_one(args.python, name, log)
                if result is None:
                    continue
                result = {"round": i, **result}
                results.append(result)
                out.write(json.dumps(result) + "\n")
                out.flush()
                print(f"round {i + 1 - first}/{args.rounds} {name}: train {result['train_s']:.1f} s, predict "
                      f"{result['predict_s']:.2f} s, {result['peak_mb']:.0f} MB, MAE / naive "
                      f"{result['mae_ratio']:.3f}", flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
