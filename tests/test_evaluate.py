import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.evaluation.baselines import baseline_forecasts
from forecaster.evaluation.metrics import evaluate, naive_scale, scores
from forecaster.evaluation.tables import forecast_frame, verdict
from forecaster.data.frame import validate_frame
from forecaster.data.prepare import prepare
from forecaster.data.sources import load_dataset


def _linear(n=300):
    index = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    season = np.tile(np.arange(24, dtype=float), n // 24 + 1)[:n]
    f = pd.DataFrame({"y": 100 + 0.5 * np.arange(n) + season}, index=index)
    return prepare(validate_frame(f, ["y"], []), 48, 6, calendar=False)


def test_baselines_by_hand():
    p = _linear()
    b = baseline_forecasts(p, "test")
    t = p.cutoffs("test")[0]
    y = p.levels[:, 0]
    np.testing.assert_allclose(b["naive"][0, :, 0], y[t])
    np.testing.assert_allclose(b["seasonal_naive"][0, :, 0], y[t + 1 - 24: t + 7 - 24])
    slope = (y[t] - y[0]) / t
    np.testing.assert_allclose(b["drift"][0, :, 0], y[t] + slope * np.arange(1, 7))


def test_scores_by_hand():
    actual = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])
    forecast = actual + np.array([[[1.0], [-1.0]], [[3.0], [1.0]]])
    s = scores(actual, forecast, np.ones_like(actual, bool), scale=np.array([2.0]))
    assert s["MAE"] == pytest.approx(1.5) and s["RMSE"] == pytest.approx(np.sqrt(3.0))
    assert s["MASE"] == pytest.approx(0.75)
    assert s["per_step"]["MAE"] == pytest.approx([2.0, 1.0])
    smape = 100 * np.mean([2 * 1 / 3, 2 * 1 / 3, 2 * 3 / 9, 2 * 1 / 9])
    assert s["sMAPE"] == pytest.approx(smape)


def test_filled_values_are_left_out_of_metrics():
    actual = np.ones((2, 2, 1))
    forecast = actual.copy()
    forecast[0, 0, 0] = 100.0
    observed = np.ones_like(actual, bool)
    observed[0, 0, 0] = False
    assert scores(actual, forecast, observed, np.array([1.0]))["MAE"] == 0.0


def test_naive_scale_is_training_one_step_mae():
    p = _linear()
    end = p.bounds["train"][1]
    assert naive_scale(p)[0] == pytest.approx(np.abs(np.diff(p.levels[:end, 0])).mean())


def test_perfect_model_beats_naive_and_says_so():
    p = _linear()
    m = evaluate(p, p.actuals("test"), "oracle")
    assert m["model"]["MAE"] == 0 and m["mae_ratio_to_naive"] == 0
    assert "beats the naive" in m["verdict"]
    worse = evaluate(p, p.actuals("test") + 50, "bad")
    assert "does NOT beat" in worse["verdict"] and worse["mae_ratio_to_naive"] > 1
    same = evaluate(p, baseline_forecasts(p, "test")["naive"], "shrunk")
    assert same["mae_ratio_to_naive"] == 1 and same["verdict"].startswith("shrunk ties with the naive last value")
    assert verdict("m", 1.0, "over 4 series (geometric mean)") == \
        "m ties with the naive last value over 4 series (geometric mean): the same MAE"  # no test: still a tie
    assert set(m["baselines"]) == {"naive", "seasonal_naive", "drift"}
    assert m["split"]["test"]["rows"] == 45 and m["split"]["windows"] == len(p.starts["test"])


def test_forecast_frame_is_indexed_by_the_real_future_timestamps():
    vf = validate_frame(load_dataset("ibm"), ["Close"], [], kind="price")
    p = prepare(vf, 20, 3)
    f = forecast_frame(p, {"model": p.actuals("test")}, "test")
    first = p.starts["test"][0]
    rows = f.iloc[:3]
    cutoff_row = first + 20 - 1
    assert (rows.index.get_level_values("cutoff") == vf.data.index[cutoff_row]).all()
    # Trading days: the next three sessions after the cutoff, weekends skipped.
    assert list(rows.index.get_level_values("timestamp")) == list(vf.data.index[cutoff_row + 1: cutoff_row + 4])
    assert list(rows["step"]) == [1, 2, 3]
    np.testing.assert_allclose(rows["actual"], vf.data["Close"].iloc[cutoff_row + 1: cutoff_row + 4])
    assert len(f) == len(p.starts["test"]) * 3


def test_seasonal_naive_skips_dropped_gaps_by_timestamp():
    f = sensor_frame(600)
    f = f.drop(f.index[545:555])  # a long gap in the test split: rows no longer 1 hour apart across it
    # A lookback shorter than the season: windows just after the gap look a season back across it.
    p = prepare(validate_frame(f, ["temp"], []), 8, 3, calendar=False, anchor="last")
    b = baseline_forecasts(p, "test")["seasonal_naive"]
    times = p.index
    across = missing = 0
    for i, t in enumerate(p.cutoffs("test")):
        for h in range(3):  # step h + 1 looks back one season from its own target time
            want_time = times[t] + pd.Timedelta(hours=h + 1) - pd.Timedelta(hours=24)
            if want_time in times:
                row = times.get_loc(want_time)
                across += row != t + h + 1 - 24  # a row-counting implementation gets these wrong
                assert b[i, h, 0] == p.levels[row, 0]
            else:  # the value one season back was dropped with the gap: naive instead
                missing += 1
                assert b[i, h, 0] == p.levels[t, 0]
    assert across >= 10 and missing > 0  # test cutoffs do look back across the gap, and into it


def test_report_lines_break_at_sensor_gaps_not_at_weekends():
    from forecaster.report.page import break_gaps
    from forecaster.data.sources import load_dataset

    close = load_dataset("aapl")["Close"]
    assert len(break_gaps(close, None)) == len(close)
    f = sensor_frame(100)["temp"].drop(sensor_frame(100).index[40:50])
    broken = break_gaps(f, pd.Timedelta(hours=1))
    assert len(broken) == len(f) + 1 and broken.isna().sum() == 1
    assert broken.index.is_monotonic_increasing
