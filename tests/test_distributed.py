"""Several processes through Lightning's own DDP strategy: 2 CPU processes (gloo) launched by
the CLI itself, one run folder written by rank 0 only, a validation loss close to one process."""

import json
import os
import subprocess
import sys

from forecaster.config import FitConfig
from forecaster.runs.fit import fit
from forecaster.runs.folder import RUN_DIR_ENV

SETTINGS = ["--dataset", "ibm", "--max-epochs", "3", "--hidden-size", "16", "--num-layers", "1",
            "--lookback", "32", "--no-calendar", "--seed", "3"]


def test_ddp_with_two_cpu_processes_writes_one_run_close_to_a_single_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != RUN_DIR_ENV}
    env["FORECASTER_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run([sys.executable, "-m", "forecaster", "fit", *SETTINGS, "--accelerator", "cpu",
                           "--devices", "2", "--strategy", "ddp"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Starting with 2 processes" in done.stdout + done.stderr  # really two ranks
    assert done.stdout.count("report: ") == 1  # only rank 0 prints its summary
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1  # rank 1 reused rank 0's folder instead of making its own
    files = sorted(p.name for p in runs[0].iterdir() if p.name != ".forecaster.lock")
    assert files == ["checkpoints", "config.yaml", "forecasts.csv", "metrics.json", "model.json", "report.html"]
    ddp = json.loads((runs[0] / "metrics.json").read_text())

    single = fit(FitConfig(dataset="ibm", max_epochs=3, hidden_size=16, num_layers=1, lookback=32,
                           calendar=False, seed=3, out=str(tmp_path / "single")), progress=False)
    one, two = min(single.training.val_loss), min(ddp["training"]["val_loss"])
    # Two processes take half the steps per epoch at twice the batch: close, not identical.
    assert abs(two - one) / one < 0.1, (one, two)
    assert ddp["split"] == single.metrics["split"]  # the same windows were evaluated


def test_strategy_and_num_nodes_reach_the_trainer_and_bad_values_are_one_line(tmp_path, capsys):
    from forecaster.cli import main
    from forecaster.runs.pipeline import trainer_for

    trainer = trainer_for(FitConfig(accelerator="cpu", devices="1", strategy="ddp", num_nodes=2),
                          tmp_path, progress=False)
    assert trainer.num_nodes == 2 and type(trainer.strategy).__name__ == "DDPStrategy"
    assert main(["fit", "--dataset", "ibm", "--strategy", "warp-drive", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--strategy" in err and not (tmp_path / "x").exists()
