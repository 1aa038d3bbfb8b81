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
wall time is split between the phases by their share of loops.

Compiled once per configuration (the log-density object, the settings, the walkers' shapes and dtypes, the
precision), reused across seeds: flowMC jits its steps with `equinox.filter_jit`, whose cache is keyed on
the strategy objects (bound methods), the log-density resource and the optimiser's optax closures, so those
are kept in a module cache (`_CACHE`, the 8 latest configurations) and only they. Every run starts from
its own state: the strategies' attributes restored as built (stepper cursors, the step-size adaptation's
loop counter), a new bundle's resources (buffers all -inf, the flow initialised from the run's key, the
initial MALA step size, the training state) and the optimiser's state re-initialised on that flow, so a
seed's draws do not depend on what ran before it. `compile_cached`: the configuration was in the cache.

Devices: one (`info.devices` = 1, whatever `--devices` says). The flow's training couples the walkers (each
epoch fits the flow to every walker's recent positions, and the global steps propose from that one flow);
the walkers' MALA and independence steps are per walker, but they run inside flowMC's own jitted loop,
which this wrapper cannot split into blocks without rewriting flowMC's `Sampler`.
"""

from __future__ import annotations

import collections
import copy
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from baselines.common import config_key, positions_2d, typed_key
from baselines.draws import Cost, Draws

_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_CACHE: collections.OrderedDict = collections.OrderedDict()
_CACHE_SIZE = 8


class _Compiled(NamedTuple):
    """What one configuration's runs share: flowMC's strategies (their jitted steps are cached on them), the
    log-density resource and the optimiser (whose optax closures are static arguments of the training step),
    and the strategies' attributes as built, restored before every run."""

    strategies: dict
    strategy_order: list
    logpdf: object
    optimizer: object
    initial_state: dict


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
    """flowMC RQSpline + MALA over max(walkers, chains) walkers; see the module docstring.

    Parameters
    ----------
    key
        A JAX random key (typed, or raw uint32 data, which is wrapped).
    logdensity_fn
        The target's log density, `logdensity_fn(x) -> scalar` at one point.
    initial_positions
        The chains' initial positions, (chains, dim).
    num_warmup
        Training steps per walker (>= 1): ceil(num_warmup / (n_local + n_global)) training loops.
    num_draws
        Production steps returned per chain (>= 1): ceil(num_draws / (n_local + n_global)) production loops.
    initial_fn
        `initial_fn(key, n) -> (n, dim)`: where the walkers beyond the chains start (the suite passes the
        target's `initial`); needed when `walkers` > chains.
    walkers
        The number of walkers (>= 2); max(walkers, chains) run.
    n_local
        MALA steps per loop (>= 1).
    n_global
        Independence Metropolis-Hastings steps with the flow per loop (>= 1).
    n_epochs
        Epochs of flow training per training loop (>= 1).
    mala_step_size
        The initial MALA step size (> 0).
    learning_rate
        The flow's training learning rate (> 0).

    Returns
    -------
    Draws
        The first `chains` walkers' last `num_draws` production steps and their log densities (no per-draw
        statistics), the cost, and `info` with the local and global acceptance and the final training loss.

    Raises
    ------
    ValueError
        A setting outside its valid range (`validate`), `initial_positions` not (chains, dim), or more
        walkers than chains without `initial_fn`.
    """
    validate(num_warmup, num_draws, walkers, n_local, n_global, n_epochs, mala_step_size, learning_rate)
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
    settings = {
        "n_local": int(n_local),
        "n_global": int(n_global),
        "n_epochs": int(n_epochs),
        "training_loops": n_train,
        "production_loops": n_prod,
        "mala_step_size": float(mala_step_size),
        "learning_rate": float(learning_rate),
    }
    compile_seconds = []

    def listen(event, duration, **kwargs):
        if event == _COMPILE_EVENT:
            compile_seconds.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        start = time.perf_counter()
        compiled, cached = _compiled(
            config_key("flowmc", logdensity_fn, settings, x, key),
            lambda: _build(logdensity_fn, n_walkers, dim, settings),
        )
        sampler = Sampler(
            n_dim=dim,
            n_chains=n_walkers,
            rng_key=key_sampler,
            resources=_fresh_resources(compiled, key_bundle, logdensity_fn, n_walkers, dim, settings),
            strategies=compiled.strategies,
            strategy_order=compiled.strategy_order,
            checkpoint_interval=0,
        )
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
        **settings,
        "compile_cached": cached,
        "local_acceptance": float(local_acc[:, in_loop < n_local].mean()),
        "global_acceptance": float(global_acc[:, in_loop >= n_local].mean()),
        "final_training_loss": float(np.asarray(res["loss_buffer"].data)[-1]),
    }
    return Draws(positions=positions, logdensity=logdensity, stats={}, cost=cost, info=info)


