"""The CLI end to end on embedded data, and its one-line errors for bad input."""

import json
import re
import shlex

import numpy as np
import pandas as pd
import pytest
import yaml

import yahoo_fake
from conftest import run_cli as run
from forecaster.cli import build_parser, flag_values, main
from forecaster.config import FIELDS, FitConfig, make_config
from forecaster.data.sources import load_dataset

FAST = ["--max-epochs", "2", "--hidden-size", "16", "--num-layers", "1", "--patience", "0"]


def test_fit_on_the_default_embedded_stock_writes_a_sane_run(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, ["fit", "--out", str(out), *FAST, "--seed", "3"])
    assert code == 0, err
    for name in ["report.html", "metrics.json", "config.yaml", "model.json", "forecasts.csv",
                 "checkpoints/best.ckpt", "checkpoints/last.ckpt"]:
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"]["name"] == "lstm" and m["data"]["source"] == "aapl"
    assert set(m["baselines"]) == {"naive", "seasonal_naive", "drift"}
    for block in [m["model"], *m["baselines"].values()]:
        assert {"name", "MAE", "RMSE", "sMAPE", "MASE"} <= set(block)
        assert all(np.isfinite(block[k]) and block[k] > 0 for k in ("MAE", "RMSE", "sMAPE", "MASE"))
        assert len(block["per_step"]["MAE"]) == 5
    # Scale-free default: on prices the model stays near the naive last value.
    assert 0.5 < m["mae_ratio_to_naive"] < 1.2
    assert m["split"]["test"]["end"] == "2013-03-01" and m["split"]["transform"] == "log_return"
    html = (out / "report.html").read_text()
    assert re.search(r"<script[^>]*\bsrc=", html) is None  # plotly.js embedded, no CDN
    assert len(html) > 3_000_000
    for fig in ["fig-series", "fig-forecast:Close", "fig-fans:Close", "fig-per_step", "fig-loss"]:
        assert f'id="{fig}"' in html
    assert "naive" in html and m["verdict"] in html
    assert "report:" in stdout and "naive" in stdout
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["seed"] == 3 and resolved["model"] == "lstm"
    f = pd.read_csv(out / "forecasts.csv", index_col=[0, 1], parse_dates=True)
    assert list(f.columns) == ["step", "target", "actual", "lstm", "lower_80", "upper_80", "lower_95",
                               "upper_95", "naive", "seasonal_naive", "drift"]
    assert (f["lower_95"] <= f["lower_80"]).all() and (f["lower_80"] <= f["lstm"]).all()
    assert (f["lstm"] <= f["upper_80"]).all() and (f["upper_80"] <= f["upper_95"]).all()
    iv = m["intervals"]
    assert set(iv["levels"]) == {"0.8", "0.95"} and iv["scale"] == "log"
    assert 0.5 < iv["levels"]["0.8"]["coverage"] < iv["levels"]["0.95"]["coverage"] <= 1
    card = json.loads((out / "model.json").read_text())
    assert len(card["series"][0]["conformal"]["quantiles"]["0.8"]) == 5  # one per horizon step
    assert 'id="fig-calibration"' in html


