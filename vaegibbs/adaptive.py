"""Adaptive training from walkers (Gabrie, Rotskoff & Vanden-Eijnden 2022; flowMC): mass-covering.

Reverse-KL training alone is mode-seeking: a VAE trained on the reverse-KL bound alone from scratch drops modes
it never proposes. Here a population of walkers, started broadly (the target's `initial` box),
finds the modes first and the VAE is fitted to them by maximum likelihood (forward KL):

1. explore: `explore_steps` MALA steps of every walker, each walker adapting its own step size
   towards acceptance `target_acceptance` (one shared step size settles where the narrowest region
   needs it and freezes the others);
2. `rounds` rounds, each of `steps / rounds` Adam steps on

       loss = F_kl + w_rev * L,   F_kl = E_{x ~ walkers, z ~ P(z|x)}[ -log Q(x|z) ] + kl * E_x[ KL(P(.|x) || pi) ]

   (F_1 is the ordinary VAE negative ELBO; `kl` rises from `kl_start` to 1 over `kl_warmup_rounds`,
   without which the decoder learns to ignore z and covers the modes with one broad Gaussian;
   w_rev = 0 before round `reverse_from`, then `reverse_weight`; L is the reverse-KL bound,
   objective.joint_bound), followed by `global_moves` VAE independence moves and `local_moves`
   MALA moves of every walker (the walkers equilibrate between the modes the VAE proposes).

The walkers only feed training: the trained VAE is then used by the exact kernels, whose draws stay
exact whatever the walkers were. The network inputs are standardised by the walkers' mean and sd
after exploration. `Fitted.loss` is this objective at each step; the bound L itself is monitored on
`eval_batch` fresh samples after each round (`Fitted.round_traces["bound"]`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import NamedTuple

import blackjax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from blackjax.mcmc.mala import MALAState

from vaegibbs import kernels
from vaegibbs.compile import aot_compile
from vaegibbs.model import VAE
from vaegibbs.objective import joint_terms
from vaegibbs.train import Config, Fitted, TrainingDiverged, _progress, batch_value_and_grad, init_model, optimizer


@dataclasses.dataclass(frozen=True)
class Adaptive:
    """Settings of the walker-based training (saved with the sampler; the networks' are in Config).

    Raises
    ------
    ValueError
        When a count is out of range, `kl_start` is not in (0, 1], `target_acceptance` not in (0, 1),
        `kl_warmup_rounds` or `reverse_from` exceeds `rounds`, or a weight or rate is negative.
    """

    walkers: int = 2000
    explore_steps: int = 200
    rounds: int = 100  # Config.steps Adam steps in all, split evenly over the rounds
    global_moves: int = 2  # VAE independence moves of every walker per round
    local_moves: int = 5  # MALA moves of every walker per round
    kl_start: float = 0.2  # weight of the KL term at round 0 ...
    kl_warmup_rounds: int = 25  # ... rising linearly to 1 over this many rounds
    reverse_from: int = 50  # first round whose loss adds the reverse bound ...
    reverse_weight: float = 0.1  # ... with this weight
    target_acceptance: float = 0.574
    step_size: float = 0.1  # walkers' initial MALA step size (then each adapts its own)
    adapt_rate: float = 0.5  # log step size += adapt_rate * (acceptance - target_acceptance)
    eval_batch: int = 2048  # samples of the bound L monitored after every round

    def __post_init__(self):
        for name in ("walkers", "rounds", "eval_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"vaegibbs Adaptive: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("explore_steps", "global_moves", "local_moves", "kl_warmup_rounds", "reverse_from"):
            if getattr(self, name) < 0:
                raise ValueError(f"vaegibbs Adaptive: {name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.kl_start <= 1 or not 0 < self.target_acceptance < 1:
            raise ValueError(
                f"vaegibbs Adaptive: kl_start must be in (0, 1] and target_acceptance in (0, 1), "
                f"got {self.kl_start}, {self.target_acceptance}"
            )
        if self.kl_warmup_rounds > self.rounds or self.reverse_from > self.rounds:
            raise ValueError(
                f"vaegibbs Adaptive: kl_warmup_rounds ({self.kl_warmup_rounds}) and reverse_from "
                f"({self.reverse_from}) must be <= rounds ({self.rounds}), or the KL weight never "
                "reaches 1 / the reverse bound is never used"
            )
        if not self.reverse_weight >= 0 or not self.step_size > 0 or not self.adapt_rate >= 0:
            raise ValueError(
                f"vaegibbs Adaptive: reverse_weight and adapt_rate must be >= 0, step_size > 0; got "
                f"{self.reverse_weight}, {self.adapt_rate}, {self.step_size}"
            )

    def kl_weight(self, r: int) -> float:
        if self.kl_warmup_rounds == 0:
            return 1.0
        return min(1.0, self.kl_start + (1.0 - self.kl_start) * r / self.kl_warmup_rounds)

    def reverse(self, r: int) -> float:
        return self.reverse_weight if r >= self.reverse_from else 0.0


def std_normal_kl(mean, log_scale):
    """KL( N(mean, diag(exp(log_scale))^2) || N(0, I) ) = 1/2 sum_j (m_j^2 + s_j^2 - 1 - 2 log s_j).

    Parameters
    ----------
    mean
        The Gaussian's mean m, the dimension on the last axis.
    log_scale
        log s, the log of its standard deviation per coordinate.

    Returns
    -------
    jax.Array
        The KL divergence, summed over the last axis.
    """
    return 0.5 * jnp.sum(mean**2 + jnp.exp(2 * log_scale) - 1.0 - 2 * log_scale, axis=-1)


def forward_terms(model: VAE, x, key, kl_weight=1.0):
    """Per-walker terms `-log Q(x|z) + kl_weight * KL(P(.|x) || pi)`, z ~ P(z|x) reparameterised.

    Their mean with kl_weight = 1 is the VAE's negative ELBO, >= -log q(x) averaged over the walkers.

    Parameters
    ----------
    model
        The VAE.
    x
        The walkers' positions, shape (walkers, dim).
    key
        The JAX random key of the encoder draws.
    kl_weight
        The weight of the KL term.

    Returns
    -------
    jax.Array
        One term per walker.
    """
    mean, log_scale = jax.vmap(model.encode)(x)
    z = mean + jnp.exp(log_scale) * jax.random.normal(key, mean.shape, mean.dtype)
    return -jax.vmap(model.log_decoder)(x, z) + kl_weight * std_normal_kl(mean, log_scale)


class Walkers(NamedTuple):
    mala: MALAState  # position, logdensity, logdensity_grad of every walker
    log_step_size: jax.Array  # (walkers,) each walker's own MALA step size


def _mala_sweep(logdensity_fn: Callable, walkers: Walkers, key, num_steps: int, target_acceptance, adapt_rate):
    """`num_steps` MALA moves of every walker, each with its own step size adapted by Robbins-Monro."""
    kernel = jax.vmap(blackjax.mala.build_kernel(), in_axes=(0, 0, None, 0))

    def body(w, k):
        state, info = kernel(
            jax.random.split(k, w.log_step_size.shape[0]), w.mala, logdensity_fn, jnp.exp(w.log_step_size)
        )
        rate = jnp.where(jnp.isfinite(info.acceptance_rate), info.acceptance_rate, 0.0)
        return Walkers(state, w.log_step_size + adapt_rate * (rate - target_acceptance)), rate

    walkers, rates = jax.lax.scan(body, walkers, jax.random.split(key, num_steps))
    return walkers, rates.mean()


def _global_moves(model: VAE, logdensity_fn: Callable, walkers: Walkers, key, num_moves: int):
    """`num_moves` VAE independence moves of every walker (z refreshed from P(z|x) first), then the
    walkers' MALA states rebuilt at their new positions (one gradient each)."""
    n = walkers.log_step_size.shape[0]
    key_z, key_moves = jax.random.split(key)
    x, lp = walkers.mala.position, walkers.mala.logdensity
    z = jax.vmap(model.sample_encoder)(jax.random.split(key_z, n), x)
    state = kernels.IMHState(x, z, lp, jax.vmap(kernels.imh_log_weight(model))(x, z, lp))
    step = jax.vmap(kernels.imh(model, logdensity_fn).step)

    def body(s, k):
        s, info = step(jax.random.split(k, n), s)
        return s, info.acceptance_rate

    state, rates = jax.lax.scan(body, state, jax.random.split(key_moves, num_moves))
    mala = jax.vmap(blackjax.mala.init, in_axes=(0, None))(state.position, logdensity_fn)
    return Walkers(mala, walkers.log_step_size), rates.mean()


def check(config: Config, adaptive: Adaptive) -> None:
    """Raise ValueError unless `config` suits adaptive training with `adaptive`.

    It must be float64, one initialisation, `steps` a multiple of `rounds` (what `fit_adaptive` needs beyond
    the two dataclasses' own checks).

    Parameters
    ----------
    config
        The networks' and optimiser's settings.
    adaptive
        The walker-based training's settings.

    Raises
    ------
    ValueError
        When `config.dtype` is not float64, `config.restarts` is not 1, or `config.steps` is not a multiple of
        `adaptive.rounds`.
    """
    if config.dtype != "float64" or config.restarts != 1:
        raise ValueError(
            f"fit_adaptive: trains in float64 only (its walkers' MALA moves are part of it) and from "
            f"one initialisation; got Config.dtype={config.dtype!r}, Config.restarts={config.restarts}"
        )
    if config.steps % adaptive.rounds:
        raise ValueError(
            f"fit_adaptive: Config.steps ({config.steps}) must be a multiple of rounds ({adaptive.rounds})"
        )


def fit_adaptive(
    logdensity_fn: Callable,
    initial_walkers,
    key,
    config: Config = Config(steps=20000),
    adaptive: Adaptive = Adaptive(),
    progress: bool = False,
    n_devices: int = 1,
) -> Fitted:
    """Train a VAE sampler for `exp(logdensity_fn)` from walkers started at `initial_walkers`.

    See the module docstring. `config` holds the networks and the optimiser (its `steps` Adam steps are split
    over `adaptive.rounds`); annealing settings of `config` are unused. Every evaluation of log mu~ is counted,
    the monitoring of the bound included (it runs inside the timed rounds). `config.x_loc` and `config.x_scale`
    are replaced by the walkers' mean and sd.

    With `n_devices` > 1 each Adam step's batch (the walkers drawn and the reverse bound's draws) is split
    in `n_devices` equal shares over the first `n_devices` devices, values and gradients averaged
    (`vaegibbs.train.batch_value_and_grad`; recorded as `strategy_settings["devices"]`); the walkers' MALA
    and VAE moves and the monitored bound stay on one device. One device is the unsplit step.

    Parameters
    ----------
    logdensity_fn
        The target's unnormalised log density log mu~ of one point (differentiable).
    initial_walkers
        The walkers' starting positions, shape (adaptive.walkers, dim).
    key
        The JAX random key of the training.
    config
        The networks and the optimiser (float64, one restart, `steps` a multiple of `adaptive.rounds`).
    adaptive
        The walker-based training's settings.
    progress
        Whether to show a progress bar.
    n_devices
        The number of devices each Adam step's batch is split over (it must divide `config.batch_size`).

    Returns
    -------
    Fitted
        Its `loss` is the training objective at each step, its `traces` the weights of the KL term and of the
        reverse bound, and its `round_traces` per round the bound L (on `eval_batch` fresh samples, with its
        standard error) and the walkers' MALA and VAE acceptance.

    Raises
    ------
    ValueError
        When `initial_walkers` has the wrong shape, `config` does not suit adaptive training (`check`), or
        `n_devices` is not an integer in [1, visible devices] dividing `config.batch_size`.
    TrainingDiverged
        When a training step's loss or gradient is not finite.
    """
    walkers0 = jnp.asarray(initial_walkers, dtype=float)
    if walkers0.ndim != 2 or walkers0.shape[0] != adaptive.walkers:
        raise ValueError(
            f"fit_adaptive: initial_walkers must have shape ({adaptive.walkers}, dim), got {walkers0.shape}"
        )
    check(config, adaptive)
    visible = jax.device_count()
    if (
        not isinstance(n_devices, int)
        or isinstance(n_devices, bool)
        or not 1 <= n_devices <= visible
        or config.batch_size % n_devices
    ):
        raise ValueError(
            f"fit_adaptive: n_devices must be an integer in [1, {visible}] (the devices visible) that "
            f"divides Config.batch_size ({config.batch_size}), got {n_devices!r}"
        )
    dim = walkers0.shape[1]
    key_init, key_explore, key_rounds = jax.random.split(key, 3)
    explore, rounds_fn = _programs(logdensity_fn, dim, config, adaptive, n_devices)

    start = time.perf_counter()
    explore_c, fresh_e = aot_compile(explore, walkers0, key_explore)
    time_compile = time.perf_counter() - start if fresh_e else 0.0
    start_train = time.perf_counter()
    walkers, explore_rate = jax.block_until_ready(explore_c(walkers0, key_explore))
    time_train = time.perf_counter() - start_train

    x = walkers.mala.position
    finite = jnp.all(jnp.isfinite(x), axis=-1)
    loc = jnp.mean(x, axis=0, where=finite[:, None])
    scale = jnp.maximum(jnp.std(x, axis=0, where=finite[:, None]), 1e-3)
    model = init_model(dim, key_init, dataclasses.replace(config, x_loc=0.0, x_scale=1.0))
    model = eqx.tree_at(lambda m: (m.x_loc, m.x_log_scale), model, (loc, jnp.log(scale)))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt = optimizer(config)
    opt_state = opt.init(params)
    per_round = config.steps // adaptive.rounds
    round_keys = jax.random.split(key_rounds, adaptive.rounds)

    history, per_round_out = [], []
    bar = _progress(progress, config.steps)
    try:
        for r in range(adaptive.rounds):
            fn = rounds_fn[adaptive.reverse(r) > 0]
            args = (
                params,
                opt_state,
                walkers,
                round_keys[r],
                jnp.asarray(adaptive.kl_weight(r), float),
                jnp.asarray(adaptive.reverse(r), float),
            )
            start = time.perf_counter()
            compiled, fresh = aot_compile(fn, *args)
            if fresh:
                time_compile += time.perf_counter() - start
            start = time.perf_counter()
            params, opt_state, walkers, out, bound, rates = compiled(*args)
            loss, loss_se, finite = (np.asarray(o) for o in out)
            time_train += time.perf_counter() - start
            bad = np.flatnonzero(~finite)
            if bad.size:
                raise TrainingDiverged(
                    f"vaegibbs.fit_adaptive: non-finite loss or gradient (loss {loss[bad[0]]}) "
                    f"at training step {r * per_round + int(bad[0])} (round {r}); "
                    "no parameters returned"
                )
            history.append(
                (loss, loss_se, np.full(per_round, adaptive.kl_weight(r)), np.full(per_round, adaptive.reverse(r)))
            )
            per_round_out.append([float(v) for v in (*bound, *rates)])
            bar(per_round, float(loss[-50:].mean()))
    finally:
        bar(None, None)
    loss, loss_se, kl_w, rev_w = (np.concatenate(h) for h in zip(*history))
    bound, bound_se, mala_rate, vae_rate = np.asarray(per_round_out).T
    n, rounds = adaptive.walkers, adaptive.rounds
    reverse_steps = int((rev_w > 0).sum())
    # MALA: value and gradient at the walkers' start, after each move, and again after the VAE moves
    mala_grads = n * (1 + adaptive.explore_steps + rounds * adaptive.local_moves)
    rebuild_grads = n * rounds if adaptive.global_moves else 0
    monitor = adaptive.eval_batch * rounds  # the bound L monitored after each round
    settings = dataclasses.asdict(adaptive) | {"explore_mala_acceptance": float(explore_rate)}
    if n_devices > 1:
        settings["devices"] = n_devices
    return Fitted(
        eqx.combine(params, static),
        config,
        loss,
        loss_se,
        np.ones(config.steps),
        time_compile,
        time_train,
        grad_evals=config.batch_size * reverse_steps + mala_grads + rebuild_grads,
        logdensity_evals=config.batch_size * reverse_steps
        + mala_grads
        + rebuild_grads
        + n * rounds * adaptive.global_moves
        + monitor,
        traces={"kl_weight": kl_w, "reverse_weight": rev_w},
        round_traces={
            "bound": bound,
            "bound_se": bound_se,
            "walker_mala_acceptance": mala_rate,
            "walker_vae_acceptance": vae_rate,
        },
        strategy="adaptive",
        strategy_settings=settings,
    )


def step_value_and_grad(
    static, logdensity_fn: Callable, batch_size: int, reverse: bool, n_devices: int = 1
) -> Callable:
    """The value and gradient of one adaptive training step's objective, with its standard error.

    `(params, key, positions, kl_weight, reverse_weight) -> ((objective, its se), gradient)`: `batch_size`
    walkers drawn with replacement from `positions` (forward terms) plus, if `reverse`, `reverse_weight` x the
    reverse bound on `batch_size` fresh draws; the two estimates are independent, so
    se^2 = var(forward) / b + reverse_weight^2 var(reverse) / b. On `n_devices` devices each draws its share
    of both batches (`vaegibbs.train.batch_value_and_grad`, the reverse-KL training's split).

    Parameters
    ----------
    static
        The non-trainable part of the model (`eqx.partition`), combined with `params` at each call.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point.
    batch_size
        b, the number of walkers drawn and of the reverse bound's draws per step.
    reverse
        Whether the objective adds the reverse bound.
    n_devices
        The number of devices the batches are split over.

    Returns
    -------
    Callable
        `(params, key, positions, kl_weight, reverse_weight) -> ((objective, its se), gradient)`.
    """

    def loss_fn(params, key, positions, kl_weight, reverse_weight, batch_size):
        model = eqx.combine(params, static)
        key_idx, key_loss = jax.random.split(key)
        x = positions[jax.random.randint(key_idx, (batch_size,), 0, positions.shape[0])]
        key_f, key_r = jax.random.split(key_loss)
        fwd = forward_terms(model, x, key_f, kl_weight)
        var = fwd.var() / batch_size
        total = fwd.mean()
        if reverse:
            rev = joint_terms(model, logdensity_fn, key_r, batch_size)
            total = total + reverse_weight * rev.mean()
            var = var + reverse_weight**2 * rev.var() / batch_size
        return total, jnp.sqrt(var)

    return batch_value_and_grad(loss_fn, batch_size, n_devices)


@functools.lru_cache(maxsize=16)
def _programs(logdensity_fn: Callable, dim: int, config: Config, adaptive: Adaptive, n_devices: int = 1):
    """jit(exploration) and jit(one round) without / with the reverse bound's gradient, each step's batch split
    over `n_devices` devices (`step_value_and_grad`); built once per setting."""
    _, static = eqx.partition(init_model(dim, jax.random.key(0), config), eqx.is_inexact_array)
    opt = optimizer(config)
    per_round = config.steps // adaptive.rounds

    @jax.jit
    def explore(positions, key):
        mala = jax.vmap(blackjax.mala.init, in_axes=(0, None))(positions, logdensity_fn)
        walkers = Walkers(mala, jnp.full(positions.shape[0], jnp.log(adaptive.step_size)))
        return _mala_sweep(
            logdensity_fn, walkers, key, adaptive.explore_steps, adaptive.target_acceptance, adaptive.adapt_rate
        )

    def make_round(reverse: bool):
        value_and_grad = step_value_and_grad(static, logdensity_fn, config.batch_size, reverse, n_devices)

        @jax.jit
        def one_round(params, opt_state, walkers, key, kl_weight, reverse_weight):
            positions = walkers.mala.position

            def one_step(carry, key):
                params, opt_state, ok = carry
                (total, total_se), grads = value_and_grad(params, key, positions, kl_weight, reverse_weight)
                finite = jnp.isfinite(total) & jax.tree.reduce(
                    jnp.logical_and, jax.tree.map(lambda g: jnp.all(jnp.isfinite(g)), grads)
                )
                updates, new_opt_state = opt.update(grads, opt_state, params)
                apply = ok & finite
                params = jax.tree.map(
                    lambda new, old: jnp.where(apply, new, old), optax.apply_updates(params, updates), params
                )
                opt_state = jax.tree.map(lambda new, old: jnp.where(apply, new, old), new_opt_state, opt_state)
                return (params, opt_state, apply), (total, total_se, finite)

            key_train, key_bound, key_global, key_local = jax.random.split(key, 4)
            (params, opt_state, _), out = jax.lax.scan(
                one_step, (params, opt_state, jnp.array(True)), jax.random.split(key_train, per_round)
            )
            model = eqx.combine(params, static)
            bound = joint_terms(model, logdensity_fn, key_bound, adaptive.eval_batch)  # monitored once a round
            bound = (bound.mean(), bound.std() / jnp.sqrt(adaptive.eval_batch))
            vae_rate = mala_rate = jnp.full((), jnp.nan)
            if adaptive.global_moves:
                walkers, vae_rate = _global_moves(model, logdensity_fn, walkers, key_global, adaptive.global_moves)
            if adaptive.local_moves:
                walkers, mala_rate = _mala_sweep(
                    logdensity_fn,
                    walkers,
                    key_local,
                    adaptive.local_moves,
                    adaptive.target_acceptance,
                    adaptive.adapt_rate,
                )
            return params, opt_state, walkers, out, bound, (mala_rate, vae_rate)

        return one_round

    return explore, {False: make_round(False), True: make_round(True)}
