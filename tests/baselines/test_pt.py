"""Parallel tempering: the b = 1 replica's chains match the 2-D correlated Gaussian's exact moments within
Monte Carlo error (tests/baselines/peer_checks.py: |z| < 4, ArviZ MCSE); a swap keeps every replica's
cached log density and gradient equal to its own tempered density's; every replica's cost equals the
evaluations of a counting log density; swap acceptance per pair in info; compile cache; validation.
"""

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import pt
from baselines.pt import _swap, ladder

from peer_checks import assert_recovers_gaussian, counting_log_density, target, unoptimised

CHAINS, WARMUP, DRAWS, TEMPS = 4, 300, 1000, 4


@pytest.fixture(scope="module")
def tgt():
    return target()


@pytest.fixture(scope="module")
def x0(tgt):
    return tgt.initial(jax.random.key(0), CHAINS)


def _run(seed, log_prob, x0, warmup=WARMUP, draws=DRAWS, n_temps=TEMPS, leapfrogs=10):
    with unoptimised():  # seconds less compile time; cannot change what is computed
        return pt(
            jax.random.key(seed),
            log_prob,
            x0,
            num_warmup=warmup,
            num_draws=draws,
            n_temps=n_temps,
            beta_min=0.1,
            num_integration_steps=leapfrogs,
            chain_method="sequential",
        )


@pytest.fixture(scope="module")
def run(tgt, x0):
    return _run(1, tgt.log_prob, x0)


def test_ladder_is_geometric():
    b = ladder(5, 0.01)
    np.testing.assert_allclose(b, [1.0, 0.01**0.25, 0.1, 0.01**0.75, 0.01])


def test_cold_replica_recovers_mean_and_covariance(run):
    assert_recovers_gaussian(run.positions)


def test_draws_and_swap_info(run, tgt):
    assert run.positions.shape == (CHAINS, DRAWS, 2)
    lp = np.asarray(jax.vmap(tgt.log_prob)(jnp.asarray(run.positions.reshape(-1, 2))))
    np.testing.assert_allclose(run.logdensity.ravel(), lp, rtol=1e-10, atol=1e-10)
    rates = [run.info[f"swap_acceptance_{k}"] for k in range(TEMPS - 1)]
    assert all(0.0 < r <= 1.0 for r in rates) and run.info["swap_acceptance_min"] == min(rates)


def test_swap_keeps_each_replica_tempered(tgt):
    # whatever is swapped, replica k's cached log density and gradient are b_k times the target's
    betas = jnp.asarray(ladder(4, 0.1))
    xs = tgt.initial(jax.random.key(7), 4) * 3.0
    init = jax.vmap(lambda x, b: blackjax.hmc.init(x, lambda y: b * tgt.log_prob(y)))(xs, betas)
    swapped = 0
    for seed in range(20):
        new, prob = _swap(jax.random.key(seed), init, betas, seed % 2)
        assert np.all(np.isnan(np.asarray(prob)[np.arange(3) % 2 != seed % 2]))
        swapped += int(not np.array_equal(np.asarray(new.position), np.asarray(xs)))
        lp, grad = jax.vmap(jax.value_and_grad(tgt.log_prob))(new.position)
        np.testing.assert_allclose(new.logdensity, betas * lp, rtol=1e-12)
        np.testing.assert_allclose(new.logdensity_grad, betas[:, None] * grad, rtol=1e-12)
    assert swapped > 0


def test_compiled_once_per_configuration(run, tgt, x0):
    assert run.cost.time_compile > 0 and not run.info["compile_cached"]
    again = _run(2, tgt.log_prob, x0)
    assert again.cost.time_compile == 0.0 and again.info["compile_cached"]


def test_every_replica_cost_counted(tgt, x0):
    log_prob, counter = counting_log_density(tgt.log_prob)
    d = _run(3, log_prob, x0, warmup=20, draws=30, n_temps=3, leapfrogs=4)
    c = d.cost
    assert c.grad_evals_warmup == CHAINS * 3 * 4 * 20 + CHAINS  # one per chain at init (shared by replicas)
    assert c.grad_evals_sampling == CHAINS * 3 * 4 * 30
    assert c.grad_evals == counter["points"] == c.grad_evals_lockstep


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"n_temps": 1}, ">= 2"),
        ({"beta_min": 1.0}, r"\(0, 1\)"),
        ({"num_integration_steps": 0}, ">= 1"),
        ({"step_size": 0.0}, "> 0"),
        ({"num_draws": 0}, ">= 1"),
        ({"chain_method": "x"}, "auto, vectorized"),
    ],
)
def test_invalid_inputs_name_the_valid_range(bad, match, tgt, x0):
    args = {"num_warmup": 100, "num_draws": 10} | bad
    with pytest.raises(ValueError, match=match):
        pt(jax.random.key(0), tgt.log_prob, x0, **args)
