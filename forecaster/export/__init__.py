"""Export for serving: a finished run's network as an ONNX graph with a JSON sidecar
(`onnx.export_run`, torch), and `runtime.OnnxForecaster`, which reproduces `forecaster predict`
from them with numpy, pandas and onnxruntime only (`sidecar`: the file between the two).

Names are imported lazily: `from forecaster.export import OnnxForecaster` never imports torch.
"""

from importlib import import_module

_EXPORTS = {"OnnxForecaster": "forecaster.export.runtime", "export_run": "forecaster.export.onnx",
            "Exported": "forecaster.export.onnx"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'forecaster.export' has no attribute {name!r}")
