"""The VAE of the VAE-Gibbs sampler: encoder P(z|x) and decoder Q(x|z), diagonal Gaussian heads on equinox MLPs.

Decoder-side joint `pi(z) Q(x|z)` with `pi = N(0, I)`: its x-marginal q(x) is the sampler.
Encoder-side joint `mu(x) P(z|x)`: its x-marginal is the target, whatever the networks are.

Inputs and outputs in x are standardised by a fixed location and scale (`x_loc`, `x_scale`, not
trained); log-scales are softly clamped to [LOG_SCALE_MIN, LOG_SCALE_MAX] so that densities stay
finite (e^{-10} to e^{10} times `x_scale`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

LOG_SCALE_MIN, LOG_SCALE_MAX = -10.0, 10.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def soft_clip(x, lo: float, hi: float):
    """Smooth clamp to [lo, hi]: `lo + softplus(x - lo) - softplus(x - hi)` (~x inside, saturating outside).

    Parameters
    ----------
    x
        The values to clamp (any shape).
    lo
        The lower limit.
    hi
        The upper limit.

    Returns
    -------
    jax.Array
        The clamped values, the shape of `x`.
    """
    return lo + jax.nn.softplus(x - lo) - jax.nn.softplus(x - hi)


def normal_logpdf(x, mean, log_scale):
    """log N(x; mean, diag(exp(log_scale))^2), summed over the last axis.

    Parameters
    ----------
    x
        The points, the Gaussian's dimension on the last axis.
    mean
        The Gaussian's mean.
    log_scale
        The log of its standard deviation per coordinate.

    Returns
    -------
    jax.Array
        The log density, the shape of `x` without its last axis.
    """
    return jnp.sum(-0.5 * ((x - mean) * jnp.exp(-log_scale)) ** 2 - log_scale - _HALF_LOG_2PI, axis=-1)


class VAE(eqx.Module):
    """Encoder and decoder MLPs with Gaussian heads; single points (vmap for batches).

    Parameters
    ----------
    dim
        The dimension of x.
    latent_dim
        The dimension of z.
    width
        The width of the hidden layers of both MLPs.
    depth
        The number of hidden layers of both MLPs.
    key
        The JAX random key that initialises the weights.
    x_loc
        The fixed location that standardises x (a scalar or one per coordinate; not trained).
    x_scale
        The fixed scale that standardises x (a scalar or one per coordinate; not trained).
    activation
        The MLPs' activation function.
    """

    encoder: eqx.nn.MLP
    decoder: eqx.nn.MLP
    x_loc: jax.Array
    x_log_scale: jax.Array
    dim: int = eqx.field(static=True)
    latent_dim: int = eqx.field(static=True)

    def __init__(
        self, dim: int, latent_dim: int, width: int, depth: int, key, x_loc=0.0, x_scale=1.0, activation=jax.nn.silu
    ):
        key_enc, key_dec = jax.random.split(key)
        self.dim, self.latent_dim = dim, latent_dim
        self.encoder = eqx.nn.MLP(dim, 2 * latent_dim, width, depth, activation=activation, key=key_enc)
        self.decoder = eqx.nn.MLP(latent_dim, 2 * dim, width, depth, activation=activation, key=key_dec)
        self.x_loc = jnp.broadcast_to(jnp.asarray(x_loc, dtype=float), (dim,))
        self.x_log_scale = jnp.log(jnp.broadcast_to(jnp.asarray(x_scale, dtype=float), (dim,)))

    def encode(self, x):
        """(mean, log_scale) of P(z|x).

        Parameters
        ----------
        x
            One point in x.

        Returns
        -------
        tuple of jax.Array
            The encoder's mean and (softly clamped) log-scale, each of length `latent_dim`.
        """
        loc, log_scale = jax.lax.stop_gradient((self.x_loc, self.x_log_scale))
        h = self.encoder((x - loc) * jnp.exp(-log_scale))
        return h[: self.latent_dim], soft_clip(h[self.latent_dim :], LOG_SCALE_MIN, LOG_SCALE_MAX)

    def decode(self, z):
        """(mean, log_scale) of Q(x|z).

        Parameters
        ----------
        z
            One point in z.

        Returns
        -------
        tuple of jax.Array
            The decoder's mean and (softly clamped) log-scale in x's units, each of length `dim`.
        """
        loc, log_scale = jax.lax.stop_gradient((self.x_loc, self.x_log_scale))
        h = self.decoder(z)
        return (
            loc + jnp.exp(log_scale) * h[: self.dim],
            log_scale + soft_clip(h[self.dim :], LOG_SCALE_MIN, LOG_SCALE_MAX),
        )

    def log_prior(self, z):
        """log pi(z), pi = N(0, I).

        Parameters
        ----------
        z
            The points in z, the latent dimension on the last axis.

        Returns
        -------
        jax.Array
            The log prior density, summed over the last axis.
        """
        return jnp.sum(-0.5 * z**2 - _HALF_LOG_2PI, axis=-1)

    def log_decoder(self, x, z):
        """log Q(x|z).

        Parameters
        ----------
        x
            One point in x.
        z
            One point in z.

        Returns
        -------
        jax.Array
            The decoder's log density of `x` given `z` (a scalar).
        """
        return normal_logpdf(x, *self.decode(z))

    def log_encoder(self, z, x):
        """log P(z|x).

        Parameters
        ----------
        z
            One point in z.
        x
            One point in x.

        Returns
        -------
        jax.Array
            The encoder's log density of `z` given `x` (a scalar).
        """
        return normal_logpdf(z, *self.encode(x))

    def sample_decoder(self, key, z):
        mean, log_scale = self.decode(z)
        return mean + jnp.exp(log_scale) * jax.random.normal(key, mean.shape, mean.dtype)

    def sample_encoder(self, key, x):
        mean, log_scale = self.encode(x)
        return mean + jnp.exp(log_scale) * jax.random.normal(key, mean.shape, mean.dtype)

    def log_weight(self, logdensity_fn, x, z):
        """Importance log weight of (x, z) ~ pi(z) Q(x|z) for the joint mu(x) P(z|x).

        log w = log mu~(x) + log P(z|x) - log pi(z) - log Q(x|z).

        Parameters
        ----------
        logdensity_fn
            The target's unnormalised log density log mu~ of one point.
        x
            One point in x.
        z
            One point in z.

        Returns
        -------
        jax.Array
            log w (a scalar).
        """
        return logdensity_fn(x) + self.log_encoder(z, x) - self.log_prior(z) - self.log_decoder(x, z)
