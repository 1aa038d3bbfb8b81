"""Exactness of the VAE kernels (vaegibbs/kernels.py), with untrained random VAEs.

The chains leave mu(x) P(z|x) invariant whatever the networks are (docs/method.md), so an untrained VAE (and a
deliberately bad one, its x_loc shifted away from the target) must still sample the target; only the
acceptance and the mixing suffer. Target: `targets.gaussian.gaussian(dim=2, condition=4.0)` (exact
marginals N(mean_i, cov_ii)) plus a constant C, so that log Z = C is not 0; the VAEs use x_scale = 2,
about the target's scale.

Statistical checks, fixed seeds:
- the mean of each coordinate within 4 ArviZ MCSEs (`az.mcse(..., method="mean")` over (chains, draws),
  autocorrelation-aware; two-sided normal tail 6.3e-5 per check), after a burn-in of 100 steps;
- a KS test per coordinate against the exact marginal on draws thinned by ceil(N / ESS) (nearly
  independent), rejected at p < 6.3e-5, the same false-alarm rate; ESS >= 300 is required so that the
  checks have power (a stuck chain would pass a mean check with a huge MCSE);
- acceptance: the mean of (is_accepted - acceptance_rate) is 0 within 4 SE (the accept indicators are
  Bernoulli(rate) given the past, SE^2 = sum rate (1 - rate) / n^2);
- importance sampling: self-normalised moments within 4 delta-method SEs, log Z_hat within 4 SE
  (SE = sd(w) / (sqrt(n) mean(w))).
The cost fields are checked against a log density that counts its own evaluations (value and gradient)
with host callbacks, in short runs.
"""

import math

import arviz as az
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from targets.gaussian import gaussian, gaussian_parameters
from vaegibbs import kernels
from vaegibbs.objective import iw_bound
from vaegibbs.train import Config, init_model

from _vae_helpers import exact_linear_vae, gauss_logpdf, xla_optimisations

Z_SE = 4.0  # two-sided false alarm 6.3e-5 per check
P_MIN = 6.3e-5  # KS rejection level, the same false-alarm rate
MIN_ESS = 300
C = 0.8  # log Z of the target below
CHAINS, STEPS, BURN = 8, 2000, 100
NUM_LOCAL, STEP_SIZE = 3, 0.6
JITTER = 0.5
BAD_SHIFT = (2.0, -1.5)  # added to the bad VAE's x_loc: about 1 and 1.4 target sds (sds 1.97, 1.05)

TARGET = gaussian(dim=2, condition=4.0)
MEAN, COV = gaussian_parameters(2, 4.0)


def log_prob(x):
    return TARGET.log_prob(x) + C


class Counting:
    """`log_prob` that counts, on the host, the points where its value and its gradient are evaluated."""

    def __init__(self, fn):
        self.values = self.grads = 0

        def count(kind, x):
            n = int(np.prod(np.shape(x)[:-1]))
            if kind == "value":
                self.values += n
            else:
                self.grads += n

        @jax.custom_vjp
        def counted(x):
            jax.debug.callback(lambda x: count("value", x), x)
            return fn(x)

        def fwd(x):
            jax.debug.callback(lambda x: count("value", x), x)
            return fn(x), x

        def bwd(x, g):
            jax.debug.callback(lambda x: count("grad", x), x)
            return (jax.grad(fn)(x) * g,)

        counted.defvjp(fwd, bwd)
        self.fn = counted


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    """Compile without most XLA optimisations: the runs take well under a second either way."""
    with xla_optimisations(False):
        yield


# One compiled function per kernel type; the model and the tuning are arguments, so that the random
# VAE, the bad VAE and both jitters share a compilation (tuning passed as arrays: eqx.filter_jit treats
# Python floats as static).
@eqx.filter_jit
def _run_gibbs(model, key, x0, jitter):
    return kernels.run_chains(kernels.gibbs(model, log_prob, jitter), key, x0, STEPS)


