"""A fit prints the progress bar, our summary and warnings that concern the user: Lightning's
cloud-logger advert and the pytree FutureWarning from inside Lightning are filtered at their
source, narrowly (issue #17, part 5)."""

import subprocess
import sys
import warnings

from forecaster.training import trainer


def test_fit_prints_no_library_noise(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "forecaster", "fit", "--dataset", "ibm", "--max-epochs", "1",
                           "--lookback", "16", "--hidden-size", "8", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Tip:" not in proc.stderr and "litlogger" not in proc.stderr
    assert "LeafSpec" not in proc.stderr
    assert "TPU available" not in proc.stderr and "GPU available: False" not in proc.stderr
    assert "Diebold-Mariano" in proc.stdout and "report: " in proc.stdout  # our own summary stays


def test_the_filters_are_narrow():
    import logging

    def passes(msg: str) -> bool:
        return trainer._not_an_advert(logging.LogRecord("lightning.pytorch.utilities.rank_zero",
                                                        logging.INFO, __file__, 1, msg, None, None))

    assert passes("GPU available: True (cuda), used: False")  # a GPU left unused concerns the user
    assert passes("`Trainer.fit` stopped: `max_epochs=3` reached.")  # Lightning's other messages pass
    assert not passes("GPU available: False, used: False") and not passes("TPU available: False, using: 0 TPU cores")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                category=FutureWarning, module=r"lightning\.pytorch\.utilities\._pytree")
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning)  # raised from here
    assert len(seen) == 1  # the same message from any other module still shows


def test_overwrite_starts_from_clean_checkpoints(tmp_path):
    """--overwrite removes the earlier run's checkpoints (none can mix with the new ones), so
    Lightning has no stale checkpoint folder to warn about."""
    stale = tmp_path / "run" / "checkpoints" / "epoch=9.ckpt"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    proc = subprocess.run([sys.executable, "-m", "forecaster", "fit", "--dataset", "ibm", "--max-epochs", "1",
                           "--lookback", "16", "--hidden-size", "8", "--out", str(tmp_path / "run"),
                           "--overwrite"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "exists and is not empty" not in proc.stderr
    assert not stale.exists() and (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()


def test_no_loader_worker_advice_on_a_many_core_machine(tmp_path, monkeypatch):
    """Lightning advises DataLoader workers wherever it counts more than 2 cores (so never on
    a 2-core machine, always on a laptop or a GPU server); the batches come from in-memory
    windows, so `train` filters that advice, and only that."""
    import numpy as np
    from lightning.fabric.utilities import data as fabric_data

    from forecaster.data.windows import WindowDataModule
    from forecaster.nets.build import build_network
    from forecaster.training.module import ForecastModule

    monkeypatch.setattr(fabric_data, "_num_cpus_available", lambda: 16)
    x = np.random.default_rng(0).standard_normal((200, 1)).astype(np.float32)
    data = WindowDataModule(x, x, {"train": np.arange(100), "val": np.arange(120, 150)}, 16, 4, batch_size=32, seed=0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        trainer.train(ForecastModule(build_network("lstm", 1, 4, 1, hidden_size=8)), data,
                      trainer.make_trainer(tmp_path, max_epochs=1, patience=0, progress=False, accelerator="cpu"))
        warnings.warn("The 'train_dataloader' does not have many workers", UserWarning)  # from here: shown
    messages = [str(w.message) for w in seen]
    assert [m for m in messages if "does not have many workers" in m] == ["The 'train_dataloader' does not have many workers"]
