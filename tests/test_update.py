"""`forecaster update` (issue #17, part 1): a run learns from newer data of its series.

The updated run starts from the parent's weights with the parent's transforms and scalers,
is tested only on rows the parent never saw, names its parent in its card, and compares the
two there beside the baselines. Data without new rows, with too few, or with a changed history
are refused in one line, and nothing is written.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from forecaster.data.sources import load_dataset
from forecaster.runs.card import DataRecord, ModelCard
from forecaster.runs.folder import load_checkpoint
from forecaster.runs.predict import forecast
from conftest import run_cli

TINY = ["--lookback", "16", "--hidden-size", "8", "--num-layers", "1", "--max-epochs", "1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """IBM closes as a user's CSV: the first 2,000 rows (the parent's) and 2,400 rows (newer)."""
    folder = tmp_path_factory.mktemp("update")
    ibm = load_dataset("ibm")[["Close"]].iloc[:2400]
    ibm.iloc[:2000].to_csv(folder / "old.csv")
    ibm.to_csv(folder / "new.csv")
    return folder


@pytest.fixture(scope="module")
def parent(files):
    from forecaster.cli import main

    out = files / "parent"
    assert main(["fit", "--csv", str(files / "old.csv"), "--target", "Close", "--kind", "price", *TINY, "--out", str(out)]) == 0
    return out


def test_update_names_its_parent_and_tests_only_unseen_rows(capsys, files, parent, tmp_path):
    code, out, err = run_cli(capsys, ["update", "--run", str(parent), "--csv", str(files / "new.csv"),
                                      "--max-epochs", "2", "--out", str(tmp_path / "child")])
    assert code == 0, err
    child = tmp_path / "child"
    card, parent_card = ModelCard.load(child), ModelCard.load(parent)
    assert card.parent == str(parent)
    # The parent's transforms and scalers are kept, not refitted on the new rows.
    assert card.series[0].column_transforms == parent_card.series[0].column_transforms
    np.testing.assert_array_equal(card.series[0].input_scaler.mean, parent_card.series[0].input_scaler.mean)
    assert card.series[0].data.rows == 2400 and parent_card.series[0].data.rows == 2000
    metrics = json.loads((child / "metrics.json").read_text())
    parent_end = pd.Timestamp(metrics["update"]["parent_end"])
    assert parent_end == pd.Timestamp(parent_card.series[0].data.end)
    assert metrics["update"]["new_rows"] == {"old": 400}
    assert pd.Timestamp(metrics["split"]["test"]["start"]) > parent_end  # only rows the parent never saw
    assert "parent" in metrics["baselines"] and "parent" in metrics["significance"]
    assert "against its parent" in metrics["update"]["verdicts"]["old"]
    forecasts = pd.read_csv(child / "forecasts.csv", parse_dates=["cutoff", "timestamp"])
    assert forecasts["cutoff"].min() >= parent_end and "parent" in forecasts.columns
    assert "against its parent" in out and "vs parent p =" in out
    html = (child / "report.html").read_text()
    assert "parent, 1 step ahead" in html and "against its parent" in html
    # Training went on from the parent's weights, and the child forecasts like any run.
    before = load_checkpoint(parent / "checkpoints" / "best.ckpt")["state_dict"]
    after = load_checkpoint(child / "checkpoints" / "best.ckpt")["state_dict"]
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert len(forecast(child, csv=str(files / "new.csv")).table) == card.horizon


def test_a_tiny_step_reproduces_the_parent(capsys, files, parent, tmp_path):
    """With a learning rate of ~0 the updated model is its parent: the parent's row in the
    comparison must then match the child's own forecasts (same windows, same scaling)."""
    code, _, err = run_cli(capsys, ["update", "--run", str(parent), "--csv", str(files / "new.csv"),
                                    "--max-epochs", "1", "--learning-rate", "1e-12",
                                    "--out", str(tmp_path / "same")])
    assert code == 0, err
    forecasts = pd.read_csv(tmp_path / "same" / "forecasts.csv")
    np.testing.assert_allclose(forecasts["lstm"], forecasts["parent"], rtol=1e-5)


def test_refit_scalers_refits_on_the_new_training_rows(capsys, files, parent, tmp_path):
    code, _, err = run_cli(capsys, ["update", "--run", str(parent), "--csv", str(files / "new.csv"),
                                    "--refit-scalers", "--out", str(tmp_path / "refit")])
    assert code == 0, err
    new, old = ModelCard.load(tmp_path / "refit").series[0], ModelCard.load(parent).series[0]
    assert new.column_transforms == old.column_transforms
    assert not np.allclose(new.input_scaler.std, old.input_scaler.std)


@pytest.mark.parametrize("edit, message", [
    ("same", "no new rows to learn from"),
    ("few", "3 new rows after"),
    ("changed", "change the history the parent was trained on"),
    ("dropped", "change the history the parent was trained on"),
])
def test_bad_newer_data_are_refused_in_one_line(capsys, files, parent, tmp_path, edit, message):
    data = pd.read_csv(files / "new.csv", index_col=0)
    if edit == "same":
        data = data.iloc[:2000]
    elif edit == "few":
        data = data.iloc[:2003]
    elif edit == "changed":  # e.g. a price adjusted for a later dividend
        data.iloc[1500, 0] *= 1.001
    else:
        data = data.drop(data.index[700])
    data.to_csv(tmp_path / "bad.csv")
    code, out, err = run_cli(capsys, ["update", "--run", str(parent), "--csv", str(tmp_path / "bad.csv"),
                                      "--out", str(tmp_path / "child")])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "child").exists()  # nothing written


def test_update_refuses_its_parent_as_output_and_a_missing_run(capsys, files, parent, tmp_path):
    code, _, err = run_cli(capsys, ["update", "--run", str(parent), "--csv", str(files / "new.csv"),
                                    "--out", str(parent)])
    assert code == 2 and "is the parent run itself" in err
    code, _, err = run_cli(capsys, ["update", "--run", str(tmp_path / "nothing")])
    assert code == 2 and "not a finished run folder" in err


def test_data_record_finds_the_changed_block():
    index = pd.date_range("2024-01-01", periods=1000, freq="h")
    levels = np.arange(1000.0)[:, None]
    record = DataRecord.of(index, levels)
    assert record.changed_rows(index, levels) is None
    edited = levels.copy()
    edited[500] += 1e-9
    a, b = record.changed_rows(index, edited)
    assert a <= 500 < b and b - a <= 1000 // 32 + 1
    assert record.changed_rows(index[:-10], levels[:-10]) is not None  # rows missing at the end
    assert DataRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
