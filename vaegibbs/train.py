"""Training of the VAE sampler on the corrected reverse-KL bound (optax Adam with a schedule).

`fit(logdensity_fn, dim, key, config)` minimises `L` (objective.py) over encoder and decoder.
Optionally U is annealed: the loss uses `beta * log mu~(x)` with beta rising linearly from
`beta_start` to 1 over `anneal_steps` (then held at 1). Training runs in jitted chunks of
`jax.lax.scan`; a NaN/inf loss or gradient stops it with `TrainingDiverged` naming the step, and
the broken update is never applied.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vaegibbs.compile import aot_compile
from vaegibbs.model import VAE
from vaegibbs.objective import joint_bound


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines a trained sampler (saved with it)."""

    latent_dim: int | None = None   # None: the target's dimension
    width: int = 128
    depth: int = 3
    steps: int = 3000
    batch_size: int = 256
    learning_rate: float = 3e-3
    warmup_steps: int = 100         # linear learning-rate warm-up, then cosine decay to 0
    grad_clip: float = 10.0
    beta_start: float = 1.0         # annealing of U: beta from beta_start to 1 ...
    anneal_steps: int = 0           # ... over this many steps (0: no annealing)
    x_loc: float = 0.0              # fixed standardisation of x in the networks
    x_scale: float = 1.0
    chunk: int = 100                # steps per jitted chunk (progress and NaN checks between chunks)

    def __post_init__(self):
        for name in ("width", "depth", "steps", "batch_size", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"vaegibbs Config: {name} must be >= 1, got {getattr(self, name)}")
        if self.latent_dim is not None and self.latent_dim < 1:
            raise ValueError(f"vaegibbs Config: latent_dim must be >= 1 or None, got {self.latent_dim}")
        if not self.learning_rate > 0 or not self.x_scale > 0 or not self.grad_clip > 0:
            raise ValueError("vaegibbs Config: learning_rate, x_scale and grad_clip must be > 0, got "
                             f"{self.learning_rate}, {self.x_scale}, {self.grad_clip}")
        if not 0 < self.beta_start <= 1:
            raise ValueError(f"vaegibbs Config: beta_start must be in (0, 1], got {self.beta_start}")
        if self.anneal_steps > self.steps:
            raise ValueError(f"vaegibbs Config: anneal_steps ({self.anneal_steps}) must be <= steps ({self.steps}), "
                             "or beta never reaches 1 and the trained bound is not the target's")
        if self.anneal_steps < 0 or self.warmup_steps < 0:
            raise ValueError(f"vaegibbs Config: anneal_steps and warmup_steps must be >= 0, got "
                             f"{self.anneal_steps}, {self.warmup_steps}")
        if not math.isfinite(self.x_loc):
            raise ValueError(f"vaegibbs Config: x_loc must be finite, got {self.x_loc}")


class TrainingDiverged(FloatingPointError):
    """The loss or its gradient became NaN/inf; the message names the step."""


@dataclasses.dataclass(frozen=True)
class Fitted:
    model: VAE
    config: Config
    loss: np.ndarray       # (steps,) the training objective at each step (fit: the bound L's batch estimate)
    loss_se: np.ndarray    # (steps,) Monte Carlo standard error of that estimate
    beta: np.ndarray       # (steps,) annealing factor used
    time_compile: float
    time_train: float
    grad_evals: int                # gradients of log mu~ spent in training (fit: batch_size x steps)
    logdensity_evals: int          # evaluations of log mu~ (value and gradient count once each)
    traces: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)        # more (steps,) curves
    round_traces: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)  # per round (adaptive)
    strategy: str = "reverse"      # the training strategy: "reverse" (fit) or "adaptive" (fit_adaptive)
    strategy_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def init_model(dim: int, key, config: Config) -> VAE:
    return VAE(dim, config.latent_dim or dim, config.width, config.depth, key,
               x_loc=config.x_loc, x_scale=config.x_scale)


def beta_schedule(config: Config) -> Callable:
    if config.anneal_steps == 0:
        return lambda step: jnp.ones((), float)
    return lambda step: jnp.minimum(
        1.0, config.beta_start + (1.0 - config.beta_start) * step / config.anneal_steps)


def optimizer(config: Config) -> optax.GradientTransformation:
    warmup = min(config.warmup_steps, config.steps - 1)  # the cosine decay needs at least one step
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, warmup, config.steps)
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(schedule))


