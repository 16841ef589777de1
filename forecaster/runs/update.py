"""`update`: continue training a finished run's network on newer data of the same series.

The parent run gives the network's weights and everything fitted with it: each column's
transform, the input scalers (refitted on the new training rows only with `refit_scalers`),
the season and the anchor. The new data must extend the rows the parent saw, unchanged
(checked against the data record in its model card) and by at least H rows.

The update is split as `fit` splits, except that its test split starts after the parent's
last row at the earliest: every test row is one the parent never saw and neither model was
trained on, so the two are compared honestly there, beside the naive baselines. The intervals
are recalibrated on the new validation rows. The new run folder is a complete run (predict,
export and update work on it); its card names its parent, its metrics.json holds an `update`
block, and its report shows the parent beside the updated model.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from forecaster.config import FitConfig, is_panel, make_config
from forecaster.data.frame import ValidFrame
from forecaster.data.prepare import Fitted
from forecaster.data.panel import prepare_panel
from forecaster.data.select import load_series
from forecaster.errors import ConfigError, DataError
from forecaster.runs.card import ModelCard
from forecaster.runs.fit import Lineage, train_and_write
from forecaster.runs.folder import claim_run_dir, claimed
from forecaster.runs.pipeline import network_kwargs, split_forecasts, trainer_for
from forecaster.runs.future import matched_series
from forecaster.runs.predict import LoadedRun, load_run
from forecaster.runs.results import FitResult
from forecaster.training.module import ForecastModule


def update(run: str | Path, csv: str | None = None, time_col: str | None = None, offline: bool = False,
           max_epochs: int | None = None, learning_rate: float | None = None,
           refit_scalers: bool = False, out: str | None = None, overwrite: bool = False,
           progress: bool = True) -> FitResult:
    """Train run `run`'s network further on its data refreshed (or on `csv`) and write the
    updated run to `out` (default: a new folder beside the parent)."""
    parent = load_run(run)
    card = parent.card
    cfg = child_config(parent, csv, time_col, offline, max_epochs, learning_rate, out, overwrite)
    frames = matched_series(card, load_series(cfg))
    end, new_rows = check_extends(card, frames)
    kept = [Fitted(s.column_transforms, s.input_scaler, card.season, card.anchor,
                   card.season_lag) for s in card.series]
    panel = prepare_panel(frames, cfg, [replace(f, input_scaler=None) for f in kept] if refit_scalers
                          else kept, test_after=end)
    if network_kwargs(cfg, panel.first) != card.network_kwargs or panel.first.input_names != card.inputs:
        raise DataError(f"the new data give the network inputs {panel.first.input_names}, the parent was "
                        f"trained on {card.inputs}; give data with the same columns and sampling")
    data = panel.datamodule(cfg.batch_size, cfg.seed)
    # The parent forecasts the same test windows from inputs scaled its own way.
    parent_panel = prepare_panel(frames, cfg, kept, test_after=end) if refit_scalers else panel
    parent_data = parent_panel.datamodule(cfg.batch_size, cfg.seed) if refit_scalers else data
    parent_module = ForecastModule(parent.network, loss=card.loss).eval()
    lineage = Lineage(
        parent=str(parent.run_dir), state=parent.network.state_dict(),
        forecasts=split_forecasts(parent_module, parent_panel, parent_data, "test", [s.shrink for s in card.series]),
        info={"parent_end": end.isoformat(), "refit_scalers": refit_scalers,
              "new_rows": new_rows})
    run_dir, writer = claim_run_dir(cfg)
    trainer = trainer_for(cfg, run_dir, progress)
    with claimed(run_dir, writer, reuse=cfg.overwrite, overwrite=cfg.overwrite):
        return train_and_write(cfg, run_dir, writer, trainer, panel, data, None, lineage)


def child_config(parent: LoadedRun, csv: str | None, time_col: str | None, offline: bool,
                 max_epochs: int | None, learning_rate: float | None, out: str | None,
                 overwrite: bool) -> FitConfig:
    """The parent's settings for the update: its network and windows, the new data source,
    the transform it resolved, and the splits by fraction (row counts cannot extend)."""
    cfg, card = parent.config, parent.card
    out = out or str(parent.run_dir.with_name(f"{parent.run_dir.name}-update-{time.strftime('%Y%m%d-%H%M%S')}"))
    changes = {"transform": card.transform, "split_rows": None, "overwrite": overwrite, "out": out,
               "max_epochs": max_epochs or cfg.max_epochs, "learning_rate": learning_rate or cfg.learning_rate,
               "target": card.targets, "features": card.past_features or ["none"],
               "future_features": card.future_features or None,
               "holidays": card.holidays.code if card.holidays else None, "offline": offline or cfg.offline}
    if csv:
        if is_panel(cfg) and not Path(csv).is_dir() and not cfg.series_col:
            raise ConfigError(f"{parent.run_dir} holds one model of {len(card.series)} series; give "
                              "--csv a folder with one file per series (or the long-format file)")
        changes.update(csv=csv, ticker=None, dataset=None, kind=card.kind, time_col=time_col or cfg.time_col)
    if Path(out).resolve() == parent.run_dir.resolve():
        raise ConfigError(f"--out {out} is the parent run itself; an update writes a new run folder, "
                          "choose another --out")
    return make_config({**cfg.to_dict(), **changes}, source="the update's settings")


def check_extends(card: ModelCard, frames: dict[str, ValidFrame]) -> tuple[pd.Timestamp, dict[str, int]]:
    """The parent's last timestamp (the latest over its series) and each series' new rows,
    once every series' new data are checked to hold the rows the parent saw unchanged and at
    least H rows more."""
    new_rows = {}
    for s in card.series:
        if s.data is None:
            raise ConfigError(f"the model card of series {s.name!r} has no record of the rows it saw "
                              "(written by an older forecaster); fit the model again to update it later")
        index = frames[s.name].data.index
        levels = frames[s.name].data[card.targets].to_numpy()
        seen = int(index.searchsorted(s.data.end, side="right"))
        changed = s.data.changed_rows(index[:seen], levels[:seen])
        if changed is not None:
            a, b = changed
            span = f"{index[min(a, len(index) - 1)]} to {index[min(b, len(index)) - 1]}"
            raise DataError(f"the new data of {s.name!r} change the history the parent was trained on "
                            f"(rows from {span} differ: edited, adjusted or missing values); the parent "
                            "no longer matches them, so fit a new model on these data with `forecaster fit`")
        new = new_rows[s.name] = len(index) - seen
        if new == 0:
            raise DataError(f"the data of {s.name!r} end at {s.data.end}, where the parent's did: no new "
                            "rows to learn from; update once newer rows exist (or give them with --csv)")
        if new < card.horizon:
            raise DataError(f"the data of {s.name!r} have {new} new rows after {s.data.end}, fewer than the "
                            f"horizon of {card.horizon} the update is tested on; update once at least "
                            f"{card.horizon} new rows exist")
    return max(s.data.end for s in card.series), new_rows
