"""Benchmark: the cells torch has no module for against torch's fused `nn.LSTM` of the same
size, measured in the same run: CIFG and Jordan as the product runs them (torch's LSTM kernel
on tied weights; the RNN kernel from Jordan's second step), and the written-out loops of CIFG
and the LSTM that the tests check against.

Training: forward, MSE loss and backward of one batch; inference: a forward pass under
`inference_mode`. Each cell and the reference alternate in interleaved pairs; the ratio is the
median of the pairs' cell/reference times, pairs added until its 90% interval settles (see
verdicts.py; target: at most 1.5, issue #18 part 3).

    cd benchmarks && ../.venv/bin/python bench_loop_cells.py [--pairs 10]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

from common import DEVICE, autocast, describe, settle_times, steady_process

from forecaster.nets.cells import CoupledLSTM, JordanRNN, LoopLSTM

B, L, F, D, LAYERS = 128, 64, 8, 64, 2  # the default LSTM's size, a batch of 128 windows
TARGET = 1.5
REFERENCES = ("loop cifg", "loop lstm")  # written-out loops the cells are tested against: no target


def cells() -> dict[str, nn.Module]:
    return {"cifg": CoupledLSTM(F, D, LAYERS), "jordan": JordanRNN(F, D, output_size=1, num_layers=LAYERS),
            "loop cifg": LoopLSTM(F, D, LAYERS, coupled=True), "loop lstm": LoopLSTM(F, D, LAYERS)}


def step(module: nn.Module, x: torch.Tensor, train: bool) -> None:
    if train:
        with autocast():
            out = module(x)
        out = out[0] if isinstance(out, tuple) else out  # nn.LSTM: (output, state)
        out.float().square().mean().backward()
    else:
        with torch.inference_mode(), autocast():
            module(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=10, help="pairs before the interval is checked")
    parser.add_argument("--cells", default=",".join(cells()), help="which cells, comma-separated")
    args = parser.parse_args()
    steady_process()
    torch.manual_seed(0)
    x = torch.randn(B, L, F, device=DEVICE)
    reference = nn.LSTM(F, D, LAYERS, batch_first=True).to(DEVICE)
    print(describe())
    print(f"loop cells against nn.LSTM: batch {B}, lookback {L}, {F} inputs, hidden {D} x {LAYERS}, "
          f"{torch.get_num_threads()} threads, interleaved pairs, medians")
    for name in args.cells.split(","):
        cell = cells()[name].to(DEVICE)
        for train in (True, False):
            for _ in range(3):  # warm-up
                step(cell, x, train), step(reference, x, train)
            what = "training step" if train else "inference"
            target = None if name in REFERENCES else TARGET  # the references are not the product
            v, ref, prod = settle_times(lambda: step(reference, x, train), lambda: step(cell, x, train),
                                        f"{name:>9} {what:<13}", target, min_pairs=args.pairs, max_pairs=4 * args.pairs)
            print(f"{v.line()}; {statistics.median(prod) * 1e3:.2f} ms, nn.LSTM {statistics.median(ref) * 1e3:.2f} ms")

if __name__ == "__main__":
    main()