@eqx.filter_jit
def _run_imh(model, key, x0, temperature=1.0, num_inner=0):
    return kernels.run_chains(kernels.imh(model, log_prob, temperature, num_inner), key, x0, STEPS)


INNER = 3  # encoder draws per proposal of the hierarchical-weight runs
BATCH = 3000  # proposals per batch of run_independent_chains: CHAINS x STEPS = 16,000 gives 5 batches and a rest


@eqx.filter_jit
def _run_imh_batched(model, key, x0, temperature=1.0, num_inner=0):
    return kernels.run_independent_chains(
        kernels.imh(model, log_prob, temperature, num_inner), key, x0, STEPS, batch_size=BATCH
    )


@eqx.filter_jit
def _run_hybrid(model, key, x0, step_size):
    return kernels.run_chains(kernels.hybrid(model, log_prob, step_size, NUM_LOCAL), key, x0, STEPS)


@pytest.fixture(scope="module")
def model():
    return init_model(2, jax.random.key(0), Config(width=16, depth=1, x_scale=2.0))


@pytest.fixture(scope="module")
def bad_model(model):
    return eqx.tree_at(lambda m: m.x_loc, model, model.x_loc + jnp.asarray(BAD_SHIFT))


RUNS = [
    "gibbs",
    "gibbs-jitter",
    "imh",
    "imh-tempered",
    "imh-inner",
    "imh-tempered-inner",
    "hybrid",
    "bad-gibbs",
    "bad-imh",
    "bad-imh-inner",
    "imh-batched",
    "bad-imh-inner-batched",
]
# run_independent_chains with the keys of a run_chains run above: the same chains
BATCHED = {"imh-batched": "imh", "bad-imh-inner-batched": "bad-imh-inner"}


@pytest.fixture(scope="module")
def runs(model, bad_model):
    x0 = TARGET.initial(jax.random.key(1), CHAINS)  # uniform in [-2, 2]^2: not from the target
    calls = {
        "gibbs": lambda: _run_gibbs(model, jax.random.key(2), x0, jnp.asarray(0.0)),
        "gibbs-jitter": lambda: _run_gibbs(model, jax.random.key(3), x0, jnp.asarray(JITTER)),
        "imh": lambda: _run_imh(model, jax.random.key(4), x0),
        "imh-tempered": lambda: _run_imh(model, jax.random.key(8), x0, jnp.asarray(1.3)),  # wider latent proposal
        "hybrid": lambda: _run_hybrid(model, jax.random.key(5), x0, jnp.asarray(STEP_SIZE)),
        "bad-gibbs": lambda: _run_gibbs(bad_model, jax.random.key(6), x0, jnp.asarray(0.0)),
        "bad-imh": lambda: _run_imh(bad_model, jax.random.key(7), x0),
        "imh-inner": lambda: _run_imh(model, jax.random.key(9), x0, 1.0, INNER),
        "imh-tempered-inner": lambda: _run_imh(model, jax.random.key(13), x0, jnp.asarray(1.3), INNER),
        "bad-imh-inner": lambda: _run_imh(bad_model, jax.random.key(10), x0, 1.0, INNER),
        "imh-batched": lambda: _run_imh_batched(model, jax.random.key(4), x0),
        "bad-imh-inner-batched": lambda: _run_imh_batched(bad_model, jax.random.key(10), x0, 1.0, INNER),
    }
    out = {}
    for name, call in calls.items():
        final, (states, infos) = call()
        out[name] = dict(final=final, states=jax.tree.map(np.asarray, states), infos=jax.tree.map(np.asarray, infos))
    return out


# ------------------------------------------------------------------------------- exactness (d)


@pytest.mark.parametrize("name", RUNS)
def test_chains_match_the_exact_marginals(runs, name):
    _assert_exact(runs[name]["states"].position)


