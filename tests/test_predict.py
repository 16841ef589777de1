"""`forecaster predict`: future timestamps, consistency with fit, and its errors."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.cli import main
from forecaster.config import FitConfig
from forecaster.runs.predict import forecast
from forecaster.runs.fit import fit
from forecaster.data.sources import load_dataset

FAST = dict(max_epochs=1, hidden_size=8, num_layers=1, lookback=20, horizon=5, patience=0)


@pytest.fixture(scope="module")
def aapl_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "aapl"
    fit(FitConfig(dataset="aapl", out=str(out), **FAST), progress=False)
    return out


def _prices_csv(path, end):
    prices = load_dataset("aapl").loc[:end]
    prices.reset_index().to_csv(path, index=False)
    return path


def test_future_trading_days_skip_a_market_holiday(aapl_run, tmp_path, capsys):
    csv = _prices_csv(tmp_path / "new.csv", "2012-12-21")  # a Friday before Christmas
    code = main(["predict", "--run", str(aapl_run), "--csv", str(csv), "--out", str(tmp_path / "fc")])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(tmp_path / "fc" / "forecast.csv", index_col=0, parse_dates=True)
    assert list(table.index.strftime("%Y-%m-%d")) == ["2012-12-24", "2012-12-26", "2012-12-27",
                                                      "2012-12-28", "2012-12-31"]
    assert list(table.columns) == ["target", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert ((table["lower_95"] < table["lower_80"]) & (table["lower_80"] < table["forecast"])
            & (table["forecast"] < table["upper_80"]) & (table["upper_80"] < table["upper_95"])).all()
    assert (tmp_path / "fc" / "forecast.html").is_file()


def test_predict_matches_the_fit_forecast_at_the_same_cutoff(aapl_run, tmp_path):
    """A model trained on an embedded stock, new data from a CSV ending at a test cutoff."""
    fitted = pd.read_csv(aapl_run / "forecasts.csv", index_col=[0, 1], parse_dates=True)
    cutoff = fitted.index.get_level_values("cutoff").unique()[100]
    fc = forecast(aapl_run, csv=str(_prices_csv(tmp_path / "cut.csv", cutoff)))
    want = fitted.xs(cutoff, level="cutoff")
    assert list(fc.table.index) == list(want.index)  # the real next trading days
    np.testing.assert_allclose(fc.table["forecast"], want["lstm"], rtol=1e-5)
    np.testing.assert_allclose(fc.table["upper_95"], want["upper_95"], rtol=1e-5)


def test_sensor_forecast_steps_by_the_inferred_frequency(tmp_path):
    frame = sensor_frame(700, freq="7min").reset_index()
    csv = tmp_path / "log.csv"
    frame.to_csv(csv, index=False)
    run = tmp_path / "run"
    fit(FitConfig(csv=str(csv), target=["temp"], features=["humid"], out=str(run), **FAST), progress=False)
    fc = forecast(run)
    last = pd.Timestamp(frame["ts"].iloc[-1])
    assert list(fc.table.index) == [last + pd.Timedelta(minutes=7 * k) for k in range(1, 6)]
    assert str(fc.table.index.tz) == "UTC"


@pytest.mark.parametrize("make, match", [
    (lambda tmp: load_dataset("aapl").drop(columns="Volume").reset_index(), "no column 'Volume'"),
    (lambda tmp: load_dataset("aapl").iloc[:15].reset_index(), "fewer than the lookback of 20"),
])
def test_predict_bad_new_data(aapl_run, tmp_path, capsys, make, match):
    csv = tmp_path / "bad.csv"
    make(tmp_path).to_csv(csv, index=False)
    assert main(["predict", "--run", str(aapl_run), "--csv", str(csv), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


def test_predict_from_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["predict", "--run", str(tmp_path)]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_predict_refuses_an_unfinished_run(aapl_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "copy"
    shutil.copytree(aapl_run, run)
    card = json.loads((run / "model.json").read_text())
    card["series"][0]["conformal"] = None  # as written when training starts
    (run / "model.json").write_text(json.dumps(card))
    assert main(["predict", "--run", str(run)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_predict_refuses_a_model_card_of_another_format(aapl_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "old"
    shutil.copytree(aapl_run, run)
    card = json.loads((run / "model.json").read_text())
    (run / "model.json").write_text(json.dumps({**card, "format": 1, "forecaster_version": "0.1.0"}))
    assert main(["predict", "--run", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model-card format 1" in err and "fit the model again" in err


def test_saved_column_transforms_are_used_not_re_derived(aapl_run, tmp_path):
    """Refreshed data where Volume has a zero: the saved log-return transform is kept, and the
    value it cannot take is refused in one line instead of switching the transform."""
    from forecaster.errors import DataError

    prices = load_dataset("aapl").loc[:"2012-12-21"].copy()
    prices.iloc[-5, prices.columns.get_loc("Volume")] = 0.0
    csv = tmp_path / "zero.csv"
    prices.reset_index().to_csv(csv, index=False)
    with pytest.raises(DataError, match="'Volume' is 0 at .*log returns"):
        forecast(aapl_run, csv=str(csv))
