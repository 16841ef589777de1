"""The Diebold-Mariano test against a hand-computed case, Student's t against table values,
and the probabilistic scores."""

import math

import numpy as np
import pytest

from forecaster.evaluation.significance import diebold_mariano, student_t_sf, window_losses


def test_diebold_mariano_by_hand():
    model = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    naive = [2.0, 2.0, 2.0, 1.0, 3.0, 5.0, 2.0, 3.0]
    # d = [1, -1, 2, 0, 2, 4, 0, 3], mean 1.375, n = 8, horizon 2 (lags 0 and 1)
    # gamma_0 = sum((d - 1.375)^2) / 8 = 19.875 / 8 = 2.484375
    # gamma_1 = sum((d_t - 1.375)(d_{t-1} - 1.375)) / 8 = -6.515625 / 8 = -0.814453125
    # var(mean d) = (gamma_0 + 2 gamma_1) / 8 = 0.10693359375; DM = 1.375 / sqrt(var) = 4.204803
    # HLN factor sqrt((8 + 1 - 2*2 + 2*1/8) / 8) = sqrt(5.25 / 8) = 0.810093; statistic 3.406279
    r = diebold_mariano(model, naive, horizon=2)
    assert r.n == 8 and r.mean_difference == pytest.approx(1.375)
    assert r.statistic == pytest.approx(1.375 / math.sqrt(0.10693359375) * math.sqrt(5.25 / 8), rel=1e-12)
    assert r.statistic == pytest.approx(3.406279, abs=1e-6)
    assert r.p_value == pytest.approx(0.011345, abs=2e-6)  # t with 7 degrees of freedom, two-sided
    assert r.outcome == "worse"  # the model's loss is higher, significantly at 5%


@pytest.mark.parametrize("t, df, want", [(2.0, 10, 0.036694), (1.0, 1, 0.25), (3.0, 3, 0.028834),
                                         (1.96, 10**6, 0.024998), (0.0, 5, 0.5)])
def test_student_t_tail_matches_tables(t, df, want):
    assert student_t_sf(t, df) == pytest.approx(want, abs=2e-6)


def test_identical_forecasters_are_no_different_and_a_clear_win_is_better():
    rng = np.random.default_rng(0)
    same = rng.random(200)
    assert diebold_mariano(same, same, 5).outcome == "no difference"
    assert diebold_mariano(same, same, 5).p_value == 1.0
    noise = rng.normal(0, 1, 300)
    better = diebold_mariano(np.abs(noise) * 0.5, np.abs(noise), 3)
    assert better.outcome == "better" and better.p_value < 1e-6
    tie = diebold_mariano(np.abs(rng.normal(0, 1, 300)), np.abs(rng.normal(0, 1, 300)), 3)
    assert tie.outcome == "no difference"


def test_window_losses_skip_filled_targets():
    actual = np.zeros((2, 2, 1))
    forecast = np.array([[[1.0], [3.0]], [[2.0], [2.0]]])
    observed = np.array([[[True], [False]], [[True], [True]]])
    np.testing.assert_allclose(window_losses(actual, forecast, observed), [1.0, 2.0])


def test_pinball_loss_by_hand():
    from forecaster.evaluation.intervals import pinball

    actual, q = np.array([1.0, 3.0]), np.array([2.0, 2.0])
    # tau 0.9: below the quantile costs 0.1 per unit, above it 0.9 per unit: (0.1 + 0.9) / 2
    assert pinball(actual, q, 0.9, np.ones(2, bool)) == pytest.approx(0.5)
    assert pinball(actual, q, 0.5, np.ones(2, bool)) == pytest.approx(0.5)  # half the absolute error


def test_crps_from_quantiles_ranks_the_calibrated_forecast_first():
    from statistics import NormalDist

    from forecaster.evaluation.intervals import quantile_scores

    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, (20000, 1, 1))
    observed = np.ones_like(y, dtype=bool)

    def crps(scale):
        z = {k: NormalDist().inv_cdf(t) * scale for k, t in
             (("lower_95", 0.025), ("lower_80", 0.1), ("upper_80", 0.9), ("upper_95", 0.975))}
        return quantile_scores(y, np.zeros_like(y), {k: np.full_like(y, v) for k, v in z.items()},
                               observed)["crps"]

    exact = 1 / math.sqrt(math.pi)  # expected CRPS of the true N(0, 1) forecast
    assert crps(1.0) == pytest.approx(exact, rel=0.15)  # five quantiles: a coarse approximation
    assert crps(1.0) < crps(2.0) and crps(1.0) < crps(0.4)  # too wide or too narrow scores worse
