"""Neal's funnel: exact draws, log density, normaliser and ground truth checked against each other
and against independent implementations (scipy densities, quadrature).

Statistical checks use fixed seeds. Tolerances of the Monte Carlo checks are 4 standard errors
(two-sided normal tail 6.3e-5 per check under a correct target); KS and chi-square tests require
p > 1e-3 (the p-value is uniform under a correct target, so a false alarm has probability 1e-3).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from targets.funnel import V_SCALE, funnel

DIM = 10
N_EXACT = 100_000
Z_SE = 4.0  # 4 standard errors: two-sided false alarm 6.3e-5 per check
P_MIN = 1e-3  # p-value threshold: false alarm 1e-3 per test


@pytest.fixture(scope="module")
def target():
    return funnel(DIM)


@pytest.fixture(scope="module")
def log_prob(target):
    """Batched log density, compiled once for the module."""
    return jax.jit(jax.vmap(target.log_prob))


@pytest.fixture(scope="module")
def draws(target):
    return np.asarray(target.sample(jax.random.key(20240601), N_EXACT))


def scipy_log_density(x):
    """Independent funnel density: N(v; 0, 3^2) * prod_i N(x_i; 0, e^{v/2}^2)."""
    v, rest = x[:, 0], x[:, 1:]
    return stats.norm.logpdf(v, 0.0, 3.0) + stats.norm.logpdf(rest, 0.0, np.exp(v / 2)[:, None]).sum(1)


def test_metadata(target):
    assert target.dim == DIM and target.name == "funnel" and target.log_Z == 0.0
    assert target.params == {"dim": DIM} and target.id == f"funnel(dim={DIM})"
    assert [s.name for s in target.statistics] == ["v"] + [f"x[{i}]" for i in range(1, DIM)]
    with pytest.raises(ValueError, match=">= 2"):
        funnel(1)


def test_draws_shape_and_dtype(draws):
    assert draws.shape == (N_EXACT, DIM)
    assert draws.dtype == np.float64
    assert np.all(np.isfinite(draws))


def test_ks_v_is_normal_0_3(draws):
    p = stats.kstest(draws[:, 0], stats.norm(0.0, 3.0).cdf).pvalue
    assert p > P_MIN, p


def test_ks_standardised_x_is_standard_normal(draws):
    # Given v, x_i / e^{v/2} ~ N(0, 1) independently of v: test every coordinate (Bonferroni over 9).
    for i in range(1, DIM):
        p = stats.kstest(draws[:, i] * np.exp(-draws[:, 0] / 2), stats.norm.cdf).pvalue
        assert p > P_MIN / (DIM - 1), (i, p)


def test_ks_has_power_against_a_wrong_scale(draws):
    # The KS check above would notice v ~ N(0, 3.1^2) instead of N(0, 3^2) at this sample size.
    assert stats.kstest(draws[:, 0] * 3.1 / 3.0, stats.norm(0.0, 3.0).cdf).pvalue < P_MIN


def test_log_prob_equals_scipy_density(log_prob):
    # Random points over a wide range, including the neck (v << 0) and the mouth (v >> 0).
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-9, 9, (200, 1)), rng.normal(0, 3, (200, DIM - 1))], axis=1)
    ours = np.asarray(log_prob(jnp.asarray(x)))
    # Exact agreement with a normalised density (to rounding) also means log Z = 0.
    np.testing.assert_allclose(ours, scipy_log_density(x), rtol=1e-12, atol=1e-10)  # float64 rounding


def test_log_Z_by_importance_sampling(target, log_prob):
    # Proposal wider than the target in every direction: v ~ N(0, 3.6^2), x_i | v ~ N(0, (1.5 e^{v/2})^2).
    # The weight p/q is then bounded (<= 1.2 * 1.5^9), so its variance is finite and its sample sd
    # is a reliable standard error.
    rng = np.random.default_rng(2)
    n = 100_000
    v = rng.normal(0.0, 1.2 * V_SCALE, n)
    rest = rng.normal(0.0, 1.0, (n, DIM - 1)) * (1.5 * np.exp(v / 2))[:, None]
    x = np.concatenate([v[:, None], rest], axis=1)
    log_q = stats.norm.logpdf(v, 0.0, 1.2 * V_SCALE) + stats.norm.logpdf(rest, 0.0, 1.5 * np.exp(v / 2)[:, None]).sum(1)
    w = np.exp(np.asarray(log_prob(jnp.asarray(x))) - log_q)
    z_hat, se = w.mean(), w.std(ddof=1) / math.sqrt(n)
    assert abs(z_hat - math.exp(target.log_Z)) < Z_SE * se, (z_hat, se)
    # Keeps the check sharp: the expected SE is sqrt(E_q[w^2] - 1) / sqrt(n) = 0.0067, with
    # E_q[w^2] = 1.050 (v part) * 1.2027^9 (x parts) = 5.5; 3x that flags a degenerate estimate.
    assert se < 0.02


def test_statistics_use_their_coordinate(target, draws):
    for i, stat in enumerate(target.statistics):
        np.testing.assert_array_equal(np.asarray(stat.fn(jnp.asarray(draws[:100]))), draws[:100, i])
        assert stat.mean_se == 0.0  # closed-form truth


def test_truth_of_v_against_exact_draws(target, draws):
    stat = target.statistics[0]
    v = draws[:, 0]
    n = len(v)
    # E[v]: SE = sample sd / sqrt(n).
    assert abs(v.mean() - stat.mean) < Z_SE * v.std(ddof=1) / math.sqrt(n)
    # Var[v] = E[(v - E v)^2] = sd^2: mean of g = (v - mean)^2, SE = sd(g) / sqrt(n).
    g = (v - stat.mean) ** 2
    assert abs(g.mean() - stat.sd**2) < Z_SE * g.std(ddof=1) / math.sqrt(n)
    # Var[v^2] = E[(v^2 - E v^2)^2] = sq_sd^2 with E v^2 = mean^2 + sd^2: mean of h, SE = sd(h) / sqrt(n).
    h = (v**2 - (stat.mean**2 + stat.sd**2)) ** 2
    assert abs(h.mean() - stat.sq_sd**2) < Z_SE * h.std(ddof=1) / math.sqrt(n)


def test_truth_of_x_against_exact_draws_and_quadrature(target, draws):
    # x_i is heavy-tailed (lognormal scale), so its variance and the variance of x_i^2 are checked by
    # quadrature over v (E[x^2] = E[e^v], E[x^4] = 3 E[e^{2v}]) instead of by Monte Carlo.
    def e_exp(t):  # E[e^{t v}], v ~ N(0, 3^2), by quadrature
        return integrate.quad(
            lambda v: math.exp(t * v) * stats.norm.pdf(v, 0, 3), -60, 60, epsabs=0, epsrel=1e-12, limit=200
        )[0]

    var_x, var_sq_x = e_exp(1.0), 3 * e_exp(2.0) - e_exp(1.0) ** 2
    n = draws.shape[0]
    for i in range(1, DIM):
        stat = target.statistics[i]
        # rel 1e-8: quadrature error (requested 1e-12) plus float64 rounding, far below it.
        assert stat.sd == pytest.approx(math.sqrt(var_x), rel=1e-8)
        assert stat.sq_sd == pytest.approx(math.sqrt(var_sq_x), rel=1e-8)
        # E[x_i] = 0 by symmetry; Monte Carlo check with SE = true sd / sqrt(n) (finite variance: CLT).
        assert abs(draws[:, i].mean() - stat.mean) < Z_SE * stat.sd / math.sqrt(n)
    # E[x_i^2 | v] = e^v: the draws' standardised second moment given v is 1 (SE from the sample sd).
    g = (draws[:, 1:] * np.exp(-draws[:, :1] / 2)) ** 2
    assert abs(g.mean() - 1.0) < Z_SE * g.std(ddof=1) / math.sqrt(g.size)


def test_stein_identity_per_coordinate(target, draws):
    # Integration by parts: E_p[x_j d/dx_j log p(x)] = -1 for every j. A mismatch between log_prob
    # and the exact sampler (a wrong scale in either) breaks it.
    x = jnp.asarray(draws)
    score = np.asarray(jax.jit(jax.vmap(jax.grad(target.log_prob)))(x))
    g = draws * score
    n = g.shape[0]
    for j in range(DIM):
        se = g[:, j].std(ddof=1) / math.sqrt(n)
        assert abs(g[:, j].mean() + 1.0) < Z_SE * se, (j, g[:, j].mean(), se)
