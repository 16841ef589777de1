import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.errors import DataError
from forecaster.data.frame import ticks, validate_frame
from forecaster.data.sources import load_dataset


def test_guarantees_on_a_clean_sensor_log():
    vf = validate_frame(sensor_frame(100), ["temp"], ["humid"], kind="sensor")
    assert list(vf.data.columns) == ["temp", "humid"]
    assert vf.data.index.is_monotonic_increasing and vf.data.index.is_unique
    assert all(vf.data.dtypes == "float64") and np.isfinite(vf.data.to_numpy()).all()
    assert vf.freq == pd.Timedelta(hours=1) and vf.season == 24
    assert (vf.segment == 0).all() and not vf.filled.any()
    # No gap, nothing filled: both are views of one value, no memory per row, and read-only.
    assert vf.segment.strides == (0,) and vf.filled.strides == (0, 0) and vf.filled.shape == (100, 1)
    assert not vf.segment.flags.writeable and not vf.filled.flags.writeable


def test_a_clean_float32_log_is_neither_converted_nor_copied():
    from forecaster.data.prepare import prepare

    raw64 = sensor_frame(400)
    raw32 = raw64.astype("float32")
    vf = validate_frame(raw32, ["temp"], ["humid"], kind="sensor")
    assert all(vf.data.dtypes == "float32") and vf.segment.dtype == np.int32
    assert all(np.shares_memory(vf.data[c].to_numpy(), raw32[c].to_numpy()) for c in ["temp", "humid"])
    # The model inputs are the same as from the float64 log, to float32 precision.
    p32 = prepare(vf, 24, 6)
    p64 = prepare(validate_frame(raw32.astype("float64"), ["temp"], ["humid"], kind="sensor"), 24, 6)
    np.testing.assert_allclose(p32.inputs, p64.inputs, atol=1e-5)
    assert np.shares_memory(p32.scaled.columns[0], raw32["temp"].to_numpy())  # scaled when gathered
    assert np.shares_memory(p32.levels, raw32["temp"].to_numpy())


def test_a_slice_of_one_float_block_stays_one_block_of_the_same_memory():
    """A series cut from a long-format file whose float columns are one block (as the parquet
    reader makes them) keeps that block: its (T, K) values are one view, not one new block per
    column (a frame of eight blocks held 12.4 KB a series, against 6.9 KB)."""
    stamps = pd.date_range("2024-01-01", periods=300, freq="h")
    block = np.random.default_rng(0).normal(size=(3, 300)).astype(np.float32)  # (K, T)
    raw = pd.DataFrame(block.T, index=stamps, columns=["a", "b", "c"], copy=False)
    for targets, features in ((["a"], ["b", "c"]), (["c"], ["b", "a"]), (["a"], ["c"]), (["b"], [])):
        vf = validate_frame(raw.iloc[100:200], targets, features, kind="sensor")
        wanted = [*targets, *features]
        assert list(vf.data.columns) == wanted and vf.data.index.equals(stamps[100:200])
        assert np.shares_memory(vf.data.to_numpy(), block)  # one block, a view of the file's
        np.testing.assert_array_equal(vf.data.to_numpy(), raw[wanted].to_numpy()[100:200])
    # Columns not evenly spaced are no slice: one block per column, each still the file's memory.
    vf = validate_frame(raw.iloc[100:200], ["b"], ["a", "c"], kind="sensor")
    assert list(vf.data.columns) == ["b", "a", "c"]
    assert all(np.shares_memory(vf.data[c].to_numpy(), block) for c in "abc")
    np.testing.assert_array_equal(vf.data.to_numpy(), raw[["b", "a", "c"]].to_numpy()[100:200])


def test_market_closures_are_not_gaps():
    vf = validate_frame(load_dataset("aapl"), ["Close"], ["Volume"], kind="price")
    assert len(vf.data) == 3270 and vf.season == 5 and vf.freq is None
    assert (vf.segment == 0).all()


def test_short_gap_forward_filled_long_gap_splits_the_series():
    f = sensor_frame(200)
    f.iloc[50:53, 0] = np.nan  # 3 missing temps: filled
    f = f.drop(f.index[120:130])  # 10 missing hours: a new segment
    vf = validate_frame(f, ["temp"], ["humid"], kind="sensor", max_gap=6)
    assert len(vf.data) == 190
    assert vf.data["temp"].iloc[50:53].eq(f["temp"].iloc[49]).all()  # causal: last value held
    assert vf.filled[50:53, 0].all() and vf.filled.sum() == 3
    assert vf.segment[119] == 0 and vf.segment[120] == 1
    assert any("dropped" in n for n in vf.notes)


def test_jfk_weather_policy_on_real_gaps():
    vf = validate_frame(load_dataset("jfk-weather"), ["temp"], ["pressure"], kind="sensor")
    steps = np.diff(vf.data.index.asi8)
    one_hour = pd.Timedelta(hours=1) // ticks(vf.data.index, 1)  # in the index's own unit
    # Inside a segment rows are exactly one hour apart; jumps only between segments.
    same = vf.segment[1:] == vf.segment[:-1]
    assert (steps[same] == one_hour).all() and (steps[~same] > one_hour).all()
    assert vf.segment.max() >= 1


@pytest.mark.parametrize("mutate, match", [
    (lambda f: pd.concat([f, f.iloc[[3]]]).sort_index(), "duplicate timestamp"),
    (lambda f: f.iloc[::-1], "not sorted"),
    (lambda f: f.assign(temp="x"), "not numeric"),
    (lambda f: f.assign(temp=1.0), "constant"),
    (lambda f: f.assign(temp=np.r_[np.inf, f["temp"].to_numpy()[1:]]), "infinite"),
    (lambda f: f.assign(humid=np.nan), "all missing"),
    (lambda f: f.drop(columns="humid"), "no column 'humid'"),
    (lambda f: f.reset_index(drop=True), "not indexed by time"),
])
def test_bad_frames_are_refused_with_the_fix(mutate, match):
    with pytest.raises(DataError, match=match):
        validate_frame(mutate(sensor_frame(50)), ["temp"], ["humid"], kind="sensor")


def test_price_rows_with_nan_are_dropped():
    a = load_dataset("ibm").copy()
    a.iloc[10, 3] = np.nan
    vf = validate_frame(a, ["Close"], [], kind="price")
    assert len(vf.data) == len(a) - 1 and "dropped 1 rows" in vf.notes[0]
