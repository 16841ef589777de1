"""`make bench-peers` without the peers: the floor's and forecaster's runners, run by
bench_peers.py as the make target runs them, each print their JSON line and the table holds
both. The Darts and NeuralForecast runners need .venv-peers and are not run here; these two
need only the project's own environment, so an API change that breaks them fails here (the
floor's prediction loop once unpacked a batch as two fields after it had gained a third)."""

import json
import subprocess
import sys
from pathlib import Path

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"


def test_the_floor_and_forecaster_runners_score_the_same_task(tmp_path):
    jsonl = tmp_path / "peers.jsonl"
    proc = subprocess.run([sys.executable, str(PEERS / "bench_peers.py"), "--rounds", "1", "--only", "floor",
                           "forecaster", "--python", sys.executable, "--jsonl", str(jsonl)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    runs = {r["name"]: r for r in map(json.loads, jsonl.read_text().splitlines())}
    assert set(runs) == {"floor", "forecaster"}, proc.stdout[-2000:]
    for r in runs.values():
        assert r["test_windows"] == 2_729 and r["train_s"] > 0 and r["predict_s"] > 0
        assert 0.5 < r["mae_ratio"] < 0.8  # both beat the naive forecast by about 30%
    # the same network, data and seed: the two train to nearly the same test error
    assert abs(runs["forecaster"]["mae"] / runs["floor"]["mae"] - 1) < 0.01
    assert runs["forecaster"]["epochs"] == 5
    table = proc.stdout[proc.stdout.index("| framework"):]
    assert "| PyTorch loop (floor) | - |" in table and "| forecaster | fit's defaults |" in table
