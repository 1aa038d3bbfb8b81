"""Adaptive tempered SMC: log Z_hat and the weighted moments against the truth within the spread of
independent runs, the cost account against a counting log density, the compile cache, validation,
and the evidence columns of a non-VAE sampler.

Target: the 2-D correlated Gaussian (condition 100) with its log density shifted by LOG_Z = 3, so the
true log Z is 3 (a normalisation mistake shows). Tolerances: the spread of the RUNS independent runs
(each run's estimate is one draw; the standard error is their sd / sqrt(RUNS)); |t| < 4 with 15
degrees of freedom has a two-sided false-alarm probability of 1.2e-3 per check.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from baselines import smc
from bench.metrics.evidence import evidence
from targets.gaussian import gaussian_parameters

from peer_checks import counting_log_density, target, unoptimised

RUNS, PARTICLES, MOVES, LEAPFROGS = 16, 500, 5, 5
COUNTED_RUNS, COUNTED_PARTICLES = 4, 50
LOG_Z = 3.0
T_MAX = 4.0


def _smc(seed, log_prob, runs, particles, chain_method="sequential"):
    x0 = target().initial(jax.random.key(0), runs)
    return smc(
        jax.random.key(seed),
        log_prob,
        x0,
        num_warmup=0,
        num_draws=particles,
        num_mcmc_steps=MOVES,
        num_integration_steps=LEAPFROGS,
        chain_method=chain_method,
    )


@pytest.fixture(scope="module")
def shifted():
    tgt = target()
    return tgt, lambda x: tgt.log_prob(x) + LOG_Z


@pytest.fixture(scope="module")
def first(shifted):
    return _smc(1, shifted[1], RUNS, PARTICLES)


@pytest.fixture(scope="module")
def counted(shifted):
    """Small runs (a host callback per evaluated point is slow) whose log density counts its evaluations."""
    log_prob, counter = counting_log_density(shifted[1])

    def run(seed, chain_method):
        before = counter["points"]
        with unoptimised():
            draws = _smc(seed, log_prob, COUNTED_RUNS, COUNTED_PARTICLES, chain_method)
        return draws, counter["points"] - before

    return run


def _per_run_log_z(draws):
    return logsumexp(draws.log_weights, axis=1) - np.log(draws.log_weights.shape[1])


def test_log_z_within_its_across_run_error(first):
    draws = first
    log_z = _per_run_log_z(draws)
    se = log_z.std(ddof=1) / np.sqrt(RUNS)
    assert draws.info["log_Z_se"] == pytest.approx(se)
    assert se > 0
    assert abs(log_z.mean() - LOG_Z) < T_MAX * se, (log_z.mean(), se)
    assert abs(draws.info["log_Z_hat"] - LOG_Z) < T_MAX * se
    # the suite's estimate from all log weights (log mean_c Z_c) is the info's
    assert draws.info["log_Z_hat"] == pytest.approx(logsumexp(draws.log_weights) - np.log(draws.log_weights.size))


def test_weighted_moments_within_across_run_error(first):
    draws = first
    mean, cov = gaussian_parameters(2, 100.0)
    w = np.exp(draws.log_weights - logsumexp(draws.log_weights, axis=1, keepdims=True))  # per run
    x = draws.positions
    est_mean = np.einsum("cn,cnd->cd", w, x)  # (RUNS, 2)
    c = x - mean
    est_cov = np.einsum("cn,cni,cnj->cij", w, c, c)  # (RUNS, 2, 2)
    for est, truth in ((est_mean, mean), (est_cov.reshape(RUNS, -1), cov.ravel())):
        t = (est.mean(0) - truth) / (est.std(0, ddof=1) / np.sqrt(RUNS))
        assert np.all(np.abs(t) < T_MAX), t


def test_draws_consistent(first, shifted):
    draws, tgt = first, shifted[0]
    assert draws.positions.shape == (RUNS, PARTICLES, 2) and draws.log_weights.shape == (RUNS, PARTICLES)
    lp = np.asarray(jax.vmap(tgt.log_prob)(jnp.asarray(draws.positions.reshape(-1, 2)))) + LOG_Z
    np.testing.assert_allclose(draws.logdensity.ravel(), lp, rtol=1e-10, atol=1e-10)
    assert np.all(np.isfinite(draws.log_weights))
    assert draws.info["tempering_steps_max"] >= 1


def test_cost_account_equals_evaluations(counted):
    draws, points = counted(3, "sequential")
    c, info = draws.cost, draws.info
    n = COUNTED_PARTICLES
    steps = round(info["tempering_steps_mean"] * COUNTED_RUNS)
    assert c.grad_evals_sampling == steps * n * (1 + MOVES * LEAPFROGS)
    assert c.logdensity_evals_sampling == c.grad_evals_sampling + 2 * steps * n + COUNTED_RUNS * n
    assert c.logdensity_evals_sampling == points  # every evaluation executed, gradients included
    assert c.grad_evals_warmup == c.logdensity_evals_warmup == 0 and c.time_warmup == 0.0
    assert c.grad_evals_lockstep == c.grad_evals  # sequential runs: no lock-step waste
    assert c.time_compile > 0 and not info["compile_cached"]


def test_vectorized_runs_count_the_lockstep_steps(counted):
    draws, points = counted(5, "vectorized")
    c, n, runs = draws.cost, COUNTED_PARTICLES, COUNTED_RUNS
    assert draws.info["lockstep"]
    per_step = n * (1 + MOVES * LEAPFROGS)
    assert c.grad_evals_lockstep == runs * draws.info["tempering_steps_max"] * per_step >= c.grad_evals
    # under vmap every run executes the slowest run's steps (gradients and log-density-only evaluations)
    assert points == runs * draws.info["tempering_steps_max"] * (per_step + 2 * n) + runs * n


def test_compiled_once_per_configuration(first, shifted):
    assert first.cost.time_compile > 0 and not first.info["compile_cached"]
    again = _smc(2, shifted[1], RUNS, PARTICLES)
    assert again.cost.time_compile == 0.0 and again.info["compile_cached"]
    assert not np.array_equal(again.positions, first.positions)


def test_evidence_of_a_non_vae_sampler(first, shifted):
    # SMC's info has log Z_hat but no VAE training bounds: |Delta log Z| is computed, no KL bound
    draws, tgt = first, shifted[0]
    shifted = dataclasses.replace(tgt, log_Z=LOG_Z)
    row = evidence(shifted, draws.info, None, jax.random.key(0), draws.log_weights)
    assert row["abs_delta_log_Z"] == pytest.approx(abs(row["log_Z_hat"] - LOG_Z))
    assert "kl_bound" not in row and 0 < row["importance_ess"] <= 1


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"particles": 1}, "particles must be >= 2"),
        ({"ref_scale": 0.0}, "ref_scale must be > 0"),
        ({"target_ess": 1.0}, r"target_ess must be in \(0, 1\)"),
        ({"num_mcmc_steps": 0}, ">= 1"),
        ({"target_acceptance_rate": 0.0}, r"\(0, 1\)"),
        ({"step_size": -1.0}, "step_size must be > 0"),
        ({"max_tempering_steps": 0}, ">= 1"),
        ({"chain_method": "bogus"}, "auto, vectorized, sequential"),
    ],
)
def test_invalid_inputs_name_the_valid_range(bad, match):
    tgt = target()
    with pytest.raises(ValueError, match=match):
        smc(jax.random.key(0), tgt.log_prob, tgt.initial(jax.random.key(0), 2), num_warmup=0, num_draws=10, **bad)
