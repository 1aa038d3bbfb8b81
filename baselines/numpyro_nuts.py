"""numpyro's NUTS on the same log density: an independent implementation of the suite's reference.

numpyro's functional HMC interface (`numpyro.infer.hmc.hmc(potential_fn=-logdensity_fn, algo="NUTS")`)
with its Stan-style warm-up (dual averaging of the step size, windowed diagonal or dense mass matrix;
Hoffman & Gelman 2014, multinomial NUTS of Betancourt 2017), each chain started at its initial position
(`init_params`). `init_kernel` then `num_warmup` adapting `sample_kernel` steps form the warm-up,
`num_draws` more the sampling, each phase one jitted computation AOT-compiled once per configuration
(the `baselines.hmc` cache), so a later seed does not recompile. Using the functional interface rather
than `numpyro.infer.MCMC` keeps that cache and times each phase apart from compilation.

Gradient accounting: one gradient per chain at `init_kernel`, then each transition's `num_steps`
leapfrog steps (velocity Verlet reuses the last gradient; the heuristic step-size search is off, as
numpyro's default). Chains: sequential (`lax.map`) or vectorized (`vmap`, lock-step), as `baselines.hmc`,
and with several devices sharded over them in equal blocks (`baselines.common.chain_map`; the lock-step
bound is then per block).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.hmc import hmc as numpyro_hmc

from baselines import devices
from baselines.common import (
    chain_map,
    check_chain_method,
    config_key,
    positions_2d,
    resolve_chain_method,
    run_compiled,
    typed_key,
)
from baselines.draws import Cost, Draws


def numpyro_nuts(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    target_acceptance_rate: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool = False,
    chain_method: Literal["auto", "vectorized", "sequential"] = "auto",
) -> Draws:
    """numpyro NUTS with its window adaptation, per chain; see the module docstring.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point (numpyro gets its negative as
        the potential).
    initial_positions
        The chains' initial positions, (chains, dim).
    num_warmup
        Adapting steps per chain (>= 10: window adaptation).
    num_draws
        Draws per chain after warm-up (>= 1).
    target_acceptance_rate
        The acceptance rate the step-size adaptation aims at (numpyro's `target_accept_prob`), in (0, 1).
    max_tree_depth
        The largest tree depth of a transition, in [1, 20].
    dense_mass
        Adapt a dense mass matrix instead of a diagonal one.
    chain_method
        "vectorized" (`jax.vmap`, lock-step), "sequential" (`jax.lax.map`) or "auto" (sequential on CPU,
        vectorized on accelerators).

    Returns
    -------
    Draws
        The draws, their log densities, per-draw statistics, the cost and `info` (chain method, tuned step
        sizes, the settings).

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate`), or `initial_positions` not (chains, dim).
    """
    validate(num_warmup, num_draws, target_acceptance_rate, max_tree_depth, dense_mass, chain_method)
    x = positions_2d("numpyro-nuts", initial_positions)
    key = typed_key(key)
    if chain_method == "auto":
        chain_method = resolve_chain_method()
    n_chains = x.shape[0]
    settings = {
        "target_acceptance_rate": float(target_acceptance_rate),
        "max_tree_depth": int(max_tree_depth),
        "dense_mass": bool(dense_mass),
    }
    config = config_key("numpyro-nuts", logdensity_fn, settings | {"chain_method": chain_method}, x, key)
    phases = {}

    def build(phase):
        if not phases:
            phases["warmup"], phases["sample"] = _build(
                logdensity_fn,
                num_warmup,
                num_draws,
                chain_method,
                settings,
                jax.ShapeDtypeStruct(x.shape[1:], x.dtype),
                n_chains,
            )
        return phases[phase]

    key_warmup, key_sample = jax.random.split(key)
    warmup_keys = jax.random.key_data(jax.random.split(key_warmup, n_chains))  # numpyro takes raw keys
    (state, warmup_steps), t_compile_warmup, t_warmup = run_compiled(
        config + ("warmup", int(num_warmup)), lambda: build("warmup"), (warmup_keys, x)
    )
    sample_keys = jax.random.key_data(jax.random.split(key_sample, n_chains))
    (positions, logdensity, stats), t_compile_sample, t_sampling = run_compiled(
        config + ("sample", int(num_draws)), lambda: build("sample"), (sample_keys, state)
    )

    warmup_steps, sample_steps = np.asarray(warmup_steps), np.asarray(stats["n_steps"])
    steps = np.concatenate([warmup_steps, sample_steps], axis=1)
    grad_warmup = int(warmup_steps.sum()) + n_chains  # + one gradient per chain at init
    grad_sampling = int(sample_steps.sum())
    lockstep = chain_method == "vectorized"
    n_devices = devices.split(n_chains)
    cost = Cost(
        logdensity_evals_warmup=grad_warmup,
        logdensity_evals_sampling=grad_sampling,
        grad_evals_warmup=grad_warmup,
        grad_evals_sampling=grad_sampling,
        grad_evals_lockstep=(
            devices.block_max_sum(steps, n_devices) + n_chains if lockstep else grad_warmup + grad_sampling
        ),
        time_compile=t_compile_warmup + t_compile_sample,
        time_warmup=t_warmup,
        time_sampling=t_sampling,
    )
    step_size = np.asarray(state.adapt_state.step_size).reshape(n_chains)
    info = {
        "chain_method": chain_method,
        "lockstep": lockstep,
        "devices": n_devices,
        "compile_cached": t_compile_warmup == 0.0 and t_compile_sample == 0.0,
        "step_size_mean": float(step_size.mean()),
        "step_size_min": float(step_size.min()),
        "step_size_max": float(step_size.max()),
        **settings,
    }
    return Draws(
        positions=np.asarray(positions),
        logdensity=np.asarray(logdensity),
        stats={k: np.asarray(v) for k, v in stats.items()},
        cost=cost,
        info=info,
    )


def validate(
    num_warmup: int,
    num_draws: int,
    target_acceptance_rate: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool = False,
    chain_method: str = "auto",
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    num_warmup
        >= 10 (window adaptation).
    num_draws
        >= 1.
    target_acceptance_rate
        In (0, 1).
    max_tree_depth
        In [1, 20].
    dense_mass
        Whether the mass matrix is dense (not checked).
    chain_method
        One of `CHAIN_METHODS`.

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    check_chain_method("numpyro-nuts", chain_method)
    if not 0.0 < target_acceptance_rate < 1.0:
        raise ValueError(f"numpyro-nuts: target_acceptance_rate must be in (0, 1), got {target_acceptance_rate}")
    if num_warmup < 10:
        raise ValueError(f"numpyro-nuts: num_warmup must be >= 10 (window adaptation), got {num_warmup}")
    if num_draws < 1:
        raise ValueError(f"numpyro-nuts: num_draws must be >= 1, got {num_draws}")
    if not 1 <= max_tree_depth <= 20:
        raise ValueError(f"numpyro-nuts: max_tree_depth must be in [1, 20], got {max_tree_depth}")


def _build(logdensity_fn, num_warmup, num_draws, chain_method, settings, position_like, n_chains):
    init_kernel, sample_kernel = numpyro_hmc(potential_fn=lambda x: -logdensity_fn(x), algo="NUTS")

    def init(key, position):
        return init_kernel(
            position,
            num_warmup,
            dense_mass=settings["dense_mass"],
            target_accept_prob=settings["target_acceptance_rate"],
            max_tree_depth=settings["max_tree_depth"],
            rng_key=key,
        )

    # numpyro's init_kernel sets sample_kernel's settings (warm-up length, tree depth, adaptation) as
    # closure variables: trace it abstractly once (nothing runs), so the sampling phase can be built
    # even when the warm-up phase comes from the cache
    jax.eval_shape(init, jax.ShapeDtypeStruct((2,), jnp.uint32), position_like)

    def warmup_one(key, position):
        state = init(key, position)

        def step(state, _):
            state = sample_kernel(state)
            return state, state.num_steps

        return jax.lax.scan(step, state, None, length=num_warmup)

    def sample_one(key, state):
        state = state._replace(rng_key=key)

        def step(state, _):
            state = sample_kernel(state)
            return state, (
                state.z,
                -state.potential_energy,
                {
                    "acceptance_rate": state.accept_prob,
                    "diverging": state.diverging,
                    "n_steps": state.num_steps,
                    "energy": state.energy,
                },
            )

        _, out = jax.lax.scan(step, state, None, length=num_draws)
        return out

    return chain_map(warmup_one, chain_method, n_chains), chain_map(sample_one, chain_method, n_chains)
