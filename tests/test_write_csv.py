"""`_io.write_csv`, the writer of every forecasts.csv: what pandas' `to_csv` holds, read back the
same, through Arrow's faster writer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster._io import write_csv


def forecasts(index: pd.DatetimeIndex, names: tuple[str, ...], windows: int = 40, horizon: int = 6) -> pd.DataFrame:
    """A forecasts.csv-shaped frame: (cutoff, timestamp) index, step, target, float columns."""
    C = len(names)
    cutoff = index[np.repeat(np.arange(windows), horizon * C)]  # (N*H*C,)
    stamp = index[np.repeat((np.arange(windows)[:, None] + np.arange(1, horizon + 1)).reshape(-1), C)]
    rng = np.random.default_rng(0)
    cols = {"step": np.tile(np.repeat(np.arange(1, horizon + 1), C), windows),
            "target": np.tile(np.array(names), windows * horizon)}
    for k, scale in (("actual", 1e-6), ("lstm", 1e7), ("naive", 1.0)):
        cols[k] = rng.standard_normal(len(cutoff)) * scale
    cols["actual"][::5] = np.nan
    cols["lstm"][3] = 3.0  # a whole number: "3" here, "3.0" from pandas
    cols["f32"] = rng.standard_normal(len(cutoff)).astype(np.float32)
    return pd.DataFrame(cols, index=pd.MultiIndex.from_arrays([cutoff.rename("cutoff"), stamp.rename("timestamp")]))


GRIDS = {"hourly": pd.date_range("2016-01-01", periods=80, freq="h"),
         "daily": pd.date_range("2016-01-01", periods=80, freq="D"),
         "utc": pd.date_range("2016-01-01", periods=80, freq="h", tz="UTC"),
         "new york": pd.date_range("2016-03-01", periods=80, freq="D", tz="America/New_York"),
         "month starts": pd.date_range("2016-01-01", periods=80, freq="MS"),
         "sub-second": pd.date_range("2016-01-01", periods=80, freq="1500ms")}


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("names", [("HUFL", "OT"), ("a,b", 'say "x"', "line\nbreak")], ids=["plain", "quoted"])
def test_reads_back_what_pandas_wrote(tmp_path, grid, names):
    frame = forecasts(GRIDS[grid], names)
    frame.to_csv(tmp_path / "pandas.csv")
    write_csv(tmp_path / "ours.csv", frame)
    ours_text, pandas_text = (tmp_path / "ours.csv").read_text(), (tmp_path / "pandas.csv").read_text()
    assert ours_text.splitlines()[0] == pandas_text.splitlines()[0]  # the header, unquoted
    read = lambda name: pd.read_csv(tmp_path / name, index_col=[0, 1], parse_dates=True)  # noqa: E731
    pd.testing.assert_frame_equal(read("ours.csv"), read("pandas.csv"), check_exact=True)
    if names == ("HUFL", "OT"):  # timestamps as pandas writes them, and nothing quoted
        first = ours_text.splitlines()[1].split(",")
        assert first[:2] == pandas_text.splitlines()[1].split(",")[:2] and '"' not in ours_text


def test_other_column_types_go_through_pandas(tmp_path):
    frame = forecasts(GRIDS["daily"], ("a",)).assign(flag=True)
    write_csv(tmp_path / "ours.csv", frame)
    frame.to_csv(tmp_path / "pandas.csv")
    assert (tmp_path / "ours.csv").read_text() == (tmp_path / "pandas.csv").read_text()  # "True", not "true"


def test_no_temporary_file_is_left(tmp_path):
    write_csv(tmp_path / "f.csv", forecasts(GRIDS["hourly"], ("a",)))
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]


@pytest.mark.parametrize("grid", ["hourly", "new york"])
@pytest.mark.parametrize("names", [("HUFL", "OT"), ("a,b", 'say "x"')], ids=["plain", "quoted"])
def test_the_file_is_the_same_whatever_the_chunk_size(tmp_path, grid, names):
    """Rows go through Arrow a chunk at a time: chunks of 7 rows (cutting windows, steps and
    targets anywhere) give the bytes of one chunk for everything."""
    frame = forecasts(GRIDS[grid], names)
    write_csv(tmp_path / "whole.csv", frame, chunk_rows=len(frame))
    write_csv(tmp_path / "chunks.csv", frame, chunk_rows=7)
    whole = (tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "chunks.csv").read_bytes() == whole
    assert whole.count(b"\n") == len(frame) + 1  # the header and every row


def test_an_empty_frame_is_its_header(tmp_path):
    write_csv(tmp_path / "f.csv", forecasts(GRIDS["daily"], ("a",)).iloc[:0])
    assert (tmp_path / "f.csv").read_text() == "cutoff,timestamp,step,target,actual,lstm,naive,f32\n"


def test_forecasts_read_back_with_their_time_zone_and_names(tmp_path):
    """`read_forecasts` gives back what `write_csv` wrote: series named like numbers stay text,
    time-zoned stamps (across a daylight-saving change) come back in their zone, float64 values
    exact, float32 ones as float64 that round back to the same float32."""
    from forecaster.runs.folder import read_forecasts

    index = pd.date_range("2016-03-12", periods=80, freq="h", tz="America/New_York")
    one = forecasts(index, ("temp", "humid"))
    frame = pd.concat({"1": one, "02": one}, names=["series"])
    write_csv(tmp_path / "f.csv", frame)
    back = read_forecasts(tmp_path / "f.csv", index.tz)
    pd.testing.assert_frame_equal(back.drop(columns="f32"), frame.drop(columns="f32"), check_exact=True)
    np.testing.assert_array_equal(back["f32"].to_numpy(np.float32), frame["f32"].to_numpy())
    assert str(back.index.get_level_values("timestamp").tz) == "America/New_York"
    assert list(back.index.get_level_values("series").unique()) == ["1", "02"]
