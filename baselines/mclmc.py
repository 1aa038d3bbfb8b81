"""Microcanonical Langevin Monte Carlo (blackjax): unadjusted MCLMC and Metropolis-adjusted MCLMC (MAMS).

`mclmc`: isokinetic Langevin dynamics integrated with the McLachlan scheme, momentum partially refreshed
over the length L (Robnik, De Luca, Silverstein & Seljak 2023, "Microcanonical Hamiltonian Monte Carlo",
JMLR). No Metropolis test: the draws are biased by the discretisation, by design (the tuner aims the
energy error variance per dimension at `desired_energy_var`). Tuning: blackjax's
`mclmc_find_L_and_step_size` (step size from the energy error, then a diagonal preconditioner, then L
from the autocorrelation), with its three phases sized to take `num_warmup` steps in all.

`mams`: the same dynamics with a Metropolis test on each proposal of a random number of integrator
steps around the average L / step_size (Robnik, Cohn-Gordon & Seljak 2025, "Metropolis adjusted
microcanonical Hamiltonian Monte Carlo"): exact. Tuning: half of `num_warmup` as the unadjusted tuner
above (a starting point), half as `adjusted_mclmc_find_L_and_step_size` (dual averaging of the step size
to `target_acceptance_rate`, L = `target_num_integration_steps` x step size); sampling with
`adjusted_mclmc_dynamic`.

Chains are mapped as in `baselines.hmc` (sequential on CPU, vectorized on accelerators) and, with several
devices, sharded over them in equal blocks (`baselines.common.chain_map`): every chain tunes its own
parameters, so the chains are independent and each computes what it computes unsharded.
Gradient accounting: one gradient per chain at each init, then `GRADS_PER_STEP` = 2 per McLachlan
integrator step (two position updates; the last gradient is cached in the state). Tuning counts the
integrator steps the tuners report; MAMS's sampling counts each transition's `num_integration_steps`.
Log densities: one with every gradient (value_and_grad). `grad_evals_lockstep` (vectorized chains):
unadjusted MCLMC takes one step per transition in every chain, so it is exact; for MAMS it is
chains x (the largest chain's tuning steps + sum_t max_chain n_steps), a lower bound of what the
hardware runs (the tuners report totals, not per-transition counts); with several devices the maxima are
per device block (`baselines.devices.block_max_sum`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.mcmc import adjusted_mclmc_dynamic as amd

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

GRADS_PER_STEP = 2  # isokinetic McLachlan: b1 a1 b2 a1 b1, two gradients per step
_UNADJUSTED_FRACS = (0.1, 0.1, 0.1)  # blackjax's defaults; with diagonal preconditioning the second
_UNADJUSTED_SHARE = 0.1 + 0.1 * 4 / 3 + 0.1  # phase takes 4/3 of its share: 1/3 of num_steps in all
_ADJUSTED_SHARE = 0.3  # frac_tune1 + frac_tune2 steps, then a second frac_tune1 pass


def mclmc(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    desired_energy_var: float = 5e-4,
    diagonal_preconditioning: bool = True,
    chain_method: Literal["auto", "vectorized", "sequential"] = "auto",
) -> Draws:
    """Unadjusted MCLMC (biased by design), tuned per chain by `mclmc_find_L_and_step_size`.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        The chains' initial positions, (chains, dim).
    num_warmup
        Tuning steps per chain (>= 20: the tuners' phases need steps).
    num_draws
        Draws per chain after tuning (>= 1).
    desired_energy_var
        The energy error variance per dimension the tuner aims at (> 0).
    diagonal_preconditioning
        Tune a diagonal preconditioner.
    chain_method
        "vectorized" (`jax.vmap`), "sequential" (`jax.lax.map`) or "auto" (sequential on CPU, vectorized on
        accelerators).

    Returns
    -------
    Draws
        The draws, their log densities, per-draw statistics (`energy_change`, `n_steps`), the cost and
        `info` (tuned step sizes, mean L, tuning integrator steps, ...).

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate_mclmc`), or `initial_positions` not (chains, dim).
    """
    validate_mclmc(num_warmup, num_draws, desired_energy_var, diagonal_preconditioning, chain_method)
    settings = {
        "desired_energy_var": float(desired_energy_var),
        "diagonal_preconditioning": bool(diagonal_preconditioning),
    }
    return _run("mclmc", key, logdensity_fn, initial_positions, num_warmup, num_draws, chain_method, settings)


mclmc.exact = False  # unadjusted: its invariant distribution is the target's only as the step size -> 0


def mams(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    target_acceptance_rate: float = 0.9,
    target_num_integration_steps: float = 2.0,
    diagonal_preconditioning: bool = True,
    chain_method: Literal["auto", "vectorized", "sequential"] = "auto",
) -> Draws:
    """Metropolis-adjusted MCLMC (exact), tuned per chain by the unadjusted then the adjusted tuner.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        The chains' initial positions, (chains, dim).
    num_warmup
        Tuning steps per chain (>= 20: the tuners' phases need steps).
    num_draws
        Draws per chain after tuning (>= 1).
    target_acceptance_rate
        The acceptance rate the step size's dual averaging aims at, in (0, 1).
    target_num_integration_steps
        L / step size, the average number of integrator steps per proposal (>= 1.2).
    diagonal_preconditioning
        Tune a diagonal preconditioner.
    chain_method
        "vectorized" (`jax.vmap`), "sequential" (`jax.lax.map`) or "auto" (sequential on CPU, vectorized on
        accelerators).

    Returns
    -------
    Draws
        The draws, their log densities, per-draw statistics (`acceptance_rate`, `diverging`, `n_steps`,
        `energy`), the cost and `info` (tuned step sizes, mean L, tuning integrator steps, ...).

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate_mams`), or `initial_positions` not (chains, dim).
    """
    validate_mams(
        num_warmup,
        num_draws,
        target_acceptance_rate,
        target_num_integration_steps,
        diagonal_preconditioning,
        chain_method,
    )
    settings = {
        "target_acceptance_rate": float(target_acceptance_rate),
        "target_num_integration_steps": float(target_num_integration_steps),
        "diagonal_preconditioning": bool(diagonal_preconditioning),
    }
    return _run("mams", key, logdensity_fn, initial_positions, num_warmup, num_draws, chain_method, settings)


def validate_mclmc(
    num_warmup: int,
    num_draws: int,
    desired_energy_var: float = 5e-4,
    diagonal_preconditioning: bool = True,
    chain_method: str = "auto",
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    num_warmup
        >= 20 (the tuners' phases need steps).
    num_draws
        >= 1.
    desired_energy_var
        > 0.
    diagonal_preconditioning
        Whether to tune a diagonal preconditioner (not checked).
    chain_method
        One of `CHAIN_METHODS`.

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    _validate_common("mclmc", num_warmup, num_draws, chain_method)
    if not desired_energy_var > 0:
        raise ValueError(f"mclmc: desired_energy_var must be > 0, got {desired_energy_var}")


def validate_mams(
    num_warmup: int,
    num_draws: int,
    target_acceptance_rate: float = 0.9,
    target_num_integration_steps: float = 2.0,
    diagonal_preconditioning: bool = True,
    chain_method: str = "auto",
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    num_warmup
        >= 20 (the tuners' phases need steps).
    num_draws
        >= 1.
    target_acceptance_rate
        In (0, 1).
    target_num_integration_steps
        >= 1.2 (below blackjax's floor 1.1 the step size goes to 0).
    diagonal_preconditioning
        Whether to tune a diagonal preconditioner (not checked).
    chain_method
        One of `CHAIN_METHODS`.

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    _validate_common("mams", num_warmup, num_draws, chain_method)
    if not 0.0 < target_acceptance_rate < 1.0:
        raise ValueError(f"mams: target_acceptance_rate must be in (0, 1), got {target_acceptance_rate}")
    if not target_num_integration_steps >= 1.2:  # blackjax: below its floor 1.1 the step size goes to 0
        raise ValueError(f"mams: target_num_integration_steps must be >= 1.2, got {target_num_integration_steps}")


def _validate_common(name, num_warmup, num_draws, chain_method):
    check_chain_method(name, chain_method)
    if num_warmup < 20:
        raise ValueError(f"{name}: num_warmup must be >= 20 (the tuners' phases need steps), got {num_warmup}")
    if num_draws < 1:
        raise ValueError(f"{name}: num_draws must be >= 1, got {num_draws}")


def _tune_unadjusted(kernel, logdensity_fn, key, position, num_warmup, settings):
    """(state, params, integrator steps) after `mclmc_find_L_and_step_size` of about num_warmup steps."""
    key_init, key_tune = jax.random.split(key)
    state = blackjax.mcmc.mclmc.init(position, logdensity_fn, key_init)
    f1, f2, f3 = _UNADJUSTED_FRACS
    state, params, steps = blackjax.mclmc_find_L_and_step_size(
        mclmc_kernel=kernel,
        num_steps=max(int(round(num_warmup / _UNADJUSTED_SHARE)), 10),
        state=state,
        rng_key=key_tune,
        logdensity_fn=logdensity_fn,
        frac_tune1=f1,
        frac_tune2=f2,
        frac_tune3=f3,
        desired_energy_var=settings.get("desired_energy_var", 5e-4),
        diagonal_preconditioning=settings["diagonal_preconditioning"],
    )
    return state, params, jnp.asarray(steps)


def _build(name, logdensity_fn, num_warmup, num_draws, chain_method, settings, n_chains):
    unadjusted = blackjax.mcmc.mclmc.build_kernel()
    steps_fn = amd.make_random_trajectory_length_fn(True)
    adjusted = amd.build_kernel(integration_steps_fn=steps_fn)

    def warmup_one(key, position):
        if name == "mclmc":
            state, params, steps = _tune_unadjusted(unadjusted, logdensity_fn, key, position, num_warmup, settings)
            return state, params, steps
        key_pre, key_init, key_tune = jax.random.split(key, 3)
        pre = num_warmup // 2
        state, params, steps_pre = _tune_unadjusted(unadjusted, logdensity_fn, key_pre, position, pre, settings)
        state = amd.init(state.position, logdensity_fn, key_init)
        state, params, steps = blackjax.adjusted_mclmc_find_L_and_step_size(
            mclmc_kernel=adjusted,
            logdensity_fn=logdensity_fn,
            num_steps=max(int(round((num_warmup - pre) / _ADJUSTED_SHARE)), 10),
            state=state,
            rng_key=key_tune,
            target=settings["target_acceptance_rate"],
            frac_tune1=0.1,
            frac_tune2=0.1,
            frac_tune3=0.0,
            diagonal_preconditioning=settings["diagonal_preconditioning"],
            params=params,
            target_num_integration_steps=settings["target_num_integration_steps"],
        )
        return state, params, steps_pre + jnp.asarray(steps)

    def sample_one(key, state, params):
        def step(state, k):
            if name == "mclmc":
                state, info = unadjusted(
                    k, state, logdensity_fn, params.inverse_mass_matrix, params.L, params.step_size
                )
                return state, (
                    state.position,
                    state.logdensity,
                    {"energy_change": info.energy_change, "n_steps": jnp.asarray(1)},
                )
            state, info = adjusted(
                k,
                state,
                logdensity_fn,
                params.step_size,
                jnp.inf,
                params.inverse_mass_matrix,
                (params.L / params.step_size,),
            )
            return state, (
                state.position,
                state.logdensity,
                {
                    "acceptance_rate": info.acceptance_rate,
                    "diverging": info.is_divergent,
                    "n_steps": info.num_integration_steps,
                    "energy": info.energy,
                },
            )

        _, out = jax.lax.scan(step, state, jax.random.split(key, num_draws))
        return out

    return chain_map(warmup_one, chain_method, n_chains), chain_map(sample_one, chain_method, n_chains)


def _run(name, key, logdensity_fn, initial_positions, num_warmup, num_draws, chain_method, settings) -> Draws:
    x = positions_2d(name, initial_positions)
    key = typed_key(key)
    if chain_method == "auto":
        chain_method = resolve_chain_method()
    n_chains = x.shape[0]
    config = config_key(name, logdensity_fn, settings | {"chain_method": chain_method}, x, key)
    phases = {}

    def build(phase):
        if not phases:
            phases["warmup"], phases["sample"] = _build(
                name, logdensity_fn, num_warmup, num_draws, chain_method, settings, n_chains
            )
        return phases[phase]

    key_warmup, key_sample = jax.random.split(key)
    warmup_keys = jax.random.split(key_warmup, n_chains)
    (state, params, tune_steps), t_compile_warmup, t_warmup = run_compiled(
        config + ("warmup", int(num_warmup)), lambda: build("warmup"), (warmup_keys, x)
    )
    sample_keys = jax.random.split(key_sample, n_chains)
    (positions, logdensity, stats), t_compile_sample, t_sampling = run_compiled(
        config + ("sample", int(num_draws)), lambda: build("sample"), (sample_keys, state, params)
    )

    inits = n_chains * (1 if name == "mclmc" else 2)  # mams: the unadjusted and the adjusted init
    tune_steps, sample_steps = np.asarray(tune_steps), np.asarray(stats["n_steps"])
    grad_warmup = GRADS_PER_STEP * int(tune_steps.sum()) + inits
    grad_sampling = GRADS_PER_STEP * int(sample_steps.sum())
    lockstep = chain_method == "vectorized"
    n_devices = devices.split(n_chains)
    lockstep_grads = (
        GRADS_PER_STEP * (devices.block_max_sum(tune_steps, n_devices) + devices.block_max_sum(sample_steps, n_devices))
        + inits
    )
    cost = Cost(
        logdensity_evals_warmup=grad_warmup,
        logdensity_evals_sampling=grad_sampling,
        grad_evals_warmup=grad_warmup,
        grad_evals_sampling=grad_sampling,
        grad_evals_lockstep=lockstep_grads if lockstep else grad_warmup + grad_sampling,
        time_compile=t_compile_warmup + t_compile_sample,
        time_warmup=t_warmup,
        time_sampling=t_sampling,
    )
    step_size, L = np.asarray(params.step_size).reshape(n_chains), np.asarray(params.L).reshape(n_chains)
    info = {
        "chain_method": chain_method,
        "lockstep": lockstep,
        "devices": n_devices,
        "compile_cached": t_compile_warmup == 0.0 and t_compile_sample == 0.0,
        "step_size_mean": float(step_size.mean()),
        "step_size_min": float(step_size.min()),
        "step_size_max": float(step_size.max()),
        "L_mean": float(L.mean()),
        "tuning_integrator_steps": int(tune_steps.sum()),
        "adjusted": name == "mams",
        **settings,
    }
    return Draws(
        positions=np.asarray(positions),
        logdensity=np.asarray(logdensity),
        stats={k: np.asarray(v) for k, v in stats.items()},
        cost=cost,
        info=info,
    )
