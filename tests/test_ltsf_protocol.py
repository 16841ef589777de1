"""The long-horizon (LTSF) benchmark protocol: the embedded ETTh1, explicit `--split-rows`
train/validation/test row counts, and the standardized MSE and MAE of metrics.json."""

import gzip
import hashlib
import json
import warnings
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli as run
from forecaster.config import FitConfig, make_config
from forecaster.data.panel import prepare_panel
from forecaster.data.select import load_series
from forecaster.data.sources import load_dataset
from forecaster.data.sources.embedded import get_dataset
from forecaster.errors import ConfigError
from forecaster.evaluation.baselines import baseline_forecasts
from forecaster.evaluation.metrics import evaluate, standardized_errors
from forecaster.evaluation.tables import overall_metrics

ROOT = Path(__file__).resolve().parents[1]
LOADS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]
LTSF = [8640, 2880, 2880]  # 12, 4 and 4 months of hours


@pytest.fixture(scope="module")
def etth1_96():
    """ETTh1 under the LTSF protocol at lookback 96, horizon 96: (raw frame, prepared series)."""
    cfg = FitConfig(dataset="etth1", split_rows=LTSF, lookback=96, horizon=96)
    return load_dataset("etth1"), prepare_panel(load_series(cfg), cfg).first


def test_etth1_is_embedded_as_published():
    f = load_dataset("etth1")
    assert len(f) == 17_420 and list(f.columns) == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert f.index[0] == pd.Timestamp("2016-07-01 00:00") and f.index.tz is None
    assert (f.index[1:] - f.index[:-1] == pd.Timedelta(hours=1)).all()  # hourly, no gaps
    assert all(f.dtypes == "float64") and not f.isna().any().any()
    d = get_dataset("etth1")
    assert (d.kind, d.target, d.features) == ("sensor", ["OT"], LOADS)
    assert d.units["OT"] == "°C" and all(d.units[c] == "MW" for c in LOADS)


