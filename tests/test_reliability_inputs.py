"""Reliability, round 2: flags and files real users give, races on a run folder, forecasts that
overflow, and the untested corners (several targets end to end, the Gaussian head on prices,
intervals that depend on validation rows only, escaping in every page)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from filelock import FileLock

from conftest import sensor_frame
from forecaster.cli import main
from forecaster.config import FitConfig
from forecaster.data.frame import validate_frame
from forecaster.data.prepare import prepare
from forecaster.errors import ConfigError
from forecaster.evaluation.intervals import interval_metrics
from forecaster.runs.fit import fit
from forecaster.runs.folder import LOCK_NAME, claimed
from forecaster.runs.index import write_index
from forecaster.runs.predict import forecast

TINY = ["--max-epochs", "1", "--hidden-size", "8", "--num-layers", "1", "--lookback", "16", "--horizon", "3"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("forecaster: error:"), err
    return err


@pytest.mark.parametrize("argv, match", [
    (["--ticker", ""], "--ticker is empty"),
    (["--dataset", " "], "--dataset is empty"),
    (["--csv", "x.csv", "--target", ""], "--target is empty"),
    (["--csv", "x.csv", "--target", "temp", "--features", ","], "--features is empty"),
    (["--csv", "x.csv", "--target", "temp", "--time-col", "temp"], "--time-col temp also appears in --target"),
    (["--csv", "x.csv", "--target", "temp", "--series-col", "site", "--features", "site"],
     "--series-col site also appears in --features"),
    (["--csv", "x.csv", "--target", "temp", "--series-col", "ts", "--time-col", "ts"], "name the same column"),
])
def test_empty_or_conflicting_data_flags_are_one_line_errors(tmp_path, capsys, argv, match):
    assert main(["fit", *argv, "--out", str(tmp_path / "x")]) == 2
    assert match in one_line_error(capsys) and not (tmp_path / "x").exists()


def test_the_target_also_given_as_a_feature_is_used_once_with_a_note(tmp_path, capsys):
    log = tmp_path / "log.csv"
    sensor_frame(400).reset_index().to_csv(log, index=False)
    out = tmp_path / "run"
    assert main(["fit", "--csv", str(log), "--target", "temp", "--features", "temp,humid,humid",
                 *TINY, "--out", str(out)]) == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"]["inputs"][:2] == ["temp", "humid"] and m["data"]["inputs"].count("humid") == 1
    assert any("given as target and feature" in n for n in m["data"]["notes"])


def test_a_target_named_twice_is_refused():
    with pytest.raises(Exception, match="named twice"):
        validate_frame(sensor_frame(50), ["temp", "temp"], [])


def test_a_held_run_folder_is_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    other = FileLock(str(run / LOCK_NAME))  # another writer holds the folder
    other.acquire()
    try:
        with pytest.raises(ConfigError, match="being written by another forecaster process"):
            with claimed(run):
                pass
    finally:
        other.release()
    with claimed(run):  # free again: claimed, and a second claim sees the first one's files
        (run / "config.yaml").write_text("x")
    with pytest.raises(ConfigError, match="already holds files"):
        with claimed(run):
            pass


def test_two_fits_racing_for_one_folder_one_wins_and_nothing_is_mixed(tmp_path):
    out = tmp_path / "race"
    cmd = [sys.executable, "-m", "forecaster", "fit", "--dataset", "ibm", *TINY, "--out", str(out)]
    procs = [subprocess.Popen([*cmd, "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for seed in (1, 2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2).strip().splitlines()
    # Lightning's own banner lines may come first (the loser may have built its Trainer before
    # meeting the claim); the error is one line, the last one.
    errors = [line for line in loser if line.startswith("forecaster: error:")]
    assert errors == loser[-1:], loser
    assert "another forecaster process" in errors[0] or "already holds files" in errors[0]
    winner_seed = 1 if results[0][0] == 0 else 2
    import yaml
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == winner_seed
    assert json.loads((out / "metrics.json").read_text())["kind"] == "fit"


def test_forecasts_that_overflow_stop_the_run_and_write_no_result(tmp_path, capsys):
    out = tmp_path / "boom"
    code = main(["fit", "--dataset", "aapl", "--learning-rate", "1e6", "--max-epochs", "1",
                 "--hidden-size", "8", "--num-layers", "1", "--lookback", "16", "--out", str(out)])
    err = one_line_error(capsys)
    assert code == 2 and "inf or NaN" in err and "--learning-rate" in err
    assert not (out / "metrics.json").exists() and not (out / "report.html").exists()
    assert (out / "checkpoints" / "best.ckpt").is_file()  # what was saved is kept


def test_several_targets_end_to_end(tmp_path, capsys):
    log = tmp_path / "log.csv"
    sensor_frame(500).reset_index().to_csv(log, index=False)
    r = fit(FitConfig(csv=str(log), target=["temp", "humid"], out=str(tmp_path / "two"), max_epochs=1,
                      hidden_size=8, num_layers=1, lookback=16, horizon=3, patience=0), progress=False)
    m = r.metrics
    assert len(m["model"]["per_target"]["MAE"]) == 2
    assert np.mean(m["model"]["per_target"]["MAE"]) == pytest.approx(m["model"]["MAE"])
    assert {"forecast:temp", "forecast:humid", "fans:temp", "fans:humid"} <= set(r.figures())
    card = json.loads((r.run_dir / "model.json").read_text())
    assert np.asarray(card["series"][0]["conformal"]["quantiles"]["0.8"]).shape == (3, 2)
    fc = forecast(r.run_dir)
    assert sorted(fc.table["target"].unique()) == ["humid", "temp"] and len(fc.table) == 6
    assert set(r.forecasts["target"]) == {"temp", "humid"}


def test_the_gaussian_head_on_prices_gives_log_scale_intervals(tmp_path):
    r = fit(FitConfig(dataset="aapl", loss="gaussian", out=str(tmp_path / "g"), max_epochs=1, hidden_size=8,
                      num_layers=1, lookback=16, horizon=3, patience=0), progress=False)
    iv = r.metrics["intervals"]
    assert iv["scale"] == "log" and set(iv["gaussian"]) == {"0.8", "0.95"}
    assert 0 < iv["gaussian"]["0.8"]["coverage"] <= iv["gaussian"]["0.95"]["coverage"] <= 1


def test_interval_widths_depend_on_validation_rows_only():
    p = prepare(validate_frame(sensor_frame(600), ["temp"], []), 24, 4)
    rng = np.random.default_rng(0)
    val_pred = p.actuals("val") + rng.normal(0, 0.5, p.actuals("val").shape)
    test_pred = p.actuals("test") + rng.normal(0, 0.5, p.actuals("test").shape)
    _, _, conformal = interval_metrics(p, val_pred, test_pred)
    levels = p.levels.copy()
    first_test = p.bounds["test"][0]
    levels[first_test:] += rng.normal(0, 5, levels[first_test:].shape)  # other test actuals
    moved = dataclasses.replace(p, levels=levels)
    block, _, again = interval_metrics(moved, val_pred, test_pred)
    for lvl in conformal.quantiles:
        np.testing.assert_array_equal(conformal.quantiles[lvl], again.quantiles[lvl])
    assert block["levels"]["0.8"]["coverage"] < 0.8  # the test coverage did see the new actuals


EVIL = "<script>alert(1)</script>"


def test_strings_from_data_are_escaped_in_every_page(tmp_path, capsys):
    frames = []
    for i, name in enumerate([EVIL, "plain"]):
        f = sensor_frame(500, seed=i).reset_index()
        frames.append(f.assign(site=name))
    long = tmp_path / "sites.csv"
    pd.concat(frames).to_csv(long, index=False)
    runs = tmp_path / "runs"
    out = runs / "many"
    assert main(["fit", "--csv", str(long), "--series-col", "site", "--target", "temp", *TINY,
                 "--out", str(out)]) == 0, capsys.readouterr().err
    assert main(["predict", "--run", str(out), "--out", str(tmp_path / "fc")]) == 0
    index = write_index(runs)
    for page in (out / "report.html", tmp_path / "fc" / "forecast.html", index):
        html = page.read_text()
        assert EVIL not in html, page
        assert html.count("<script") == html.count("</script>"), page
    assert "&lt;script&gt;" in (out / "report.html").read_text()


def test_predict_from_a_csv_reproduces_the_fit_forecast_values(tmp_path):
    """Values, not only timestamps: a sensor model fed its own data cut at a test cutoff."""
    log = tmp_path / "log.csv"
    frame = sensor_frame(500)
    frame.reset_index().to_csv(log, index=False)
    r = fit(FitConfig(csv=str(log), target=["temp"], features=["humid"], out=str(tmp_path / "s"),
                      max_epochs=1, hidden_size=8, num_layers=1, lookback=16, horizon=3, patience=0),
            progress=False)
    cutoff = r.forecasts.index.get_level_values("cutoff").unique()[7]
    cut = tmp_path / "cut.csv"
    frame.loc[:cutoff].reset_index().to_csv(cut, index=False)
    fc = forecast(r.run_dir, csv=str(cut))
    want = r.forecasts.xs(cutoff, level="cutoff")
    assert list(fc.table.index) == list(want.index)
    np.testing.assert_allclose(fc.table["forecast"], want["lstm"], rtol=1e-5)
    np.testing.assert_allclose(fc.table["lower_95"], want["lower_95"], rtol=1e-5)


def test_backtest_leaves_filled_targets_out_of_its_aggregate(tmp_path):
    """The README promises filled values are left out of every metric: backtest's too."""
    from forecaster.runs.backtest import backtest

    f = sensor_frame(900)
    holes = f.index[850:853]  # a short gap in the last fold: forward-filled
    f = f.drop(holes)
    log = tmp_path / "holes.csv"
    f.reset_index().to_csv(log, index=False)
    r = backtest(FitConfig(csv=str(log), target=["temp"], folds=2, out=str(tmp_path / "bt"), max_epochs=1,
                           hidden_size=8, num_layers=1, lookback=16, horizon=3, patience=0), progress=False)
    fc = r.forecasts
    observed = ~fc.index.get_level_values("timestamp").isin(holes)
    naive_mae = (fc["naive"] - fc["actual"]).abs()[observed].mean()
    assert r.metrics["aggregate"]["baselines"]["naive"]["MAE"] == pytest.approx(naive_mae)
    assert naive_mae != pytest.approx((fc["naive"] - fc["actual"]).abs().mean())


