"""CSV dialects (separator, decimal mark, compression, BOM, date order) and daylight-saving
policies of `load_file`."""

from __future__ import annotations

import gzip
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster.data.sources import load_file
from forecaster.data.sources.files import parse_times
from forecaster.errors import DataError

BERLIN = "Europe/Berlin"


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _refused(match: str, *args, **kwargs) -> str:
    with pytest.raises(DataError, match=match) as info:
        load_file(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and "; " in msg, msg
    return msg


def _utc(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s, tz="UTC") for s in stamps]


# ---------------------------------------------------------------- separators and decimal marks

EUROPEAN = "ts;temp;humid\n2024-01-01 00:00;1,5;80,2\n2024-01-01 01:00;-2,25;81\n2024-01-01 02:00;0,125;79,5\n"


def _check_european(f: pd.DataFrame) -> None:
    assert list(f.columns) == ["temp", "humid"]
    np.testing.assert_allclose(f["temp"], [1.5, -2.25, 0.125])
    np.testing.assert_allclose(f["humid"], [80.2, 81.0, 79.5])
    assert list(f.index) == list(pd.date_range("2024-01-01", periods=3, freq="h"))


def test_semicolon_and_decimal_comma_are_detected(tmp_path):
    _check_european(load_file(_write(tmp_path / "eu.csv", EUROPEAN)))


def test_semicolon_and_decimal_comma_given(tmp_path):
    f = load_file(_write(tmp_path / "eu.csv", EUROPEAN), time_col="ts", columns=["temp", "humid"],
                  sep=";", decimal=",")
    _check_european(f)


def test_tab_separated(tmp_path):
    p = _write(tmp_path / "log.tsv", "ts\ttemp\thumid\n2024-01-01 00:00\t1.5\t80\n2024-01-01 01:00\t2.5\t81\n")
    f = load_file(p, columns=["temp", "humid"])
    np.testing.assert_allclose(f["temp"], [1.5, 2.5])
    assert f.index[1] == pd.Timestamp("2024-01-01 01:00")


def test_gzip_semicolon_file(tmp_path):
    p = tmp_path / "eu.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        fh.write(EUROPEAN)
    _check_european(load_file(p))


