"""blackjax NUTS and HMC baselines: correctness on a correlated Gaussian, the cost account, the
compile cache and input validation.

Statistical checks: fixed seeds; each estimate must lie within 4 Monte Carlo standard errors of the
truth, the MCSE from ArviZ (`az.mcse(..., method="mean")`, autocorrelation-aware, over chains x
draws). Two-sided normal tail at 4 SE: 6.3e-5 per check; 9 checks per sampler.

Compilation (2-14 s per configuration on CPU) dominates the run time, so the module compiles four
configurations only: NUTS and HMC with 500 warm-up / 1000 draws (sequential), and two small NUTS
runs whose log density counts its own evaluations (sequential and vectorized).
"""

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import CHAIN_METHODS, Draws, hmc, nuts
from targets.gaussian import gaussian, gaussian_parameters

DIM, CHAINS, WARMUP, DRAWS = 3, 4, 500, 1000
HMC_STEPS = 16
Z_SE = 4.0  # 4 standard errors: two-sided false alarm 6.3e-5 per check


@pytest.fixture(scope="module")
def target():
    return gaussian(dim=DIM)


@pytest.fixture(scope="module")
def x0(target):
    return target.initial(jax.random.key(0), CHAINS)


@pytest.fixture(scope="module")
def nuts_run(target, x0):
    return nuts(jax.random.key(1), target.log_prob, x0, num_warmup=WARMUP, num_draws=DRAWS, chain_method="sequential")


@pytest.fixture(scope="module")
def nuts_rerun(target, x0, nuts_run):
    # Same configuration (same log-density object, budget, chain method, shapes), another key.
    return nuts(jax.random.key(2), target.log_prob, x0, num_warmup=WARMUP, num_draws=DRAWS, chain_method="sequential")


@pytest.fixture(scope="module")
def hmc_run(target, x0):
    return hmc(
        jax.random.key(3),
        target.log_prob,
        x0,
        num_warmup=WARMUP,
        num_draws=DRAWS,
        chain_method="sequential",
        num_integration_steps=HMC_STEPS,
    )


def counting_log_density(target):
    """`target.log_prob` that counts, on the host, every point at which it is evaluated.

    Under vmap the callback sees the whole batch (or each element): counting points either way gives
    the number of log-density (and gradient) evaluations the hardware executed.
    """
    counter = {"points": 0}

    def count(x):
        x = np.asarray(x)
        counter["points"] += x.size // x.shape[-1]

    def log_prob(x):
        jax.debug.callback(count, x)
        return target.log_prob(x)

    return log_prob, counter


def _counted_run(target, x0, chain_method):
    # Only the counts matter here, so compile without XLA's optimisations (they cannot change how
    # often a side-effecting callback runs), which saves seconds of compile time.
    log_prob, counter = counting_log_density(target)
    old = jax.config.values["jax_disable_most_optimizations"]
    try:
        jax.config.update("jax_disable_most_optimizations", True)
        draws = nuts(jax.random.key(4), log_prob, x0, num_warmup=50, num_draws=50, chain_method=chain_method)
    finally:
        jax.config.update("jax_disable_most_optimizations", old)
    return draws, counter["points"]


@pytest.fixture(scope="module")
def counted_sequential(target, x0):
    return _counted_run(target, x0, "sequential")


@pytest.fixture(scope="module")
def counted_vectorized(target, x0):
    return _counted_run(target, x0, "vectorized")


_BATCHED = {}


def _batched(fn):
    """`jit(vmap(fn))`, compiled once per function."""
    if fn not in _BATCHED:
        _BATCHED[fn] = jax.jit(jax.vmap(fn))
    return _BATCHED[fn]


def _assert_recovers_gaussian(draws: Draws):
    mean, cov = gaussian_parameters(DIM, 100.0)
    x = draws.positions  # (chains, draws, dim)
    mcse = np.asarray(az.mcse(x, method="mean"))  # per coordinate
    err = x.mean(axis=(0, 1)) - mean
    assert mcse.shape == (DIM,) and np.all(mcse > 0)
    assert np.all(np.abs(err) < Z_SE * mcse), err / mcse
    c = x - mean
    for i in range(DIM):
        for j in range(i, DIM):
            prod = c[..., i] * c[..., j]  # E[prod] = Sigma_ij
            se = float(az.mcse(prod, method="mean"))
            assert abs(prod.mean() - cov[i, j]) < Z_SE * se, (i, j, (prod.mean() - cov[i, j]) / se)


