"""The benchmarks' verdicts (benchmarks/verdicts.py): the bootstrap interval of a median ratio,
"meets" / "misses" / "undecided", and pairs added until the interval is narrow."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from verdicts import Verdict, median_interval, settle  # noqa: E402


def test_the_interval_holds_the_median_and_narrows_with_more_pairs():
    rng = np.random.default_rng(0)
    few = list(1.0 + 0.05 * rng.standard_normal(8))
    many = list(1.0 + 0.05 * rng.standard_normal(400))
    low, high = median_interval(few)
    assert low <= float(np.median(few)) <= high
    low_many, high_many = median_interval(many)
    assert high_many - low_many < high - low
    assert median_interval([1.2] * 5) == (1.2, 1.2)


@pytest.mark.parametrize("ratios, verdict", [
    ((1.01, 1.02, 1.00, 1.01, 1.02), "meets"),
    ((1.10, 1.12, 1.09, 1.11, 1.10), "misses"),
    ((1.00, 1.10, 1.02, 1.08, 1.05, 1.01, 1.09), "undecided (interval straddles the target)"),
])
def test_a_time_ratio_is_judged_by_its_whole_interval(ratios, verdict):
    v = Verdict("small task", ratios, target=1.05)
    assert v.verdict == verdict
    assert v.line().startswith("small task: ratio ") and v.line().endswith(f"(target <= 1.05: {verdict})")


def test_higher_is_better_flips_the_sides():
    assert Verdict("throughput", (0.99, 1.00, 0.98, 0.99, 1.01), target=0.97, higher_is_better=True).verdict == "meets"
    assert Verdict("throughput", (0.90, 0.91, 0.92, 0.90, 0.91), target=0.97, higher_is_better=True).verdict == "misses"
    assert Verdict("export", (0.5, 0.6)).verdict == "no target"


def test_settle_adds_pairs_until_the_interval_is_within_two_percent():
    rng = np.random.default_rng(1)
    noisy = iter(1.0 + 0.06 * rng.standard_normal(100))
    v = settle(lambda i: next(noisy), "noisy", target=1.05, min_pairs=4, max_pairs=60)
    assert 4 < len(v.ratios) < 60 and v.half_width() <= 0.02

    steady = settle(lambda i: 1.0, "steady", min_pairs=4)
    assert len(steady.ratios) == 4  # already decided: no pair more than the minimum

    capped = settle(lambda i: [0.5, 2.0][i % 2], "flapping", target=1.0, min_pairs=3, max_pairs=8)
    assert len(capped.ratios) == 8 and capped.verdict == "undecided (interval straddles the target)"
