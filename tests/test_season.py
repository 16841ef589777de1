"""Seasonality detected on the training rows, and the anchor chosen on the validation rows."""

import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.data.frame import validate_frame
from forecaster.data.prepare import prepare
from forecaster.data.season import Anchor, candidate_periods, choose_anchor, detect_season, seasonal_offsets
from forecaster.errors import ConfigError


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
    anchor, why = choose_anchor(levels, cutoffs, 6, 24)
    np.testing.assert_array_equal(anchor.offsets, seasonal_offsets(24, 6))
    assert "one season back" in why
    walk = np.cumsum(np.random.default_rng(1).normal(0, 1, len(t)))[:, None]
    assert not choose_anchor(walk, cutoffs, 6, 24)[0].offsets.any()  # naive wins on a random walk
    assert not choose_anchor(levels, cutoffs, 6, 24, anchor="last")[0].offsets.any()
    assert not choose_anchor(levels, cutoffs[:0], 6, 24)[0].offsets.any()  # no validation window sees a season back


def test_auto_keeps_segrnn_on_the_last_value():
    """segrnn takes each window's last value out itself: "auto" leaves it on the last value
    where the same series gives any other network the seasonal anchor; asked, it gets either."""
    t = np.arange(24 * 40)
    levels = (10 * np.sin(2 * np.pi * t / 24))[:, None]  # seasonal naive is exact
    cutoffs = np.arange(24 * 30, 24 * 35)
    anchor, why = choose_anchor(levels, cutoffs, 6, 24, network="segrnn")
    assert not anchor.offsets.any() and "segrnn takes each window's last value out itself" in why
    assert choose_anchor(levels, cutoffs, 6, 24, anchor="seasonal", network="segrnn")[0].offsets.any()
    for network in ("lstm", "seq2seq", "jordan"):
        assert choose_anchor(levels, cutoffs, 6, 24, network=network)[0].offsets.any()
    frame = validate_frame(sensor_frame(800), ["temp"], [])
    assert prepare(frame, 48, 6, transform="window").anchor.offsets.any()  # the daily cycle: seasonal
    p = prepare(frame, 48, 6, transform="window", network="segrnn")
    assert not p.anchor.offsets.any() and any("segrnn" in n for n in p.notes)


def test_seasonal_anchor_targets_and_levels_round_trip():
    """The windows' relative targets and `to_levels` use the same anchors: the true changes map
    back to the true values."""
    p = prepare(validate_frame(sensor_frame(800), ["temp"], []), 48, 6, anchor="seasonal")
    assert p.anchor.offsets.any() and p.season == 24
    data_rows = p.target_rows("test")
    scaled = (p.levels[data_rows] - p.anchors("test")) / p.target_scaler.std  # what the network learns
    np.testing.assert_allclose(p.to_levels(scaled, "test"), p.actuals("test"), rtol=1e-10)


def test_the_seasonal_mean_is_the_phase_averaged_over_seasons_shifted_to_the_latest_level():
    rng = np.random.default_rng(0)
    levels = rng.normal(size=(200, 2))  # (T, C)
    anchor = Anchor.seasonal(7, 10, seasons=4)
    cutoffs = np.array([40, 57, 189])
    got = anchor.values(levels.__getitem__, cutoffs)  # (N, H, C)
    for n, t in enumerate(cutoffs):  # by hand, step by step
        for h in range(1, 11):
            phase = t + h - 7 * int(np.ceil(h / 7))  # the seasonal naive row
            same = np.mean([levels[phase - 7 * j] for j in range(4)], axis=0)
            want = same + levels[t - 6:t + 1].mean(0) - levels[t - 27:t + 1].mean(0)
            np.testing.assert_allclose(got[n, h - 1], want, rtol=1e-12)
    # its weights sum to 1: a constant is its own anchor, and scaling commutes with it
    np.testing.assert_allclose(anchor.values(np.full((200, 1), 3.0).__getitem__, cutoffs), 3.0)
    np.testing.assert_allclose(anchor.values((levels * 2 + 1).__getitem__, cutoffs), got * 2 + 1, rtol=1e-12)
    # a level shift over the whole latest season moves the anchor by as much at every step
    shifted = levels.copy()
    shifted[183:] += 5.0  # rows 183 .. 189 are the season up to cutoff 189
    np.testing.assert_allclose(anchor.values(shifted.__getitem__, cutoffs[2:]) - got[2:], 5.0, rtol=1e-12)
    assert anchor.kind == "seasonal-mean" and anchor.reach == 27
    assert Anchor.seasonal(7, 10).kind == "seasonal" and Anchor.last(10).kind == "last"
    assert anchor == Anchor.seasonal(7, 10, seasons=4) and anchor != Anchor.seasonal(7, 10, seasons=3)


