"""Seasonal-change inputs (issue #13): with the seasonal anchor, the network reads each target's
change over one season, y[t] - y[t - season], even where the season is longer than the lookback.

The column is exact, standardized on the training rows only, zero and never inside a window on
the first `season` rows of each stretch between gaps; the card records it, `predict` rebuilds
it, `update` keeps it, and a card written before it existed still loads without it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import sensor_frame
from forecaster.config import FitConfig
from forecaster.data.frame import validate_frame
from forecaster.data.panel import prepare_panel
from forecaster.data.prepare import SPLITS, prepare
from forecaster.data.season import Anchor
from forecaster.errors import ConfigError, DataError
from forecaster.runs.card import ModelCard


def _gappy(n: int = 900) -> pd.DataFrame:
    f = sensor_frame(n)
    return f.drop(f.index[500:510])  # a gap longer than --max-gap: two stretches


def test_the_column_is_each_targets_change_over_the_season_scaled_on_training_rows():
    # lookback 8 < season 24: the column carries what the window cannot see
    p = prepare(validate_frame(_gappy(), ["temp"], ["humid"]), 8, 3, calendar=False)
    assert p.season == 24 and p.anchor.offsets.any() and p.season_inputs == ["temp_change_24"]
    j = p.input_names.index("temp_change_24")
    assert p.input_names == ["temp", "humid", "temp_change_24"]
    y, seg = p.levels[:, 0].astype(np.float64), p.segment
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])  # first row of each stretch
    blocked = np.zeros(len(y), dtype=bool)
    for a in starts:
        blocked[a:a + 24] = True
    change = np.r_[np.zeros(24), y[24:] - y[:-24]]
    change[blocked] = 0.0
    train = slice(*p.bounds["train"])
    kept = ~blocked[train]
    mean, std = change[train][kept].mean(), change[train][kept].std()
    assert p.input_scaler.mean[j] == pytest.approx(mean) and p.input_scaler.std[j] == pytest.approx(std)
    want = np.where(blocked, (0.0 - mean) / std, (change - mean) / std)
    np.testing.assert_allclose(p.inputs[:, j], want, rtol=1e-5, atol=1e-5)
    for split in SPLITS:  # no window holds a row without a value one season back
        s = p.starts[split].rows()
        rows = s[:, None] + np.arange(p.lookback + p.horizon)  # (N, L + H)
        assert not blocked[rows].any(), split
        anchors = p.cutoffs(split)[:, None] + p.anchor.offsets  # (N, H) one season before each target
        assert (seg[anchors] == seg[p.cutoffs(split)][:, None]).all(), split
    # the first training window starts right after the first season of the log
    assert p.starts["train"].rows()[0] == 24


def test_the_last_anchor_adds_no_column_and_blocks_nothing():
    p = prepare(validate_frame(_gappy(), ["temp"], []), 8, 3, calendar=False, anchor="last")
    assert p.season_inputs == [] and p.input_names == ["temp"] and p.starts["train"].rows()[0] == 0


def test_a_split_without_a_window_one_season_back_keeps_the_last_value():
    # 100 hourly rows: the 70 training rows cannot hold 24 + 48 + 6 rows, so no training window
    # could see one season back; the anchor falls back to the last value and says why.
    p = prepare(validate_frame(sensor_frame(100), ["temp"], []), 48, 6)
    assert not p.anchor.offsets.any() and p.season_inputs == []
    assert any("no window that can see one season back" in n for n in p.notes)
    with pytest.raises(DataError, match="season of 24 rows"):  # asked for: refused, saying why
        prepare(validate_frame(sensor_frame(100), ["temp"], []), 48, 6, anchor="seasonal")


def test_a_data_column_with_the_inputs_name_is_refused():
    f = sensor_frame(600).assign(temp_change_24=1.0)
    with pytest.raises(ConfigError, match="temp_change_24.*rename it, or give --anchor last"):
        prepare(validate_frame(f, ["temp"], ["temp_change_24"]), 24, 3)


def test_series_that_disagree_on_the_anchor_all_use_the_last_value_and_no_column():
    seasonal = sensor_frame(900)
    walk = seasonal.assign(temp=np.cumsum(np.random.default_rng(3).normal(0, 1, len(seasonal))))
    frames = {n: validate_frame(f, ["temp"], [], kind="sensor") for n, f in (("a", seasonal), ("b", walk))}
    cfg = FitConfig(target=["temp"], lookback=24, horizon=3, calendar=False)
    alone = [prepare_panel({n: f}, cfg).first for n, f in frames.items()]
    assert alone[0].season_inputs and not alone[1].season_inputs  # each alone: they disagree
    panel = prepare_panel(frames, cfg)
    for p in panel.prepared:
        assert not p.anchor.offsets.any() and p.season_inputs == [] and p.input_names == ["temp"]
        assert p.notes[0].startswith("season") and "disagree" in p.notes[-1]  # the anchor's own note replaced
        assert not any("validation MAE" in n or "--anchor last" in n for n in p.notes)


def test_series_that_disagree_between_seasonal_anchors_all_use_the_value_one_season_back():
    noisy = sensor_frame(900)  # alone: the seasonal mean
    t = np.arange(900)
    growing = noisy.assign(temp=(t / 24) * np.sin(2 * np.pi * t / 24))  # alone: one season back
    frames = {n: validate_frame(f, ["temp"], [], kind="sensor") for n, f in (("a", noisy), ("b", growing))}
    cfg = FitConfig(target=["temp"], lookback=48, horizon=3, calendar=False)
    alone = [prepare_panel({n: f}, cfg).first.anchor for n, f in frames.items()]
    assert [a.kind for a in alone] == ["seasonal-mean", "seasonal"]
    for p in prepare_panel(frames, cfg).prepared:
        assert p.anchor == Anchor.seasonal(24, 3) and p.season_inputs == ["temp_change_24"]
        assert p.notes[-1] == "forecasts are changes from the value one season back (the series disagree on the anchor)"


def test_the_card_records_the_inputs_and_an_older_card_loads_without_them(tmp_path):
    from forecaster.runs.fit import fit
    from forecaster.runs.predict import forecast

    log = tmp_path / "log.csv"
    frame = sensor_frame(600)
    frame.reset_index().to_csv(log, index=False)
    r = fit(FitConfig(csv=str(log), target=["temp"], out=str(tmp_path / "s"), max_epochs=1, hidden_size=8,
                      num_layers=1, lookback=16, horizon=3, patience=0, calendar=False), progress=False)
    card = ModelCard.load(r.run_dir)
    assert card.season_inputs == ["temp_change_24"] and card.season_lag == 24
    assert card.inputs == ["temp", "temp_change_24"] and card.network_kwargs["n_features"] == 2
    # predict rebuilds the column from the fresh data's own history: fit's forecast at a cutoff
    cutoff = r.forecasts.index.get_level_values("cutoff").unique()[5]
    cut = tmp_path / "cut.csv"
    frame.loc[:cutoff].reset_index().to_csv(cut, index=False)
    want = r.forecasts.xs(cutoff, level="cutoff")
    np.testing.assert_allclose(forecast(r.run_dir, csv=str(cut)).table["forecast"], want["lstm"], rtol=1e-5)
    # 30 rows cover the lookback of 16 but not a season back from its first row: refused, saying why
    short = tmp_path / "short.csv"
    frame.loc[:cutoff].iloc[-30:].reset_index().to_csv(short, index=False)
    with pytest.raises(DataError, match="lookback of 16 plus the season of 24"):
        forecast(r.run_dir, csv=str(short))
    # a card from before the column existed has no "season_inputs": none, as it was trained
    d = json.loads((r.run_dir / "model.json").read_text())
    del d["season_inputs"]
    old = ModelCard.from_json(json.dumps(d))
    assert old.season_inputs == [] and old.season_lag == 0 and old.inputs == ["temp"]


def test_update_keeps_the_parents_seasonal_inputs(tmp_path):
    from forecaster.runs.fit import fit
    from forecaster.runs.update import update

    frame = sensor_frame(900)
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    frame.iloc[:700].reset_index().to_csv(old, index=False)
    frame.reset_index().to_csv(new, index=False)
    parent = fit(FitConfig(csv=str(old), target=["temp"], out=str(tmp_path / "p"), max_epochs=1, hidden_size=8,
                           num_layers=1, lookback=16, horizon=3, patience=0, calendar=False), progress=False)
    child = update(parent.run_dir, csv=str(new), max_epochs=1, out=str(tmp_path / "c"), progress=False)
    before, after = ModelCard.load(parent.run_dir), ModelCard.load(child.run_dir)
    assert after.season_inputs == before.season_inputs == ["temp_change_24"]
    assert after.anchor == before.anchor and after.parent == str(parent.run_dir)
    assert after.series[0].input_scaler.mean.tolist() == before.series[0].input_scaler.mean.tolist()


def test_a_seasonal_mean_run_predicts_as_it_was_evaluated_and_its_card_keeps_the_seasons(tmp_path):
    from forecaster.runs.fit import fit
    from forecaster.runs.predict import forecast

    log = tmp_path / "log.csv"
    frame = sensor_frame(600)
    frame.reset_index().to_csv(log, index=False)
    r = fit(FitConfig(csv=str(log), target=["temp"], out=str(tmp_path / "m"), max_epochs=1, hidden_size=8,
                      num_layers=1, lookback=48, horizon=3, patience=0, calendar=False, anchor="seasonal-mean"),
            progress=False)
    card = ModelCard.load(r.run_dir)
    assert card.anchor == Anchor.seasonal(24, 3, seasons=3)  # 1 + 48 // 24 seasons
    assert json.loads((r.run_dir / "metrics.json").read_text())["split"]["anchor"] == "seasonal-mean"
    # predict rebuilds the anchor from the fresh data's history: fit's forecast at a cutoff
    cutoff = r.forecasts.index.get_level_values("cutoff").unique()[5]
    cut = tmp_path / "cut.csv"
    frame.loc[:cutoff].reset_index().to_csv(cut, index=False)
    want = r.forecasts.xs(cutoff, level="cutoff")
    np.testing.assert_allclose(forecast(r.run_dir, csv=str(cut)).table["forecast"], want["lstm"], rtol=1e-5)
    d = json.loads((r.run_dir / "model.json").read_text())
    assert d["anchor_seasons"] == 3 and d["format"] == 3  # a format-2 reader would misread it: refuses it
    old = {**d, "format": 2, "series": [{k: v for k, v in s.items() if k != "shrink"} for s in d["series"]]}
    del old["anchor_seasons"]  # a format-2 card, from before the seasonal mean and the shrink
    card = ModelCard.from_json(json.dumps(old))
    assert card.anchor == Anchor.seasonal(24, 3) and card.series[0].shrink == 1.0  # what it meant
    with pytest.raises(ConfigError, match="model-card format 4 .* this version reads format 2 and 3"):
        ModelCard.from_json(json.dumps({**d, "format": 4}))
    for seasons, offsets in ((0, d["anchor_offsets"]), (3, [0, 0, 0])):  # none, or a mean of last values
        with pytest.raises(ConfigError, match=f"anchor_seasons {seasons} does not fit anchor offsets"):
            ModelCard.from_json(json.dumps({**d, "anchor_seasons": seasons, "anchor_offsets": offsets}))
