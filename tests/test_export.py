"""`forecaster export` and `OnnxForecaster`: every network of the family matches torch through
ONNX on any batch size, an exported run reproduces `forecaster predict` without torch, and bad
input is refused in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import run_cli, sensor_frame
from forecaster.config import FitConfig
from forecaster.data.sources import load_dataset
from forecaster.errors import ConfigError, DataError
from forecaster.export import OnnxForecaster, export_run
from forecaster.export.onnx import export_network
from forecaster.export.runtime import session_for
from forecaster.nets import NETWORKS
from forecaster.nets.build import build_network, distribution
from forecaster.runs.fit import fit
from forecaster.runs.future import model_windows, new_data
from forecaster.runs.predict import forecast, load_run

FAST = dict(max_epochs=1, hidden_size=8, num_layers=1, lookback=20, horizon=5, patience=0)
L, F, H, C = 12, 3, 4, 2
VARIANTS = [(name, {}) for name in NETWORKS] + [
    ("lstm", {"n_params": 2}),  # the Gaussian head: mean and std out
    ("jordan", {"n_params": 2, "nonlinearity": "relu"}),
    ("seq2seq-attn", {"attention": "dot", "cell": "lstm", "n_params": 2}),
    ("segrnn", {"segment_decoding": "recurrent", "cell": "lstm"}),
    ("segrnn", {"norm": "revin", "cell": "rnn", "n_params": 2, "add_last": True}),
    ("lstm", {"norm": "revin", "n_params": 2}),  # the window's own scale: forecaster.nets.norm
    ("seq2seq-attn", {"norm": "revin", "add_last": True}),
]


@pytest.mark.parametrize("name, extra", VARIANTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VARIANTS)])
def test_every_network_matches_torch_through_onnx_on_any_batch_size(name, extra):
    torch.manual_seed(0)
    size = {"segment_length": 5} if name == "segrnn" else {}  # 12 rows: 3 segments, padded
    net = build_network(name, F, H, C, hidden_size=8, num_layers=2, **size, **extra).eval()
    data, outputs, measured = export_network(net, L, F, name)
    assert measured <= 1e-5
    assert outputs == (["mean", "std"] if extra.get("n_params") == 2 else ["mean"])
    session = session_for(data)
    assert session.get_inputs()[0].shape[0] == "batch"  # a dynamic axis, not the traced size
    for batch in (3, 16):
        x = torch.randn(batch, L, F)
        with torch.inference_mode():
            want = [t for t in distribution(net, x) if t is not None]  # (B, H, C) once or twice
        got = session.run(None, {"x": x.numpy()})
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == (batch, H, C)
            assert np.abs(g - w.numpy()).max() <= 1e-5


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_with_known_future_inputs_matches_torch_through_onnx(name):
    torch.manual_seed(0)
    size = {"segment_length": 5} if name == "segrnn" else {}
    net = build_network(name, F, H, C, hidden_size=8, num_layers=1, n_future=2, **size).eval()
    data, outputs, measured = export_network(net, L, F, name)
    assert measured <= 1e-5
    session = session_for(data)
    assert [i.name for i in session.get_inputs()] == ["x", "future"]
    x, future = torch.randn(5, L, F), torch.randn(5, H, 2)
    with torch.inference_mode():
        want = distribution(net, x, future=future)[0]
    got = session.run(None, {"x": x.numpy(), "future": future.numpy()})[0]
    assert np.abs(got - want.numpy()).max() <= 1e-5
    with torch.inference_mode():  # the graph reads the future values: other values, other output
        other = distribution(net, x, future=future + 1)[0]
    assert np.abs(other.numpy() - got).max() > 1e-4


def test_an_exported_run_with_future_features_reproduces_predict(tmp_path):
    frame = sensor_frame(600, freq="h")
    frame["plan"] = np.random.default_rng(3).normal(size=len(frame)).cumsum()
    frame.reset_index().to_csv(tmp_path / "log.csv", index=False)
    run = tmp_path / "run"
    fit(FitConfig(csv=str(tmp_path / "log.csv"), target=["temp"], future_features=["plan"], holidays="US",
                  transform="window", out=str(run), **FAST), progress=False)
    export_run(run)
    served = OnnxForecaster.load(run / "export")
    stamps = pd.date_range(frame.index[-1] + pd.Timedelta(hours=1), periods=5, freq="h")
    pd.DataFrame({"ts": stamps, "plan": np.linspace(0, 4, 5)}).to_csv(tmp_path / "future.csv", index=False)
    assert_same_table(served.forecast(future=tmp_path / "future.csv").table,
                      forecast(run, future=tmp_path / "future.csv").table)
    sidecar = json.loads((run / "export" / "model.onnx.json").read_text())
    assert sidecar["future_input"] == {"name": "future", "shape": ["batch", 5, 2], "dtype": "float32",
                                       "columns": ["plan", "holiday"]}
    with pytest.raises(ConfigError, match="--future FILE"):
        served.forecast()
    x = np.zeros((1, 20, len(served.card.inputs)), dtype=np.float32)
    with pytest.raises(DataError, match=r"known-future inputs of shape none; the model reads \(1, 5, 2\)"):
        served.predict_windows(x)


class DataDependentLoop(nn.Module):
    """A loop whose trip count depends on the data: tracing freezes it at the traced windows."""

    def forward(self, x, target=None, teacher_forcing=0.0):
        y = x[:, -1, :1]  # (B, L, F) -> (B, 1)
        for _ in range(int(x.abs().sum() * 1000) % 97 + 1):
            y = y + 1
        return y[:, None, :, None].expand(-1, H, 1, 1)  # (B, 1) -> (B, H, 1, 1)


def test_a_network_whose_loop_depends_on_the_data_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="the loopy network differs from torch") as err:
        export_network(DataDependentLoop(), L, F, "loopy")
    assert len(str(err.value).splitlines()) == 1 and "forecaster predict" in str(err.value)


def test_an_exporter_failure_is_one_line_naming_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("Unsupported: prim::Loop with a data-dependent trip count\n  at line 3")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.raises(ConfigError) as err:
        export_network(build_network("gru", F, H, hidden_size=4), L, F, "gru")
    assert str(err.value).startswith("the gru network cannot be exported to ONNX (RuntimeError: Unsupported")
    assert len(str(err.value).splitlines()) == 1


@pytest.fixture(scope="module")
def aapl_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "aapl"
    fit(FitConfig(dataset="aapl", out=str(out), **FAST), progress=False)
    return out


@pytest.fixture(scope="module")
def aapl_export(aapl_run):
    """The run exported by the command line, as a user would."""
    from forecaster.cli import main

    assert main(["export", "--run", str(aapl_run)]) == 0
    return aapl_run / "export" / "model.onnx"


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert got.index.equals(want.index) and list(got.columns) == list(want.columns)
    numeric = want.select_dtypes("number").columns
    assert len(numeric) == 5  # forecast and four bounds
    assert got.drop(columns=numeric).equals(want.drop(columns=numeric))
    assert np.abs(got[numeric].to_numpy() - want[numeric].to_numpy()).max() <= 1e-5


def test_export_command_writes_the_graph_and_its_sidecar(aapl_run, tmp_path, capsys):
    code, out, err = run_cli(capsys, ["export", "--run", str(aapl_run), "--out", str(tmp_path / "m.onnx")])
    assert code == 0, err
    assert "exported lstm: max difference to torch" in out
    assert f"{tmp_path / 'm.onnx'}, {tmp_path / 'm.onnx.json'}" in out
    side = json.loads((tmp_path / "m.onnx.json").read_text())
    assert side["input"] == {"name": "x", "shape": ["batch", 20, 9], "dtype": "float32",
                             "columns": ["Close", "Open", "High", "Low", "Volume", "weekday_sin",
                                         "weekday_cos", "yearday_sin", "yearday_cos"]}
    assert [o["name"] for o in side["outputs"]] == ["mean"] and side["max_difference_to_torch"] <= 1e-5
    assert side["model_card"]["series"][0]["conformal"] and side["config"]["dataset"] == "aapl"
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # nothing half-written


def test_exported_run_reproduces_predict(aapl_run, aapl_export, tmp_path):
    served = OnnxForecaster.load(aapl_export)
    assert_same_table(served.forecast().table, forecast(aapl_run).table)
    csv = tmp_path / "new.csv"
    load_dataset("aapl").loc[:"2012-12-21"].reset_index().to_csv(csv, index=False)
    got = served.forecast(csv=str(csv)).table
    assert_same_table(got, forecast(aapl_run, csv=str(csv)).table)
    assert list(got.index.strftime("%m-%d")) == ["12-24", "12-26", "12-27", "12-28", "12-31"]


def test_window_transform_calendar_and_gaussian_head_match_torch(tmp_path):
    frame = sensor_frame(500, freq="h").reset_index()
    frame.to_csv(tmp_path / "log.csv", index=False)
    run = tmp_path / "run"
    fit(FitConfig(csv=str(tmp_path / "log.csv"), target=["temp"], features=["humid"], transform="window",
                  loss="gaussian", out=str(run), **FAST), progress=False)
    done = export_run(run, tmp_path / "served")  # a folder: served/model.onnx
    served = OnnxForecaster.load(tmp_path / "served")
    card = served.sidecar.card
    assert done.model == tmp_path / "served" / "model.onnx" and card.transform == "window" and card.calendar
    x = model_windows(card, new_data(served.sidecar.config, card))  # (1, L, F)
    mean, std = served.predict_windows(np.repeat(x, 3, axis=0))
    with torch.inference_mode():
        want_mean, want_std = distribution(load_run(run).network, torch.from_numpy(x))
    assert std is not None and np.abs(std - want_std.numpy()).max() <= 1e-5
    assert np.abs(mean - want_mean.numpy()).max() <= 1e-5
    assert_same_table(served.forecast().table, forecast(run).table)


def test_many_series_run_reproduces_predict(tmp_path):
    """Two stocks, one bidirectional model: the graph's batch is the series."""
    run = tmp_path / "panel"
    fit(FitConfig(dataset="aapl,ibm", model="bigru", out=str(run), **FAST), progress=False)
    export_run(run)
    got = OnnxForecaster.load(run / "export" / "model.onnx").forecast().table
    assert list(got["series"].unique()) == ["aapl", "ibm"]
    assert_same_table(got, forecast(run).table)


