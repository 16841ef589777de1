"""The sidecar `model.onnx.json`: everything an exported network needs around it.

The ONNX graph maps scaled input windows x (B, L, F) to the model-space mean (B, H, C) and,
for a Gaussian head, standard deviation (B, H, C). The sidecar holds the rest: the model card
(input columns in order, each series' column transforms and scalers, calendar features, the
transform, horizon, anchors and interval widths), the run's config (where its data come from),
the graph's input and output names and shapes, the SHA-256 of the .onnx file it belongs to,
the difference to torch measured at export, and the versions that wrote it.

It is written by `forecaster.export.onnx` and read by `forecaster.export.runtime` (torch-free).
A corrupt sidecar, one of another format, or one whose .onnx file has changed is a one-line
ConfigError.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from forecaster import __version__
from forecaster._io import versioned_json
from forecaster.config import FitConfig, make_config
from forecaster.errors import ConfigError, ForecasterError
from forecaster.runs.card import ModelCard

SIDECAR_FORMAT = 1  # bump when the sidecar or the graph's inputs and outputs change incompatibly
INPUT = "x"  # (batch, L, F) float32 scaled windows
FUTURE = "future"  # (batch, H, K) float32 scaled known-future inputs, for a model with them
OUTPUTS = ("mean", "std")  # (batch, H, C) float32 each; "std" only for the Gaussian head
AGAIN = "export the run again with `forecaster export --run RUN`"


def sidecar_path(model: Path) -> Path:
    """The sidecar beside an .onnx file: model.onnx -> model.onnx.json."""
    return model.with_name(model.name + ".json")


@dataclass(frozen=True)
class Sidecar:
    card: ModelCard
    config: FitConfig  # the run's config.yaml: where its data come from
    outputs: list[str]  # graph outputs, in order: ["mean"] or ["mean", "std"]
    sha256: str  # of the .onnx file
    max_difference: float  # max |onnx - torch| / max(1, |torch|) on random windows at export
    exporter: str  # the torch exporter and opset that wrote the graph
    forecaster_version: str = field(default=__version__)

    def to_json(self) -> str:
        card = self.card
        return json.dumps({
            "format": SIDECAR_FORMAT, "forecaster_version": self.forecaster_version,
            "exporter": self.exporter, "sha256": self.sha256,
            "input": {"name": INPUT, "shape": ["batch", card.lookback, len(card.inputs)],
                      "dtype": "float32", "columns": card.inputs},
            "future_input": {"name": FUTURE, "shape": ["batch", card.horizon, len(card.future)],
                             "dtype": "float32", "columns": card.future} if card.future else None,
            "outputs": [{"name": name, "shape": ["batch", card.horizon, len(card.targets)],
                         "dtype": "float32"} for name in self.outputs],
            "max_difference_to_torch": self.max_difference,
            "model_card": json.loads(card.to_json()), "config": self.config.to_dict(),
        }, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str) -> Sidecar:
        """Parse a sidecar; anything corrupt or of another format is a one-line ConfigError."""
        d = versioned_json(text, source, "sidecar", SIDECAR_FORMAT, AGAIN)
        try:
            card = ModelCard.from_json(json.dumps(d["model_card"]), source, AGAIN)
            outputs = [str(o["name"]) for o in d["outputs"]]
            if d["input"]["name"] != INPUT or outputs not in ([OUTPUTS[0]], list(OUTPUTS)):
                raise ValueError(f"graph names {d['input']['name']!r} -> {outputs}")
            return cls(card=card, config=make_config(d["config"], source=source), outputs=outputs,
                       sha256=str(d["sha256"]), max_difference=float(d["max_difference_to_torch"]),
                       exporter=str(d["exporter"]), forecaster_version=str(d["forecaster_version"]))
        except ForecasterError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{source} is corrupt ({type(err).__name__}: {err}); {AGAIN}") from None

    @classmethod
    def load(cls, model: Path) -> Sidecar:
        """The sidecar of the .onnx file `model`."""
        path = sidecar_path(model)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            raise ConfigError(f"{path} is missing (the sidecar of {model.name}); {AGAIN}") from None
        return cls.from_json(text, str(path))

    def checked(self, data: bytes, model: Path) -> bytes:
        """The .onnx bytes, if they are the file this sidecar was written for."""
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ConfigError(f"{model} is not the file its sidecar {sidecar_path(model).name} was "
                              f"written for (its SHA-256 differs); {AGAIN}")
        return data


def read_model(model: Path) -> bytes:
    """The bytes of an .onnx file; a missing one is a one-line ConfigError."""
    try:
        return model.read_bytes()
    except OSError:
        raise ConfigError(f"{model} is missing or unreadable; {AGAIN}") from None