def fit(logdensity_fn: Callable, dim: int, key, config: Config = Config(), progress: bool = False) -> Fitted:
    """Train a VAE sampler for `exp(logdensity_fn)` on R^dim; see the module docstring.

    The training chunk is compiled once per (logdensity_fn, dim, config) and reused (e.g. across
    seeds); `time_compile` is 0 when it was."""
    key_init, key_train = jax.random.split(key)
    params, static = eqx.partition(init_model(dim, key_init, config), eqx.is_inexact_array)
    opt, chunk = _trainer(logdensity_fn, dim, config)
    opt_state = opt.init(params)
    size = min(config.chunk, config.steps)
    keys = jax.random.split(key_train, config.steps)
    start = time.perf_counter()
    compiled, fresh = aot_compile(chunk, params, opt_state, keys[:size], jnp.arange(size))
    time_compile = time.perf_counter() - start if fresh else 0.0
    history = []
    bar = _progress(progress, config.steps)
    start = time.perf_counter()
    try:
        for begin in range(0, config.steps, size):
            steps = jnp.arange(begin, min(begin + size, config.steps))
            fn = compiled if len(steps) == size else chunk  # a shorter last chunk compiles once more
            params, opt_state, out = fn(params, opt_state, keys[begin:begin + len(steps)], steps)
            loss, finite = np.asarray(out[0]), np.asarray(out[3])
            bad = np.flatnonzero(~finite)
            if bad.size:
                raise TrainingDiverged(f"vaegibbs.fit: non-finite loss or gradient (loss {loss[bad[0]]}) at "
                                       f"training step {begin + int(bad[0])}; no parameters returned")
            history.append([np.asarray(o) for o in out[:3]])
            bar(len(steps), float(loss[-50:].mean()))
    finally:
        bar(None, None)
    time_train = time.perf_counter() - start
    loss, loss_se, beta = (np.concatenate(h) for h in zip(*history))
    evals = config.batch_size * config.steps
    return Fitted(eqx.combine(params, static), config, loss, loss_se, beta, time_compile, time_train,
                  grad_evals=evals, logdensity_evals=evals)


@functools.lru_cache(maxsize=16)
def _trainer(logdensity_fn: Callable, dim: int, config: Config):
    """The optimiser and the jitted training chunk (scan of `config.chunk` Adam steps) for one setting."""
    _, static = eqx.partition(init_model(dim, jax.random.key(0), config), eqx.is_inexact_array)
    opt = optimizer(config)
    beta_at = beta_schedule(config)

    def loss_fn(params, key, beta):
        return joint_bound(eqx.combine(params, static), logdensity_fn, key, config.batch_size, beta)

    def one_step(carry, inputs):
        params, opt_state, ok = carry
        key, step = inputs
        beta = beta_at(step)
        (loss, se), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, key, beta)
        finite = jnp.isfinite(loss) & jax.tree.reduce(
            jnp.logical_and, jax.tree.map(lambda g: jnp.all(jnp.isfinite(g)), grads))
        updates, new_opt_state = opt.update(grads, opt_state, params)
        apply = ok & finite
        params = jax.tree.map(lambda new, old: jnp.where(apply, new, old), optax.apply_updates(params, updates), params)
        opt_state = jax.tree.map(lambda new, old: jnp.where(apply, new, old), new_opt_state, opt_state)
        return (params, opt_state, ok & finite), (loss, se, beta, finite)

    @jax.jit
    def chunk(params, opt_state, keys, steps):
        (params, opt_state, ok), out = jax.lax.scan(one_step, (params, opt_state, jnp.array(True)), (keys, steps))
        return params, opt_state, out

    return opt, chunk


def _progress(enabled: bool, total: int):
    """A rich progress bar showing the current bound; `update(n, loss)`, `update(None, None)` closes it."""
    if not enabled:
        return lambda n, loss: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    bar = Progress(TextColumn("training VAE"), BarColumn(), MofNCompleteColumn(), TextColumn("L = {task.fields[loss]}"),
                   TimeElapsedColumn(), transient=True)
    task = bar.add_task("", total=total, loss="…")
    bar.start()

    def update(n, loss):
        if n is None:
            bar.stop()
        else:
            bar.update(task, advance=n, loss=f"{loss:.4f}")
    return update