def test_the_seasonal_mean_of_many_windows_is_computed_by_chunks(monkeypatch):
    from forecaster.data import season

    levels = np.random.default_rng(1).normal(size=(400, 2))
    anchor, cutoffs = Anchor.seasonal(7, 10, seasons=4), np.arange(40, 380)
    whole = anchor.values(levels.__getitem__, cutoffs)
    monkeypatch.setattr(season, "CHUNK", 100)  # 3 windows (27 rows back each) a chunk
    np.testing.assert_allclose(anchor.of_levels(levels, cutoffs), whole, rtol=1e-12)


def test_auto_takes_the_seasonal_mean_where_it_beats_seasonal_naive_on_validation():
    rng = np.random.default_rng(0)
    t = np.arange(24 * 40)
    cutoffs = np.arange(24 * 30, 24 * 35)
    noisy = (10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t)))[:, None]  # one season's noise averages out
    anchor, why = choose_anchor(noisy, cutoffs, 6, 24, lookback=72)
    assert anchor == Anchor.seasonal(24, 6, seasons=4) and "seasonal mean of 4 seasons" in why  # 1 + 72 // 24
    assert choose_anchor(noisy, cutoffs, 6, 24, lookback=48)[0].seasons == 3  # as many as the window holds
    growing = ((t / 24) * np.sin(2 * np.pi * t / 24))[:, None]  # older seasons are smaller: the last one is best
    anchor, why = choose_anchor(growing, cutoffs, 6, 24, lookback=72)
    assert anchor == Anchor.seasonal(24, 6) and "one season back" in why
    assert choose_anchor(growing, cutoffs, 6, 24, anchor="seasonal-mean", lookback=72)[0].seasons == 4  # asked for
    assert choose_anchor(noisy, cutoffs, 6, 24, lookback=12)[0] == Anchor.seasonal(24, 6)  # no two seasons fit
    with pytest.raises(ConfigError, match="seasonal-mean .* needs --lookback 24 or more"):
        choose_anchor(noisy, cutoffs, 6, 24, anchor="seasonal-mean", lookback=12)


def test_seasonal_mean_targets_and_levels_round_trip():
    """The windows' relative targets (gathered from the scaled series) and `to_levels` (from the
    levels) use the same seasonal-mean anchors."""
    from forecaster.data.panel import Panel

    p = prepare(validate_frame(sensor_frame(800), ["temp"], []), 48, 6, anchor="seasonal-mean")
    assert p.anchor == Anchor.seasonal(24, 6, seasons=3)  # 1 + 48 // 24
    data = Panel(["s"], [p], np.array([0, len(p.index)])).datamodule(32, 0)
    ds = data.dataset("test")
    learned = ds[np.arange(len(ds))].y.numpy()  # (N, H, C) what the network learns
    want = (p.actuals("test") - p.anchors("test")) / p.target_scaler.std
    np.testing.assert_allclose(learned, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(p.to_levels(want, "test"), p.actuals("test"), rtol=1e-10)


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
    anchor, why = choose_anchor(levels, cutoffs, 1, 2)
    seasonal_mae, naive_mae = (float(v) for v in why.split("seasonal naive ")[1].rstrip(")").split(", naive "))
    assert seasonal_mae / naive_mae == pytest.approx(ratio, rel=1e-3)
    assert bool(anchor.offsets.any()) is seasonal, why
