"""many_well: log Z by quadrature and, independently, by importance sampling (from the exact draws' own density,
and from a Gaussian-mixture proposal); exact draws against the quadrature moments; well-sign coverage.

Monte Carlo tolerances are 4 standard errors (two-sided normal tail 6.3e-5 per check), with fixed seeds.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from baselines.draws import Cost, Draws
from bench.metrics import evaluate
from bench.metrics.wells import expected_patterns, well_coverage
from targets.many_well import many_well, well_log_density, well_quadrature, well_sampler_log_density

Z_SE = 4.0
PUBLISHED_LOG_Z_D32 = 164.69568  # FAB and Beyond ELBOs: 16 (log 11784.50927 + log(2 pi) / 2)


@pytest.fixture(scope="module")
def target():
    return many_well(32)


@pytest.fixture(scope="module")
def draws(target):
    """20k exact draws in d = 32, shared by the tests that need them."""
    return np.asarray(target.sample(jax.random.key(3), 20_000))


def test_quadrature_log_Z_is_the_published_value(target):
    assert target.log_Z == pytest.approx(PUBLISHED_LOG_Z_D32, abs=1e-5)
    assert many_well(2).log_Z == pytest.approx(PUBLISHED_LOG_Z_D32 / 16, abs=1e-6)


def _log_mean_exp_and_se(log_w):
    """log of the mean weight and its delta-method standard error sd(w) / (mean(w) sqrt(n))."""
    w = np.exp(log_w - log_w.max())
    return math.log(w.mean()) + log_w.max(), w.std(ddof=1) / (w.mean() * math.sqrt(w.size))


def test_log_Z_by_importance_sampling_from_the_exact_draws_density(target, draws):
    """Z = E_q[exp(log_prob) / q] with q the exact sampler's own density: unbiased for Z whatever the grid."""
    log_q = jnp.sum(well_sampler_log_density(jnp.asarray(draws[:, 0::2])), axis=1) + jnp.sum(
        stats.norm.logpdf(draws[:, 1::2]), axis=1
    )
    log_w = np.asarray(jax.vmap(target.log_prob)(jnp.asarray(draws))) - np.asarray(log_q)
    log_Z, se = _log_mean_exp_and_se(log_w)
    assert 0 < se < 1e-2
    assert abs(log_Z - target.log_Z) < Z_SE * se, (log_Z, target.log_Z, se)


def test_well_log_Z_by_importance_sampling_from_a_gaussian_mixture():
    """Independent of the quadrature and of the grid: Z1 = E_r[exp(-E1) / r], r = mixture of N(+-1.7, 0.5^2)
    (Gaussian tails are heavier than exp(-x^4): the weights have finite variance)."""
    rng = np.random.default_rng(5)
    n, loc, scale = 200_000, 1.7, 0.5
    x = rng.normal(np.where(rng.random(n) < 0.5, loc, -loc), scale)
    log_r = special.logsumexp([stats.norm.logpdf(x, loc, scale), stats.norm.logpdf(x, -loc, scale)], axis=0) - math.log(
        2
    )
    log_Z1, se = _log_mean_exp_and_se(well_log_density(x) - log_r)
    assert abs(log_Z1 - well_quadrature()["log_Z1"]) < Z_SE * se, (log_Z1, se)


def test_exact_draws_have_the_quadrature_moments(target, draws):
    for stat in target.statistics[:4]:  # x[0], x[2] are wells, x[1], x[3] are N(0, 1)
        f = np.asarray(stat.fn(jnp.asarray(draws)))
        assert abs(f.mean() - stat.mean) < Z_SE * stat.sd / math.sqrt(f.size), stat.name
        # sample variance: standard error sd[(f - m)^2] / sqrt(n) ~ sd[f^2] / sqrt(n) when m is small
        centred_sq = (f - stat.mean) ** 2
        assert abs(centred_sq.mean() - stat.sd**2) < Z_SE * centred_sq.std() / math.sqrt(f.size), stat.name
    upper = draws[:, 0::2] > target.wells.barrier
    p = target.wells.p_upper
    assert abs(upper.mean() - p) < Z_SE * math.sqrt(p * (1 - p) / upper.size)
    assert np.all(np.abs(draws[:, 0::2]) <= 4.0)


def test_exact_draws_match_the_quadrature_cdf(draws):
    """Kolmogorov-Smirnov of one well's x1 draws against the CDF by quadrature (p > 1e-3)."""
    z = math.exp(well_quadrature()["log_Z1"])
    cdf = np.vectorize(
        lambda t: (
            integrate.quad(lambda x: math.exp(well_log_density(x)), -10, t, points=[-1.7] if t > -1.7 else None)[0] / z
        )
    )
    x = np.sort(draws[:2000, 0])
    assert stats.kstest(x, cdf).pvalue > 1e-3


def test_wells_are_the_x1_coordinates_and_the_barrier_is_the_energy_maximum(target):
    assert target.wells.coords == tuple(range(0, 32, 2))
    b = target.wells.barrier
    grid = np.linspace(-1, 1, 20001)
    assert b == pytest.approx(grid[np.argmin(well_log_density(grid))], abs=1e-4)


@pytest.mark.parametrize("dim", [0, 3, 2.5, -2])
def test_bad_dim_is_refused(dim):
    with pytest.raises(ValueError, match=r"many_well: dim must be an even integer >= 2"):
        many_well(dim)


def test_expected_patterns_by_enumeration():
    """2 wells, p = 0.7, n = 3 draws: the mean number of distinct patterns over all 4^3 draw sequences."""
    p, probs = 0.7, {}
    for pat in itertools.product((0, 1), repeat=2):
        probs[pat] = math.prod(p if s else 1 - p for s in pat)
    mean = sum(math.prod(probs[s] for s in seq) * len(set(seq)) for seq in itertools.product(probs, repeat=3))
    assert expected_patterns(2, p, 3) == pytest.approx(mean, rel=1e-12)


def test_well_coverage_of_exact_draws_and_of_one_stuck_chain(target, draws):
    names = [f"x[{i}]" for i in target.wells.coords]
    upper = draws[:, 0::2] > target.wells.barrier
    row = well_coverage(upper[:1000], target.wells.p_upper, names)
    # distinct patterns of 1000 exact draws: around its expectation; the visit indicators are negatively
    # associated, so the count's variance is at most the sum of theirs, at most the expectation
    assert abs(row["well_patterns_visited"] - row["well_patterns_exact"]) < Z_SE * math.sqrt(row["well_patterns_exact"])
    assert row["well_patterns_total"] == 2**16
    stuck = well_coverage(np.repeat(upper[:1], 1000, axis=0), target.wells.p_upper, names)
    assert stuck["well_patterns_visited"] == 1
    assert {stuck[f"well_upper[{n}]"] for n in names} <= {0.0, 1.0}
    assert stuck["well_balance_error_max"] >= min(target.wells.p_upper, 1 - target.wells.p_upper)


def test_evaluate_reports_the_well_coverage_through_the_target_fields(target, draws):
    cost = Cost(time_warmup=1.0, time_sampling=1.0)
    positions = draws[:2000].reshape(2, 1000, 32)
    row = evaluate(
        target, Draws(positions=positions, logdensity=np.zeros((2, 1000)), stats={}, cost=cost), jax.random.key(0)
    )
    assert row["well_patterns_visited"] > 0.9 * row["well_patterns_exact"]
    assert "emc" not in row and "modes_visited" not in row
    assert abs(row["well_upper[x[0]]"] - target.wells.p_upper) < Z_SE * math.sqrt(0.85 * 0.15 / 2000)
