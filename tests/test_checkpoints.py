"""The Trainer's per-epoch bookkeeping: which checkpoint holds which epoch, how often the state is
serialized, resuming after an epoch without a new best, and torch's flags around a fit."""

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from interrupts import InterruptAt
from forecaster.data.windows import WindowDataModule
from forecaster.nets.build import build_network
from forecaster.training.module import ForecastModule
from forecaster.training.trainer import TrainingInterrupted, make_trainer, train


def windows() -> WindowDataModule:
    t = np.arange(300, dtype=np.float32)
    x = np.sin(2 * np.pi * t / 24)[:, None]  # (T, 1)
    starts = {"train": np.arange(0, 200), "val": np.arange(220, 270)}
    return WindowDataModule(x, x, starts, lookback=16, horizon=3, batch_size=32, seed=1)


def module(cls=ForecastModule) -> ForecastModule:
    torch.manual_seed(0)
    return cls(build_network("gru", 1, 3, 1, hidden_size=8, num_layers=1), learning_rate=1e-2)


class NeverImproves(ForecastModule):
    """Trains as usual, but reports a validation loss that only grows (1, 2, 3, ...)."""

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", float(self.current_epoch + 1), on_epoch=True, batch_size=len(batch[0]))


def saved(run_dir, name: str) -> dict:
    return torch.load(run_dir / "checkpoints" / f"{name}.ckpt", weights_only=True)


def test_last_ckpt_holds_the_last_epoch_even_without_a_new_best(tmp_path):
    result = train(module(NeverImproves), windows(), make_trainer(tmp_path, max_epochs=3, patience=0, progress=False))
    assert result.val_loss == [1.0, 2.0, 3.0] and result.best_epoch == 1
    assert saved(tmp_path, "best")["epoch"] == 0 and saved(tmp_path, "last")["epoch"] == 2
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]  # no temporaries


def test_each_epoch_serializes_its_state_once(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, max_epochs=3, patience=0, progress=False)
    calls = []
    real = trainer.save_checkpoint
    monkeypatch.setattr(trainer, "save_checkpoint", lambda *a, **k: (calls.append(a[0]), real(*a, **k))[1])
    result = train(module(), windows(), trainer)
    assert len(calls) == 3  # one per epoch, whether it wrote best.ckpt, last.ckpt or both
    last = tmp_path / "checkpoints" / "last.ckpt"
    if result.best_epoch == 3:  # the last epoch was the best: last.ckpt is best.ckpt's bytes
        assert last.read_bytes() == (tmp_path / "checkpoints" / "best.ckpt").read_bytes()
    state = saved(tmp_path, "last")
    checkpoint_state = next(v for k, v in state["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert state["epoch"] == 2 and checkpoint_state["last_model_path"] == str(last)


def test_resuming_after_an_epoch_without_a_new_best_repeats_only_the_interrupted_epoch(tmp_path, recwarn):
    data = windows()
    whole = train(module(NeverImproves), data, make_trainer(tmp_path / "whole", max_epochs=4, patience=0, progress=False))

    cut = make_trainer(tmp_path / "cut", max_epochs=4, patience=0, progress=False)
    cut.callbacks.insert(0, InterruptAt(epoch=2, batch=1))
    with pytest.raises(TrainingInterrupted, match="last completed epoch"):
        train(module(NeverImproves), data, cut)
    assert saved(tmp_path / "cut", "last")["epoch"] == 1  # epoch 2 of 4 completed, though epoch 1 was best
    assert saved(tmp_path / "cut", "best")["epoch"] == 0

    again = make_trainer(tmp_path / "cut", max_epochs=4, patience=0, progress=False)
    resumed = train(module(NeverImproves), data, again, resume_from=tmp_path / "cut" / "checkpoints" / "last.ckpt")
    a, b = saved(tmp_path / "whole", "last")["state_dict"], saved(tmp_path / "cut", "last")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.val_loss == whole.val_loss and resumed.best_epoch == 1
    assert resumed.grad_norms == whole.grad_norms  # the same steps, none repeated or lost
    assert not [w for w in recwarn if "exists and is not empty" in str(w.message)]  # its own folder: no warning


def test_training_is_deterministic_and_the_callers_torch_flags_come_back(tmp_path):
    seen = []

    class Flags(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.append((torch.are_deterministic_algorithms_enabled(),
                         torch.utils.deterministic.fill_uninitialized_memory))

    before = torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory
    trainer = make_trainer(tmp_path, max_epochs=1, patience=0, progress=False, callbacks=[Flags()])
    assert (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory) == before
    train(module(), windows(), trainer)
    # Deterministic algorithms while training, without NaN-filling every new tensor (1.16x slower
    # CPU training on the small task); the caller's own settings afterwards.
    assert set(seen) == {(True, False)}
    assert (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory) == before


def test_adam_is_torchs_fused_kernel_on_the_cpu_and_trains_as_the_loop_does(tmp_path):
    def losses(fused: bool) -> list[float]:
        m = module()
        adam = m.configure_optimizers() if fused else torch.optim.Adam(m.parameters(), lr=1e-2)
        assert adam.defaults["fused"] is (True if fused else None)
        torch.manual_seed(1)
        out = []
        for _ in range(30):
            x = torch.randn(16, 16, 1)
            loss = m(x).pow(2).mean()
            adam.zero_grad()
            loss.backward()
            adam.step()
            out.append(loss.item())
        return out

    assert losses(True) == pytest.approx(losses(False), rel=1e-5)  # the same optimizer, one kernel
    meta = module().to("meta")  # a device without the fused kernel: torch's default path
    assert meta.configure_optimizers().defaults["fused"] is None


def test_lightnings_per_hook_attribute_skips_module_bookkeeping_and_the_rest_does_not(monkeypatch):
    m, linear, scale = module(), torch.nn.Linear(2, 2), torch.nn.Parameter(torch.ones(1))
    through_module = []
    real = torch.nn.Module.__setattr__
    monkeypatch.setattr(torch.nn.Module, "__setattr__",
                        lambda self, name, value: (through_module.append(name), real(self, name, value))[1])
    m._current_fx_name = "training_step"  # Lightning sets it around every hook call
    m._loss_sum = 1.5
    assert m._current_fx_name == "training_step" and m._loss_sum == 1.5 and through_module == []
    m.extra, m.scale = linear, scale  # anything else still goes through nn.Module
    assert through_module == ["extra", "scale"]
    assert "extra" in m._modules and "scale" in dict(m.named_parameters())
