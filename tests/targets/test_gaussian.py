"""The correlated Gaussian: parameters, exact draws, log density and ground truth.

Statistical checks use a fixed seed; Monte Carlo tolerances are 4 standard errors (two-sided normal
tail 6.3e-5 per check under a correct target; 25 checks here, family-wise false alarm < 1.6e-3).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from targets.gaussian import gaussian, gaussian_parameters

DIM, CONDITION = 5, 100.0
N_EXACT = 100_000
Z_SE = 4.0  # 4 standard errors: two-sided false alarm 6.3e-5 per check


@pytest.fixture(scope="module")
def target():
    return gaussian(DIM, CONDITION)


@pytest.fixture(scope="module")
def draws(target):
    return np.asarray(target.sample(jax.random.key(31), N_EXACT))


def test_metadata_and_invalid_parameters(target):
    assert target.dim == DIM and target.name == "gaussian" and target.log_Z == 0.0
    assert target.params == {"dim": DIM, "condition": CONDITION}
    assert target.id == f"gaussian(condition={CONDITION},dim={DIM})"
    with pytest.raises(ValueError, match=">= 1"):
        gaussian(0)
    with pytest.raises(ValueError, match=r"in \[1, 1e10\]"):
        gaussian(3, condition=0.5)
    with pytest.raises(ValueError, match=r"in \[1, 1e10\]"):
        gaussian(3, condition=float("nan"))


def test_parameters_are_pinned():
    # The target must not change with a NumPy or JAX release: values pinned when it was defined
    # (NumPy 2.5.5, PCG64 seed 0), to 1e-12.
    m, c = gaussian_parameters(3, 100.0)
    np.testing.assert_allclose(m, [-1.265421471046, -0.623274462537, 0.041325979347], atol=1e-12)
    np.testing.assert_allclose(np.diag(c), [89.015458924994, 20.489293310885, 1.495247764121], atol=1e-12)


@pytest.mark.parametrize("dim,condition", [(2, 10.0), (3, 100.0), (10, 100.0), (50, 1e4), (4, 1.0)])
def test_condition_number_and_spectrum(dim, condition):
    _, cov = gaussian_parameters(dim, condition)
    np.testing.assert_array_equal(cov, cov.T)
    eig = np.linalg.eigvalsh(cov)
    assert eig.min() > 0
    assert np.linalg.cond(cov) == pytest.approx(condition, rel=1e-8)
    # Eigenvalues log-spaced from 1 to `condition`.
    np.testing.assert_allclose(eig, np.logspace(0, np.log10(condition), dim), rtol=1e-8)  # eigensolver rounding


def test_exact_draws_mean(target, draws):
    mean, _ = gaussian_parameters(DIM, CONDITION)
    se = draws.std(axis=0, ddof=1) / math.sqrt(N_EXACT)  # SE = sd / sqrt(n)
    assert draws.shape == (N_EXACT, DIM)
    assert np.all(np.abs(draws.mean(0) - mean) < Z_SE * se), (draws.mean(0) - mean) / se


def test_exact_draws_covariance(target, draws):
    mean, cov = gaussian_parameters(DIM, CONDITION)
    c = draws - mean
    for i in range(DIM):
        for j in range(i, DIM):
            prod = c[:, i] * c[:, j]  # E[prod] = Sigma_ij
            se = prod.std(ddof=1) / math.sqrt(N_EXACT)  # SE from the sample variance of the products
            assert abs(prod.mean() - cov[i, j]) < Z_SE * se, (i, j, (prod.mean() - cov[i, j]) / se)


def test_log_prob_equals_scipy(target):
    mean, cov = gaussian_parameters(DIM, CONDITION)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 8, (300, DIM))
    ours = np.asarray(jax.jit(jax.vmap(target.log_prob))(jnp.asarray(x)))
    # Agreement with a normalised density also means log Z = 0.
    np.testing.assert_allclose(
        ours, stats.multivariate_normal(mean, cov).logpdf(x), rtol=1e-12, atol=1e-10
    )  # float64 rounding


def test_statistics_truth_closed_form(target):
    mean, cov = gaussian_parameters(DIM, CONDITION)
    # Tolerances: float64 rounding of two algebraically equal formulas.
    for i, stat in enumerate(target.statistics):
        mu, s2 = mean[i], cov[i, i]
        assert stat.name == f"x[{i}]" and stat.mean_se == 0.0
        assert stat.mean == pytest.approx(mu, rel=1e-12, abs=1e-15)
        assert stat.sd == pytest.approx(math.sqrt(s2), rel=1e-12)
        # Var[x^2] = E[x^4] - E[x^2]^2 with the normal moments E[x^4] = mu^4 + 6 mu^2 s^2 + 3 s^4.
        var_sq = (mu**4 + 6 * mu**2 * s2 + 3 * s2**2) - (mu**2 + s2) ** 2
        assert stat.sq_sd == pytest.approx(math.sqrt(var_sq), rel=1e-10)


def test_statistics_truth_against_exact_draws(target, draws):
    # sq_sd against the draws: g = (x^2 - E[x^2])^2 has mean sq_sd^2, SE = sd(g) / sqrt(n).
    for i, stat in enumerate(target.statistics):
        np.testing.assert_array_equal(np.asarray(stat.fn(jnp.asarray(draws[:10]))), draws[:10, i])
        g = (draws[:, i] ** 2 - (stat.mean**2 + stat.sd**2)) ** 2
        assert abs(g.mean() - stat.sq_sd**2) < Z_SE * g.std(ddof=1) / math.sqrt(N_EXACT)
