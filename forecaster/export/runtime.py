"""`OnnxForecaster`: `forecaster predict` from an exported run with numpy, pandas and
onnxruntime only. Neither torch nor Lightning is imported, here or below.

    from forecaster.export import OnnxForecaster
    model = OnnxForecaster.load("runs/aapl/export/model.onnx")
    model.forecast().table                   # the table `forecaster predict --run runs/aapl` prints
    model.forecast(csv="newer.csv").table    # from newer data with the same columns
    model.forecast(future="future.csv")     # a model with --future-features: their next H values
    mean, std = model.predict_windows(x)     # scaled windows (B, L, F) -> model space (B, H, C)

Everything around the network (fresh data, the input windows, future timestamps, original
units and interval bounds) is `forecaster.runs.future`: the code `forecaster predict` runs.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from forecaster.errors import ConfigError, DataError
from forecaster.export.sidecar import AGAIN, FUTURE, INPUT, Sidecar, read_model
from forecaster.runs.card import ModelCard
from forecaster.runs.future import Future, assemble, network_inputs, new_data


def onnxruntime() -> ModuleType:
    """The onnxruntime module; where it is missing, a one-line ConfigError naming the extra."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("ONNX export and serving need the onnxruntime package; install it with "
                          "`pip install 'forecaster[export]'`") from None
    return onnxruntime


def onnxruntime_errors() -> tuple[type[Exception], ...]:
    """The exceptions onnxruntime raises (Fail, InvalidGraph, InvalidProtobuf...): each derives
    from Exception directly."""
    state = onnxruntime().capi.onnxruntime_pybind11_state
    return tuple(v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception))


def session_for(data: bytes, threads: int | None = None, consequence: str = AGAIN, checking: bool = False):
    """An onnxruntime CPU session over an .onnx file's bytes (`threads`: intra-op threads,
    None for onnxruntime's default); a graph it cannot load is a one-line ConfigError. A
    `checking` session logs fatal errors only: whatever fails in it is caught and reported in one
    line, which onnxruntime's own error log would only repeat."""
    ort = onnxruntime()
    options = ort.SessionOptions()
    if checking:
        options.log_severity_level = 4  # fatal only
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except onnxruntime_errors() as err:
        raise ConfigError(f"onnxruntime cannot load the graph ({str(err).splitlines()[0]}); "
                          f"{consequence}") from None


class OnnxForecaster:
    """An exported run: its ONNX graph in an onnxruntime session and its sidecar."""

    def __init__(self, session, sidecar: Sidecar) -> None:
        self.session = session
        self.sidecar = sidecar

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None) -> OnnxForecaster:
        """An .onnx file written by `forecaster export` (or its folder), with its sidecar."""
        model = Path(path)
        model = model / "model.onnx" if model.is_dir() else model
        sidecar = Sidecar.load(model)
        return cls(session_for(sidecar.checked(read_model(model), model), threads), sidecar)

    @property
    def card(self) -> ModelCard:
        return self.sidecar.card

    def predict_windows(self, x: np.ndarray, future: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray | None]:
        """Model-space mean (B, H, C) and, for a Gaussian head, standard deviation (B, H, C)
        (else None) of scaled windows x (B, L, F) and, for a model with known-future inputs,
        their scaled values over the horizon (B, H, K), as `ForecastModule.distribution` gives them."""
        card = self.card
        x = np.asarray(x, dtype=np.float32)
        L, F, H, K = card.lookback, len(card.inputs), card.horizon, len(card.future)
        if x.ndim != 3 or x.shape[1:] != (L, F) or not len(x):
            raise DataError(f"windows of shape {x.shape}; the model reads (batch, {L}, {F}) float32 "
                            f"windows of the scaled inputs {card.inputs}")
        feed = {INPUT: x}
        if K:
            future = None if future is None else np.asarray(future, dtype=np.float32)
            if future is None or future.shape != (len(x), H, K):
                got = "none" if future is None else future.shape
                raise DataError(f"known-future inputs of shape {got}; the model reads ({len(x)}, {H}, {K}) "
                                f"float32 values of {card.future} over the horizon")
            feed[FUTURE] = future
        elif future is not None:
            raise DataError("the model was fitted without known-future inputs; call predict_windows(x)")
        out = self.session.run(None, feed)  # (B, L, F), (B, H, K) -> 1 or 2 x (B, H, C)
        return out[0], out[1] if len(out) > 1 else None

    def forecast(self, csv: str | None = None, time_col: str | None = None,
                 offline: bool = False, future: str | Path | None = None) -> Future:
        """`forecaster.runs.predict.forecast` of the exported run: the next H steps after the
        last row of the run's data (refreshed) or of `csv`, reading a model's future features
        over them from the `future` file."""
        card, cfg = self.card, self.sidecar.config
        inputs = network_inputs(card, cfg, lambda: new_data(cfg, card, csv, time_col, offline),
                                future, "the exported model")  # x (S, L, F), future (S, H, K) or None
        mean, _ = self.predict_windows(inputs.x, inputs.future)  # -> (S, H, C)
        return assemble(card, inputs, mean)
