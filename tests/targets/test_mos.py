"""mos: stored locations equal the published instance; the closed-form sign probabilities checked by exact draws
and by numerical integration of the target's own density in d = 2 (which also checks log Z = 0); log density
against scipy's Student-t.

Monte Carlo tolerances are 4 standard errors (two-sided normal tail 6.3e-5 per check), with fixed seeds.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from targets.mos import N_COMPONENTS, STORED_DIMS, mos, mos_locs, t2_draws

Z_SE = 4.0


@pytest.mark.parametrize("dim", STORED_DIMS)
def test_stored_locations_are_the_published_instance(dim):
    old = jax.config.jax_threefry_partitionable
    try:
        jax.config.update("jax_threefry_partitionable", False)
        published = np.asarray(
            jax.random.uniform(jax.random.key(0), (N_COMPONENTS, dim), minval=-10, maxval=10, dtype=jnp.float32)
        )
    finally:
        jax.config.update("jax_threefry_partitionable", old)
    np.testing.assert_array_equal(mos_locs(dim).astype(np.float32), published)


@pytest.mark.parametrize("dim", STORED_DIMS)
def test_exact_draws_have_the_closed_form_sign_probabilities(dim):
    target = mos(dim)
    x = target.sample(jax.random.key(2), 20_000)
    f = np.asarray(jax.jit(jax.vmap(lambda y: jnp.stack([s.fn(y) for s in target.statistics])))(x))
    for stat, fi in zip(target.statistics, f.T):
        assert abs(fi.mean() - stat.mean) < Z_SE * stat.sd / math.sqrt(fi.size), stat.name


def test_numerical_integration_in_d2_gives_log_Z_0_and_the_sign_probabilities():
    """Midpoint rule after x = tan(u) per coordinate (dx = sec^2 u du): the heavy tails on a bounded grid."""
    target = mos(2)
    n = 1500
    u = (np.arange(n) + 0.5) / n * math.pi - math.pi / 2
    g0, g1 = np.meshgrid(np.tan(u), np.tan(u), indexing="ij")
    jac = np.outer(1 / np.cos(u) ** 2, 1 / np.cos(u) ** 2) * (math.pi / n) ** 2
    pts = jnp.stack([g0.ravel(), g1.ravel()], axis=1)
    p = np.exp(np.asarray(jax.jit(jax.vmap(target.log_prob))(pts))) * jac.ravel()
    assert p.sum() == pytest.approx(1.0, abs=1e-4)
    for stat, g in zip(target.statistics, (g0, g1)):
        assert (p * (g.ravel() > 0)).sum() == pytest.approx(stat.mean, abs=1e-4), stat.name


def test_log_density_is_scipys_student_t_mixture():
    target = mos(2)
    locs = mos_locs(2)
    x = np.random.default_rng(0).uniform(-30, 30, (50, 2))
    ref = special.logsumexp(stats.t(df=2).logpdf(x[:, None, :] - locs[None]).sum(-1), axis=1) - math.log(10)
    np.testing.assert_allclose(np.asarray(jax.vmap(target.log_prob)(jnp.asarray(x))), ref, rtol=1e-10)


def test_modes_of_exact_draws_are_balanced():
    """The densest component of each exact draw: each of the 10 gets 1/10 of the draws, up to the
    (few percent) overlap of heavy tails; a chi-square-free check: every mode gets between 5 and 15 %."""
    target = mos(50)
    x = target.sample(jax.random.key(4), 2000)
    counts = np.bincount(np.asarray(jax.jit(jax.vmap(target.modes.assign))(x)), minlength=10) / 2000
    assert counts.min() > 0.05 and counts.max() < 0.15


def test_unstored_dim_is_refused():
    with pytest.raises(ValueError, match="mos: dim must be one of 2, 50"):
        mos(3)


def test_t2_draws_follow_the_t2_distribution():
    """Kolmogorov-Smirnov against scipy's t(2) CDF (p > 1e-3: false alarm 1e-3)."""
    x = np.asarray(t2_draws(jax.random.key(0), jax.random.key(1), (20_000,)))
    assert np.isfinite(x).all()
    assert stats.kstest(x, stats.t(df=2).cdf).pvalue > 1e-3