def _assert_draws_consistent(draws: Draws, target, chain_method):
    assert draws.positions.shape == (CHAINS, DRAWS, DIM)
    assert draws.logdensity.shape == (CHAINS, DRAWS)
    assert draws.positions.dtype == np.float64
    assert np.all(np.isfinite(draws.positions))
    # The stored log density is the target's at the stored position.
    flat = jnp.asarray(draws.positions.reshape(-1, DIM))
    np.testing.assert_allclose(
        draws.logdensity.reshape(-1), np.asarray(_batched(target.log_prob)(flat)), rtol=1e-10, atol=1e-10
    )  # float64 rounding only
    for name in ("acceptance_rate", "diverging", "n_steps", "energy"):
        assert draws.stats[name].shape == (CHAINS, DRAWS), name
    acc = draws.stats["acceptance_rate"]
    assert np.all((acc >= 0) & (acc <= 1 + 1e-12))  # blackjax gives 1 + 2^-52 at times (rounding)
    assert draws.info["chain_method"] == chain_method
    assert draws.info["lockstep"] == (chain_method == "vectorized")
    assert draws.log_weights is None


def _assert_cost_sequential(draws: Draws):
    c = draws.cost
    assert c.grad_evals_sampling == draws.stats["n_steps"].sum()
    assert c.grad_evals == c.grad_evals_warmup + c.grad_evals_sampling
    # Warm-up: one gradient per chain at init plus at least one leapfrog step per warm-up transition.
    assert c.grad_evals_warmup >= CHAINS * (1 + WARMUP)
    assert c.time_warmup > 0 and c.time_sampling > 0
    assert c.time_run == pytest.approx(c.time_warmup + c.time_sampling)


# ----------------------------------------------------------------------------------------- NUTS


def test_nuts_recovers_mean_and_covariance(nuts_run):
    _assert_recovers_gaussian(nuts_run)


def test_nuts_draws_consistent(nuts_run, target):
    _assert_draws_consistent(nuts_run, target, "sequential")
    assert nuts_run.stats["tree_depth"].shape == (CHAINS, DRAWS)
    assert nuts_run.info["max_num_doublings"] == 10


def test_nuts_steps_match_tree_depth(nuts_run):
    # A trajectory of D doublings has 2^(D-1) - 1 complete earlier subtrees plus a last one of
    # 1..2^(D-1) steps: 2^(D-1) <= n_steps <= 2^D - 1, and D <= max_num_doublings.
    depth, steps = nuts_run.stats["tree_depth"], nuts_run.stats["n_steps"]
    assert np.all((depth >= 1) & (depth <= 10))
    assert np.all(steps >= 2 ** (depth - 1)) and np.all(steps <= 2**depth - 1)


def test_nuts_cost_account(nuts_run):
    _assert_cost_sequential(nuts_run)
    assert nuts_run.cost.time_compile > 0
    assert not nuts_run.info["compile_cached"]


def test_nuts_compiled_once_per_configuration(nuts_run, nuts_rerun):
    assert nuts_rerun.cost.time_compile == 0.0
    assert nuts_rerun.info["compile_cached"]
    assert not np.array_equal(nuts_rerun.positions, nuts_run.positions)  # another key, other draws
    _assert_cost_sequential(nuts_rerun)


def test_nuts_same_key_same_draws(target, x0, nuts_run):
    # a raw uint32 key (the legacy PRNGKey) is the typed key's bits: the same draws (baselines.common.typed_key)
    again = nuts(
        jax.random.PRNGKey(1), target.log_prob, x0, num_warmup=WARMUP, num_draws=DRAWS, chain_method="sequential"
    )
    assert again.info["compile_cached"]
    np.testing.assert_array_equal(again.positions, nuts_run.positions)
    np.testing.assert_array_equal(again.stats["n_steps"], nuts_run.stats["n_steps"])


def test_auto_chain_method_resolves_by_backend(target, x0, nuts_run):
    expected = "sequential" if jax.default_backend() == "cpu" else "vectorized"
    draws = nuts(jax.random.key(5), target.log_prob, x0, num_warmup=WARMUP, num_draws=DRAWS)
    assert draws.info["chain_method"] == expected
    if expected == "sequential":  # the resolved configuration is the one compiled above
        assert draws.info["compile_cached"] and draws.cost.time_compile == 0.0


