"""Seasonality detected on the training rows, and the anchor chosen on the validation rows."""

import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.data.frame import validate_frame
from forecaster.data.prepare import prepare
from forecaster.data.season import candidate_periods, choose_anchor, detect_season, seasonal_offsets


@pytest.mark.parametrize("freq, want", [("1h", [24, 168]), ("30min", [48, 336]), ("1D", [7, 365]),
                                        ("7D", [52]), ("30D", [12])])
def test_candidate_periods_follow_the_sampling_step(freq, want):
    assert candidate_periods(pd.Timedelta(freq)) == want
    assert candidate_periods(None) == []  # trading sessions keep their trading week


def test_a_daily_cycle_is_detected_and_noise_is_not():
    rng = np.random.default_rng(0)
    t = np.arange(24 * 60)
    cycle = (10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t)))[:, None]
    season, note = detect_season(cycle, np.zeros(len(t), np.int32), pd.Timedelta("1h"), 24)
    assert season == 24 and "detected" in note
    walk = np.cumsum(rng.normal(0, 1, len(t)))[:, None]
    season, note = detect_season(walk, np.zeros(len(t), np.int32), pd.Timedelta("1h"), 24)
    assert season == 24 and "no seasonality detected" in note  # the sampling step's default
    weekly = (np.sin(2 * np.pi * t / 168) * 10 + rng.normal(0, 0.05, len(t)))[:, None]
    assert detect_season(weekly, np.zeros(len(t), np.int32), pd.Timedelta("1h"), 24)[0] == 168


def test_seasonal_offsets_point_one_season_before_each_target():
    # cutoff t, step h targets t + h; its seasonal naive value is row t + h - 24 * ceil(h / 24)
    np.testing.assert_array_equal(seasonal_offsets(24, 3), [-23, -22, -21])
    np.testing.assert_array_equal(seasonal_offsets(2, 5), [-1, 0, -1, 0, -1])


def test_the_anchor_is_the_baseline_better_on_validation():
    t = np.arange(24 * 40)
    levels = (10 * np.sin(2 * np.pi * t / 24))[:, None]  # a pure daily cycle: seasonal naive is exact
    cutoffs = np.arange(24 * 30, 24 * 35)
    offsets, why = choose_anchor(levels, cutoffs, 6, 24)
    np.testing.assert_array_equal(offsets, seasonal_offsets(24, 6))
    assert "one season back" in why
    walk = np.cumsum(np.random.default_rng(1).normal(0, 1, len(t)))[:, None]
    assert not choose_anchor(walk, cutoffs, 6, 24)[0].any()  # naive wins on a random walk
    assert not choose_anchor(levels, cutoffs, 6, 24, anchor="last")[0].any()
    assert not choose_anchor(levels, cutoffs[:0], 6, 24)[0].any()  # no validation window sees a season back


def test_auto_keeps_segrnn_on_the_last_value():
    """segrnn takes each window's last value out itself: "auto" leaves it on the last value
    where the same series gives any other network the seasonal anchor; asked, it gets either."""
    t = np.arange(24 * 40)
    levels = (10 * np.sin(2 * np.pi * t / 24))[:, None]  # seasonal naive is exact
    cutoffs = np.arange(24 * 30, 24 * 35)
    offsets, why = choose_anchor(levels, cutoffs, 6, 24, network="segrnn")
    assert not offsets.any() and "segrnn takes each window's last value out itself" in why
    assert choose_anchor(levels, cutoffs, 6, 24, anchor="seasonal", network="segrnn")[0].any()
    for network in ("lstm", "seq2seq", "jordan"):
        assert choose_anchor(levels, cutoffs, 6, 24, network=network)[0].any()
    frame = validate_frame(sensor_frame(800), ["temp"], [])
    assert prepare(frame, 48, 6, transform="window").anchor_offsets.any()  # the daily cycle: seasonal
    p = prepare(frame, 48, 6, transform="window", network="segrnn")
    assert not p.anchor_offsets.any() and any("segrnn" in n for n in p.notes)


def test_seasonal_anchor_targets_and_levels_round_trip():
    """The windows' relative targets and `to_levels` use the same anchors: the true changes map
    back to the true values."""
    p = prepare(validate_frame(sensor_frame(800), ["temp"], []), 48, 6, anchor="seasonal")
    assert p.anchor_offsets.any() and p.season == 24
    data_rows = p.target_rows("test")
    scaled = (p.levels[data_rows] - p.anchors("test")) / p.target_scaler.std  # what the network learns
    np.testing.assert_allclose(p.to_levels(scaled, "test"), p.actuals("test"), rtol=1e-10)


def test_window_inputs_are_relative_to_the_cutoff():
    from forecaster.data.panel import Panel

    p = prepare(validate_frame(sensor_frame(600), ["temp"], ["humid"]), 24, 3, transform="window")
    assert p.relative_inputs == 2
    data = Panel(["s"], [p], np.array([0, len(p.index)])).datamodule(32, 0)
    x = data.dataset("train")[np.arange(5)].x
    assert (x[:, -1, :2] == 0).all()  # each window's data columns are 0 at its cutoff
    s = p.starts["train"].rows()[:5]
    np.testing.assert_allclose(x[:, 0, 0], p.inputs[s, 0] - p.inputs[s + 23, 0], atol=1e-6)
    assert not (x[:, -1, 2:] == 0).all()  # calendar columns stay as they are



@pytest.mark.parametrize("ratio, seasonal", [(0.6, True), (0.68, True), (0.72, False), (0.8, False)])
def test_auto_takes_the_seasonal_anchor_under_seven_tenths_of_naives_validation_error(ratio, seasonal):
    # Season 2, one step ahead. Levels r*k at t = 2k and 1 + r*k at t = 2k + 1: seasonal naive
    # (two steps back) is off by r at every cutoff, naive by 1 or 1 - r in turn, so seasonal
    # naive's MAE is 2r / (2 - r) of naive's; r is chosen to make that `ratio`.
    r = 2 * ratio / (2 + ratio)
    t = np.arange(400)
    levels = (r * (t // 2) + (t % 2))[:, None].astype(float)  # (T, 1)
    cutoffs = np.arange(10, 390)  # as many even cutoffs as odd ones
    offsets, why = choose_anchor(levels, cutoffs, 1, 2)
    seasonal_mae, naive_mae = (float(v) for v in why.split("seasonal naive ")[1].rstrip(")").split(", naive "))
    assert seasonal_mae / naive_mae == pytest.approx(ratio, rel=1e-3)
    assert bool(offsets.any()) is seasonal, why
