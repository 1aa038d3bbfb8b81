"""Training of the VAE-Gibbs sampler's VAE on the corrected reverse-KL bound (optax Adam with a schedule).

`fit(logdensity_fn, dim, key, config)` minimises `L` (objective.py) over encoder and decoder.
Optionally U is annealed: the loss uses `beta * log mu~(x)` with beta rising linearly from
`beta_start` to 1 over `anneal_steps` (then held at 1). With `dtype="float32"` the networks train in
single precision (the steps take about half the time on a CPU) and are returned in the default float,
in which the bounds and the exact kernels are evaluated. Training runs in jitted chunks of
`jax.lax.scan`; a NaN/inf loss or gradient stops it with `TrainingDiverged` naming the step, and
the broken update is never applied. With several devices (`baselines.devices`) each step's batch is
split over them, each device drawing its share with its own key, and the loss, its squared standard error
and the gradients are averaged across devices; one device is the plain step.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines import devices
from vaegibbs.compile import aot_compile
from vaegibbs.model import VAE
from vaegibbs.objective import joint_bound

TRAIN_DTYPES = ("float64", "float32")


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines a trained sampler (saved with it): networks, optimiser and training budget.

    Parameters
    ----------
    latent_dim
        Dimension of z; None: the target's dimension.
    width, depth
        Width and number of hidden layers of the encoder's and decoder's MLPs (equinox, SiLU).
    steps
        Adam steps in all (with restarts, the chosen initialisation's `restart_steps` included).
    batch_size
        Samples of the bound L per step.
    learning_rate
        Peak learning rate of Adam.
    warmup_steps
        Linear learning-rate warm-up, then cosine decay to 0.
    grad_clip
        Global gradient-norm clipping.
    beta_start, anneal_steps
        Annealing of U: the loss uses `beta * log mu~(x)`, beta rising linearly from `beta_start` to 1 over
        `anneal_steps` steps (0: no annealing), then held at 1.
    x_loc, x_scale
        Fixed standardisation of x inside the networks.
    chunk
        Steps per jitted chunk (progress and NaN checks between chunks).
    dtype
        Precision of training, "float64" or "float32"; the model is returned in the default float.
    restarts, restart_steps
        Initialisations tried: each trains `restart_steps` steps, the one with the lowest mean loss goes on.

    Raises
    ------
    ValueError
        A field out of range, naming it.
    """

    latent_dim: int | None = None  # None: the target's dimension
    width: int = 128
    depth: int = 3
    steps: int = 3000
    batch_size: int = 256
    learning_rate: float = 3e-3
    warmup_steps: int = 100  # linear learning-rate warm-up, then cosine decay to 0
    grad_clip: float = 10.0
    beta_start: float = 1.0  # annealing of U: beta from beta_start to 1 ...
    anneal_steps: int = 0  # ... over this many steps (0: no annealing)
    x_loc: float = 0.0  # fixed standardisation of x in the networks
    x_scale: float = 1.0
    chunk: int = 100  # steps per jitted chunk (progress and NaN checks between chunks)
    dtype: Literal[TRAIN_DTYPES] = "float64"  # precision of training (fit); the model is returned in the default float
    restarts: int = 1  # initialisations tried (fit): the best after restart_steps goes on
    restart_steps: int = 300

    def __post_init__(self):
        for name in ("width", "depth", "steps", "batch_size", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"vaegibbs Config: {name} must be >= 1, got {getattr(self, name)}")
        if self.latent_dim is not None and self.latent_dim < 1:
            raise ValueError(f"vaegibbs Config: latent_dim must be >= 1 or None, got {self.latent_dim}")
        if not self.learning_rate > 0 or not self.x_scale > 0 or not self.grad_clip > 0:
            raise ValueError(
                "vaegibbs Config: learning_rate, x_scale and grad_clip must be > 0, got "
                f"{self.learning_rate}, {self.x_scale}, {self.grad_clip}"
            )
        if not 0 < self.beta_start <= 1:
            raise ValueError(f"vaegibbs Config: beta_start must be in (0, 1], got {self.beta_start}")
        if self.anneal_steps > self.steps:
            raise ValueError(
                f"vaegibbs Config: anneal_steps ({self.anneal_steps}) must be <= steps ({self.steps}), "
                "or beta never reaches 1 and the trained bound is not the target's"
            )
        if self.anneal_steps < 0 or self.warmup_steps < 0:
            raise ValueError(
                f"vaegibbs Config: anneal_steps and warmup_steps must be >= 0, got "
                f"{self.anneal_steps}, {self.warmup_steps}"
            )
        if not math.isfinite(self.x_loc):
            raise ValueError(f"vaegibbs Config: x_loc must be finite, got {self.x_loc}")
        if self.restarts < 1:
            raise ValueError(f"vaegibbs Config: restarts must be >= 1, got {self.restarts}")
        if self.restarts > 1 and not 0 < self.restart_steps < self.steps:
            raise ValueError(
                f"vaegibbs Config: with restarts={self.restarts} restart_steps ({self.restart_steps}) "
                f"must be in (0, steps = {self.steps}); pass restarts=1 or a smaller restart_steps"
            )
        if self.dtype not in TRAIN_DTYPES:
            raise ValueError(f"vaegibbs Config: dtype must be one of {', '.join(TRAIN_DTYPES)}, got {self.dtype!r}")


