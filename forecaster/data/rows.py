"""The model-space series and the window start rows, held without a copy of a long log.

`ScaledSeries`: the (T, F) network inputs kept as F columns of the frame's own memory and
each column's scaling z = (x - mean) / std, applied to the rows a batch gathers. The
arithmetic is the scaled copy's (float64, float32 result), so a batch holds the same numbers,
bit for bit, as one gathered from a scaled float32 (T, F) copy, which is never made.

`relative_to_cutoff` and `future_relative_to_cutoff`: the window transform's scale-free inputs,
on a gathered batch (numpy or torch).

`WindowStarts`: the start rows of one split's windows as runs (first row, count) on the
stride's grid: a split is a few contiguous runs between gaps and series boundaries, so a
10 M-row log needs a few numbers instead of a (N,) int64 array. `stretches` finds the runs
between gaps, `window_starts` a split's windows in them.

numpy only: shared by `forecaster.data.prepare` (pandas) and `forecaster.data.windows` (torch).
"""

from __future__ import annotations

import numpy as np


class ScaledSeries:
    """A (T, F) model-space series: column j is `columns[j]` (T,) scaled by mean[i, j] and
    std[i, j] on the rows [offsets[i], offsets[i + 1]) of series i (a panel's series lie end to
    end; one series: S = 1). A column that needed more than scaling (returns, differences,
    calendar) is given already scaled, as float32, with mean 0 and std 1."""

    def __init__(self, columns: list[np.ndarray], mean: np.ndarray, std: np.ndarray,
                 offsets: np.ndarray | None = None) -> None:
        self.columns = columns  # F x (T,), float32 or float64, the frame's memory where it can be
        self.mean = np.atleast_2d(np.asarray(mean, dtype=np.float64))  # (S, F)
        self.std = np.atleast_2d(np.asarray(std, dtype=np.float64))  # (S, F)
        T = len(columns[0]) if columns else 0
        self.offsets = np.asarray(offsets if offsets is not None else [0, T], dtype=np.int64)  # (S + 1,)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.offsets[-1]), len(self.columns)

    def __len__(self) -> int:
        return self.shape[0]

    def head(self, k: int) -> ScaledSeries:
        """The first k columns (the targets), sharing the memory."""
        return ScaledSeries(self.columns[:k], self.mean[:, :k], self.std[:, :k], self.offsets)

    def select(self, columns: list[int]) -> ScaledSeries:
        """Columns `columns` (e.g. the known-future inputs), sharing the memory."""
        return ScaledSeries([self.columns[c] for c in columns], self.mean[:, columns], self.std[:, columns],
                            self.offsets)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """(B, L) rows, each window's rows within one series -> (B, L, F) float32."""
        series = np.searchsorted(self.offsets, rows[:, 0], side="right") - 1  # (B,) each window's series
        mean, std = self.mean[series][:, None, :], self.std[series][:, None, :]  # (B, F) -> (B, 1, F)
        out = np.empty((*rows.shape, len(self.columns)), dtype=np.float32)  # (B, L, F)
        for j, col in enumerate(self.columns):
            out[..., j] = (col[rows].astype(np.float64) - mean[..., j]) / std[..., j]
        return out

    def to_array(self, chunk: int = 1 << 20) -> np.ndarray:
        """The (T, F) float32 copy the batches are never gathered from (for inspection and tests)."""
        T = len(self)
        out = np.empty((T, len(self.columns)), dtype=np.float32)
        for a in range(0, T, chunk):
            rows = np.arange(a, min(a + chunk, T))[:, None]  # (n, 1): each row its own window
            out[a:a + len(rows)] = self.take(rows)[:, 0]  # (n, 1, F) -> (n, F)
        return out

    @staticmethod
    def concat(parts: list[ScaledSeries]) -> ScaledSeries:
        """Series laid end to end, each keeping its own scaling (one copy of their columns)."""
        if len(parts) == 1:
            return parts[0]
        columns = [join([p.columns[j] for p in parts]) for j in range(len(parts[0].columns))]
        offsets = np.cumsum([0, *(len(p) for p in parts)])
        return ScaledSeries(columns, np.concatenate([p.mean for p in parts]),
                            np.concatenate([p.std for p in parts]), offsets)


def join(arrays: list[np.ndarray]) -> np.ndarray:
    """(T_i,) arrays end to end: a view where they already lie end to end in one buffer with one
    stride (the columns of a long-format frame sliced by series), else a copy."""
    first = arrays[0]
    step, dtype = first.strides[0], first.dtype
    address = first.__array_interface__["data"][0]
    for a in arrays:
        if a.dtype != dtype or (len(a) > 1 and a.strides[0] != step) or a.__array_interface__["data"][0] != address:
            return np.concatenate(arrays)
        address += len(a) * step
    total = sum(len(a) for a in arrays)
    if not _within(first, total, step):
        return np.concatenate(arrays)
    return np.lib.stride_tricks.as_strided(first, shape=(total,), strides=(step,), writeable=False)


def _within(first: np.ndarray, total: int, step: int) -> bool:
    """Whether `total` elements from `first` by `step` bytes stay inside the outermost array
    `first` is a view of (contiguous, so its extent is its size)."""
    owner = first
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if not owner.flags.c_contiguous or step <= 0:
        return False
    lo = owner.__array_interface__["data"][0]
    start = first.__array_interface__["data"][0]
    return lo <= start and start + (total - 1) * step + first.itemsize <= lo + owner.nbytes


