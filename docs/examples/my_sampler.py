"""A skeleton sampler for VAE-Gibbs Bench: blackjax MALA with a fixed step size.

Run it against the suite's targets and baselines without touching the suite:

    python -m bench check-sampler docs/examples/my_sampler.py:mala
    python -m bench run --target funnel --sampler nuts,docs/examples/my_sampler.py:mala --sampler-param mala.step_size=0.2

The contract (bench/samplers.py): `run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws,
**params) -> baselines.Draws`; the keyword arguments with defaults and annotated types are the parameters
(`--sampler-param step_size=0.2`). Return the draws (chains, draws, dim), the log density at each draw,
per-draw statistics (chains, draws), and the cost: every log-density and gradient evaluation, and the
seconds of compilation (0 when a compiled computation is reused), warm-up and sampling.
"""

import time

import blackjax
import jax
import numpy as np

from baselines.draws import Cost, Draws

_COMPILED = {}  # compiled once per (log density, budget, settings, shape); a later seed reuses it


def mala(key, logdensity_fn, initial_positions, *, num_warmup: int, num_draws: int, step_size: float = 0.5) -> Draws:
    """blackjax MALA (Roberts & Tweedie 1996), fixed step size, chains vmapped; one gradient per step."""
    chains = initial_positions.shape[0]
    cache_key = (logdensity_fn, num_warmup, num_draws, step_size, initial_positions.shape, initial_positions.dtype)
    time_compile = 0.0
    keys = jax.random.split(key, chains)
    if cache_key not in _COMPILED:
        kernel = blackjax.mala(logdensity_fn, step_size)

        def one_chain(k, x):
            def step(state, k):
                state, info = kernel.step(k, state)
                return state, (state.position, state.logdensity, info.acceptance_rate)

            _, out = jax.lax.scan(step, kernel.init(x), jax.random.split(k, num_warmup + num_draws))
            return jax.tree.map(lambda a: a[num_warmup:], out)

        start = time.perf_counter()
        _COMPILED[cache_key] = jax.jit(jax.vmap(one_chain)).lower(keys, initial_positions).compile()
        time_compile = time.perf_counter() - start
    start = time.perf_counter()
    x, lp, acceptance = jax.block_until_ready(_COMPILED[cache_key](keys, initial_positions))
    seconds = time.perf_counter() - start
    warmup, sampling = chains * (num_warmup + 1), chains * num_draws  # + 1: the gradient at init
    cost = Cost(
        logdensity_evals_warmup=warmup,
        logdensity_evals_sampling=sampling,
        grad_evals_warmup=warmup,
        grad_evals_sampling=sampling,
        grad_evals_lockstep=warmup + sampling,
        time_compile=time_compile,
        time_warmup=seconds * num_warmup / (num_warmup + num_draws),
        time_sampling=seconds * num_draws / (num_warmup + num_draws),
    )
    return Draws(
        positions=np.asarray(x),
        logdensity=np.asarray(lp),
        stats={"acceptance_rate": np.asarray(acceptance)},
        cost=cost,
        info={"step_size": float(step_size), "compile_cached": time_compile == 0.0},
    )