class TrainingDiverged(FloatingPointError):
    """The loss or its gradient became NaN/inf; the message names the step."""


@dataclasses.dataclass(frozen=True)
class Fitted:
    model: VAE
    config: Config
    loss: np.ndarray  # (steps,) the training objective at each step (fit: the bound L's batch estimate)
    loss_se: np.ndarray  # (steps,) Monte Carlo standard error of that estimate
    beta: np.ndarray  # (steps,) annealing factor used
    time_compile: float
    time_train: float
    grad_evals: int  # gradients of log mu~ spent in training (fit: batch_size x steps)
    logdensity_evals: int  # evaluations of log mu~ (value and gradient count once each)
    traces: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)  # more (steps,) curves
    round_traces: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)  # per round (adaptive)
    strategy: str = "reverse"  # the training strategy: "reverse" (fit) or "adaptive" (fit_adaptive)
    strategy_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def init_model(dim: int, key, config: Config) -> VAE:
    return VAE(
        dim, config.latent_dim or dim, config.width, config.depth, key, x_loc=config.x_loc, x_scale=config.x_scale
    )


def cast(params, dtype):
    """The floating-point leaves of `params` in `dtype`.

    Training may run in float32; sampling and its acceptance tests stay in the default float.

    Parameters
    ----------
    params
        A pytree of arrays (the model's trainable leaves).
    dtype
        The dtype to cast them to.

    Returns
    -------
    pytree
        `params` with every leaf cast to `dtype`.
    """
    return jax.tree.map(lambda a: a.astype(dtype), params)


def beta_schedule(config: Config) -> Callable:
    if config.anneal_steps == 0:
        return lambda step: jnp.ones((), float)
    return lambda step: jnp.minimum(1.0, config.beta_start + (1.0 - config.beta_start) * step / config.anneal_steps)


def optimizer(config: Config) -> optax.GradientTransformation:
    warmup = min(config.warmup_steps, config.steps - 1)  # the cosine decay needs at least one step
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, warmup, config.steps)
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(schedule))


def restart_key(key, r: int):
    """The key of initialisation r of `fit` (r = 0: the key itself, so that restarts=1 is a plain training).

    Parameters
    ----------
    key
        The training's JAX random key.
    r
        The index of the initialisation.

    Returns
    -------
    jax.Array
        `key` for r = 0, else `fold_in(key, r)`.
    """
    return key if r == 0 else jax.random.fold_in(key, r)


