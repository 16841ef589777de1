import numpy as np
import pytest
import torch

from forecaster.data.season import Anchor
from forecaster.data.windows import WindowBatches, WindowDataModule, WindowDataset, window_view


def _series(T=50, F=3, C=1):
    x = torch.arange(T * F, dtype=torch.float32).view(T, F)
    y = torch.arange(T * C, dtype=torch.float32).view(T, C) * 10
    return x, y


def test_batch_holds_the_right_rows():
    x, y = _series()
    ds = WindowDataset(x, y, torch.tensor([0, 7, 20]), lookback=5, horizon=3)
    xb, yb, _ = ds[[0, 2]]
    assert xb.shape == (2, 5, 3) and yb.shape == (2, 3, 1)
    assert torch.equal(xb[1], x[20:25]) and torch.equal(yb[1], y[25:28])


def test_relative_targets_are_changes_from_the_cutoff():
    x, y = _series()
    ds = WindowDataset(x, y, torch.tensor([4]), lookback=5, horizon=3, relative=True)
    _, yb, _ = ds[[0]]
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
    seen = lambda dm: torch.cat([xb[:, 0, 0] for xb, _, _ in dm.train_dataloader()])
    a = WindowDataModule(x.numpy(), y.numpy(), starts, 10, 2, batch_size=32, seed=3)
    b = WindowDataModule(x.numpy(), y.numpy(), starts, 10, 2, batch_size=32, seed=3)
    order = seen(a)
    assert torch.equal(order, seen(b))
    assert sorted((order / 3).long().tolist()) == list(range(150))
    assert [xb.shape[0] for xb, _, _ in a.val_dataloader()] == [32, 32, 32, 32, 22]


@pytest.mark.parametrize("materialized", [1 << 22, 0])  # randperm, and the computed order beyond it
@pytest.mark.parametrize("n, world, batch", [(150, 2, 32), (151, 2, 32), (10, 3, 4), (7, 4, 64), (1, 2, 8),
                                             (70_001, 3, 256)])
