"""`FitConfig`: every setting of a run, its default, its flag and its YAML key, in one place.

A YAML file in `configs/` holds only the keys it changes; flags override the file; the
resolved config is saved as `config.yaml` in the run folder, and it reproduces the run: the
options of `compare` (models) and `backtest` (folds, window, fine_tune) are fields too.

This module imports neither torch nor pandas, so that checking flags (and `--version`) is cheap.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from forecaster.errors import ConfigError

# The recurrent family by name (what each is: forecaster.nets); here, so that checking a config
# needs no torch.
DIRECT = ("rnn", "jordan", "lstm", "cifg", "gru")
BIDIRECTIONAL = {"birnn": "rnn", "bilstm": "lstm", "bigru": "gru"}
DECODING = ("seq2seq", "seq2seq-attn", "vec2seq")
SEGMENTED = ("segrnn",)
NETWORKS = (*DIRECT, *BIDIRECTIONAL, *DECODING, *SEGMENTED)


def _f(default: Any, help: str, group: str, **kw: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, "group": group, **kw})
    return field(default=default, metadata={"help": help, "group": group, **kw})


@dataclass
class FitConfig:
    # data: at most one of ticker, dataset, csv; none means the default embedded stock.
    ticker: str | None = _f(None, "Yahoo Finance symbol, e.g. AAPL (daily adjusted prices, cached); several, e.g. AAPL,MSFT, train one model on all", "data")
    dataset: str | None = _f(None, "embedded dataset: aapl, goog, ibm, msft, jfk-weather; several, e.g. aapl,msft, train one model on all", "data")
    csv: str | None = _f(None, "your own CSV or parquet log, or a folder of them (one series per file)", "data")
    series_col: str | None = _f(None, "column of a long-format --csv naming the series (one model for all)", "data")
    time_col: str | None = _f(None, "time column of --csv (default: the first column)", "data")
    target: list[str] | None = _f(None, "column(s) to forecast, comma-separated (default: Close, or the dataset's)", "data", list=True)
    features: list[str] | None = _f(None, "extra input columns, comma-separated (default: the dataset's; none for --csv)", "data", list=True)
    future_features: list[str] | None = _f(None, "columns known for the whole horizon at the cutoff (weather forecasts, schedules, planned events), comma-separated: read over the lookback and the H steps after it; `predict` then needs --future FILE", "data", list=True)
    holidays: str | None = _f(None, "sensor logs: add a 0/1 public-holiday column as a future feature, from the holidays package: a country code, optionally with a subdivision, e.g. US, GB, DE, US-NY, AU-VIC", "data")
    static_features: list[str] | None = _f(None, "several series: per-series attributes fed to every window of the series (e.g. sector, site type): columns constant within each series of a long-format --csv, or a CSV file whose first column names the series", "data", list=True)
    tz: str | None = _f(None, "time zone of naive timestamps in --csv, e.g. Europe/Berlin", "data")
    ambiguous: str = _f("infer", "--tz: the repeated hour when clocks go back: infer (from the order of the rows), earliest (the first, summer time), latest (the second, standard time) or drop", "data")
    nonexistent: str = _f("raise", "--tz: local times skipped when clocks go forward: raise, shift_forward, shift_backward or drop", "data")
    sep: str | None = _f(None, "--csv field separator, e.g. ';' or tab (default: detected)", "data")
    decimal: str | None = _f(None, "--csv decimal mark, '.' or ',' (default: detected)", "data")
    interval: str = _f("1d", "bar size for --ticker: 1d, 1wk, 1h, ...", "data")
    offline: bool = _f(False, "never touch the network; use cached prices", "data")
    exchange: str = _f("XNYS", "exchange calendar of future trading days for prices (exchange_calendars code)", "data")
    kind: str | None = _f(None, "price or sensor (default: price for tickers and stocks, sensor for --csv)", "data")
    max_gap: int = _f(6, "sensor logs: forward-fill gaps up to this many steps; longer gaps split the series", "data")
    # windows
    lookback: int = _f(64, "input window length L, in rows", "windows")
    horizon: int = _f(5, "forecast length H, in rows", "windows")
    val_size: float = _f(0.15, "validation fraction (chronological, after train)", "windows")
    split_rows: list[int] | None = _f(None, "explicit train,validation,test row counts from the start, e.g. 8640,2880,2880 (the LTSF protocol; later rows unused); replaces --val-size and --test-size", "windows", list="int")
    test_size: float = _f(0.15, "test fraction (the most recent rows)", "windows")
    transform: str = _f("auto", "auto, log_return, delta, window or level (auto: log_return for prices, window for sensors)", "windows")
    anchor: str = _f("auto", "window and delta transforms: forecast changes from the last value (last), from the value one season back (seasonal), from the seasonal mean of up to 4 seasons (seasonal-mean), or (auto) a seasonal one where seasonal naive's validation MAE is under 0.7 of naive's, the seasonal mean where its validation MAE is lower still", "windows")
    calendar: bool = _f(True, "add cyclical calendar inputs (hour, weekday, day of year; the month for monthly or quarterly logs)", "windows")
    stride: int = _f(1, "rows between consecutive window starts", "windows")
    batch_size: int = _f(64, "windows per batch", "windows")
    # model
    model: str = _f("lstm", "network: rnn, jordan, lstm, cifg, gru, birnn, bilstm, bigru, seq2seq, seq2seq-attn, vec2seq, segrnn", "model")
    hidden_size: int = _f(64, "hidden units per layer", "model")
    num_layers: int = _f(2, "stacked recurrent layers", "model")
    dropout: float = _f(0.0, "dropout between stacked layers", "model")
    nonlinearity: str = _f("tanh", "rnn and jordan: tanh or relu", "model")
    bidirectional: bool = _f(False, "read the input window both ways (rnn, lstm, gru, seq2seq encoders)", "model")
    cell: str = _f("gru", "recurrent cell of seq2seq, seq2seq-attn, vec2seq and segrnn: rnn, lstm or gru", "model")
    segment_length: int = _f(0, "segrnn: rows per segment (0: the detected season where it is 2 to lookback/2 rows, else lookback/4 up to 24)", "model")
    segment_decoding: str = _f("parallel", "segrnn: decode all future segments at once (parallel) or one after another, each fed the previous (recurrent)", "model")
    norm: str = _f("last", "per-window normalization of the target inputs: revin (every network: relative to the window's last value and divided by its own deviation, put back at the output); last (segrnn subtracts the last value; the other networks read the inputs as the transform leaves them) or none", "model")
    attention: str = _f("additive", "seq2seq-attn scoring: additive or dot", "model")
    teacher_forcing: float = _f(0.5, "seq2seq family: chance of feeding the true previous value in training", "model")
    teacher_forcing_decay: float = _f(0.9, "multiply the teacher-forcing ratio by this after each epoch", "model")
    # training
    loss: str = _f("mse", "mse (point forecast) or gaussian (mean and standard deviation, likelihood intervals)", "training")
    learning_rate: float = _f(1e-3, "Adam learning rate", "training")
    lr_decay: float = _f(1.0, "multiply the learning rate by this after each epoch from the third on (1: constant)", "training")
    weight_decay: float = _f(0.0, "Adam weight decay", "training")
    max_epochs: int = _f(30, "epochs at most (early stopping may end sooner)", "training")
    patience: int = _f(5, "early stopping: epochs without a better validation loss", "training")
    gradient_clip_val: float = _f(1.0, "clip the gradient norm to this (0 disables)", "training")
    seed: int = _f(0, "random seed; the same seed repeats a CPU run exactly", "training")
    accelerator: str = _f("auto", "Lightning accelerator: auto, cpu, gpu", "training")
    devices: str = _f("auto", "Lightning devices: auto, 1, 2, ...", "training")
    precision: str = _f("32-true", "Lightning precision: 32-true, bf16-mixed, 16-mixed", "training")
    strategy: str = _f("auto", "Lightning strategy: auto, ddp, ddp_spawn, ... (several processes: only rank 0 writes)", "training")
    num_nodes: int = _f(1, "Lightning num_nodes: machines taking part in distributed training", "training")
    # output
    # commands
    models: list[str] | None = _f(None, "compare: networks to compare, comma-separated (default: rnn,jordan,lstm,cifg,gru,seq2seq,seq2seq-attn)", "commands", list=True, command="compare")
    ablate_future: bool = _f(False, "compare: also train each model without the future features (--future-features, --holidays) and show both, with the significance of the difference", "commands", command="compare")
    folds: int = _f(5, "backtest: number of rolling-origin folds", "commands", command="backtest")
    window: str = _f("expanding", "backtest: training rows of each fold, expanding (all before the cutoff) or sliding (a fixed number of recent rows)", "commands", command="backtest")
    fine_tune: bool = _f(False, "backtest: start each fold from the previous fold's weights instead of afresh", "commands", command="backtest")
    trials: int = _f(30, "tune: finished trials the study should hold; the same command again (same --out) continues the study up to this many", "commands", command="tune")
    timeout: int = _f(0, "tune: start no new trial after this many seconds (0: no limit)", "commands", command="tune")
    storage: str | None = _f(None, "tune: SQLAlchemy URL of the study, e.g. postgresql://user:pass@host/db to tune one study from several machines (default: sqlite:///<out>/study.db)", "commands", command="tune")
    space: str | None = _f(None, "tune: YAML file of the search space (default: the built-in space, configs/tune-space.yaml)", "commands", command="tune")
    # output
    out: str | None = _f(None, "run folder (default: runs/<data>-<model>-<time>)", "output")
    overwrite: bool = _f(False, "replace the files of an existing run folder", "output")
    logger: str = _f("none", "also log training to the run folder with a Lightning logger: none, csv, tensorboard or mlflow (MLflow: a SQLite store in the run folder, or MLFLOW_TRACKING_URI when set)", "output")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in fields(FitConfig)}
# What `forecaster compare` trains when --models is not given.
COMPARE_MODELS = ("rnn", "jordan", "lstm", "cifg", "gru", "seq2seq", "seq2seq-attn")
TRANSFORMS = ("auto", "log_return", "window", "delta", "level")
WINDOWS = ("expanding", "sliding")
ANCHORS = ("auto", "last", "seasonal", "seasonal-mean")
SEGMENT_DECODING = ("parallel", "recurrent")  # see forecaster.nets.segrnn
NORMS = ("last", "revin", "none")
LOGGERS = ("none", "csv", "tensorboard", "mlflow")  # see forecaster.training.trainer
AMBIGUOUS = ("infer", "earliest", "latest", "drop")  # see forecaster.data.sources.files
NONEXISTENT = ("raise", "shift_forward", "shift_backward", "drop")
HOLIDAY_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,4})?$")  # country, optional subdivision


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a config file: a mapping of FitConfig keys (YAML or JSON). Only safe YAML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}; check the --config path (see configs/)")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{at}; fix its syntax") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must be a mapping of keys to values, e.g. 'model: gru'")
    return values


def make_config(*layers: dict[str, Any], source: str = "config") -> FitConfig:
    """Defaults, then each layer in order (a YAML file, then the flags). Values are checked."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            name = str(key).replace("-", "_")
            if name not in FIELDS:
                close = difflib.get_close_matches(name, FIELDS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"unknown key {key!r} in {source}{hint}; valid keys: "
                                  f"{', '.join(FIELDS)}")
            merged[name] = _coerce(name, value, source)
    cfg = FitConfig(**merged)
    check_config(cfg)
    return cfg


