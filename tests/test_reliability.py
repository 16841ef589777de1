"""Faults in training, resuming, and files that must not run code or break pages."""

import json
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

import yahoo_fake
from interrupts import InterruptAt
from forecaster.cli import main
from forecaster.config import FitConfig
from forecaster.errors import ConfigError
from forecaster.runs.fit import fit
from forecaster.runs.folder import load_checkpoint, resume_config
from forecaster.data.sources import fetch_prices
from forecaster.training.trainer import TrainingDiverged, TrainingInterrupted

FAST = dict(dataset="ibm", hidden_size=8, num_layers=1, lookback=16, horizon=3, patience=0)


def _weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.parametrize("model", ["gru", "seq2seq"])  # seq2seq draws random teacher forcing
def test_interrupted_and_resumed_run_reaches_the_same_weights(tmp_path, monkeypatch, model):
    cfg = dict(FAST, model=model, max_epochs=4, seed=5, dropout=0.0)
    whole = fit(FitConfig(**cfg, out=str(tmp_path / "whole")), progress=False)

    import forecaster.runs.fit as run_module
    real = run_module.trainer_for
    monkeypatch.setattr(run_module, "trainer_for", lambda c, d, p: real_with(real, c, d, p))
    with pytest.raises(TrainingInterrupted, match="--resume .*cut"):
        fit(FitConfig(**cfg, out=str(tmp_path / "cut")), progress=False)
    monkeypatch.setattr(run_module, "trainer_for", real)
    resumed = fit(resume_config(tmp_path / "cut", {}), progress=False, resume=True)

    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.metrics["model"]["MAE"] == whole.metrics["model"]["MAE"]
    assert resumed.training.val_loss == whole.training.val_loss  # history survives the resume


def real_with(real, cfg, folder, progress):
    trainer = real(cfg, folder, progress)
    trainer.callbacks.insert(0, InterruptAt(epoch=2, batch=3))
    return trainer


