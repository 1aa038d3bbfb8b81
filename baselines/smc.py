"""Adaptive tempered sequential Monte Carlo (blackjax), with HMC moves: weighted draws and log Z_hat.

Each of the `chains` independent runs starts `particles` particles from the normalised reference
pi_0 = N(0, ref_scale^2 I) and follows the geometric path pi_b ∝ pi_0^(1-b) gamma^b, b = 0 -> 1, the
next b chosen so that the incremental weights keep an ESS of `target_ess` (Jarzynski 1997; Neal 2001;
Del Moral, Doucet & Jasra 2006; blackjax `adaptive_tempered_smc`). After every reweighting the particles
are resampled (systematic) and moved by `num_mcmc_steps` HMC transitions of `num_integration_steps`
leapfrog steps at the current b, with a diagonal inverse mass matrix set to the weighted particle
variance and a step size driven towards `target_acceptance_rate` (eps <- eps exp(2 (acc - target))).
Because pi_0 is normalised, the product of the mean incremental weights estimates the target's own
normaliser: log Z_c = sum_t log mean_i w_t,i (unbiased in Z, not in log Z).

Returned draws: the final particles of every run with log weights log W_c,i + log N + log Z_c, so that
the suite's log-mean-exp of all log weights is log mean_c Z_c. `num_draws` is the number of particles
per run unless `particles` is given; `num_warmup` is unused (the tempering is the whole run; there is
no warm-up phase). Caveat: the particles are correlated through resampling (shared ancestors) and
incompletely decorrelated by the moves, so the Kish ESS of the weights is optimistic; the honest error
of log Z_hat is the spread over the independent runs (`info.log_Z_sd`, `info.log_Z_se`).

Cost per run of T tempering steps with N particles, M moves of L leapfrog steps:
  gradients     = T N (1 + M L)           (one at each move's HMC init, then one per leapfrog step)
  log densities = gradients + 2 T N + N   (the ESS solver and the reweighting, both at every step, and
                                           the log density of the returned particles)
Under `vmap` the runs wait for the one with most steps: `grad_evals_lockstep` = chains max_c T_c N (1 + M L).
The runs are independent: with several devices each runs a block of them (`baselines.common.chain_map`),
and the lock-step maximum is per block.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import blackjax
import blackjax.smc.adaptive_tempered as adaptive_tempered
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.smc import extend_params, resampling
from blackjax.smc.tempered import TemperedSMCState

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


def smc(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    particles: int = 0,
    ref_scale: float = 10.0,
    target_ess: float = 0.5,
    num_mcmc_steps: int = 10,
    num_integration_steps: int = 10,
    step_size: float = 0.1,
    target_acceptance_rate: float = 0.65,
    max_tempering_steps: int = 500,
    chain_method: Literal["auto", "vectorized", "sequential"] = "auto",
) -> Draws:
    """`chains` independent adaptive tempered SMC runs; see the module docstring.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        (chains, dim): only its shape and dtype are used (the number of runs, the dimension); the
        particles start from the reference.
    num_warmup
        Unused (>= 0): the tempering is the whole run.
    num_draws
        Particles per run when `particles` is 0.
    particles
        Particles per run (0: num_draws).
    ref_scale
        sd of the Gaussian reference N(0, ref_scale^2 I) the particles start from.
    target_ess
        The ESS fraction each tempering step keeps, in (0, 1).
    num_mcmc_steps
        HMC moves after every reweighting (>= 1).
    num_integration_steps
        Leapfrog steps per HMC move (>= 1).
    step_size
        The initial HMC step size (> 0).
    target_acceptance_rate
        The move acceptance rate the step size is driven towards, in (0, 1).
    max_tempering_steps
        A run that has not reached b = 1 after this many steps fails (RuntimeError).
    chain_method
        "vectorized" (`jax.vmap`), "sequential" (`jax.lax.map`) or "auto" (sequential on CPU, vectorized on
        accelerators).

    Returns
    -------
    Draws
        Every run's final particles with their log weights (log W_c,i + log N + log Z_c), the cost, and
        `info` with log Z_hat, its spread over the runs (`log_Z_sd`, `log_Z_se`) and the tempering steps.

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate`), or `initial_positions` not (chains, dim).
    RuntimeError
        A run did not reach b = 1 within `max_tempering_steps`.
    """
    validate(
        num_warmup,
        num_draws,
        particles,
        ref_scale,
        target_ess,
        num_mcmc_steps,
        num_integration_steps,
        step_size,
        target_acceptance_rate,
        max_tempering_steps,
        chain_method,
    )
    x = positions_2d("smc", initial_positions)
    key = typed_key(key)
    n_runs, dim = x.shape
    n = int(particles) or int(num_draws)
    if chain_method == "auto":
        chain_method = resolve_chain_method()
    settings = {
        "particles": n,
        "ref_scale": float(ref_scale),
        "target_ess": float(target_ess),
        "num_mcmc_steps": int(num_mcmc_steps),
        "num_integration_steps": int(num_integration_steps),
        "step_size": float(step_size),
        "target_acceptance_rate": float(target_acceptance_rate),
        "max_tempering_steps": int(max_tempering_steps),
    }
    keys = jax.random.split(key, n_runs)
    out, t_compile, t_sampling = run_compiled(
        config_key("smc", logdensity_fn, settings | {"chain_method": chain_method}, x, key),
        lambda: chain_map(_one_run(logdensity_fn, dim, x.dtype, **settings), chain_method, n_runs),
        (keys,),
    )
    positions, log_w, logdensity, log_z, steps, beta, acc, eps = (np.asarray(a) for a in out)
    if np.any(beta < 1.0):
        bad = int(np.argmin(beta))
        raise RuntimeError(
            f"smc: run {bad} reached b = {beta[bad]:.3g} < 1 after max_tempering_steps = "
            f"{max_tempering_steps} steps; raise max_tempering_steps or target_ess"
        )
    per_step = n * (1 + int(num_mcmc_steps) * int(num_integration_steps))
    grads = int(steps.sum()) * per_step
    lockstep = chain_method == "vectorized"
    n_devices = devices.split(n_runs)
    cost = Cost(
        logdensity_evals_sampling=grads + 2 * int(steps.sum()) * n + n_runs * n,
        grad_evals_sampling=grads,
        grad_evals_lockstep=devices.block_max_sum(steps, n_devices) * per_step if lockstep else grads,
        time_compile=t_compile,
        time_sampling=t_sampling,
    )
    log_weights = log_w + np.log(n) + log_z[:, None]
    top = log_weights.max()
    log_z_hat = float(top + np.log(np.mean(np.exp(log_weights - top))))
    info = {
        "chain_method": chain_method,
        "lockstep": lockstep,
        "devices": n_devices,
        "compile_cached": t_compile == 0.0,
        "log_Z_hat": log_z_hat,
        "log_Z_sd": float(np.std(log_z, ddof=1)) if n_runs > 1 else float("nan"),
        "log_Z_se": float(np.std(log_z, ddof=1) / np.sqrt(n_runs)) if n_runs > 1 else float("nan"),
        "log_Z_run_min": float(log_z.min()),
        "log_Z_run_max": float(log_z.max()),
        "tempering_steps_mean": float(steps.mean()),
        "tempering_steps_max": int(steps.max()),
        "move_acceptance_last": float(acc.mean()),
        "step_size_last": float(eps.mean()),
        **settings,
    }
    return Draws(positions=positions, logdensity=logdensity, stats={}, cost=cost, info=info, log_weights=log_weights)


def validate(
    num_warmup: int,
    num_draws: int,
    particles: int = 0,
    ref_scale: float = 10.0,
    target_ess: float = 0.5,
    num_mcmc_steps: int = 10,
    num_integration_steps: int = 10,
    step_size: float = 0.1,
    target_acceptance_rate: float = 0.65,
    max_tempering_steps: int = 500,
    chain_method: str = "auto",
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    num_warmup
        >= 0 (it is unused).
    num_draws
        >= 1.
    particles
        >= 2, or 0 (num_draws particles, then num_draws >= 2).
    ref_scale
        > 0.
    target_ess
        In (0, 1).
    num_mcmc_steps
        >= 1.
    num_integration_steps
        >= 1.
    step_size
        > 0.
    target_acceptance_rate
        In (0, 1).
    max_tempering_steps
        >= 1.
    chain_method
        One of `CHAIN_METHODS`.

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    check_chain_method("smc", chain_method)
    if num_warmup < 0:
        raise ValueError(f"smc: num_warmup must be >= 0 (it is unused), got {num_warmup}")
    if num_draws < 1 or particles < 0 or (particles or num_draws) < 2:
        raise ValueError(
            f"smc: particles must be >= 2 (0: num_draws, which must be >= 1), "
            f"got particles={particles}, num_draws={num_draws}"
        )
    if not ref_scale > 0:
        raise ValueError(f"smc: ref_scale must be > 0, got {ref_scale}")
    if not 0.0 < target_ess < 1.0:
        raise ValueError(f"smc: target_ess must be in (0, 1), got {target_ess}")
    if not 0.0 < target_acceptance_rate < 1.0:
        raise ValueError(f"smc: target_acceptance_rate must be in (0, 1), got {target_acceptance_rate}")
    if num_mcmc_steps < 1 or num_integration_steps < 1:
        raise ValueError(
            f"smc: num_mcmc_steps and num_integration_steps must be >= 1, got {num_mcmc_steps}, {num_integration_steps}"
        )
    if not step_size > 0:
        raise ValueError(f"smc: step_size must be > 0, got {step_size}")
    if max_tempering_steps < 1:
        raise ValueError(f"smc: max_tempering_steps must be >= 1, got {max_tempering_steps}")


def _one_run(
    logdensity_fn,
    dim,
    dtype,
    *,
    particles,
    ref_scale,
    target_ess,
    num_mcmc_steps,
    num_integration_steps,
    step_size,
    target_acceptance_rate,
    max_tempering_steps,
):
    """key -> (particles, log W, log density, log Z, steps, final b, last acceptance, last step size)."""

    def logprior(x):
        return jnp.sum(jax.scipy.stats.norm.logpdf(x, 0.0, ref_scale))

    def loglik(x):
        return logdensity_fn(x) - logprior(x)

    hmc_step = functools.partial(blackjax.hmc.build_kernel(), num_integration_steps=num_integration_steps)
    kernel = adaptive_tempered.build_kernel(
        logprior, loglik, hmc_step, blackjax.hmc.init, resampling.systematic, target_ess
    )

    def run(key):
        key_init, key_loop = jax.random.split(key)
        x0 = ref_scale * jax.random.normal(key_init, (particles, dim), dtype=dtype)
        state = TemperedSMCState(x0, jnp.full(particles, 1.0 / particles, dtype), jnp.asarray(0.0, dtype))

        def cond(carry):
            state, _, _, steps, _, _ = carry
            return (state.tempering_param < 1.0) & (steps < max_tempering_steps)

        def body(carry):
            state, key, log_z, steps, _, eps = carry
            key, key_step = jax.random.split(key)
            w, x = state.weights, state.particles
            var = w @ (x - w @ x) ** 2
            params = extend_params({"step_size": eps, "inverse_mass_matrix": jnp.maximum(var, 1e-12)})
            state, info = kernel(key_step, state, num_mcmc_steps, params)
            acc = jnp.mean(info.update_info.acceptance_rate)
            eps = eps * jnp.exp(2.0 * (acc - target_acceptance_rate))
            return state, key, log_z + info.log_likelihood_increment, steps + 1, acc, eps

        init = (
            state,
            key_loop,
            jnp.asarray(0.0, dtype),
            jnp.asarray(0),
            jnp.asarray(0.0, dtype),
            jnp.asarray(step_size, dtype),
        )
        state, _, log_z, steps, acc, eps = jax.lax.while_loop(cond, body, init)
        x = state.particles
        return (x, jnp.log(state.weights), jax.vmap(logdensity_fn)(x), log_z, steps, state.tempering_param, acc, eps)

    return run