def test_utf8_bom_semicolon_file(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(EUROPEAN.encode("utf-8-sig"))
    _check_european(load_file(p, time_col="ts"))


def test_thousands_dots_with_decimal_comma(tmp_path):
    p = _write(tmp_path / "k.csv", "ts;load\n2024-01-01;1.234,5\n2024-01-02;987,25\n")
    np.testing.assert_allclose(load_file(p)["load"], [1234.5, 987.25])


def test_dotted_dates_are_day_first(tmp_path):
    p = _write(tmp_path / "d.csv", "Datum;Wert\n01.02.2024 00:00;1,5\n13.02.2024 00:00;2,5\n")
    assert list(load_file(p).index) == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-13")]


def test_one_column_names_the_separator_and_sep_flag(tmp_path):
    p = _write(tmp_path / "sp.csv", "ts temp\n2024-01-01 1\n")
    msg = _refused("fewer than 2 columns", p)
    assert "','" in msg and "--sep" in msg
    msg = _refused("fewer than 2 columns", p, sep=";")
    assert "';'" in msg and "given" in msg


# ---------------------------------------------------------------- daylight saving (Europe/Berlin)

AUTUMN = "ts;v\n2024-10-27 00:00;0\n2024-10-27 01:00;1\n2024-10-27 02:00;2\n2024-10-27 02:00;3\n2024-10-27 03:00;4\n"
AUTUMN_ONCE = "ts,v\n2024-10-27 01:00,1\n2024-10-27 02:00,2\n2024-10-27 03:00,3\n"
SPRING = "ts,v\n2024-03-31 01:00,1\n2024-03-31 02:30,2\n2024-03-31 03:00,3\n2024-03-31 04:00,4\n"


def test_autumn_repeated_hour_is_inferred_from_the_row_order(tmp_path):
    f = load_file(_write(tmp_path / "a.csv", AUTUMN), tz=BERLIN)
    assert str(f.index.tz) == "UTC"
    assert list(f.index) == list(pd.date_range("2024-10-26 22:00", periods=5, freq="h", tz="UTC"))
    assert list(f["v"]) == [0, 1, 2, 3, 4]


def test_autumn_hour_once_earliest_latest_drop(tmp_path):
    p = _write(tmp_path / "a.csv", AUTUMN_ONCE)
    assert list(load_file(p, tz=BERLIN, ambiguous="earliest").index) == _utc(
        "2024-10-26 23:00", "2024-10-27 00:00", "2024-10-27 02:00")
    assert list(load_file(p, tz=BERLIN, ambiguous="latest").index) == _utc(
        "2024-10-26 23:00", "2024-10-27 01:00", "2024-10-27 02:00")
    dropped = load_file(p, tz=BERLIN, ambiguous="drop")
    assert list(dropped.index) == _utc("2024-10-26 23:00", "2024-10-27 02:00")
    assert list(dropped["v"]) == [1, 3]


def test_autumn_hour_once_cannot_be_inferred(tmp_path):
    msg = _refused("2024-10-27 02:00:00.*ambiguous in Europe/Berlin.*--ambiguous earliest or latest",
                   _write(tmp_path / "a.csv", AUTUMN_ONCE), tz=BERLIN)
    assert "offset" in msg


def test_spring_gap_raises_by_default(tmp_path):
    _refused("2024-03-31 02:30:00.*does not exist in Europe/Berlin.*--nonexistent shift_forward",
             _write(tmp_path / "s.csv", SPRING), tz=BERLIN)


def test_spring_gap_shift_and_drop(tmp_path):
    p = _write(tmp_path / "s.csv", SPRING)
    fwd = load_file(p, tz=BERLIN, nonexistent="shift_forward")
    assert list(fwd.index) == _utc("2024-03-31 00:00", "2024-03-31 01:00", "2024-03-31 01:00",
                                   "2024-03-31 02:00")
    back = load_file(p, tz=BERLIN, nonexistent="shift_backward")
    assert back.index[1] == pd.Timestamp("2024-03-31 00:59:59.999999", tz="UTC") < back.index[2]
    dropped = load_file(p, tz=BERLIN, nonexistent="drop")
    assert list(dropped.index) == _utc("2024-03-31 00:00", "2024-03-31 01:00", "2024-03-31 02:00")
    assert list(dropped["v"]) == [1, 3, 4]


def test_parse_times_alone_drops_times(tmp_path):
    values = pd.Series(["2024-03-31 01:00", "2024-03-31 02:30", "2024-03-31 03:00"], name="ts")
    got = parse_times(values, tz=BERLIN, nonexistent="drop")
    assert list(got) == _utc("2024-03-31 00:00", "2024-03-31 01:00") and got.name == "ts"


@pytest.mark.parametrize("tz", ["Europe/Berln", "Mars/Olympus", "UTC+1"])
def test_unknown_time_zone(tmp_path, tz):
    _refused("unknown time zone.*IANA.*Europe/Berlin", _write(tmp_path / "s.csv", AUTUMN_ONCE), tz=tz)


def test_short_offsets_changing_across_dst(tmp_path):
    p = _write(tmp_path / "o.csv", "ts,v\n2024-03-31T01:00+01,1\n2024-03-31T03:00+02,2\n")
    assert list(load_file(p).index) == _utc("2024-03-31 00:00", "2024-03-31 01:00")
    assert list(load_file(p, tz=BERLIN).index) == _utc("2024-03-31 00:00", "2024-03-31 01:00")


# ---------------------------------------------------------------- properties

FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%dT%H:%M:%SZ",
           "%Y-%m-%d", "%d.%m.%Y %H:%M:%S"]
SEPS = [",", ";", "\t", "|"]
NAMES = ["temp", "humid", "load", "Wert", "p_1"]
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def _number(v: float, decimal: str) -> str:
    return f"{v:.12g}".replace(".", decimal)