def test_sharded_batches_split_every_window_evenly_between_processes(n, world, batch, materialized):
    for shuffle in (False, True):
        shards = [list(WindowBatches(n, batch, shuffle, seed=1, rank=r, world=world, materialized=materialized))
                  for r in range(world)]
        lengths = {len(s) for s in shards}
        assert len(lengths) == 1 and lengths == {len(WindowBatches(n, batch, world=world))}  # same step count
        assert all(b.dtype == torch.int32 and len(b) <= batch for s in shards for b in s)
        got = torch.cat([torch.cat(s) for s in shards])
        assert set(got.tolist()) == set(range(n))  # every window, in some process
        assert len(got) - n == -(-n // world) * world - n  # padding only to even the shards out
        single = torch.cat(list(WindowBatches(n, batch, shuffle, seed=1, materialized=materialized)))
        assert sorted(single.tolist()) == list(range(n))


def test_a_computed_order_is_reproducible_and_as_shuffled_as_randperm():
    """Beyond `materialized` windows the order is a keyed permutation computed per chunk: the
    same (seed, epoch) gives the same order, another epoch another one, and it shows none of
    the structure a bad shuffle leaves (a trend, neighbours close together, batches from one
    stretch of the series)."""
    n, batch = 100_003, 256
    order = lambda seed, epoch: torch.cat(list(WindowBatches(n, batch, True, seed, lambda: epoch,
                                                             materialized=0))).double()
    a = order(1, 0)
    assert torch.equal(a, order(1, 0)) and not torch.equal(a, order(1, 1)) and not torch.equal(a, order(2, 0))
    position = torch.arange(n, dtype=torch.float64)
    assert abs(torch.corrcoef(torch.stack([position, a]))[0, 1]) < 0.02  # no trend
    assert abs(torch.corrcoef(torch.stack([a[:-1], a[1:]]))[0, 1]) < 0.02  # neighbours unrelated
    batches = a[: 200 * batch].view(200, batch)  # (200, B)
    assert (batches.mean(1) / n - 0.5).abs().max() < 0.1  # each batch spans the series...
    deciles = (batches * 10 // n).long()
    assert all(len(torch.unique(d)) == 10 for d in deciles)  # ... every tenth of it
    assert (torch.bincount(deciles.flatten(), minlength=10) / deciles.numel() - 0.1).abs().max() < 0.01


def test_batches_scaled_on_the_fly_equal_those_of_the_materialized_copy():
    """The frame's own columns scaled as each batch is gathered give, bit for bit, the batches of
    the old scaled float32 (T, F) copy: (x - mean) / std in float64, float32 result."""
    from forecaster.data.rows import ScaledSeries, WindowStarts

    rng = np.random.default_rng(0)
    raw = rng.normal(5, 3, size=(300, 3)).astype(np.float32)  # (T, F) as a frame holds it
    mean, std = np.array([5.1, -0.2, 0.0]), np.array([2.9, 1.1, 1.0])
    old = ((raw.astype(np.float64) - mean) / std).astype(np.float32)  # the materialized copy
    scaled = ScaledSeries([raw[:, j] for j in range(3)], mean, std)
    assert np.shares_memory(scaled.columns[0], raw)
    np.testing.assert_array_equal(scaled.to_array(), old)
    starts = WindowStarts.of(np.r_[0:100, 150:260])
    for relative, k, future in ((False, 0, []), (True, 0, [2]), (True, 2, [1, 2])):
        new_ds = WindowDataset(scaled, scaled.head(1), starts, 24, 5, relative=relative,
                               anchor=Anchor(np.array([0, 0, -3, -3, 0])), relative_inputs=k,
                               future_columns=future)
        old_ds = WindowDataset(torch.from_numpy(old), torch.from_numpy(old[:, :1].copy()),
                               torch.from_numpy(starts.rows()), 24, 5, relative=relative,
                               anchor=Anchor(np.array([0, 0, -3, -3, 0])), relative_inputs=k,
                               future_columns=future)
        idx = torch.randperm(len(starts))[:64].int()
        new, old_batch = new_ds[idx], old_ds[idx]
        assert (new.future is None) == (not future)
        for a, b in zip(new, old_batch):
            assert (a is None and b is None) or torch.equal(a, b)


def test_a_panel_scales_each_series_by_its_own_scaler():
    from forecaster.data.rows import ScaledSeries

    rng = np.random.default_rng(1)
    parts = [(rng.normal(size=n), np.array([rng.normal()]), np.array([rng.uniform(1, 2)])) for n in (40, 7, 60)]
    panel = ScaledSeries.concat([ScaledSeries([x], m, s) for x, m, s in parts])
    old = np.concatenate([((x - m) / s).astype(np.float32) for x, m, s in parts])[:, None]  # (T, 1)
    np.testing.assert_array_equal(panel.to_array(), old)
    rows = np.array([[0, 1, 2], [40, 41, 42], [45, 46, 46], [47, 80, 106]])  # (B, 3), one series each
    np.testing.assert_array_equal(panel.take(rows), old[rows])


def test_columns_lying_end_to_end_are_joined_without_a_copy():
    from forecaster.data.rows import join

    base = np.arange(40, dtype=np.float64).reshape(20, 2)  # (T, K): column views of stride 16 bytes
    parts = [base[0:5, 1], base[5:12, 1], base[12:20, 1]]
    joined = join(parts)
    assert np.shares_memory(joined, base) and np.array_equal(joined, base[:, 1])
    apart = join([base[0:5, 1], base[6:12, 1]])  # a row left out: copied
    assert not np.shares_memory(apart, base) and np.array_equal(apart, np.r_[base[0:5, 1], base[6:12, 1]])


def test_window_numbers_map_onto_run_length_starts_as_onto_the_plain_array():
    from forecaster.data.rows import WindowStarts

    plain = np.r_[3:50:2, 61:90:2, 200:203:2]  # three runs of stride 2 between gaps
    starts = WindowStarts(np.array([3, 61, 200]), np.array([24, 15, 2]), stride=2)
    np.testing.assert_array_equal(starts.rows(), plain)
    assert len(starts) == len(plain) and starts[0] == plain[0] and starts[len(plain) - 1] == plain[-1]
    idx = np.random.default_rng(0).permutation(len(plain))
    np.testing.assert_array_equal(starts[idx], plain[idx])
    for a, b in ((0, 5), (20, 30), (38, 41), (0, 41), (10, 10)):
        np.testing.assert_array_equal(starts[a:b].rows(), plain[a:b])
    np.testing.assert_array_equal(WindowStarts.of(plain[idx]).rows(), plain[idx])  # any array as runs
    both = WindowStarts.concat([starts, starts.shifted(1000)])  # two series end to end
    np.testing.assert_array_equal(both.rows(), np.r_[plain, plain + 1000])
    np.testing.assert_array_equal(both[np.array([0, 41, 81])], [3, 1003, 1202])
