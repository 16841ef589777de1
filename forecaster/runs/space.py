"""The search space of `tune`: which config fields a trial varies, and over what.

A space is a YAML mapping of FitConfig keys; each entry is either a list (a categorical choice
among those values) or a mapping `{low, high, log?, step?}` (an integer or float range; `log`
samples on a log scale, `step` on a grid):

    model: [lstm, gru]
    hidden_size: {low: 16, high: 256, log: true}
    dropout: {low: 0.0, high: 0.5}

Every value is checked against the command's own config when the space is read, so a bad
space fails in one line before any trial trains. The built-in space is `DEFAULT_SPACE`, shipped
as configs/tune-space.yaml too. No torch and no Optuna here: `suggest` takes any object with
Optuna's `suggest_*` methods.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from forecaster.config import FIELDS, FitConfig, make_config
from forecaster.errors import ConfigError

# The built-in space (configs/tune-space.yaml holds the same): the networks of the family that
# train well on a few thousand rows, and the sizes, regularization and optimizer settings
# around the defaults.
DEFAULT_SPACE: dict[str, Any] = {
    "model": ["lstm", "gru", "rnn", "segrnn", "seq2seq-attn"],
    "lookback": {"low": 16, "high": 128, "step": 16},
    "hidden_size": {"low": 16, "high": 256, "log": True},
    "num_layers": {"low": 1, "high": 3},
    "dropout": {"low": 0.0, "high": 0.5},
    "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
    "batch_size": [32, 64, 128, 256],
}
# What a trial never varies: the data, where a run writes, the command's own options, the
# processes and hardware it runs on, and the seed (a search over seeds picks a lucky one).
FIXED_GROUPS = ("data", "output", "commands")
FIXED = ("accelerator", "devices", "strategy", "num_nodes", "precision", "seed")
RANGE_KEYS = ("low", "high", "log", "step")


@dataclass(frozen=True)
class Choice:
    """A categorical parameter: one of `values`."""

    name: str
    values: tuple[Any, ...]

    def suggest(self, trial: Any) -> Any:
        return trial.suggest_categorical(self.name, list(self.values))

    def describe(self) -> list[Any]:
        return list(self.values)


@dataclass(frozen=True)
class Range:
    """An integer or float parameter between `low` and `high` (both included)."""

    name: str
    low: int | float
    high: int | float
    log: bool = False
    step: int | float | None = None

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int)

    def suggest(self, trial: Any) -> int | float:
        if self.integer:
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Choice | Range, ...]
    source: str  # the file it came from, or "the built-in space"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One trial's values of every parameter, drawn by `trial` (an Optuna trial)."""
        return {p.name: p.suggest(trial) for p in self.params}

    def describe(self) -> dict[str, Any]:
        """The space as its YAML mapping."""
        return {p.name: p.describe() for p in self.params}


def load_space(path: str | Path | None, base: FitConfig) -> SearchSpace:
    """The space in the YAML file `path` (None: the built-in space), every value checked
    against `base`, the config the trials start from."""
    if path is None:
        return parse_space(DEFAULT_SPACE, base, "the built-in space")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"tune space file not found: {path}; check the --space path "
                          "(configs/tune-space.yaml is the built-in space)")
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ConfigError(f"tune space file {path} is not valid YAML; fix its syntax") from None
    return parse_space(entries, base, str(path))


def parse_space(entries: Any, base: FitConfig, source: str) -> SearchSpace:
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"tune space {source} must be a mapping of config keys to a list of "
                          "choices or {low, high}, e.g. 'hidden_size: {low: 16, high: 256}'")
    params = []
    for key, spec in entries.items():
        name = check_name(str(key).replace("-", "_"), source)
        if isinstance(spec, list):
            params.append(parse_choice(name, spec, base, source))
        elif isinstance(spec, dict):
            params.append(parse_range(name, spec, base, source))
        else:
            raise ConfigError(f"tune space {source}: {name} is {spec!r}; give a list of choices, e.g. "
                              f"[a, b], or a range {{low: .., high: ..}} (a fixed value belongs in --config)")
    return SearchSpace(tuple(params), source)


def check_name(name: str, source: str) -> str:
    if name not in FIELDS:
        close = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown key {name!r} in tune space {source}{hint}; the keys are config "
                          "keys such as model, lookback, hidden_size, learning_rate")
    f = FIELDS[name]
    why = ("trials share the data, outputs, hardware and seed"
           if f.metadata["group"] in FIXED_GROUPS or name in FIXED else
           "its value is a list" if f.metadata.get("list") else "")
    if why:
        raise ConfigError(f"tune space {source}: {name} cannot be searched ({why}); set it with its "
                          "flag or --config instead")
    return name


def checked(name: str, value: Any, base: FitConfig, source: str) -> Any:
    """`value` of field `name` as the config types it, valid on top of `base`."""
    layer = {k: v for k, v in base.to_dict().items() if k != name}
    try:
        return getattr(make_config(layer, {name: value}, source=f"tune space {source}"), name)
    except ConfigError as err:
        raise ConfigError(f"tune space {source}: {name}: {err}") from None


def parse_choice(name: str, spec: list, base: FitConfig, source: str) -> Choice:
    if not spec:
        raise ConfigError(f"tune space {source}: {name} is an empty list; name at least one choice")
    if not all(v is None or isinstance(v, (str, int, float, bool)) for v in spec):
        raise ConfigError(f"tune space {source}: {name} choices must be single values, got {spec!r}")
    values = tuple(checked(name, v, base, source) for v in spec)
    if len(set(values)) != len(values):
        raise ConfigError(f"tune space {source}: {name} lists a choice twice; list each once")
    return Choice(name, values)


def parse_range(name: str, spec: dict, base: FitConfig, source: str) -> Range:
    kind = type(FIELDS[name].default)
    if kind not in (int, float):
        raise ConfigError(f"tune space {source}: {name} is not a number, so it takes a list of "
                          f"choices, e.g. {name}: [{FIELDS[name].default}, ...], not a range")
    unknown = [k for k in spec if k not in RANGE_KEYS]
    if unknown or "low" not in spec or "high" not in spec:
        raise ConfigError(f"tune space {source}: {name} must be {{low, high}} with optional log "
                          f"(true/false) and step, got {spec!r}")
    low, high = (checked(name, spec[k], base, source) for k in ("low", "high"))
    log, step = spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        raise ConfigError(f"tune space {source}: {name}: log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"tune space {source}: {name}: low {low} must be below high {high} "
                          "(a fixed value belongs in --config)")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0 \
                or (kind is int and not float(step).is_integer()):
            raise ConfigError(f"tune space {source}: {name}: step must be a positive "
                              f"{'integer' if kind is int else 'number'}, got {step!r}")
        step = kind(step)
        if not math.isclose((high - low) / step, round((high - low) / step)):
            raise ConfigError(f"tune space {source}: {name}: high - low ({high} - {low}) must be a "
                              f"multiple of step {step}, so that high is on the grid")
    if log and (low <= 0 or (step is not None and step != 1)):
        raise ConfigError(f"tune space {source}: {name}: a log range needs low > 0 and no step, "
                          f"got low {low}, step {step}")
    return Range(name, low, high, log, step)


def trial_config(base: FitConfig, params: dict[str, Any], source: str) -> FitConfig:
    """`base` with a trial's `params` on top, checked as one config (a combination can be
    invalid where each value alone is not, e.g. bidirectional with jordan)."""
    return make_config(base.to_dict(), params, source=source)


def params_text(params: dict[str, Any]) -> str:
    """`model gru, lookback 48, learning_rate 0.00123`: a trial's values in one line."""
    return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items())
