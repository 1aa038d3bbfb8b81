"""MCLMC (unadjusted) and MAMS (adjusted MCLMC): MAMS's chains match the 2-D correlated Gaussian's exact
moments within Monte Carlo error (tests/baselines/peer_checks.py: |z| < 4, ArviZ MCSE); both samplers'
cost accounts equal the evaluations of a counting log density; a second seed reuses the compiled
computations; bad settings raise ValueError naming the valid range.

Unadjusted MCLMC is biased by design (no Metropolis test), so it gets no exactness check here; the
suite's bias-against-truth metrics are what show its bias.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import mams, mclmc
from baselines.mclmc import GRADS_PER_STEP

from peer_checks import assert_recovers_gaussian, counting_log_density, target, unoptimised

CHAINS, WARMUP, DRAWS = 4, 400, 1000


@pytest.fixture(scope="module")
def tgt():
    return target()


@pytest.fixture(scope="module")
def x0(tgt):
    return tgt.initial(jax.random.key(0), CHAINS)


def _run(sampler, seed, log_prob, x0, warmup=WARMUP, draws=DRAWS, chain_method="sequential"):
    with unoptimised():  # seconds less compile time; cannot change what is computed
        return sampler(
            jax.random.key(seed), log_prob, x0, num_warmup=warmup, num_draws=draws, chain_method=chain_method
        )


@pytest.fixture(scope="module")
def mams_run(tgt, x0):
    return _run(mams, 1, tgt.log_prob, x0)


def test_mams_recovers_mean_and_covariance(mams_run):
    assert_recovers_gaussian(mams_run.positions)


def test_mams_draws_consistent(mams_run, tgt):
    d = mams_run
    assert d.positions.shape == (CHAINS, DRAWS, 2) and d.logdensity.shape == (CHAINS, DRAWS)
    lp = np.asarray(jax.vmap(tgt.log_prob)(jnp.asarray(d.positions.reshape(-1, 2))))
    np.testing.assert_allclose(d.logdensity.ravel(), lp, rtol=1e-10, atol=1e-10)
    acc = d.stats["acceptance_rate"]
    assert np.all((acc >= 0) & (acc <= 1 + 1e-12)) and d.stats["n_steps"].min() >= 1
    assert d.info["adjusted"] and d.log_weights is None


def test_mams_compiled_once_per_configuration(mams_run, tgt, x0):
    assert mams_run.cost.time_compile > 0 and not mams_run.info["compile_cached"]
    again = _run(mams, 2, tgt.log_prob, x0)
    assert again.cost.time_compile == 0.0 and again.info["compile_cached"]
    assert not np.array_equal(again.positions, mams_run.positions)


@pytest.mark.parametrize("sampler", [mclmc, mams])
def test_cost_account_equals_evaluations(sampler, tgt, x0):
    log_prob, counter = counting_log_density(tgt.log_prob)
    d = _run(sampler, 3, log_prob, x0, warmup=60, draws=40)
    c = d.cost
    inits = CHAINS * (2 if sampler is mams else 1)
    assert c.grad_evals_warmup == GRADS_PER_STEP * d.info["tuning_integrator_steps"] + inits
    assert c.grad_evals_sampling == GRADS_PER_STEP * d.stats["n_steps"].sum()
    assert c.grad_evals == counter["points"] == c.logdensity_evals_warmup + c.logdensity_evals_sampling
    assert c.grad_evals_lockstep == c.grad_evals  # sequential chains
    if sampler is mclmc:  # one integrator step per draw
        assert c.grad_evals_sampling == GRADS_PER_STEP * CHAINS * 40


def test_mclmc_vectorized_lockstep_is_exact(tgt, x0):
    # unadjusted MCLMC: every chain takes one integrator step per transition, so vmapped chains waste nothing
    log_prob, counter = counting_log_density(tgt.log_prob)
    d = _run(mclmc, 4, log_prob, x0, warmup=60, draws=40, chain_method="vectorized")
    assert d.info["lockstep"] and d.cost.grad_evals_lockstep == d.cost.grad_evals == counter["points"]


@pytest.mark.parametrize(
    "sampler, bad, match",
    [
        (mclmc, {"num_warmup": 10}, ">= 20"),
        (mams, {"num_warmup": 10}, ">= 20"),
        (mclmc, {"num_draws": 0}, ">= 1"),
        (mclmc, {"desired_energy_var": 0.0}, "> 0"),
        (mams, {"target_acceptance_rate": 1.0}, r"\(0, 1\)"),
        (mams, {"target_num_integration_steps": 1.0}, ">= 1.2"),
        (mams, {"chain_method": "bogus"}, "auto, vectorized, sequential"),
    ],
)
def test_invalid_inputs_name_the_valid_range(sampler, bad, match, tgt, x0):
    args = {"num_warmup": 100, "num_draws": 10} | bad
    with pytest.raises(ValueError, match=match):
        sampler(jax.random.key(0), tgt.log_prob, x0, **args)