class WindowStarts:
    """(N,) window start rows as runs: run r holds count[r] starts first[r], first[r] + stride,
    ...; window number i is in run searchsorted(offsets, i) - 1."""

    def __init__(self, first: np.ndarray, count: np.ndarray, stride: int = 1) -> None:
        self.first = np.asarray(first, dtype=np.int64)  # (R,)
        self.count = np.asarray(count, dtype=np.int64)  # (R,)
        self.stride = stride
        self.offsets = np.concatenate([[0], np.cumsum(self.count)])  # (R + 1,) first window of each run

    @classmethod
    def of(cls, starts: np.ndarray) -> WindowStarts:
        """Runs of consecutive rows of a plain (N,) array of start rows (any order)."""
        s = np.asarray(starts, dtype=np.int64)
        cut = np.flatnonzero(np.diff(s) != 1) + 1  # where a run of consecutive rows breaks
        bounds = np.concatenate([[0], cut, [len(s)]])
        return cls(s[bounds[:-1]] if len(s) else s, np.diff(bounds))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i):
        """int -> one start row; slice -> WindowStarts; (B,) window numbers -> (B,) start rows."""
        if isinstance(i, slice):
            a, b, step = i.indices(len(self))
            if step != 1:
                return self[np.arange(a, b, step)]
            return self._between(a, max(a, b))
        number = np.asarray(i, dtype=np.int64)
        if ((number < 0) | (number >= len(self))).any():
            raise IndexError(f"window number out of range for {len(self)} windows")
        run = np.searchsorted(self.offsets, number, side="right") - 1  # (B,)
        out = self.first[run] + (number - self.offsets[run]) * self.stride
        return int(out) if out.ndim == 0 else out

    def _between(self, a: int, b: int) -> WindowStarts:
        """Windows a..b-1 as runs."""
        lo = np.clip(a - self.offsets[:-1], 0, self.count)  # (R,) windows of each run before a
        hi = np.clip(b - self.offsets[:-1], 0, self.count)  # (R,) ... before b
        keep = hi > lo
        return WindowStarts(self.first[keep] + lo[keep] * self.stride, (hi - lo)[keep], self.stride)

    def rows(self) -> np.ndarray:
        """The plain (N,) int64 array of start rows."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        run = np.repeat(np.arange(len(self.count)), self.count)  # (N,) each window's run
        return self.first[run] + (np.arange(len(self)) - self.offsets[run]) * self.stride

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.rows() if dtype is None else self.rows().astype(dtype)

    def __iter__(self):
        return iter(self.rows())

    def shifted(self, rows: int) -> WindowStarts:
        """The same windows `rows` rows later (a series placed after others)."""
        return WindowStarts(self.first + rows, self.count, self.stride)

    @staticmethod
    def concat(parts: list[WindowStarts]) -> WindowStarts:
        """Windows of several parts in order, one after the other (all of one stride)."""
        stride = parts[0].stride if parts else 1
        return WindowStarts(np.concatenate([p.first for p in parts]) if parts else [],
                            np.concatenate([p.count for p in parts]) if parts else [], stride)


def stretches(segment: np.ndarray, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """[first, end) rows of each segment (a contiguous run of one id), both (R,)."""
    T = len(segment)
    cuts = [a + 1 + np.flatnonzero(np.diff(segment[a:min(a + chunk, T - 1) + 1]))  # (chunk,) at most
            for a in range(0, T - 1, chunk)]
    bounds = np.concatenate([[0], *cuts, [T]]).astype(np.int64)  # (R + 1,)
    return bounds[:-1], bounds[1:]


def without_first(runs: tuple[np.ndarray, np.ndarray], skip: int) -> tuple[np.ndarray, np.ndarray]:
    """`stretches` without the first `skip` rows of each (blocked: see `blocked_rows`; a
    stretch that short is left empty)."""
    first, end = runs
    return np.minimum(first + int(skip), end), end


def window_starts(runs: tuple[np.ndarray, np.ndarray], lookback: int, horizon: int, first: int,
                  end: int, stride: int = 1) -> WindowStarts:
    """Start rows s of windows whose targets [s+L, s+L+H) lie in [first, end), all rows
    [s, s+L+H) in one of the `runs` ([first, end) rows, see `stretches`), on the grid of
    every `stride`-th row from max(first - L, 0): per run, one range of starts."""
    span = lookback + horizon
    lo, hi = max(first - lookback, 0), end - span  # the first and last start the split allows
    a = np.maximum(runs[0], lo)  # (R,) first start in each run...
    a = lo + -(-(a - lo) // stride) * stride  # ... moved up onto the grid
    b = np.minimum(runs[1] - span, hi)  # (R,) last start in each run
    count = np.where(b >= a, (b - a) // stride + 1, 0)
    keep = count > 0
    return WindowStarts(a[keep], count[keep], stride)


def relative_to_cutoff(x, k: int):
    """Windows (B, L, F), a numpy array or a torch tensor, with their first k columns minus each
    window's value at its cutoff (its last row): the "window" transform's scale-free inputs,
    whatever level the series has drifted to. In place on a freshly gathered batch."""
    x[..., :k] = x[..., :k] - x[:, -1:, :k]  # (B, L, k) - (B, 1, k)
    return x


def future_relative_to_cutoff(future, x, columns: list[int], k: int):
    """Known-future values (B, H, K) of the input columns `columns`, those among the first k
    minus each window's value at its cutoff (x (B, L, F), taken before `relative_to_cutoff`):
    the window transform's scale-free inputs over the horizon, as over the lookback. numpy or
    torch, in place on a freshly gathered batch."""
    for j, c in enumerate(columns):
        if c < k:
            future[..., j] -= x[:, -1:, c]  # (B, H) - (B, 1)
    return future
