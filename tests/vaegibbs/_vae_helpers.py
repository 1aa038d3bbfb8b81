"""Shared helpers of the vaegibbs tests (imported as `_vae_helpers`; tests/vaegibbs is on sys.path under
pytest's default import mode):
closed-form Gaussian KL, linear-Gaussian VAEs whose joints are known in
closed form, and the factor-analysis target.

Linear VAEs are built with `depth=0` MLPs (one affine layer each), with the weights set so that
    decoder:  Q(x|z) = N(m + A z, diag(s_x^2)),      encoder:  P(z|x) = N(G x + g, diag(s_z^2)).
The scale heads are constant (zero weight rows); their values are read back through the model's own
soft clamp, so no inversion of `soft_clip` is needed. With A = R diag(a) (R orthonormal columns),
isotropic s_x and a_j = s_x sqrt(1/s_z,j^2 - 1), G = diag(s_z^2 / s_x^2) A^T, g = -G m, the encoder
is the exact posterior of the decoder-side joint: pi(z) Q(x|z) = q(x) P(z|x) with
q = N(m, A A^T + s_x^2 I), so the importance weight of every (x, z) is the constant Z.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from vaegibbs.model import LOG_SCALE_MAX, LOG_SCALE_MIN, VAE, soft_clip
from vaegibbs.train import Config


def gauss_kl(m0, s0, m1, s1) -> float:
    """D_KL(N(m0, s0) || N(m1, s1)) for full covariances (the textbook closed form)."""
    m0, s0, m1, s1 = (np.asarray(a, float) for a in (m0, s0, m1, s1))
    n = m0.size
    s1_inv = np.linalg.inv(s1)
    diff = m1 - m0
    return 0.5 * (
        np.trace(s1_inv @ s0) + diff @ s1_inv @ diff - n + np.linalg.slogdet(s1)[1] - np.linalg.slogdet(s0)[1]
    )


def gauss_logpdf(x, mean, cov):
    """log N(x; mean, cov) as a jit-able JAX function of x (mean and cov are fixed NumPy arrays)."""
    mean, cov = np.asarray(mean, float), np.asarray(cov, float)
    prec = jnp.asarray(np.linalg.inv(cov))
    const = -0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]
    d = x - jnp.asarray(mean)
    return -0.5 * d @ prec @ d + const


@dataclasses.dataclass(frozen=True)
class LinearVAE:
    model: VAE
    A: np.ndarray  # (dim, latent)   decoder mean m + A z
    m: np.ndarray  # (dim,)
    s_x: np.ndarray  # (dim,)          decoder sd
    G: np.ndarray  # (latent, dim)   encoder mean G x + g
    g: np.ndarray  # (latent,)
    s_z: np.ndarray  # (latent,)       encoder sd

    @property
    def q_cov(self):
        """Covariance of the sampler's x-marginal q = N(m, A A^T + diag(s_x^2))."""
        return self.A @ self.A.T + np.diag(self.s_x**2)

    def decoder_joint(self):
        """(mean, cov) of pi(z) Q(x|z) on (x, z)."""
        cov = np.block([[self.q_cov, self.A], [self.A.T, np.eye(self.A.shape[1])]])
        return np.concatenate([self.m, np.zeros(self.A.shape[1])]), cov

    def encoder_joint(self, mu_mean, mu_cov):
        """(mean, cov) of mu(x) P(z|x) on (x, z) for a Gaussian target mu = N(mu_mean, mu_cov)."""
        cxz = mu_cov @ self.G.T
        cov = np.block([[mu_cov, cxz], [cxz.T, self.G @ mu_cov @ self.G.T + np.diag(self.s_z**2)]])
        return np.concatenate([mu_mean, self.G @ mu_mean + self.g]), cov


