"""The `forecaster` command: a thin layer over the Python API.

    forecaster fit [--ticker AAPL | --dataset NAME | --csv FILE] [--config FILE] [flags]
    forecaster compare --models rnn,lstm,gru [same flags as fit]
    forecaster backtest --folds 5 [same flags as fit]
    forecaster tune --trials 30 [--timeout S] [--storage URL] [--space FILE] --out DIR [same flags as fit]
    forecaster predict --run RUN [--csv FILE] [--future FILE]
    forecaster export --run RUN [--format onnx] [--out FILE]
    forecaster update --run RUN [--csv FILE] [--max-epochs N] [--refit-scalers] [--out NEW]
    forecaster runs | datasets

Every command is a thin layer over `forecaster.runs`; the printouts render the run's metrics
and its verdict, computed once in `forecaster.evaluation`.

Bad input prints one line, `forecaster: error: <problem>; <fix>`, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from itertools import islice
from pathlib import Path
from typing import Any

from forecaster import __version__
from forecaster.config import FIELDS, load_yaml, make_config
from forecaster.errors import ConfigError, ForecasterError

GROUPS = {"data": "data (one of --ticker, --dataset, --csv; default: the embedded AAPL prices)",
          "windows": "windows and splits", "model": "network", "training": "training (Lightning)",
          "output": "output", "commands": "this command's own options"}
# Config fields that belong to one command only (their `command` metadata): flags of that command alone.
COMMAND_FIELDS = {name: f.metadata["command"] for name, f in FIELDS.items() if "command" in f.metadata}


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line instead of usage plus error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> Parser:
    parser = Parser(prog="forecaster", description="Forecast prices and sensor logs with recurrent "
                    "networks, evaluated on held-out data against naive baselines.")
    parser.add_argument("--version", action="version", version=f"forecaster {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    fit = sub.add_parser("fit", help="train a model, evaluate it on the test split, write a report",
                         description="Train on the chronological train split, stop early on the "
                         "validation split, evaluate on the test split against naive, seasonal "
                         "naive and drift, and write metrics.json and report.html to the run folder. "
                         "Flags override the --config file; the config's keys are the flag names "
                         "with underscores.")
    fit.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its last "
                     "completed epoch, with its saved settings (flags given here override them)")
    add_config_flags(fit, "fit")
    compare = sub.add_parser("compare", help="train several networks on identical data and compare them",
                             description="Train each of --models on the same windows, split, scaling "
                             "and seed; write one report with every model against the baselines, "
                             "gradient flow through time, gradient norms and attention maps. All other "
                             "flags are those of `forecaster fit` and apply to every model.")
    add_config_flags(compare, "compare")

    backtest = sub.add_parser("backtest", help="walk-forward evaluation over K folds",
                              description="Rolling-origin evaluation: the last --test-size share of "
                              "the rows is cut into --folds consecutive folds; for each, the scalers "
                              "are refitted and the model retrained on the data before its cutoff, "
                              "then it forecasts the fold. Other flags are those of `forecaster fit`.")
    add_config_flags(backtest, "backtest")

    tune = sub.add_parser("tune", help="search hyperparameters with Optuna, then fit the best",
                          description="Search the space (--space, or the built-in one: network, "
                          "lookback, hidden size, layers, dropout, learning rate, batch size) with "
                          "Optuna: each trial trains on the train split and is judged by its best "
                          "validation loss, never the test split; unpromising trials are pruned. The "
                          "study is kept in --out (or --storage), so the same command again resumes "
                          "it. Writes best.yaml, tune.html and a fit of the best config in best/. "
                          "Other flags are those of `forecaster fit` and apply to every trial. "
                          "Needs `pip install 'forecaster[tune]'`.")
    add_config_flags(tune, "tune")

    predict = sub.add_parser("predict", help="forecast the next H steps with a finished run",
                             description="Load a finished run (network, scalers, settings), refresh its "
                             "data (or read --csv) and forecast the H steps after the last observation, "
                             "with 80%% and 95%% intervals. Writes forecast.csv and forecast.html.")
    predict.add_argument("--run", required=True, metavar="RUN", help="the run folder of a `forecaster fit`")
    predict.add_argument("--csv", metavar="FILE", help="newer data from a CSV or parquet file with the "
                         "columns the model was trained on")
    predict.add_argument("--time-col", metavar="COL", help="time column of --csv [default: the run's]")
    predict.add_argument("--future", metavar="FILE", help="a model fitted with --future-features: their "
                         "values over the H steps after the last observation (CSV or parquet: the time "
                         "column first, the future columns and, for several series, the series column)")
    predict.add_argument("--offline", action="store_true", help="use cached prices, never the network")
    predict.add_argument("--out", metavar="DIR", help="where to write forecast.csv and forecast.html "
                         "[default: the run folder]")

    export = sub.add_parser("export", help="write a finished run's network as ONNX, to serve without torch",
                            description="Export a finished run's network, from scaled input windows "
                            "(batch, L, F) to scaled forecasts, as an ONNX graph with a JSON sidecar "
                            "holding everything around it (model card, config). It is checked against "
                            "torch with onnxruntime before it is written. Serve it with "
                            "forecaster.export.OnnxForecaster (numpy, pandas and onnxruntime only). "
                            "Needs `pip install 'forecaster[export]'`.")
    export.add_argument("--run", required=True, metavar="RUN", help="the run folder of a `forecaster fit`")
    export.add_argument("--format", choices=["onnx"], default="onnx", help="onnx only (TorchScript, "
                        "torch.jit, is deprecated in torch) [default: onnx]")
    export.add_argument("--out", metavar="FILE", help="the .onnx file, or a folder for model.onnx; the "
                        "sidecar is FILE.json beside it [default: RUN/export/model.onnx]")

    update = sub.add_parser("update", help="continue training a finished run on newer data",
                            description="Continue training a finished run's network from its weights on "
                            "its data refreshed (or --csv), keeping its transforms and scalers; the test "
                            "split lies after the parent's last row, where the parent and the updated "
                            "model are compared beside the naive baselines. Writes a new run folder "
                            "whose model card names its parent.")
    update.add_argument("--run", required=True, metavar="RUN", help="the run folder to update")
    update.add_argument("--csv", metavar="FILE", help="newer data (CSV or parquet) holding the rows the "
                        "run saw and the new ones [default: the run's own source, refreshed]")
    update.add_argument("--time-col", metavar="COL", help="time column of --csv [default: the run's]")
    update.add_argument("--offline", action="store_true", help="use cached prices, never the network")
    update.add_argument("--max-epochs", type=int, metavar="N", help="epochs at most [default: the run's]")
    update.add_argument("--learning-rate", type=float, metavar="LR", help="Adam learning rate "
                        "[default: the run's]")
    update.add_argument("--refit-scalers", action="store_true", help="refit the input scalers on the "
                        "new training rows instead of keeping the run's")
    update.add_argument("--out", metavar="DIR", help="the new run folder [default: RUN-update-<time>]")
    update.add_argument("--overwrite", action="store_true", help="replace the files of an existing --out")

    runs = sub.add_parser("runs", help="list past runs and write an index.html linking their reports",
                          description="List every finished run under a folder (data, model, date, "
                          "MAE against naive, report) and write index.html there.")
    runs.add_argument("--dir", default="runs", help="the folder holding run folders [default: runs]")

    sub.add_parser("datasets", help="list the embedded datasets",
                   description="List the real datasets shipped with forecaster (usable offline).")
    return parser


def add_config_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """One flag per FitConfig field, grouped, plus --config. A command's own fields (compare's
    models, backtest's folds...) get flags on that command only."""
    parser.add_argument("--config", metavar="FILE", help="YAML file of settings (see configs/)")
    groups = {k: parser.add_argument_group(v) for k, v in GROUPS.items()}
    for name, f in FIELDS.items():
        if COMMAND_FIELDS.get(name, command) != command:
            continue
        flag = "--" + name.replace("_", "-")
        default = f.default
        kind = type(default) if default is not None and not f.metadata.get("list") else str
        help_text = f.metadata["help"] + ("" if default in (None, False) else f" [default: {default}]")
        g = groups[f.metadata["group"]]
        if kind is bool:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            g.add_argument(flag, type=kind, default=None, metavar=name.upper(), help=help_text)
    groups["training"].add_argument("--lr", dest="learning_rate", type=float, default=None,
                                    help=argparse.SUPPRESS)