def _assert_exact(positions):
    x = positions[:, BURN:]  # (chains, draws, 2)
    assert x.shape == (CHAINS, STEPS - BURN, 2)
    for i in range(2):
        xi = x[..., i]
        ess, mcse = float(az.ess(xi)), float(az.mcse(xi, method="mean"))
        assert ess >= MIN_ESS, (i, ess)
        assert abs(xi.mean() - MEAN[i]) < Z_SE * mcse, (i, (xi.mean() - MEAN[i]) / mcse)
        thin = math.ceil(xi.size / ess)
        p = stats.kstest(xi[:, ::thin].ravel(), stats.norm(MEAN[i], math.sqrt(COV[i, i])).cdf).pvalue
        assert p > P_MIN, (i, p, thin)


@pytest.mark.parametrize("name", RUNS)
def test_state_is_consistent(runs, name):
    """The stored log density is the target's at the stored position (MH ratios use it)."""
    st = runs[name]["states"]
    flat = jnp.asarray(st.position[:, ::50].reshape(-1, 2))
    np.testing.assert_allclose(
        st.logdensity[:, ::50].reshape(-1), np.asarray(_batched_log_prob(flat)), rtol=1e-10, atol=1e-10
    )
    latent_shape = (INNER + 1, 2) if "-inner" in name else (2,)  # z_0..z_K with hierarchical weights
    assert st.latent.shape == (CHAINS, STEPS, *latent_shape) and np.all(np.isfinite(st.latent))


_batched_log_prob = jax.jit(jax.vmap(log_prob))


@pytest.mark.parametrize("name", RUNS)
def test_acceptance_is_a_probability_and_matches_the_accept_indicator(runs, name):
    info = runs[name]["infos"]
    rate, accepted = info.acceptance_rate, info.is_accepted
    assert rate.shape == accepted.shape == (CHAINS, STEPS)
    assert accepted.dtype == bool
    assert np.all((rate >= 0) & (rate <= 1))
    n = rate.size
    diff = accepted.mean() - rate.mean()
    se = math.sqrt(np.sum(rate * (1 - rate))) / n
    assert abs(diff) < Z_SE * se, (diff, se)
    assert 0.05 < rate.mean() < 1  # the moves do move


@pytest.mark.parametrize("name", BATCHED)
def test_batched_independence_chains_are_the_step_by_step_chains(runs, name):
    """run_independent_chains draws the proposals of `step` with the same keys, in batches, and makes the
    same accept/reject decisions on the same (cached) weights: the same chains as run_chains, up to the
    rounding of batched matrix products (the decisions are identical, the states equal to 1e-12)."""
    batched, stepwise = runs[name], runs[BATCHED[name]]
    np.testing.assert_array_equal(batched["infos"].is_accepted, stepwise["infos"].is_accepted)
    for field in ("position", "latent", "logdensity", "log_weight"):
        np.testing.assert_allclose(
            getattr(batched["states"], field), getattr(stepwise["states"], field), rtol=1e-12, atol=1e-12, err_msg=field
        )
        np.testing.assert_allclose(
            getattr(batched["final"], field), getattr(stepwise["final"], field), rtol=1e-12, atol=1e-12, err_msg=field
        )
    np.testing.assert_allclose(
        batched["infos"].acceptance_rate, stepwise["infos"].acceptance_rate, rtol=1e-12, atol=1e-12
    )


def test_imh_caches_the_log_weight_of_its_state(runs, model, bad_model):
    """The state's cached log weight is imh_log_weight at the stored (x, z): the acceptance uses it."""
    for name, m, inner in (("imh", model, 0), ("bad-imh-inner", bad_model, INNER)):
        st = jax.tree.map(lambda a: jnp.asarray(a[:, ::97]).reshape(-1, *a.shape[2:]), runs[name]["states"])
        ref = jax.vmap(kernels.imh_log_weight(m, 1.0, inner))(st.position, st.latent, st.logdensity)
        np.testing.assert_allclose(np.asarray(st.log_weight), np.asarray(ref), rtol=1e-10, atol=1e-10)


