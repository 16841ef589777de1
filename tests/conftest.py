"""Shared fixtures. No test touches the network: yfinance's HTTP layer is replaced for all."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings


# Hypothesis: the same examples on every CI run, a wider random search locally.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", max_examples=200)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


class NetworkAttempt(BaseException):
    """Raised by the network guard. A BaseException, so that no `except Exception` in yfinance
    or in forecaster can swallow it and make a stray request look like being offline."""


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """Every test gets its own cache dir, and any un-faked Yahoo request fails the test: it is
    raised where it happens and, in case something caught it anyway, checked after the test."""
    import yfinance.data

    attempts: list[str] = []

    def refuse(self, url, params=None, timeout=30):
        attempts.append(url)
        raise NetworkAttempt(f"a test tried to reach the network: {url}")

    monkeypatch.setattr(yfinance.data.YfData, "get", refuse)
    monkeypatch.setattr(yfinance.data.YfData, "cache_get", refuse)
    monkeypatch.setenv("FORECASTER_CACHE_DIR", str(tmp_path / "cache"))
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    yield attempts
    assert not attempts, f"requests reached the network guard: {attempts}"


def sensor_frame(n: int = 400, freq: str = "h", seed: int = 0, tz: str | None = "UTC") -> pd.DataFrame:
    """A daily-seasonal sensor log with a second channel."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n, freq=freq, tz=tz, name="ts")
    t = np.arange(n)
    temp = 10 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n)
    humid = 60 + 10 * np.cos(2 * np.pi * t / 24) + rng.normal(0, 1, n)
    return pd.DataFrame({"temp": temp, "humid": humid}, index=index)


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """Run `forecaster ARGV` in this process: its exit code, stdout and stderr."""
    from forecaster.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse exits on its own for malformed flags
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err
