"""`forecaster runs`, and reports that stay small and responsive on long logs."""


import numpy as np
import pandas as pd

from forecaster.cli import main
from forecaster.evaluation.baselines import baseline_forecasts
from forecaster.evaluation.metrics import evaluate
from forecaster.evaluation.tables import forecast_frame
from forecaster.data.frame import validate_frame
from forecaster.data.prepare import prepare
from forecaster.report.fit import write_report
from forecaster.report.page import downsample
from forecaster.runs.index import list_runs


def test_runs_lists_every_kind_and_writes_an_index(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fast = ["--max-epochs", "1", "--hidden-size", "8", "--num-layers", "1", "--lookback", "16",
            "--horizon", "3"]
    assert main(["fit", "--dataset", "ibm", *fast, "--out", "runs/ibm"]) == 0
    assert main(["compare", "--dataset", "goog", "--models", "rnn,gru", *fast, "--out", "runs/cmp"]) == 0
    assert main(["backtest", "--dataset", "msft", "--folds", "2", *fast, "--out", "runs/bt"]) == 0
    (tmp_path / "runs" / "junk").mkdir()  # not a run: skipped
    assert (tmp_path / "runs" / "index.html").is_file()  # refreshed after each run
    capsys.readouterr()
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    table = list_runs("runs")
    assert sorted(table["kind"]) == ["backtest", "compare", "fit"]
    assert set(table["run"]) == {"ibm", "cmp", "bt"} and "vs naive" in out
    html = (tmp_path / "runs" / "index.html").read_text()
    for run in ["ibm", "cmp", "bt"]:
        assert f'href="{run}/report.html"' in html


def test_runs_in_a_missing_folder(capsys, tmp_path):
    assert main(["runs", "--dir", str(tmp_path / "nope")]) == 2
    assert "no runs folder" in capsys.readouterr().err


def test_downsampling_keeps_extremes_and_gaps():
    s = pd.Series(np.sin(np.arange(100_000) / 50.0), index=pd.date_range("2024", periods=100_000, freq="min"))
    s.iloc[12_345] = 9.0
    s.iloc[50_000] = np.nan
    d = downsample(s, 1000)
    assert len(d) <= 1001 and d.max() == 9.0 and d.isna().sum() == 1
    assert d.index.is_monotonic_increasing and s.min() == d.min()


def test_report_on_a_500k_point_log_stays_small(tmp_path):
    n = 500_000
    rng = np.random.default_rng(0)
    index = pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC")
    y = 20 + 5 * np.sin(np.arange(n) * 2 * np.pi / 1440) + rng.normal(0, 0.3, n).cumsum() * 0.01
    vf = validate_frame(pd.DataFrame({"temp": y}, index=index), ["temp"], [])
    p = prepare(vf, 60, 10, calendar=False)
    base = baseline_forecasts(p, "test")
    metrics = evaluate(p, base["drift"], "model")  # metrics on all 75,000 test windows
    forecasts = forecast_frame(p, {"model": base["drift"], **base})
    path = write_report(tmp_path / "report.html", "big", "500k rows", vf.data, {
        k: (p.index[a], p.index[b - 1]) for k, (a, b) in p.bounds.items()}, forecasts, metrics,
        {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "best_epoch": 2})
    size = path.stat().st_size
    assert size < 15_000_000, size
    assert metrics["split"]["windows"] == len(p.starts["test"]) > 70_000
