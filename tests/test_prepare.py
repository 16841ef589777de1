import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import sensor_frame
from forecaster.errors import ConfigError, DataError
from forecaster.data.frame import validate_frame
from forecaster.data.prepare import prepare
from forecaster.data.rows import stretches, window_starts, without_first
from forecaster.data.sources import load_dataset


def _sensor(n=600, **kw):
    return prepare(validate_frame(sensor_frame(n), ["temp"], ["humid"], kind="sensor"), **kw)


def test_default_transforms_by_kind():
    stock = prepare(validate_frame(load_dataset("msft"), ["Close"], [], kind="price"), 20, 5)
    assert stock.transform == "log_return" and not stock.relative
    assert _sensor(lookback=24, horizon=6).transform == "window" and _sensor(lookback=24, horizon=6).relative_inputs == 2


def test_splits_are_chronological_and_windows_stay_in_their_split():
    p = _sensor(lookback=24, horizon=6)
    (a0, a1), (b0, b1), (c0, c1) = p.bounds["train"], p.bounds["val"], p.bounds["test"]
    assert a0 == 0 and a1 == b0 and b1 == c0 and c1 == len(p.index)
    assert (a1, b1 - b0, c1 - c0) == (420, 90, 90)
    L, H = p.lookback, p.horizon
    assert p.season_inputs == ["temp_change_24"]  # seasonal anchor: inputs reach one season further back
    for split in ("train", "val", "test"):
        first, end = p.bounds[split]
        s = p.starts[split].rows()
        assert (s + L >= first).all() and (s + L + H <= end).all()
        assert len(s) == end - max(first, L + 24) - H + 1  # every position, stride 1
    assert (p.starts["train"].rows() >= 0).all()  # training inputs never leave the training rows


def test_scalers_see_only_training_rows():
    f = sensor_frame(600)
    base = prepare(validate_frame(f, ["temp"], ["humid"]), 24, 6, anchor="seasonal")
    g = f.copy()
    g.iloc[base.bounds["train"][1]:, :] *= 100  # change everything after the training rows
    moved = prepare(validate_frame(g, ["temp"], ["humid"]), 24, 6, anchor="seasonal")
    assert len(base.input_scaler.mean) == 3  # temp, humid and temp's change over the season
    np.testing.assert_array_equal(base.input_scaler.mean, moved.input_scaler.mean)
    np.testing.assert_array_equal(base.input_scaler.std, moved.input_scaler.std)


@pytest.mark.parametrize("transform", ["log_return", "delta", "level"])
def test_perfect_model_space_prediction_maps_back_to_the_actual_levels(transform):
    vf = validate_frame(load_dataset("aapl"), ["Close"], ["Volume"], kind="price")
    p = prepare(vf, 30, 5, transform=transform)
    rows = p.target_rows("test")  # (N, H)
    truth = p.targets[rows]  # (N, H, C) model-space targets
    if p.relative:
        truth = truth - p.targets[p.cutoffs("test")][:, None, :]
    np.testing.assert_allclose(p.to_levels(truth.astype("float64"), "test"), p.actuals("test"), rtol=1e-5)


def test_windows_never_span_a_gap():
    f = sensor_frame(600)
    f = f.drop(f.index[300:320])
    p = prepare(validate_frame(f, ["temp"], ["humid"]), 24, 6)
    for s in np.concatenate(list(p.starts.values())):
        assert p.segment[s] == p.segment[s + 29]


def test_too_short_series_says_how_long_it_must_be():
    with pytest.raises(DataError, match="too short for lookback 64 \\+ horizon 5.*at least"):
        _sensor(n=60, lookback=64, horizon=5)


@pytest.mark.parametrize("kw, match", [
    (dict(lookback=0, horizon=5), "lookback must be"),
    (dict(lookback=10, horizon=-1), "horizon must be"),
    (dict(lookback=10, horizon=5, val_size=0.5, test_size=0.45), "keep their sum below"),
    (dict(lookback=10, horizon=5, transform="magic"), "unknown transform"),
])
def test_bad_sizes(kw, match):
    with pytest.raises(ConfigError, match=match):
        _sensor(**kw)


def test_log_return_needs_positive_targets():
    f = sensor_frame(300)
    f["temp"] -= 100
    with pytest.raises(ConfigError, match="--transform delta"):
        prepare(validate_frame(f, ["temp"], []), 24, 6, transform="log_return")


