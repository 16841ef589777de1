"""Calendar grids: a log sampled on month starts (or month ends, or quarters) keeps its own
timestamps, steps by whole months, and everything downstream of `freq` (season, calendar inputs,
seasonal naive, metrics.json, the model card, predict's future timestamps) follows the calendar."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli, sensor_frame
from forecaster.data.frame import calendar_months, parse_step, shifted, step_text, validate_frame
from forecaster.data.made import calendar_columns
from forecaster.data.prepare import prepare
from forecaster.data.season import candidate_periods
from forecaster.evaluation.baselines import baseline_forecasts
from forecaster.report.page import break_gaps
from forecaster.runs.card import ModelCard

MS, ME = pd.offsets.MonthBegin(1), pd.offsets.MonthEnd(1)


def monthly(n: int = 360, start: str = "1988-01-01", freq: str = "MS", tz: str | None = None) -> pd.DataFrame:
    """A CO2-like log: a trend, a yearly cycle and a little noise, one row per `freq` step."""
    index = pd.date_range(start, periods=n, freq=freq, tz=tz, name="Date")
    t = np.arange(n)
    noise = np.random.default_rng(0).normal(0, 0.2, n)
    return pd.DataFrame({"co2": 350 + 0.15 * t + 3 * np.sin(2 * np.pi * t / 12) + noise}, index=index)


def test_month_starts_keep_every_row_and_timestamp():
    raw = monthly()  # 1988-01 .. 2017-12
    vf = validate_frame(raw, ["co2"])
    assert len(vf.data) == 360 and vf.data.index.equals(raw.index)
    assert vf.freq == MS and calendar_months(vf.freq) == 1 and vf.season == 12
    assert np.shares_memory(vf.data["co2"].to_numpy(), raw["co2"].to_numpy())  # complete: not copied
    assert not vf.notes and not vf.filled.any() and (vf.segment == 0).all()


@pytest.mark.parametrize("freq, offset, season", [("ME", ME, 12), ("QS", pd.offsets.MonthBegin(3), 4),
                                                  ("QE-NOV", pd.offsets.MonthEnd(3), 4),
                                                  ("YS", pd.offsets.MonthBegin(12), 1)])
def test_month_ends_quarters_and_years_keep_their_grid(freq, offset, season):
    raw = monthly(120, start="1990-02-01", freq=freq, tz="UTC")
    vf = validate_frame(raw, ["co2"])
    assert vf.freq == offset and vf.season == season
    assert vf.data.index.equals(raw.index) and str(vf.data.index.tz) == "UTC"
    assert candidate_periods(vf.freq) == ([season] if season > 1 else [])


def test_a_missing_month_is_filled_and_a_long_gap_starts_a_segment():
    raw = monthly(120)
    holed = raw.drop(raw.index[[30, *range(60, 70)]])  # one month, then ten in a row
    vf = validate_frame(holed, ["co2"], max_gap=6)
    assert vf.freq == MS and len(vf.data) == 110
    assert vf.data.index[30] == raw.index[30] and vf.data.iloc[30, 0] == raw.iloc[29, 0]  # causal fill
    assert vf.filled[:, 0].sum() == 1 and vf.filled[30, 0]
    assert vf.segment[59] == 0 and vf.segment[60] == 1 and vf.data.index[60] == raw.index[70]
    assert vf.data.index.is_month_start.all()  # no drift, no averaged bin
    assert any("10 were dropped" in n for n in vf.notes)


def test_seasonal_naive_is_the_same_calendar_month_a_year_back_across_a_gap():
    raw = monthly(200)
    vf = validate_frame(raw.drop(raw.index[100:103]), ["co2"], max_gap=1)  # a dropped quarter
    assert vf.segment.max() == 1
    p = prepare(vf, 4, 3, calendar=False, anchor="last")  # no window skips a season after the gap
    assert p.season == 12
    values = raw["co2"]
    checked_after_gap = 0
    for split in ("train", "val", "test"):
        forecast = baseline_forecasts(p, split)["seasonal_naive"][..., 0]  # (N, H)
        for row, f in zip(p.target_rows(split), forecast):
            cutoff = p.index[row[0] - 1]
            back = [s - pd.DateOffset(months=12 * int(np.ceil((k + 1) / 12))) for k, s in enumerate(p.index[row])]
            want = [values[b] if b in vf.data.index else values[cutoff] for b in back]
            np.testing.assert_allclose(f, want)
            checked_after_gap += int(raw.index[103] <= cutoff <= raw.index[110])
    assert checked_after_gap > 0  # windows right after the gap: 12 rows back there is 15 months back


def test_calendar_inputs_of_a_monthly_log_are_the_month_of_the_year():
    index = monthly(24).index
    cols = calendar_columns(index, MS)
    assert list(cols) == ["month_sin", "month_cos"]
    np.testing.assert_allclose(cols["month_sin"]()[[0, 12]], [0, 0], atol=1e-6)  # January both years
    assert calendar_columns(index, pd.offsets.MonthBegin(12)) == {}
    assert "hour_sin" in calendar_columns(sensor_frame(48).index, pd.Timedelta(hours=1))


def test_steps_round_trip_as_text_and_shift_by_calendar_months():
    assert step_text(MS) == "MS" and parse_step("MS") == MS
    assert parse_step(step_text(pd.offsets.MonthEnd(3))) == pd.offsets.MonthEnd(3)
    hour = pd.Timedelta(hours=1)
    assert step_text(hour) == "P0DT1H0M0S" and parse_step("P0DT1H0M0S") == hour  # cards written before
    assert parse_step(None) is None and step_text(None) is None
    ends = pd.DatetimeIndex(["2016-02-29", "2017-01-31"]).as_unit("us")
    got = pd.to_datetime(shifted(ends, -12, ME), unit="us")
    assert list(got.strftime("%Y-%m-%d")) == ["2015-02-28", "2016-01-31"]
    stamps = monthly(5).index.delete(2)  # Jan, Feb, Apr, May: the March gap breaks the line
    drawn = break_gaps(pd.Series(1.0, index=stamps), MS)
    assert len(drawn) == 5 and drawn.isna().sum() == 1


def test_hourly_and_daily_logs_keep_the_fixed_step():
    hourly = sensor_frame(300)
    holed = hourly.drop(hourly.index[100:104])
    vf = validate_frame(holed, ["temp"], ["humid"], max_gap=6)
    assert vf.freq == pd.Timedelta(hours=1) and vf.season == 24
    expected = holed.resample("1h", origin=holed.index[0]).mean().ffill()  # the fixed-step path
    pd.testing.assert_frame_equal(vf.data, expected, check_freq=False)
    daily = sensor_frame(400, freq="D", tz=None)  # midnight, 2024-01-01 a month start: still daily
    vf = validate_frame(daily, ["temp"], ["humid"])
    assert vf.freq == pd.Timedelta(days=1) and vf.season == 7 and vf.data.index.equals(daily.index)


@pytest.mark.parametrize("index", [
    pd.date_range("2000-01-15", periods=120, freq="MS") + pd.Timedelta(days=14),  # mid-month
    pd.date_range("2000-01-01 12:00", periods=120, freq="MS"),  # month starts at noon
    pd.date_range("2000-01-01", periods=120, freq="2MS"),  # every other month: not a calendar grid here
    pd.DatetimeIndex(pd.date_range("2000-01-01", periods=120, freq="MS").to_numpy()
                     + np.random.default_rng(1).integers(0, 5, 120).astype("timedelta64[D]")),  # jittered
])
def test_logs_off_a_calendar_grid_are_binned_on_their_median_spacing_as_before(index):
    raw = pd.DataFrame({"v": np.sin(np.arange(len(index)) / 3)}, index=index)
    vf = validate_frame(raw, ["v"], max_gap=100)
    median = pd.Series(index).diff().median()
    assert isinstance(vf.freq, pd.Timedelta) and vf.freq == median
    expected = raw.resample(median, origin=index[0]).mean().ffill()  # the fixed-step path
    pd.testing.assert_frame_equal(vf.data, expected, check_freq=False)


def test_fit_and_predict_a_monthly_csv_step_by_month_starts(capsys, tmp_path):
    raw = monthly(240, start="2000-01-01")
    csv = tmp_path / "co2.csv"
    raw.reset_index().to_csv(csv, index=False)
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, ["fit", "--csv", str(csv), "--target", "co2", "--lookback", "24",
                                    "--horizon", "6", "--hidden-size", "8", "--num-layers", "1",
                                    "--max-epochs", "2", "--out", str(run)])
    assert code == 0, err
    split = json.loads((run / "metrics.json").read_text())["split"]
    assert split["freq"] == "MS" and split["season"] == 12
    edges = [pd.Timestamp(split[k][e]) for k in ("train", "val", "test") for e in ("start", "end")]
    assert all(t.is_month_start and t == t.normalize() for t in edges)
    assert edges[0] == raw.index[0] and edges[-1] == raw.index[-1]
    assert sum(split[k]["rows"] for k in ("train", "val", "test")) == 240
    card = json.loads((run / "model.json").read_text())
    assert card["freq"] == "MS" and card["calendar"] == ["month_sin", "month_cos"]
    loaded = ModelCard.load(run)
    assert loaded.freq == MS and ModelCard.from_json(loaded.to_json()).freq == MS
    code, _, err = run_cli(capsys, ["predict", "--run", str(run), "--out", str(tmp_path / "fc")])
    assert code == 0, err
    table = pd.read_csv(tmp_path / "fc" / "forecast.csv", index_col=0, parse_dates=True)
    assert list(table.index.strftime("%Y-%m-%d")) == ["2020-01-01", "2020-02-01", "2020-03-01",
                                                      "2020-04-01", "2020-05-01", "2020-06-01"]