def _coerce(name: str, value: Any, source: str) -> Any:
    f = FIELDS[name]
    if value is None:
        return None
    if f.metadata.get("list") == "int":
        return _row_counts(name, value, source)
    if f.metadata.get("list"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{name} in {source} must be a list of column names, e.g. [temp, humid]")
        names = [i.strip() for i in items if i.strip()]
        if not names:  # given, but empty: never silently the default
            example = {"models": "lstm,gru", "features": "humid (or none)"}.get(name, "temp")
            raise ConfigError(f"--{name.replace('_', '-')} is empty in {source}; name at least one, "
                              f"e.g. --{name.replace('_', '-')} {example}")
        return names
    default = FitConfig.__dataclass_fields__[name].default
    kind = type(default) if default is not None and default is not dataclasses.MISSING else str
    if kind is str and isinstance(value, str) and not value.strip():
        raise ConfigError(f"--{name.replace('_', '-')} is empty in {source}; give a value or leave "
                          "the flag out")
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            raise ValueError
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} in {source} must be {kind.__name__}, got {value!r}") from None


def _row_counts(name: str, value: Any, source: str) -> list[int]:
    items = value.split(",") if isinstance(value, str) else value
    flag = f"--{name.replace('_', '-')}"
    try:
        counts = [int(str(i).strip()) for i in items]
    except (TypeError, ValueError):
        raise ConfigError(f"{flag} in {source} must be three row counts, e.g. {flag} 8640,2880,2880") from None
    if len(counts) != 3 or min(counts) < 1:
        raise ConfigError(f"{flag} in {source} must be three positive row counts (train, validation, "
                          f"test), e.g. {flag} 8640,2880,2880; got {value!r}")
    return counts


