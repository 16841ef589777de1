"""Windows as views over one series, and the LightningDataModule that serves them.

Nothing here knows about pandas or timestamps: it gets (T, F) inputs, (T, C) targets and the
start row of every window, from `forecaster.data.prepare`. No window is ever materialized: the
dataset keeps the series and the start rows (as runs: `WindowStarts`), and each batch is
gathered from the series with one indexing operation per column. The series is a (T, K)
array or tensor, or a `ScaledSeries`: the frame's own columns, scaled as each batch is
gathered, so a long log has no model-space copy. `window_view` exposes all windows as a
zero-copy `Tensor.unfold` view for inspection.

A batch is a `Batch`: inputs x (B, L, F), targets y (B, H, C) and, where some inputs are known
in advance (`future_columns`), their values over the horizon, future (B, H, K): rows
[s+L, s+L+H) of those columns only. Nothing else after the cutoff s+L-1 is read into x or future.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from forecaster.data.rows import ScaledSeries, WindowStarts, future_relative_to_cutoff, relative_to_cutoff
from forecaster.data.season import Anchor

Rows = torch.Tensor | ScaledSeries  # a (T, K) series the windows are gathered from


class Batch(NamedTuple):
    """Windows as the network and the loss read them."""

    x: torch.Tensor  # (B, L, F) inputs up to the cutoff
    y: torch.Tensor  # (B, H, C) targets after it
    future: torch.Tensor | None = None  # (B, H, K) known-future inputs after it, or None


def window_view(series: torch.Tensor, length: int) -> torch.Tensor:
    """All windows of `length` rows as a view: (T, K) -> (T - length + 1, length, K)."""
    return series.unfold(0, length, 1).transpose(1, 2)  # (T, K) -> (N, K, len) -> (N, len, K)


class WindowDataset(Dataset):
    """Window i has inputs rows [s, s+L) and targets rows [s+L, s+L+H), s = starts[i].

    Indexed by a whole batch of window numbers at once (use with `WindowBatches` and
    `batch_size=None`), it returns x (B, L, F) and y (B, H, C). With `relative=True` the
    targets are each step's change from its `anchor` (`forecaster.data.season.Anchor`; the last
    value, row s+L-1, by default).
    With `relative_inputs=k`, the first k input columns are taken relative to their value at
    the cutoff (see `relative_to_cutoff`). With `future_columns`, those input columns are also
    read over the horizon, rows [s+L, s+L+H), as `Batch.future` (B, H, K).
    """

    def __init__(self, inputs: Rows, targets: Rows, starts: torch.Tensor | WindowStarts,
                 lookback: int, horizon: int, relative: bool = False,
                 anchor: Anchor | None = None, relative_inputs: int = 0,
                 future_columns: Sequence[int] = ()) -> None:
        self.inputs = inputs  # (T, F)
        self.targets = targets  # (T, C)
        self.starts = starts  # (N,) start rows: a tensor, or runs
        self.lookback = lookback
        self.horizon = horizon
        self.relative = relative
        self.relative_inputs = relative_inputs
        self._x_offsets = torch.arange(lookback)  # (L,)
        self._y_offsets = torch.arange(lookback, lookback + horizon)  # (H,)
        self.anchor = anchor if anchor is not None else Anchor.last(horizon)
        self.future_columns = list(future_columns)
        self.future_series = select_columns(inputs, self.future_columns) if self.future_columns else None  # (T, K)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, idx) -> Batch:
        s = self.start_rows(idx)[:, None]  # (B,) -> (B, 1)
        x = gather(self.inputs, s + self._x_offsets)  # (B, L) rows -> (B, L, F)
        y = gather(self.targets, s + self._y_offsets)  # (B, H) rows -> (B, H, C)
        if self.relative:
            cutoffs = s[:, 0].numpy() + (self.lookback - 1)  # (B,)
            y = y - self.anchor.values(lambda rows: gather(self.targets, torch.from_numpy(rows)), cutoffs)
        future = None
        if self.future_series is not None:
            future = gather(self.future_series, s + self._y_offsets)  # (B, H) rows -> (B, H, K)
            if self.relative_inputs:  # before x itself is made relative
                future = future_relative_to_cutoff(future, x, self.future_columns, self.relative_inputs)
        if self.relative_inputs:
            x = relative_to_cutoff(x, self.relative_inputs)
        return Batch(x, y, future)

    def start_rows(self, idx) -> torch.Tensor:
        """(B,) window numbers -> (B,) int64 start rows."""
        if isinstance(self.starts, WindowStarts):
            return torch.from_numpy(self.starts[np.asarray(idx)])
        return self.starts[torch.as_tensor(idx)]


def select_columns(series: Rows, columns: list[int]) -> Rows:
    """Columns of a (T, F) series -> (T, K): a ScaledSeries shares the memory; a tensor (tests,
    benchmarks) is copied."""
    if isinstance(series, ScaledSeries):
        return series.select(columns)
    return series[:, columns]


def gather(series: Rows, rows: torch.Tensor) -> torch.Tensor:
    """(B, n) rows of a (T, K) series -> (B, n, K) float32."""
    if isinstance(series, ScaledSeries):
        return torch.from_numpy(series.take(rows.numpy()))
    return series[rows]


MATERIALIZED_ORDER = 1 << 22  # windows up to which a shuffled order is one tensor (16 MB of int32)
ORDER_CHUNK = 1 << 16  # positions of a computed order made at a time


class WindowBatches(Sampler):
    """Batches of window numbers, each a (B,) int32 tensor: in order, or shuffled by a
    permutation drawn from (seed, epoch), so epoch e has the same order whether or not
    training was interrupted and resumed before it.

    Under several processes, process `rank` of `world` takes every world-th window of the
    order, padded by wrapping around so that every process gets the same number of batches
    (as torch's DistributedSampler does). The order is never a Python list: up to `materialized`
    windows it is one (N,) tensor (`torch.randperm`); beyond, a `KeyedPermutation` computed a
    chunk of positions at a time, so 6.5 M windows need no 26 MB order.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool = False, seed: int = 0,
                 epoch: Callable[[], int] = lambda: 0, rank: int = 0, world: int = 1,
                 materialized: int = MATERIALIZED_ORDER) -> None:
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.seed, self.epoch, self.rank, self.world = seed, epoch, rank, world
        self.materialized = materialized

    def _per_rank(self) -> int:
        return -(-self.n // self.world)  # ceil(n / world)

    def __len__(self) -> int:
        return -(-self._per_rank() // self.batch_size)

    def _dtype(self) -> torch.dtype:
        """int32 window numbers (half the memory of a long log's order; the same permutation)."""
        return torch.int32 if self.n < 2**31 else torch.int64

    def __iter__(self):  # a generator: the epoch is read when the first batch is drawn
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch())
        if self.shuffle and self.n > self.materialized:
            yield from self._computed(KeyedPermutation(self.n, g))
            return
        if self.shuffle:
            order = torch.randperm(self.n, generator=g, dtype=self._dtype())  # (N,)
        else:
            order = torch.arange(self.n, dtype=self._dtype())  # (N,)
        if self.world > 1:
            pad = self._per_rank() * self.world - self.n
            order = torch.cat([order, order[:pad]])[self.rank::self.world]  # (ceil(N / world),)
        for a in range(0, len(order), self.batch_size):  # one (B,) view at a time
            yield order[a:a + self.batch_size]

    def _computed(self, perm: KeyedPermutation):
        """The batches of `perm`'s order, this rank's positions only, a chunk of batches at a time."""
        per_rank, chunk = self._per_rank(), self.batch_size * max(1, ORDER_CHUNK // self.batch_size)
        for a in range(0, per_rank, chunk):
            pos = torch.arange(a, min(a + chunk, per_rank)) * self.world + self.rank  # in the padded order
            order = perm(torch.where(pos >= self.n, pos - self.n, pos)).to(self._dtype())  # (chunk,)
            yield from order.split(self.batch_size)


class KeyedPermutation:
    """A pseudo-random permutation of [0, n), evaluated at any positions without an (N,) table:
    a balanced Feistel network of `ROUNDS` keyed rounds on 2h bits (2^2h >= n; any such
    network is a bijection), cycle-walked back into [0, n) (a value outside is encrypted again
    until it falls inside, which restricts the bijection to [0, n): under 4 steps on average)."""

    ROUNDS = 6

    def __init__(self, n: int, generator: torch.Generator) -> None:
        self.n = n
        self.half = max(1, ((n - 1).bit_length() + 1) // 2)  # h bits per half
        self.mask = (1 << self.half) - 1
        self.keys = torch.randint(0, 1 << 31, (self.ROUNDS,), generator=generator).tolist()

    def __call__(self, positions: torch.Tensor) -> torch.Tensor:
        """(P,) int64 positions in [0, n) -> (P,) their values in [0, n)."""
        out = self._encrypt(positions)
        outside = torch.nonzero(out >= self.n).squeeze(1)
        while len(outside):
            out[outside] = self._encrypt(out[outside])
            outside = outside[out[outside] >= self.n]
        return out

    def _encrypt(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x >> self.half, x & self.mask
        for key in self.keys:
            left, right = right, left ^ (_mix(right ^ key) & self.mask)
        return (left << self.half) | right


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xor-shift-multiply, multipliers below 2^31 so that int64 never
    overflows) of x < 2^32."""
    x = x & 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & 0xFFFFFFFF
    x = ((x ^ (x >> 15)) * 0x2C1B3C6D) & 0xFFFFFFFF
    return x ^ (x >> 16)


def as_rows(series: np.ndarray | ScaledSeries) -> Rows:
    """A ScaledSeries as it is; an array as a float32 tensor sharing its memory."""
    if isinstance(series, ScaledSeries):
        return series
    return torch.from_numpy(np.asarray(series, dtype=np.float32))


class WindowDataModule(L.LightningDataModule):
    """Train, validation, test and predict loaders over the windows of one prepared series."""

    def __init__(self, inputs: np.ndarray | ScaledSeries, targets: np.ndarray | ScaledSeries,
                 starts: dict[str, np.ndarray | WindowStarts], lookback: int, horizon: int,
                 relative: bool = False, batch_size: int = 64, seed: int = 0,
                 anchor: Anchor | None = None, relative_inputs: int = 0,
                 future_columns: Sequence[int] = ()) -> None:
        super().__init__()
        # Shared with the arrays given, strided or not: no copy of a long series.
        self.inputs = as_rows(inputs)  # (T, F)
        self.targets = as_rows(targets)  # (T, C)
        self.starts = {k: v if isinstance(v, WindowStarts) else torch.from_numpy(np.asarray(v, dtype=np.int64))
                       for k, v in starts.items()}
        self.lookback = lookback
        self.horizon = horizon
        self.relative = relative
        self.anchor = anchor
        self.relative_inputs = relative_inputs
        self.future_columns = list(future_columns)  # inputs also read over the horizon
        self.batch_size = batch_size
        self.seed = seed

    @property
    def n_features(self) -> int:
        return self.inputs.shape[1]

    @property
    def n_targets(self) -> int:
        return self.targets.shape[1]

    def dataset(self, split: str) -> WindowDataset:
        return WindowDataset(self.inputs, self.targets, self.starts[split], self.lookback,
                             self.horizon, self.relative, self.anchor, self.relative_inputs,
                             self.future_columns)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        ds = self.dataset(split)
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        batches = WindowBatches(len(ds), self.batch_size, shuffle, self.seed, self._epoch, rank, world)
        return DataLoader(ds, sampler=batches, batch_size=None)

    def _epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else 0

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
