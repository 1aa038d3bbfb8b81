"""blackjax NUTS and HMC with Stan-style window adaptation, many chains in one computation.

Each chain adapts its own step size and diagonal (or dense) inverse mass matrix with
`blackjax.window_adaptation`, as Stan does, then samples with the tuned kernel under
`jax.lax.scan`. Chains run either vectorised (`jax.vmap`: one computation, but NUTS chains
advance in lock-step, so every step costs the longest trajectory of all chains) or sequentially
(`jax.lax.map`: no lock-step waste, no parallelism); both counts are kept in the `Cost`.
`chain_method="auto"` picks sequential on CPU and vectorized on accelerators; `info` records which ran.
With several devices (`baselines.devices`) the chains are split into equal blocks, one per device, each
run as above; one device is the unsharded path.

Gradient accounting: one gradient at `init`, then one per leapfrog step, i.e.
`num_integration_steps` of each transition (velocity Verlet reuses the last gradient).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any, Literal

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.base import get_filter_adapt_info_fn

from baselines import devices
from baselines.draws import Cost, Draws

CHAIN_METHODS = ("auto", "vectorized", "sequential")
_COMPILED: collections.OrderedDict = collections.OrderedDict()
_CACHE_SIZE = 32


def nuts(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    chain_method: Literal["auto", "vectorized", "sequential"] = "auto",
    target_acceptance_rate: float = 0.8,
    max_num_doublings: int = 10,
    dense_mass: bool = False,
) -> Draws:
    """No-U-Turn sampler (Hoffman & Gelman 2014, multinomial variant of Betancourt 2017).

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        The chains' initial positions, (chains, dim).
    num_warmup
        Window-adaptation steps per chain (>= 10).
    num_draws
        Draws per chain after warm-up (>= 1).
    chain_method
        "vectorized" (`jax.vmap`, lock-step), "sequential" (`jax.lax.map`) or "auto"
        (`resolve_chain_method`).
    target_acceptance_rate
        The acceptance rate the step-size adaptation aims at, in (0, 1).
    max_num_doublings
        The largest number of trajectory doublings per transition, in [1, 20].
    dense_mass
        Adapt a dense inverse mass matrix instead of a diagonal one.

    Returns
    -------
    Draws
        The draws, their log densities, per-draw statistics (`acceptance_rate`, `diverging`, `n_steps`,
        `energy`, `tree_depth`), the cost and the run's `info` (chain method, tuned step sizes, ...).

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate`), or `initial_positions` not (chains, dim).
    """
    validate("nuts", num_warmup, num_draws, chain_method, target_acceptance_rate, max_num_doublings=max_num_doublings)
    return _run(
        "nuts",
        blackjax.nuts,
        key,
        logdensity_fn,
        initial_positions,
        num_warmup,
        num_draws,
        chain_method,
        target_acceptance_rate,
        dense_mass,
        {"max_num_doublings": int(max_num_doublings)},
    )


def hmc(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    chain_method: Literal["auto", "vectorized", "sequential"] = "auto",
    target_acceptance_rate: float = 0.8,
    num_integration_steps: int = 16,
    dense_mass: bool = False,
) -> Draws:
    """Static-length HMC (Duane et al. 1987; Neal 2011) with `num_integration_steps` leapfrog steps.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        The chains' initial positions, (chains, dim).
    num_warmup
        Window-adaptation steps per chain (>= 10).
    num_draws
        Draws per chain after warm-up (>= 1).
    chain_method
        "vectorized" (`jax.vmap`, lock-step), "sequential" (`jax.lax.map`) or "auto"
        (`resolve_chain_method`).
    target_acceptance_rate
        The acceptance rate the step-size adaptation aims at, in (0, 1).
    num_integration_steps
        Leapfrog steps per transition (>= 1).
    dense_mass
        Adapt a dense inverse mass matrix instead of a diagonal one.

    Returns
    -------
    Draws
        The draws, their log densities, per-draw statistics (`acceptance_rate`, `diverging`, `n_steps`,
        `energy`), the cost and the run's `info` (chain method, tuned step sizes, ...).

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate`), or `initial_positions` not (chains, dim).
    """
    validate(
        "hmc", num_warmup, num_draws, chain_method, target_acceptance_rate, num_integration_steps=num_integration_steps
    )
    return _run(
        "hmc",
        blackjax.hmc,
        key,
        logdensity_fn,
        initial_positions,
        num_warmup,
        num_draws,
        chain_method,
        target_acceptance_rate,
        dense_mass,
        {"num_integration_steps": int(num_integration_steps)},
    )


def resolve_chain_method() -> str:
    """What `auto` means here: sequential on CPU, vectorized on accelerators.

    On CPU sequential chains avoid the lock-step waste; on accelerators the chains' parallelism pays.

    Returns
    -------
    str
        "sequential" or "vectorized".
    """
    return "sequential" if jax.default_backend() == "cpu" else "vectorized"


def validate(
    name: str,
    num_warmup: int,
    num_draws: int,
    chain_method: str = "auto",
    target_acceptance_rate: float = 0.8,
    max_num_doublings: int = 10,
    num_integration_steps: int = 16,
    dense_mass: bool = False,
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    name
        The sampler's name, for the message.
    num_warmup
        Warm-up steps per chain (>= 10: window adaptation).
    num_draws
        Draws per chain (>= 1).
    chain_method
        One of `CHAIN_METHODS`.
    target_acceptance_rate
        In (0, 1).
    max_num_doublings
        In [1, 20].
    num_integration_steps
        >= 1.
    dense_mass
        Whether the mass matrix is dense (not checked).

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"{name}: chain_method must be one of {', '.join(CHAIN_METHODS)}, got {chain_method!r}")
    if not 0.0 < target_acceptance_rate < 1.0:
        raise ValueError(f"{name}: target_acceptance_rate must be in (0, 1), got {target_acceptance_rate}")
    if num_warmup < 10:
        raise ValueError(f"{name}: num_warmup must be >= 10 (window adaptation), got {num_warmup}")
    if num_draws < 1:
        raise ValueError(f"{name}: num_draws must be >= 1, got {num_draws}")
    if not 1 <= max_num_doublings <= 20:
        raise ValueError(f"{name}: max_num_doublings must be in [1, 20], got {max_num_doublings}")
    if num_integration_steps < 1:
        raise ValueError(f"{name}: num_integration_steps must be >= 1, got {num_integration_steps}")


def _over_chains(fn: Callable, chain_method: str) -> Callable:
    """Map `fn` over the leading (chain) axis of every argument."""
    if chain_method == "vectorized":
        return jax.vmap(fn)
    return lambda *args: jax.lax.map(lambda a: fn(*a), args)


def _build(
    algorithm, logdensity_fn, num_warmup, num_draws, chain_method, target_acceptance_rate, dense_mass, extra, n_chains
):
    """The two jitted phases: per-chain window adaptation, then sampling with the tuned kernel; chains
    sharded over the devices in use (`chain_map`)."""

    def warmup_one(key, position):
        adaptation = blackjax.window_adaptation(
            algorithm,
            logdensity_fn,
            is_mass_matrix_diagonal=not dense_mass,
            target_acceptance_rate=target_acceptance_rate,
            adaptation_info_fn=get_filter_adapt_info_fn(info_keys={"num_integration_steps"}),
            **extra,
        )
        (state, params), info = adaptation.run(key, position, num_steps=num_warmup)
        tuned = {"step_size": params["step_size"], "inverse_mass_matrix": params["inverse_mass_matrix"]}
        return state, tuned, info.info.num_integration_steps

    def sample_one(key, state, params):
        kernel = algorithm(logdensity_fn, **params, **extra)

        def one_step(state, step_key):
            state, info = kernel.step(step_key, state)
            stats = {
                "acceptance_rate": info.acceptance_rate,
                "diverging": info.is_divergent,
                "n_steps": info.num_integration_steps,
                "energy": info.energy,
            }
            if hasattr(info, "num_trajectory_expansions"):
                stats["tree_depth"] = info.num_trajectory_expansions
            return state, (state.position, state.logdensity, stats)

        _, out = jax.lax.scan(one_step, state, jax.random.split(key, num_draws))
        return out

    return chain_map(warmup_one, chain_method, n_chains), chain_map(sample_one, chain_method, n_chains)


def chain_map(fn: Callable, chain_method: str, n_chains: int) -> Callable:
    """`jax.jit` of `fn` (one chain's arguments -> its results) over a leading chain axis of `n_chains`.

    Vmapped or `lax.map`ped (`chain_method`), on `devices.split(n_chains)` devices, each on its block (one
    device: no sharding at all). The one way every sampler of `baselines` maps and shards its chains.

    Parameters
    ----------
    fn
        One chain's function: its arguments -> its results.
    chain_method
        "vectorized" (`jax.vmap`) or "sequential" (`jax.lax.map`).
    n_chains
        The number of chains (the leading axis).

    Returns
    -------
    Callable
        The jitted function over the leading chain axis.
    """
    return jax.jit(devices.over_chains(_over_chains(fn, chain_method), n_chains))


def _compiled(cache_key, build: Callable, args: tuple) -> tuple[Any, float]:
    """AOT-compile once per configuration (`.lower().compile()`), reused across seeds; returns (fn, seconds)."""
    if cache_key in _COMPILED:
        _COMPILED.move_to_end(cache_key)
        return _COMPILED[cache_key], 0.0
    start = time.perf_counter()
    compiled = build().lower(*args).compile()
    seconds = time.perf_counter() - start
    _COMPILED[cache_key] = compiled
    while len(_COMPILED) > _CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return compiled, seconds


def run_compiled(cache_key, build: Callable, args: tuple) -> tuple[Any, float, float]:
    """One phase: `build()` compiled on `args` (`_compiled`, once per configuration) and run to completion.

    Parameters
    ----------
    cache_key
        What the compiled computation depends on (`baselines.common.config_key`).
    build
        `build() -> jitted function`, called only when `cache_key` is not cached.
    args
        The arguments to compile for and run on.

    Returns
    -------
    tuple
        (outputs, compile seconds, run seconds); compile seconds is 0 when the computation was reused.
    """
    fn, t_compile = _compiled(cache_key, build, args)
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, t_compile, time.perf_counter() - start


def _run(
    name,
    algorithm,
    key,
    logdensity_fn,
    initial_positions,
    num_warmup,
    num_draws,
    chain_method,
    target_acceptance_rate,
    dense_mass,
    extra,
) -> Draws:
    initial_positions = jnp.asarray(initial_positions)
    if initial_positions.ndim != 2:
        raise ValueError(f"{name}: initial_positions must be (chains, dim), got shape {initial_positions.shape}")
    if chain_method == "auto":
        chain_method = resolve_chain_method()
    if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):  # raw uint32 keys (PRNGKey) -> typed keys
        key = jax.random.wrap_key_data(key)
    n_chains = initial_positions.shape[0]
    n_devices = devices.split(n_chains)
    config = (
        name,
        logdensity_fn,
        chain_method,
        float(target_acceptance_rate),
        bool(dense_mass),
        tuple(sorted(extra.items())),
        initial_positions.shape,
        str(initial_positions.dtype),
        str(key.dtype),
        jax.config.jax_enable_x64,
        n_devices,
    )
    phases = {}

    def build(phase):
        if not phases:
            phases["warmup"], phases["sample"] = _build(
                algorithm,
                logdensity_fn,
                num_warmup,
                num_draws,
                chain_method,
                target_acceptance_rate,
                dense_mass,
                extra,
                n_chains,
            )
        return phases[phase]

    key_warmup, key_sample = jax.random.split(key)
    warmup_keys = jax.random.split(key_warmup, n_chains)
    (state, params, warmup_steps), t_compile_warmup, t_warmup = run_compiled(
        config + ("warmup", int(num_warmup)), lambda: build("warmup"), (warmup_keys, initial_positions)
    )

    sample_keys = jax.random.split(key_sample, n_chains)
    (positions, logdensity, stats), t_compile_sample, t_sampling = run_compiled(
        config + ("sample", int(num_draws)), lambda: build("sample"), (sample_keys, state, params)
    )

    warmup_steps = np.asarray(warmup_steps)  # (chains, num_warmup)
    sample_steps = np.asarray(stats["n_steps"])  # (chains, num_draws)
    steps = np.concatenate([warmup_steps, sample_steps], axis=1)
    lockstep = chain_method == "vectorized"
    lockstep_bound = lockstep_grads(steps, n_devices)
    grad_warmup = int(warmup_steps.sum()) + n_chains  # + one gradient per chain at init
    grad_sampling = int(sample_steps.sum())
    cost = Cost(
        logdensity_evals_warmup=grad_warmup,
        logdensity_evals_sampling=grad_sampling,
        grad_evals_warmup=grad_warmup,
        grad_evals_sampling=grad_sampling,
        grad_evals_lockstep=lockstep_bound if lockstep else grad_warmup + grad_sampling,
        time_compile=t_compile_warmup + t_compile_sample,
        time_warmup=t_warmup,
        time_sampling=t_sampling,
    )
    step_size = np.asarray(params["step_size"]).reshape(n_chains)
    info = {
        "chain_method": chain_method,
        "lockstep": lockstep,
        "devices": n_devices,
        "compile_cached": t_compile_warmup == 0.0 and t_compile_sample == 0.0,
        "step_size_mean": float(step_size.mean()),
        "step_size_min": float(step_size.min()),
        "step_size_max": float(step_size.max()),
        "dense_mass": bool(dense_mass),
        "target_acceptance_rate": float(target_acceptance_rate),
        **extra,
    }
    return Draws(
        positions=np.asarray(positions),
        logdensity=np.asarray(logdensity),
        stats={k: np.asarray(v) for k, v in stats.items()},
        cost=cost,
        info=info,
    )


def lockstep_grads(steps: np.ndarray, n_blocks: int = 1) -> int:
    """Gradients vmapped chains cost at least, each block of chains advancing in lock-step.

    Each of `n_blocks` equal blocks of chains (one per device) advances in lock-step, so a transition costs
    `block size * max over the block's chains of its steps`; plus one gradient per chain at init.

    Parameters
    ----------
    steps
        Integration steps per chain and transition, (chains, transitions).
    n_blocks
        The number of equal blocks of chains (devices).

    Returns
    -------
    int
        The lock-step gradient count.
    """
    return devices.block_max_sum(steps, n_blocks) + steps.shape[0]
