"""Property-based checks of the split, scaling and windows, over random shapes."""

import numpy as np
import pandas as pd
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster.data.frame import validate_frame
from forecaster.data.prepare import prepare
from forecaster.data.windows import WindowDataModule


@settings(max_examples=40, deadline=None)
@given(n=st.integers(80, 500), lookback=st.integers(1, 30), horizon=st.integers(1, 8),
       stride=st.integers(1, 3), val=st.floats(0.1, 0.3), test=st.floats(0.1, 0.3),
       seed=st.integers(0, 10_000))
def test_windows_splits_and_scaling(n, lookback, horizon, stride, val, test, seed):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    frame = pd.DataFrame({"y": rng.normal(size=n).cumsum() + 50, "x": rng.normal(size=n)}, index=index)
    vf = validate_frame(frame, ["y"], ["x"])
    try:
        p = prepare(vf, lookback, horizon, val, test, transform="level", calendar=False, stride=stride)
    except Exception as err:  # too short for these sizes: must say so, never return bad windows
        assert "too short" in str(err)
        return
    L, H = lookback, horizon
    for split, (first, end) in p.bounds.items():
        s = p.starts[split].rows()
        assert len(s) > 0
        assert (s + L >= first).all() and (s + L + H <= end).all()  # targets inside the split
        assert (s >= 0).all() and (np.diff(s) > 0).all()
        lo = 0 if split == "train" else first - L
        assert len(s) == len(range(max(lo, 0), end - L - H + 1, stride))  # the count formula
    assert p.bounds["train"][1] == p.bounds["val"][0] and p.bounds["val"][1] == p.bounds["test"][0]

    # Scaling statistics come from the training rows only.
    train_rows = vf.data.to_numpy()[: p.bounds["train"][1]]
    np.testing.assert_allclose(p.input_scaler.mean, train_rows.mean(axis=0))
    np.testing.assert_allclose(p.input_scaler.std, train_rows.std(axis=0))

    # Windows are contiguous rows of the source, and the dataset shares its memory.
    dm = WindowDataModule(p.scaled, p.scaled.head(1), p.starts, L, H)
    assert np.shares_memory(dm.inputs.columns[0], vf.data["y"].to_numpy())  # the frame's own memory
    assert dm.targets.columns[0] is dm.inputs.columns[0]  # the targets are the inputs' first columns
    ds = dm.dataset("test")
    x, y, _ = ds[torch.arange(len(ds))]
    for i, s in enumerate(p.starts["test"][:5]):
        assert torch.equal(x[i], torch.from_numpy(p.inputs[s:s + L]))
        assert torch.equal(y[i], torch.from_numpy(p.targets[s + L:s + L + H]))
