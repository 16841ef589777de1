"""What a run infers from a file it was given without --kind: prices by name, sign and spacing."""

import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.cli import main
from forecaster.config import FitConfig
from forecaster.data.select import infer_kind, load_data
from forecaster.data.sources import load_dataset


@pytest.mark.parametrize("name", ["Close", "Adj Close", "adj_close", "PRICE", "settle", "Last"])
def test_daily_prices_in_a_file_are_recognized(name):
    raw = load_dataset("ibm")[["Close"]].rename(columns={"Close": name})
    kind, note = infer_kind(raw, [name])
    assert kind == "price" and "--kind sensor" in note


@pytest.mark.parametrize("case", ["hourly", "negative", "other name"])
def test_what_is_not_a_daily_price_stays_a_sensor_log(case):
    raw = load_dataset("ibm")[["Close"]]
    if case == "hourly":
        raw = raw.set_axis(pd.date_range("2024-01-01", periods=len(raw), freq="h"))
    elif case == "negative":
        raw = raw - raw["Close"].median()
    else:
        raw = raw.rename(columns={"Close": "temp"})
    assert infer_kind(raw, list(raw.columns)) == ("sensor", None)


def test_a_price_csv_is_modelled_as_a_price_and_says_so(tmp_path, capsys):
    csv = tmp_path / "spx.csv"
    load_dataset("msft").reset_index()[["Date", "Close"]].to_csv(csv, index=False)
    frame = load_data(FitConfig(csv=str(csv), target=["Close"]))
    assert frame.kind == "price" and frame.freq is None and "looks like a daily price" in frame.notes[0]
    assert load_data(FitConfig(csv=str(csv), target=["Close"], kind="sensor")).kind == "sensor"
    out = tmp_path / "run"
    assert main(["fit", "--csv", str(csv), "--target", "Close", "--max-epochs", "1", "--hidden-size", "8",
                 "--num-layers", "1", "--lookback", "16", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "note: Close looks like a daily price" in stdout and "--kind sensor" in stdout
    import json
    assert json.loads((out / "metrics.json").read_text())["split"]["transform"] == "log_return"


def test_a_sensor_log_is_not_mistaken_for_a_price(tmp_path):
    log = tmp_path / "log.csv"
    sensor_frame(300).reset_index().to_csv(log, index=False)
    frame = load_data(FitConfig(csv=str(log), target=["temp"]))
    assert frame.kind == "sensor" and not any("price" in n for n in frame.notes)
    assert np.isfinite(frame.data["temp"]).all()
