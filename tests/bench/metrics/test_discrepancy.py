"""MMD: near 0 between two exact samples, clearly larger for a shifted one."""

import numpy as np
import pytest

from bench.metrics import mmd2
from bench.metrics.discrepancy import thin_to


def test_mmd_near_zero_for_exact_samples_and_large_for_shifted():
    rng = np.random.default_rng(0)
    n, dim = 500, 3
    # The null distribution of the unbiased MMD^2 from 30 independent exact-vs-exact pairs.
    null = np.array([mmd2(rng.normal(size=(n, dim)), rng.normal(size=(n, dim))) for _ in range(30)])
    # Unbiased estimator: its mean under the null is 0 (4 standard errors of the mean of 30).
    assert abs(null.mean()) < 4 * null.std(ddof=1) / np.sqrt(len(null))
    shifted = mmd2(rng.normal(size=(n, dim)) + np.array([0.5, 0, 0]), rng.normal(size=(n, dim)))
    # A half-sd shift of one coordinate sits far outside the null (10 null sds).
    assert shifted > null.mean() + 10 * null.std(ddof=1)


def test_thin_to_spreads_over_chains_and_draws():
    positions = np.arange(4 * 100 * 2, dtype=float).reshape(4, 100, 2)
    thinned = thin_to(positions, 40)
    assert thinned.shape == (40, 2)
    assert set(thinned[:, 0] // 200) == {0, 1, 2, 3}  # every chain contributes
    assert thinned[0, 0] == 0 and thinned[9, 0] == 2 * 99  # first and last draw of chain 0


def test_equal_weights_give_the_u_statistic_and_weights_count():
    """The weighted MMD^2 with equal weights is the U-statistic; zero weight on the shifted half of x
    leaves the distance of the other half."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    assert mmd2(x, y, np.zeros(300)) == pytest.approx(mmd2(x, y), rel=1e-12, abs=1e-15)
    shifted = np.concatenate([x[:150], x[150:] + 3.0])
    log_w = np.concatenate([np.zeros(150), np.full(150, -np.inf)])
    assert mmd2(shifted, y) > 10 * abs(mmd2(shifted, y, log_w))
