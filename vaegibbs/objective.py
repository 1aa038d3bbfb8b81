"""The VAE-Gibbs sampler's training objective, corrected (docs/method.md), and the importance-weighted bound.

Augmented reverse KL (docs/method.md), estimated jointly by reparameterised Monte Carlo:

    L = E_{z ~ pi, x = mu(z) + sigma(z) eps}[ log Q(x|z) + log pi(z) - log P(z|x) - log mu~(x) ]
      = D_KL(pi Q || mu P) - log Z  >=  D_KL(q || mu) - log Z  >=  -log Z,

so `L + log Z` is an upper bound on the sampler's KL divergence to the target. The original note's
closed form (its eqs. 1.7-1.8, correction 1 of docs/method.md) integrates z under pi independently of x and is not used.

Importance-weighted hierarchical bound (Sobolev & Vetrov 2019), with z_0 the z that generated x and
z_1..z_K ~ P(z|x):

    L_K = E[ log (1/(K+1)) sum_k pi(z_k) Q(x|z_k) / P(z_k|x) - log mu~(x) ],  L_0 = L,

non-increasing in K and tending to D_KL(q || mu) - log Z.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from vaegibbs.model import VAE


def joint_terms(model: VAE, logdensity_fn: Callable, key, batch_size: int, beta=1.0):
    """Per-sample terms `log Q(x|z) + log pi(z) - log P(z|x) - beta log mu~(x)` (reparameterised).

    Parameters
    ----------
    model
        The VAE; z ~ pi = N(0, I) and x ~ Q(x|z) are drawn from its decoder side.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point.
    key
        The JAX random key of the draws.
    batch_size
        The number of joint samples (x, z).
    beta
        The weight of the target's log density (1 gives the bound L).

    Returns
    -------
    jax.Array
        The `batch_size` terms; their mean estimates L.
    """
    key_z, key_x = jax.random.split(key)
    z = jax.random.normal(key_z, (batch_size, model.latent_dim), model.x_loc.dtype)  # the networks' precision
    x = jax.vmap(model.sample_decoder)(jax.random.split(key_x, batch_size), z)
    log_q = jax.vmap(model.log_decoder)(x, z)
    log_enc = jax.vmap(model.log_encoder)(z, x)
    return log_q + model.log_prior(z) - log_enc - beta * jax.vmap(logdensity_fn)(x)


def joint_bound(model: VAE, logdensity_fn: Callable, key, batch_size: int, beta=1.0):
    """(L, its Monte Carlo standard error) from `batch_size` joint samples.

    Parameters
    ----------
    model
        The VAE.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point.
    key
        The JAX random key of the draws.
    batch_size
        The number of joint samples.
    beta
        The weight of the target's log density, as in `joint_terms`.

    Returns
    -------
    tuple of jax.Array
        The estimate of L (the terms' mean) and its Monte Carlo standard error (std / sqrt(batch_size)).
    """
    terms = joint_terms(model, logdensity_fn, key, batch_size, beta)
    return terms.mean(), terms.std() / jnp.sqrt(batch_size)


def iw_bound(model: VAE, logdensity_fn: Callable, key, batch_size: int, num_inner: int):
    """(L_K, its Monte Carlo standard error) with K = `num_inner` extra encoder samples per x.

    Parameters
    ----------
    model
        The VAE.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point.
    key
        The JAX random key of the draws.
    batch_size
        The number of x drawn from the decoder side.
    num_inner
        K, the number of extra encoder samples z_1..z_K ~ P(z|x) per x (0 gives L_0 = L).

    Returns
    -------
    tuple of jax.Array
        The estimate of L_K and its Monte Carlo standard error.
    """
    key_z, key_x, key_inner = jax.random.split(key, 3)
    z0 = jax.random.normal(key_z, (batch_size, model.latent_dim), model.x_loc.dtype)
    x = jax.vmap(model.sample_decoder)(jax.random.split(key_x, batch_size), z0)

    def one(x, z0, k):
        inner = jax.vmap(model.sample_encoder, in_axes=(0, None))(jax.random.split(k, num_inner), x)
        zs = jnp.concatenate([z0[None], inner]) if num_inner else z0[None]
        log_ratio = jax.vmap(lambda z: model.log_prior(z) + model.log_decoder(x, z) - model.log_encoder(z, x))(zs)
        return logsumexp(log_ratio) - jnp.log(num_inner + 1) - logdensity_fn(x)

    terms = jax.vmap(one)(x, z0, jax.random.split(key_inner, batch_size))
    return terms.mean(), terms.std() / jnp.sqrt(batch_size)