def test_interrupt_message_through_the_cli(tmp_path, capsys, monkeypatch):
    import forecaster.runs.fit as run_module
    real = run_module.trainer_for
    monkeypatch.setattr(run_module, "trainer_for", lambda c, d, p: real_with(real, c, d, p))
    out = tmp_path / "run"
    code = main(["fit", "--dataset", "ibm", "--max-epochs", "4", "--hidden-size", "8",
                 "--num-layers", "1", "--lookback", "16", "--out", str(out), "--no-calendar"])
    err = capsys.readouterr().err
    assert code == 130 and "training interrupted" in err and f"--resume {out}" in err
    assert len(err.strip().splitlines()) == 1 and (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "config.yaml").is_file() and not (out / "metrics.json").exists()
    monkeypatch.setattr(run_module, "trainer_for", real)
    assert main(["fit", "--resume", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["training"]["epochs"] == 4


def test_nan_loss_stops_with_causes_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "nan"
    # A learning rate of 1e30 without clipping overflows float32 within a few steps.
    code = main(["fit", "--dataset", "ibm", "--model", "rnn", "--learning-rate", "1e30",
                 "--gradient-clip-val", "0", "--max-epochs", "3", "--hidden-size", "8",
                 "--num-layers", "1", "--lookback", "16", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "training loss became" in err and "learning rate" in err
    assert "exploding gradients" in err and len(err.strip().splitlines()) == 1


def test_diverged_after_a_good_epoch_names_the_kept_checkpoint(tmp_path, monkeypatch):
    import forecaster.runs.fit as run_module
    real = run_module.trainer_for

    class PoisonAt(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.current_epoch == 1 and batch_idx == 2:
                with torch.no_grad():
                    next(pl_module.parameters()).fill_(float("nan"))

    def trainer_for(c, d, p):
        t = real(c, d, p)
        t.callbacks.insert(0, PoisonAt())
        return t

    monkeypatch.setattr(run_module, "trainer_for", trainer_for)
    with pytest.raises(TrainingDiverged, match="epoch 2.*best epoch so far is kept in .*best.ckpt"):
        fit(FitConfig(**FAST, max_epochs=3, out=str(tmp_path / "r")), progress=False)
    kept = torch.load(tmp_path / "r" / "checkpoints" / "best.ckpt", weights_only=True)
    assert kept["epoch"] == 0  # the one good epoch, the checkpoint the message names
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values())


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/forecaster_pwned",))


def test_a_crafted_pickle_checkpoint_is_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": Exploit()}, fh)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ConfigError, match="cannot be loaded safely"):
            load_checkpoint(path)
    assert not os.path.exists("/tmp/forecaster_pwned")
    assert [str(w.message) for w in caught] == []  # the one-line error alone, no advice from torch before it


@pytest.mark.parametrize("damage, match", [
    (lambda run: (run / "checkpoints" / "last.ckpt").write_bytes(b"\x80\x04truncated"), "cannot be loaded safely"),
    (lambda run: (run / "checkpoints" / "last.ckpt").unlink(), "no last.ckpt"),
    (lambda run: (run / "model.json").write_text("{not json"), "missing or corrupt"),
    (lambda run: (run / "model.json").write_text(json.dumps({"format": 999, "forecaster_version": "9.0"})),
     "model-card format 999"),
    (lambda run: (run / "config.yaml").unlink(), "not a run folder"),
])
def test_bad_run_folders_cannot_be_resumed(tmp_path, capsys, damage, match):
    run = tmp_path / "run"
    assert main(["fit", "--dataset", "ibm", "--max-epochs", "1", "--hidden-size", "8",
                 "--num-layers", "1", "--lookback", "16", "--out", str(run)]) == 0
    damage(run)
    capsys.readouterr()
    assert main(["fit", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_resume_of_a_folder_that_does_not_exist(tmp_path, capsys):
    assert main(["fit", "--resume", str(tmp_path / "nope")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_config_files_cannot_build_python_objects(tmp_path, capsys):
    cfg = tmp_path / "evil.yaml"
    cfg.write_text("model: !!python/object/apply:os.system ['echo pwned > /tmp/forecaster_pwned']\n")
    assert main(["fit", "--config", str(cfg)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert not os.path.exists("/tmp/forecaster_pwned")


def test_report_escapes_strings_from_data(tmp_path, capsys):
    evil = "</script><script>alert(1)</script>"
    n = 600
    idx = pd.date_range("2024-01-01", periods=n, freq="h")
    frame = pd.DataFrame({"ts": idx, evil: np.sin(np.arange(n) / 5) + 10})
    csv = tmp_path / "evil.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "run"
    code = main(["fit", "--csv", str(csv), "--time-col", "ts", "--target", evil, "--max-epochs", "1",
                 "--hidden-size", "8", "--num-layers", "1", "--lookback", "24", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    html = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert html.count("<script") == html.count("</script>")  # no tag was broken out of


def _fetch_into(barrier, path):
    barrier.wait()
    fetch_prices("IBM").to_pickle(path)


def test_two_processes_on_one_ticker_download_once(monkeypatch, tmp_path):
    """Two real processes (forked, so both carry the faked HTTP layer) fetch one ticker at once:
    the file lock makes one download and the other read its cache entry."""
    import multiprocessing

    log = tmp_path / "requests.log"
    yahoo_fake.install(monkeypatch, {"IBM": yahoo_fake.raw_stock("IBM")}, log=log)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_fetch_into, args=(barrier, tmp_path / f"{i}.pkl")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    a, b = (pd.read_pickle(tmp_path / f"{i}.pkl") for i in range(2))
    assert a.equals(b) and len(a) > 1000
    chart_calls = [u for u in log.read_text().splitlines() if "/v8/finance/chart/IBM" in u]
    assert 1 <= len(chart_calls) <= 2  # one download (yfinance asks for the time zone, then prices)


def _hourly_csv(n=400, value=lambda i: f"{np.sin(i / 4):.4f}"):
    idx = pd.date_range("2024-01-01", periods=n, freq="h")
    return "ts,temp\n" + "".join(f"{t},{value(i)}\n" for i, t in enumerate(idx))


BAD_CSVS = {
    "empty": ("", "is empty"),
    "no header": ("2024-01-01 00:00,1.0\n2024-01-01 01:00,2.0\n", "has no header row"),
    "no time column": ("when,temp\n2024-01-01,1\n", "no column 'ts'"),
    "no target column": ("ts,humid\n2024-01-01,1\n", "no column 'temp'"),
    "unparseable timestamp": ("ts,temp\n2024-01-01,1\nyesterday,2\n", "unparseable timestamp 'yesterday'"),
    "mixed time zones": ("ts,temp\n2024-01-01T00:00+00:00,1\n2024-01-01 01:00,2\n", "mixes timestamps"),
    "duplicate timestamps": ("ts,temp\n2024-01-01,1\n2024-01-01,2\n2024-01-02,3\n", "duplicate timestamp"),
    "unsorted timestamps": ("ts,temp\n2024-01-02,1\n2024-01-01,2\n2024-01-03,3\n", "not sorted"),
    "non-numeric target": ("ts,temp\n2024-01-01,1\n2024-01-02,warm\n", "not numeric (value 'warm')"),
    "constant target": (_hourly_csv(value=lambda i: "5"), "is constant"),
    "infinity": (_hourly_csv(value=lambda i: "inf" if i == 7 else "1.5"), "infinite values"),
    "only NaN": (_hourly_csv(value=lambda i: ""), "all missing"),
    "too short": (_hourly_csv(n=50), "too short"),
}


@pytest.mark.parametrize("case", BAD_CSVS)
def test_bad_csv_one_line_error_nothing_written(tmp_path, capsys, case):
    text, match = BAD_CSVS[case]
    csv = tmp_path / "log.csv"
    csv.write_text(text)
    out = tmp_path / "run"
    code = main(["fit", "--csv", str(csv), "--time-col", "ts", "--target", "temp", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and match in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_sigterm_keeps_the_last_epoch_and_says_how_to_resume(tmp_path, monkeypatch):
    import signal

    import forecaster.runs.fit as run_module
    real = run_module.trainer_for

    class TermAt(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.current_epoch == 1 and batch_idx == 1:
                os.kill(os.getpid(), signal.SIGTERM)

    def trainer_for(c, d, p):
        t = real(c, d, p)
        t.callbacks.insert(0, TermAt())
        return t

    monkeypatch.setattr(run_module, "trainer_for", trainer_for)
    out = tmp_path / "term"
    with pytest.raises(TrainingInterrupted, match="SIGTERM|SystemExit"):
        fit(FitConfig(**FAST, max_epochs=3, out=str(out)), progress=False)
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0


def test_atomic_write_leaves_the_old_file_when_the_writer_crashes(tmp_path):
    from forecaster._io import atomic_write, atomic_write_text

    target = tmp_path / "metrics.json"
    atomic_write_text(target, "old")

    def crash(tmp):
        tmp.write_text("half-writ")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
