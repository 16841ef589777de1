"""`forecaster tune`: a tiny Optuna study on embedded data, resumed; trials never see the test
split; a bad space, a searched flag, a foreign folder and a missing extra are one-line errors."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_cli as run
from forecaster.config import load_yaml, make_config
from forecaster.data.windows import WindowDataModule
from forecaster.runs.space import DEFAULT_SPACE, load_space

optuna = pytest.importorskip("optuna")
study_module = pytest.importorskip("forecaster.runs.study")

TINY_SPACE = {"model": ["gru", "lstm"], "lookback": {"low": 16, "high": 32, "step": 16},
              "hidden_size": {"low": 4, "high": 12, "log": True},
              "learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}}
FAST = ["--dataset", "ibm", "--max-epochs", "2", "--horizon", "3"]


def space_file(tmp_path: Path, space: dict) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    return str(path)


def test_a_tiny_study_resumes_and_fits_its_best(tmp_path, capsys, monkeypatch):
    in_trial, test_reads = [], []
    real_trial, real_dataset = study_module.run_trial, WindowDataModule.dataset

    def run_trial(*args, **kwargs):  # marks the time a trial trains
        in_trial.append(True)
        try:
            return real_trial(*args, **kwargs)
        finally:
            in_trial.pop()

    def dataset(self, split):  # the trials never read a test window
        if split == "test" and in_trial:
            test_reads.append(split)
        return real_dataset(self, split)

    monkeypatch.setattr(study_module, "run_trial", run_trial)
    monkeypatch.setattr(WindowDataModule, "dataset", dataset)
    out = tmp_path / "tune"
    argv = ["tune", *FAST, "--num-layers", "1", "--space", space_file(tmp_path, TINY_SPACE), "--out", str(out)]
    code, stdout, err = run(capsys, [*argv, "--trials", "2"])
    assert code == 0, err
    assert "trial 0 complete" in stdout and "trial 1 complete" in stdout and "best: trial" in stdout
    code, stdout, err = run(capsys, [*argv, "--trials", "3"])  # the same --out: resumed
    assert code == 0, err
    assert "trial 2 complete" in stdout and "trial 0 complete" not in stdout
    assert not test_reads

    storage = f"sqlite:///{out / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name=name, storage=storage)
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    best = study.best_trial
    values = load_yaml(out / "best.yaml")
    cfg = make_config(values, source="best.yaml")
    assert {k: getattr(cfg, k) for k in best.params} == best.params
    assert values["dataset"] == "ibm" and values["max_epochs"] == 2 and "out" not in values
    html = (out / "tune.html").read_text()
    for title in ["Optimization History Plot", "Hyperparameter Importances", "Parallel Coordinate Plot"]:
        assert title in html
    for n in range(3):  # each trial keeps its summary, never its checkpoints
        record = json.loads((out / "trials" / str(n) / "trial.json").read_text())
        assert record["state"] == "complete" and record["value"] == min(record["val_loss"])
        assert not (out / "trials" / str(n) / "checkpoints").exists()
    assert set(record) == {"number", "state", "value", "params", "val_loss", "seconds", "reason"}
    metrics = json.loads((out / "best" / "metrics.json").read_text())
    assert metrics["model"]["name"] == best.params["model"] and "naive" in metrics["baselines"]
    assert metrics["verdict"] in stdout

    # Other settings in the same folder: refused, naming the difference; no trial runs.
    code, _, err = run(capsys, [*argv, "--trials", "3", "--max-epochs", "3"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "max_epochs 2 there, 3 here" in err


def test_failed_trials_are_recorded_with_their_reason(tmp_path, capsys):
    out = tmp_path / "tune"
    space = space_file(tmp_path, {"lookback": [4000, 5000]})  # longer than the series
    code, stdout, err = run(capsys, ["tune", *FAST, "--trials", "2", "--space", space, "--out", str(out)])
    assert code == 2 and "no trial of study" in err and "lookback" in err
    assert stdout.count("failed") == 2
    storage = f"sqlite:///{out / 'study.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert all("lookback" in t.user_attrs["reason"] for t in study.trials)
    assert "No trial has completed yet" in (out / "tune.html").read_text()


@pytest.mark.parametrize("space, match", [
    ({"hiden_size": [8]}, "did you mean 'hidden_size'"),
    ({"model": {"low": 1, "high": 2}}, "takes a list of choices"),
    ({"dropout": {"low": 0.0, "high": 1.5}}, "dropout must be in [0, 1)"),
    ({"model": ["lstm", "transformer"]}, "unknown model 'transformer'"),
    ({"hidden_size": 64}, "give a list of choices"),
    ({"learning_rate": {"low": 0, "high": 0.1, "log": True}}, "learning_rate must be > 0"),
    ({"num_layers": {"low": 3, "high": 1}}, "must be below high"),
    ({"dataset": ["ibm", "aapl"]}, "cannot be searched"),
    ({"batch_size": []}, "empty list"),
    ({"lookback": {"low": 16, "high": 120, "step": 16}}, "must be a multiple of step 16"),
])
def test_a_bad_space_is_a_one_line_error(tmp_path, capsys, space, match):
    out = tmp_path / "tune"
    code, _, err = run(capsys, ["tune", *FAST, "--space", space_file(tmp_path, space), "--out", str(out)])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert match in err and "tune space" in err
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize("argv, match", [
    (["--hidden-size", "32"], "hidden_size is searched by the tune space"),
    (["--trials", "0"], "--trials must be >= 1"),
    (["--space", "no-such-space.yaml"], "tune space file not found"),
    (["--storage", "nosuchdb://x"], "--storage nosuchdb://x cannot be opened"),
    (["--devices", "2"], "tune trains each trial in one process"),
])
def test_bad_tune_flags_are_one_line_errors(tmp_path, capsys, argv, match):
    code, _, err = run(capsys, ["tune", *FAST, "--out", str(tmp_path / "tune"), *argv])
    assert code == 2 and len(err.strip().splitlines()) == 1 and match in err, err


def test_a_folder_of_something_else_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run(capsys, ["tune", *FAST, "--out", str(out)])
    assert code == 2 and "not a tune's (notes.txt)" in err and "--overwrite" in err


def test_missing_optuna_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` fails as if not installed
    for name in ("forecaster.runs.tune", "forecaster.runs.study"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    code, _, err = run(capsys, ["tune", *FAST, "--out", str(tmp_path / "tune")])
    assert code == 2 and err.strip() == ("forecaster: error: forecaster tune needs the optuna package; "
                                         "install the tune extra with `pip install 'forecaster[tune]'`")


def test_the_shipped_space_is_the_built_in_one():
    shipped = Path(__file__).resolve().parents[1] / "configs" / "tune-space.yaml"
    assert yaml.safe_load(shipped.read_text()) == DEFAULT_SPACE
    space = load_space(shipped, make_config({}))
    assert space.names == list(DEFAULT_SPACE) and space.describe() == DEFAULT_SPACE


def test_tune_flags_belong_to_tune_only(capsys):
    for command in ("fit", "compare", "backtest"):
        code, _, err = run(capsys, [command, "--trials", "3"])
        assert code == 2 and "unrecognized arguments: --trials" in err


def test_lightnings_pruning_callback_stops_a_trial(tmp_path):
    from forecaster.data.select import load_series

    base = make_config({"dataset": "ibm", "max_epochs": 3, "hidden_size": 4, "num_layers": 1, "horizon": 3})
    space = load_space(space_file(tmp_path, {"lookback": [16]}), base)
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))  # prunes any loss
    record = study_module.run_trial(study, study.ask(), base, space, load_series(base), tmp_path / "0")
    assert record.state == "pruned" and record.reason.startswith("pruned after epoch 1")
    assert len(record.val_loss) == 1 and record.value is None
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED and trial.user_attrs["epochs"] == 1
    assert not (tmp_path / "0" / "checkpoints").exists() and (tmp_path / "0" / "trial.json").is_file()


def test_trials_do_not_repeat_lightnings_stop_line():
    import logging

    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")

    def shown(msg: str) -> bool:
        return log.filter(logging.LogRecord(log.name, logging.INFO, __file__, 1, msg, None, None))

    with study_module.optuna_warnings_only():
        assert not shown("`Trainer.fit` stopped: `max_epochs=2` reached.")
        assert shown("GPU available: True (cuda), used: False")
    assert shown("`Trainer.fit` stopped: `max_epochs=2` reached.")  # a fit still says why it stopped
