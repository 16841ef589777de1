import numpy as np
import pytest
import torch

from forecaster.data.windows import WindowBatches, WindowDataModule, WindowDataset, window_view


def _series(T=50, F=3, C=1):
    x = torch.arange(T * F, dtype=torch.float32).view(T, F)
    y = torch.arange(T * C, dtype=torch.float32).view(T, C) * 10
    return x, y


def test_batch_holds_the_right_rows():
    x, y = _series()
    ds = WindowDataset(x, y, torch.tensor([0, 7, 20]), lookback=5, horizon=3)
    xb, yb = ds[[0, 2]]
    assert xb.shape == (2, 5, 3) and yb.shape == (2, 3, 1)
    assert torch.equal(xb[1], x[20:25]) and torch.equal(yb[1], y[25:28])


def test_relative_targets_are_changes_from_the_cutoff():
    x, y = _series()
    ds = WindowDataset(x, y, torch.tensor([4]), lookback=5, horizon=3, relative=True)
    _, yb = ds[[0]]
    assert torch.equal(yb[0, :, 0], y[9:12, 0] - y[8, 0])


def test_windows_are_views_not_copies():
    inputs = np.random.default_rng(0).normal(size=(1000, 4)).astype(np.float32)
    dm = WindowDataModule(inputs, inputs[:, :1].copy(), {"train": np.arange(900)}, 64, 8)
    assert np.shares_memory(dm.inputs.numpy(), inputs)  # no copy of the series
    ds = dm.dataset("train")
    assert ds.inputs.data_ptr() == dm.inputs.data_ptr()
    view = window_view(dm.inputs, 64)
    assert view.shape == (937, 64, 4) and view.data_ptr() == dm.inputs.data_ptr()
    assert view.untyped_storage().nbytes() == inputs.nbytes  # 937 windows, storage of 1 series


def test_loaders_cover_every_window_once_and_shuffle_reproducibly():
    x, y = _series(T=200)
    starts = {k: np.arange(0, 150) for k in ("train", "val", "test")}
    seen = lambda dm: torch.cat([xb[:, 0, 0] for xb, _ in dm.train_dataloader()])
    a = WindowDataModule(x.numpy(), y.numpy(), starts, 10, 2, batch_size=32, seed=3)
    b = WindowDataModule(x.numpy(), y.numpy(), starts, 10, 2, batch_size=32, seed=3)
    order = seen(a)
    assert torch.equal(order, seen(b))
    assert sorted((order / 3).long().tolist()) == list(range(150))
    assert [xb.shape[0] for xb, _ in a.val_dataloader()] == [32, 32, 32, 32, 22]


@pytest.mark.parametrize("n, world, batch", [(150, 2, 32), (151, 2, 32), (10, 3, 4), (7, 4, 64)])
def test_sharded_batches_split_every_window_evenly_between_processes(n, world, batch):
    for shuffle in (False, True):
        shards = [list(WindowBatches(n, batch, shuffle, seed=1, rank=r, world=world)) for r in range(world)]
        lengths = {len(s) for s in shards}
        assert len(lengths) == 1 and lengths == {len(WindowBatches(n, batch, world=world))}  # same step count
        got = torch.cat([torch.cat(s) for s in shards])
        assert set(got.tolist()) == set(range(n))  # every window, in some process
        assert len(got) - n == -(-n // world) * world - n  # padding only to even the shards out
        single = torch.cat(list(WindowBatches(n, batch, shuffle, seed=1)))
        assert sorted(single.tolist()) == list(range(n))