def test_bad_vae_only_lowers_acceptance(runs):
    """Exactness does not depend on training quality (test above); a bad VAE is only less efficient."""
    for kind in ("gibbs", "imh"):
        good, bad = runs[kind]["infos"].acceptance_rate, runs["bad-" + kind]["infos"].acceptance_rate
        se = math.hypot(float(az.mcse(good, method="mean")), float(az.mcse(bad, method="mean")))
        assert good.mean() - bad.mean() > Z_SE * se, (kind, good.mean(), bad.mean(), se)


COUNT_CHAINS, COUNT_STEPS = 3, 4


@pytest.fixture(scope="module")
def counted_runs(model):
    """Short runs of each kernel with a log density that counts its evaluations (host callbacks are slow:
    the long runs above do not count). One compilation for the three kernels."""
    counter = Counting(log_prob)

    @eqx.filter_jit
    def run(model, key, x0):
        algs = {
            "gibbs": kernels.gibbs(model, counter.fn, JITTER),
            "imh": kernels.imh(model, counter.fn),
            "hybrid": kernels.hybrid(model, counter.fn, STEP_SIZE, NUM_LOCAL),
            "imh-inner": kernels.imh(model, counter.fn, num_inner=INNER),
        }  # inner draws: no target evaluation
        out = {name: kernels.run_chains(alg, key, x0, COUNT_STEPS)[1][1] for name, alg in algs.items()}
        out["imh-batched"] = kernels.run_independent_chains(algs["imh"], key, x0, COUNT_STEPS, batch_size=5)[1][1]
        return out

    infos = jax.block_until_ready(run(model, jax.random.key(10), TARGET.initial(jax.random.key(11), COUNT_CHAINS)))
    jax.effects_barrier()
    return jax.tree.map(np.asarray, infos), counter


def test_cost_fields_match_counted_evaluations(runs, counted_runs):
    """gibbs / imh (stepwise or batched): one log-density evaluation per step, no gradient; hybrid: the VAE
    move's one, plus MALA's value-and-gradient at its start and after each of the num_local moves. The reported fields are checked
    on every long run; their sum is checked against the evaluations the log density itself counted in short
    runs (which add one evaluation per chain for `init`)."""
    per_step = {"gibbs": (1, 0), "imh": (1, 0), "hybrid": (NUM_LOCAL + 2, NUM_LOCAL + 1)}
    for name in RUNS:
        info = runs[name]["infos"]
        evals = per_step[name.removeprefix("bad-").split("-")[0]]  # gibbs-jitter -> gibbs, imh-inner -> imh
        np.testing.assert_array_equal(info.logdensity_evals, evals[0])
        np.testing.assert_array_equal(info.grad_evals, evals[1])
    infos, counter = counted_runs
    reported_values = sum(int(i.logdensity_evals.sum()) for i in infos.values())
    reported_grads = sum(int(i.grad_evals.sum()) for i in infos.values())
    assert reported_values == COUNT_CHAINS * COUNT_STEPS * (1 + 1 + NUM_LOCAL + 2 + 1 + 1)
    assert counter.values == reported_values + 5 * COUNT_CHAINS, (counter.values, reported_values)
    assert counter.grads == reported_grads == COUNT_CHAINS * COUNT_STEPS * (NUM_LOCAL + 1)


@pytest.mark.slow
def test_hybrid_with_imh_move_matches_the_exact_marginals(model, bad_model):
    """hybrid(vae_move="imh") and hybrid with a jittered Gibbs move, good and bad VAE (compiles twice more)."""
    x0 = TARGET.initial(jax.random.key(1), CHAINS)

    @eqx.filter_jit
    def run(model, key, vae_move, jitter):
        alg = kernels.hybrid(model, log_prob, STEP_SIZE, NUM_LOCAL, vae_move=vae_move, jitter=jitter)
        return kernels.run_chains(alg, key, x0, STEPS)

    for i, (m, vae_move, jitter) in enumerate(
        [(model, "imh", 0.0), (bad_model, "imh", 0.0), (model, "gibbs", JITTER), (bad_model, "gibbs", JITTER)]
    ):
        _, (states, infos) = run(m, jax.random.key(20 + i), vae_move, jnp.asarray(jitter))
        _assert_exact(np.asarray(states.position))
        np.testing.assert_array_equal(np.asarray(infos.grad_evals), NUM_LOCAL + 1)


