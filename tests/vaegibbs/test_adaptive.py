"""Adaptive (walker-based) training: closed-form KL, both modes of a bimodal target covered, costs, guards."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp

from vaegibbs import kernels
from vaegibbs.adaptive import Adaptive, fit_adaptive, forward_terms, std_normal_kl
from vaegibbs.train import Config, TrainingDiverged, init_model

# 0.5 N(-4, 0.5^2) + 0.5 N(4, 0.5^2) in d = 1, normalised (log Z = 0); the modes are 16 sds apart
MODE, SD = 4.0, 0.5


def bimodal(x):
    comps = jnp.stack([-0.5 * ((x[0] - m) / SD) ** 2 for m in (-MODE, MODE)])
    return logsumexp(comps) + math.log(0.5) - math.log(SD * math.sqrt(2 * math.pi))


SMALL = Config(steps=1200, batch_size=128, width=32, depth=2, warmup_steps=50)
SMALL_ADAPTIVE = Adaptive(walkers=256, explore_steps=50, rounds=12, kl_warmup_rounds=3, reverse_from=6, eval_batch=512)


def test_std_normal_kl_equals_its_monte_carlo_estimate_in_d5():
    key_m, key_s, key_z = jax.random.split(jax.random.key(0), 3)
    mean = jax.random.normal(key_m, (5,))
    log_scale = 0.3 * jax.random.normal(key_s, (5,))
    n = 400_000
    z = mean + jnp.exp(log_scale) * jax.random.normal(key_z, (n, 5))
    log_ratio = jnp.sum(-0.5 * ((z - mean) / jnp.exp(log_scale)) ** 2 - log_scale, axis=-1) - jnp.sum(
        -0.5 * z**2, axis=-1
    )
    mc, se = float(log_ratio.mean()), float(log_ratio.std() / math.sqrt(n))
    assert abs(float(std_normal_kl(mean, log_scale)) - mc) < 4 * se
    # one coordinate alone is off by the other four: the sum over the dimension matters
    assert abs(float(std_normal_kl(mean[:1], log_scale[:1])) - mc) > 20 * se


def test_forward_terms_bound_the_decoder_marginal():
    """E_{z ~ P(z|x)}[-log Q(x|z)] + KL(P(.|x) || pi) >= -log q(x) (the ELBO of one x), checked against
    log q(x) computed by quadrature over a 1-D latent."""
    model = init_model(1, jax.random.key(3), Config(width=16, depth=1))
    x = jnp.array([[0.3]])
    terms = forward_terms(model, jnp.repeat(x, 20000, axis=0), jax.random.key(4))
    zs = jnp.linspace(-8, 8, 4001)
    log_joint = jax.vmap(lambda z: model.log_prior(z[None]) + model.log_decoder(x[0], z[None]))(zs)
    log_q = float(logsumexp(log_joint) + jnp.log(zs[1] - zs[0]))
    se = float(terms.std() / math.sqrt(terms.size))
    assert float(terms.mean()) >= -log_q - 4 * se


@pytest.fixture(scope="module")
def bimodal_fit():
    walkers = jax.random.uniform(jax.random.key(1), (SMALL_ADAPTIVE.walkers, 1), minval=-8.0, maxval=8.0)
    return fit_adaptive(bimodal, walkers, jax.random.key(2), SMALL, SMALL_ADAPTIVE)


def test_adaptive_training_covers_both_modes_of_a_bimodal_target(bimodal_fit):
    """Importance sampling with the trained VAE: the weight of the right mode is 1/2 and log Z_hat is 0,
    each within 4 of its delta-method standard errors (the draws stay exact; coverage shows in both)."""
    s = kernels.importance_sample(bimodal_fit.model, bimodal, jax.random.key(5), 100_000)
    lw = np.asarray(s.log_weights)
    w = np.exp(lw - lw.max())
    wbar = w / w.sum()
    right = (np.asarray(s.positions[:, 0]) > 0).astype(float)
    p = float(wbar @ right)
    se_p = math.sqrt(float(np.sum(wbar**2 * (right - p) ** 2)))
    assert abs(p - 0.5) < 4 * se_p + 1e-3, (p, se_p)
    # both modes are proposed, not only re-weighted
    assert 0.2 < right.mean() < 0.8
    log_z = float(kernels.log_Z_hat(lw))
    se_log_z = math.sqrt((np.mean(w**2) / np.mean(w) ** 2 - 1) / w.size)
    assert abs(log_z) < 4 * se_log_z + 1e-3, (log_z, se_log_z)


def test_adaptive_fit_reports_its_schedule_and_costs(bimodal_fit):
    f, a = bimodal_fit, SMALL_ADAPTIVE
    per_round = SMALL.steps // a.rounds
    assert f.strategy == "adaptive" and f.strategy_settings["walkers"] == a.walkers
    assert f.loss.shape == f.loss_se.shape == f.traces["kl_weight"].shape == (SMALL.steps,)
    assert f.round_traces["bound"].shape == (a.rounds,)
    np.testing.assert_array_equal(f.traces["reverse_weight"] > 0, np.arange(SMALL.steps) >= a.reverse_from * per_round)
    assert f.traces["kl_weight"][0] == a.kl_start and f.traces["kl_weight"][-1] == 1.0
    reverse_steps = (a.rounds - a.reverse_from) * per_round
    mala = a.walkers * (1 + a.explore_steps + a.rounds * a.local_moves)  # init, then every move
    assert f.grad_evals == SMALL.batch_size * reverse_steps + mala + a.walkers * a.rounds
    assert f.logdensity_evals == f.grad_evals + a.walkers * a.rounds * a.global_moves + a.eval_batch * a.rounds
    # the walkers' own MALA moves settle near their target acceptance
    assert abs(f.round_traces["walker_mala_acceptance"][-1] - a.target_acceptance) < 0.1


def test_non_finite_bound_stops_training_naming_the_step():
    def broken(x):
        return jnp.where(x[0] > 100.0, 0.0, jnp.nan) + bimodal(x)  # NaN wherever the VAE proposes

    walkers = jnp.linspace(-2, 2, 16)[:, None]
    config = dataclasses.replace(SMALL, steps=20)
    with pytest.raises(TrainingDiverged, match="training step 0 "):
        fit_adaptive(
            broken,
            walkers,
            jax.random.key(0),
            config,
            Adaptive(walkers=16, explore_steps=2, rounds=2, kl_warmup_rounds=1, reverse_from=0, eval_batch=16),
        )


def test_bad_settings_are_refused():
    two_rounds = Adaptive(walkers=16, rounds=2, kl_warmup_rounds=1, reverse_from=1)
    with pytest.raises(ValueError, match="multiple of rounds"):
        fit_adaptive(bimodal, jnp.zeros((16, 1)), jax.random.key(0), dataclasses.replace(SMALL, steps=25), two_rounds)
    with pytest.raises(ValueError, match=r"shape \(16, dim\)"):
        fit_adaptive(bimodal, jnp.zeros((8, 1)), jax.random.key(0), SMALL, two_rounds)
    for bad in (dict(dtype="float32"), dict(restarts=2, restart_steps=10)):
        with pytest.raises(ValueError, match="float64 only"):
            fit_adaptive(bimodal, jnp.zeros((16, 1)), jax.random.key(0), dataclasses.replace(SMALL, **bad), two_rounds)
    for bad in (0, 2, 1.0, True):  # this process sees one device (tests/baselines/test_devices.py: four)
        with pytest.raises(ValueError, match=r"n_devices must be an integer in \[1, 1\].*divides Config.batch_size"):
            fit_adaptive(bimodal, jnp.zeros((16, 1)), jax.random.key(0), SMALL, two_rounds, n_devices=bad)
    with pytest.raises(ValueError, match="never reaches 1"):
        Adaptive(rounds=10)  # the default KL warm-up (25 rounds) and reverse_from (50) exceed 10 rounds
    with pytest.raises(ValueError, match="kl_start"):
        Adaptive(kl_start=0.0)
    with pytest.raises(ValueError, match="walkers"):
        Adaptive(walkers=0)