def fit(logdensity_fn: Callable, dim: int, key, config: Config = Config(), progress: bool = False) -> Fitted:
    """Train a VAE sampler for `exp(logdensity_fn)` on R^dim; see the module docstring.

    With `config.restarts` = R > 1, R initialisations (keys `restart_key(key, r)`) train for
    `config.restart_steps` steps each; the one whose bound estimate is lowest over its last
    min(100, restart_steps) steps goes on to `config.steps` (the same run as a training of R = 1 from its
    key), the others are dropped. Reverse-KL training can stay on a plateau where q covers one part of the
    target; the choice helps only when one initialisation has already left it by `restart_steps`.
    The dropped steps count in the cost (`grad_evals`, `time_train`) and the losses compared are
    `strategy_settings["restart_loss_r"]`.

    The training chunk is compiled once per (logdensity_fn, dim, config) and reused (e.g. across
    seeds); `time_compile` is 0 when it was.

    Parameters
    ----------
    logdensity_fn
        The target's unnormalised log density log mu~ of one point (differentiable).
    dim
        The target's dimension.
    key
        The JAX random key of the training.
    config
        The networks, optimiser and training budget.
    progress
        Whether to show a progress bar.

    Returns
    -------
    Fitted
        The trained model (in the default float), the per-step loss, its standard error and beta, the
        compile and training times and the evaluations of log mu~ spent.

    Raises
    ------
    TrainingDiverged
        When a training step's loss or gradient is not finite.
    """
    n_devices = devices.split(config.batch_size)
    opt, chunk = _trainer(logdensity_fn, dim, config, n_devices)
    static, runs = None, []
    for r in range(config.restarts):
        key_init, key_train = jax.random.split(restart_key(key, r))
        params, static = eqx.partition(init_model(dim, key_init, config), eqx.is_inexact_array)
        params = cast(params, config.dtype)
        runs.append(_Run(params, opt.init(params), jax.random.split(key_train, config.steps)))
    size = min(config.chunk, config.steps)
    start = time.perf_counter()
    compiled, fresh = aot_compile(chunk, runs[0].params, runs[0].opt_state, runs[0].keys[:size], jnp.arange(size))
    time_compile = time.perf_counter() - start if fresh else 0.0
    probe = config.restart_steps if config.restarts > 1 else 0
    bar = _progress(progress, config.steps + (config.restarts - 1) * probe)
    settings = {}
    start = time.perf_counter()
    try:
        for r, run in enumerate(runs if probe else []):
            _advance(run, chunk, compiled, size, 0, probe, bar, f" (initialisation {r})")
        if probe:
            window = min(100, probe)
            losses = [float(np.concatenate([h[0] for h in run.history])[-window:].mean()) for run in runs]
            settings = {"restart_chosen": int(np.argmin(losses))} | {
                f"restart_loss_{r}": v for r, v in enumerate(losses)
            }
        run = runs[settings.get("restart_chosen", 0)]
        _advance(run, chunk, compiled, size, probe, config.steps, bar, "")
    finally:
        bar(None, None)
    time_train = time.perf_counter() - start
    if n_devices > 1:
        settings["devices"] = n_devices
    loss, loss_se, beta = (np.concatenate(h) for h in zip(*run.history))
    evals = config.batch_size * (config.steps + (config.restarts - 1) * probe)
    model = eqx.combine(cast(run.params, jnp.result_type(float)), static)  # sampled in the default precision
    return Fitted(
        model,
        config,
        loss,
        loss_se,
        beta,
        time_compile,
        time_train,
        grad_evals=evals,
        logdensity_evals=evals,
        strategy_settings=settings,
    )


@dataclasses.dataclass
class _Run:
    """One initialisation being trained: its parameters, optimiser state, step keys and history so far."""

    params: Any
    opt_state: Any
    keys: jax.Array
    history: list = dataclasses.field(default_factory=list)