def test_serving_never_imports_torch(aapl_export):
    """In a fresh interpreter: load the export and forecast, then look at what was imported."""
    code = ("import sys; from forecaster.export import OnnxForecaster; "
            f"fc = OnnxForecaster.load({str(aapl_export)!r}).forecast(); "
            "print(len(fc.table)); print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    rows, modules = out.splitlines()[-2:]
    assert rows == "5" and "onnxruntime" in modules.split()
    assert not {"torch", "lightning"} & set(modules.split())


def test_export_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, ["export", "--run", str(tmp_path)])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "not a finished run folder" in err


def test_missing_onnxruntime_names_the_extra(aapl_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    code, _, err = run_cli(capsys, ["export", "--run", str(aapl_run), "--out", str(tmp_path / "m.onnx")])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'forecaster[export]'" in err and not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("spoil, match", [
    (lambda side, model: side.write_text("{not json"), "corrupt \\(not JSON\\)"),
    (lambda side, model: side.write_text(json.dumps({**json.loads(side.read_text()), "format": 99})),
     "sidecar format 99"),
    (lambda side, model: side.write_text(json.dumps({k: v for k, v in json.loads(side.read_text()).items()
                                                     if k != "model_card"})), "KeyError: 'model_card'"),
    (lambda side, model: model.write_bytes(model.read_bytes()[:-10]), "SHA-256 differs"),
    (lambda side, model: side.unlink(), "missing"),
])
def test_a_spoiled_export_is_refused_in_one_line(aapl_export, tmp_path, spoil, match):
    shutil.copytree(aapl_export.parent, tmp_path / "export")
    model = tmp_path / "export" / "model.onnx"
    spoil(tmp_path / "export" / "model.onnx.json", model)
    with pytest.raises(ConfigError, match=match) as err:
        OnnxForecaster.load(model)
    assert len(str(err.value).splitlines()) == 1 and "forecaster export --run RUN" in str(err.value)


def test_windows_of_the_wrong_shape_are_refused(aapl_export):
    served = OnnxForecaster.load(aapl_export)
    with pytest.raises(DataError, match=r"the model reads \(batch, 20, 9\)"):
        served.predict_windows(np.zeros((2, 19, 9), dtype=np.float32))