def test_calendar_features_for_hourly_data():
    p = _sensor(lookback=24, horizon=6)
    assert p.input_names == ["temp", "humid", "temp_change_24", "hour_sin", "hour_cos", "weekday_sin",
                             "weekday_cos", "yearday_sin", "yearday_cos"]
    assert np.abs(p.inputs[:, 3:]).max() <= 1


@settings(max_examples=60, deadline=None)
@given(n=st.integers(30, 400), lookback=st.integers(1, 40), horizon=st.integers(1, 12),
       stride=st.integers(1, 4), cut=st.integers(0, 399), first=st.integers(0, 200))
def test_window_starts_property(n, lookback, horizon, stride, cut, first):
    segment = (np.arange(n) >= cut).astype(np.int64)  # a gap at row `cut`
    end = n
    s = window_starts(stretches(segment), lookback, horizon, min(first, n), end, stride).rows()
    span = lookback + horizon
    assert (s >= 0).all() and (s + lookback >= min(first, n)).all() and (s + span <= end).all()
    assert (segment[s] == segment[s + span - 1]).all() if len(s) else True
    # count matches the formula: positions in each segment, on the stride grid
    lo = max(min(first, n) - lookback, 0)
    grid = np.arange(lo, end - span + 1, stride)
    expected = [g for g in grid if segment[g] == segment[g + span - 1]]
    assert list(s) == expected


def test_column_transforms_are_decided_on_the_training_rows_and_reused():
    from forecaster.data.prepare import model_inputs

    prices = load_dataset("ibm").iloc[:1000].copy()
    prices.iloc[100, prices.columns.get_loc("Low")] = 0.0  # a zero in the training rows
    frame = validate_frame(prices, ["Close"], ["Volume", "Low"], kind="price")
    p = prepare(frame, 20, 5)
    assert p.column_transforms == ["log_return", "log_return", "diff"]
    # A fitted model passes its transforms and scaler: the same inputs, nothing re-derived.
    again, _, _, _, kept = model_inputs(frame, p.transform, True, p.input_scaler,
                                        transforms=p.column_transforms)
    np.testing.assert_array_equal(again.to_array(), p.inputs)
    assert kept == p.column_transforms
    # A zero volume after the training rows does not switch Volume to differences.
    prices.iloc[900, prices.columns.get_loc("Volume")] = 0.0
    late = validate_frame(prices, ["Close"], ["Volume", "Low"], kind="price")
    with pytest.raises(DataError, match="'Volume' is 0 at .*strictly positive on the training rows"):
        prepare(late, 20, 5)


def test_run_length_starts_equal_the_plain_index_array_across_gaps_and_series():
    """The starts as runs hold exactly the windows the plain scan finds: one series with gaps,
    blocked first rows under log returns, a stride, and several series end to end."""
    segment = np.repeat(np.arange(5), [100, 3, 57, 40, 200]).astype(np.int32)  # gaps between stretches
    for skip_first in (0, 1):
        window_segment = segment.copy()
        if skip_first:  # the old way: blocked rows as -1
            window_segment[np.r_[True, segment[1:] != segment[:-1]]] = -1
        for first, end, stride in ((0, 280, 1), (280, 340, 1), (120, 400, 3), (0, 400, 4)):
            span = 12 + 4
            s = np.arange(max(first - 12, 0), end - span + 1, stride)
            plain = s[(window_segment[s] == window_segment[s + span - 1]) & (window_segment[s] >= 0)]
            runs = window_starts(without_first(stretches(segment), skip_first), 12, 4, first, end, stride)
            np.testing.assert_array_equal(runs.rows(), plain)
            if len(plain):
                np.testing.assert_array_equal(runs[np.arange(len(plain))[::-1]], plain[::-1])
    # a panel: each series' runs shifted to its offset, window numbers across series
    from forecaster.data.rows import WindowStarts

    parts = [window_starts(stretches(segment), 12, 4, 0, 400), window_starts(stretches(segment[:150]), 12, 4, 0, 150)]
    both = WindowStarts.concat([parts[0], parts[1].shifted(400)])
    np.testing.assert_array_equal(both.rows(), np.r_[parts[0].rows(), parts[1].rows() + 400])
