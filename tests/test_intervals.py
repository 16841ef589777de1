import math

import numpy as np
import pytest

from forecaster.evaluation.intervals import (conformal_interval, conformal_quantile, coverage,
                                  gaussian_interval, scores)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.95])
def test_true_quantiles_cover_the_nominal_share(level):
    rng = np.random.default_rng(0)
    forecast = rng.normal(size=(20_000, 3, 1))
    actual = forecast + rng.normal(size=forecast.shape)  # errors N(0, 1), known
    lower, upper = gaussian_interval(forecast, np.ones_like(forecast), level)
    cov, width = coverage(actual, lower, upper)
    assert cov == pytest.approx(level, abs=0.01)
    from statistics import NormalDist
    assert width == pytest.approx(2 * NormalDist().inv_cdf(0.5 + level / 2))


@pytest.mark.parametrize("scale", ["abs", "log"])
def test_split_conformal_covers_on_fresh_data(scale):
    rng = np.random.default_rng(1)
    def sample(n):
        forecast = np.exp(rng.normal(3, 0.5, size=(n, 4, 1)))
        noise = rng.standard_t(df=4, size=forecast.shape) * np.array([1, 2, 3, 4])[None, :, None] * 0.05
        return forecast, (forecast * np.exp(noise) if scale == "log" else forecast + noise * 10)
    cal_f, cal_a = sample(500)
    q = conformal_quantile(scores(cal_a, cal_f, scale), 0.8)
    assert q.shape == (4, 1) and (np.diff(q[:, 0]) > 0).all()  # wider further ahead
    test_f, test_a = sample(20_000)
    cov, _ = coverage(test_a, *conformal_interval(test_f, q, scale))
    assert 0.78 <= cov <= 0.84


def test_conformal_quantile_is_the_kth_smallest_and_holds_no_calibration_array():
    """The quantile is its own (H, C) array: a view would keep the whole (N, H, C) sorted scores
    alive beside each series' card (137 MB over 10,000 series)."""
    cal = np.random.default_rng(0).exponential(size=(500, 6, 2))
    q = conformal_quantile(cal, 0.8)
    np.testing.assert_array_equal(q, np.sort(cal, axis=0)[math.ceil(501 * 0.8) - 1])
    assert q.base is None and q.nbytes == 6 * 2 * 8


def test_conformal_quantile_by_hand():
    cal = np.arange(1, 10, dtype=float)[:, None, None]  # scores 1..9, n = 9
    assert conformal_quantile(cal, 0.8)[0, 0] == 8  # ceil(10 * 0.8) = 8th smallest
    assert np.isinf(conformal_quantile(cal, 0.95)[0, 0])  # ceil(9.5) = 10 > n


def test_coverage_by_hand_skips_unobserved():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    lower, upper = np.array([0.0, 2.5, 2.0, 0.0]), np.array([2.0, 3.0, 4.0, 1.0])
    assert coverage(actual, lower, upper) == (0.5, 1.375)
    observed = np.array([True, True, True, False])
    assert coverage(actual, lower, upper, observed)[0] == pytest.approx(2 / 3)
