"""The VAE of vaegibbs/model.py: Gaussian densities against scipy, the sampling heads against the densities
they report, the soft clamp of the scales, and the closed-form Gaussian KL of docs/method.md's correction 2
against Monte Carlo (with the original note's version, which drops the factor d, shown to fail).

Statistical checks use fixed seeds. Tolerances: 4 Monte Carlo standard errors (two-sided normal tail
6.3e-5 per check) for means and KL estimates; the KS tests reject at p < 6.3e-5, the same false-alarm
rate. Deterministic comparisons with scipy use rtol 1e-10 (float64 rounding of the same formula).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from vaegibbs.model import LOG_SCALE_MAX, LOG_SCALE_MIN, normal_logpdf, soft_clip
from vaegibbs.train import Config, init_model

from _vae_helpers import gauss_kl

Z_SE = 4.0  # two-sided false alarm 6.3e-5 per check
P_MIN = 6.3e-5  # KS rejection level, the same false-alarm rate
DIM, LATENT = 4, 3
X_LOC, X_SCALE = 0.7, 2.5


@pytest.fixture(scope="module")
def model():
    """An untrained VAE with a non-trivial standardisation (x_loc, x_scale), so that it is exercised."""
    return init_model(
        DIM, jax.random.key(3), Config(latent_dim=LATENT, width=16, depth=2, x_loc=X_LOC, x_scale=X_SCALE)
    )


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(11)
    return rng.normal(X_LOC, X_SCALE, (20, DIM)), rng.standard_normal((20, LATENT))


@eqx.filter_jit
def _evaluate(model, xs, zs):
    """Everything the deterministic model tests look at, in one compiled call (eager JAX would compile
    every operation separately)."""
    grad = eqx.filter_grad(lambda m: jnp.sum(jax.vmap(m.log_decoder)(xs, zs) + jax.vmap(m.log_encoder)(zs, xs)))
    return dict(
        log_prior=model.log_prior(zs),
        log_decoder=jax.vmap(model.log_decoder)(xs, zs),
        decode=jax.vmap(model.decode)(zs),
        log_encoder=jax.vmap(model.log_encoder)(zs, xs),
        encode=jax.vmap(model.encode)(xs),
        decoder_raw=jax.vmap(model.decoder)(zs),
        encoder_raw=jax.vmap(model.encoder)((xs - X_LOC) / X_SCALE),
        grad=grad(model),
        log_weight=jax.vmap(model.log_weight, in_axes=(None, 0, 0))(_toy_log_prob, xs, zs),
    )


def _toy_log_prob(x):
    return -0.5 * jnp.sum(x**2) + 2.0


@pytest.fixture(scope="module")
def evaluated(model, points):
    xs, zs = points
    return jax.tree.map(np.asarray, _evaluate(model, jnp.asarray(xs), jnp.asarray(zs)))


# ------------------------------------------------------------------------------- densities


def test_normal_logpdf_matches_scipy():
    rng = np.random.default_rng(0)
    x, mean = rng.standard_normal((50, 5)) * 3, rng.standard_normal((50, 5))
    log_scale = rng.uniform(-3, 3, (50, 5))
    ours = np.asarray(normal_logpdf(jnp.asarray(x), jnp.asarray(mean), jnp.asarray(log_scale)))
    assert ours.shape == (50,)
    ref = stats.norm.logpdf(x, mean, np.exp(log_scale)).sum(axis=-1)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    for i in range(3):  # and as a multivariate density with diagonal covariance
        mvn = stats.multivariate_normal(mean[i], np.diag(np.exp(2 * log_scale[i])))
        assert ours[i] == pytest.approx(mvn.logpdf(x[i]), rel=1e-10)


def test_log_prior_is_standard_normal(evaluated, points):
    _, z = points
    np.testing.assert_allclose(
        evaluated["log_prior"], stats.multivariate_normal(np.zeros(LATENT), np.eye(LATENT)).logpdf(z), rtol=1e-10
    )


def test_log_decoder_and_encoder_match_scipy(evaluated, points):
    xs, zs = points
    (dec_mean, dec_ls), (enc_mean, enc_ls) = evaluated["decode"], evaluated["encode"]
    assert dec_mean.shape == dec_ls.shape == (len(xs), DIM)
    assert enc_mean.shape == enc_ls.shape == (len(xs), LATENT)
    for i, (x, z) in enumerate(zip(xs, zs)):
        ref = stats.multivariate_normal(dec_mean[i], np.diag(np.exp(2 * dec_ls[i]))).logpdf(x)
        assert evaluated["log_decoder"][i] == pytest.approx(ref, rel=1e-10)
        ref = stats.multivariate_normal(enc_mean[i], np.diag(np.exp(2 * enc_ls[i]))).logpdf(z)
        assert evaluated["log_encoder"][i] == pytest.approx(ref, rel=1e-10)


def test_heads_apply_the_fixed_standardisation(evaluated):
    """decode: mean = loc + scale h[:d], log sd = log scale + clamp(h[d:]); encode sees (x - loc) / scale."""
    h = evaluated["decoder_raw"]
    mean, log_scale = evaluated["decode"]
    np.testing.assert_allclose(mean, X_LOC + X_SCALE * h[:, :DIM], rtol=1e-12)
    np.testing.assert_allclose(log_scale, math.log(X_SCALE) + _soft_clip_np(h[:, DIM:]), rtol=1e-10, atol=1e-12)
    h = evaluated["encoder_raw"]
    mean, log_scale = evaluated["encode"]
    np.testing.assert_allclose(mean, h[:, :LATENT], rtol=1e-12)
    np.testing.assert_allclose(log_scale, _soft_clip_np(h[:, LATENT:]), rtol=1e-10, atol=1e-12)
    # The standardisation is fixed: it is not trained (no gradient reaches it), the networks are.
    g = evaluated["grad"]
    assert np.abs(g.x_loc).max() == 0.0 and np.abs(g.x_log_scale).max() == 0.0
    assert np.abs(g.decoder.layers[0].weight).max() > 0 and np.abs(g.encoder.layers[0].weight).max() > 0


def _soft_clip_np(x, lo=LOG_SCALE_MIN, hi=LOG_SCALE_MAX):
    """The documented clamp lo + softplus(x - lo) - softplus(x - hi), in NumPy."""
    return lo + np.logaddexp(0, x - lo) - np.logaddexp(0, x - hi)


def test_soft_clip_is_near_identity_inside_and_bounded():
    x = np.linspace(-50.0, 50.0, 2001)
    y = np.asarray(soft_clip(jnp.asarray(x), LOG_SCALE_MIN, LOG_SCALE_MAX))
    np.testing.assert_allclose(y, _soft_clip_np(x), rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(y) >= 0)  # monotone (saturates in float64)
    assert np.all(np.diff(y[np.abs(x) <= 20]) > 0)  # strictly increasing where not saturated
    assert np.all((y >= LOG_SCALE_MIN) & (y <= LOG_SCALE_MAX))
    # |clip(x) - x| <= log(1 + e^{-(x - lo)}) + log(1 + e^{-(hi - x)}) <= e^{-(x - lo)} + e^{-(hi - x)}
    inside = np.abs(x) <= 5
    bound = np.exp(-(x - LOG_SCALE_MIN)) + np.exp(-(LOG_SCALE_MAX - x))
    assert np.all(np.abs(y - x)[inside] <= bound[inside])
    assert y[0] == pytest.approx(LOG_SCALE_MIN, abs=1e-12) and y[-1] == pytest.approx(LOG_SCALE_MAX, abs=1e-12)


def test_scales_stay_finite_for_huge_network_outputs(model, points):
    """Numerically safe scales: weights blown up by 1e4 still give clamped scales and finite densities."""
    big = jax.tree.map(lambda a: a * 1e4 if isinstance(a, jax.Array) and a.ndim == 2 else a, model)
    xs, zs = points
    out = _evaluate(big, jnp.asarray(xs), jnp.asarray(zs))
    dec_ls, enc_ls = out["decode"][1] - big.x_log_scale, out["encode"][1]
    assert np.abs(np.asarray(out["decoder_raw"])).max() > 100  # the raw outputs are far outside
    for log_scale in (np.asarray(dec_ls), np.asarray(enc_ls)):
        assert np.all(log_scale >= LOG_SCALE_MIN) and np.all(log_scale <= LOG_SCALE_MAX)
    assert np.all(np.isfinite(np.asarray(out["log_decoder"]))) and np.all(np.isfinite(np.asarray(out["log_encoder"])))


def test_log_weight_is_the_joint_density_ratio(evaluated, points):
    xs, _ = points
    lp = -0.5 * np.sum(xs**2, axis=1) + 2.0
    ref = lp + evaluated["log_encoder"] - evaluated["log_prior"] - evaluated["log_decoder"]
    np.testing.assert_allclose(evaluated["log_weight"], ref, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------- sampling heads

N_DRAWS = 20_000


@eqx.filter_jit
def _head_draws(model, key, x, z):
    """N_DRAWS draws of each head at a fixed (x, z), with the curvature and slope of the log densities
    they report at the reported means."""
    k_dec, k_enc = jax.random.split(key)
    dec = jax.vmap(model.sample_decoder, in_axes=(0, None))(jax.random.split(k_dec, N_DRAWS), z)
    enc = jax.vmap(model.sample_encoder, in_axes=(0, None))(jax.random.split(k_enc, N_DRAWS), x)
    log_dec, log_enc = (lambda y: model.log_decoder(y, z)), (lambda y: model.log_encoder(y, x))
    (dm, _), (em, _) = model.decode(z), model.encode(x)
    return dict(
        decoder=(dec, dm, jax.hessian(log_dec)(dm), jax.grad(log_dec)(dm)),
        encoder=(enc, em, jax.hessian(log_enc)(em), jax.grad(log_enc)(em)),
    )


@pytest.fixture(scope="module")
def head_draws(model, points):
    xs, zs = points
    return jax.tree.map(np.asarray, _head_draws(model, jax.random.key(5), jnp.asarray(xs[1]), jnp.asarray(zs[1])))


@pytest.mark.parametrize("head", ["decoder", "encoder"])
def test_sampling_heads_draw_from_the_reported_densities(head_draws, head):
    """Draws of sample_decoder(., z) (sample_encoder(., x)) at a fixed z (x) follow the Gaussian whose log
    density log_decoder (log_encoder) reports. That density's mean and sd are read off the density itself
    (zero slope at the mean; curvature -1/sd^2, diagonal), then the draws are compared with them."""
    draws, mean, hess, slope = head_draws[head]
    np.testing.assert_allclose(hess, np.diag(np.diag(hess)), atol=1e-12)  # diagonal covariance
    sd = 1 / np.sqrt(-np.diag(hess))
    assert np.abs(slope).max() < 1e-8 * np.max(1 / sd)
    n = draws.shape[0]
    z_mean = (draws.mean(axis=0) - mean) / (sd / math.sqrt(n))
    assert np.all(np.abs(z_mean) < Z_SE), z_mean
    # Sample variance of n normal draws: SE = var sqrt(2 / (n - 1)).
    z_var = (draws.var(axis=0, ddof=1) - sd**2) / (sd**2 * math.sqrt(2 / (n - 1)))
    assert np.all(np.abs(z_var) < Z_SE), z_var
    for i in range(draws.shape[1]):
        assert stats.kstest(draws[:, i], stats.norm(mean[i], sd[i]).cdf).pvalue > P_MIN
    # Independent coordinates: sample correlation SE ~ 1 / sqrt(n).
    corr = np.corrcoef(draws.T)[np.triu_indices(draws.shape[1], 1)]
    assert np.all(np.abs(corr) < Z_SE / math.sqrt(n)), corr


def test_sampling_is_reparameterised(model, points):
    """sample_decoder(key, z) = mean(z) + sd(z) * eps(key): the same key gives the same eps whatever z, and
    the draw is differentiable in the network outputs (the objective is a reparameterised estimator)."""
    _, zs = points

    @eqx.filter_jit
    def eps_and_grad(model, key, zs):
        def eps(z):
            mean, log_scale = model.decode(z)
            return (model.sample_decoder(key, z) - mean) / jnp.exp(log_scale)

        grad = jax.grad(lambda z: jnp.sum(model.sample_decoder(key, z)))(zs[0])
        return jax.vmap(eps)(zs[:3]), grad

    eps, grad = (np.asarray(a) for a in eps_and_grad(model, jax.random.key(9), jnp.asarray(zs)))
    np.testing.assert_allclose(eps[1], eps[0], rtol=1e-10)
    np.testing.assert_allclose(eps[2], eps[0], rtol=1e-10)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_latent_dim_defaults_to_the_target_dimension():
    # Shapes only (eqx.filter_eval_shape traces without computing).
    m = eqx.filter_eval_shape(init_model, 3, jax.random.key(0), Config(width=8, depth=1))
    assert (m.dim, m.latent_dim) == (3, 3)
    m = eqx.filter_eval_shape(init_model, 3, jax.random.key(0), Config(latent_dim=2, width=8, depth=1))
    assert (m.dim, m.latent_dim) == (3, 2)
    assert m.encoder.layers[-1].weight.shape == (4, 8) and m.decoder.layers[-1].weight.shape == (6, 8)


# ------------------------------------------------------------------------------- closed-form KL (a)

KL_D, KL_N = 5, 200_000


def kl_isotropic(m, s, d):
    """docs/method.md, correction 2: D_KL(N(0, I_d) || N(m, s^2 I_d))."""
    return 0.5 * (d * math.log(s**2) - d + d / s**2 + float(m @ m) / s**2)


def kl_isotropic_seed(m, s):
    """The original note's eqs. 1.8 / 2.10: the same without the factor d (wrong for d > 1)."""
    return 0.5 * (math.log(s**2) - 1 + 1 / s**2 + float(m @ m) / s**2)