def test_hybrid_rejects_unknown_vae_move(model):
    with pytest.raises(ValueError, match="vae_move"):
        kernels.hybrid(model, log_prob, 0.5, vae_move="nuts")


def test_exact_vae_accepts_every_proposal():
    """When P(z|x) is the exact posterior of pi(z) Q(x|z) and mu = q, the Metropolis-within-Gibbs ratio
    (jitter 0) and the IMH ratio are exactly 1, with hierarchical weights too (each inner ratio is q(x))."""
    lv = exact_linear_vae()
    lp = lambda x: gauss_logpdf(x, lv.m, lv.q_cov) + C  # noqa: E731

    @eqx.filter_jit
    def rates(model, keys, x0):
        out = []
        for alg in (
            kernels.gibbs(model, lp, jitter=0.0),
            kernels.imh(model, lp),
            kernels.imh(model, lp, num_inner=INNER),
        ):
            states = jax.vmap(alg.init)(x0, keys)
            out.append(jax.vmap(alg.step)(keys, states)[1].acceptance_rate)
        return out

    x0 = jnp.asarray(np.random.default_rng(0).normal(size=(64, 2)) * 2)
    for rate in rates(lv.model, jax.random.split(jax.random.key(0), 64), x0):
        np.testing.assert_allclose(np.asarray(rate), 1.0, rtol=0, atol=1e-10)


# ------------------------------------------------------------------------------- importance sampling

N_IS = 20_000


def _self_normalised(log_w, f):
    """Self-normalised estimate of E[f] and its delta-method SE: sqrt(sum w^2 (f - est)^2) / sum w."""
    w = np.exp(log_w - log_w.max())
    est = (w[:, None] * f).sum(0) / w.sum()
    se = np.sqrt((w[:, None] ** 2 * (f - est) ** 2).sum(0)) / w.sum()
    return est, se


@pytest.fixture(scope="module")
def is_run(model):
    r = eqx.filter_jit(lambda m, k: kernels.importance_sample(m, log_prob, k, N_IS))(model, jax.random.key(8))
    return jax.tree.map(np.asarray, r)


@pytest.fixture(scope="module")
def is_run_inner(model):
    r = eqx.filter_jit(lambda m, k: kernels.importance_sample(m, log_prob, k, N_IS, INNER))(model, jax.random.key(9))
    return jax.tree.map(np.asarray, r)


@pytest.mark.parametrize("inner", [0, INNER])
def test_importance_sampling_moments_and_log_z(is_run, is_run_inner, inner):
    """Self-normalised moments and log Z_hat within 4 delta-method SEs, with the joint K = 0 weights and
    with the hierarchical weights w_K (K encoder draws per proposal)."""
    r = is_run_inner if inner else is_run
    assert r.positions.shape == (N_IS, 2) and r.latents.shape == (N_IS, 2) and r.log_weights.shape == (N_IS,)
    x = r.positions
    f = np.concatenate([x, x**2, x[:, :1] * x[:, 1:]], axis=1)
    truth = np.concatenate([MEAN, np.diag(COV) + MEAN**2, [COV[0, 1] + MEAN[0] * MEAN[1]]])
    est, se = _self_normalised(r.log_weights, f)
    assert np.all(np.abs(est - truth) < Z_SE * se), (est - truth) / se
    # The library's own self-normalised estimate is the same number.
    ours = np.asarray(kernels.self_normalised_mean(jnp.asarray(f), jnp.asarray(r.log_weights)))
    np.testing.assert_allclose(ours, est, rtol=1e-10)
    # log Z_hat: delta method on the mean of w, SE = sd(w) / (sqrt(n) mean(w)).
    w = np.exp(r.log_weights - r.log_weights.max())
    se_log_z = w.std(ddof=1) / (math.sqrt(N_IS) * w.mean())
    log_z_hat = float(kernels.log_Z_hat(jnp.asarray(r.log_weights)))
    assert abs(log_z_hat - C) < Z_SE * se_log_z, (log_z_hat, se_log_z)
    ess = float(kernels.importance_ess(jnp.asarray(r.log_weights)))
    assert 0.05 < ess <= 1  # a usable proposal (sanity of the case)


