"""`--logger csv|tensorboard|mlflow` (issue #17, part 4): a Lightning logger writes the run's
training curves and settings into the run folder; a missing optional package is a one-line
error naming the extra that installs it."""

from __future__ import annotations

import builtins
import sqlite3

import pandas as pd
import pytest

from conftest import run_cli

TINY = ["--dataset", "ibm", "--lookback", "16", "--hidden-size", "8", "--num-layers", "1", "--max-epochs", "2"]


def test_csv_logger_writes_the_loss_curves(capsys, tmp_path):
    code, _, err = run_cli(capsys, ["fit", *TINY, "--logger", "csv", "--out", str(tmp_path / "run")])
    assert code == 0, err
    logged = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")
    assert logged["val_loss"].notna().sum() == 2 and logged["train_loss"].notna().sum() == 2
    assert "hidden_size: 8" in (tmp_path / "run" / "logs" / "hparams.yaml").read_text()


def test_tensorboard_logger_writes_event_files(capsys, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code, _, err = run_cli(capsys, ["fit", *TINY, "--logger", "tensorboard", "--out", str(tmp_path / "run")])
    assert code == 0, err
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert len(events.Scalars("val_loss")) == 2


def test_mlflow_logger_writes_a_store_in_the_run_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, _, err = run_cli(capsys, ["fit", *TINY, "--logger", "mlflow", "--out", str(tmp_path / "run")])
    assert code == 0, err
    with sqlite3.connect(tmp_path / "run" / "mlflow.db") as db:
        val = db.execute("select count(*) from metrics where key = 'val_loss'").fetchone()[0]
        params = dict(db.execute("select key, value from params").fetchall())
    assert val == 2 and params["model"] == "lstm" and params["hidden_size"] == "8"


def test_mlflow_tracking_uri_is_honoured(capsys, tmp_path, monkeypatch):
    store = tmp_path / "elsewhere.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    code, _, err = run_cli(capsys, ["fit", *TINY, "--logger", "mlflow", "--out", str(tmp_path / "run")])
    assert code == 0, err
    assert store.is_file() and not (tmp_path / "run" / "mlflow.db").exists()


@pytest.mark.parametrize("kind, package", [("mlflow", "mlflow"), ("tensorboard", "tensorboard")])
def test_a_missing_logger_package_names_its_extra(capsys, tmp_path, monkeypatch, kind, package):
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name == package or name.startswith(package + "."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    code, _, err = run_cli(capsys, ["fit", *TINY, "--logger", kind, "--out", str(tmp_path / "run")])
    assert code == 2 and f"pip install 'forecaster[{kind}]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_an_unknown_logger_is_refused(capsys, tmp_path):
    code, _, err = run_cli(capsys, ["fit", *TINY, "--logger", "wandb", "--out", str(tmp_path / "run")])
    assert code == 2 and "unknown logger 'wandb'" in err