def _bundle(key_data, logdensity_fn, n_walkers, dim, settings):
    from flowMC.resource_strategy_bundle.RQSpline_MALA import RQSpline_MALA_Bundle

    s = settings
    return RQSpline_MALA_Bundle(
        key_data,
        n_walkers,
        dim,
        lambda p, data: logdensity_fn(p),
        s["n_local"],
        s["n_global"],
        s["training_loops"],
        s["production_loops"],
        s["n_epochs"],
        mala_step_size=s["mala_step_size"],
        learning_rate=s["learning_rate"],
    )


def _build(logdensity_fn, n_walkers, dim, settings) -> _Compiled:
    """One configuration's strategies, log density and optimiser (the bundle's resources are rebuilt per run)."""
    bundle = _bundle(jax.random.key_data(jax.random.key(0)), logdensity_fn, n_walkers, dim, settings)
    return _Compiled(
        bundle.strategies,
        bundle.strategy_order,
        bundle.resources["logpdf"],
        bundle.resources["optimizer"],
        {name: copy.deepcopy(vars(s)) for name, s in bundle.strategies.items()},
    )


def _compiled(cache_key, build: Callable) -> tuple[_Compiled, bool]:
    """The configuration's `_Compiled`, built once and reused across seeds; (it, whether it was cached)."""
    if cache_key in _CACHE:
        _CACHE.move_to_end(cache_key)
        return _CACHE[cache_key], True
    _CACHE[cache_key] = build()
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return _CACHE[cache_key], False


def _fresh_resources(compiled: _Compiled, key_data, logdensity_fn, n_walkers, dim, settings) -> dict:
    """A run's own state: the strategies' attributes restored as built (stepper cursors, adaptation counters),
    a new bundle's buffers (all -inf), flow (initialised from this run's key), MALA step size and sampler
    state, and the optimiser's state re-initialised on that flow; the cached log density and optimiser."""
    for name, state in compiled.initial_state.items():
        vars(compiled.strategies[name]).update(copy.deepcopy(state))
    resources = dict(_bundle(key_data, logdensity_fn, n_walkers, dim, settings).resources)
    optimizer = compiled.optimizer
    optimizer.optim_state = optimizer.optim.init(eqx.filter(resources["model"], eqx.is_inexact_array))
    resources["logpdf"], resources["optimizer"] = compiled.logpdf, optimizer
    return resources


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
    """Raise ValueError naming the bad setting and its valid range (before anything is compiled).

    Parameters
    ----------
    num_warmup
        Training steps, >= 1.
    num_draws
        >= 1.
    walkers
        >= 2.
    n_local
        >= 1.
    n_global
        >= 1.
    n_epochs
        >= 1.
    mala_step_size
        > 0.
    learning_rate
        > 0.

    Raises
    ------
    ValueError
        A setting outside its valid range.
    """
    if n_local < 1 or n_global < 1 or n_epochs < 1:
        raise ValueError(f"flowmc: n_local, n_global and n_epochs must be >= 1, got {n_local}, {n_global}, {n_epochs}")
    if num_warmup < 1 or num_draws < 1:
        raise ValueError(f"flowmc: num_warmup (training) and num_draws must be >= 1, got {num_warmup}, {num_draws}")
    if walkers < 2:
        raise ValueError(f"flowmc: walkers must be >= 2, got {walkers}")
    if not mala_step_size > 0 or not learning_rate > 0:
        raise ValueError(f"flowmc: mala_step_size and learning_rate must be > 0, got {mala_step_size}, {learning_rate}")