def linear_vae(A, m, raw_dec, G, g, raw_enc, x_loc=0.0, x_scale=1.0) -> LinearVAE:
    """A depth-0 VAE with affine heads: see the module docstring. `raw_*` are the pre-clamp log-scale
    outputs (constant in the input); the resulting sds are computed with the model's soft clamp."""
    A, m, G, g = (np.asarray(a, float) for a in (A, m, G, g))
    dim, latent = A.shape
    loc = np.broadcast_to(np.asarray(x_loc, float), (dim,))
    scale = np.broadcast_to(np.asarray(x_scale, float), (dim,))
    raw_dec = np.broadcast_to(np.asarray(raw_dec, float), (dim,))
    raw_enc = np.broadcast_to(np.asarray(raw_enc, float), (latent,))
    vae = VAE(dim, latent, width=1, depth=0, key=jax.random.key(0), x_loc=loc, x_scale=scale)
    # Decoder: h = W z + b; mean = loc + scale * h[:dim], log sd = log scale + soft_clip(h[dim:]).
    w_dec = np.vstack([A / scale[:, None], np.zeros((dim, latent))])
    b_dec = np.concatenate([(m - loc) / scale, raw_dec])
    # Encoder: input u = (x - loc) / scale; mean = G x + g = (G * scale) u + (G loc + g).
    w_enc = np.vstack([G * scale[None, :], np.zeros((latent, dim))])
    b_enc = np.concatenate([G @ loc + g, raw_enc])
    vae = eqx.tree_at(
        lambda v: (
            v.decoder.layers[0].weight,
            v.decoder.layers[0].bias,
            v.encoder.layers[0].weight,
            v.encoder.layers[0].bias,
        ),
        vae,
        tuple(jnp.asarray(a) for a in (w_dec, b_dec, w_enc, b_enc)),
    )
    s_x = scale * np.exp(np.asarray(soft_clip(jnp.asarray(raw_dec), LOG_SCALE_MIN, LOG_SCALE_MAX)))
    s_z = np.exp(np.asarray(soft_clip(jnp.asarray(raw_enc), LOG_SCALE_MIN, LOG_SCALE_MAX)))
    return LinearVAE(vae, A, m, s_x, G, g, s_z)


def exact_linear_vae(dim=2, latent=2, seed=0, x_loc=0.3, x_scale=1.5) -> LinearVAE:
    """A linear VAE whose encoder is the exact posterior of its decoder-side joint (module docstring)."""
    rng = np.random.default_rng(seed)
    r, _ = np.linalg.qr(rng.standard_normal((dim, latent)))  # orthonormal columns
    raw_dec = -0.7  # isotropic decoder sd
    raw_enc = rng.uniform(-1.5, -0.3, latent)  # posterior sds < 1
    s_x = x_scale * math.exp(float(soft_clip(raw_dec, LOG_SCALE_MIN, LOG_SCALE_MAX)))
    s_z = np.exp(np.asarray(soft_clip(jnp.asarray(raw_enc), LOG_SCALE_MIN, LOG_SCALE_MAX)))
    a = s_x * np.sqrt(1 / s_z**2 - 1)
    A = r * a
    m = rng.standard_normal(dim)
    G = np.diag(s_z**2 / s_x**2) @ A.T
    out = linear_vae(A, m, raw_dec, G, -G @ m, raw_enc, x_loc=x_loc, x_scale=x_scale)
    np.testing.assert_allclose(out.s_x, s_x, rtol=1e-14)
    return out


# ------------------------------------------------------------------ factor-analysis target (c)

FA_DIM, FA_LATENT, FA_NOISE = 4, 2, 0.1
FA_LOG_Z = 1.5  # log_prob = log N(x; b, A A^T + noise^2 I) + FA_LOG_Z: unnormalised, log Z known
FA_CONFIG = Config(latent_dim=FA_LATENT, width=32, depth=1, steps=2000, batch_size=256, learning_rate=5e-3, chunk=500)


def fa_parameters():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((FA_DIM, FA_LATENT))
    b = rng.standard_normal(FA_DIM)
    return b, A @ A.T + FA_NOISE**2 * np.eye(FA_DIM)


_FA_MEAN, _FA_COV = fa_parameters()


def fa_log_prob(x):
    return gauss_logpdf(x, _FA_MEAN, _FA_COV) + FA_LOG_Z


@contextlib.contextmanager
def xla_optimisations(enabled: bool):
    """Compile with or without most XLA optimisations inside the block, then restore the setting.
    Small test computations run in well under a second either way; compilation dominates."""
    old = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", not enabled)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", old)
