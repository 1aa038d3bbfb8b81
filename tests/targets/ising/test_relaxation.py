"""The Gaussian-integral relaxation: its log Z maps to the spins', its exact draws agree with its
log density, its Rao-Blackwellised statistics are the spins' exact moments, and it stays finite."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from targets import make_target
from targets.ising import relaxation, spins
from targets.ising.models import STATISTICS, _relaxed

Z_SE = 4.0  # two-sided false alarm 6.3e-5 per check


def _brute_log_z(W, b):
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=W.shape[0])))
    e = 0.5 * np.einsum("si,ij,sj->s", states, W, states) + states @ b
    return float(np.log(np.exp(e - e.max()).sum()) + e.max())


def test_log_z_identity_by_numerical_integration_on_two_spins():
    W = np.array([[0.0, 0.8], [0.8, 0.0]])
    b = np.array([0.3, -0.2])
    target = _relaxed("tiny", W, b, {}, margin=0.1)
    f = jax.jit(lambda x0, x1: jnp.exp(target.log_prob(jnp.array([x0, x1]))))
    z_x, err = integrate.dblquad(lambda y, x: float(f(x, y)), -12, 12, -12, 12, epsabs=1e-11, epsrel=1e-11)
    log_z_spins = math.log(z_x) - target.log_Z_offsets["spins"]
    assert abs(log_z_spins - _brute_log_z(W, b)) < 1e-7  # quadrature error ~1e-10 here
    assert abs(target.log_Z - math.log(z_x)) < 1e-7


@pytest.mark.parametrize("name", ["ising", "sk", "boltzmann"])
def test_exact_draws_agree_with_log_prob_stein(name):
    # Stein identity under exact draws: E[x_j d/dx_j log p(x)] = -1 for every coordinate j.
    target = make_target(name)
    x = target.sample(jax.random.key(1), 20000)
    g = jax.vmap(jax.grad(target.log_prob))(x)
    terms = np.asarray(x * g)
    se = terms.std(0, ddof=1) / math.sqrt(len(terms))
    np.testing.assert_array_less(np.abs(terms.mean(0) + 1), Z_SE * se)


@pytest.mark.parametrize("name", ["ising", "sk", "boltzmann"])
def test_rao_blackwellised_statistics_have_the_spins_exact_means(name):
    target = make_target(name)
    x = target.sample(jax.random.key(2), 20000)
    for s in target.statistics:
        v = np.asarray(jax.vmap(s.fn)(x))
        assert abs(v.mean() - s.mean) < Z_SE * v.std(ddof=1) / math.sqrt(v.size), s.name


def test_count_distribution_matches_brute_force():
    p = np.array([0.1, 0.5, 0.7, 0.95])
    dist = np.asarray(relaxation.count_distribution(jnp.asarray(p)))
    brute = np.zeros(5)
    for bits in itertools.product([0, 1], repeat=4):
        brute[sum(bits)] += np.prod([pi if bi else 1 - pi for pi, bi in zip(p, bits)])
    np.testing.assert_allclose(dist, brute, atol=1e-15)


def test_log_prob_is_finite_far_out():
    target = make_target("ising")
    x = jax.random.normal(jax.random.key(3), (10, target.dim)) * 1e3
    lp = np.asarray(jax.vmap(target.log_prob)(x))
    grads = np.asarray(jax.vmap(jax.grad(target.log_prob))(x))
    assert np.isfinite(lp).all() and np.isfinite(grads).all()
    assert np.isfinite(np.asarray(relaxation.log_cosh(jnp.array([1e4, -1e4, 0.0])))).all()


def test_shift_makes_the_coupling_positive_definite_with_its_margin():
    W, _ = spins.lattice(4, 4, 0.6)
    d = relaxation.shift(W, 0.1)
    assert np.linalg.eigvalsh(W + np.diag(d)).min() == pytest.approx(0.1, abs=1e-12)


def test_statistics_names_and_headline():
    target = make_target("ising")
    assert [s.name for s in target.statistics] == list(STATISTICS) and target.headline == "sign"
    assert target.statistics[STATISTICS.index("sign")].mean == pytest.approx(0.5, abs=1e-12)  # h = 0


def test_large_torus_uses_kaufman_and_the_cluster_reference():
    # 6 x 6 = 36 spins: beyond enumeration. log Z from Kaufman; E[m^2] from Swendsen-Wang with its MCSE.
    from targets.ising import kaufman

    target = make_target("ising", L=6, M=6, beta=0.3)
    assert target.sample is None
    assert target.log_Z - target.log_Z_offsets["spins"] == pytest.approx(kaufman.kaufman_log_z(6, 6, 0.3), abs=1e-12)
    stats = {s.name: s for s in target.statistics}
    assert stats["m^2"].mean_se > 0 and stats["sign"].mean == 0.5 and stats["m"].mean == 0.0
    # E[m^2] = E[E[m^2 | x]]: the reference (spins) and the Rao-Blackwellised statistic's sample mean over
    # x | s draws from reference spins agree within their Monte Carlo errors (4 combined SE).
    from targets.ising import cluster

    s = cluster.swendsen_wang(6, 6, 0.3, 16, 500, seed=7).reshape(-1, 36).astype(float)
    W, b = spins.lattice(6, 6, 0.3)
    d = relaxation.shift(W, 0.1)
    Q = np.linalg.cholesky(W + np.diag(d))
    x = jnp.asarray(s @ Q + np.random.default_rng(8).normal(size=s.shape))
    v = np.asarray(jax.vmap(stats["m^2"].fn)(x)).reshape(16, 500)  # (chains, sweeps)
    import arviz as az

    se = math.hypot(stats["m^2"].mean_se, float(az.mcse(v, method="mean")))  # MCSE of correlated sweeps
    assert abs(v.mean() - stats["m^2"].mean) < Z_SE * se
    # the true sd of m^2 (from 16 x 1250 other Swendsen-Wang draws) with ArviZ's MCSE of the sd
    se_sd = math.hypot(stats["m^2"].sd_se, float(az.mcse(v, method="sd")))
    assert 0 < stats["m^2"].sd_se and abs(v.std(ddof=1) - stats["m^2"].sd) < Z_SE * se_sd


def test_exact_sampler_scores_a_standard_normal_bias_sd_se():
    """An exact sampler with the README's budget (8 chains x 20,000 iid draws from `target.sample`) on the
    default ising(): its bias_sd_se = (sd_hat - sd) / sqrt(mcse_sd^2 + sd_se^2) is N(0, 1) per statistic
    when the truth's error sd_se is right, so |z| < 4 (false alarm 6.3e-5 per statistic, 3e-4 for the
    five; fixed seed). With the truth's sds from 20,000 draws and their error ignored it was -6.5 for m."""
    from baselines.draws import Cost, Draws
    from bench.metrics import evaluate

    target = make_target("ising")
    x = np.asarray(target.sample(jax.random.key(20260), 160_000)).reshape(8, 20_000, target.dim)
    cost = Cost(time_warmup=1.0, time_sampling=1.0, grad_evals_warmup=0, grad_evals_sampling=0)
    draws = Draws(positions=x, logdensity=np.zeros(x.shape[:2]), stats={}, cost=cost)
    row = evaluate(target, draws, jax.random.key(1))
    z = {s.name: row[f"bias_sd_se[{s.name}]"] for s in target.statistics}
    assert all(abs(v) < Z_SE for v in z.values()), z


