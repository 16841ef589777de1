"""One contract over every run kind: fit of one series, fit of several, compare and backtest.
Each writes its files, returns a RunResult whose fields and figures match its kind, declares
its kind and schema in metrics.json, and a config.yaml that reproduces it; fits round-trip
through `predict`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import sensor_frame
from forecaster import BacktestResult, CompareResult, FitConfig, FitResult, ModelCard, RunResult
from forecaster.cli import main
from forecaster.config import make_config
from forecaster.runs.backtest import backtest
from forecaster.runs.compare import compare
from forecaster.runs.fit import fit
from forecaster.runs.index import list_runs
from forecaster.runs.predict import forecast
from forecaster.runs.results import METRICS_SCHEMA

TINY = dict(hidden_size=8, num_layers=1, lookback=16, horizon=3, max_epochs=1, patience=0)
COMMON_FILES = {"config.yaml", "metrics.json", "forecasts.csv", "report.html"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    return {
        "fit": fit(FitConfig(dataset="ibm", out=str(root / "fit"), **TINY), progress=False),
        "panel": fit(FitConfig(dataset="aapl,ibm,msft", out=str(root / "panel"), **TINY), progress=False),
        "compare": compare(FitConfig(dataset="ibm", models=["gru", "seq2seq-attn"], out=str(root / "compare"),
                                     **TINY), progress=False),
        "backtest": backtest(FitConfig(dataset="ibm", folds=2, out=str(root / "backtest"), **TINY),
                             progress=False),
    }


FIGURES = {
    "fit": {"series", "forecast:Close", "fans:Close", "per_step", "calibration", "loss"},
    "panel": {"ratios", "forecast:aapl:Close", "forecast:ibm:Close", "forecast:msft:Close", "loss"},
    "compare": {"series", "overlay:Close", "curves", "gradient_flow", "grad_norms", "attention:seq2seq-attn"},
    "backtest": {"folds", "fold_errors"},
}
TYPES = {"fit": FitResult, "panel": FitResult, "compare": CompareResult, "backtest": BacktestResult}
EXTRA_FILES = {"fit": {"model.json", "checkpoints"}, "panel": {"model.json", "checkpoints"},
               "compare": {"gru", "seq2seq-attn"}, "backtest": {"fold-1", "fold-2"}}


@pytest.mark.parametrize("kind", list(FIGURES))
def test_every_kind_keeps_the_run_result_contract(runs, kind):
    r = runs[kind]
    assert isinstance(r, RunResult) and type(r) is TYPES[kind] and r.kind == kind
    assert {p.name for p in r.run_dir.iterdir()} == COMMON_FILES | EXTRA_FILES[kind] | {".forecaster.lock"}
    saved = json.loads((r.run_dir / "metrics.json").read_text())
    assert saved["kind"] == kind and saved["schema"] == METRICS_SCHEMA and saved == r.metrics
    assert r.verdict == saved["verdict"] and r.verdict in r.report.read_text()
    assert ("does NOT beat" in r.verdict) == (saved["mae_ratio_to_naive"] > 1)
    assert ("ties with" in r.verdict) == (saved["mae_ratio_to_naive"] == 1)  # e.g. shrunk to naive
    assert set(r.figures()) == FIGURES[kind]
    assert isinstance(r.forecasts, pd.DataFrame) and "timestamp" in r.forecasts.index.names
    # config.yaml is a valid config that names the command's own options
    cfg = make_config(yaml.safe_load((r.run_dir / "config.yaml").read_text()))
    assert cfg == r.config


def test_config_yaml_reproduces_compare_and_backtest_options(runs):
    assert runs["compare"].config.models == ["gru", "seq2seq-attn"]
    bt = runs["backtest"].config
    assert (bt.folds, bt.window, bt.fine_tune) == (2, "expanding", False)


def test_runs_index_lists_every_kind_by_its_declared_kind(runs):
    table = list_runs(runs["fit"].run_dir.parent)
    assert sorted(table["kind"]) == sorted(FIGURES)
    fit_row = table[table["kind"] == "fit"].iloc[0]
    m = runs["fit"].metrics
    assert fit_row["MAE"] == m["model"]["MAE"] and fit_row["naive MAE"] == m["baselines"]["naive"]["MAE"]


def test_one_series_keeps_the_flat_schema_and_many_get_per_series_blocks(runs):
    one, many = runs["fit"].metrics, runs["panel"].metrics
    assert {"model", "baselines", "mae_ratio_to_naive", "split", "intervals", "training", "data"} <= set(one)
    assert list(many["series"]) == ["aapl", "ibm", "msft"]
    for block in many["series"].values():  # every series gets intervals now, as one series does
        assert set(block["intervals"]["levels"]) == {"0.8", "0.95"}


def test_many_series_card_holds_each_series_fitted_state(runs):
    card = ModelCard.load(runs["panel"].run_dir)
    assert card.many and [s.name for s in card.series] == ["aapl", "ibm", "msft"] and card.finished
    for s, p in zip(card.series, runs["panel"].panel.prepared):
        assert s.column_transforms == p.column_transforms == ["log_return"] * 5
        np.testing.assert_allclose(s.input_scaler.mean, p.input_scaler.mean)
        assert s.conformal.quantiles[0.8].shape == (3, 1)
    assert card.inputs == runs["panel"].prepared.input_names  # no name re-derived from suffixes
    text = (runs["panel"].run_dir / "model.json").read_text()  # streamed into the file by `write`
    assert text == card.to_json() and ModelCard.from_json(text).to_dict() == card.to_dict()


def test_predict_forecasts_every_series_of_a_many_series_run(runs, tmp_path, capsys):
    run = runs["panel"].run_dir
    assert main(["predict", "--run", str(run), "--out", str(tmp_path)]) == 0, capsys.readouterr().err
    table = pd.read_csv(tmp_path / "forecast.csv", index_col=0, parse_dates=True)
    assert list(table.columns[:2]) == ["series", "target"]
    assert table.groupby("series").size().to_dict() == {"aapl": 3, "ibm": 3, "msft": 3}
    assert (table["lower_95"] < table["forecast"]).all() and (table["forecast"] < table["upper_95"]).all()
    assert (tmp_path / "forecast.html").is_file()


def test_many_series_predict_matches_the_fit_forecast_at_a_cutoff(runs, tmp_path):
    """Each series cut at one of its test cutoffs: predict reproduces fit's own forecast there."""
    from forecaster.data.sources import load_dataset

    r = runs["panel"]
    folder = tmp_path / "cut"
    folder.mkdir()
    cutoff = r.forecasts.xs("ibm", level="series").index.get_level_values("cutoff").unique()[10]
    for name in ("aapl", "ibm", "msft"):
        load_dataset(name).loc[:cutoff].reset_index().to_csv(folder / f"{name}.csv", index=False)
    fc = forecast(r.run_dir, csv=str(folder))
    for name in ("aapl", "ibm", "msft"):
        want = r.forecasts.xs((name, cutoff), level=("series", "cutoff"))
        got = fc.table[fc.table["series"] == name]
        np.testing.assert_allclose(got["forecast"], want["lstm"], rtol=1e-5)
        np.testing.assert_allclose(got["upper_80"], want["upper_80"], rtol=1e-5)


def test_compare_with_a_gaussian_head_and_two_targets(tmp_path):
    log = tmp_path / "log.csv"
    sensor_frame(500).reset_index().to_csv(log, index=False)
    r = compare(FitConfig(csv=str(log), target=["temp", "humid"], loss="gaussian", models=["gru", "seq2seq"],
                          out=str(tmp_path / "c"), **TINY), progress=False)
    for name in ("gru", "seq2seq"):
        flow = r.metrics["gradient_flow"][name]["trained"]
        assert len(flow) == TINY["lookback"] and np.isfinite(flow).all() and max(flow) > 0
        assert r.metrics["models"][name]["MAE"] > 0
    assert set(r.forecasts["target"]) == {"temp", "humid"}
