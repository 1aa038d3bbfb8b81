"""ChEES-HMC: its chains match the 2-D correlated Gaussian's exact moments within Monte Carlo error
(tests/baselines/peer_checks.py: |z| < 4, ArviZ MCSE); every walker's cost is counted and equals the
evaluations of a counting log density, with no lock-step waste (all walkers take the same number of
leapfrog steps); a second seed reuses the compiled phases; bad settings raise ValueError.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import chees

from peer_checks import assert_recovers_gaussian, counting_log_density, target, unoptimised

CHAINS, WARMUP, DRAWS, WALKERS = 4, 400, 1000, 32


@pytest.fixture(scope="module")
def tgt():
    return target()


@pytest.fixture(scope="module")
def x0(tgt):
    return tgt.initial(jax.random.key(0), CHAINS)


def _run(seed, log_prob, tgt, x0, warmup=WARMUP, draws=DRAWS, walkers=WALKERS):
    with unoptimised():  # seconds less compile time; cannot change what is computed
        return chees(
            jax.random.key(seed),
            log_prob,
            x0,
            num_warmup=warmup,
            num_draws=draws,
            initial_fn=tgt.initial,
            walkers=walkers,
        )


@pytest.fixture(scope="module")
def run(tgt, x0):
    return _run(1, tgt.log_prob, tgt, x0)


def test_recovers_mean_and_covariance(run):
    assert_recovers_gaussian(run.positions)


def test_draws_consistent(run, tgt, x0):
    assert run.positions.shape == (CHAINS, DRAWS, 2) and run.info["walkers"] == WALKERS
    lp = np.asarray(jax.vmap(tgt.log_prob)(jnp.asarray(run.positions.reshape(-1, 2))))
    np.testing.assert_allclose(run.logdensity.ravel(), lp, rtol=1e-10, atol=1e-10)
    steps = run.stats["n_steps"]
    assert np.all(steps == steps[:1])  # one trajectory length for all chains per step
    assert len(np.unique(steps)) > 1  # jittered over the steps


def test_compiled_once_per_configuration(run, tgt, x0):
    assert run.cost.time_compile > 0 and not run.info["compile_cached"]
    again = _run(2, tgt.log_prob, tgt, x0)
    assert again.cost.time_compile == 0.0 and again.info["compile_cached"]
    assert not np.array_equal(again.positions, run.positions)


def test_cost_account_equals_evaluations(tgt, x0):
    log_prob, counter = counting_log_density(tgt.log_prob)
    d = _run(3, log_prob, tgt, x0, warmup=40, draws=30, walkers=8)
    c = d.cost
    assert c.grad_evals_sampling == 8 * d.stats["n_steps"].sum(axis=1)[0] == 8 * d.stats["n_steps"][0].sum()
    assert c.grad_evals == c.grad_evals_lockstep == counter["points"]  # every walker counted, no waste


def test_extra_walkers_need_initial_fn(tgt, x0):
    with pytest.raises(ValueError, match="initial_fn"):
        chees(jax.random.key(0), tgt.log_prob, x0, num_warmup=20, num_draws=10, walkers=8)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"num_warmup": 5}, ">= 10"),
        ({"walkers": 1}, ">= 2"),
        ({"learning_rate": 0.0}, "> 0"),
        ({"target_acceptance_rate": 0.0}, r"\(0, 1\)"),
        ({"jitter_amount": 2.0}, r"\[0, 1\]"),
        ({"mass_matrix": "dense"}, "identity, diagonal"),
    ],
)
def test_invalid_inputs_name_the_valid_range(bad, match, tgt, x0):
    args = {"num_warmup": 100, "num_draws": 10} | bad
    with pytest.raises(ValueError, match=match):
        chees(jax.random.key(0), tgt.log_prob, x0, initial_fn=tgt.initial, **args)
