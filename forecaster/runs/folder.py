"""The run folder: where a run writes, who writes it when several processes train, resuming,
and loading checkpoints without running code.

Only rank 0 writes: it checks and claims the folder and tells the processes Lightning
launches (DDP re-runs the command) through FORECASTER_RUN_DIR; those reuse it and write nothing.

Claiming is atomic: the writer holds an exclusive lock on `.forecaster.lock` in the folder
while it writes, and checks the folder is still free once it holds it. Of two processes given
the same `--out` at once, exactly one runs; the other refuses in one line, and no file of the
two is ever mixed.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch
from filelock import FileLock, Timeout

from forecaster.config import FitConfig, load_yaml, make_config
from forecaster.data.select import data_label
from forecaster.errors import ConfigError
from forecaster.runs.card import ModelCard

LOCK_NAME = ".forecaster.lock"  # held by the process writing the folder
RUN_DIR_ENV = "FORECASTER_RUN_DIR"  # the run folder, for the processes Lightning launches (DDP)


def run_dir_for(cfg: FitConfig, what: str | None = None) -> Path:
    """The run folder; refuses to reuse a non-empty one unless overwrite is set."""
    if cfg.out:
        path = Path(cfg.out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path("runs") / f"{data_label(cfg).lower()}-{what or cfg.model}-{stamp}"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file; choose a folder path")
    if path.is_dir() and any(p.name != LOCK_NAME for p in path.iterdir()) and not cfg.overwrite:
        raise ConfigError(f"run folder {path} already holds files; choose another --out, "
                          "or pass --overwrite to replace them")
    return path


def launched_worker() -> bool:
    """True in a process that trains for a rank other than 0 (Lightning's DDP launches them
    by re-running the command): it trains with the others and writes nothing."""
    ranks = [os.environ.get(v, "0") for v in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")]
    return any(r != "0" for r in ranks)


def claim_run_dir(cfg: FitConfig, resume: bool = False) -> tuple[Path, bool]:
    """The run folder and whether this process writes it. Rank 0 checks and claims the folder
    and tells the processes it launches; those reuse it without checking or writing."""
    if launched_worker():
        return Path(os.environ.get(RUN_DIR_ENV) or cfg.out or "."), False
    run_dir = Path(cfg.out) if resume else run_dir_for(cfg)
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())
    return run_dir, True


@contextmanager
def claimed(run_dir: Path, writer: bool = True, reuse: bool = False, overwrite: bool = False) -> Iterator[None]:
    """Hold the run folder for writing (create it, lock it, check it is still free); `reuse`
    (overwrite or resume) accepts a folder that already holds files, and `overwrite` removes
    the checkpoints an earlier run left there, so none can mix with the new ones. A non-writer
    holds nothing."""
    if not writer:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(run_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"run folder {run_dir} is being written by another forecaster process; "
                          "choose another --out, or wait for that run to finish") from None
    try:
        if not reuse and any(p.name != LOCK_NAME for p in run_dir.iterdir()):
            raise ConfigError(f"run folder {run_dir} already holds files (another run claimed it "
                              "first); choose another --out, or pass --overwrite to replace them")
        if overwrite:
            for old in sorted(run_dir.rglob("checkpoints")):
                if old.is_dir():
                    shutil.rmtree(old)
        yield
    finally:
        lock.release()


def resume_config(run: str | Path, flags: dict) -> FitConfig:
    """The saved config of an interrupted run, with `flags` (e.g. max_epochs) on top."""
    run_dir = Path(run)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.yaml); give the --out folder "
                          "of an interrupted `forecaster fit`")
    saved = load_yaml(run_dir / "config.yaml")
    return make_config(saved, {**flags, "out": str(run_dir), "overwrite": True},
                       source=str(run_dir / "config.yaml"))


def check_resumable(run_dir: Path) -> Path:
    """`last.ckpt` of the run, checked to load without running code and to match this version."""
    last = run_dir / "checkpoints" / "last.ckpt"
    ModelCard.load(run_dir, "this run cannot be resumed, start a new one")
    if not last.is_file():
        raise ConfigError(f"{run_dir} has no last.ckpt: no epoch finished before it stopped; start "
                          "it again instead of resuming")
    load_checkpoint(last)
    return last


def load_checkpoint(path: Path) -> dict:
    """A checkpoint, loaded with `weights_only=True`: tensors and plain data, never code."""
    try:
        with warnings.catch_warnings():
            # torch's advice on a pickle protocol other than its own (2): such a file was not
            # written by forecaster, and the one-line error below (or the load) says all of it.
            warnings.filterwarnings("ignore", message="Detected pickle protocol",
                                    module=r"torch\._weights_only_unpickler")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated, or a pickle that wants to run code
        first = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise ConfigError(f"checkpoint {path} cannot be loaded safely ({type(err).__name__}: "
                          f"{first}); it is corrupt or not a forecaster checkpoint, start a new run"
                          ) from None


def read_forecasts(path: Path, tz: object = None) -> pd.DataFrame:
    """A run's forecasts.csv as a frame, indexed again by (series,) cutoff and timestamp: steps
    as integers, series and target names as text (a series named "1" stays "1"), every other
    number as float64 (a float32 column's values round back to the same float32), and
    timestamps in the time zone `tz` of the series (None: naive)."""
    frame = pd.read_csv(path, dtype={"series": str, "target": str})
    for col in ("cutoff", "timestamp"):
        stamps = pd.to_datetime(frame[col], format="ISO8601", utc=tz is not None)
        frame[col] = stamps.dt.tz_convert(tz) if tz is not None else stamps
    return frame.set_index([c for c in ("series", "cutoff", "timestamp") if c in frame.columns])
