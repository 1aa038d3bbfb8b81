"""The corrected objective of vaegibbs/objective.py (docs/method.md, correction 1) and the IW bound.

- On linear-Gaussian VAEs both joints pi(z) Q(x|z) and mu(x) P(z|x) are Gaussian, so `L + log Z` has a
  closed form (the KL between them) and so does the marginal KL(q || mu) that the IW bound tends to.
  When the encoder is the decoder's exact posterior and mu = q, every term equals -log Z exactly.
- On Gaussian targets with log Z != 0, with an untrained VAE and with the trained factor-analysis
  sampler: L >= -log Z within Monte Carlo error, and L_K < L_0 for K > 0.

Statistical checks use fixed seeds and 4 standard errors (two-sided normal tail 6.3e-5 per check).
IW comparisons are paired: the same key gives the same (z_0, x) whatever K (per-sample bounds are
computed with batch_size=1 under vmap over keys), so the SE is that of the per-sample differences.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vaegibbs.objective import iw_bound, joint_bound, joint_terms
from vaegibbs.train import Config, init_model

from _vae_helpers import FA_LOG_Z, exact_linear_vae, fa_log_prob, fa_parameters, gauss_kl, linear_vae, xla_optimisations

Z_SE = 4.0  # two-sided false alarm 6.3e-5 per check
N = 20_000  # samples per bound estimate
KS = (0, 1, 8)  # numbers of inner samples compared
C = 0.8  # log-density offset: log Z = C + log(normaliser)


def _mean_se(a):
    a = np.asarray(a)
    return a.mean(), a.std(ddof=1) / math.sqrt(a.size)


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    """Compile this module's functions without most XLA optimisations: they run for well under a second
    either way, and compilation dominates (as in tests/baselines/test_hmc.py). The shared trained sampler
    is made first, with optimisations, so that it does not depend on which module asks for it first."""
    with xla_optimisations(False):
        yield


def gaussian_params(mean, cov, log_z):
    """Arrays defining log_prob(x) = log N(x; mean, cov) + log_z (so that the log density is an argument of
    the compiled evaluator below, not a constant: targets of the same dimension share a compilation)."""
    mean, cov = np.asarray(mean, float), np.asarray(cov, float)
    return dict(
        mean=jnp.asarray(mean),
        prec=jnp.asarray(np.linalg.inv(cov)),
        const=jnp.asarray(log_z - 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]),
    )


def _log_prob_of(params):
    def log_prob(x):
        d = x - params["mean"]
        return -0.5 * d @ params["prec"] @ d + params["const"]

    return log_prob


R_REPEATS, R_BATCH = 300, 64  # repeated small-batch estimates (SE calibration)
BETAS = (0.0, 0.3, 1.0)


@eqx.filter_jit
def _bounds(model, params, key, n=N, ks=KS, extras=True):
    """What this module evaluates on one (model, Gaussian target) pair, in one compilation (each piece
    costs 1-2 s to compile): joint_bound on n samples; per-sample IW bounds for each K in ks (the same keys,
    so paired); with `extras`, the joint terms, iw_bound on the whole batch, R_REPEATS independent
    small-batch joint / IW bounds and joint terms at BETAS (the same key)."""
    log_prob = _log_prob_of(params)
    k_joint, k_iw, k_rep, k_beta = jax.random.split(key, 4)
    keys = jax.random.split(k_iw, n)
    per_sample = {K: jax.vmap(lambda k: iw_bound(model, log_prob, k, 1, K)[0])(keys) for K in ks}  # noqa: B023 - called at once
    out = dict(joint=joint_bound(model, log_prob, k_joint, n), iw=per_sample)
    if extras:
        out["terms"] = joint_terms(model, log_prob, k_joint, n)
        out["iw_batch"] = iw_bound(model, log_prob, k_iw, n, ks[-1])
        reps = jax.random.split(k_rep, R_REPEATS)
        out["repeats"] = (
            jax.vmap(lambda k: joint_bound(model, log_prob, k, R_BATCH))(reps),
            jax.vmap(lambda k: iw_bound(model, log_prob, k, R_BATCH, 4))(reps),
        )
        out["betas"] = [joint_terms(model, log_prob, k_beta, 200, beta) for beta in BETAS]
    return out


# --------------------------------------------------------------------- exact linear-Gaussian VAE


def test_exact_vae_gives_minus_log_z_in_every_term():
    """pi(z) Q(x|z) = mu(x) P(z|x) exactly: every term of L and of L_K is -log Z (here C), zero variance."""
    lv = exact_linear_vae()
    out = jax.tree.map(np.asarray, _bounds(lv.model, gaussian_params(lv.m, lv.q_cov, C), jax.random.key(0)))
    np.testing.assert_allclose(out["terms"], -C, rtol=0, atol=1e-10)
    L, se = out["joint"]
    assert L == pytest.approx(-C, abs=1e-10) and se < 1e-10
    for K in KS:
        np.testing.assert_allclose(out["iw"][K], -C, rtol=0, atol=1e-10)
    assert out["iw_batch"][0] == pytest.approx(-C, abs=1e-10)


# --------------------------------------------------------------------- inexact linear-Gaussian VAE

TARGET_MEAN = np.array([0.4, -0.3])
TARGET_COV = np.array([[1.5, 0.5], [0.5, 0.8]])


def _inexact_linear_vae():
    """A linear VAE whose decoder misses the target and whose encoder is not the decoder's posterior."""
    return linear_vae(
        A=[[1.0, 0.3], [-0.2, 0.6]],
        m=[0.1, 0.2],
        raw_dec=[-1.0, -0.5],
        G=[[0.5, 0.1], [0.0, 0.7]],
        g=[0.1, -0.2],
        raw_enc=[-0.8, -0.4],
        x_loc=0.2,
        x_scale=1.3,
    )