def test_importance_weights_are_the_joint_ratio(is_run, model):
    r = is_run
    idx = slice(0, 50)
    x, z = jnp.asarray(r.positions[idx]), jnp.asarray(r.latents[idx])
    ref = jax.vmap(lambda x, z: model.log_weight(log_prob, x, z))(x, z)
    np.testing.assert_allclose(r.log_weights[idx], np.asarray(ref), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(r.logdensity[idx], np.asarray(jax.vmap(log_prob)(x)), rtol=1e-12)


def test_log_z_hat_and_ess_formulas_on_hand_made_weights():
    rng = np.random.default_rng(4)
    log_w = 1000.0 + rng.normal(0, 1.5, 500)  # would overflow exp() without log-sum-exp
    w = np.exp(log_w - 1000.0)
    assert float(kernels.log_Z_hat(jnp.asarray(log_w))) == pytest.approx(1000.0 + math.log(w.mean()), rel=1e-14)
    assert float(kernels.importance_ess(jnp.asarray(log_w))) == pytest.approx(
        w.sum() ** 2 / (w.size * (w**2).sum()), rel=1e-10
    )
    assert float(kernels.importance_ess(jnp.full(7, -3.2))) == pytest.approx(1.0, rel=1e-14)
    one = jnp.asarray([-jnp.inf] * 9 + [2.0])  # one non-zero weight out of 10
    assert float(kernels.importance_ess(one)) == pytest.approx(0.1, rel=1e-14)
    assert float(kernels.log_Z_hat(one)) == pytest.approx(2.0 - math.log(10), rel=1e-14)


def test_importance_ess_is_one_when_the_proposal_is_the_target():
    """Exact linear VAE with mu = q: every log weight is log Z, ESS = 1 and log Z_hat = log Z exactly."""
    lv = exact_linear_vae()
    lp = lambda x: gauss_logpdf(x, lv.m, lv.q_cov) + C  # noqa: E731
    r = eqx.filter_jit(lambda m, k: kernels.importance_sample(m, lp, k, 2000))(lv.model, jax.random.key(9))
    np.testing.assert_allclose(np.asarray(r.log_weights), C, rtol=0, atol=1e-10)
    assert float(kernels.importance_ess(r.log_weights)) == pytest.approx(1.0, abs=1e-12)
    assert float(kernels.log_Z_hat(r.log_weights)) == pytest.approx(C, abs=1e-10)


def test_hierarchical_weights_are_the_iw_bound_terms_and_less_variable(is_run, is_run_inner, model):
    """E[-log w_K] is the IW bound L_K (objective.py, unnormalised mu~): the mean of -log w_K over the K = 3
    importance draws equals objective.iw_bound with K = 3 inner draws within 4 combined standard errors;
    and on this untrained VAE the K = 3 weights are less variable than the joint ones (higher importance
    ESS), the point of them."""
    neg_lw = -is_run_inner.log_weights
    bound, bound_se = eqx.filter_jit(lambda m, k: iw_bound(m, log_prob, k, N_IS, INNER))(model, jax.random.key(12))
    se = math.hypot(neg_lw.std(ddof=1) / math.sqrt(neg_lw.size), float(bound_se))
    assert abs(neg_lw.mean() - float(bound)) < Z_SE * se, (neg_lw.mean(), float(bound), se)
    assert float(kernels.importance_ess(jnp.asarray(is_run_inner.log_weights))) > float(
        kernels.importance_ess(jnp.asarray(is_run.log_weights))
    )