def _advance(run: _Run, chunk, compiled, size: int, begin: int, end: int, bar, where: str) -> None:
    """Train `run` from step `begin` to `end` in chunks of `size` steps (a shorter last chunk compiles once
    more); raise TrainingDiverged naming the first non-finite step."""
    for first in range(begin, end, size):
        steps = jnp.arange(first, min(first + size, end))
        fn = compiled if len(steps) == size else chunk
        run.params, run.opt_state, out = fn(run.params, run.opt_state, run.keys[first : first + len(steps)], steps)
        loss, finite = np.asarray(out[0]), np.asarray(out[3])
        bad = np.flatnonzero(~finite)
        if bad.size:
            raise TrainingDiverged(
                f"vaegibbs.fit: non-finite loss or gradient (loss {loss[bad[0]]}) at "
                f"training step {first + int(bad[0])}{where}; no parameters returned"
            )
        run.history.append([np.asarray(o) for o in out[:3]])
        bar(len(steps), float(loss[-50:].mean()))


@functools.lru_cache(maxsize=16)
def _trainer(logdensity_fn: Callable, dim: int, config: Config, n_devices: int = 1):
    """The optimiser and the jitted training chunk (scan of `config.chunk` Adam steps) for one setting;
    the batch split over `n_devices` devices (`value_and_grad`)."""
    _, static = eqx.partition(init_model(dim, jax.random.key(0), config), eqx.is_inexact_array)
    opt = optimizer(config)
    beta_at = beta_schedule(config)

    def loss_fn(params, key, beta, batch_size=config.batch_size):
        return joint_bound(eqx.combine(params, static), logdensity_fn, key, batch_size, beta)

    value_and_grad = batch_value_and_grad(loss_fn, config.batch_size, n_devices)

    def one_step(carry, inputs):
        params, opt_state, ok = carry
        key, step = inputs
        beta = beta_at(step).astype(config.dtype)
        (loss, se), grads = value_and_grad(params, key, beta)
        finite = jnp.isfinite(loss) & jax.tree.reduce(
            jnp.logical_and, jax.tree.map(lambda g: jnp.all(jnp.isfinite(g)), grads)
        )
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


def batch_value_and_grad(loss_fn: Callable, batch_size: int, n_devices: int = 1) -> Callable:
    """`(params, key, *args) -> ((L, its se), dL/dparams)` of one batch, split over devices if asked.

    `loss_fn(params, key, *args, batch_size) -> (L, se)` (the reverse-KL training's `args` are `(beta,)`, the
    adaptive training's the walkers and the terms' weights). On n devices: the mean of n shares of
    batch_size / n draws (device i's key `fold_in(key, i)`, `args` copied to every device), values and
    gradients averaged, se^2 = mean(se_i^2) / n (the standard error of a mean of n independent means); on one
    device `loss_fn` on the whole batch.

    Parameters
    ----------
    loss_fn
        `(params, key, *args, batch_size) -> (L, se)`.
    batch_size
        The whole batch's size (a multiple of `n_devices`).
    n_devices
        n, the number of devices the batch is split over.

    Returns
    -------
    Callable
        `(params, key, *args) -> ((L, its se), dL/dparams)`.
    """
    if n_devices == 1:
        return lambda params, key, *args: jax.value_and_grad(loss_fn, has_aux=True)(params, key, *args, batch_size)

    def share(key, params, *args):
        (loss, se), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, key, *args, batch_size // n_devices)
        return loss, se**2, grads

    mean = devices.mean_over_devices(share, n_devices)

    def value_and_grad(params, key, *args):
        loss, se2, grads = mean(key, params, *args)
        return (loss, jnp.sqrt(se2 / n_devices)), grads

    return value_and_grad


def _progress(enabled: bool, total: int):
    """A rich progress bar showing the current bound; `update(n, loss)`, `update(None, None)` closes it."""
    if not enabled:
        return lambda n, loss: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("training VAE"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("L = {task.fields[loss]}"),
        TimeElapsedColumn(),
        transient=True,
    )
    task = bar.add_task("", total=total, loss="…")
    bar.start()

    def update(n, loss):
        if n is None:
            bar.stop()
        else:
            bar.update(task, advance=n, loss=f"{loss:.4f}")

    return update
