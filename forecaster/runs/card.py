"""The model card (`model.json`): everything fitted at training time that a forecast needs.

It is written when training starts (without interval widths: an unfinished run) and again
when the run is evaluated. `predict`, `update` and `--resume` read it through `ModelCard.load`
and never re-derive anything from the data: each series' column transforms (log return,
difference or level), input scalers and calibrated interval widths come from here.

A card carries its `format`; a card of another format is refused in one line naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster import __version__
from forecaster.data.prepare import COLUMN_TRANSFORMS, Scaler
from forecaster.errors import ConfigError
from forecaster.evaluation.intervals import Conformal

CARD_FORMAT = 2  # bump when model.json or the checkpoint layout changes incompatibly


@dataclass(frozen=True)
class SeriesCard:
    """One series' fitted state: its column transforms, input scaler and interval widths."""

    name: str
    column_transforms: list[str]  # per data column (targets, then features)
    input_scaler: Scaler  # per data column
    conformal: Conformal | None = None  # None until the run is evaluated

    def target_scaler(self, n_targets: int) -> Scaler:
        return Scaler(self.input_scaler.mean[:n_targets], self.input_scaler.std[:n_targets])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "column_transforms": self.column_transforms,
                "input_scaler": {"mean": self.input_scaler.mean.tolist(),
                                 "std": self.input_scaler.std.tolist()},
                "conformal": self.conformal.to_dict() if self.conformal else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeriesCard:
        unknown = set(d["column_transforms"]) - set(COLUMN_TRANSFORMS)
        if unknown:
            raise ValueError(f"unknown column transform {sorted(unknown)[0]!r}")
        scaler = Scaler(np.asarray(d["input_scaler"]["mean"], dtype=np.float64),
                        np.asarray(d["input_scaler"]["std"], dtype=np.float64))
        conformal = Conformal.from_dict(d["conformal"]) if d.get("conformal") else None
        return cls(str(d["name"]), list(d["column_transforms"]), scaler, conformal)


@dataclass(frozen=True)
class ModelCard:
    network: str
    network_kwargs: dict[str, Any]  # build_network's arguments besides the name
    lookback: int
    horizon: int
    transform: str  # log_return, delta or level (resolved, never "auto")
    targets: list[str]
    features: list[str]  # data columns besides the targets, in input order
    calendar: list[str]  # calendar inputs after the data columns (empty: none)
    kind: str  # price or sensor
    season: int
    freq: pd.Timedelta | None  # sampling step of a sensor log; None for trading sessions
    loss: str
    many: bool  # several series: forecasts carry a `series` column
    series: list[SeriesCard]
    anchor_offsets: list[int]  # (H,) rows from the cutoff to each step's anchor (forecaster.data.season)
    forecaster_version: str = field(default=__version__)

    @property
    def inputs(self) -> list[str]:
        """Every network input column, in order: targets, features, calendar."""
        return [*self.targets, *self.features, *self.calendar]

    @property
    def relative_inputs(self) -> int:
        """Leading input columns each window sees relative to its cutoff (the window transform)."""
        return len(self.targets) + len(self.features) if self.transform == "window" else 0

    @property
    def finished(self) -> bool:
        """Evaluated: every series has its calibrated interval widths."""
        return all(s.conformal is not None for s in self.series)

    def to_json(self) -> str:
        return json.dumps({
            "format": CARD_FORMAT, "forecaster_version": self.forecaster_version,
            "network": self.network, "network_kwargs": self.network_kwargs,
            "lookback": self.lookback, "horizon": self.horizon, "transform": self.transform,
            "targets": self.targets, "features": self.features, "calendar": self.calendar,
            "kind": self.kind, "season": self.season,
            "freq": self.freq.isoformat() if self.freq is not None else None,
            "loss": self.loss, "many": self.many, "anchor_offsets": self.anchor_offsets,
            "series": [s.to_dict() for s in self.series],
        }, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "model.json",
                  consequence: str = "fit the model again") -> ModelCard:
        """Parse a card; a corrupt card or one of another format is a one-line ConfigError."""
        try:
            d = json.loads(text)
        except ValueError:
            raise ConfigError(f"{source} is missing or corrupt (not JSON); {consequence}") from None
        if not isinstance(d, dict) or d.get("format") != CARD_FORMAT:
            fmt = d.get("format", "unknown") if isinstance(d, dict) else "unknown"
            version = d.get("forecaster_version", "?") if isinstance(d, dict) else "?"
            raise ConfigError(f"{source} is in model-card format {fmt} (written by forecaster "
                              f"{version}); this version reads format {CARD_FORMAT}: {consequence} "
                              "with this version")
        try:
            return cls(network=d["network"], network_kwargs=dict(d["network_kwargs"]),
                       lookback=int(d["lookback"]), horizon=int(d["horizon"]), transform=d["transform"],
                       targets=list(d["targets"]), features=list(d["features"]),
                       calendar=list(d["calendar"]), kind=d["kind"], season=int(d["season"]),
                       freq=pd.Timedelta(d["freq"]) if d["freq"] else None, loss=d["loss"],
                       many=bool(d["many"]), series=[SeriesCard.from_dict(s) for s in d["series"]],
                       anchor_offsets=[int(o) for o in d["anchor_offsets"]],
                       forecaster_version=d["forecaster_version"])
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
