"""ChEES-HMC (blackjax): many chains, one jittered trajectory length per step, adapted across chains.

`chees_adaptation` tunes the step size (dual averaging towards `target_acceptance_rate`) and the
trajectory length by stochastic gradient ascent (Adam, `learning_rate`) on the ChEES criterion
computed over the ensemble (Hoffman, Radul & Sountsov 2021, "An adaptive MCMC scheme for setting
trajectory lengths in Hamiltonian Monte Carlo", AISTATS); then `dynamic_hmc` samples with the tuned
step size, the adapted mean number of leapfrog steps, jittered by a Halton sequence whose index every
chain shares. All chains therefore take the same number of leapfrog steps at every step: no lock-step
waste under `vmap` (the chains always run vectorized).

The criterion needs an ensemble: `walkers` = max(walkers, chains) chains run, the first `chains`
starting at the given positions and the others at `initial_fn` draws (the target's `initial`); the
first `chains` are returned, every walker's cost is counted.

blackjax returns the sampling parameters with two Python functions (`integration_steps_fn`,
`next_random_arg_fn`) that cannot leave a jitted computation; the sampling phase rebuilds them exactly
as `chees_adaptation.run` (blackjax 1.7.1) defines them: index i -> i + 1, and ceil(h(i) n) steps with
h(i) = halton(i, max_bits) jitter_amount + (1 - jitter_amount), max_bits = ceil(log2(num_warmup +
num_draws)), n the adapted mean number of steps.

Devices: the adaptation couples the walkers (the criterion, the step size's dual averaging and the mass
matrix are ensemble averages at every step), so it runs on one device. Sampling after it is per walker
(the tuned parameters shared, read-only): with several devices the walkers are split into equal blocks,
one per device (`baselines.devices.over_chains`), each walker computing what it computes unsharded (its
keys are drawn as before: step t's key split over the walkers).

Gradient accounting: one gradient per walker at init, then `num_integration_steps` per transition and
walker (velocity Verlet reuses the last gradient).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from blackjax.adaptation.base import get_filter_adapt_info_fn
from blackjax.mcmc import dynamic_hmc

from baselines import devices
from baselines.common import config_key, positions_2d, run_compiled, typed_key
from baselines.draws import Cost, Draws

MASS_MATRICES = ("identity", "diagonal")


def chees(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    initial_fn: Callable | None = None,
    walkers: int = 64,
    step_size: float = 0.1,
    learning_rate: float = 0.05,
    target_acceptance_rate: float = 0.651,
    jitter_amount: float = 1.0,
    mass_matrix: Literal["identity", "diagonal"] = "diagonal",
) -> Draws:
    """ChEES adaptation then jittered dynamic HMC over max(walkers, chains) chains; see the module docstring.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        The chains' initial positions, (chains, dim).
    num_warmup
        Adaptation steps (>= 10).
    num_draws
        Draws per chain after the adaptation (>= 1).
    initial_fn
        `initial_fn(key, n) -> (n, dim)`: where the walkers beyond the chains start (the suite passes the
        target's `initial`); needed when `walkers` > chains.
    walkers
        The ensemble size (>= 2); max(walkers, chains) walkers run.
    step_size
        The initial step size (> 0).
    learning_rate
        Adam's learning rate for the trajectory length (> 0).
    target_acceptance_rate
        The acceptance rate the step size's dual averaging aims at, in (0, 1).
    jitter_amount
        How much the Halton jitter shortens trajectories, in [0, 1].
    mass_matrix
        "identity" (blackjax's default) or "diagonal" (estimated over the ensemble in the second
        half of the warm-up).

    Returns
    -------
    Draws
        The first `chains` walkers' draws, log densities and per-draw statistics (`acceptance_rate`,
        `diverging`, `n_steps`, `energy`); the cost of every walker; `info` with the tuned step size and the
        mean number of leapfrog steps.

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate`), `initial_positions` not (chains, dim), or more
        walkers than chains without `initial_fn`.
    """
    validate(
        num_warmup, num_draws, walkers, step_size, learning_rate, target_acceptance_rate, jitter_amount, mass_matrix
    )
    x = positions_2d("chees", initial_positions)
    key = typed_key(key)
    n_chains, dim = x.shape
    n_walkers = max(int(walkers), n_chains)
    key_init, key_warmup, key_sample = jax.random.split(key, 3)
    if n_walkers > n_chains:
        if initial_fn is None:
            raise ValueError(
                f"chees: {n_walkers} walkers for {n_chains} chains need initial_fn (where the other "
                f"walkers start); the suite passes the target's `initial`"
            )
        x = jnp.concatenate([x, jnp.asarray(initial_fn(key_init, n_walkers - n_chains), x.dtype)])
    settings = {
        "walkers": n_walkers,
        "step_size": float(step_size),
        "learning_rate": float(learning_rate),
        "target_acceptance_rate": float(target_acceptance_rate),
        "jitter_amount": float(jitter_amount),
        "mass_matrix": mass_matrix,
    }
    config = config_key("chees", logdensity_fn, settings, x, key)
    phases = {}

    def build(phase):
        if not phases:
            phases["warmup"], phases["sample"] = _build(logdensity_fn, num_warmup, num_draws, settings)
        return phases[phase]

    (state, params, warmup_steps), t_compile_warmup, t_warmup = run_compiled(
        config + ("warmup", int(num_warmup), int(num_draws)), lambda: build("warmup"), (key_warmup, x)
    )
    (positions, logdensity, stats), t_compile_sample, t_sampling = run_compiled(
        config + ("sample", int(num_warmup), int(num_draws)), lambda: build("sample"), (key_sample, state, params)
    )

    warmup_steps = np.asarray(warmup_steps)  # (steps, walkers)
    sample_steps = np.asarray(stats["n_steps"])  # (walkers, draws)
    grad_warmup = int(warmup_steps.sum()) + n_walkers  # + one gradient per walker at init
    grad_sampling = int(sample_steps.sum())
    # every walker takes the same number of steps: what the hardware runs is what the walkers need
    lockstep = n_walkers * int(warmup_steps.max(axis=1).sum() + sample_steps.max(axis=0).sum()) + n_walkers
    cost = Cost(
        logdensity_evals_warmup=grad_warmup,
        logdensity_evals_sampling=grad_sampling,
        grad_evals_warmup=grad_warmup,
        grad_evals_sampling=grad_sampling,
        grad_evals_lockstep=lockstep,
        time_compile=t_compile_warmup + t_compile_sample,
        time_warmup=t_warmup,
        time_sampling=t_sampling,
    )
    step, n_leapfrog = (float(np.asarray(params[k])) for k in ("step_size", "num_leapfrog_steps"))
    info = {
        "chain_method": "vectorized",
        "lockstep": True,
        "devices": devices.split(n_walkers),
        "devices_warmup": 1,
        "compile_cached": t_compile_warmup == 0.0 and t_compile_sample == 0.0,
        **settings,
        "step_size_tuned": step,
        "mean_leapfrog_steps": n_leapfrog,
    }
    first = lambda a: np.asarray(a)[:n_chains]  # noqa: E731 - (walkers, draws, ...) -> (chains, draws, ...)
    return Draws(
        positions=first(positions),
        logdensity=first(logdensity),
        stats={k: first(v) for k, v in stats.items()},
        cost=cost,
        info=info,
    )


def validate(
    num_warmup: int,
    num_draws: int,
    walkers: int = 64,
    step_size: float = 0.1,
    learning_rate: float = 0.05,
    target_acceptance_rate: float = 0.651,
    jitter_amount: float = 1.0,
    mass_matrix: str = "diagonal",
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    num_warmup
        >= 10 (the adaptation).
    num_draws
        >= 1.
    walkers
        >= 2 (the criterion is an ensemble average).
    step_size
        > 0.
    learning_rate
        > 0.
    target_acceptance_rate
        In (0, 1).
    jitter_amount
        In [0, 1].
    mass_matrix
        One of `MASS_MATRICES`.

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    if num_warmup < 10:
        raise ValueError(f"chees: num_warmup must be >= 10 (the adaptation), got {num_warmup}")
    if num_draws < 1:
        raise ValueError(f"chees: num_draws must be >= 1, got {num_draws}")
    if walkers < 2:
        raise ValueError(f"chees: walkers must be >= 2 (the criterion is an ensemble average), got {walkers}")
    if not step_size > 0 or not learning_rate > 0:
        raise ValueError(f"chees: step_size and learning_rate must be > 0, got {step_size}, {learning_rate}")
    if not 0.0 < target_acceptance_rate < 1.0:
        raise ValueError(f"chees: target_acceptance_rate must be in (0, 1), got {target_acceptance_rate}")
    if not 0.0 <= jitter_amount <= 1.0:
        raise ValueError(f"chees: jitter_amount must be in [0, 1], got {jitter_amount}")
    if mass_matrix not in MASS_MATRICES:
        raise ValueError(f"chees: mass_matrix must be one of {', '.join(MASS_MATRICES)}, got {mass_matrix!r}")


def _build(logdensity_fn, num_warmup, num_draws, settings):
    n_walkers, jitter = settings["walkers"], settings["jitter_amount"]

    def warmup(key, positions):
        adaptation = blackjax.chees_adaptation(
            logdensity_fn,
            n_walkers,
            jitter_amount=jitter,
            target_acceptance_rate=settings["target_acceptance_rate"],
            mass_matrix_estimation=None if settings["mass_matrix"] == "identity" else "diagonal",
            adaptation_info_fn=get_filter_adapt_info_fn(info_keys={"num_integration_steps"}),
        )
        (state, params), info = adaptation.run(
            key,
            positions,
            settings["step_size"],
            optax.adam(settings["learning_rate"]),
            num_warmup,
            max_sampling_steps=num_draws,
        )
        arrays = {
            "step_size": params["step_size"],
            "inverse_mass_matrix": params["inverse_mass_matrix"],
            "num_leapfrog_steps": params["integration_steps_params"][0],
        }
        return state, arrays, info.info.num_integration_steps

    max_bits = int(np.ceil(np.log2(num_warmup + num_draws)))  # as chees_adaptation.run

    def integration_steps_fn(i, num_leapfrog_steps):
        h = dynamic_hmc.halton_sequence(i, max_bits) * jitter + (1.0 - jitter)
        return jnp.asarray(jnp.ceil(h * num_leapfrog_steps), dtype=int)

    kernel = dynamic_hmc.build_kernel(next_random_arg_fn=lambda i: i + 1, integration_steps_fn=integration_steps_fn)

    def sample(key, state, params):
        """(walkers, draws, ...) outputs; walker w's key at step t is split(split(key, draws)[t], walkers)[w]."""
        keys = jax.vmap(lambda k: jax.random.split(k, n_walkers))(jax.random.split(key, num_draws)).swapaxes(0, 1)

        def one_walker(walker_keys, walker_state):
            def step(s, k):
                s, info = kernel(
                    k,
                    s,
                    logdensity_fn,
                    params["step_size"],
                    params["inverse_mass_matrix"],
                    (params["num_leapfrog_steps"],),
                )
                return s, (
                    s.position,
                    s.logdensity,
                    {
                        "acceptance_rate": info.acceptance_rate,
                        "diverging": info.is_divergent,
                        "n_steps": info.num_integration_steps,
                        "energy": info.energy,
                    },
                )

            _, out = jax.lax.scan(step, walker_state, walker_keys)
            return out

        return devices.over_chains(jax.vmap(one_walker), n_walkers)(keys, state)

    return jax.jit(warmup), jax.jit(sample)
