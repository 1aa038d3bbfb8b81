"""ArviZ mixing diagnostics on chains whose ESS is known in closed form."""

import numpy as np

from bench.metrics import mixing


def test_ess_of_iid_draws_is_close_to_n():
    # Measured here over 200 replicates of 4 x 5000 iid normals: bulk ESS/N has mean 0.989, sd 0.021
    # (tail: 0.978, 0.022). |ESS/N - 1| < 0.1 is > 4 sds from the mean: false alarm < 1e-4.
    rng = np.random.default_rng(0)
    values = rng.normal(size=(4, 5000, 3))
    m = mixing(values)
    n = values.shape[0] * values.shape[1]
    np.testing.assert_array_less(np.abs(m["ess_bulk"] / n - 1), 0.1)
    np.testing.assert_array_less(np.abs(m["ess_tail"] / n - 1), 0.1)
    np.testing.assert_array_less(np.abs(m["rhat"] - 1), 0.01)


def test_ess_of_ar1_chain_matches_closed_form():
    # AR(1) with coefficient rho: ESS = N (1 - rho) / (1 + rho). For rho = 0.9 and N = 4 x 20000 the
    # estimator's relative error is ~sqrt(2 tau / n_eff)-ish ~ 5 %; 20 % is a wide, safe bound that a
    # factor-2 error (e.g. ESS of one chain only, or no autocorrelation correction) still fails.
    rng = np.random.default_rng(1)
    rho, n = 0.9, 20000
    eps = rng.normal(size=(4, n)) * np.sqrt(1 - rho**2)
    x = np.empty((4, n))
    x[:, 0] = rng.normal(size=4)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + eps[:, t]
    m = mixing(x[..., None])
    expected = 4 * n * (1 - rho) / (1 + rho)
    assert abs(m["ess_bulk"][0] / expected - 1) < 0.2


def test_rhat_flags_chains_stuck_apart():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(4, 1000, 1)) + np.array([0.0, 0.0, 3.0, 3.0])[:, None, None]
    assert mixing(values)["rhat"][0] > 1.5


def test_statistic_constant_within_every_chain_has_no_ess_rhat_or_mcse():
    """A statistic that never moves within a chain has no within-chain variance: ArviZ returns ESS = N (or
    about 2.3) and a NaN or infinite R-hat; none of them is a number here. The moving statistic keeps its own."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(2, 200, 3))
    values[..., 1] = 0.7  # constant everywhere
    values[0, :, 2], values[1, :, 2] = 1.0, 2.0  # constant within each chain, chains apart
    m = mixing(values)
    for metric in ("ess_bulk", "ess_tail", "rhat", "mcse_mean", "mcse_sd"):
        assert np.isnan(m[metric][1:]).all(), (metric, m[metric])
        assert np.isfinite(m[metric][0]), metric
