"""flowMC (0.6.*): MALA walkers and a normalizing-flow independence proposal trained on them.

flowMC's `RQSpline_MALA_Bundle` (Wong, Gabrié & Foreman-Mackey 2023, "flowMC: Normalizing flow enhanced
sampling package for probabilistic inference in JAX", JOSS; Gabrié, Rotskoff & Vanden-Eijnden 2022,
PNAS): `walkers` = max(walkers, chains) chains, each loop `n_local` MALA steps then `n_global` steps of
independence Metropolis-Hastings with a masked-coupling rational-quadratic spline flow as proposal. The
training loops (warm-up: local steps with step-size adaptation, `n_epochs` of flow training on the
walkers' recent positions, global steps) are followed by production loops with the flow fixed. The
first `chains` walkers start at the given positions, the others at `initial_fn` draws (the target's
`initial`): the flow never learns a mode no walker visits. The first `chains` walkers' production
steps are returned (the last `num_draws` of them).

Loops: ceil(num_warmup / (n_local + n_global)) training and ceil(num_draws / (n_local + n_global))
production loops. `checkpoint_interval=0` always: flowMC's default writes ./outdir/checkpoint.pkl,
sets JAX's process-wide compilation cache and silently resumes a matching checkpoint (a second seed
of the same cell would).

Cost per loop, W walkers (flowMC's MALA evaluates value_and_grad at the current and the proposed point
of every step; each stepper evaluates the log density at its starting positions once):
  gradients     = 2 W n_local
  log densities = W (2 n_local + 1) + W (n_global + 1)
Training loops count as warm-up, production loops as sampling; the flow's training evaluates no
target density. Compile time: flowMC compiles inside its Python loop, so it is read from JAX's
`backend_compile_duration` monitoring events (other events nest and double-count); the rest of the
wall time is split between the phases by their share of loops. Every call builds a new flowMC
`Sampler`, so every seed recompiles (`compile_cached` is always False).

Devices: one (`info.devices` = 1, whatever `--devices` says). The flow's training couples the walkers (each
epoch fits the flow to every walker's recent positions, and the global steps propose from that one flow);
the walkers' MALA and independence steps are per walker, but they run inside flowMC's own jitted loop,
which this wrapper cannot split into blocks without rewriting flowMC's `Sampler`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from baselines.common import positions_2d, typed_key
from baselines.draws import Cost, Draws

_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def flowmc(
    key,
    logdensity_fn: Callable,
    initial_positions,
    *,
    num_warmup: int,
    num_draws: int,
    initial_fn: Callable | None = None,
    walkers: int = 200,
    n_local: int = 50,
    n_global: int = 50,
    n_epochs: int = 20,
    mala_step_size: float = 0.5,
    learning_rate: float = 5e-3,
) -> Draws:
    """flowMC RQSpline + MALA over max(walkers, chains) walkers; see the module docstring."""
    validate(num_warmup, num_draws, walkers, n_local, n_global, n_epochs, mala_step_size, learning_rate)
    from flowMC.resource_strategy_bundle.RQSpline_MALA import RQSpline_MALA_Bundle
    from flowMC.Sampler import Sampler

    x = positions_2d("flowmc", initial_positions)
    key = typed_key(key)
    n_chains, dim = x.shape
    n_walkers = max(int(walkers), n_chains)
    per_loop = int(n_local) + int(n_global)
    n_train, n_prod = math.ceil(num_warmup / per_loop), math.ceil(num_draws / per_loop)
    key_init, key_bundle, key_sampler = (jax.random.key_data(k) for k in jax.random.split(key, 3))
    if n_walkers > n_chains:
        if initial_fn is None:
            raise ValueError(
                f"flowmc: {n_walkers} walkers for {n_chains} chains need initial_fn (where the other "
                f"walkers start); the suite passes the target's `initial`"
            )
        x = jnp.concatenate(
            [x, jnp.asarray(initial_fn(jax.random.wrap_key_data(key_init), n_walkers - n_chains), x.dtype)]
        )
    bundle = RQSpline_MALA_Bundle(
        key_bundle,
        n_walkers,
        dim,
        lambda p, data: logdensity_fn(p),
        int(n_local),
        int(n_global),
        n_train,
        n_prod,
        int(n_epochs),
        mala_step_size=float(mala_step_size),
        learning_rate=float(learning_rate),
    )
    sampler = Sampler(
        n_dim=dim, n_chains=n_walkers, rng_key=key_sampler, resource_strategy_bundles=bundle, checkpoint_interval=0
    )
    compile_seconds = []

    def listen(event, duration, **kwargs):
        if event == _COMPILE_EVENT:
            compile_seconds.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        start = time.perf_counter()
        sampler.sample(x, {})
        jax.block_until_ready(sampler.resources["positions_production"].data)
        wall = time.perf_counter() - start
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    t_compile = float(sum(compile_seconds))
    t_run = max(wall - t_compile, 0.0)

    res = sampler.resources
    positions = np.asarray(res["positions_production"].data)[:n_chains, -num_draws:]
    logdensity = np.asarray(res["log_prob_production"].data)[:n_chains, -num_draws:]
    local_acc = np.asarray(res["local_accs_production"].data)
    global_acc = np.asarray(res["global_accs_production"].data)
    in_loop = np.arange(local_acc.shape[1]) % per_loop
    grads_loop = 2 * n_walkers * int(n_local)
    evals_loop = n_walkers * (2 * int(n_local) + 1) + n_walkers * (int(n_global) + 1)
    cost = Cost(
        logdensity_evals_warmup=evals_loop * n_train,
        logdensity_evals_sampling=evals_loop * n_prod,
        grad_evals_warmup=grads_loop * n_train,
        grad_evals_sampling=grads_loop * n_prod,
        grad_evals_lockstep=grads_loop * (n_train + n_prod),
        time_compile=t_compile,
        time_warmup=t_run * n_train / (n_train + n_prod),
        time_sampling=t_run * n_prod / (n_train + n_prod),
    )
    info = {
        "devices": 1,
        "walkers": n_walkers,
        "n_local": int(n_local),
        "n_global": int(n_global),
        "n_epochs": int(n_epochs),
        "training_loops": n_train,
        "production_loops": n_prod,
        "mala_step_size": float(mala_step_size),
        "learning_rate": float(learning_rate),
        "compile_cached": False,
        "local_acceptance": float(local_acc[:, in_loop < n_local].mean()),
        "global_acceptance": float(global_acc[:, in_loop >= n_local].mean()),
        "final_training_loss": float(np.asarray(res["loss_buffer"].data)[-1]),
    }
    return Draws(positions=positions, logdensity=logdensity, stats={}, cost=cost, info=info)


def validate(
    num_warmup: int,
    num_draws: int,
    walkers: int = 200,
    n_local: int = 50,
    n_global: int = 50,
    n_epochs: int = 20,
    mala_step_size: float = 0.5,
    learning_rate: float = 5e-3,
) -> None:
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled)."""
    if n_local < 1 or n_global < 1 or n_epochs < 1:
        raise ValueError(f"flowmc: n_local, n_global and n_epochs must be >= 1, got {n_local}, {n_global}, {n_epochs}")
    if num_warmup < 1 or num_draws < 1:
        raise ValueError(f"flowmc: num_warmup (training) and num_draws must be >= 1, got {num_warmup}, {num_draws}")
    if walkers < 2:
        raise ValueError(f"flowmc: walkers must be >= 2, got {walkers}")
    if not mala_step_size > 0 or not learning_rate > 0:
        raise ValueError(f"flowmc: mala_step_size and learning_rate must be > 0, got {mala_step_size}, {learning_rate}")
