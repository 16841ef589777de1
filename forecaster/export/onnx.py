"""`forecaster export`: a finished run's network as an ONNX file with a JSON sidecar, for
serving without torch (`forecaster.export.runtime.OnnxForecaster`).

The graph is the network and its output contract (`forecaster.nets.build.distribution`):
scaled windows x (batch, L, F), and for a network with known-future inputs their scaled values
future (batch, H, K), -> mean (batch, H, C), and std (batch, H, C) for a Gaussian head. The
batch axis is dynamic; L, F, H and C are the run's. Everything around the graph
(transforms, scalers, calendar features, anchors, interval widths, where the data come from)
is in the sidecar (`forecaster.export.sidecar`).

Exporter: torch's TorchScript-based one (`torch.onnx.export(..., dynamo=False)`). It exports
every network of the family: the recurrent loops have fixed trip counts (L steps, H steps or m
segments) and are unrolled, and torch's fused RNN, LSTM and GRU layers become single ONNX
nodes. It takes about a second where the torch.export-based exporter (`dynamo=True`) took 10
to 40 seconds at the default sizes and unrolled the Elman RNN step by step. torch 2.13 marks
it deprecated; that notice and the tracer's are filtered by message around the one call
(`quiet_exporter`). Should a later torch drop it, `dynamo=True` with `dynamic_shapes` exports
the same family (checked with torch 2.13).

Nothing is written before onnxruntime has run the graph on random windows of batch sizes other
than the traced one and matched torch within TOLERANCE; then the .onnx file and its sidecar are
each written atomically.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from forecaster._io import atomic_write, atomic_write_text
from forecaster.errors import ConfigError
from forecaster.export.runtime import onnxruntime, onnxruntime_errors, session_for
from forecaster.export.sidecar import FUTURE, INPUT, OUTPUTS, Sidecar, sidecar_path
from forecaster.nets.build import distribution
from forecaster.runs.predict import load_run

FORMATS = ("onnx",)  # TorchScript (torch.jit.trace and save) is deprecated in torch 2.13
TOLERANCE = 1e-5  # max |onnx - torch| / max(1, |torch|) over every output
TRACE_BATCH = 2  # windows in the traced call
CHECK_BATCHES = (1, 7)  # batch sizes onnxruntime is checked on: neither is the traced one
OPSET = 17
INSTEAD = "forecast with `forecaster predict --run RUN` instead"


class Distribution(nn.Module):
    """What is exported: a network and its output contract,
    (B, L, F) -> mean (B, H, C), and std (B, H, C) for a Gaussian head."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        mean, std = distribution(self.network, x, future=future)  # (B, L, F), (B, H, K) -> (B, H, C) twice
        return (mean,) if std is None else (mean, std)


@dataclass(frozen=True)
class Exported:
    model: Path  # the .onnx file
    sidecar: Path  # its sidecar, model.onnx.json
    network: str
    max_difference: float  # to torch, on random windows (see TOLERANCE)


def export_run(run: str | Path, out: str | Path | None = None, format: str = "onnx") -> Exported:
    """Export a finished run's best network to `out` (an .onnx file, or a folder to hold
    model.onnx; default RUN/export/model.onnx) with its sidecar beside it."""
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; use onnx (TorchScript is deprecated in torch)")
    onnxruntime()  # a missing package is named before any work
    loaded = load_run(run)
    card = loaded.card
    model = Path(out) if out else loaded.run_dir / "export"
    model = model if model.suffix == ".onnx" else model / "model.onnx"
    data, outputs, diff = export_network(loaded.network, card.lookback, len(card.inputs), card.network)
    exporter = f"torch {torch.__version__} torch.onnx.export (TorchScript-based), opset {OPSET}"
    sidecar = Sidecar(card, loaded.config, outputs, hashlib.sha256(data).hexdigest(), diff, exporter)
    atomic_write(model, lambda tmp: tmp.write_bytes(data))
    atomic_write_text(sidecar_path(model), sidecar.to_json())
    return Exported(model, sidecar_path(model), card.network, diff)


