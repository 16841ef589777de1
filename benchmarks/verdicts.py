"""Verdicts that do not flap: a benchmark's ratio with a bootstrap interval of its median, and
pairs added until that interval is narrow enough to decide.

Each pair runs the reference and the product once, back to back (the order alternating, so a
drift in the machine's speed favours neither), and gives one ratio. The verdict is on the
median of the pairs' ratios, with the 90% bootstrap interval of that median:

- "meets" when the whole interval is on the target's good side,
- "misses" when the whole interval is on its bad side,
- "undecided (interval straddles the target)" otherwise.

`settle` adds pairs (from `min_pairs` up to `max_pairs`) until the interval is narrower than
+-`width` of the median (2% by default), so one slow pair on a busy machine neither makes nor
breaks a verdict. Numpy only: a test checks the statistics without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

LEVEL = 0.90
RESAMPLES = 4_000


def median_interval(ratios: list[float], level: float = LEVEL, resamples: int = RESAMPLES,
                    seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval (`level`, two-sided) of the median of `ratios`."""
    r = np.asarray(ratios, dtype=np.float64)  # (n,)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(r), size=(resamples, len(r)))  # (R, n) indices, with replacement
    medians = np.median(r[picks], axis=1)  # (R, n) -> (R,)
    tail = (1 - level) / 2
    low, high = np.quantile(medians, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Verdict:
    """One ratio of a benchmark: the pairs' ratios, their median and its bootstrap interval.

    `target` is None for a ratio reported without a target; `higher_is_better` says which side
    of the target is good (throughput ratios: higher; time ratios: lower)."""

    name: str
    ratios: tuple[float, ...]
    target: float | None = None
    higher_is_better: bool = False
    level: float = LEVEL

    @property
    def median(self) -> float:
        return float(np.median(self.ratios))

    @cached_property  # the bootstrap once, for the verdict, its width and its line
    def interval(self) -> tuple[float, float]:
        return median_interval(list(self.ratios), self.level)

    def half_width(self) -> float:
        """Half the interval's width as a fraction of the median (0.02: +-2%)."""
        low, high = self.interval
        return (high - low) / 2 / self.median

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "no target"
        low, high = self.interval
        good_low, good_high = (low >= self.target, high >= self.target) if self.higher_is_better \
            else (low <= self.target, high <= self.target)
        if good_low and good_high:
            return "meets"
        if not good_low and not good_high:
            return "misses"
        return "undecided (interval straddles the target)"

    def line(self) -> str:
        """`name: ratio 1.032, 90% interval [1.010, 1.051] over 8 pairs (target <= 1.05: undecided ...)`"""
        low, high = self.interval
        text = (f"{self.name}: ratio {self.median:.3f}, {self.level:.0%} interval [{low:.3f}, {high:.3f}] "
                f"over {len(self.ratios)} pairs")
        if self.target is None:
            return text
        side = ">=" if self.higher_is_better else "<="
        return f"{text} (target {side} {self.target}: {self.verdict})"


def settle(pair: Callable[[int], float], name: str, target: float | None = None,
           higher_is_better: bool = False, min_pairs: int = 5, max_pairs: int = 20,
           width: float = 0.02) -> Verdict:
    """Run `pair(i)` (pair number i, so it can alternate its order) for `min_pairs` pairs, then
    one more at a time until the interval of the median is narrower than +-`width`, or
    `max_pairs` pairs have run."""
    ratios = [pair(i) for i in range(min_pairs)]
    while True:
        v = Verdict(name, tuple(ratios), target, higher_is_better)
        if v.half_width() <= width or len(ratios) >= max_pairs:
            return v
        ratios.append(pair(len(ratios)))
