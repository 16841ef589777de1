"""The layers stay layered: imports go downward only (data, nets, training, evaluation, report,
runs, export, cli), report code never reaches torch, networks never import pandas or Lightning, config
never imports torch, no import circle, and no module grows past the size a reader can hold."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "forecaster"
# Lower layers first; a module may import its own layer or any below it. The base modules
# (config, errors, _io and the package's own __init__) are below every layer.
LAYERS = ["base", "data", "nets", "training", "evaluation", "report", "runs", "export", "cli"]
BASE = {"forecaster", "forecaster.config", "forecaster.errors", "forecaster._io"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> str:
    if name in BASE:
        return "base"
    if name in ("forecaster.cli", "forecaster.__main__"):
        return "cli"
    return name.split(".")[1]


def imports(path: Path) -> set[str]:
    """Every module a file imports at module level or inside functions (absolute names)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def internal(path: Path, known: dict[str, Path]) -> set[str]:
    return {n for n in imports(path) if n in known and n != module_name(path)}


def test_every_module_sits_in_a_known_layer():
    assert {layer(n) for n in modules()} <= set(LAYERS)


def test_imports_only_go_downward():
    known = modules()
    wrong = [f"{name} ({layer(name)}) imports {dep} ({layer(dep)})"
             for name, path in known.items() for dep in internal(path, known)
             if name != "forecaster" and LAYERS.index(layer(dep)) > LAYERS.index(layer(name))]
    assert not wrong, wrong


def test_no_import_circle():
    known = modules()
    graph = {name: internal(path, known) - {"forecaster"} for name, path in known.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                raise AssertionError(" -> ".join([*trail[trail.index(dep):], dep]))
            if dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("package, banned", [
    ("nets", {"pandas", "lightning"}),
    ("report", {"torch", "lightning"}),
    ("evaluation", {"torch", "lightning"}),
])
def test_layers_keep_their_libraries_out(package, banned):
    for name, path in modules().items():
        if layer(name) == package:
            used = {n.split(".")[0] for n in imports(path)}
            assert not used & banned, f"{name} imports {used & banned}"


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_report_and_config_never_load_torch():
    """Checked in a fresh interpreter: what the imports pull in transitively, not only their text."""
    loaded = _loaded_after("import forecaster.report.fit, forecaster.report.compare, "
                           "forecaster.report.panel, forecaster.report.backtest, forecaster.report.forecast")
    assert "torch" not in loaded and "lightning" not in loaded
    loaded = _loaded_after("import forecaster.cli; from forecaster.config import make_config; "
                           "make_config({'model': 'gru'})")
    assert "torch" not in loaded and "pandas" not in loaded  # --version and flag checks stay cheap


def test_predict_never_loads_lightning(tmp_path):
    """A forecast from a finished run needs the network and the data, not the training framework:
    Lightning was about 2 s of `forecaster predict`'s start (BENCHMARKS.md "Latency"). yfinance is
    for tickers only, plotly for the HTML page only."""
    from forecaster.config import FitConfig
    from forecaster.runs.fit import fit

    run = tmp_path / "run"
    fit(FitConfig(dataset="aapl", max_epochs=1, hidden_size=8, num_layers=1, lookback=20, horizon=5,
                  patience=0, out=str(run)), progress=False)
    loaded = _loaded_after(f"from forecaster.runs.predict import forecast; forecast({str(run)!r})")
    assert "torch" in loaded and "forecaster.runs.predict" in loaded  # the check ran
    assert not {"lightning", "pytorch_lightning", "yfinance", "plotly"} & loaded


def test_layout_stays_readable():
    top = [p for p in PACKAGE.glob("*.py")]
    assert len(top) <= 12, [p.name for p in top]
    long = {n: len(p.read_text().splitlines()) for n, p in modules().items()}
    assert all(v <= 400 for v in long.values()), {n: v for n, v in long.items() if v > 400}
