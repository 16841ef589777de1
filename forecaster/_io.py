"""Atomic file writes: write to a temporary file beside the target, then rename into place.

A crash never leaves a truncated file where a reader expects a whole one. `metrics_json`
writes valid JSON only (no NaN or Infinity tokens); `versioned_json` reads a JSON file that
declares its format.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from forecaster.errors import ConfigError


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)`, then move the temporary file onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def versioned_json(text: str, source: str, what: str, expected: int, consequence: str) -> dict:
    """The mapping a JSON file of `what` (e.g. "model-card") holds, checked to declare format
    `expected`; otherwise a one-line ConfigError naming the format found and `consequence`."""
    try:
        d = json.loads(text)
    except ValueError:
        raise ConfigError(f"{source} is missing or corrupt (not JSON); {consequence}") from None
    if not isinstance(d, dict) or d.get("format") != expected:
        fmt = d.get("format", "unknown") if isinstance(d, dict) else "unknown"
        version = d.get("forecaster_version", "?") if isinstance(d, dict) else "?"
        raise ConfigError(f"{source} is in {what} format {fmt} (written by forecaster {version}); this "
                          f"version reads format {expected}: {consequence} with this version")
    return d


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def finite_or_none(value: object) -> object:
    """`value` with every non-finite float (NaN, inf) replaced by None, through dicts and lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def metrics_json(metrics: dict) -> str:
    """metrics.json text: valid JSON, so a number that is not finite (an interval too wide to
    calibrate on few windows, a metric with nothing to average) is written as null."""
    return json.dumps(finite_or_none(metrics), indent=2, allow_nan=False)
