"""The `forecaster` command: a thin layer over the Python API.

    forecaster fit [--ticker AAPL | --dataset NAME | --csv FILE] [--config FILE] [flags]
    forecaster datasets

Bad input prints one line, `forecaster: error: <problem>; <fix>`, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from forecaster import __version__
from forecaster.config import FIELDS, load_yaml, make_config
from forecaster.errors import ForecasterError

GROUPS = {"data": "data (one of --ticker, --dataset, --csv; default: the embedded AAPL prices)",
          "windows": "windows and splits", "model": "network", "training": "training (Lightning)",
          "output": "output"}


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
    fit.add_argument("--config", metavar="FILE", help="YAML file of settings (see configs/)")
    groups = {k: fit.add_argument_group(v) for k, v in GROUPS.items()}
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        default = f.default if f.default is not None else None
        kind = type(default) if default is not None and not f.metadata.get("list") else str
        help_text = f.metadata["help"] + ("" if default in (None, False) else f" [default: {default}]")
        g = groups[f.metadata["group"]]
        if kind is bool:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            g.add_argument(flag, type=kind, default=None, metavar=name.upper(), help=help_text)
    groups["training"].add_argument("--lr", dest="learning_rate", type=float, default=None,
                                    help=argparse.SUPPRESS)

    sub.add_parser("datasets", help="list the embedded datasets",
                   description="List the real datasets shipped with forecaster (usable offline).")
    return parser


def cmd_fit(args: argparse.Namespace) -> int:
    from forecaster.run import fit

    flags = {k: v for k, v in vars(args).items() if k in FIELDS and v is not None}
    layers: list[dict[str, Any]] = []
    if args.config:
        layers.append(load_yaml(args.config))
        cfg = make_config(layers[0], source=args.config)  # report the file's own mistakes first
    cfg = make_config(*layers, flags, source="the flags")
    result = fit(cfg)
    print_summary(result.metrics, str(result.report))
    return 0


def print_summary(metrics: dict, report: str) -> None:
    s = metrics["split"]
    print(f"\n{metrics['data']['source']} · {metrics['model']['name']} · test {s['test']['start']} "
          f"→ {s['test']['end']} · {s['windows']} windows · horizon {s['horizon']}")
    rows = [metrics["model"], *metrics["baselines"].values()]
    print(f"  {'forecaster':<16}{'MAE':>12}{'RMSE':>12}{'sMAPE %':>10}{'MASE':>8}")
    for m in rows:
        print(f"  {m['name']:<16}{m['MAE']:>12.4g}{m['RMSE']:>12.4g}{m['sMAPE']:>10.3g}{m['MASE']:>8.3f}")
    print(f"{metrics['verdict']}.")
    print(f"report: {report}")


def cmd_datasets(args: argparse.Namespace) -> int:
    from forecaster.sources import list_datasets

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
        return {"fit": cmd_fit, "datasets": cmd_datasets}[args.command](args)
    except ForecasterError as err:
        print(f"forecaster: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("forecaster: interrupted", file=sys.stderr)
        return 130
