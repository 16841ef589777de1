"""The comparisons with naive, computed once and rendered everywhere (report, CLI, notebooks,
runs index), and the long frame of every forecast. numpy and pandas only, no torch.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.data.prepare import Prepared
from forecaster.evaluation.significance import DieboldMariano


def vs_naive(mae: float, naive_mae: float) -> float:
    """The MAE relative to the naive last value's, in percent (negative: better than naive)."""
    return 100 * (mae / naive_mae - 1)


def vs_naive_label(mae: float, naive_mae: float) -> str:
    """`vs_naive` as it is printed and shown: '+0.2%' or '-3.1%'."""
    return f"{vs_naive(mae, naive_mae):+.1f}%"


def verdict(model: str, ratio: float, over: str = "", test: DieboldMariano | None = None) -> str:
    """The one verdict sentence: `model` against the naive last value, from its MAE ratio and,
    with `test`, whether the difference is significant. `over` says what the ratio covers
    ("over 5 folds", "over 4 series (geometric mean)"). A lower MAE that is not significant
    does not read as a win."""
    where = f" {over}" if over else ""
    margin = f"MAE {100 * abs(1 - ratio):.1f}% {'lower' if ratio < 1 else 'higher'}"
    p = None if test is None else (f"Diebold-Mariano p = {test.p_value:.2g}" if test.p_value == test.p_value
                                   else "too few windows to test")
    if ratio == 1.0:  # e.g. price forecasts shrunk to the naive last value (forecaster.evaluation.shrink)
        return f"{model} ties with the naive last value{where}: the same MAE" + (f" ({p})" if p else "")
    if test is None:
        return f"{model} {'beats' if ratio < 1 else 'does NOT beat'} the naive last value{where}: {margin}"
    if ratio < 1 and test.outcome == "better":
        return f"{model} beats the naive last value{where}: {margin}, significant ({p})"
    if ratio < 1:
        return (f"{model} is no better than the naive last value{where}: {margin}, not a significant "
                f"difference ({p})")
    worse = "significantly worse" if test.outcome == "worse" else "not a significant difference"
    return f"{model} does NOT beat the naive last value{where}: {margin}, {worse} ({p})"


def update_verdict(metrics: dict) -> str:
    """The one sentence comparing an updated model with its parent on the test split (rows the
    parent never saw), from an `evaluate` block that judged the parent beside the baselines."""
    return versus_verdict(metrics, "parent", f"updated {metrics['model']['name']} against its parent on the "
                          f"{metrics['split']['windows']} test windows the parent never saw")


def versus_verdict(metrics: dict, reference: str, subject: str) -> str:
    """The one sentence comparing the model with a `reference` forecast that `evaluate` judged
    beside the baselines (an updated model's parent, the model without its future inputs):
    `subject`, then the MAE difference and whether it is significant."""
    model, other = metrics["model"], metrics["baselines"][reference]
    test = DieboldMariano.from_dict(metrics["significance"][reference])
    ratio = model["MAE"] / other["MAE"]
    p = f"Diebold-Mariano p = {test.p_value:.2g}" if test.p_value == test.p_value else "too few windows to test"
    outcome = {"better": "significantly better", "worse": "significantly worse"}.get(test.outcome,
                                                                                   "not a significant difference")
    return f"{subject}: MAE {100 * abs(1 - ratio):.1f}% {'lower' if ratio < 1 else 'higher'}, {outcome} ({p})"


def significance_line(significance: dict[str, dict]) -> str:
    """The Diebold-Mariano results of a run in one line, for the CLI and the report."""
    names = {"naive": "naive", "seasonal_naive": "seasonal naive"}
    parts = [f"vs {names.get(k, k)} p = {v['p_value']:.2g} ({v['outcome']})" if v["p_value"] is not None
             else f"vs {names.get(k, k)}: too few windows to test" for k, v in significance.items()]
    return "Diebold-Mariano test of the model's MAE (two-sided, 5%): " + ", ".join(parts)


def standardized_line(standardized: dict, over: str = "") -> str:
    """The model's standardized test errors (see `forecaster.evaluation.metrics.standardized_errors`)
    in one line, for the CLI and the report."""
    where = f", {over}" if over else ""
    return (f"standardized (train mean/std per target{where}): MSE {standardized['MSE']:.4f}, "
            f"MAE {standardized['MAE']:.4f}")