@pytest.fixture(scope="module")
def inexact():
    lv = _inexact_linear_vae()
    params = gaussian_params(TARGET_MEAN, TARGET_COV, C)
    return lv, jax.tree.map(np.asarray, _bounds(lv.model, params, jax.random.key(1)))


def test_joint_bound_equals_the_closed_form_augmented_kl(inexact):
    """L + log Z = D_KL(pi(z) Q(x|z) || mu(x) P(z|x)), both joints Gaussian here (correction 1: the joint
    expectation, z and x drawn together, not the original note's eq. 1.7)."""
    lv, out = inexact
    exact = gauss_kl(*lv.decoder_joint(), *lv.encoder_joint(TARGET_MEAN, TARGET_COV))
    L, se = out["joint"]
    assert exact > 0.1  # a case far from tight
    assert abs(L + C - exact) < Z_SE * se, (L + C, exact, se)
    # The reported SE is the standard error of the mean of the returned terms.
    mean, se_terms = _mean_se(out["terms"])
    assert L == pytest.approx(mean, rel=1e-12)
    assert se == pytest.approx(se_terms, rel=1e-3)  # ddof 0 vs 1 at n = 20000: 2.5e-5 relative


def test_iw_bound_is_sandwiched_between_marginal_and_joint_kl(inexact):
    """KL(q || mu) <= L_K + log Z <= L_0 + log Z, non-increasing in K; L_0 is the joint bound."""
    lv, out = inexact
    marginal = gauss_kl(lv.m, lv.q_cov, TARGET_MEAN, TARGET_COV)
    joint = gauss_kl(*lv.decoder_joint(), *lv.encoder_joint(TARGET_MEAN, TARGET_COV))
    assert joint - marginal > 0.05  # the encoder's error leaves a clear gap
    L0, se0 = _mean_se(out["iw"][0])
    assert abs(L0 + C - joint) < Z_SE * se0  # K = 0 is the joint bound
    for K_small, K_big in zip(KS[:-1], KS[1:]):
        gap, se_gap = _mean_se(out["iw"][K_small] - out["iw"][K_big])  # paired: same (z_0, x)
        assert gap > Z_SE * se_gap, (K_small, K_big, gap, se_gap)
    LK, seK = _mean_se(out["iw"][KS[-1]])
    assert LK + C > marginal - Z_SE * seK, (LK + C, marginal, seK)
    # Half of the joint-minus-marginal gap is closed by K = 8 already (it tends to 0 as K grows).
    assert LK + C - marginal < 0.5 * (joint - marginal)
    # The batch estimate agrees with the per-sample ones (same estimator, other key split).
    Lb, seb = out["iw_batch"]
    assert abs(Lb - LK) < Z_SE * math.hypot(seb, seK)


