"""gmm40: stored means equal the published instance; exact draws, mode assignment, log density and
normaliser checked against independent implementations (scipy densities, numpy draws).

Statistical checks use fixed seeds. Monte Carlo tolerances are 4 standard errors (two-sided normal
tail 6.3e-5 per check under a correct target); chi-square tests require p > 1e-3 (false alarm 1e-3).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from targets.gmm40 import N_COMPONENTS, STORED_DIMS, gmm40, gmm40_means

Z_SE = 4.0  # 4 standard errors: two-sided false alarm 6.3e-5 per check
P_MIN = 1e-3  # p-value threshold: false alarm 1e-3 per test


@pytest.fixture(scope="module")
def target2():
    return gmm40(2)


@pytest.fixture(scope="module")
def target5():
    return gmm40(5)


@pytest.fixture(scope="module")
def draws2(target2):
    """100k exact draws in d = 2, shared by the tests that need them."""
    return np.asarray(target2.sample(jax.random.key(12), 100_000))


def scipy_log_density(x, means):
    """Independent mixture density: log (1/40) sum_k N(x; m_k, I)."""
    comps = np.stack([stats.multivariate_normal(m, np.eye(len(m))).logpdf(x) for m in means], axis=-1)
    return special.logsumexp(comps, axis=-1) - math.log(N_COMPONENTS)


def nearest_mean(x, means):
    return np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)


@pytest.mark.parametrize("dim", STORED_DIMS)
def test_stored_means_are_the_published_instance(dim):
    old = jax.config.jax_threefry_partitionable
    try:
        jax.config.update("jax_threefry_partitionable", False)
        published = np.asarray(
            jax.random.uniform(jax.random.key(0), (N_COMPONENTS, dim), minval=-1, maxval=1, dtype=jnp.float32) * 40
        )
    finally:
        jax.config.update("jax_threefry_partitionable", old)
    assert published.dtype == np.float32
    stored = gmm40_means(dim)
    assert stored.shape == (N_COMPONENTS, dim)
    np.testing.assert_array_equal(stored.astype(np.float32), published)
    assert np.abs(stored).max() <= 40.0


def test_invalid_dim_lists_the_stored_dims():
    expected = ", ".join(map(str, STORED_DIMS))
    with pytest.raises(ValueError, match=expected):
        gmm40(3)
    with pytest.raises(ValueError, match=expected):
        gmm40_means(3)


def test_metadata(target2):
    assert target2.dim == 2 and target2.name == "gmm40" and target2.log_Z == 0.0
    assert target2.id == "gmm40(dim=2)" and target2.modes.count == N_COMPONENTS
    x0 = np.asarray(target2.initial(jax.random.key(0), 64))
    assert x0.shape == (64, 2) and x0.min() >= -40.0 and x0.max() <= 40.0


def test_mode_frequencies_uniform_and_all_visited(target5):
    # d = 5: the means are >= 17 apart, so nearest-mean assignment equals the generating component
    # except with probability < 1e-17 and the assigned counts are multinomial(n, 1/40).
    n = 40 * 500
    x = target5.sample(jax.random.key(11), n)
    counts = np.bincount(np.asarray(target5.modes.assign(x)), minlength=N_COMPONENTS)
    assert counts.shape == (N_COMPONENTS,) and counts.sum() == n
    assert np.all(counts > 0)
    assert stats.chisquare(counts).pvalue > P_MIN


def test_mode_cells_match_an_independent_sampler_in_2d(target2, draws2):
    # d = 2: close means (1.78 apart) make nearest-mean cells slightly unequal in mass (within 1%),
    # so compare the cell counts of the exact sampler with those of an independent numpy sampler
    # (two-sample chi-square homogeneity test); also all 40 cells are visited.
    n = draws2.shape[0]
    means = gmm40_means(2)
    ours = np.bincount(np.asarray(target2.modes.assign(jnp.asarray(draws2))), minlength=N_COMPONENTS)
    rng = np.random.default_rng(12)
    ref_x = means[rng.integers(0, N_COMPONENTS, n)] + rng.standard_normal((n, 2))
    ref = np.bincount(nearest_mean(ref_x, means), minlength=N_COMPONENTS)
    assert ours.sum() == n and np.all(ours > 0)
    assert stats.chi2_contingency(np.stack([ours, ref])).pvalue > P_MIN


@pytest.mark.parametrize("dim", [2, 5])
def test_assign_returns_the_component(dim):
    target = gmm40(dim)
    means = gmm40_means(dim)
    rng = np.random.default_rng(dim)
    # Points near each mean: noise 0.05 per coordinate, far below half the closest distance (0.89 in d=2).
    x = np.repeat(means, 10, axis=0) + 0.05 * rng.standard_normal((N_COMPONENTS * 10, dim))
    k = np.repeat(np.arange(N_COMPONENTS), 10)
    np.testing.assert_array_equal(np.asarray(target.modes.assign(jnp.asarray(x))), k)
    # One point at a time (no batch axis) gives the same index.
    assert int(target.modes.assign(jnp.asarray(means[17]))) == 17
    # Agrees with an independent nearest-mean rule away from the means too.
    y = rng.uniform(-45, 45, (500, dim))
    np.testing.assert_array_equal(np.asarray(target.modes.assign(jnp.asarray(y))), nearest_mean(y, means))


def test_unit_variance_draws_assigned_to_their_component_in_5d():
    # Exact draws of component k (m_k + N(0, I)) in d = 5 are assigned to k (misassignment < 1e-17).
    means = gmm40_means(5)
    target = gmm40(5)
    rng = np.random.default_rng(5)
    k = np.repeat(np.arange(N_COMPONENTS), 50)
    x = means[k] + rng.standard_normal((len(k), 5))
    np.testing.assert_array_equal(np.asarray(target.modes.assign(jnp.asarray(x))), k)


@pytest.mark.parametrize("dim", [2, 5])
def test_log_prob_equals_scipy_mixture(dim):
    target = gmm40(dim)
    means = gmm40_means(dim)
    rng = np.random.default_rng(100 + dim)
    x = np.concatenate(
        [
            rng.uniform(-50, 50, (100, dim)),  # anywhere in the box
            means[rng.integers(0, 40, 100)] + rng.standard_normal((100, dim)),
        ]
    )  # near modes
    ours = np.asarray(jax.jit(jax.vmap(target.log_prob))(jnp.asarray(x)))
    np.testing.assert_allclose(ours, scipy_log_density(x, means), rtol=1e-12, atol=1e-10)  # float64 rounding


def test_log_Z_by_uniform_monte_carlo(target2):
    # Z_hat = V * mean(exp(log_prob(u))), u uniform on [-50, 50]^2 (V = 100^2). The means lie in
    # [-40, 40]^2, so the mass outside the box is < 40 * 4 * Phi(-10) ~ 1e-21 (negligible bias).
    # SE = V * sd(exp(log_prob)) / sqrt(n).
    lp = jax.jit(jax.vmap(target2.log_prob))
    rng = np.random.default_rng(7)
    volume, n, chunk = 100.0**2, 1_000_000, 100_000
    dens = np.concatenate(
        [np.exp(np.asarray(lp(jnp.asarray(rng.uniform(-50, 50, (chunk, 2)))))) for _ in range(n // chunk)]
    )
    z_hat, se = volume * dens.mean(), volume * dens.std(ddof=1) / math.sqrt(n)
    assert abs(z_hat - math.exp(target2.log_Z)) < Z_SE * se, (z_hat, se)
    # Keeps the check sharp: the expected SE is about sqrt(V / (40 * 4 pi) - 1) / sqrt(n) = 0.0044
    # (well-separated modes: E_u[(V p)^2] = V * integral p^2 = V / (40 * 4 pi)); 0.01 flags a degenerate
    # estimate.
    assert se < 0.01


def test_statistics_truth_against_exact_draws(target2, draws2):
    # E[x_i], Var[x_i] and Var[x_i^2] of the closed forms against 100k exact draws: for each, a
    # sample mean of a function g with SE = sd(g) / sqrt(n). 6 checks.
    x = draws2
    n = x.shape[0]
    for i, stat in enumerate(target2.statistics):
        np.testing.assert_array_equal(np.asarray(stat.fn(jnp.asarray(x[:10]))), x[:10, i])
        xi = x[:, i]
        assert abs(xi.mean() - stat.mean) < Z_SE * xi.std(ddof=1) / math.sqrt(n)
        g = (xi - stat.mean) ** 2
        assert abs(g.mean() - stat.sd**2) < Z_SE * g.std(ddof=1) / math.sqrt(n)
        h = (xi**2 - (stat.mean**2 + stat.sd**2)) ** 2
        assert abs(h.mean() - stat.sq_sd**2) < Z_SE * h.std(ddof=1) / math.sqrt(n)
