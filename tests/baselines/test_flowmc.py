"""flowMC: the returned walkers match the 2-D correlated Gaussian's exact moments within Monte Carlo error
(tests/baselines/peer_checks.py: |z| < 4, ArviZ MCSE); the cost account (2 gradients per MALA step, one
log density per flow proposal, one per stepper start) equals the evaluations of a counting log density;
no checkpoint directory is written; one configuration compiles once and its later seeds reuse it
(`compile_cached`, no compile time) with draws that do not depend on what ran before (seed B alone in a
fresh cache = seed B after seed A); each run restores the cached strategies and builds its own flow,
buffers and optimiser state; bad settings raise ValueError.

flowMC's first run of a configuration compiles for 15-60 s on CPU, so the module makes few runs, and the
tests that need them are marked slow (run them with -m slow).
"""

import importlib
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import flowmc

from peer_checks import assert_recovers_gaussian, counting_log_density, target

module = importlib.import_module("baselines.flowmc")

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


@pytest.fixture(scope="module")
def reruns(tgt):
    """Seed 2 in a fresh cache, then seeds 3 and 2 from the cache (the same configuration)."""
    module._CACHE.clear()
    initial = tgt.initial(jax.random.key(0), CHAINS)

    def run(seed):
        return flowmc(
            jax.random.key(seed),
            tgt.log_prob,
            initial,
            num_warmup=2 * (LOCAL + GLOBAL),
            num_draws=2 * (LOCAL + GLOBAL),
            initial_fn=tgt.initial,
            walkers=WALKERS,
            n_local=LOCAL,
            n_global=GLOBAL,
            n_epochs=2,
        )

    return run(2), run(3), run(2)


@pytest.mark.slow
def test_compiled_once_per_configuration(reruns):
    fresh, other, again = reruns
    assert not fresh.info["compile_cached"] and fresh.cost.time_compile > 0
    for d in (other, again):
        assert d.info["compile_cached"]
        assert d.cost.time_compile <= 0.01 * fresh.cost.time_compile, (d.cost.time_compile, fresh.cost.time_compile)


@pytest.mark.slow
def test_seed_draws_do_not_depend_on_what_ran_before(reruns):
    fresh, other, again = reruns
    np.testing.assert_array_equal(again.positions, fresh.positions)
    np.testing.assert_array_equal(again.logdensity, fresh.logdensity)
    for k in ("local_acceptance", "global_acceptance", "final_training_loss"):
        assert again.info[k] == fresh.info[k], k
    assert (again.cost.grad_evals_warmup, again.cost.logdensity_evals_sampling) == (
        fresh.cost.grad_evals_warmup,
        fresh.cost.logdensity_evals_sampling,
    )
    assert not np.array_equal(other.positions, fresh.positions)  # the seed, not the cache, sets the draws


def test_each_run_restores_the_strategies_and_builds_its_own_state(tgt):
    """No compilation: the cached strategies, dirtied as a run leaves them, are restored; the flow, buffers,
    step size and optimiser state are the run's own, the log density and optimiser the cached ones."""
    settings = {
        "n_local": LOCAL,
        "n_global": GLOBAL,
        "n_epochs": 2,
        "training_loops": 2,
        "production_loops": 2,
        "mala_step_size": 0.5,
        "learning_rate": 5e-3,
    }
    built = module._build(tgt.log_prob, WALKERS, 2, settings)
    s = built.strategies
    s["local_stepper"].current_position = s["global_stepper"].current_position = 80
    s["adapt_local_sampler"]._call_count = 5
    built.optimizer.optim_state = None
    key = jax.random.key_data(jax.random.key(7))
    res = module._fresh_resources(built, key, tgt.log_prob, WALKERS, 2, settings)
    assert s["local_stepper"].current_position == s["global_stepper"].current_position == 0
    assert s["adapt_local_sampler"]._call_count == 0
    assert res["logpdf"] is built.logpdf and res["optimizer"] is built.optimizer
    assert built.optimizer.optim_state is not None
    for name in ("positions_training", "log_prob_training", "positions_production", "loss_buffer"):
        assert np.all(np.asarray(res[name].data) == -np.inf), name
    np.testing.assert_array_equal(np.asarray(res["local_sampler"].step_size), [0.5, 0.5])
    assert res["global_sampler"].model is res["model"]
    again = module._fresh_resources(built, key, tgt.log_prob, WALKERS, 2, settings)
    other = module._fresh_resources(built, jax.random.key_data(jax.random.key(8)), tgt.log_prob, WALKERS, 2, settings)
    leaves = [jax.tree.leaves(eqx.filter(r["model"], eqx.is_inexact_array)) for r in (res, again, other)]
    assert all(np.array_equal(a, b) for a, b in zip(leaves[0], leaves[1]))  # the flow: from the run's key
    assert not all(np.array_equal(a, b) for a, b in zip(leaves[0], leaves[2]))


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