def test_reported_standard_error_is_calibrated(inexact):
    """The SE that joint_bound and iw_bound return is the spread of their estimates over independent keys.
    R = 300 repeats with batch 64: the sample sd of R near-normal means has relative SE 1/sqrt(2(R-1)),
    so the ratio sd / mean(SE) must be within 4 / sqrt(2(R-1)) = 0.16 of 1."""
    _, out = inexact
    for est, se in out["repeats"]:
        assert est.shape == se.shape == (R_REPEATS,)
        ratio = float(np.std(est, ddof=1) / np.mean(se))
        assert abs(ratio - 1) < Z_SE / math.sqrt(2 * (R_REPEATS - 1)), ratio


def test_beta_multiplies_only_the_log_density(inexact):
    """joint_terms(beta) = terms without U - beta log mu~(x): affine in beta for the same key."""
    _, out = inexact
    t0, t3, t1 = out["betas"]
    log_mu = t0 - t1
    assert np.ptp(log_mu) > 1  # the log density varies over the batch
    np.testing.assert_allclose(t3, t0 - 0.3 * log_mu, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------- (b) Gaussian targets

D_STD = 2
LOG_Z_STD = C + 0.5 * D_STD * math.log(2 * math.pi)  # of exp(-|x|^2/2 + C) on R^2


def test_untrained_vae_bound_above_minus_log_z_and_iw_below_joint():
    """Untrained VAE (poor encoder) on a standard normal, log_prob = -|x|^2/2 + C, log Z = C + log(2 pi)."""
    model = init_model(D_STD, jax.random.key(4), Config(width=16, depth=1))
    params = gaussian_params(np.zeros(D_STD), np.eye(D_STD), LOG_Z_STD)
    assert float(_log_prob_of(params)(jnp.ones(D_STD))) == pytest.approx(-1.0 + C, rel=1e-12)
    out = jax.tree.map(np.asarray, _bounds(model, params, jax.random.key(5), ks=(0, 8), extras=False))
    L, se = out["joint"]
    assert L + LOG_Z_STD > -Z_SE * se
    gap, se_gap = _mean_se(out["iw"][0] - out["iw"][8])
    assert gap > Z_SE * se_gap, (gap, se_gap)
    LK, seK = _mean_se(out["iw"][8])
    assert LK + LOG_Z_STD > -Z_SE * seK


def test_trained_vae_bound_above_minus_log_z_and_iw_below_joint(fa_fit):
    """The trained factor-analysis sampler: the bound is nearly tight (KL ~ 0.01), so `L >= -log Z` is a
    sharp check here; the IW bound must not exceed the joint bound (paired)."""
    mean, cov = fa_parameters()
    params = gaussian_params(mean, cov, FA_LOG_Z)
    x = jnp.asarray(mean) + 0.3
    assert float(_log_prob_of(params)(x)) == pytest.approx(float(fa_log_prob(x)), rel=1e-12)
    out = jax.tree.map(np.asarray, _bounds(fa_fit.model, params, jax.random.key(6), n=10_000, ks=(0, 8), extras=False))
    L, se = out["joint"]
    assert L + FA_LOG_Z > -Z_SE * se, (L + FA_LOG_Z, se)
    assert L + FA_LOG_Z < 0.05  # it is nearly tight (so the check above is sharp)
    gap, se_gap = _mean_se(out["iw"][0] - out["iw"][8])
    assert gap > -Z_SE * se_gap, (gap, se_gap)
    LK, seK = _mean_se(out["iw"][8])
    assert LK + FA_LOG_Z > -Z_SE * seK, (LK + FA_LOG_Z, seK)
