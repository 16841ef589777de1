"""Many series, one model: splits at shared times, per-series scaling, no window across
series, metrics per series and overall, and the three ways to give several series."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.cli import main
from forecaster.config import FitConfig, is_panel
from forecaster.errors import DataError
from forecaster.data.panel import prepare_panel
from forecaster.data.select import load_series
from forecaster.evaluation.tables import forecast_frame, panel_forecast_frame
from forecaster._io import write_csv
from forecaster.report.panel import SHOWN_SERIES
from forecaster.runs.fit import fit, stream_panel
from forecaster.runs.pipeline import SeriesEvaluation

TINY = dict(hidden_size=8, num_layers=1, lookback=16, horizon=3, max_epochs=1, patience=0)
STOCKS = ["aapl", "goog", "ibm", "msft"]


@pytest.fixture(scope="module")
def stocks(tmp_path_factory):
    out = tmp_path_factory.mktemp("panel") / "run"
    return fit(FitConfig(dataset=",".join(STOCKS), out=str(out), **TINY), progress=False)


def test_one_model_on_four_stocks_reports_each_and_overall(stocks):
    m = stocks.metrics
    assert list(m["series"]) == STOCKS
    for name in STOCKS:
        s = m["series"][name]
        assert s["mae_ratio_to_naive"] == pytest.approx(s["model"]["MAE"] / s["baselines"]["naive"]["MAE"])
        assert {"naive", "seasonal_naive", "drift"} <= set(s["baselines"]) and s["model"]["MASE"] > 0
    o = m["overall"]
    ratios = [m["series"][n]["mae_ratio_to_naive"] for n in STOCKS]
    assert o["series"] == 4 and o["beats_naive"] == sum(r < 1 for r in ratios)
    assert o["mae_ratio_to_naive"] == pytest.approx(np.exp(np.mean(np.log(ratios))))
    assert ("does NOT beat" in o["verdict"]) == (o["mae_ratio_to_naive"] > 1)
    assert ("ties with" in o["verdict"]) == (o["mae_ratio_to_naive"] == 1)
    saved = json.loads((stocks.run_dir / "metrics.json").read_text())
    assert saved["overall"] == o
    page = stocks.report.read_text()
    assert all(f">{n}<" in page for n in STOCKS) and o["verdict"] in page


def test_series_share_split_times_and_keep_their_own_scaling(stocks):
    panel = stocks.panel
    test_starts = {p.index[p.bounds["test"][0]] for p in panel.prepared}
    val_starts = {p.index[p.bounds["val"][0]] for p in panel.prepared}
    assert len(test_starts) == 1 and len(val_starts) == 1  # one calendar cut for every stock
    for p in panel.prepared:  # scalers fitted on each series' own training rows
        train = p.inputs[: p.bounds["train"][1], 0]
        assert abs(train[1:].mean()) < 1e-4 and abs(train[1:].std() - 1) < 1e-3


def test_no_window_crosses_from_one_series_into_the_next(stocks):
    panel, L, H = stocks.panel, stocks.config.lookback, stocks.config.horizon
    data = panel.datamodule(stocks.config.batch_size, stocks.config.seed)
    owner = np.searchsorted(panel.offsets, np.arange(panel.offsets[-1]), side="right") - 1
    for split, starts in data.starts.items():
        s = np.asarray(starts)
        assert len(s) == sum(len(p.starts[split]) for p in panel.prepared)
        assert (owner[s] == owner[s + L + H - 1]).all()


def test_forecasts_are_indexed_by_each_series_real_future_timestamps(stocks):
    f = stocks.forecasts
    assert f.index.names == ["series", "cutoff", "timestamp"]
    for name, p in zip(stocks.panel.names, stocks.panel.prepared):
        one = f.xs(name, level="series")
        stamps = one.index.get_level_values("timestamp")
        assert stamps.isin(p.index[p.bounds["test"][0]:]).all()  # that series' own test dates
        assert (stamps > one.index.get_level_values("cutoff")).all()
        np.testing.assert_allclose(one["actual"].to_numpy(), p.actuals("test").reshape(-1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_panel_forecasts_table_is_the_series_frames_joined(dtype):
    """Built column by column, the table is what joining each series' `forecast_frame` under a
    series level gives: the same rows in the same order, index and column types included."""
    cfg = FitConfig(dataset="aapl,ibm,msft", **TINY)
    panel = prepare_panel(load_series(cfg), cfg)
    series = [(name, p, {"lstm": (p.actuals("test") + i).astype(dtype), "naive": p.actuals("test").astype(dtype)})
              for i, (name, p) in enumerate(zip(panel.names, panel.prepared))]
    joined = pd.concat([forecast_frame(p, f).assign(series=name).set_index("series", append=True)
                        for name, p, f in series]).reorder_levels(["series", "cutoff", "timestamp"])
    got = panel_forecast_frame(series)
    pd.testing.assert_frame_equal(got, joined, check_exact=True)
    assert got["lstm"].dtype == dtype and len(got) == sum(p.actuals("test").size for p in panel.prepared)


def _logs(n_series=3, n=600):
    return {f"site{i}": sensor_frame(n, seed=i) for i in range(n_series)}


def test_a_folder_and_a_long_format_file_give_the_same_run(tmp_path):
    logs = _logs()
    folder = tmp_path / "logs"
    folder.mkdir()
    for name, df in logs.items():
        df.to_csv(folder / f"{name}.csv")
    long = pd.concat([df.assign(site=name) for name, df in logs.items()]).sort_index(kind="stable")
    long.to_csv(tmp_path / "long.csv")
    common = dict(target=["temp"], features=["humid"], **TINY)
    a = fit(FitConfig(csv=str(folder), out=str(tmp_path / "a"), **common), progress=False)
    b = fit(FitConfig(csv=str(tmp_path / "long.csv"), series_col="site", out=str(tmp_path / "b"), **common),
            progress=False)
    assert list(a.metrics["series"]) == list(b.metrics["series"]) == list(logs)
    assert a.metrics["series"] == b.metrics["series"]  # same windows, scaling, seed: same numbers


def test_a_series_too_short_for_the_split_is_named(tmp_path):
    logs = _logs()
    logs["tiny"] = sensor_frame(600, seed=9).iloc[-40:]  # only inside the test period
    folder = tmp_path / "logs"
    folder.mkdir()
    for name, df in logs.items():
        df.to_csv(folder / f"{name}.csv")
    cfg = FitConfig(csv=str(folder), target=["temp"], **TINY)
    with pytest.raises(DataError, match="series 'tiny' runs from .* needs training rows before .*drop this series"):
        prepare_panel(load_series(cfg), cfg)


def test_panel_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["fit", "--dataset", "ibm,msft", "--out", str(out), "--max-epochs", "1",
                 "--hidden-size", "8", "--num-layers", "1", "--lookback", "16", "--horizon", "3"])
    text = capsys.readouterr().out
    assert code == 0 and "2 series" in text and "mean MASE" in text
    assert (out / "report.html").is_file() and (out / "forecasts.csv").is_file()
    assert is_panel(FitConfig(ticker="AAPL,MSFT")) and not is_panel(FitConfig(ticker="AAPL"))


def test_several_tickers_through_yfinance(tmp_path, capsys, monkeypatch):
    import yahoo_fake

    symbols = ["AAPL", "MSFT", "IBM", "GOOG"]
    yahoo_fake.install(monkeypatch, {s: yahoo_fake.raw_stock(s) for s in symbols})
    out = tmp_path / "four"
    code = main(["fit", "--ticker", ",".join(symbols), "--out", str(out), "--max-epochs", "1",
                 "--hidden-size", "8", "--num-layers", "1", "--lookback", "16", "--horizon", "3"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["series"]) == symbols and m["data"]["source"] == "AAPL+MSFT+IBM+GOOG"


def test_commands_that_take_one_series_say_so(tmp_path, capsys):
    for argv in (["compare", "--dataset", "ibm,msft", "--models", "gru"],
                 ["backtest", "--dataset", "ibm,msft"],
                 ["compare", "--dataset", "ibm", "--devices", "2", "--strategy", "ddp"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and any(w in err for w in ("one series", "several series",
                                                                       "one process"))


def _evaluations(panel, fail_at: int | None = None):
    """Made-up SeriesEvaluations of `panel`'s series, as `evaluate_series` yields them: the model
    column float64, a bound and a baseline float32; series `fail_at` raises instead."""
    for i, (name, p) in enumerate(zip(panel.names, panel.prepared)):
        if i == fail_at:
            raise RuntimeError("series failed")
        actual = p.actuals("test")
        yield SeriesEvaluation(name, p, actual.astype(np.float64) * 1.01 + i, {"series": name},
                               {"lower_80": (actual - 1).astype(np.float32)}, None,
                               {"naive": actual.astype(np.float32)})


def test_streamed_panel_forecasts_are_the_whole_table_written_at_once(tmp_path):
    """forecasts.csv written series by series as they are evaluated is byte for byte the file
    of the whole table; what is kept is each series' metrics and the report's first series."""
    cfg = FitConfig(dataset=",".join(STOCKS), **TINY)
    panel = prepare_panel(load_series(cfg), cfg)
    kept = stream_panel(tmp_path / "forecasts.csv", "lstm", panel, _evaluations(panel))
    whole = panel_forecast_frame([(e.name, e.prepared, e.columns("lstm")) for e in _evaluations(panel)])
    write_csv(tmp_path / "whole.csv", whole)
    assert (tmp_path / "forecasts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert list(kept.metrics) == STOCKS and kept.metrics["ibm"] == {"series": "ibm"}
    shown = STOCKS[:SHOWN_SERIES]
    pd.testing.assert_frame_equal(kept.shown, whole.loc[shown], check_exact=True)


def test_a_series_failing_mid_stream_leaves_no_forecasts_file(tmp_path):
    cfg = FitConfig(dataset=",".join(STOCKS), **TINY)
    panel = prepare_panel(load_series(cfg), cfg)
    with pytest.raises(RuntimeError, match="series failed"):
        stream_panel(tmp_path / "forecasts.csv", "lstm", panel, _evaluations(panel, fail_at=2))
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_a_panel_fit_reads_its_forecasts_back_as_written(stocks):
    """A many-series fit holds no forecasts: `forecasts` reads forecasts.csv, with the index and
    types of the table (numbers as float64), the same values and the real timestamps."""
    f = stocks.forecasts
    assert stocks.held_forecasts is f  # read once
    assert f.index.names == ["series", "cutoff", "timestamp"]
    assert list(f.columns[:3]) == ["step", "target", "actual"] and f["step"].dtype == np.int64
    assert isinstance(f.index.get_level_values("cutoff"), pd.DatetimeIndex)
    for name, p in zip(stocks.panel.names, stocks.panel.prepared):
        np.testing.assert_array_equal(f.xs(name, level="series")["actual"].to_numpy(),
                                      p.actuals("test").reshape(-1).astype(np.float64))


def test_series_groups_cover_every_series_in_order_within_the_window_budget(stocks):
    panel = stocks.panel
    counts = panel.window_counts("test") + panel.window_counts("val")
    for budget in (1, int(counts[0]), int(counts[:2].sum()), 10**9):
        groups = panel.groups(("test", "val"), budget)
        assert [i for g in groups for i in g] == list(range(len(panel.names)))
        assert all(len(g) == 1 or counts[g.start:g.stop].sum() <= budget for g in groups)
    assert len(panel.groups(("test", "val"), 1)) == len(panel.names)  # one series a group
    whole = panel.windows("test", range(len(panel.names)))
    assert whole == range(int(panel.window_counts("test").sum()))


def test_evaluation_in_groups_of_series_is_the_evaluation_of_all_at_once(stocks, monkeypatch):
    """Forecasting a group of series' windows at a time changes no number of any series."""
    import forecaster.runs.pipeline as pipeline

    cfg, panel = stocks.config, stocks.panel
    net = pipeline.TrainedNetwork(cfg.model, stocks.module, stocks.training)
    data = panel.datamodule(cfg.batch_size, cfg.seed)
    monkeypatch.setattr(pipeline, "PREDICTED_WINDOWS", 1)  # each series its own group
    one_by_one = pipeline.evaluate_network(net, panel, data)
    monkeypatch.setattr(pipeline, "PREDICTED_WINDOWS", 10**9)  # all series in one group
    at_once = pipeline.evaluate_network(net, panel, data)
    for a, b in zip(one_by_one, at_once):
        np.testing.assert_array_equal(a.pred, b.pred)
        assert json.dumps(a.metrics) == json.dumps(b.metrics)
        assert json.loads(json.dumps(a.metrics)) == stocks.metrics["series"][a.name]  # the run's


def test_series_metrics_are_kept_as_text_and_read_back_equal(stocks):
    """A many-series fit keeps each series' block as its JSON text (`PackedBlocks`): read back,
    it is the block metrics.json holds, NaN included."""
    from forecaster.evaluation.tables import PackedBlocks

    blocks = stocks.metrics["series"]
    assert isinstance(blocks, PackedBlocks) and list(blocks) == STOCKS and len(blocks) == 4
    saved = json.loads((stocks.run_dir / "metrics.json").read_text())["series"]
    assert json.loads(json.dumps(dict(blocks.items()), allow_nan=False)) == saved
    packed = PackedBlocks()
    packed.add("x", {"a": float("nan"), "b": [1.5, 1e-300], "c": {"d": "text"}, "t": (1, 2)})
    back = packed["x"]
    assert np.isnan(back["a"]) and back["b"] == [1.5, 1e-300] and back["c"] == {"d": "text"}
    assert back["t"] == [1, 2] and packed["x"] is not back  # decoded afresh on every read