class PackedBlocks(Mapping[str, dict]):
    """Each series' metrics block by series name, kept as its compact JSON text, deflated, and
    decoded when read: 10,000 series' blocks take about 20 MB so, against 170 MB as dicts of
    Python floats. A block reads back equal to the one added (JSON keeps every float, NaN
    included, exactly; a tuple reads back as a list)."""

    def __init__(self) -> None:
        self._text: dict[str, bytes] = {}

    def add(self, name: str, block: dict) -> None:
        self._text[name] = zlib.compress(json.dumps(block, separators=(",", ":")).encode(), 1)

    def __getitem__(self, name: str) -> dict:
        return json.loads(zlib.decompress(self._text[name]))

    def __iter__(self) -> Iterator[str]:
        return iter(self._text)

    def __len__(self) -> int:
        return len(self._text)


def overall_metrics(per_series: Mapping[str, dict]) -> dict:
    """How one model does across series: wins against naive (and significant ones), the
    geometric mean of the MAE ratios, each forecaster's mean MASE and the model's mean
    standardized MSE and MAE (scale-free, so they can be averaged). One pass over the blocks,
    each read once."""
    first = next(iter(per_series.values()))
    model, names = first["model"]["name"], list(first["baselines"])
    ratios, mase, std, significant = [], [], [], 0  # per series: ratio, MASEs, standardized MSE and MAE
    for m in per_series.values():
        ratios.append(m["mae_ratio_to_naive"])
        mase.append([m["model"]["MASE"], *(m["baselines"][b]["MASE"] for b in names)])
        std.append([m["standardized"]["MSE"], m["standardized"]["MAE"]])
        significant += m["significance"]["naive"]["outcome"] == "better"
    ratios = np.array(ratios)  # (S,)
    mean_mase = dict(zip([model, *names], np.mean(mase, axis=0).tolist()))  # (S, 1 + B) -> (1 + B,)
    standardized = dict(zip(("MSE", "MAE"), np.mean(std, axis=0).tolist()))  # (S, 2) -> (2,)
    wins, n, geo = int((ratios < 1).sum()), len(ratios), float(np.exp(np.mean(np.log(ratios))))
    sentence = (f"{verdict(model, geo, f'over {n} series (geometric mean)')}; better than naive on "
                f"{wins} of {n} series, significantly (Diebold-Mariano, 5%) on {significant}")
    return {"model": model, "series": n, "beats_naive": wins, "significantly_better": significant,
            "mae_ratio_to_naive": geo, "mae_ratio_median": float(np.median(ratios)),
            "mean_MASE": mean_mase, "mean_standardized": standardized, "verdict": sentence}


def compare_summary(models: dict[str, dict]) -> str:
    """The verdict of a comparison: how many models beat naive (significantly), and the best."""
    beaten = [n for n, m in models.items() if m["mae_ratio_to_naive"] < 1]
    significant = [n for n in beaten if models[n]["significance"]["naive"]["outcome"] == "better"]
    best = min(models, key=lambda n: models[n]["MAE"])
    test = DieboldMariano.from_dict(models[best]["significance"]["naive"])
    return (f"{len(beaten)} of {len(models)} models beat the naive last value"
            + (f": {', '.join(beaten)}" if beaten else "")
            + f" ({len(significant)} significantly); the best, "
            + verdict(best, models[best]["mae_ratio_to_naive"], test=test))


def metric_rows(models: dict[str, dict], baselines: dict[str, dict], naive_mae: float) -> pd.DataFrame:
    """One row per forecaster (models, then baselines): MAE, its difference from naive, RMSE,
    MASE, and for models any of parameters, recurrent steps, seconds and best epoch they carry."""
    rows = []
    for name, m in [*models.items(), *baselines.items()]:
        row = {"forecaster": name, "MAE": m["MAE"], "vs naive %": vs_naive(m["MAE"], naive_mae),
               "RMSE": m["RMSE"], "sMAPE": m.get("sMAPE", np.nan), "MASE": m["MASE"]}
        for key, col in (("parameters", "parameters"), ("sequential_steps", "recurrent steps"),
                         ("seconds", "seconds"), ("best_epoch", "best epoch")):
            row[col] = m.get(key, np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("forecaster")


def forecast_frame(p: Prepared, forecasts: dict[str, np.ndarray], split: str = "test") -> pd.DataFrame:
    """Long frame of every window's forecasts, indexed by (cutoff, timestamp).

    `timestamp` is the real time of each forecast value; columns: step, target, actual and one
    column per forecaster (model and baselines).
    """
    cutoff, stamps, cols = _forecast_columns(p, forecasts, split)
    index = pd.MultiIndex.from_arrays([cutoff.rename("cutoff"), stamps.rename("timestamp")])
    return pd.DataFrame(cols, index=index)


@dataclass(frozen=True)
class PanelTable:
    """The layout of several series' forecasts table, known before any forecast is made: the
    series, their targets and the distinct cutoffs and timestamps of all their `split` windows.
    Each series' rows are then codes into those (`part`) as its forecasts arrive, so a fit of
    10,000 series writes forecasts.csv series by series (8.7 million rows that are never in
    memory at once; BENCHMARKS.md, "Many long series")."""

    names: pd.Index  # the series, in order
    targets: pd.Index
    cutoffs: pd.DatetimeIndex  # distinct, of all series
    timestamps: pd.DatetimeIndex
    split: str = "test"

    @classmethod
    def of(cls, names: list[str], prepared: list[Prepared], split: str = "test") -> PanelTable:
        cutoffs = [p.index[p.cutoffs(split)] for p in prepared]  # each series' own, a few hundred
        stamps = [p.index[np.unique(p.target_rows(split))] for p in prepared]
        return cls(pd.Index(names), pd.Index(pd.unique(np.concatenate([p.target_names for p in prepared]))),
                   cutoffs[0].append(cutoffs[1:]).unique(), stamps[0].append(stamps[1:]).unique(), split)

    def header(self, forecasters: list[str]) -> list[str]:
        return ["series", "cutoff", "timestamp", "step", "target", "actual", *forecasters]

    def levels(self, forecasters: list[str]) -> list[pd.Index | None]:
        """The distinct values each column's codes point into (None: a column of values)."""
        return [self.names, self.cutoffs, self.timestamps, None, self.targets, None, *[None] * len(forecasters)]

    def part(self, i: int, p: Prepared, forecasts: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Series i's rows, in `header` order: codes into `levels` where it has one, else values."""
        cutoff, stamps, cols = _forecast_columns(p, forecasts, self.split)
        return [np.full(len(stamps), i, dtype=np.int32), self.cutoffs.get_indexer(cutoff).astype(np.int32),
                self.timestamps.get_indexer(stamps).astype(np.int32), cols.pop("step"),
                self.targets.get_indexer(cols.pop("target")).astype(np.int32), *cols.values()]


def panel_forecast_frame(series: list[tuple[str, Prepared, dict[str, np.ndarray]]],
                         split: str = "test") -> pd.DataFrame:
    """`forecast_frame` of several series (name, prepared, forecasts) in one frame indexed by
    (series, cutoff, timestamp), in the order given: the rows `PanelTable` writes into
    forecasts.csv, each column of the type joining the series' frames would give it."""
    table = PanelTable.of([name for name, _, _ in series], [p for _, p, _ in series], split)
    forecasters = list(series[0][2])
    parts = [table.part(i, p, forecasts) for i, (_, p, forecasts) in enumerate(series)]
    series_, cutoff, stamp, step, target, *values = (np.concatenate(col) for col in zip(*parts))
    index = pd.MultiIndex(levels=[table.names, table.cutoffs, table.timestamps], codes=[series_, cutoff, stamp],
                          names=["series", "cutoff", "timestamp"], verify_integrity=False)
    columns = {"step": step, "target": np.asarray(table.targets.take(target), dtype=object),
               **dict(zip(["actual", *forecasters], values))}
    return pd.DataFrame(columns, index=index, copy=False)


def _forecast_columns(p: Prepared, forecasts: dict[str, np.ndarray], split: str
                      ) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex, dict[str, np.ndarray]]:
    """One series' forecasts as columns: the cutoff and real timestamp of every value, its step,
    target and actual, and one column per forecaster."""
    actual = p.actuals(split)  # (N, H, C)
    n, H, C = actual.shape
    cutoff = p.index[np.repeat(p.cutoffs(split), H * C)]  # (N,) -> (N*H*C,)
    stamps = p.index[np.repeat(p.target_rows(split).reshape(-1), C)]  # (N, H) -> (N*H*C,)
    cols = {"step": np.tile(np.repeat(np.arange(1, H + 1), C), n),
            "target": np.tile(p.target_names, n * H),
            "actual": actual.reshape(-1)}  # (N, H, C) -> (N*H*C,)
    for name, f in forecasts.items():
        cols[name] = f.reshape(-1)  # (N, H, C) -> (N*H*C,)
    return cutoff, stamps, cols