@pytest.mark.parametrize("name", ["ising", "sk", "boltzmann"])
def test_truth_sd_carries_its_standard_error(name):
    """The sds of enumerated systems come from >= 10^6 iid exact draws and carry their standard error:
    se(sd) / sd = sqrt((kurtosis - 1) / (4 n)), positive, and < 1e-2 unless the kurtosis exceeds 400."""
    from targets.ising.models import TRUTH_DRAWS

    assert TRUTH_DRAWS >= 10**6
    for s in make_target(name).statistics:
        assert 0 < s.sd_se < 1e-2 * s.sd, (s.name, s.sd, s.sd_se)


def test_iid_sd_standard_error_matches_the_spread_over_repeats():
    """iid_sd_and_se on N(0, 1) draws: the spread of the sd over 400 repeats of n = 2,000 matches the
    delta-method se, 1 / sqrt(2 n) (kurtosis 3); the se of that spread's own estimate is 1/sqrt(2 * 399),
    3.5 %, so a 15 % band is > 4 of its se."""
    from targets.ising.models import iid_sd_and_se

    rng = np.random.default_rng(0)
    sds, ses = zip(*(iid_sd_and_se(rng.standard_normal((2000, 1))) for _ in range(400)))
    spread, se = np.std(np.concatenate(sds), ddof=1), np.mean(np.concatenate(ses))
    assert se == pytest.approx(1 / math.sqrt(4000), rel=0.05)
    assert spread == pytest.approx(se, rel=0.15)
