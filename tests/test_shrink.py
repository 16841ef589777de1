"""Shrinking price forecasts toward the naive last value: the mapping, the choice on validation,
the model card, and `predict` applying the saved factor."""

import json
import shutil

import numpy as np
import pytest

from conftest import sensor_frame
from forecaster.config import FitConfig
from forecaster.data.frame import validate_frame
from forecaster.data.prepare import Scaler, prepare, to_levels
from forecaster.data.sources import load_dataset
from forecaster.evaluation.shrink import WHOLE, choose_shrink
from forecaster.runs.card import SeriesCard
from forecaster.runs.fit import fit
from forecaster.runs.predict import forecast

SCALER = Scaler(np.array([0.01]), np.array([2.0]))


def test_the_factor_scales_the_forecast_change_from_the_anchor_under_every_transform():
    pred = np.array([[[0.5], [-0.25], [1.0]]])  # (N=1, H=3, C=1) model space
    last = np.array([[100.0]])  # (N, C)
    returns = np.cumsum(SCALER.inverse(pred), axis=1)
    np.testing.assert_allclose(to_levels(pred, last, "log_return", SCALER, 0.0), 100.0)
    np.testing.assert_allclose(to_levels(pred, last, "log_return", SCALER, 0.4), 100 * np.exp(0.4 * returns))
    steps = np.full((1, 3, 1), 100.0)  # a relative transform's (N, H, C) anchors
    np.testing.assert_allclose(to_levels(pred, steps, "delta", SCALER, 0.5), 100 + 0.5 * pred * 2.0)
    levels = to_levels(pred, last, "level", SCALER)
    np.testing.assert_allclose(to_levels(pred, last, "level", SCALER, 0.25), 100 + 0.25 * (levels - 100))
    np.testing.assert_array_equal(to_levels(pred, last, "log_return", SCALER, 1.0),
                                  to_levels(pred, last, "log_return", SCALER))


def _prices():
    return prepare(validate_frame(load_dataset("ibm"), ["Close"], [], kind="price"), 30, 5, calendar=False)


def _true_validation_returns(p) -> np.ndarray:
    """The validation windows' actual log returns in model space (N, H, C): an oracle."""
    rows = p.target_rows("val")  # (N, H)
    logs = np.log(p.levels[:, 0])
    r = (logs[rows] - logs[rows - 1])[..., None]  # (N, H) -> (N, H, 1)
    return (r - p.target_scaler.mean) / p.target_scaler.std


def test_validation_keeps_a_forecast_that_beats_naive_and_drops_one_that_is_noise():
    p = _prices()
    assert p.transform == "log_return"
    oracle = choose_shrink(p, _true_validation_returns(p))
    assert oracle.factor == 1.0 and oracle.validation_mae < 1e-9 and oracle.note() is None
    noise = np.random.default_rng(0).normal(0, 3, _true_validation_returns(p).shape)
    lost = choose_shrink(p, noise)
    naive_mae = np.mean(np.abs(p.actuals("val") - p.levels[p.cutoffs("val")][:, None, :]))
    assert lost.factor == 0.0 and lost.validation_mae == pytest.approx(naive_mae)
    assert lost.validation_mae_whole > 1.5 * lost.validation_mae
    assert lost.note().startswith("forecasts are the naive last value: chosen on the validation windows")
    assert lost.to_dict()["chosen_on"] == "validation"


def test_a_sensor_log_keeps_the_networks_forecast_whole():
    p = prepare(validate_frame(sensor_frame(600), ["temp"], []), 48, 6, calendar=False)
    noise = np.random.default_rng(0).normal(0, 3, (len(p.starts["val"]), 6, 1))
    assert p.kind == "sensor" and choose_shrink(p, noise) is WHOLE


def test_the_card_keeps_the_factor_and_reads_older_cards_as_unshrunk():
    card = SeriesCard("s", ["log_return"], SCALER, shrink=0.3)
    d = json.loads(json.dumps(card.to_dict()))
    assert SeriesCard.from_dict(d).shrink == 0.3
    assert SeriesCard.from_dict({k: v for k, v in d.items() if k != "shrink"}).shrink == 1.0
    with pytest.raises(ValueError, match="outside"):
        SeriesCard.from_dict({**d, "shrink": 1.5})


def test_predict_applies_the_saved_factor(tmp_path):
    run = tmp_path / "aapl"
    fit(FitConfig(dataset="aapl", out=str(run), max_epochs=1, hidden_size=8, num_layers=1, lookback=20,
                  horizon=5, patience=0), progress=False)
    last = load_dataset("aapl")["Close"].iloc[-1]
    card = json.loads((run / "model.json").read_text())

    def with_factor(factor: float) -> np.ndarray:
        copy = tmp_path / f"shrink-{factor}"
        shutil.copytree(run, copy)
        card["series"][0]["shrink"] = factor
        (copy / "model.json").write_text(json.dumps(card))
        return forecast(copy, offline=True).table["forecast"].to_numpy()

    np.testing.assert_allclose(with_factor(0.0), last)  # the naive last value, every step
    whole, half = with_factor(1.0), with_factor(0.5)
    np.testing.assert_allclose(np.log(half / last), 0.5 * np.log(whole / last), rtol=1e-6)
    assert not np.allclose(whole, last)


def test_a_many_series_run_counts_the_series_it_shrank():
    from forecaster.evaluation.shrink import panel_note

    assert panel_note([1.0, 1.0]) is None
    assert panel_note([0.3, 1.0, 0.0]).startswith("forecasts shrunk toward the naive last value on 2 of 3 series")