# ------------------------------------------------------------------------------------------ HMC


def test_hmc_recovers_mean_and_covariance(hmc_run):
    _assert_recovers_gaussian(hmc_run)


def test_hmc_draws_consistent(hmc_run, target):
    _assert_draws_consistent(hmc_run, target, "sequential")
    assert "tree_depth" not in hmc_run.stats
    assert hmc_run.info["num_integration_steps"] == HMC_STEPS


def test_hmc_cost_account_is_exact(hmc_run):
    _assert_cost_sequential(hmc_run)
    assert np.all(hmc_run.stats["n_steps"] == HMC_STEPS)
    c = hmc_run.cost
    # One gradient per chain at init, then HMC_STEPS per transition.
    assert c.grad_evals_warmup == CHAINS * (1 + WARMUP * HMC_STEPS)
    assert c.grad_evals_sampling == CHAINS * DRAWS * HMC_STEPS
    assert c.time_compile > 0 and not hmc_run.info["compile_cached"]


# --------------------------------------------- gradient counts against the evaluations executed


def test_sequential_cost_account_equals_evaluations(counted_sequential):
    # Sequential chains: the account (one gradient per chain at init, then the leapfrog steps of
    # every transition) equals the number of log-density evaluations actually made.
    draws, points = counted_sequential
    c = draws.cost
    assert draws.positions.shape == (CHAINS, 50, DIM) and draws.info["chain_method"] == "sequential"
    assert c.grad_evals_sampling == draws.stats["n_steps"].sum()
    assert c.grad_evals_lockstep == c.grad_evals_warmup + c.grad_evals_sampling
    assert c.grad_evals == points


def test_vectorized_cost_account(counted_vectorized):
    draws, points = counted_vectorized
    c = draws.cost
    assert draws.positions.shape == (CHAINS, 50, DIM) and draws.info["chain_method"] == "vectorized"
    assert draws.info["lockstep"]
    assert c.grad_evals_sampling == draws.stats["n_steps"].sum()
    assert c.grad_evals_warmup >= CHAINS * (1 + 50)
    # Lock-step chains execute at least what they need, and here strictly more (NUTS trajectories
    # of 4 chains over 100 transitions differ in length).
    assert c.grad_evals_lockstep >= c.grad_evals_warmup + c.grad_evals_sampling
    assert c.grad_evals_lockstep > c.grad_evals
    assert points > c.grad_evals


def test_vectorized_lockstep_count_bounds_the_evaluations_from_below(counted_vectorized):
    # `grad_evals_lockstep` = chains * sum_t max_chain(n_steps) is a lower bound of what vmapped NUTS
    # executes: blackjax's nested doubling loops make finished chains build subtrees too.
    draws, points = counted_vectorized
    assert draws.cost.grad_evals < draws.cost.grad_evals_lockstep <= points


# ------------------------------------------------------------------------------- invalid inputs


@pytest.mark.parametrize("sampler", [nuts, hmc])
def test_invalid_inputs_name_the_valid_choices(sampler, target, x0):
    def call(**kw):
        args = dict(num_warmup=WARMUP, num_draws=DRAWS) | kw
        positions = args.pop("positions", x0)
        return sampler(jax.random.key(0), target.log_prob, positions, **args)

    with pytest.raises(ValueError, match=", ".join(CHAIN_METHODS)):
        call(chain_method="bogus")
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        call(target_acceptance_rate=1.5)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        call(target_acceptance_rate=0.0)
    with pytest.raises(ValueError, match=">= 10"):
        call(num_warmup=0)
    with pytest.raises(ValueError, match=">= 1"):
        call(num_draws=0)
    with pytest.raises(ValueError, match=r"\(chains, dim\)"):
        call(positions=x0[0])


def test_invalid_algorithm_parameters(target, x0):
    with pytest.raises(ValueError, match=r"\[1, 20\]"):
        nuts(jax.random.key(0), target.log_prob, x0, num_warmup=WARMUP, num_draws=DRAWS, max_num_doublings=0)
    with pytest.raises(ValueError, match=">= 1"):
        hmc(jax.random.key(0), target.log_prob, x0, num_warmup=WARMUP, num_draws=DRAWS, num_integration_steps=0)
