"""numpyro NUTS: its chains match the 2-D correlated Gaussian's exact moments within Monte Carlo error
(tests/baselines/peer_checks.py: |z| < 4, ArviZ MCSE); the cost account (one gradient per chain at init,
then num_steps per transition) equals the evaluations of a counting log density; a second seed reuses the
compiled phases, and so does a new draw count after a cached warm-up; bad settings raise ValueError.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import numpyro_nuts

from peer_checks import assert_recovers_gaussian, counting_log_density, target, unoptimised

CHAINS, WARMUP, DRAWS = 4, 500, 1000


@pytest.fixture(scope="module")
def tgt():
    return target()


@pytest.fixture(scope="module")
def x0(tgt):
    return tgt.initial(jax.random.key(0), CHAINS)


def _run(seed, log_prob, x0, warmup=WARMUP, draws=DRAWS, chain_method="sequential"):
    with unoptimised():  # seconds less compile time; cannot change what is computed
        return numpyro_nuts(
            jax.random.key(seed), log_prob, x0, num_warmup=warmup, num_draws=draws, chain_method=chain_method
        )


@pytest.fixture(scope="module")
def run(tgt, x0):
    return _run(1, tgt.log_prob, x0)


def test_recovers_mean_and_covariance(run):
    assert_recovers_gaussian(run.positions)


def test_draws_consistent(run, tgt):
    assert run.positions.shape == (CHAINS, DRAWS, 2)
    lp = np.asarray(jax.vmap(tgt.log_prob)(jnp.asarray(run.positions.reshape(-1, 2))))
    np.testing.assert_allclose(run.logdensity.ravel(), lp, rtol=1e-10, atol=1e-10)
    for name in ("acceptance_rate", "diverging", "n_steps", "energy"):
        assert run.stats[name].shape == (CHAINS, DRAWS), name
    assert run.stats["n_steps"].min() >= 1 and run.stats["n_steps"].max() <= 2**10 - 1


def test_compiled_once_per_configuration(run, tgt, x0):
    assert run.cost.time_compile > 0 and not run.info["compile_cached"]
    again = _run(2, tgt.log_prob, x0)
    assert again.cost.time_compile == 0.0 and again.info["compile_cached"]
    assert not np.array_equal(again.positions, run.positions)


@pytest.mark.parametrize("chain_method", ["sequential", "vectorized"])
def test_cost_account_equals_evaluations(chain_method, tgt, x0):
    log_prob, counter = counting_log_density(tgt.log_prob)
    d = _run(3, log_prob, x0, warmup=50, draws=50, chain_method=chain_method)
    c = d.cost
    assert c.grad_evals_sampling == d.stats["n_steps"].sum()
    assert c.grad_evals_warmup >= CHAINS * (1 + 50)
    if chain_method == "sequential":
        assert c.grad_evals == c.grad_evals_lockstep == counter["points"]
    else:  # lock-step: at least the longest trajectory of all chains at every transition
        assert c.grad_evals < c.grad_evals_lockstep <= counter["points"]
    # a new draw count reuses the cached warm-up (numpyro's closure settings are traced, not run, again)
    d2 = _run(4, log_prob, x0, warmup=50, draws=30, chain_method=chain_method)
    assert d2.positions.shape == (CHAINS, 30, 2) and d2.cost.time_compile > 0


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"num_warmup": 5}, ">= 10"),
        ({"num_draws": 0}, ">= 1"),
        ({"target_acceptance_rate": 1.0}, r"\(0, 1\)"),
        ({"max_tree_depth": 0}, r"\[1, 20\]"),
        ({"chain_method": "bogus"}, "auto, vectorized, sequential"),
    ],
)
def test_invalid_inputs_name_the_valid_range(bad, match, tgt, x0):
    args = {"num_warmup": 100, "num_draws": 10} | bad
    with pytest.raises(ValueError, match=match):
        numpyro_nuts(jax.random.key(0), tgt.log_prob, x0, **args)