def export_network(network: nn.Module, lookback: int, n_features: int, name: str
                   ) -> tuple[bytes, list[str], float]:
    """The ONNX graph of `network` (put in eval mode) over windows (batch, lookback, n_features)
    and, for a network built with known-future inputs, future (batch, H, K), its output names and
    its measured difference to torch. A network the exporter refuses, or
    whose graph onnxruntime cannot run or runs differently, is a one-line ConfigError naming it."""
    graph = Distribution(network).eval()
    gen = torch.Generator().manual_seed(0)
    args = random_inputs(network, TRACE_BATCH, lookback, n_features, gen)  # (B, L, F) and (B, H, K)
    inputs = [INPUT, FUTURE][:len(args)]
    with torch.inference_mode():
        outputs = list(OUTPUTS[:len(graph(*args))])
    buf = io.BytesIO()
    try:
        with quiet_exporter():
            torch.onnx.export(graph, args, buf, input_names=inputs, output_names=outputs,
                              dynamic_axes={n: {0: "batch"} for n in [*inputs, *outputs]},
                              opset_version=OPSET, dynamo=False)
    except Exception as err:  # the exporter's own errors have no common base class
        first = (str(err).strip() or "no message").splitlines()[0]
        raise ConfigError(f"the {name} network cannot be exported to ONNX ({type(err).__name__}: "
                          f"{first}); {INSTEAD}") from None
    data = buf.getvalue()
    session = session_for(data, consequence=f"the {name} network cannot be served from ONNX; {INSTEAD}",
                          checking=True)
    diff = difference(graph, session, lookback, n_features, gen, name)
    if not diff <= TOLERANCE:  # NaN fails too
        raise ConfigError(f"the ONNX graph of the {name} network differs from torch by {diff:.1e} on "
                          f"random windows (more than {TOLERANCE:g}); {INSTEAD}")
    return data, outputs, diff


def difference(graph: Distribution, session, lookback: int, n_features: int,
               gen: torch.Generator, name: str) -> float:
    """Largest |onnx - torch| / max(1, |torch|) over every output, on random windows of each of
    CHECK_BATCHES sizes."""
    worst = []
    for b in CHECK_BATCHES:
        args = random_inputs(graph.network, b, lookback, n_features, gen)  # (b, L, F) and (b, H, K)
        with torch.inference_mode():
            want = [t.numpy() for t in graph(*args)]  # 1 or 2 x (b, H, C)
        try:
            got = session.run(None, {name: a.numpy() for name, a in zip([INPUT, FUTURE], args)})
        except onnxruntime_errors() as err:
            raise ConfigError(f"the ONNX graph of the {name} network fails on a batch of {b} windows "
                              f"({str(err).splitlines()[0]}); {INSTEAD}") from None
        worst += [np.max(np.abs(g - w) / np.maximum(1.0, np.abs(w))) for g, w in zip(got, want)]
    return float(np.max(worst))


def random_inputs(network: nn.Module, batch: int, lookback: int, n_features: int,
                  gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random scaled windows (batch, L, F) and, for a network with K known-future inputs, their
    future values (batch, H, K)."""
    x = torch.randn(batch, lookback, n_features, generator=gen)  # (B, L, F)
    k = getattr(network, "n_future", 0)
    return (x,) if not k else (x, torch.randn(batch, network.horizon, k, generator=gen))  # (B, H, K)


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """torch's notices around the TorchScript-based export, filtered by message; whatever else
    it says still shows. Its deprecation (this exporter is chosen on purpose, see above); the
    tracer's notes that Python values become constants (L, H and every loop's trip count are
    fixed by the run, and a batch size baked into the graph fails the check on other batch
    sizes); its note on variable-length RNN inputs (windows are never padded)."""
    with warnings.catch_warnings():
        for message, category in [
            (r"You are using the legacy TorchScript-based ONNX export", DeprecationWarning),
            (r"The feature will be removed\. Please remove usage of this function", DeprecationWarning),
            (r"Converting a tensor to a Python (boolean|float|integer|index)", torch.jit.TracerWarning),
            (r"Exporting a model to ONNX with a batch_size other than 1, with a variable length", UserWarning),
        ]:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield
