"""The comparisons with naive, computed once and rendered everywhere (report, CLI, notebooks,
runs index), and the long frame of every forecast. numpy and pandas only, no torch.
"""

from __future__ import annotations

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
    if test is None:
        return f"{model} {'beats' if ratio < 1 else 'does NOT beat'} the naive last value{where}: {margin}"
    p = f"Diebold-Mariano p = {test.p_value:.2g}" if test.p_value == test.p_value else "too few windows to test"
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


def overall_metrics(per_series: dict[str, dict]) -> dict:
    """How one model does across series: wins against naive (and significant ones), the
    geometric mean of the MAE ratios, each forecaster's mean MASE and the model's mean
    standardized MSE and MAE (scale-free, so they can be averaged)."""
    ratios = np.array([m["mae_ratio_to_naive"] for m in per_series.values()])
    first = next(iter(per_series.values()))
    model = first["model"]["name"]
    mase = {model: float(np.mean([m["model"]["MASE"] for m in per_series.values()]))}
    for b in first["baselines"]:
        mase[b] = float(np.mean([m["baselines"][b]["MASE"] for m in per_series.values()]))
    wins, n, geo = int((ratios < 1).sum()), len(ratios), float(np.exp(np.mean(np.log(ratios))))
    significant = sum(m["significance"]["naive"]["outcome"] == "better" for m in per_series.values())
    standardized = {k: float(np.mean([m["standardized"][k] for m in per_series.values()])) for k in ("MSE", "MAE")}
    sentence = (f"{verdict(model, geo, f'over {n} series (geometric mean)')}; better than naive on "
                f"{wins} of {n} series, significantly (Diebold-Mariano, 5%) on {significant}")
    return {"model": model, "series": n, "beats_naive": wins, "significantly_better": significant,
            "mae_ratio_to_naive": geo, "mae_ratio_median": float(np.median(ratios)),
            "mean_MASE": mase, "mean_standardized": standardized, "verdict": sentence}


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


def panel_forecast_frame(series: list[tuple[str, Prepared, dict[str, np.ndarray]]],
                         split: str = "test") -> pd.DataFrame:
    """`forecast_frame` of several series (name, prepared, forecasts) in one frame indexed by
    (series, cutoff, timestamp), in the order given, each column of the type joining the
    series' frames would give it. Every column and index code is allocated once and filled
    series by series, without a frame per series: 10,000 series' test forecasts are 8.7 million
    rows, and joining 10,000 frames took about a quarter of that fit (43 of 179 s;
    BENCHMARKS.md, "Many long series")."""
    sizes = [p.target_rows(split).size * p.levels.shape[1] for _, p, _ in series]  # N*H*C each
    ends = np.cumsum(sizes)
    kinds = {"step": [np.dtype(np.int64)], "target": [np.dtype(object)],
             "actual": [p.levels.dtype for _, p, _ in series]}  # actuals are rows of the levels
    for name in series[0][2]:
        kinds[name] = [f[name].dtype for _, _, f in series]
    cols = {name: np.empty(ends[-1], dtype=np.result_type(*dtypes)) for name, dtypes in kinds.items()}
    # Timestamps as codes into the distinct values of all series: each series' own (a few
    # hundred) found once, then placed among all of them; the rows never go through a hash table.
    codes = {k: np.empty(ends[-1], dtype=np.int32) for k in ("cutoff", "timestamp")}
    local: dict[str, list] = {"cutoff": [], "timestamp": []}
    for (_, p, forecasts), end, size in zip(series, ends, sizes):
        cutoff, stamps, columns = _forecast_columns(p, forecasts, split)
        for name, col in cols.items():
            col[end - size:end] = columns[name]
        for key, stamp in (("cutoff", cutoff), ("timestamp", stamps)):
            row_codes, uniques = pd.factorize(stamp)
            codes[key][end - size:end] = row_codes
            local[key].append(uniques)
    levels = []
    for key in ("cutoff", "timestamp"):
        every = local[key][0].append(local[key][1:]).unique()  # the distinct values of all series
        for uniques, end, size in zip(local[key], ends, sizes):  # local codes -> codes into `every`
            codes[key][end - size:end] = every.get_indexer(uniques)[codes[key][end - size:end]]
        levels.append(every)
    index = pd.MultiIndex(levels=[pd.Index([name for name, _, _ in series]), *levels],
                          codes=[np.repeat(np.arange(len(series), dtype=np.int32), sizes), codes["cutoff"],
                                 codes["timestamp"]],
                          names=["series", "cutoff", "timestamp"], verify_integrity=False)
    return pd.DataFrame(cols, index=index, copy=False)


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
