"""`forecaster compare` end to end on embedded data."""

import json

import numpy as np
import pytest

from forecaster.cli import main
from forecaster.runs.compare import compare
from forecaster.config import FitConfig
from forecaster.runs.fit import fit

FAST = dict(max_epochs=2, hidden_size=8, num_layers=1, patience=0, lookback=16, horizon=3)


def test_compare_cli_writes_one_report_naming_every_model(tmp_path, capsys):
    models = ["rnn", "jordan", "lstm", "cifg", "gru", "bigru", "seq2seq", "seq2seq-attn", "vec2seq"]
    out = tmp_path / "cmp"
    code = main(["compare", "--dataset", "goog", "--models", ",".join(models), "--max-epochs", "1",
                 "--hidden-size", "8", "--num-layers", "1", "--lookback", "16", "--horizon", "3",
                 "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["models"]) == models
    html = (out / "report.html").read_text()
    for name in models:
        assert f">{name}<" in html and name in stdout  # in the table of the report and the summary
        assert (out / name / "checkpoints" / "best.ckpt").is_file()
        assert len(m["gradient_flow"][name]["init"]) == 16 == len(m["gradient_flow"][name]["trained"])
        assert len(m["grad_norms"][name]) > 0
    for fig in ["fig-series", "fig-overlay:Close", "fig-curves", "fig-gradient_flow",
                "fig-grad_norms", "fig-attention:seq2seq-attn"]:
        assert f'id="{fig}"' in html
    assert list(m["attention"]) == ["seq2seq-attn"]
    assert np.asarray(m["attention"]["seq2seq-attn"]["weights"]).shape == (3, 3, 16)
    assert m["verdict"].startswith(f"{len(m['beat_naive'])} of {len(models)} models beat")
    assert set(m["baselines"]) == {"naive", "seasonal_naive", "drift"}


def test_compare_trains_each_model_as_fit_would(tmp_path):
    """Same windows, split, scaling and seed: a compared model equals the same model fitted alone."""
    cfg = FitConfig(dataset="ibm", **FAST)
    both = compare(FitConfig(**{**cfg.to_dict(), "out": str(tmp_path / "c")}), ["gru", "rnn"], progress=False)
    alone = fit(FitConfig(**{**cfg.to_dict(), "model": "rnn", "out": str(tmp_path / "f")}), progress=False)
    assert both.metrics["models"]["rnn"]["MAE"] == pytest.approx(alone.metrics["model"]["MAE"], rel=1e-6)
    table = both.table()
    assert list(table.index) == ["gru", "rnn", "naive", "seasonal_naive", "drift"]
    assert {"MAE", "RMSE", "MASE", "parameters", "seconds", "best epoch", "vs naive %"} <= set(table.columns)


@pytest.mark.parametrize("models, match", [("lstm,nope", "unknown model 'nope'"),
                                           ("lstm,lstm", "names a model twice"), (",", "is empty")])
def test_compare_bad_models(capsys, models, match):
    assert main(["compare", "--models", models]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["rnn", "jordan", "cifg", "bilstm", "seq2seq", "seq2seq-attn", "vec2seq"])
def test_every_network_has_a_config_that_fits(name):
    from pathlib import Path

    from forecaster.config import load_yaml, make_config
    cfg = make_config(load_yaml(Path("configs") / f"{name}.yaml"))
    assert cfg.model == name
