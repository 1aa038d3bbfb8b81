"""What the peer samplers share: typed keys, the configuration key of the compile cache, chain maps.

The compile cache itself is `baselines.hmc`'s (`_compiled`: AOT-compiled once per configuration and
reused across seeds), so every baseline keeps one cache and one convention. `chain_map` is the one way a
peer maps a per-chain function over its chains: vmap or lax.map (`chain_method`), the chains' blocks
sharded over the devices in use (`baselines.devices`, one device: unchanged); `config_key` holds the
device count, so a compiled computation is never reused for another.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from baselines import devices
from baselines.hmc import CHAIN_METHODS, _compiled, _over_chains, chain_map, resolve_chain_method, run_compiled

__all__ = [
    "CHAIN_METHODS",
    "chain_map",
    "compiled",
    "config_key",
    "over_chains",
    "positions_2d",
    "resolve_chain_method",
    "run_compiled",
    "typed_key",
]

compiled = _compiled
over_chains = _over_chains


def typed_key(key):
    """Raw uint32 keys (`PRNGKey`) -> typed keys; typed keys unchanged.

    Parameters
    ----------
    key
        A JAX random key, raw (uint32 data) or typed.

    Returns
    -------
    jax.Array
        The key as a typed key.
    """
    return key if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else jax.random.wrap_key_data(key)


def positions_2d(name: str, initial_positions) -> jnp.ndarray:
    """The initial positions as a (chains, dim) array; ValueError naming the sampler otherwise.

    Parameters
    ----------
    name
        The sampler's name, for the error message.
    initial_positions
        The chains' initial positions, array-like.

    Returns
    -------
    jax.Array
        The positions as an array shaped (chains, dim).

    Raises
    ------
    ValueError
        The positions are not two-dimensional.
    """
    x = jnp.asarray(initial_positions)
    if x.ndim != 2:
        raise ValueError(f"{name}: initial_positions must be (chains, dim), got shape {x.shape}")
    return x


def config_key(name: str, logdensity_fn: Callable, params: dict, x, key) -> tuple:
    """What a compiled computation depends on, as a hashable key of the compile cache.

    The sampler, the log-density object, its settings, the shapes and dtypes, the precision, and the devices
    the chains (x's leading axis) are spread over.

    Parameters
    ----------
    name
        The sampler's name.
    logdensity_fn
        The log-density function (keyed on the object itself).
    params
        The sampler's settings.
    x
        The initial positions, (chains, dim).
    key
        The random key (its dtype is part of the key).

    Returns
    -------
    tuple
        The cache key.
    """
    return (
        name,
        logdensity_fn,
        tuple(sorted(params.items())),
        tuple(x.shape),
        str(x.dtype),
        str(key.dtype),
        jax.config.jax_enable_x64,
        devices.split(x.shape[0]),
    )


def check_chain_method(name: str, chain_method: str) -> None:
    """Raise ValueError naming the sampler when `chain_method` is not one of `CHAIN_METHODS`.

    Parameters
    ----------
    name
        The sampler's name, for the message.
    chain_method
        The chain method asked for.

    Raises
    ------
    ValueError
        `chain_method` is not one of `CHAIN_METHODS`.
    """
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"{name}: chain_method must be one of {', '.join(CHAIN_METHODS)}, got {chain_method!r}")
