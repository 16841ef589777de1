"""The model card (`model.json`): everything fitted at training time that a forecast needs.

It is written when training starts (without interval widths: an unfinished run) and again
when the run is evaluated. `predict`, `update` and `--resume` read it through `ModelCard.load`
and never re-derive anything from the data: each series' column transforms (log return,
difference or level), input scalers and calibrated interval widths come from here.

A card carries its `format`; a card of another format is refused in one line naming it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster import __version__
from forecaster._io import Mapped, atomic_write, stream_json, versioned_json
from forecaster.data.frame import Step, parse_step, step_text
from forecaster.data.holidays import Holidays
from forecaster.data.prepare import COLUMN_TRANSFORMS, Scaler
from forecaster.data.season import Anchor
from forecaster.errors import ConfigError
from forecaster.evaluation.intervals import Conformal

CARD_FORMAT = 3  # bump when model.json or the checkpoint layout changes incompatibly
# Format 3 added each series' `shrink` and the seasonal mean's `anchor_seasons`: a reader of format
# 2 would ignore them and forecast unshrunk from the value one season back, so it must refuse
# them. Format 2 cards are still read here, with shrink 1 and one season (what they meant).
OLDER_CARD_FORMATS = (2,)
DATA_BLOCKS = 32  # a data record's digests: one per block of consecutive rows


@dataclass(frozen=True)
class DataRecord:
    """The rows a model saw, by fingerprint: the last timestamp, the row count, and a digest of
    each of up to DATA_BLOCKS blocks of consecutive rows (timestamps and target values), so
    that newer data can be checked to extend them unchanged (`forecaster update`)."""

    end: pd.Timestamp
    rows: int
    blocks: list[str]

    @classmethod
    def of(cls, index: pd.DatetimeIndex, levels: np.ndarray) -> DataRecord:
        """The record of (T,) timestamps and their (T, C) target values."""
        return cls(index[-1], len(index), _block_digests(index, levels, len(index)))

    def changed_rows(self, index: pd.DatetimeIndex, levels: np.ndarray) -> tuple[int, int] | None:
        """[first, end) rows of the first block where `index`, `levels` (newer data of the same
        series, up to `end`) differ from the recorded rows; None where they hold them unchanged."""
        if len(index) != self.rows:  # rows added or dropped: compare the blocks that still line up
            digests = _block_digests(index[:self.rows], levels[:self.rows], self.rows)
        else:
            digests = _block_digests(index, levels, self.rows)
        for (a, b), old, new in zip(_blocks(self.rows), self.blocks, digests):
            if old != new:
                return a, b
        return None if len(index) == self.rows else (min(len(index), self.rows) - 1, self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"end": self.end.isoformat(), "rows": self.rows, "blocks": self.blocks}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataRecord:
        return cls(pd.Timestamp(d["end"]), int(d["rows"]), [str(b) for b in d["blocks"]])


def _blocks(rows: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, rows, min(DATA_BLOCKS, rows) + 1).astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def _block_digests(index: pd.DatetimeIndex, levels: np.ndarray, rows: int) -> list[str]:
    stamps = index.as_unit("ns").asi8
    return [hashlib.sha256(stamps[a:b].tobytes()
                           + np.ascontiguousarray(levels[a:b], dtype=np.float64).tobytes()).hexdigest()[:16]
            for a, b in _blocks(rows) if b <= len(stamps)]  # block by block: no (T, C) float64 copy


@dataclass(frozen=True)
class SeriesCard:
    """One series' fitted state: its column transforms, input scaler, interval widths and the
    record of the rows it was trained and evaluated on."""

    name: str
    column_transforms: list[str]  # per data column (targets, then features)
    input_scaler: Scaler  # per data column
    conformal: Conformal | None = None  # None until the run is evaluated
    data: DataRecord | None = None  # None in cards written before forecaster kept it
    static: dict[str, float] = field(default_factory=dict)  # encoded static attributes (forecaster.data.static)
    shrink: float = 1.0  # forecast change kept, chosen on validation (forecaster.evaluation.shrink)

    def target_scaler(self, n_targets: int) -> Scaler:
        return Scaler(self.input_scaler.mean[:n_targets], self.input_scaler.std[:n_targets])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "column_transforms": self.column_transforms,
                "input_scaler": {"mean": self.input_scaler.mean.tolist(),
                                 "std": self.input_scaler.std.tolist()},
                "conformal": self.conformal.to_dict() if self.conformal else None,
                "data": self.data.to_dict() if self.data else None, "static": self.static,
                "shrink": self.shrink}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeriesCard:
        unknown = set(d["column_transforms"]) - set(COLUMN_TRANSFORMS)
        if unknown:
            raise ValueError(f"unknown column transform {sorted(unknown)[0]!r}")
        scaler = Scaler(np.asarray(d["input_scaler"]["mean"], dtype=np.float64),
                        np.asarray(d["input_scaler"]["std"], dtype=np.float64))
        conformal = Conformal.from_dict(d["conformal"]) if d.get("conformal") else None
        data = DataRecord.from_dict(d["data"]) if d.get("data") else None
        static = {str(k): float(v) for k, v in d.get("static", {}).items()}  # new: none before
        shrink = float(d.get("shrink", 1.0))  # new: cards before it forecast unshrunk
        if not 0.0 <= shrink <= 1.0:
            raise ValueError(f"shrink {shrink} is outside [0, 1]")
        return cls(str(d["name"]), list(d["column_transforms"]), scaler, conformal, data, static, shrink)


@dataclass(frozen=True)
class ModelCard:
    network: str
    network_kwargs: dict[str, Any]  # build_network's arguments besides the name
    lookback: int
    horizon: int
    transform: str  # log_return, delta, window or level (resolved, never "auto")
    targets: list[str]
    features: list[str]  # data columns besides the targets, in input order
    calendar: list[str]  # calendar inputs after the data columns (empty: none)
    kind: str  # price or sensor
    season: int
    freq: Step | None  # sampling step of a sensor log (Timedelta or calendar offset); None for trading sessions
    loss: str
    many: bool  # several series: forecasts carry a `series` column
    series: list[SeriesCard]
    anchor: Anchor  # what each step's change is forecast from (forecaster.data.season)
    future: list[str] = field(default_factory=list)  # inputs known over the horizon: future features, then the holiday flag
    holidays: Holidays | None = None  # the holiday flag's calendar (--holidays, dated in --tz)
    static: list[str] = field(default_factory=list)  # the last inputs: encoded static attributes, per series
    season_inputs: list[str] = field(default_factory=list)  # each target's change over one season (data.season)
    parent: str | None = None  # the run folder this model was updated from (`forecaster update`)
    forecaster_version: str = field(default=__version__)

    @property
    def inputs(self) -> list[str]:
        """Every network input column, in order: targets, features, season inputs, calendar, static."""
        return [*self.targets, *self.features, *self.season_inputs, *self.calendar, *self.static]

    @property
    def season_lag(self) -> int:
        """Rows back of the seasonal-change inputs (0: none)."""
        return self.season if self.season_inputs else 0

    @property
    def past_features(self) -> list[str]:
        """The data columns besides the targets known only up to each cutoff."""
        return [f for f in self.features if f not in self.future]

    @property
    def future_features(self) -> list[str]:
        """The known-future data columns, which `predict` reads from a future file (the holiday
        flag it makes itself)."""
        return [f for f in self.future if f in self.features]

    @property
    def relative_inputs(self) -> int:
        """Leading input columns each window sees relative to its cutoff (the window transform)."""
        return len(self.targets) + len(self.features) if self.transform == "window" else 0

    @property
    def finished(self) -> bool:
        """Evaluated: every series has its calibrated interval widths."""
        return all(s.conformal is not None for s in self.series)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def write(self, path: Path) -> Path:
        """model.json at `path`, atomically: `to_json`'s text, streamed into the file series by
        series (the card of 10,000 series is never one string, nor one dict)."""
        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8") as fh:
                stream_json(fh, {**self._head(), "series": Mapped(SeriesCard.to_dict, self.series)}, levels=2)
        return atomic_write(path, write)

    def to_dict(self) -> dict[str, Any]:
        return {**self._head(), "series": [s.to_dict() for s in self.series]}

    def _head(self) -> dict[str, Any]:
        """Everything but the series, in to_dict's order."""
        return {
            "format": CARD_FORMAT, "forecaster_version": self.forecaster_version,
            "network": self.network, "network_kwargs": self.network_kwargs,
            "lookback": self.lookback, "horizon": self.horizon, "transform": self.transform,
            "targets": self.targets, "features": self.features, "calendar": self.calendar,
            "kind": self.kind, "season": self.season,
            "freq": step_text(self.freq),
            "loss": self.loss, "many": self.many,
            "anchor_offsets": [int(o) for o in self.anchor.offsets], "anchor_seasons": self.anchor.seasons,
            "future": self.future, "holidays": self.holidays.to_dict() if self.holidays else None,
            "static": self.static, "season_inputs": self.season_inputs,
            "parent": self.parent,
        }

    @classmethod
    def from_json(cls, text: str, source: str = "model.json",
                  consequence: str = "fit the model again") -> ModelCard:
        """Parse a card; a corrupt card or one of another format is a one-line ConfigError."""
        d = versioned_json(text, source, "model-card", CARD_FORMAT, consequence, OLDER_CARD_FORMATS)
        try:
            return cls(network=d["network"], network_kwargs=dict(d["network_kwargs"]),
                       lookback=int(d["lookback"]), horizon=int(d["horizon"]), transform=d["transform"],
                       targets=list(d["targets"]), features=list(d["features"]),
                       calendar=list(d["calendar"]), kind=d["kind"], season=int(d["season"]),
                       freq=parse_step(d["freq"]), loss=d["loss"],
                       many=bool(d["many"]), series=[SeriesCard.from_dict(s) for s in d["series"]],
                       anchor=_anchor(d),
                       future=list(d.get("future", [])),  # new: none before
                       holidays=Holidays.from_dict(d["holidays"]) if d.get("holidays") else None,
                       static=list(d.get("static", [])),
                       season_inputs=list(d.get("season_inputs", [])),  # new: none before
                       parent=d.get("parent"), forecaster_version=d["forecaster_version"])
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{source} is missing or corrupt ({type(err).__name__}: {err}); "
                              f"{consequence}") from None

    @classmethod
    def load(cls, run_dir: Path, consequence: str = "fit the model again") -> ModelCard:
        """The card of a run folder; a missing one is a one-line ConfigError ending in `consequence`."""
        path = Path(run_dir) / "model.json"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            raise ConfigError(f"{path} is missing or corrupt; {consequence}") from None
        return cls.from_json(text, str(path), consequence)


def _anchor(d: dict[str, Any]) -> Anchor:
    """The card's anchor: its offsets, and the seasons of a seasonal mean (1 before there was one)."""
    offsets = np.asarray([int(o) for o in d["anchor_offsets"]], dtype=np.int64)
    seasons = int(d.get("anchor_seasons", 1))  # new: cards before it have 1
    if seasons < 1 or (seasons > 1 and not offsets.any()):
        raise ValueError(f"anchor_seasons {seasons} does not fit anchor offsets {offsets.tolist()}")
    return Anchor(offsets, int(d["season"]) if offsets.any() else 0, seasons)
