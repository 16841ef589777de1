"""Known-future inputs (--future-features, --holidays) and static attributes (--static-features):
leak-free windows, the same inputs in fit and predict, predict's future file, the ablation."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli, sensor_frame
from forecaster.config import FitConfig, make_config
from forecaster.data.frame import validate_frame
from forecaster.data.holidays import Holidays, holiday_flags
from forecaster.data.panel import prepare_panel
from forecaster.data.prepare import prepare
from forecaster.data.static import encode_static
from forecaster.errors import ConfigError, DataError
from forecaster.runs.fit import fit
from forecaster.runs.predict import forecast

FAST = dict(max_epochs=1, hidden_size=8, num_layers=1, lookback=24, horizon=6, patience=0)


def _log(n: int = 700) -> pd.DataFrame:
    """An hourly log whose target follows a known-future driver two steps later."""
    frame = sensor_frame(n)
    driver = np.random.default_rng(5).normal(0, 3, n).cumsum() / 10
    frame["plan"] = driver
    frame["temp"] = frame["temp"] + np.r_[0, 0, driver[:-2]] * 2
    return frame


def _prepared(frame: pd.DataFrame, **kw):
    vf = validate_frame(frame, ["temp"], ["humid"], future=["plan"])
    return vf, prepare(vf, lookback=24, horizon=6, **kw)


@pytest.mark.parametrize("transform", ["delta", "window", "level"])
def test_a_window_reads_the_future_columns_after_its_cutoff_and_nothing_else(transform):
    """Leakage: at cutoff t, changing the future feature after t+H or the target (or a past
    feature) after t changes nothing in the window; the future block is the scaled feature over
    t+1..t+H."""
    frame = _log()
    vf, p = _prepared(frame, transform=transform, holidays=Holidays("US"))
    assert p.future_names == ["plan", "holiday"] and p.input_names[:4] == ["temp", "humid", "plan", "holiday"]
    panel = prepare_panel({"log": vf}, FitConfig(lookback=24, horizon=6, transform=transform, holidays="US"))
    ds = panel.datamodule(32, 0).dataset("test")
    i = 10
    t = int(p.cutoffs("test")[i])
    batch = ds[[i]]
    assert batch.future.shape == (1, 6, 2)
    assert np.shares_memory(ds.future_series.columns[0], vf.data["plan"].to_numpy())  # no copy of the log
    j = p.input_names.index("plan")
    scaled = (frame["plan"].to_numpy()[t + 1:t + 7] - p.input_scaler.mean[j]) / p.input_scaler.std[j]
    if transform == "window":  # relative to the cutoff, as over the lookback
        scaled = scaled - (frame["plan"].iloc[t] - p.input_scaler.mean[j]) / p.input_scaler.std[j]
    np.testing.assert_allclose(batch.future[0, :, 0].numpy(), scaled, rtol=1e-5, atol=1e-5)

    changed = frame.copy()
    changed.iloc[t + 7:, changed.columns.get_loc("plan")] += 50  # the future feature after t+H
    changed.iloc[t + 1:, changed.columns.get_loc("temp")] += 50  # the target after t
    changed.iloc[t + 1:, changed.columns.get_loc("humid")] -= 50  # a past feature after t
    vf2 = validate_frame(changed, ["temp"], ["humid"], future=["plan"])
    same_fit = prepare(vf2, lookback=24, horizon=6, transform=transform, holidays=Holidays("US"),
                       bounds=p.bounds)
    ds2 = prepare_panel({"log": vf2}, FitConfig(lookback=24, horizon=6, transform=transform,
                                               holidays="US")).datamodule(32, 0).dataset("test")
    assert same_fit.input_scaler.mean.tolist() == p.input_scaler.mean.tolist()  # t is in the test rows
    again = ds2[[i]]
    assert np.array_equal(again.x.numpy(), batch.x.numpy())
    assert np.array_equal(again.future.numpy(), batch.future.numpy())


def test_a_future_column_stays_a_level_under_log_returns():
    prices = pd.DataFrame({"Close": np.linspace(10, 20, 300), "Volume": np.linspace(1, 2, 300),
                           "Dividend": np.r_[np.zeros(150), np.ones(150)] + 0.5},
                          index=pd.bdate_range("2020-01-01", periods=300))
    vf = validate_frame(prices, ["Close"], ["Volume"], kind="price", future=["Dividend"])
    p = prepare(vf, lookback=20, horizon=5)
    assert p.column_transforms == ["log_return", "log_return", "level"]


def test_holiday_flags_mark_the_dates_of_the_country_and_refuse_unknown_codes():
    index = pd.date_range("2013-07-03 22:00", periods=30, freq="h", tz="UTC")
    flags = holiday_flags(index, "US")
    assert flags[index.date == pd.Timestamp("2013-07-04").date()].tolist() == [1.0] * 24
    assert flags[index.date != pd.Timestamp("2013-07-04").date()].sum() == 0
    assert holiday_flags(pd.DatetimeIndex(["2014-11-04"]), "AU-VIC").tolist() == [1.0]  # Melbourne Cup
    assert holiday_flags(pd.DatetimeIndex(["2014-11-04"]), "AU-NSW").tolist() == [0.0]
    with pytest.raises(ConfigError, match="no such country"):
        holiday_flags(index, "XX")


def test_holidays_are_dated_in_the_logs_own_time_zone():
    """A log of naive New York times given with --tz is stored in UTC; its holiday is the New York
    date: 4 July from 04:00 UTC to 03:00 UTC the next day."""
    index = pd.date_range("2013-07-04 00:00", periods=30, freq="h", tz="UTC")
    flags = Holidays("US", "America/New_York").flags(index)
    assert index[flags == 1][0] == pd.Timestamp("2013-07-04 04:00", tz="UTC")
    assert index[flags == 1][-1] == pd.Timestamp("2013-07-05 03:00", tz="UTC") and flags.sum() == 24
    assert Holidays("US").flags(index)[:24].tolist() == [1.0] * 24  # no --tz: the stored (UTC) date


def test_holidays_are_refused_for_prices_and_a_clashing_column():
    prices = pd.DataFrame({"Close": np.linspace(10, 20, 300)}, index=pd.bdate_range("2020-01-01", periods=300))
    with pytest.raises(ConfigError, match="trading sessions"):
        prepare(validate_frame(prices, ["Close"], kind="price"), 20, 5, holidays=Holidays("US"))
    log = _log().rename(columns={"humid": "holiday"})
    with pytest.raises(ConfigError, match="already have a column 'holiday'"):
        prepare(validate_frame(log, ["temp"], ["holiday"]), 24, 6, holidays=Holidays("US"))


@pytest.mark.parametrize("flags, match", [
    ({"csv": "x.csv", "target": "temp", "future_features": "temp"}, "never known in advance"),
    ({"ablate_future": True}, "none are given"),
    ({"holidays": "United States"}, "not a country code"),
    ({"dataset": "aapl", "static_features": "sector"}, "many-series run"),
])
def test_config_refuses_future_and_static_flags_that_cannot_work(flags, match):
    with pytest.raises(ConfigError, match=match):
        make_config(flags)


@pytest.fixture(scope="module")
def future_run(tmp_path_factory):
    """A run with a future feature and the holiday flag, under the window transform."""
    tmp = tmp_path_factory.mktemp("future")
    csv = tmp / "log.csv"
    _log().reset_index().to_csv(csv, index=False)
    out = tmp / "run"
    fit(FitConfig(csv=str(csv), target=["temp"], features=["humid"], future_features=["plan"],
                  holidays="US", transform="window", out=str(out), **FAST), progress=False)
    return out, csv


def _future_file(path, stamps, plan):
    pd.DataFrame({"ts": stamps, "plan": plan}).to_csv(path, index=False)
    return path


def test_predict_matches_the_fit_forecast_at_the_same_cutoff(future_run, tmp_path):
    """The data cut at a test cutoff and the realized future feature as the future file give
    the forecast the fit made for that window: the same inputs over the lookback and after it."""
    run, csv = future_run
    log = pd.read_csv(csv, parse_dates=["ts"]).set_index("ts")
    fitted = pd.read_csv(run / "forecasts.csv", index_col=[0, 1], parse_dates=True)
    cutoff = fitted.index.get_level_values("cutoff").unique()[40]
    log.loc[:cutoff].reset_index().to_csv(tmp_path / "cut.csv", index=False)
    ahead = log.loc[log.index > cutoff].iloc[:6]
    fc = forecast(run, csv=str(tmp_path / "cut.csv"),
                  future=_future_file(tmp_path / "f.csv", ahead.index, ahead["plan"]))
    want = fitted.xs(cutoff, level="cutoff")
    assert list(fc.table.index) == list(want.index)
    np.testing.assert_allclose(fc.table["forecast"], want["lstm"], rtol=1e-5)
    other = forecast(run, csv=str(tmp_path / "cut.csv"),
                     future=_future_file(tmp_path / "g.csv", ahead.index, ahead["plan"] + 5))
    assert not np.allclose(other.table["forecast"], fc.table["forecast"])  # the network reads them
    card = json.loads((run / "model.json").read_text())
    assert card["future"] == ["plan", "holiday"] and card["holidays"] == {"code": "US", "tz": None}
    assert card["network_kwargs"]["n_future"] == 2


def test_update_keeps_the_future_features_and_the_holiday_code(tmp_path):
    from forecaster.runs.update import update

    log = _log()
    log.iloc[:600].reset_index().to_csv(tmp_path / "old.csv", index=False)
    log.reset_index().to_csv(tmp_path / "new.csv", index=False)
    fit(FitConfig(csv=str(tmp_path / "old.csv"), target=["temp"], future_features=["plan"], holidays="US",
                  out=str(tmp_path / "parent"), **FAST), progress=False)
    update(tmp_path / "parent", csv=str(tmp_path / "new.csv"), out=str(tmp_path / "child"), progress=False)
    card = json.loads((tmp_path / "child" / "model.json").read_text())
    assert card["future"] == ["plan", "holiday"] and card["holidays"]["code"] == "US" and card["features"] == ["plan"]


def _stamps(run_csv, n=6):
    last = pd.read_csv(run_csv, parse_dates=["ts"])["ts"].iloc[-1]
    return pd.date_range(last + pd.Timedelta(hours=1), periods=n, freq="h")


@pytest.mark.parametrize("write, match", [
    (lambda p, s: _future_file(p, s[:4], 1.0), "no row for .* step 5 of the 6"),
    (lambda p, s: _future_file(p, s + pd.Timedelta(minutes=30), 1.0), "no row for .* step 1 of the 6"),
    (lambda p, s: pd.DataFrame({"ts": s, "plans": 1.0}).to_csv(p, index=False), "no column 'plan'"),
    (lambda p, s: _future_file(p, s, ["x", 1, 1, 1, 1, 1]), "no numeric value of 'plan'"),
    (lambda p, s: _future_file(p, s.append(s[:1]), 1.0), "two rows for"),
    (lambda p, s: None, "future file not found"),
])
def test_predict_refuses_a_bad_future_file_in_one_line(future_run, tmp_path, capsys, write, match):
    run, csv = future_run
    path = tmp_path / "future.csv"
    write(path, _stamps(csv))
    code, _, err = run_cli(capsys, ["predict", "--run", str(run), "--future", str(path), "--out", str(tmp_path / "o")])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert pd.Series([err]).str.contains(match).all(), err
    assert not (tmp_path / "o").exists()


def test_predict_needs_the_future_file_exactly_when_the_model_reads_one(future_run, tmp_path, capsys):
    run, csv = future_run
    code, _, err = run_cli(capsys, ["predict", "--run", str(run)])
    assert code == 2 and "--future FILE" in err and "plan" in err
    path = _future_file(tmp_path / "f.csv", _stamps(csv), 1.0)
    plain = tmp_path / "plain"
    fit(FitConfig(csv=str(csv), target=["temp"], out=str(plain), **FAST), progress=False)
    code, _, err = run_cli(capsys, ["predict", "--run", str(plain), "--future", str(path)])
    assert code == 2 and "drop --future" in err


def test_a_holiday_only_model_makes_its_future_flags_itself(tmp_path):
    frame = sensor_frame(1500, tz=None)
    frame.index = pd.date_range(end="2013-06-30 23:00", periods=1500, freq="h", name="ts")
    frame.reset_index().to_csv(tmp_path / "log.csv", index=False)
    run = tmp_path / "run"
    fit(FitConfig(csv=str(tmp_path / "log.csv"), target=["temp"], holidays="US", out=str(run),
                  **{**FAST, "horizon": 120}), progress=False)
    from forecaster.runs.future import future_stamps, last_windows, model_future, new_data
    from forecaster.runs.predict import load_run

    loaded = load_run(run)
    frames = new_data(loaded.config, loaded.card)
    stamps = {name: future_stamps(loaded.card, f, "XNYS") for name, f in frames.items()}
    ahead = model_future(loaded.card, stamps, {}, last_windows(loaded.card, frames))  # (1, H, 1)
    stamps = pd.date_range("2013-07-01", periods=120, freq="h")
    assert ahead.shape == (1, 120, 1)
    np.testing.assert_array_equal(ahead[0, :, 0], (stamps.date == pd.Timestamp("2013-07-04").date()))
    assert len(forecast(run).table) == 120


def test_compare_ablate_future_judges_each_model_against_itself_without(tmp_path, capsys):
    csv = tmp_path / "log.csv"
    _log().reset_index().to_csv(csv, index=False)
    out = tmp_path / "cmp"
    code, stdout, err = run_cli(capsys, ["compare", "--csv", str(csv), "--target", "temp", "--future-features",
                                         "plan", "--ablate-future", "--models", "gru", "--max-epochs", "2",
                                         "--hidden-size", "8", "--num-layers", "1", "--lookback", "24",
                                         "--horizon", "6", "--out", str(out)])
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["models"]) == ["gru-no-future", "gru"]
    a = m["ablation"]["gru"]
    assert a["without"] == "gru-no-future" and a["future"] == ["plan"]
    assert a["MAE"] == m["models"]["gru"]["MAE"] and a["MAE_without"] == m["models"]["gru-no-future"]["MAE"]
    assert a["verdict"] in stdout and "gru-no-future" in a["verdict"]
    assert set(m["baselines"]) == {"naive", "seasonal_naive", "drift"}
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert {"gru", "gru-no-future", "naive"} <= set(forecasts.columns)
    assert a["verdict"] in (out / "report.html").read_text()


def test_backtest_reads_each_folds_future_features(tmp_path):
    from forecaster.runs.backtest import backtest

    csv = tmp_path / "log.csv"
    _log().reset_index().to_csv(csv, index=False)
    result = backtest(FitConfig(csv=str(csv), target=["temp"], future_features=["plan"], folds=2,
                                out=str(tmp_path / "bt"), **FAST), progress=False)
    assert len(result.folds) == 2
    for fold in result.folds:  # each fold reads the feature over its own test windows' horizons
        assert fold.prepared.future_names == ["plan"] and fold.prepared.future_columns == [1]
        assert np.isfinite(fold.pred).all() and fold.metrics["model"]["MAE"] > 0
    assert result.folds[0].cutoff < result.folds[1].cutoff


def _panel_csv(path, sectors=("Tech", "Tech", "Energy"), sizes=(1.0, 2.0, 4.0)):
    parts = []
    for k, (sector, size) in enumerate(zip(sectors, sizes)):
        frame = sensor_frame(500, seed=k).reset_index()
        parts.append(frame.assign(site=f"s{k}", sector=sector, size=size))
    pd.concat(parts).to_csv(path, index=False)
    return path


def test_static_features_are_encoded_once_and_fed_to_every_window_of_their_series(tmp_path):
    csv = _panel_csv(tmp_path / "long.csv")
    cfg = FitConfig(csv=str(csv), series_col="site", target=["temp"], static_features=["sector", "size"],
                    out=str(tmp_path / "run"), **FAST)
    result = fit(cfg, progress=False)
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    assert card["static"] == ["sector=Energy", "sector=Tech", "size"]
    by_name = {s["name"]: s["static"] for s in card["series"]}
    assert by_name["s0"]["sector=Tech"] == 1 and by_name["s2"]["sector=Energy"] == 1
    sizes = np.array([by_name[f"s{k}"]["size"] for k in range(3)])
    np.testing.assert_allclose(sizes, (np.array([1, 2, 4]) - 7 / 3) / np.std([1, 2, 4]))
    ds = result.panel.datamodule(64, 0).dataset("train")
    starts = ds.start_rows(np.arange(len(ds))).numpy()
    series = np.searchsorted(result.panel.offsets, starts, side="right") - 1
    x = ds[np.arange(len(ds))].x.numpy()
    col = result.panel.first.input_names.index("size")
    for k in range(3):
        assert np.all(x[series == k][:, :, col] == np.float32(sizes[k]))  # every row of every window
    fc = forecast(tmp_path / "run")
    assert set(fc.table["series"]) == {"s0", "s1", "s2"}


def test_a_many_series_run_reads_each_series_future_from_the_series_column(tmp_path, capsys):
    csv = _panel_csv(tmp_path / "long.csv")
    run = tmp_path / "run"
    fit(FitConfig(csv=str(csv), series_col="site", target=["temp"], future_features=["humid"], out=str(run),
                  **FAST), progress=False)
    last = pd.read_csv(csv, parse_dates=["ts"]).groupby("site")["ts"].max()
    rows = [{"ts": t, "site": site, "humid": 60.0 + k} for k, site in enumerate(last.index)
            for t in pd.date_range(last[site] + pd.Timedelta(hours=1), periods=6, freq="h")]
    pd.DataFrame(rows).to_csv(tmp_path / "future.csv", index=False)
    fc = forecast(run, future=tmp_path / "future.csv")
    assert sorted(set(fc.table["series"])) == ["s0", "s1", "s2"] and len(fc.table) == 18
    pd.DataFrame([r for r in rows if r["site"] != "s2"]).to_csv(tmp_path / "partial.csv", index=False)
    code, _, err = run_cli(capsys, ["predict", "--run", str(run), "--future", str(tmp_path / "partial.csv")])
    assert code == 2 and "no rows of series 's2' in its column 'site'" in err


def test_static_features_from_a_table_and_their_refusals(tmp_path):
    csv = _panel_csv(tmp_path / "long.csv")
    table = tmp_path / "attrs.csv"
    pd.DataFrame({"name": ["s0", "s1", "s2"], "kind": ["a", "b", "a"]}).to_csv(table, index=False)
    fit(FitConfig(csv=str(csv), series_col="site", target=["temp"], static_features=[str(table)],
                  out=str(tmp_path / "run"), **FAST), progress=False)
    assert json.loads((tmp_path / "run" / "model.json").read_text())["static"] == ["kind=a", "kind=b"]
    pd.DataFrame({"name": ["s0", "s1"], "kind": ["a", "b"]}).to_csv(table, index=False)
    with pytest.raises(DataError, match="no row for series 's2'"):
        fit(FitConfig(csv=str(csv), series_col="site", target=["temp"], static_features=[str(table)],
                      out=str(tmp_path / "r2"), **FAST), progress=False)
    _panel_csv(tmp_path / "bad.csv", sectors=("Tech", "Tech", "Energy"))
    bad = pd.read_csv(tmp_path / "bad.csv")
    bad.loc[5, "sector"] = "Energy"  # series s0 has two sectors
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="static feature 'sector' has 2 values .* in series 's0'"):
        fit(FitConfig(csv=str(tmp_path / "bad.csv"), series_col="site", target=["temp"],
                      static_features=["sector"], out=str(tmp_path / "r3"), **FAST), progress=False)


def test_encode_static_standardizes_numbers_and_one_hots_the_rest():
    table = pd.DataFrame({"size": [1.0, 3.0], "type": ["x", "y"]}, index=["a", "b"])
    assert encode_static(table) == {"a": {"size": -1.0, "type=x": 1.0, "type=y": 0.0},
                                    "b": {"size": 1.0, "type=x": 0.0, "type=y": 1.0}}
