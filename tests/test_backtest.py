"""`forecaster backtest`: fold geometry, no leakage past a cutoff, outputs."""

import json

import numpy as np
import pytest
import torch

from forecaster.runs.backtest import directional_accuracy, fold_rows, prepare_fold, run_fold
from forecaster.cli import main
from forecaster.config import FitConfig
from forecaster.data.frame import validate_frame
from forecaster.data.sources import load_dataset

FAST = dict(max_epochs=2, hidden_size=8, num_layers=1, lookback=16, horizon=3, patience=0)


@pytest.mark.parametrize("window", ["expanding", "sliding"])
def test_fold_geometry(window):
    plan = fold_rows(1000, 4, test_size=0.2, val_size=0.15, window=window)
    tests = [(p["start"] + p["bounds"]["test"][0], p["start"] + p["bounds"]["test"][1]) for p in plan]
    assert tests[0][0] == 800 and tests[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(tests, tests[1:]))  # consecutive, no overlap
    for p in plan:
        b = p["bounds"]
        assert b["train"][0] == 0 and b["train"][1] == b["val"][0] and b["val"][1] == b["test"][0]
    train_lengths = [p["bounds"]["val"][1] for p in plan]
    if window == "expanding":
        assert all(p["start"] == 0 for p in plan) and train_lengths == sorted(train_lengths)
    else:
        assert len(set(train_lengths)) == 1 and [p["start"] for p in plan] == sorted(p["start"] for p in plan)


def test_changing_data_after_a_cutoff_changes_neither_model_nor_its_forecast(tmp_path):
    raw = load_dataset("ibm")
    frame = validate_frame(raw, ["Close"], ["Volume"], kind="price")
    plan = fold_rows(len(frame.data), 3, 0.15, 0.15, "expanding")
    rows = plan[1]
    cutoff = rows["bounds"]["test"][0]  # rows from here on are after the cutoff
    moved_raw = raw.copy()
    moved_raw.iloc[cutoff:] *= 3.0
    moved = validate_frame(moved_raw, ["Close"], ["Volume"], kind="price")
    cfg = FitConfig(dataset="ibm", **FAST)
    a, a_state = run_fold(cfg, prepare_fold(cfg, frame, 2, rows), 2, tmp_path / "a", False, None)
    b, b_state = run_fold(cfg, prepare_fold(cfg, moved, 2, rows), 2, tmp_path / "b", False, None)
    assert all(torch.equal(a_state[k], b_state[k]) for k in a_state)  # the same model
    np.testing.assert_array_equal(a.pred[0], b.pred[0])  # the forecast made at the cutoff
    assert not np.allclose(a.pred[-1], b.pred[-1])  # later cutoffs do see new data
    assert a.cutoff == frame.data.index[cutoff - 1]


def test_directional_accuracy_by_hand():
    last = np.array([[10.0], [10.0], [10.0], [10.0]])
    actual = np.array([[[11.0]], [[9.0]], [[12.0]], [[10.0]]])  # up, down, up, unchanged
    forecast = np.array([[[10.5]], [[10.5]], [[11.0]], [[9.0]]])
    d = directional_accuracy(actual, forecast, last)
    assert d["overall"] == pytest.approx(2 / 3) and d["per_step"] == [pytest.approx(2 / 3)]


def test_backtest_cli_writes_folds_aggregate_and_report(tmp_path, capsys):
    out = tmp_path / "bt"
    code = main(["backtest", "--dataset", "msft", "--folds", "3", "--max-epochs", "1", "--hidden-size", "8",
                 "--num-layers", "1", "--lookback", "16", "--horizon", "3", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert [f["fold"] for f in m["folds"]] == [1, 2, 3]
    assert [f["cutoff"] for f in m["folds"]] == sorted(f["cutoff"] for f in m["folds"])
    assert {"model", "baselines"} <= set(m["aggregate"])
    assert 0 <= m["directional_accuracy"]["model"]["overall"] <= 1
    assert len(m["directional_accuracy"]["drift"]["per_step"]) == 3
    html = (out / "report.html").read_text()
    assert 'id="fig-folds"' in html and 'id="fig-fold_errors"' in html and "Directional accuracy" in html
    assert "directional accuracy" in stdout and "report:" in stdout
    assert (out / "fold-3" / "checkpoints" / "best.ckpt").is_file()


@pytest.mark.parametrize("argv, match", [(["--folds", "0"], "--folds must be >= 1"),
                                         (["--folds", "400"], "use fewer --folds")])
def test_backtest_bad_folds(capsys, argv, match, tmp_path):
    assert main(["backtest", "--dataset", "ibm", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_fine_tune_starts_each_fold_from_the_previous_weights(tmp_path, monkeypatch):
    import forecaster.runs.backtest as bt
    seen, real = [], bt.train_network

    def spy(*args, init_state=None, **kw):
        seen.append(init_state)
        run = real(*args, init_state=init_state, **kw)
        seen.append({k: v.clone() for k, v in run.module.network.state_dict().items()})
        return run

    monkeypatch.setattr(bt, "train_network", spy)
    r = bt.backtest(FitConfig(dataset="goog", out=str(tmp_path / "ft"), folds=2, fine_tune=True, **FAST),
                    progress=False)
    assert seen[0] is None  # fold 1 starts fresh
    assert all(torch.equal(seen[2][k], seen[1][k]) for k in seen[1])  # fold 2 from fold 1's end
    assert r.metrics["setup"]["fine_tune"] and len(r.folds) == 2
    assert "fine-tuned" in (tmp_path / "ft" / "report.html").read_text()
