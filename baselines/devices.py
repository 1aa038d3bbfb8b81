"""The devices a run spreads its independent chains over: a 1-d mesh on the chain axis.

The process-wide setting `use(n)` (the CLI's `--devices N`) says how many of the visible devices to use;
unset, all of them. A sampler whose chains are independent wraps its per-chain-batched function with
`over_chains(fn, n_chains)`: with one device it gets `fn` back unchanged (today's path, nothing added);
with several, `jax.shard_map` runs `fn` on each device's block of chains (Mesh axis `chains`), so each
chain computes exactly what it computes unsharded (the same key, the same operations). Chains that do not
split evenly use the largest device count that divides them (`split`).

A training step that averages over a batch (the VAE's) uses `mean_over_devices`: each device draws its
own share of the batch (its key folded with its index) and the results, gradients included, are averaged
across devices (`pmean`).

Adopting it in a sampler: build `fn` over a leading chain axis (vmap or lax.map), then
`jax.jit(devices.over_chains(fn, n_chains))`, and put `devices.split(n_chains)` in the compile cache key
(`baselines.common.chain_map` and `config_key` do both); a lock-step bound is per device block
(`block_max_sum`). Code that is handed its block count (the VAE's kernels) uses `shard(fn, n)`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

AXIS = "chains"
_requested: int | None = None  # None: every visible device


def use(n: int | None) -> None:
    """Use the first `n` visible devices (None: all); ValueError naming the valid range.

    Parameters
    ----------
    n
        The number of devices, in [1, visible devices], or None for every visible device.

    Raises
    ------
    ValueError
        `n` is not an integer in [1, visible devices].
    """
    global _requested
    if n is not None:
        visible = jax.device_count()
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= visible:
            raise ValueError(
                f"devices must be an integer in [1, {visible}] (the {jax.default_backend()} devices visible), got {n!r}"
            )
    _requested = n


def count() -> int:
    """The number of devices runs use now (`use`, else every visible device).

    Returns
    -------
    int
        The device count.
    """
    return jax.device_count() if _requested is None else _requested


def kind() -> str:
    """The kind of the devices used, e.g. `cpu` or `NVIDIA H200`.

    Returns
    -------
    str
        The platform for CPUs, else the device kind.
    """
    device = jax.devices()[0]
    return device.platform if device.platform == "cpu" else getattr(device, "device_kind", device.platform)


def split(n_chains: int) -> int:
    """How many devices `n_chains` chains are spread over.

    The largest divisor of `n_chains` not above `count()` (shard_map needs equal blocks).

    Parameters
    ----------
    n_chains
        The number of chains.

    Returns
    -------
    int
        The number of devices (blocks of chains).
    """
    return max(d for d in range(1, min(count(), n_chains) + 1) if n_chains % d == 0)


def mesh(n: int) -> Mesh:
    """A 1-d mesh of the first `n` devices, axis `chains`.

    Parameters
    ----------
    n
        The number of devices.

    Returns
    -------
    jax.sharding.Mesh
        The mesh.
    """
    return Mesh(jax.devices()[:n], (AXIS,))


def over_chains(fn: Callable, n_chains: int) -> Callable:
    """`fn` run on `split(n_chains)` devices, each on its block of chains; `fn` itself when that is one device.

    Parameters
    ----------
    fn
        A function whose arguments and results are batched on a leading chain axis.
    n_chains
        The number of chains.

    Returns
    -------
    Callable
        The sharded function, or `fn` on one device.
    """
    return shard(fn, split(n_chains))


def shard(fn: Callable, n: int) -> Callable:
    """`fn` run on the first `n` devices, device i on the i-th of `n` equal blocks of chains; `fn` itself when `n` is 1.

    Values `fn` closes over (a model's weights, tuned parameters) are copied to every device.

    Parameters
    ----------
    fn
        A function whose arguments and results are batched on a leading chain axis.
    n
        The number of devices (blocks).

    Returns
    -------
    Callable
        The `shard_map`-ped function, or `fn` when `n` is 1.
    """
    if n == 1:
        return fn
    spec = PartitionSpec(AXIS)
    # check_vma off: blackjax's control flow mixes per-device (varying) and constant values in `cond`
    # branches, which the check refuses; the blocks never communicate, so there is nothing to check
    return jax.shard_map(fn, mesh=mesh(n), in_specs=spec, out_specs=spec, check_vma=False)


def block_max_sum(values, n_blocks: int) -> int:
    """What lock-step costs when `n_blocks` equal blocks of chains (one per device) each advance together.

    The sum over blocks and over the trailing axes of `block size x max over the block's chains`.

    Parameters
    ----------
    values
        Per-chain counts shaped (chains, ...) (e.g. integrator steps per transition).
    n_blocks
        The number of equal blocks of chains.

    Returns
    -------
    int
        The lock-step count.
    """
    values = np.asarray(values)
    blocks = values.reshape(n_blocks, values.shape[0] // n_blocks, *values.shape[1:])
    return int((blocks.shape[1] * blocks.max(axis=1)).sum())


def mean_over_devices(fn: Callable, n: int) -> Callable:
    """`fn` run on `n` devices, device i with `fold_in(key, i)`, the results averaged over the devices.

    The other arguments are replicated; the average is `jax.lax.pmean`. `fn` itself when `n` is 1.

    Parameters
    ----------
    fn
        `fn(key, *args) -> pytree`.
    n
        The number of devices.

    Returns
    -------
    Callable
        The function with the same signature as `fn`, returning the device average.
    """
    if n == 1:
        return fn

    def local(key, *args):
        return jax.lax.pmean(fn(jax.random.fold_in(key, jax.lax.axis_index(AXIS)), *args), AXIS)

    replicated = PartitionSpec()
    return jax.shard_map(local, mesh=mesh(n), in_specs=replicated, out_specs=replicated, check_vma=False)