@pytest.fixture(scope="module")
def kl_case():
    rng = np.random.default_rng(1)
    m, s = rng.standard_normal(KL_D) * 0.5, 1.6
    x = jax.random.normal(jax.random.key(2), (KL_N, KL_D))
    # log N(x; 0, I) - log N(x; m, s^2 I) with the density the code uses.
    terms = np.asarray(normal_logpdf(x, 0.0, 0.0) - normal_logpdf(x, jnp.asarray(m), math.log(s)))
    return m, s, terms.mean(), terms.std(ddof=1) / math.sqrt(KL_N)


def test_closed_form_kl_matches_monte_carlo_in_d5(kl_case):
    m, s, mc, se = kl_case
    exact = kl_isotropic(m, s, KL_D)
    assert abs(mc - exact) < Z_SE * se, (mc, exact, se)
    # The general (full-covariance) closed form used by the other tests agrees with it.
    assert gauss_kl(np.zeros(KL_D), np.eye(KL_D), m, s**2 * np.eye(KL_D)) == pytest.approx(exact, rel=1e-12)


def test_seed_kl_without_factor_d_fails_the_same_comparison(kl_case):
    m, s, mc, se = kl_case
    seed = kl_isotropic_seed(m, s)
    assert abs(mc - seed) > Z_SE * se, (mc, seed, se)
    # d = 1 is the only case where the original note's formula is right: both agree there.
    assert kl_isotropic_seed(m[:1], s) == pytest.approx(kl_isotropic(m[:1], s, 1), rel=1e-14)


def test_full_covariance_kl_matches_monte_carlo_in_d5():
    """The closed form `gauss_kl` (used against the objective in test_objective.py) against Monte Carlo
    with scipy's densities, for correlated Gaussians in d = 5."""
    rng = np.random.default_rng(3)
    b0, b1 = rng.standard_normal((KL_D, KL_D)), rng.standard_normal((KL_D, KL_D))
    s0, s1 = b0 @ b0.T / KL_D + 0.5 * np.eye(KL_D), b1 @ b1.T / KL_D + 0.5 * np.eye(KL_D)
    m0, m1 = rng.standard_normal(KL_D), rng.standard_normal(KL_D)
    x = rng.multivariate_normal(m0, s0, size=KL_N)
    terms = stats.multivariate_normal(m0, s0).logpdf(x) - stats.multivariate_normal(m1, s1).logpdf(x)
    se = terms.std(ddof=1) / math.sqrt(KL_N)
    assert abs(terms.mean() - gauss_kl(m0, s0, m1, s1)) < Z_SE * se