def test_every_embedded_file_is_package_data():
    """The installed package (a wheel) holds every file the loader opens."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["forecaster.data.sources"]
    folder = ROOT / "forecaster" / "data" / "sources" / "data"
    for name in [get_dataset(n).file for n in ["aapl", "jfk-weather", "etth1"]]:
        assert (folder / name).is_file() and any(fnmatch(f"data/{name}", p) for p in patterns), name


# SHA-256 of ETT-small/ETTh1.csv as published (github.com/zhouhaoyi/ETDataset)
PUBLISHED_ETTH1_SHA256 = "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"


def test_embedded_etth1_decompresses_to_the_published_file():
    """CC BY-ND 4.0: redistributed unchanged. The gzip is lossless packaging only."""
    path = ROOT / "forecaster" / "data" / "sources" / "data" / get_dataset("etth1").file
    assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == PUBLISHED_ETTH1_SHA256


def test_datasets_command_lists_etth1(capsys):
    code, out, _ = run(capsys, ["datasets"])
    line = next(row for row in out.splitlines() if row.startswith("etth1"))
    assert code == 0 and "17420" in line and "2016-07-01" in line and "2018-06-26" in line and "OT" in line


def test_split_rows_parsed_as_three_positive_counts():
    assert make_config({"split_rows": "8640,2880,2880"}).split_rows == LTSF
    assert make_config({}).split_rows is None
    for bad in ["1,2", "a,b,c", "0,1,1"]:
        with pytest.raises(ConfigError, match="--split-rows"):
            make_config({"split_rows": bad})


def test_ltsf_split_windows_and_scaler(etth1_96):
    frame, p = etth1_96
    assert p.bounds == {"train": (0, 8640), "val": (8640, 11520), "test": (11520, 14400)}
    L, H = 96, 96
    for split in ("val", "test"):
        assert len(p.starts[split]) == 2880 - H + 1 == 2785  # every target row of the split, stride 1
    assert p.starts["test"][0] == 11520 - L  # the inputs reach back into the validation rows
    assert p.target_rows("test")[0, 0] == 11520 and p.target_rows("test")[-1, -1] == 14399
    assert p.target_rows("val")[0, 0] == 8640 and p.target_rows("val")[-1, -1] == 11519
    assert p.target_rows("train").max() == 8639  # training windows stay in the training rows
    # Scalers fitted on rows [0, 8640) alone (delta transform: standardized levels, ddof=0).
    train = frame.iloc[:8640][["OT", *LOADS]]
    np.testing.assert_allclose(p.input_scaler.mean[:7], train.mean().to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(p.input_scaler.std[:7], train.std(ddof=0).to_numpy(), rtol=1e-9)
    assert not np.allclose(p.input_scaler.mean[:7], frame.iloc[:14400][["OT", *LOADS]].mean().to_numpy())


def test_standardized_errors_by_hand():
    # Target 0: training levels 1, 3 (mean 2, std 1); target 1: 10, 30 (mean 20, std 10).
    train = np.array([[1.0, 10.0], [3.0, 30.0]])  # (R, C)
    actual = np.array([[[2.0, 20.0], [4.0, 40.0]]])  # (N=1, H=2, C=2)
    forecast = np.array([[[3.0, 30.0], [2.0, 40.0]]])
    # Standardized errors: target 0 -> 1, -2 (MSE 2.5, MAE 1.5); target 1 -> 1, 0 (MSE 0.5, MAE 0.5).
    assert standardized_errors(train, actual, forecast) == pytest.approx({"MSE": 1.5, "MAE": 1.0})
    # The same as standardizing both with the training mean and std (StandardScaler) first.
    z = lambda x: (x - train.mean(axis=0)) / train.std(axis=0)  # noqa: E731
    by_scaler = np.mean((z(forecast) - z(actual)) ** 2)
    assert standardized_errors(train, actual, forecast)["MSE"] == pytest.approx(by_scaler)
    # A filled (unobserved) target is left out: target 0 keeps only its first step.
    observed = np.array([[[True, True], [False, True]]])
    assert standardized_errors(train, actual, forecast, observed) == pytest.approx({"MSE": 0.75, "MAE": 0.75})
    # A target constant on the training rows has no scale: NaN, and no warning on the way.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = standardized_errors(np.array([[5.0], [5.0]]), actual[..., :1], forecast[..., :1])
    assert np.isnan(out["MSE"]) and np.isnan(out["MAE"])


def test_evaluate_reports_standardized_on_the_training_scale(etth1_96):
    frame, p = etth1_96
    naive = baseline_forecasts(p, "test")["naive"]  # any forecast will do: naive's, as the model's
    m = evaluate(p, naive, "naive-as-model", "test")
    ot_train = frame["OT"].to_numpy()[:8640]
    err = (naive - p.actuals("test"))[..., 0] / ot_train.std()  # (N, H, 1) -> (N, H)
    assert m["standardized"] == pytest.approx({"MSE": np.mean(err ** 2), "MAE": np.mean(np.abs(err))})
    assert m["standardized"]["MAE"] == pytest.approx(m["model"]["MAE"] / ot_train.std())


def test_many_series_average_their_standardized_errors():
    def series(ratio, mse, mae):
        return {"mae_ratio_to_naive": ratio, "model": {"name": "gru", "MASE": 1.0},
                "baselines": {"naive": {"MASE": 1.0}}, "significance": {"naive": {"outcome": "no difference"}},
                "standardized": {"MSE": mse, "MAE": mae}}
    o = overall_metrics({"a": series(0.9, 0.2, 0.3), "b": series(1.1, 0.4, 0.5)})
    assert o["mean_standardized"] == pytest.approx({"MSE": 0.3, "MAE": 0.4})


@pytest.mark.parametrize("argv, match", [
    (["fit", "--dataset", "aapl,ibm", "--split-rows", "100,50,50"], "--split-rows counts the rows of one series"),
    (["fit", "--dataset", "etth1", "--split-rows", "8640,2880,8000"], "needs 19520 rows, the series has 17420"),
    (["backtest", "--dataset", "etth1", "--split-rows", "8640,2880,2880"], "drop --split-rows"),
    (["fit", "--dataset", "etth1", "--split-rows", "8640,2880"], "--split-rows"),
])
def test_split_rows_refusals_in_one_line(tmp_path, capsys, argv, match):
    code, _, err = run(capsys, [*argv, "--max-epochs", "1", "--out", str(tmp_path / "run")])
    assert code == 2 and match in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()  # nothing written for a refused run


def test_fit_etth1_under_the_ltsf_protocol_writes_standardized_errors(tmp_path, capsys):
    out = tmp_path / "ltsf"
    code, stdout, err = run(capsys, ["fit", "--dataset", "etth1", "--split-rows", "8640,2880,2880",
                                     "--lookback", "24", "--horizon", "24", "--target", "OT",
                                     "--features", "none", "--max-epochs", "1", "--hidden-size", "16",
                                     "--num-layers", "1", "--patience", "0", "--batch-size", "256",
                                     "--out", str(out)])
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    s = m["standardized"]
    assert set(s) == {"MSE", "MAE"} and all(np.isfinite(s[k]) and s[k] > 0 for k in s)
    split = m["split"]
    assert (split["train"]["rows"], split["val"]["rows"], split["test"]["rows"]) == tuple(LTSF)
    assert split["test"]["windows"] == 2880 - 24 + 1 and split["targets"] == ["OT"]
    end = load_dataset("etth1").index[14399]
    assert pd.Timestamp(split["test"]["end"]) == end  # rows after 14400 are left unused
    ot_std = load_dataset("etth1")["OT"].to_numpy()[:8640].std()
    assert s["MAE"] == pytest.approx(m["model"]["MAE"] / ot_std, rel=1e-6)
    line = f"standardized (train mean/std per target): MSE {s['MSE']:.4f}, MAE {s['MAE']:.4f}"
    assert line in stdout
    assert line in (out / "report.html").read_text()