def names_in(value: str | None) -> list[str]:
    """The names of a comma-separated list such as `AAPL,MSFT` (empty entries dropped)."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def is_panel(cfg: FitConfig) -> bool:
    """Several series for one model: a list of tickers or datasets, a folder, or a series column."""
    return (len(names_in(cfg.ticker)) > 1 or len(names_in(cfg.dataset)) > 1 or bool(cfg.series_col)
            or (cfg.csv is not None and Path(cfg.csv).is_dir()))


def single_series(cfg: FitConfig, command: str) -> FitConfig:
    """`cfg` for a command that trains on one series in one process (compare, backtest):
    several series or processes are refused, and `devices auto` becomes one device (on a
    machine with several GPUs, Lightning's `auto` would start one process per GPU)."""
    if is_panel(cfg):
        raise ConfigError(f"{command} takes one series; give one --ticker, --dataset or --csv file "
                          "(`forecaster fit` trains one model on several)")
    if cfg.strategy != "auto" or cfg.num_nodes != 1 or str(cfg.devices) not in ("auto", "1"):
        raise ConfigError(f"{command} runs in one process; drop --strategy, --num-nodes and --devices "
                          "(`forecaster fit` trains with several)")
    return dataclasses.replace(cfg, devices="1")


def check_config(cfg: FitConfig) -> None:
    """Checks that need no data, so that a bad flag fails before anything is loaded or written."""
    given = [n for n in ("ticker", "dataset", "csv") if getattr(cfg, n)]
    if len(given) > 1:
        raise ConfigError(f"give one data source, not {' and '.join('--' + g for g in given)}")
    if cfg.series_col and not cfg.csv:
        raise ConfigError("--series-col names a column of a long-format --csv file; give the file with --csv")
    columns = {"--target": cfg.target or [], "--features": cfg.features or [],
               "--future-features": cfg.future_features or []}
    clash = [c for c in cfg.future_features or [] if c in (cfg.target or [])]
    if clash:
        raise ConfigError(f"--future-features {clash[0]} is also a --target; a target's future is what is "
                          "forecast, never known in advance: drop it from --future-features")
    for flag, col in (("--time-col", cfg.time_col), ("--series-col", cfg.series_col)):
        clash = [other for other, names in columns.items() if col in names]
        if col and clash:
            raise ConfigError(f"{flag} {col} also appears in {clash[0]}; a column is either the {flag[2:]} "
                              f"or a value column, not both: drop it from {clash[0]}")
    if cfg.time_col and cfg.time_col == cfg.series_col:
        raise ConfigError("--time-col and --series-col name the same column; give the column of "
                          "timestamps to --time-col and the one naming the series to --series-col")
    if cfg.holidays is not None and not HOLIDAY_CODE.match(cfg.holidays):
        raise ConfigError(f"--holidays {cfg.holidays!r} is not a country code; give an ISO code such as US, "
                          "GB or DE, optionally with a subdivision: US-NY, AU-VIC")
    if cfg.static_features and not is_panel(cfg):
        raise ConfigError("--static-features describe the series of a many-series run; give several series "
                          "(--series-col, a folder, or several tickers or datasets), or drop it")
    if cfg.ablate_future and not (cfg.future_features or cfg.holidays):
        raise ConfigError("--ablate-future compares a model with and without its future features, but none "
                          "are given; add --future-features COLS or --holidays CODE")
    if cfg.model not in NETWORKS:
        raise ConfigError(f"unknown model {cfg.model!r}; choose one of {', '.join(NETWORKS)}")
    choices = {"nonlinearity": ("tanh", "relu"), "cell": ("rnn", "lstm", "gru"), "loss": ("mse", "gaussian"),
               "attention": ("additive", "dot"), "segment_decoding": SEGMENT_DECODING, "norm": NORMS,
               "logger": LOGGERS}
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise ConfigError(f"unknown {name} {getattr(cfg, name)!r}; choose one of {', '.join(allowed)}")
    if cfg.bidirectional and cfg.model in ("jordan", "cifg", "vec2seq"):
        raise ConfigError(f"--bidirectional is not available for {cfg.model}; use it with rnn, lstm, "
                          "gru or the seq2seq models")
    if not 0 <= cfg.teacher_forcing <= 1 or not 0 <= cfg.teacher_forcing_decay <= 1:
        raise ConfigError("teacher_forcing and teacher_forcing_decay must be between 0 and 1")
    if cfg.transform not in TRANSFORMS:
        raise ConfigError(f"unknown transform {cfg.transform!r}; choose one of {', '.join(TRANSFORMS)}")
    if cfg.kind not in (None, "price", "sensor"):
        raise ConfigError(f"unknown kind {cfg.kind!r}; use price or sensor")
    check_sizes(cfg.lookback, cfg.horizon, cfg.val_size, cfg.test_size, cfg.stride)
    positive = {"batch_size": cfg.batch_size, "hidden_size": cfg.hidden_size, "num_nodes": cfg.num_nodes,
                "num_layers": cfg.num_layers, "max_epochs": cfg.max_epochs}
    for name, v in positive.items():
        if v < 1:
            raise ConfigError(f"{name} must be >= 1, got {v}")
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.segment_length < 0:
        raise ConfigError(f"segment_length must be >= 0 (0: chosen from the season), got {cfg.segment_length}")
    if not 0 < cfg.lr_decay <= 1:
        raise ConfigError(f"lr_decay must be in (0, 1], got {cfg.lr_decay}; e.g. 0.8, or 1 for a constant rate")
    if cfg.learning_rate <= 0:
        raise ConfigError(f"learning_rate must be > 0, got {cfg.learning_rate}; e.g. 1e-3")
    if cfg.patience < 0 or cfg.gradient_clip_val < 0 or cfg.weight_decay < 0 or cfg.max_gap < 0:
        raise ConfigError("patience, gradient_clip_val, weight_decay and max_gap must be >= 0")
    if cfg.models is not None:
        check_models(cfg.models)
    for name, allowed in (("ambiguous", AMBIGUOUS), ("nonexistent", NONEXISTENT)):
        if getattr(cfg, name) not in allowed:
            raise ConfigError(f"unknown {name} {getattr(cfg, name)!r}; choose one of {', '.join(allowed)}")
    if cfg.decimal not in (None, ".", ","):
        raise ConfigError(f"decimal must be '.' or ',', got {cfg.decimal!r}")
    if cfg.sep is not None and cfg.sep not in ("\\t", "tab") and (len(cfg.sep) != 1 or cfg.sep == cfg.decimal):
        raise ConfigError(f"sep must be one character other than the decimal mark, got {cfg.sep!r}; "
                          "e.g. --sep ';'")
    if cfg.anchor not in ANCHORS:
        raise ConfigError(f"unknown anchor {cfg.anchor!r}; choose one of {', '.join(ANCHORS)}")
    if cfg.folds < 1:
        raise ConfigError(f"--folds must be >= 1, got {cfg.folds}; e.g. --folds 5")
    if cfg.window not in WINDOWS:
        raise ConfigError(f"unknown window {cfg.window!r}; choose expanding or sliding")
    if cfg.trials < 1 or cfg.timeout < 0:
        raise ConfigError(f"--trials must be >= 1 and --timeout >= 0 (0: no limit), got {cfg.trials} "
                          f"and {cfg.timeout}; e.g. --trials 30")


def check_models(models: list[str]) -> list[str]:
    if not models:
        raise ConfigError("--models is empty; name at least one, e.g. --models lstm,gru")
    unknown = [m for m in models if m not in NETWORKS]
    if unknown:
        raise ConfigError(f"unknown model {unknown[0]!r}; choose from {', '.join(NETWORKS)}")
    if len(set(models)) != len(models):
        raise ConfigError("--models names a model twice; list each once")
    return models


def compare_models(cfg: FitConfig) -> list[str]:
    """The networks `compare` trains: --models, or the default family."""
    return list(cfg.models) if cfg.models else list(COMPARE_MODELS)


def check_sizes(lookback: int, horizon: int, val_size: float, test_size: float, stride: int = 1) -> None:
    if not isinstance(lookback, int) or lookback < 1:
        raise ConfigError(f"lookback must be an integer >= 1, got {lookback!r}; e.g. --lookback 64")
    if not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"horizon must be an integer >= 1, got {horizon!r}; e.g. --horizon 5")
    if not isinstance(stride, int) or stride < 1:
        raise ConfigError(f"stride must be an integer >= 1, got {stride!r}")
    for name, v in (("val_size", val_size), ("test_size", test_size)):
        if not 0 < v < 1:
            raise ConfigError(f"{name} must be a fraction between 0 and 1, got {v!r}; e.g. 0.15")
    if val_size + test_size >= 0.9:
        raise ConfigError(f"val_size + test_size = {val_size + test_size:.2f} leaves under 10% "
                          "for training; keep their sum below 0.9")


def dump_yaml(cfg: FitConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
