"""Parallel tempering (replica exchange) on blackjax HMC moves, with a fixed geometric ladder.

Each chain is one ensemble of `n_temps` replicas at inverse temperatures
b_k = beta_min^(k / (n_temps - 1)), k = 0..n_temps-1 (b_0 = 1), replica k targeting p(x)^b_k
(Swendsen & Wang 1986; Geyer 1991; Earl & Deem 2005). Every step: one blackjax HMC transition of
`num_integration_steps` leapfrog steps per replica (identity mass matrix, a step size per replica), then
Metropolis swaps of neighbours (k, k+1) for k even on even steps and k odd on odd steps (the
deterministic even/odd scheme, Okabe et al. 2001; Lingenheil et al. 2009), accepted with probability
min(1, exp((b_k - b_{k+1}) (log p(x_{k+1}) - log p(x_k)))). A swapped replica keeps its cached log
density and gradient, rescaled by the ratio of the temperatures (no new evaluation).
Warm-up: the same steps, with each replica's step size tuned by dual averaging towards
`target_acceptance_rate` (blackjax `dual_averaging_adaptation`); then fixed for sampling.
Returned: the b = 1 replica of every chain. `info.swap_acceptance_k` is the mean swap probability of
the pair (k, k+1) over the sampling steps that attempted it (all chains).

Gradient accounting: one gradient per chain at init (all its replicas start at its initial position and
share that evaluation), then `num_integration_steps` per replica and step (velocity Verlet reuses the
last gradient); every replica counts. Chains: sequential or
vectorized as `baselines.hmc`; static trajectories, so no lock-step waste. The chains (each its own set of
replicas, swaps only within it) are independent: with several devices each device runs a block of them,
all its replicas included (`baselines.common.chain_map`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.step_size import dual_averaging_adaptation

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


def ladder(n_temps: int, beta_min: float) -> np.ndarray:
    """Geometric inverse temperatures b_k = beta_min^(k / (n_temps - 1)), from 1 down to beta_min.

    Parameters
    ----------
    n_temps
        The number of temperatures (>= 2).
    beta_min
        The smallest inverse temperature, in (0, 1).

    Returns
    -------
    numpy.ndarray
        The inverse temperatures b_0 = 1, ..., b_{n_temps-1} = beta_min, shape (n_temps,).
    """
    return beta_min ** (np.arange(n_temps) / (n_temps - 1))


def pt(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    n_temps: int = 8,
    beta_min: float = 0.01,
    num_integration_steps: int = 10,
    step_size: float = 0.1,
    target_acceptance_rate: float = 0.65,
    chain_method: Literal["auto", "vectorized", "sequential"] = "auto",
) -> Draws:
    """Replica exchange over a geometric ladder of `n_temps` temperatures down to `beta_min`; see the module.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        The chains' initial positions, (chains, dim); every replica of a chain starts at its position.
    num_warmup
        Warm-up steps (step-size tuning) per chain (>= 1).
    num_draws
        Draws per chain after warm-up (>= 1).
    n_temps
        Replicas (temperatures) per chain (>= 2).
    beta_min
        The hottest replica's inverse temperature, in (0, 1).
    num_integration_steps
        Leapfrog steps of each HMC transition (>= 1).
    step_size
        The initial step size of every replica (> 0).
    target_acceptance_rate
        The HMC acceptance rate each replica's dual averaging aims at, in (0, 1).
    chain_method
        "vectorized" (`jax.vmap`), "sequential" (`jax.lax.map`) or "auto" (sequential on CPU, vectorized on
        accelerators).

    Returns
    -------
    Draws
        The b = 1 replica's draws, log densities and per-draw statistics, the cost (every replica counted)
        and `info` with the tuned step sizes and the swap acceptance per pair (`swap_acceptance_k`, and the
        smallest, `swap_acceptance_min`).

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate`), or `initial_positions` not (chains, dim).
    """
    validate(
        num_warmup, num_draws, n_temps, beta_min, num_integration_steps, step_size, target_acceptance_rate, chain_method
    )
    x = positions_2d("pt", initial_positions)
    key = typed_key(key)
    if chain_method == "auto":
        chain_method = resolve_chain_method()
    n_chains = x.shape[0]
    settings = {
        "n_temps": int(n_temps),
        "beta_min": float(beta_min),
        "num_integration_steps": int(num_integration_steps),
        "step_size": float(step_size),
        "target_acceptance_rate": float(target_acceptance_rate),
    }
    config = config_key("pt", logdensity_fn, settings | {"chain_method": chain_method}, x, key)
    phases = {}

    def build(phase):
        if not phases:
            phases["warmup"], phases["sample"] = _build(
                logdensity_fn, num_warmup, num_draws, chain_method, settings, n_chains
            )
        return phases[phase]

    key_warmup, key_sample = jax.random.split(key)
    warmup_keys = jax.random.split(key_warmup, n_chains)
    (states, eps), t_compile_warmup, t_warmup = run_compiled(
        config + ("warmup", int(num_warmup)), lambda: build("warmup"), (warmup_keys, x)
    )
    sample_keys = jax.random.split(key_sample, n_chains)
    (positions, logdensity, stats, swap_prob), t_compile_sample, t_sampling = run_compiled(
        config + ("sample", int(num_draws)), lambda: build("sample"), (sample_keys, states, eps)
    )

    per_step = n_chains * int(n_temps) * int(num_integration_steps)
    grad_warmup = per_step * int(num_warmup) + n_chains  # + one per chain at init (shared by its replicas)
    grad_sampling = per_step * int(num_draws)
    cost = Cost(
        logdensity_evals_warmup=grad_warmup,
        logdensity_evals_sampling=grad_sampling,
        grad_evals_warmup=grad_warmup,
        grad_evals_sampling=grad_sampling,
        grad_evals_lockstep=grad_warmup + grad_sampling,
        time_compile=t_compile_warmup + t_compile_sample,
        time_warmup=t_warmup,
        time_sampling=t_sampling,
    )
    swap_prob = np.asarray(swap_prob)  # (chains, draws, n_temps - 1), NaN where not attempted
    eps = np.asarray(eps)  # (chains, n_temps)
    info = {
        "chain_method": chain_method,
        "lockstep": chain_method == "vectorized",
        "devices": devices.split(n_chains),
        "compile_cached": t_compile_warmup == 0.0 and t_compile_sample == 0.0,
        **settings,
        "step_size_cold_mean": float(eps[:, 0].mean()),
        "step_size_hot_mean": float(eps[:, -1].mean()),
    }
    for k in range(int(n_temps) - 1):
        info[f"swap_acceptance_{k}"] = float(np.nanmean(swap_prob[..., k]))
    info["swap_acceptance_min"] = float(min(info[f"swap_acceptance_{k}"] for k in range(int(n_temps) - 1)))
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
    n_temps: int = 8,
    beta_min: float = 0.01,
    num_integration_steps: int = 10,
    step_size: float = 0.1,
    target_acceptance_rate: float = 0.65,
    chain_method: str = "auto",
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    num_warmup
        >= 1.
    num_draws
        >= 1.
    n_temps
        >= 2.
    beta_min
        In (0, 1).
    num_integration_steps
        >= 1.
    step_size
        > 0.
    target_acceptance_rate
        In (0, 1).
    chain_method
        One of `CHAIN_METHODS`.

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    check_chain_method("pt", chain_method)
    if num_warmup < 1 or num_draws < 1:
        raise ValueError(f"pt: num_warmup and num_draws must be >= 1, got {num_warmup}, {num_draws}")
    if n_temps < 2:
        raise ValueError(f"pt: n_temps must be >= 2, got {n_temps}")
    if not 0.0 < beta_min < 1.0:
        raise ValueError(f"pt: beta_min must be in (0, 1), got {beta_min}")
    if num_integration_steps < 1:
        raise ValueError(f"pt: num_integration_steps must be >= 1, got {num_integration_steps}")
    if not step_size > 0:
        raise ValueError(f"pt: step_size must be > 0, got {step_size}")
    if not 0.0 < target_acceptance_rate < 1.0:
        raise ValueError(f"pt: target_acceptance_rate must be in (0, 1), got {target_acceptance_rate}")


def _swap(key, states, betas, parity):
    """Even/odd neighbour swaps: pairs (k, k+1) with k % 2 == parity; returns (states, swap probabilities
    (n_temps - 1,), NaN for the pairs not attempted)."""
    n = betas.shape[0]
    raw = states.logdensity / betas  # untempered log p at each replica
    k = jnp.arange(n - 1)
    log_alpha = (betas[:-1] - betas[1:]) * (raw[1:] - raw[:-1])
    prob = jnp.minimum(1.0, jnp.exp(log_alpha))
    attempt = (k % 2) == parity
    accept = attempt & (jax.random.uniform(key, (n - 1,)) < prob)
    # partner of each replica: k <-> k+1 where pair k swaps
    up = jnp.concatenate([accept, jnp.array([False])])  # replica k takes k+1's state
    down = jnp.concatenate([jnp.array([False]), accept])  # replica k+1 takes k's state
    idx = jnp.arange(n) + up.astype(int) - down.astype(int)
    scale = betas / betas[idx]  # re-temper the cached log density and gradient
    new = blackjax.mcmc.hmc.HMCState(
        states.position[idx], states.logdensity[idx] * scale, states.logdensity_grad[idx] * scale[:, None]
    )
    return new, jnp.where(attempt, prob, jnp.nan)


def _build(logdensity_fn, num_warmup, num_draws, chain_method, settings, n_chains):
    betas = jnp.asarray(ladder(settings["n_temps"], settings["beta_min"]))
    n_temps, n_leapfrog = settings["n_temps"], settings["num_integration_steps"]
    kernel = blackjax.hmc.build_kernel()
    da_init, da_update, da_final = dual_averaging_adaptation(settings["target_acceptance_rate"])

    def move(key, states, eps):
        def one(k, s, beta, e):
            return kernel(k, s, lambda x: beta * logdensity_fn(x), e, jnp.ones(s.position.shape[-1]), n_leapfrog)

        return jax.vmap(one)(jax.random.split(key, n_temps), states, betas, eps)

    def init(position):
        def one(beta):
            return blackjax.hmc.init(position, lambda x: beta * logdensity_fn(x))

        return jax.vmap(one)(betas)

    def warmup_one(key, position):
        states = init(position)
        da = jax.vmap(da_init)(jnp.full(n_temps, settings["step_size"]))

        def step(carry, xs):
            states, da = carry
            k, t = xs
            key_move, key_swap = jax.random.split(k)
            eps = jnp.exp(da.log_step_size)
            states, info = move(key_move, states, eps)
            da = jax.vmap(da_update)(da, info.acceptance_rate)
            states, _ = _swap(key_swap, states, betas, t % 2)
            return (states, da), None

        (states, da), _ = jax.lax.scan(step, (states, da), (jax.random.split(key, num_warmup), jnp.arange(num_warmup)))
        return states, jax.vmap(da_final)(da)

    def sample_one(key, states, eps):
        def step(states, xs):
            k, t = xs
            key_move, key_swap = jax.random.split(k)
            states, info = move(key_move, states, eps)
            stats = {
                "acceptance_rate": info.acceptance_rate[0],
                "diverging": info.is_divergent[0],
                "n_steps": info.num_integration_steps[0],
                "energy": info.energy[0],
            }
            states, prob = _swap(key_swap, states, betas, t % 2)
            return states, (states.position[0], states.logdensity[0], stats, prob)

        _, out = jax.lax.scan(step, states, (jax.random.split(key, num_draws), jnp.arange(num_draws)))
        return out

    return chain_map(warmup_one, chain_method, n_chains), chain_map(sample_one, chain_method, n_chains)