def _save(directory: str, text: str, gz: bool, bom: bool) -> Path:
    path = Path(directory) / ("log.csv.gz" if gz else "log.csv")
    data = text.encode("utf-8-sig" if bom else "utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _one_line_refusal(err: DataError) -> None:
    assert "\n" not in str(err) and str(err).strip(), repr(str(err))


@st.composite
def tables(draw):
    n = draw(st.integers(2, 30))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    fmt = draw(st.sampled_from(FORMATS))
    sep = draw(st.sampled_from(SEPS))
    decimal = draw(st.sampled_from([d for d in (".", ",") if d != sep]))
    start = draw(st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1))).replace(microsecond=0)
    if fmt == "%Y-%m-%d":
        start = start.replace(hour=0, minute=0, second=0)
        steps = draw(st.lists(st.integers(1, 3), min_size=n - 1, max_size=n - 1))
        times = [start + timedelta(days=sum(steps[:i])) for i in range(n)]
    else:
        steps = draw(st.lists(st.integers(1, 3 * 86400), min_size=n - 1, max_size=n - 1))
        times = [start + timedelta(seconds=sum(steps[:i])) for i in range(n)]
    values = {c: draw(st.lists(finite, min_size=n, max_size=n)) for c in names}
    return fmt, sep, decimal, times, values, draw(st.booleans()), draw(st.booleans())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(tables())
def test_dialects_and_timestamp_formats_round_trip(table):
    fmt, sep, decimal, times, values, gz, bom = table
    lines = [sep.join(["ts", *values])]
    lines += [sep.join([t.strftime(fmt), *(_number(values[c][i], decimal) for c in values)])
              for i, t in enumerate(times)]
    with tempfile.TemporaryDirectory() as d:
        path = _save(d, "\n".join(lines) + "\n", gz, bom)
        try:
            got = load_file(path, time_col="ts", columns=list(values))
        except DataError as err:  # tolerated for the timestamps only: the dialect is always read
            _one_line_refusal(err)
            assert str(err).startswith(f"{path}:ts "), str(err)
            return
    aware = fmt.endswith(("+00:00", "Z"))
    expected = [pd.Timestamp(t, tz="UTC") if aware else pd.Timestamp(t) for t in times]
    assert list(got.index) == expected
    for c, vals in values.items():
        np.testing.assert_allclose(got[c].to_numpy(dtype=float), vals, rtol=1e-9, atol=0)


TRANSITIONS = [datetime(2024, 3, 31, 1), datetime(2024, 10, 27, 1), datetime(2023, 10, 29, 1)]  # UTC


@st.composite
def local_logs(draw):
    """Strictly increasing UTC times around a Berlin DST change, written as naive local times."""
    n = draw(st.integers(2, 30))
    start = draw(st.sampled_from(TRANSITIONS)) - timedelta(minutes=draw(st.integers(0, 6 * 60)))
    steps = draw(st.lists(st.sampled_from([5, 15, 30, 45, 60, 90, 120]), min_size=n - 1, max_size=n - 1))
    utc = [start + timedelta(minutes=sum(steps[:i])) for i in range(n)]
    sep = draw(st.sampled_from(SEPS))
    policy = draw(st.sampled_from([("infer", "raise"), ("drop", "drop")]))
    return utc, sep, policy


@settings(max_examples=60, deadline=None, derandomize=True)
@given(local_logs())
def test_local_times_over_dst_are_exact_or_refused(log):
    utc, sep, (ambiguous, nonexistent) = log
    stamps = [pd.Timestamp(t, tz="UTC") for t in utc]
    local = [s.tz_convert(BERLIN).tz_localize(None) for s in stamps]
    text = sep.join(["ts", "v"]) + "\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S}{sep}{i}\n" for i, t in enumerate(local))
    with tempfile.TemporaryDirectory() as d:
        path = _save(d, text, gz=False, bom=False)
        try:
            got = load_file(path, tz=BERLIN, ambiguous=ambiguous, nonexistent=nonexistent)
        except DataError as err:
            assert ambiguous == "infer", err  # "drop" always succeeds
            _one_line_refusal(err)
            return
    kept = [int(v) for v in got["v"]]
    if ambiguous == "infer":
        assert kept == list(range(len(utc)))
    else:  # exactly the rows whose local time is ambiguous are dropped
        assert kept == [i for i, t in enumerate(local)
                        if t.tz_localize(BERLIN, ambiguous=True) == t.tz_localize(BERLIN, ambiguous=False)]
    assert str(got.index.tz) == "UTC"
    assert list(got.index) == [stamps[i] for i in kept]