def test_same_seed_same_metrics(tmp_path, capsys):
    args = ["fit", "--dataset", "ibm", *FAST, "--seed", "7", "--lookback", "20"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["model"] == b["model"] and a["training"]["val_loss"] == b["training"]["val_loss"]


def test_fit_sensor_dataset_with_target(tmp_path, capsys):
    out = tmp_path / "jfk"
    code, _, err = run(capsys, ["fit", "--dataset", "jfk-weather", "--target", "temp", *FAST,
                                "--lookback", "24", "--out", str(out)])
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["split"]["season"] == 24 and m["split"]["transform"] == "window"
    assert m["data"]["kind"] == "sensor" and "hour_sin" in m["data"]["inputs"]


def test_fit_with_gaussian_likelihood(tmp_path, capsys):
    out = tmp_path / "g"
    code, _, err = run(capsys, ["fit", "--dataset", "jfk-weather", "--loss", "gaussian", *FAST,
                                "--lookback", "24", "--model", "seq2seq", "--out", str(out)])
    assert code == 0, err
    iv = json.loads((out / "metrics.json").read_text())["intervals"]
    assert set(iv["gaussian"]) == {"0.8", "0.95"} and iv["scale"] == "abs"
    assert all("gaussian" in row for row in iv["calibration"])


def test_fit_csv_with_features(tmp_path, capsys):
    jfk = load_dataset("jfk-weather").reset_index().rename(columns={"timestamp": "ts"})
    csv = tmp_path / "plant.csv"
    jfk[["ts", "temp", "humid", "pressure"]].iloc[:3000].to_csv(csv, index=False)
    out = tmp_path / "plant"
    code, _, err = run(capsys, ["fit", "--csv", str(csv), "--time-col", "ts", "--target", "temp",
                                "--features", "humid,pressure", *FAST, "--lookback", "24",
                                "--out", str(out)])
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"]["inputs"][:3] == ["temp", "humid", "pressure"] and m["data"]["source"] == "plant"


def test_fit_ticker_through_yfinance(tmp_path, capsys, monkeypatch):
    yahoo_fake.install(monkeypatch, {"MSFT": yahoo_fake.raw_stock("MSFT")})
    out = tmp_path / "msft"
    code, _, err = run(capsys, ["fit", "--ticker", "MSFT", *FAST, "--out", str(out)])
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["data"]["source"] == "MSFT"


def test_the_documented_command_line_parses_as_documented():
    line = ("fit --config configs/lstm.yaml --model gru --lookback 64 --horizon 5 "
            "--max-epochs 30 --seed 7 --out runs/aapl-gru")
    args = build_parser().parse_args(shlex.split(line))
    flags = flag_values(args)
    from forecaster.config import load_yaml
    cfg = make_config(load_yaml(args.config), flags)
    assert (cfg.model, cfg.lookback, cfg.horizon, cfg.max_epochs, cfg.seed, cfg.out) == \
        ("gru", 64, 5, 30, 7, "runs/aapl-gru")
    assert cfg.hidden_size == 64  # from the file


def test_every_config_in_configs_loads():
    from pathlib import Path

    from forecaster.config import load_yaml
    # tune-space.yaml is a search space, not a config (tests/test_tune.py loads it)
    files = sorted(f for f in Path("configs").glob("*.yaml") if f.name != "tune-space.yaml")
    assert len(files) >= 4
    for f in files:
        assert isinstance(make_config(load_yaml(f)), FitConfig)


def _write_csv(tmp_path, text, name="log.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _hourly(n=400):
    idx = pd.date_range("2024-01-01", periods=n, freq="h")
    return "ts,temp\n" + "".join(f"{t},{np.sin(i / 4):.4f}\n" for i, t in enumerate(idx))


@pytest.mark.parametrize("argv, match", [
    (["fit", "--lookback", "0"], "lookback must be an integer >= 1"),
    (["fit", "--horizon", "-3"], "horizon must be an integer >= 1"),
    (["fit", "--horizon", "x"], "invalid int value"),
    (["fit", "--model", "transformer"], "unknown model 'transformer'; choose one of rnn, jordan, lstm, cifg, gru"),
    (["fit", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["fit", "--config", "missing.yaml"], "config file not found"),
    (["fit", "--val-size", "0.6", "--test-size", "0.4"], "keep their sum below 0.9"),
    (["fit", "--ticker", "AAPL", "--dataset", "ibm"], "give one data source"),
    (["fit", "--ticker", "../../etc"], "invalid ticker"),
    (["fit", "--ticker", "AAPL", "--offline"], "no cached prices for AAPL"),
    (["fit", "--dataset", "ibm", "--lookback", "3000"], "too short for lookback 3000"),
    (["fit", "--precision", "13"], "Lightning refused the trainer settings: Precision '13'"),
    (["fit", "--devices", "x"], "Lightning refused the trainer settings"),
])
def test_bad_input_one_line_no_traceback(capsys, argv, match):
    code, _, err = run(capsys, argv)
    assert code == 2
    assert match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("setup, match", [
    (lambda tmp: ["--csv", _write_csv(tmp, _hourly()), "--time-col", "ts", "--target", "pressure"],
     "no column 'pressure'"),
    (lambda tmp: ["--csv", _write_csv(tmp, "ts,temp\n2024-01-01,1\n2024-01-02,abc\n2024-01-03,2\n"),
                  "--target", "temp"], "column 'temp' is not numeric (value 'abc')"),
    (lambda tmp: ["--csv", _write_csv(tmp, "ts,temp\n2024-01-01,1\n2024-01-01,2\n2024-01-02,3\n"),
                  "--target", "temp"], "duplicate timestamp"),
    (lambda tmp: ["--csv", _write_csv(tmp, _hourly(60)), "--target", "temp"], "too short"),
    (lambda tmp: ["--csv", _write_csv(tmp, _hourly())], "--csv needs --target"),
    (lambda tmp: ["--config", _write_csv(tmp, "modle: gru\n", "c.yaml")], "unknown key 'modle' in"),
    (lambda tmp: ["--config", _write_csv(tmp, "model: [gru\n", "c.yaml")], "not valid YAML"),
    (lambda tmp: ["--config", _write_csv(tmp, "lookback: many\n", "c.yaml")], "lookback in"),
])
def test_bad_data_and_config_one_line_no_traceback(tmp_path, capsys, setup, match):
    code = main(["fit", *setup(tmp_path), *FAST, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and match in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()  # nothing written for a bad run


def test_unknown_ticker_and_no_network(capsys, monkeypatch):
    yahoo_fake.install(monkeypatch, {})
    code, _, err = run(capsys, ["fit", "--ticker", "ZZZZ"])
    assert code == 2 and "no prices for 'ZZZZ'" in err and len(err.strip().splitlines()) == 1
    yahoo_fake.install(monkeypatch, {}, network=False)
    code, _, err = run(capsys, ["fit", "--ticker", "AAPL"])
    assert code == 2 and "cannot reach Yahoo Finance" in err and "--dataset" in err


def test_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("precious")
    code, _, err = run(capsys, ["fit", "--out", str(out), *FAST])
    assert code == 2 and "--overwrite" in err
    assert (out / "metrics.json").read_text() == "precious"


def test_datasets_command(capsys):
    code, out, _ = run(capsys, ["datasets"])
    assert code == 0
    for name in ["aapl", "goog", "ibm", "msft", "jfk-weather"]:
        assert name in out


@pytest.mark.parametrize("command", ["fit", "compare", "backtest"])
def test_help_documents_every_flag(capsys, command):
    from forecaster.cli import COMMAND_FIELDS

    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    for name in FIELDS:  # every config field is a flag, a command's own options on that command only
        flag = "--" + name.replace("_", "-") + " "
        assert (flag in out) == (COMMAND_FIELDS.get(name, command) == command), flag


def test_python_api_fit_and_figures(tmp_path):
    from forecaster import FitConfig, fit

    result = fit(FitConfig(dataset="goog", max_epochs=1, hidden_size=8, num_layers=1, lookback=16,
                           out=str(tmp_path / "api")), progress=False)
    figs = result.figures()
    assert set(figs) == {"series", "forecast:Close", "fans:Close", "per_step", "calibration", "loss"}
    assert len(figs["forecast:Close"].data) >= 3 and result.report.is_file()
    assert result.forecasts.index.names == ["cutoff", "timestamp"]


def test_public_names_are_what_they_say_even_after_submodules_load():
    import importlib

    import forecaster
    for module in ["forecaster.runs.compare", "forecaster.runs.backtest", "forecaster.runs.predict", "forecaster.runs.fit"]:
        importlib.import_module(module)
    for name in forecaster.__all__:
        obj = getattr(forecaster, name)
        assert not isinstance(obj, type(forecaster)), f"forecaster.{name} is a module"
    assert callable(forecaster.compare) and callable(forecaster.backtest) and callable(forecaster.forecast)