def refresh_index(run_dir: Path) -> None:
    from forecaster.runs.index import refresh_index as refresh

    refresh(run_dir)


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The config flags given on the command line (None means not given)."""
    return {k: v for k, v in vars(args).items() if k in FIELDS and v is not None}


def config_from(args: argparse.Namespace):
    flags = flag_values(args)
    layers: list[dict[str, Any]] = []
    if args.config:
        layers.append(load_yaml(args.config))
        make_config(layers[0], source=args.config)  # report the file's own mistakes first
    return make_config(*layers, flags, source="the flags")


def cmd_fit(args: argparse.Namespace) -> int:
    from forecaster.runs.fit import fit
    from forecaster.runs.folder import launched_worker, resume_config

    if args.resume:
        if args.config:
            raise ConfigError("--resume uses the run's saved config.yaml; drop --config")
        result = fit(resume_config(args.resume, flag_values(args)), resume=True)
    else:
        result = fit(config_from(args))
    if launched_worker():
        return 0  # rank 0 prints and writes
    return print_run(result)


def print_run(result) -> int:
    """The summary of a trained run (fit, update): notes, metrics, verdict and report."""
    for note in result.metrics["data"]["notes"][:5]:
        print(f"note: {note}")
    if result.kind == "panel":
        print_panel_summary(result.metrics)
    else:
        print_summary(result.metrics)
    print(f"{result.verdict}.")
    print(f"report: {result.report}")
    refresh_index(result.run_dir)
    return 0


def print_panel_summary(metrics: dict) -> None:
    from forecaster.evaluation.tables import standardized_line, vs_naive_label

    o = metrics["overall"]
    print(f"\n{metrics['data']['source']} · {o['series']} series · one {o['model']} model")
    print(f"  {'series':<20}{'MAE':>12}{'naive MAE':>12}{'vs naive':>10}{'MASE':>8}")
    for name, m in islice(metrics["series"].items(), 20):
        mae, naive = m["model"]["MAE"], m["baselines"]["naive"]["MAE"]
        print(f"  {name[:19]:<20}{mae:>12.4g}{naive:>12.4g}{vs_naive_label(mae, naive):>10}{m['model']['MASE']:>8.3f}")
    if o["series"] > 20:
        print(f"  ... and {o['series'] - 20} more in metrics.json")
    print("  mean MASE: " + ", ".join(f"{k} {v:.3f}" for k, v in o["mean_MASE"].items()))
    print("  " + standardized_line(o["mean_standardized"], f"mean over {o['series']} series"))


def print_summary(metrics: dict) -> None:
    from forecaster.evaluation.tables import significance_line, standardized_line

    s = metrics["split"]
    print(f"\n{metrics['data']['source']} · {metrics['model']['name']} · test {s['test']['start']} "
          f"→ {s['test']['end']} · {s['windows']} windows · horizon {s['horizon']}")
    rows = [metrics["model"], *metrics["baselines"].values()]
    print(f"  {'forecaster':<16}{'MAE':>12}{'RMSE':>12}{'sMAPE %':>10}{'MASE':>8}")
    for m in rows:
        print(f"  {m['name']:<16}{m['MAE']:>12.4g}{m['RMSE']:>12.4g}{m['sMAPE']:>10.3g}{m['MASE']:>8.3f}")
    print(f"{metrics['model']['name']} {standardized_line(metrics['standardized'])}")
    print(significance_line(metrics["significance"]))


def cmd_compare(args: argparse.Namespace) -> int:
    from forecaster.runs.compare import compare

    result = compare(config_from(args))
    m = result.metrics
    s = m["split"]
    print(f"\n{m['data']['source']} · {len(m['models'])} networks · test {s['test']['start']} → "
          f"{s['test']['end']} · {s['windows']} windows · horizon {s['horizon']}")
    table = result.table().drop(columns="sMAPE")
    fmt = {"MAE": "{:.4g}", "vs naive %": "{:+.1f}%", "RMSE": "{:.4g}", "MASE": "{:.3f}",
           "parameters": "{:,.0f}", "recurrent steps": "{:.0f}", "seconds": "{:.1f}", "best epoch": "{:.0f}"}
    print(table.apply(lambda col: col.map(lambda v: "" if v != v else fmt[col.name].format(v))).to_string())
    print(f"{result.verdict}.")
    for a in m.get("ablation", {}).values():  # compare --ablate-future
        print(f"{a['verdict']}.")
    print(f"report: {result.report}")
    refresh_index(result.run_dir)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from forecaster.evaluation.tables import vs_naive_label
    from forecaster.runs.backtest import backtest

    result = backtest(config_from(args))
    m = result.metrics
    print(f"\n{m['data']['source']} · {m['model']} · {m['setup']['folds']} folds ({m['setup']['window']})")
    print(f"  {'fold':<5}{'cutoff':<22}{'model MAE':>11}{'naive MAE':>11}{'vs naive':>10}")
    for f in m["folds"]:
        mae, naive = f["model"]["MAE"], f["naive"]["MAE"]
        print(f"  {f['fold']:<5}{f['cutoff'][:19]:<22}{mae:>11.4g}{naive:>11.4g}{vs_naive_label(mae, naive):>10}")
    if "directional_accuracy" in m:
        da = m["directional_accuracy"]
        print(f"directional accuracy: model {da['model']['overall']:.1%}, drift "
              f"{da['drift']['overall']:.1%}, coin flip 50%")
    print(f"{result.verdict}.")
    print(f"report: {result.report}")
    refresh_index(result.run_dir)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from forecaster.runs.space import params_text
    from forecaster.runs.study import shown_url
    from forecaster.runs.tune import tune

    def print_trial(t) -> None:
        value = f"validation loss {t.value:.4g}" if t.value is not None else t.reason
        print(f"trial {t.number} {t.state} in {t.seconds:.1f} s: {value} ({params_text(t.params)})", flush=True)

    result = tune(config_from(args), on_trial=print_trial)
    counts = ", ".join(f"{n} {s}" for s, n in result.counts.items())
    done = not result.added and sum(result.counts.values()) - result.counts.get("running", 0) >= args.trials
    print(f"\nstudy {result.study_name} ({shown_url(result.storage)}): {counts}"
          + ("; it already held --trials finished trials: raise --trials to run more" if done else ""))
    print(f"best: trial {result.best_trial}, validation loss {result.best_value:.4g} "
          f"({params_text(result.best_params)})")
    print(f"best config: {result.best_yaml}")
    print(f"tune report: {result.report}")
    return print_run(result.fit)


def cmd_predict(args: argparse.Namespace) -> int:
    from forecaster.runs.predict import forecast, write_forecast

    fc = forecast(args.run, csv=args.csv, time_col=args.time_col, offline=args.offline, future=args.future)
    folder = write_forecast(fc, args.out)
    card = fc.run.card
    print(f"forecast after {fc.cutoff} ({card.network}, horizon {card.horizon}"
          + (f", {len(card.series)} series" if card.many else "") + "):")
    print(fc.table.to_string(float_format=lambda v: f"{v:.5g}"))
    print(f"written: {folder / 'forecast.csv'}, {folder / 'forecast.html'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from forecaster.export.onnx import CHECK_BATCHES, export_run

    done = export_run(args.run, args.out, args.format)
    print(f"exported {done.network}: max difference to torch {done.max_difference:.1e} on random "
          f"windows (batch sizes {', '.join(map(str, CHECK_BATCHES))})")
    print(f"written: {done.model}, {done.sidecar}")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from forecaster.runs.update import update

    result = update(args.run, csv=args.csv, time_col=args.time_col, offline=args.offline,
                    max_epochs=args.max_epochs, learning_rate=args.learning_rate,
                    refit_scalers=args.refit_scalers, out=args.out, overwrite=args.overwrite)
    return print_run(result)


def cmd_runs(args: argparse.Namespace) -> int:
    from forecaster.runs.index import list_runs, write_index

    if not Path(args.dir).is_dir():
        raise ConfigError(f"no runs folder {args.dir}; give the folder your runs are in with --dir")
    table = list_runs(args.dir)
    if table.empty:
        print(f"no finished runs in {args.dir}")
        return 0
    fmt = {"MAE": "{:.4g}", "naive MAE": "{:.4g}", "vs naive %": "{:+.1f}%"}
    shown = table.drop(columns="report").assign(**{k: table[k].map(v.format) for k, v in fmt.items()})
    print(shown.to_string(index=False))
    print(f"index: {write_index(args.dir)}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from forecaster.data.sources import list_datasets

    table = list_datasets()
    with_dates = table.assign(start=table["start"].astype(str).str[:10], end=table["end"].astype(str).str[:10])
    print(with_dates[["kind", "rows", "start", "end", "target", "description"]].to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        commands = {"fit": cmd_fit, "compare": cmd_compare, "predict": cmd_predict, "backtest": cmd_backtest,
                    "export": cmd_export, "update": cmd_update, "tune": cmd_tune, "runs": cmd_runs, "datasets": cmd_datasets}
        return commands[args.command](args)
    except ForecasterError as err:
        print(f"forecaster: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("forecaster: interrupted", file=sys.stderr)
        return 130
