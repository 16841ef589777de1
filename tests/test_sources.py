
import numpy as np
import pandas as pd
import pytest

import yahoo_fake
from forecaster.errors import DataError, SourceError
from forecaster.data.sources import fetch_prices, list_datasets, load_dataset, load_file
from forecaster.data.sources.yahoo import OfflineWarning, cache_dir


def test_embedded_datasets_listed_and_loadable():
    table = list_datasets()
    assert list(table.index) == ["aapl", "goog", "ibm", "msft", "jfk-weather", "etth1"]
    assert table.loc["aapl", "rows"] == 3270 and table.loc["goog", "rows"] == 2148
    jfk = load_dataset("jfk-weather")
    assert str(jfk.index.tz) == "UTC" and "temp" in jfk.columns and len(jfk) == 8706


def test_embedded_stock_is_adjusted_ohlcv():
    a = load_dataset("aapl")
    assert list(a.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert all(a.dtypes == "float64") and a.index.name == "Date" and a.index.tz is None
    # AAPL split 2:1 on 2000-06-21 and 2005-02-28: unadjusted closes halve overnight.
    splits = ["2000-06-21", "2005-02-28"]
    raw = np.log(yahoo_fake.raw_stock("AAPL").set_index("Date")["Close"]).diff()
    adjusted = np.log(a["Close"]).diff()
    assert (raw[splits] < -0.55).all()
    assert (adjusted[splits].abs() < 0.1).all()
    assert (a["High"] >= a["Low"]).all()


def test_yfinance_adapter_parses_yahoo_payload_like_embedded(monkeypatch):
    calls = yahoo_fake.install(monkeypatch, {"AAPL": yahoo_fake.raw_stock("AAPL")})
    got = fetch_prices("aapl")
    want = load_dataset("aapl")
    assert calls and all("/v8/finance/chart/AAPL" in c for c in calls)
    assert list(got.columns) == list(want.columns)  # MultiIndex flattened
    assert got.index.equals(want.index) and got.dtypes.equals(want.dtypes)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9)


def test_fresh_cache_is_reused_without_network(monkeypatch):
    calls = yahoo_fake.install(monkeypatch, {"MSFT": yahoo_fake.raw_stock("MSFT")})
    first = fetch_prices("MSFT")
    n = len(calls)
    second = fetch_prices("MSFT")
    assert len(calls) == n  # no new request
    pd.testing.assert_frame_equal(first, second)
    assert (cache_dir() / "yahoo" / "MSFT_1d.parquet").is_file()


def test_unknown_ticker_is_an_error_not_an_empty_frame(monkeypatch):
    yahoo_fake.install(monkeypatch, {})
    with pytest.raises(SourceError, match="no prices for 'NOSUCH'.*--dataset"):
        fetch_prices("NOSUCH")


def test_all_nan_close_is_an_error(monkeypatch):
    raw = yahoo_fake.raw_stock("IBM").head(50).copy()
    raw[["Open", "High", "Low", "Close", "Adj Close"]] = np.nan
    yahoo_fake.install(monkeypatch, {"IBM": raw})
    with pytest.raises(SourceError, match="no prices for 'IBM'"):
        fetch_prices("IBM")


def test_no_network_without_cache_says_what_to_do(monkeypatch):
    yahoo_fake.install(monkeypatch, {}, network=False)
    with pytest.raises(SourceError, match="cannot reach Yahoo Finance.*--dataset.*--csv"):
        fetch_prices("AAPL")


# pytest.warns re-emits the warnings it did not match from the test itself, where the
# pyproject filter for yfinance's own pandas deprecations (matched by module) no longer applies.
YFINANCE_INPLACE = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")


@YFINANCE_INPLACE
def test_no_network_with_stale_cache_uses_it_and_says_so(monkeypatch):
    yahoo_fake.install(monkeypatch, {"IBM": yahoo_fake.raw_stock("IBM")})
    fresh = fetch_prices("IBM")
    yahoo_fake.install(monkeypatch, {}, network=False)
    with pytest.warns(OfflineWarning, match="offline: using prices for IBM cached"):
        stale = fetch_prices("IBM", max_age_hours=0)
    pd.testing.assert_frame_equal(fresh, stale)


def test_offline_flag_never_requests(monkeypatch):
    calls = yahoo_fake.install(monkeypatch, {"IBM": yahoo_fake.raw_stock("IBM")})
    with pytest.raises(SourceError, match="--offline"):
        fetch_prices("IBM", offline=True)
    assert calls == []


@YFINANCE_INPLACE
def test_corrupt_cache_entry_is_fetched_again(monkeypatch):
    yahoo_fake.install(monkeypatch, {"IBM": yahoo_fake.raw_stock("IBM")})
    path = cache_dir() / "yahoo" / "IBM_1d.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 truncated")
    with pytest.warns(UserWarning, match="unreadable"):
        frame = fetch_prices("IBM")
    assert len(frame) == 3270 and len(pd.read_parquet(path)) == 3270


@pytest.mark.parametrize("bad", ["../etc/passwd", "AAPL/../../x", "", "A" * 21, "a b"])
def test_ticker_cannot_escape_the_cache(bad):
    with pytest.raises(SourceError, match="invalid ticker"):
        fetch_prices(bad)


