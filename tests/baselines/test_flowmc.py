"""flowMC: the returned walkers match the 2-D correlated Gaussian's exact moments within Monte Carlo error
(tests/baselines/peer_checks.py: |z| < 4, ArviZ MCSE); the cost account (2 gradients per MALA step, one
log density per flow proposal, one per stepper start) equals the evaluations of a counting log density;
no checkpoint directory is written; bad settings raise ValueError.

flowMC builds (and compiles) a new sampler per call, 15-60 s on CPU, so the module makes one run, and the
tests that need it are marked slow (run them with -m slow).
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import flowmc

from peer_checks import assert_recovers_gaussian, counting_log_density, target

CHAINS, WALKERS, LOCAL, GLOBAL, WARMUP, DRAWS = 4, 64, 20, 20, 200, 800


@pytest.fixture(scope="module")
def tgt():
    return target()


@pytest.fixture(scope="module")
def run(tgt, tmp_path_factory):
    log_prob, counter = counting_log_density(tgt.log_prob)
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("flowmc"))  # where flowMC's default would write ./outdir
    try:
        d = flowmc(
            jax.random.key(1),
            log_prob,
            tgt.initial(jax.random.key(0), CHAINS),
            num_warmup=WARMUP,
            num_draws=DRAWS,
            initial_fn=tgt.initial,
            walkers=WALKERS,
            n_local=LOCAL,
            n_global=GLOBAL,
            n_epochs=5,
        )
        written = os.listdir(".")
    finally:
        os.chdir(cwd)
    return d, counter["points"], written


@pytest.mark.slow
def test_recovers_mean_and_covariance(run):
    assert_recovers_gaussian(run[0].positions)


@pytest.mark.slow
def test_draws_consistent(run, tgt):
    d = run[0]
    assert d.positions.shape == (CHAINS, DRAWS, 2)
    lp = np.asarray(jax.vmap(tgt.log_prob)(jnp.asarray(d.positions.reshape(-1, 2))))
    np.testing.assert_allclose(d.logdensity.ravel(), lp, rtol=1e-8, atol=1e-8)
    assert 0 < d.info["global_acceptance"] <= 1 and 0 < d.info["local_acceptance"] <= 1


@pytest.mark.slow
def test_cost_account_equals_evaluations(run):
    d, points, _ = run
    c, loops = d.cost, (WARMUP // (LOCAL + GLOBAL), DRAWS // (LOCAL + GLOBAL))
    assert (d.info["training_loops"], d.info["production_loops"]) == loops
    assert c.grad_evals_warmup == 2 * WALKERS * LOCAL * loops[0]
    assert c.grad_evals_sampling == 2 * WALKERS * LOCAL * loops[1]
    assert c.logdensity_evals_warmup + c.logdensity_evals_sampling == points
    assert c.time_compile > 0 and not d.info["compile_cached"]


@pytest.mark.slow
def test_no_checkpoint_written(run):
    assert run[2] == []


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"n_local": 0}, ">= 1"),
        ({"walkers": 1}, ">= 2"),
        ({"num_draws": 0}, ">= 1"),
        ({"mala_step_size": 0.0}, "> 0"),
    ],
)
def test_invalid_inputs_name_the_valid_range(bad, match, tgt):
    args = {"num_warmup": 100, "num_draws": 10} | bad
    with pytest.raises(ValueError, match=match):
        flowmc(jax.random.key(0), tgt.log_prob, tgt.initial(jax.random.key(0), 2), initial_fn=tgt.initial, **args)