def test_metrics_json_is_valid_json_with_nothing_infinite(tmp_path):
    """Few validation windows make the 95% interval infinitely wide: written as null, not Infinity."""
    from forecaster._io import write_metrics_json

    write_metrics_json(tmp_path / "metrics.json", {"a": float("inf"), "b": [1.0, float("nan")], "c": {"d": 2.0}})
    text = (tmp_path / "metrics.json").read_text()
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": {"d": 2.0}}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left
    assert "Infinity" not in text and "NaN" not in text


def test_metrics_json_is_streamed_as_json_dump_would_write_it(tmp_path):
    """Written block by block, the text is exactly `json.dump(..., indent=2)`'s, at every depth
    (empty blocks, lists, nested blocks, non-finite values inside a series' block)."""
    from forecaster._io import finite_or_none, write_metrics_json

    metrics = {"schema": 2, "empty": {}, "series": {"a": {"model": {"MAE": 1.5, "hi": float("inf")},
                                                         "list": [1, {"x": float("nan")}], "none": {}},
                                                   "b \"q\"": {"n": None}},
               "overall": {"verdict": "line one\nline two", "k": [[], {}]}}
    write_metrics_json(tmp_path / "metrics.json", metrics)
    assert (tmp_path / "metrics.json").read_text() == json.dumps(finite_or_none(metrics), indent=2)


def test_stream_json_writes_json_dump_text_at_every_depth_and_for_lazy_lists():
    """`stream_json` (metrics.json and model.json) gives `json.dumps(indent=2)`'s text whatever
    the depth it streams to; a `Mapped` list is written as the list of its items, made one by one."""
    import io

    from forecaster._io import Mapped, stream_json

    value = {"a": 1, "b": [1, 2, {"x": [3, {"y": 4}]}], "c": {}, "d": [], "e": {"f": {"g": [1]}},
             "s": "two\nlines", "t": (1, 2), "n": None}
    for levels in range(5):
        fh = io.StringIO()
        stream_json(fh, value, levels)
        assert fh.getvalue() == json.dumps(value, indent=2), levels
    made = []
    lazy = Mapped(lambda i: made.append(i) or {"v": i, "w": [i]}, [1, 2, 3])
    fh = io.StringIO()
    stream_json(fh, {"series": lazy, "empty": Mapped(str, [])}, levels=2)
    assert fh.getvalue() == json.dumps({"series": [{"v": i, "w": [i]} for i in (1, 2, 3)], "empty": []}, indent=2)
    assert made == [1, 2, 3]  # each made once, as it was written
