"""Peak resident memory of this process, and its verdict against a target (no torch here: the
long-series benchmarks measure from before torch is imported)."""

from __future__ import annotations

import resource


def peak_mb() -> float:
    """The process's peak resident set so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_verdict(name: str, target: float) -> str:
    """The closing line of a memory benchmark: the peak against `target` MB, meets or MISSES."""
    peak = peak_mb()
    return (f"{name}: peak resident {peak:,.0f} MB against target {target:,.0f} MB: "
            f"ratio target/peak = {target / peak:.2f} ({'meets' if peak < target else 'MISSES'})")