def test_csv_loader_offsets_to_utc_and_naive_stays_naive(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("ts,temp\n2024-03-31T00:00:00+01:00,1\n2024-03-31T03:00:00+02:00,2\n")
    f = load_file(p, time_col="ts", columns=["temp"])
    assert str(f.index.tz) == "UTC"
    assert list(f.index.hour) == [23, 1]  # DST change handled through the offsets
    p.write_text("ts,temp\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n")
    assert load_file(p, columns=["temp"]).index.tz is None
    local = load_file(p, columns=["temp"], tz="Europe/Berlin")
    assert str(local.index.tz) == "UTC" and local.index[0].hour == 23


def test_parquet_loader(tmp_path):
    frame = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=5, freq="h"), "v": range(5)})
    frame.to_parquet(tmp_path / "log.parquet")
    got = load_file(tmp_path / "log.parquet", time_col="ts", columns=["v"])
    assert list(got["v"]) == [0, 1, 2, 3, 4] and isinstance(got.index, pd.DatetimeIndex)


@pytest.mark.parametrize("text, match", [
    ("", "is empty"),
    ("ts,temp\n", "no data rows"),
    ("ts,temp\n2024-01-01,1\nnot a date,2\n", "unparseable timestamp 'not a date'"),
    ("ts,temp\n2024-01-01T00:00+00:00,1\n2024-01-01 01:00,2\n", "mixes timestamps"),
    ("ts,pressure\n2024-01-01,1\n2024-01-02,2\n", "no column 'temp'.*ts, pressure"),
])
def test_csv_loader_bad_files(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=match):
        load_file(p, time_col="ts", columns=["temp"])


def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_file(tmp_path / "nope.csv")


def test_the_network_guard_cannot_be_swallowed(_offline):
    """yfinance catches Exceptions around its requests; the guard is a BaseException, so a stray
    request fails where it happens instead of reading as an offline error."""
    from conftest import NetworkAttempt

    with pytest.raises(NetworkAttempt):
        fetch_prices("IBM")
    assert _offline and "IBM" in _offline[0]
    _offline.clear()  # this test made the request on purpose


def test_parquet_columns_decoded_row_group_by_row_group_are_what_pandas_reads(tmp_path):
    """Float and time-zone-free timestamp columns are decoded one row group at a time into one
    numpy array each; every other column goes through pandas. The frame is pandas' own."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from forecaster.data.sources.files import _read_parquet

    n = 1_000
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal(n).astype(np.float32)
    f32[::7] = np.nan
    table = pa.table({
        "ts": pa.array(pd.date_range("2024-01-01", periods=n, freq="min").as_unit("us").to_numpy()),
        "utc": pa.array(pd.date_range("2024-03-30", periods=n, freq="h", tz="Europe/Berlin")),
        "f32": pa.array(f32, from_pandas=True),  # NaN stored as null
        "f64": pa.array(rng.standard_normal(n)),
        "i64": pa.array(np.arange(n)),
        "site": pa.DictionaryArray.from_arrays(pa.array(np.arange(n) % 3, pa.int32()), pa.array(["a", "b", "c"])),
        "text": pa.array([f"t{i}" for i in range(n)]),
    })
    path = tmp_path / "log.parquet"
    pq.write_table(table, path, row_group_size=128)  # 8 row groups
    got, want = _read_parquet(path), pd.read_parquet(path)
    assert table.column("f32").null_count == len(range(0, n, 7))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["f32"].dtype == np.float32 and got["ts"].dtype == "datetime64[us]"
    assert isinstance(got["site"].dtype, pd.CategoricalDtype)


def test_a_parquet_file_pandas_wrote_reads_back_as_pandas_reads_it(tmp_path):
    """pandas' metadata (nullable integers, strings, categories, booleans) is honoured by the
    column-by-column read exactly as by `pd.read_parquet`."""
    from forecaster.data.sources.files import _read_parquet

    n = 300
    frame = pd.DataFrame({
        "ts": pd.date_range("2024-01-01", periods=n, freq="h"),
        "v": np.linspace(0, 1, n, dtype=np.float32),
        "count": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
        "flag": np.arange(n) % 2 == 0,
        "name": [f"s{i % 4}" for i in range(n)],
        "site": pd.Categorical([f"c{i % 3}" for i in range(n)], categories=["c2", "c0", "c1"]),
    })
    path = tmp_path / "pandas.parquet"
    frame.to_parquet(path, index=False, row_group_size=64)
    got, want = _read_parquet(path), pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["count"].dtype == "Int64" and list(got["site"].cat.categories) == ["c2", "c0", "c1"]
    # A frame sliced before it was written keeps its RangeIndex in the metadata: the columns are
    # still aligned by position, the index is pandas' own.
    frame.iloc[100:200].to_parquet(path, row_group_size=64)
    got, want = _read_parquet(path), pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert len(got) == 100 and got.index[0] == 100


def test_a_parquet_file_of_float_columns_only_keeps_their_order_and_dtypes(tmp_path):
    """Float columns are decoded into one block per dtype; the frame still has the file's column
    order and each column's own dtype, and nothing else (no rows added by joining the blocks)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from forecaster.data.sources.files import _read_parquet

    table = pa.table({"a": np.arange(5.0), "b": np.ones(5, np.float32), "c": np.zeros(5), "d": np.full(5, 2, np.float32)})
    pq.write_table(table, tmp_path / "floats.parquet", row_group_size=2)
    got = _read_parquet(tmp_path / "floats.parquet")
    pd.testing.assert_frame_equal(got, pd.read_parquet(tmp_path / "floats.parquet"), check_exact=True)
    assert list(got.columns) == ["a", "b", "c", "d"] and list(got.dtypes) == [np.float64, np.float32] * 2


def test_a_parquet_file_with_a_column_name_twice_is_refused_by_name(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array(pd.date_range("2024-01-01", periods=2, freq="h").as_unit("us")),
                                  pa.array([3.0, 4.0]), pa.array([5.0, 6.0])], names=["ts", "v", "v"])
    pq.write_table(table, tmp_path / "twice.parquet")
    with pytest.raises(DataError, match="more than one column named 'v'; rename them"):
        load_file(tmp_path / "twice.parquet", time_col="ts", columns=["v"])
