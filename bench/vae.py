"""The VAE sampler of the seed in the suite: `vae-gibbs`, `vae-imh`, `vae-is`, `vae-hybrid`.

Each run trains a VAE on the target's log density or loads a saved one (`model_path`): `training=reverse`
is the seed's corrected reverse-KL bound (`vaegibbs.fit`), `training=adaptive` fits walkers started in the
target's `initial` box by forward KL, mixed with the bound later (`vaegibbs.adaptive`); the defaults
per target are `TARGET_DEFAULTS`, with `SAMPLER_TARGET_DEFAULTS` on top for one sampler. It then
samples with an exact kernel of `vaegibbs.kernels`. The trained VAE is saved beside the run's record (`<cell>/vae.json`, `vae.eqx`): pass
`--sampler-param model_path=<cell>/vae` to sample with it again. The
training counts as warm-up: its time is `time_warmup` (with the chains' burn-in of `num_warmup`
steps), its gradients (reverse: `batch_size x (train_steps + (restarts - 1) x restart_steps)`; adaptive:
the walkers' MALA moves too) are
`grad_evals_warmup`. `info` adds the bound
`loss` (and its Monte Carlo error) and the importance-weighted bound on `eval_batch` fresh samples,
the ELBO, and log Z_hat, the normalised importance ESS and Pareto k-hat of the sampler's own weights
(vae-imh: `inner` and `temperature`; vae-is: `inner`) or, for vae-gibbs and vae-hybrid, which have none,
of the joint K=0 weights of the VAE (`info["diagnostics_weights"]`: "own" or "joint K=0"); the harness
turns them into the KL bound and |Delta log Z| where log Z is known, and the EUBO on exact draws through
`log_weight_fn`. With `model_path` the run's identity records the loaded model's training settings
(`identity_params`), not the defaults.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import time
from typing import Callable, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from baselines import devices
from baselines.draws import Cost, Draws
from bench.metrics.evidence import pareto_khat
from vaegibbs import io as vae_io
from vaegibbs import kernels
from vaegibbs.compile import aot_compile
from vaegibbs.objective import iw_bound, joint_bound
from vaegibbs.adaptive import Adaptive, fit_adaptive
from vaegibbs.train import TRAIN_DTYPES, Config, fit

TRAINING_STRATEGIES = ("reverse", "adaptive")
_TRAINING_DEFAULTS = dict(training="reverse", train_steps=3000, batch_size=256, learning_rate=3e-3, width=128,
                          depth=3, latent_dim=0, anneal_steps=0, beta_start=1.0, x_scale=1.0, train_dtype="float64",
                          restarts=1, restart_steps=300, walkers=2000, explore_steps=200, rounds=100,
                          reverse_from=50, reverse_weight=0.1, kl_warmup_rounds=25, eval_batch=20000, iw_inner=10,
                          model_path="")
_TRAINING_TYPES = dict(training=Literal[TRAINING_STRATEGIES], train_steps=int, batch_size=int, learning_rate=float,
                       width=int, depth=int, latent_dim=int, anneal_steps=int, beta_start=float, x_scale=float,
                       train_dtype=Literal[TRAIN_DTYPES], restarts=int, restart_steps=int, walkers=int,
                       explore_steps=int, rounds=int, reverse_from=int, reverse_weight=float, kl_warmup_rounds=int,
                       eval_batch=int, iw_inner=int, model_path=str)
_ADAPTIVE_FIELDS = ("walkers", "explore_steps", "rounds", "reverse_from", "reverse_weight", "kl_warmup_rounds")

# Per-target defaults of the VAE samplers, chosen from the measurements in the README ("Training
# strategies", "The VAE sampler against NUTS on the funnel"): reverse-KL training drops modes of the
# multimodal targets; the funnel keeps it, with a 2-d latent, a smaller network trained longer in float32,
# from the better of two initialisations (vaegibbs.fit's restarts: one key in ten stays on a plateau).
TARGET_DEFAULTS = {
    "funnel": {"latent_dim": 2, "width": 64, "depth": 3, "train_dtype": "float32", "restarts": 2, "train_steps": 20000,
               "inner": 8},
    "gmm40": {"training": "adaptive", "train_steps": 10000, "inner": 8},
    "ising": {"training": "adaptive", "train_steps": 10000, "inner": 4},
}
# ... and per sampler on top of them. The Gibbs move is a random walk in z, whose efficiency falls as
# 1 / latent_dim and is at its optimum (jitter 2.38 / sqrt(latent_dim), acceptance 0.35 in 2-d; Gelman,
# Roberts & Gilks 1996) once the bulk is fitted (jitter 1.68 is for the 2-d latent): on the funnel training past 3000 steps costs it time and
# buys no mixing, while the independence samplers' acceptance and importance ESS keep rising with it.
SAMPLER_TARGET_DEFAULTS = {
    "vae-gibbs": {"funnel": {"train_steps": 3000, "jitter": 1.68}},
}


def target_defaults(sampler: str) -> dict[str, dict]:
    """The per-target defaults of one VAE sampler: TARGET_DEFAULTS, then SAMPLER_TARGET_DEFAULTS[sampler]."""
    out = {target: dict(d) for target, d in TARGET_DEFAULTS.items()}
    for target, d in SAMPLER_TARGET_DEFAULTS.get(sampler, {}).items():
        out[target] = {**out.get(target, {}), **d}
    return out


# A target that is not the suite's (a user's, from Python, a spec or a plugin) gets defaults from what it is,
# not from its name: one that declares modes (`Target.modes`) gets the multimodal setting of gmm40 (reverse-KL
# training drops modes); any other gets the generic reverse-KL setting above (_TRAINING_DEFAULTS).
MULTIMODAL_DEFAULTS = {"training": "adaptive", "train_steps": 10000, "inner": 8}


def defaults_for(target) -> dict:
    """The VAE samplers' defaults for a target outside the suite, from what it is: MULTIMODAL_DEFAULTS when it
    declares more than one mode, else none (the generic setting)."""
    modes = getattr(target, "modes", None)
    return dict(MULTIMODAL_DEFAULTS) if modes is not None and modes.count > 1 else {}


def _training_params(fn):
    """Give a run function the training parameters (keyword-only, with defaults) in its signature,
    so the CLI lists and checks them like any other sampler parameter."""
    sig = inspect.signature(fn)
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=_TRAINING_TYPES[n])
             for n, d in _TRAINING_DEFAULTS.items()]
    # where walkers start (the target's `initial`); given by the harness, not a setting
    extra.append(inspect.Parameter("initial_fn", inspect.Parameter.KEYWORD_ONLY, default=None))
    fn.__signature__ = sig.replace(parameters=[p for p in sig.parameters.values()
                                               if p.kind != inspect.Parameter.VAR_KEYWORD] + extra)
    fn.__annotations__ = {**fn.__annotations__, **_TRAINING_TYPES}
    fn.identity_params = identity_params  # bench.run.cell_identity: what a loaded model's run really used
    return fn


# A saved model's Config field -> the training parameter it comes from (vaegibbs.io saves the Config).
_CONFIG_PARAMS = dict(latent_dim="latent_dim", width="width", depth="depth", steps="train_steps",
                      batch_size="batch_size", learning_rate="learning_rate", anneal_steps="anneal_steps",
                      beta_start="beta_start", x_scale="x_scale", dtype="train_dtype", restarts="restarts",
                      restart_steps="restart_steps")


def identity_params(params: dict) -> dict:
    """A run's parameters as used: with `model_path`, the training settings are the loaded model's own
    (its saved Config) instead of the defaults, and those the file does not hold (the training strategy,
    the adaptive settings) are left out: no training ran. Unchanged without `model_path`, or when the file
    cannot be read (the run then fails, naming it)."""
    if not params.get("model_path"):
        return params
    try:
        _, config = vae_io.load(params["model_path"])
    except ValueError:
        return params
    saved = {param: getattr(config, field) for field, param in _CONFIG_PARAMS.items()}
    saved["latent_dim"] = saved["latent_dim"] or 0  # None (the target's dimension) is latent_dim=0 here
    dropped = set(_TRAINING_DEFAULTS) - set(saved) - {"model_path", "eval_batch", "iw_inner"}
    return {k: saved.get(k, v) for k, v in params.items() if k not in dropped}


@_training_params
def vae_gibbs(key, logdensity_fn: Callable, initial_positions, *, num_warmup: int, num_draws: int,
              jitter: float = 0.5, **training) -> Draws:
    """Metropolis-within-Gibbs on (x, z): z ~ P(z|x), x' ~ Q(x|z + jitter eps), exact acceptance."""
    if jitter < 0:
        raise ValueError(f"vae-gibbs: jitter must be >= 0, got {jitter}")
    return _run("gibbs", {"jitter": float(jitter)}, key, logdensity_fn, initial_positions, num_warmup, num_draws,
                **training)


@_training_params
def vae_imh(key, logdensity_fn: Callable, initial_positions, *, num_warmup: int, num_draws: int,
            temperature: float = 1.0, inner: int = 0, **training) -> Draws:
    """Independence Metropolis-Hastings on (x, z) with proposal N(z; 0, temperature^2) Q(x|z) (1: the seed's);
    `inner` = K > 0 encoder draws per proposal give the hierarchical weights w_K (kernels.imh)."""
    return _run("imh", {"temperature": float(temperature), "inner": int(inner)}, key, logdensity_fn,
                initial_positions, num_warmup, num_draws, **training)


@_training_params
def vae_hybrid(key, logdensity_fn: Callable, initial_positions, *, num_warmup: int, num_draws: int,
               step_size: float = 0.1, num_local: int = 5, vae_move: Literal["gibbs", "imh"] = "gibbs",
               jitter: float = 0.5, temperature: float = 1.0, **training) -> Draws:
    """A VAE move (gibbs with `jitter`, or imh with `temperature`) then `num_local` blackjax MALA moves in x
    with a fixed `step_size` (Gabrie, Rotskoff & Vanden-Eijnden 2022)."""
    if not step_size > 0 or num_local < 1:
        raise ValueError(f"vae-hybrid: step_size must be > 0 and num_local >= 1, got {step_size}, {num_local}")
    return _run("hybrid", {"step_size": float(step_size), "num_local": int(num_local), "vae_move": vae_move,
                           "jitter": float(jitter), "temperature": float(temperature)},
                key, logdensity_fn, initial_positions, num_warmup, num_draws, **training)


@_training_params
def vae_is(key, logdensity_fn: Callable, initial_positions, *, num_warmup: int, num_draws: int, inner: int = 0,
           **training) -> Draws:
    """Importance sampling: chains x draws proposals of pi(z) Q(x|z) with their log weights (hierarchical
    weights w_K with `inner` = K > 0 encoder draws per proposal)."""
    return _run("is", {"inner": int(inner)}, key, logdensity_fn, initial_positions, num_warmup, num_draws,
                **training)


def validate(num_warmup: int, num_draws: int, jitter: float = 0.0, step_size: float = 0.1, num_local: int = 5,
             vae_move: str = "gibbs", temperature: float = 1.0, inner: int = 0, **training) -> None:
    """Raise ValueError on bad settings before anything is trained (the CLI calls it)."""
    training = {**_TRAINING_DEFAULTS, **training}
    if num_warmup < 0 or num_draws < 1:
        raise ValueError(f"vae samplers: num_warmup must be >= 0 and num_draws >= 1, got {num_warmup}, {num_draws}")
    if not temperature > 0:
        raise ValueError(f"vae-imh: temperature must be > 0, got {temperature}")
    if inner < 0:
        raise ValueError(f"vae-imh, vae-is: inner (encoder draws per proposal) must be >= 0, got {inner}")
    if not jitter >= 0 or not step_size > 0 or num_local < 1:
        raise ValueError(f"vae samplers: jitter must be >= 0, step_size > 0, num_local >= 1; "
                         f"got {jitter}, {step_size}, {num_local}")
    if training["eval_batch"] < 2 or training["iw_inner"] < 0:
        raise ValueError("vae samplers: eval_batch must be >= 2 and iw_inner >= 0")
    if training["training"] not in TRAINING_STRATEGIES:
        raise ValueError(f"vae samplers: training must be one of {', '.join(TRAINING_STRATEGIES)}, "
                         f"got {training['training']!r}")
    if training["model_path"]:
        vae_io.load(training["model_path"])  # raises ValueError naming the file
    else:
        if training["train_steps"] < 1:  # before Config, whose message calls it `steps`
            raise ValueError(f"vae samplers: train_steps must be >= 1, got {training['train_steps']}")
        if training["restarts"] > 1 and not 0 < training["restart_steps"] < training["train_steps"]:
            raise ValueError(f"vae samplers: with restarts={training['restarts']} restart_steps "
                             f"({training['restart_steps']}) must be in (0, train_steps = {training['train_steps']}); "
                             f"pass restarts=1 or a smaller restart_steps (a target's defaults may set restarts: "
                             f"bench.vae.TARGET_DEFAULTS)")
        config = _config(training, 1)         # Config and Adaptive check their own fields
        if training["training"] == "adaptive":
            adaptive = _adaptive(training)
            if config.steps % adaptive.rounds:
                raise ValueError(f"vae samplers: train_steps ({config.steps}) must be a multiple of rounds "
                                 f"({adaptive.rounds}) with training=adaptive")
            if config.dtype != "float64" or config.restarts != 1:
                raise ValueError(f"vae samplers: training=adaptive trains in float64 only and from one "
                                 f"initialisation, got train_dtype={config.dtype}, restarts={config.restarts}; "
                                 f"pass train_dtype=float64 and restarts=1 with it (a target's defaults for "
                                 f"reverse training may set them: bench.vae.TARGET_DEFAULTS)")


def _config(training: dict, dim: int) -> Config:
    return Config(latent_dim=training["latent_dim"] or None, width=training["width"], depth=training["depth"],
                  steps=training["train_steps"], batch_size=training["batch_size"],
                  learning_rate=training["learning_rate"], anneal_steps=training["anneal_steps"],
                  beta_start=training["beta_start"], x_scale=training["x_scale"], dtype=training["train_dtype"],
                  restarts=training["restarts"], restart_steps=training["restart_steps"])


def _adaptive(training: dict) -> Adaptive:
    return Adaptive(**{k: training[k] for k in _ADAPTIVE_FIELDS})


def _run(kind, kernel_params, key, logdensity_fn, initial_positions, num_warmup, num_draws, initial_fn=None,
         **training) -> Draws:
    training = {**_TRAINING_DEFAULTS, **training}
    initial_positions = jnp.asarray(initial_positions)
    chains, dim = initial_positions.shape
    key_train, key_eval, key_sample = jax.random.split(key, 3)

    if training["model_path"]:
        model, config = vae_io.load(training["model_path"])
        if model.dim != dim:
            raise ValueError(f"{training['model_path']}: the saved sampler has dim {model.dim}, the target {dim}")
        time_compile_train = time_train = 0.0
        train_grads, train_evals, traces, strategy = 0, 0, {}, {"training": "loaded"}
    else:
        config = _config(training, dim)
        key_data = tuple(np.asarray(jax.random.key_data(key_train)).ravel().tolist())
        if training["training"] == "adaptive":
            if initial_fn is None:
                raise ValueError("vae samplers: training=adaptive needs initial_fn (where the walkers start); "
                                 "the suite passes the target's `initial`")
            fitted = _fit_adaptive(logdensity_fn, initial_fn, dim, config, _adaptive(training), key_data)
        else:
            fitted = _fit(logdensity_fn, dim, config, key_data, devices.split(config.batch_size))
        model, time_compile_train, time_train = fitted.model, fitted.time_compile, fitted.time_train
        train_grads, train_evals = fitted.grad_evals, fitted.logdensity_evals
        traces = {"loss": fitted.loss, "loss_se": fitted.loss_se, "beta": fitted.beta, **fitted.traces,
                  **{f"round.{k}": v for k, v in fitted.round_traces.items()}}
        strategy = {"training": fitted.strategy,
                    **{f"{fitted.strategy}.{k}": v for k, v in fitted.strategy_settings.items()}}

    info = {"kind": kind, **kernel_params, **strategy,
            **{f"config.{k}": v for k, v in dataclasses.asdict(config).items()},
            "model_path": training["model_path"], "train_grad_evals": train_grads,
            "train_logdensity_evals": train_evals, "time_train": time_train}
    start = time.perf_counter()
    own = _own_weights(kind, kernel_params)
    info |= _evaluate_bounds(model, logdensity_fn, key_eval, training["eval_batch"], training["iw_inner"], *own)
    # The bounds are diagnostics (like the metrics), not part of the sampler's cost: recorded apart.
    info["time_eval"] = time.perf_counter() - start
    info["eval_logdensity_evals"] = (3 + (own != (0, 1.0))) * training["eval_batch"]
    info["diagnostics_weights"] = "joint K=0" if kind in JOINT_WEIGHT_KINDS else "own"

    info["devices"] = devices.split(chains)   # the chains' blocks, one per device (baselines.devices)
    sample_fn = _sampling_fn(kind, logdensity_fn, tuple(sorted(kernel_params.items())), num_warmup, num_draws,
                             info["devices"])
    args = (model, key_sample, initial_positions)
    start = time.perf_counter()
    compiled, fresh = aot_compile(sample_fn, *args)
    time_compile = time_compile_train + (time.perf_counter() - start if fresh else 0.0)
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    elapsed = time.perf_counter() - start
    # Burn-in and sampling run in one computation: the burn-in share of its time is counted as warm-up.
    # Importance sampling has no burn-in: its arrays hold the kept draws only.
    burn = 0 if kind == "is" else num_warmup
    burn_share = burn / (burn + num_draws)
    positions, logdensity, stats, log_weights, evals, grads = out
    evals, grads = np.asarray(evals), np.asarray(grads)
    grad_burn, grad_sampling = int(grads[:, :burn].sum()), int(grads[:, burn:].sum())
    cost = Cost(logdensity_evals_warmup=train_evals + int(evals[:, :burn].sum()),
                logdensity_evals_sampling=int(evals[:, burn:].sum()),
                grad_evals_warmup=train_grads + grad_burn, grad_evals_sampling=grad_sampling,
                grad_evals_lockstep=train_grads + grad_burn + grad_sampling,
                time_compile=time_compile, time_warmup=time_train + burn_share * elapsed,
                time_sampling=(1 - burn_share) * elapsed)

    def log_weight_fn(key, x):
        z = jax.vmap(model.sample_encoder)(jax.random.split(key, x.shape[0]), x)
        return jax.vmap(model.log_weight, in_axes=(None, 0, 0))(logdensity_fn, x, z)

    return Draws(positions=np.asarray(positions), logdensity=np.asarray(logdensity),
                 stats={k: np.asarray(v) for k, v in stats.items()}, cost=cost, info=info,
                 log_weights=None if log_weights is None else np.asarray(log_weights),
                 log_weight_fn=jax.jit(log_weight_fn), traces=traces,
                 artifacts={"vae": lambda stem: vae_io.save(stem, model, config)})


@functools.lru_cache(maxsize=64)
def _fit(logdensity_fn, dim, config, key_data, n_devices=1):
    """One training per (target, config, key, devices its batch is split over): `vae-gibbs`, `vae-imh`, ... of
    one seed share it. Each run still reports that training's time, gradients and compile time, which it would
    pay alone."""
    return fit(logdensity_fn, dim, jax.random.wrap_key_data(np.asarray(key_data, dtype=np.uint32)), config)


@functools.lru_cache(maxsize=16)
def _fit_adaptive(logdensity_fn, initial_fn, dim, config, adaptive, key_data):
    """One adaptive training per (target, settings, key), shared like `_fit`; walkers from `initial_fn`."""
    key = jax.random.wrap_key_data(np.asarray(key_data, dtype=np.uint32))
    key_walkers, key_fit = jax.random.split(key)
    return fit_adaptive(logdensity_fn, initial_fn(key_walkers, adaptive.walkers), key_fit, config, adaptive)


# Samplers without importance weights of their own: their k-hat, IS ESS and log Z_hat are those of the
# joint K = 0, t = 1 weights of the VAE (a diagnostic of the VAE, not of the chain's moves).
JOINT_WEIGHT_KINDS = ("gibbs", "hybrid")


def _own_weights(kind: str, kernel_params: dict) -> tuple[int, float]:
    """(K, t) of the weights a sampler uses: vae-imh's inner and temperature, vae-is's inner (t = 1);
    (0, 1) for the samplers of JOINT_WEIGHT_KINDS."""
    if kind in JOINT_WEIGHT_KINDS:
        return 0, 1.0
    return int(kernel_params["inner"]), float(kernel_params.get("temperature", 1.0))


def _evaluate_bounds(model, logdensity_fn, key, n, num_inner, weight_inner: int = 0,
                     temperature: float = 1.0) -> dict:
    """On n fresh samples: the bound L (= -ELBO of the joint), the IW bound with `num_inner`, the ELBO of the
    joint K = 0 weights, and log Z_hat, importance ESS and Pareto k-hat of the weights with `weight_inner`
    = K encoder draws per proposal and proposal `temperature` (kernels.importance_sample)."""
    out = _bounds_fn(logdensity_fn, n, num_inner, weight_inner, temperature)(model, key)
    khat = pareto_khat(out.pop("log_weights"))
    return {k: float(v) for k, v in out.items()} | {"pareto_khat": khat, "eval_batch": int(n)}


@functools.lru_cache(maxsize=16)
def _bounds_fn(logdensity_fn, n, num_inner, weight_inner, temperature):
    """jit(model, key) -> the bounds; compiled once per (target, batch, K of the IW bound, K and t of the
    weights)."""

    @eqx.filter_jit
    def bounds(model, key):
        k1, k2, k3 = jax.random.split(key, 3)
        loss, loss_se = joint_bound(model, logdensity_fn, k1, n)
        iw, iw_se = iw_bound(model, logdensity_fn, k2, n, num_inner)
        log_w0 = kernels.importance_sample(model, logdensity_fn, k3, n).log_weights
        log_w = log_w0 if (weight_inner, temperature) == (0, 1.0) else kernels.importance_sample(
            model, logdensity_fn, k3, n, weight_inner, temperature).log_weights
        return {"loss": loss, "loss_se": loss_se, "iw_bound": iw, "iw_bound_se": iw_se,
                "elbo": jnp.mean(log_w0), "elbo_se": jnp.std(log_w0) / np.sqrt(n),
                "log_Z_hat": kernels.log_Z_hat(log_w), "importance_ess": kernels.importance_ess(log_w),
                "log_weights": log_w}

    return bounds


@functools.lru_cache(maxsize=32)
def _sampling_fn(kind, logdensity_fn, kernel_params, num_warmup, num_draws, n_devices=1):
    """jit(model, key, initial_positions) -> draws of one kernel, chains on `n_devices` devices; built once
    per configuration."""
    params = dict(kernel_params)

    def run(model, key, initial_positions):
        chains = initial_positions.shape[0]
        if kind == "is":
            s = kernels.importance_sample(model, logdensity_fn, key, chains * num_draws, params["inner"],
                                          n_devices=n_devices)
            shape = (chains, num_draws)
            ones = jnp.ones(shape, int)
            return (s.positions.reshape(*shape, -1), s.logdensity.reshape(shape), {},
                    s.log_weights.reshape(shape), ones, jnp.zeros(shape, int))
        algorithm = {"gibbs": lambda: kernels.gibbs(model, logdensity_fn, params["jitter"]),
                     "imh": lambda: kernels.imh(model, logdensity_fn, params["temperature"], params["inner"]),
                     "hybrid": lambda: kernels.hybrid(model, logdensity_fn, params["step_size"], params["num_local"],
                                                      params["vae_move"], params["jitter"],
                                                      params["temperature"])}[kind]()
        # imh: its proposals drawn in batches (run_chains's chains up to rounding, without a loop's per-step cost)
        runner = kernels.run_independent_chains if kind == "imh" else kernels.run_chains
        _, (states, infos) = runner(algorithm, key, initial_positions, num_warmup + num_draws, n_devices=n_devices)
        kept = slice(num_warmup, None)
        stats = {"acceptance_rate": infos.acceptance_rate[:, kept], "accepted": infos.is_accepted[:, kept]}
        if kind == "hybrid":
            stats["local_acceptance_rate"] = infos.local_acceptance_rate[:, kept]
        return (states.position[:, kept], states.logdensity[:, kept], stats, None, infos.logdensity_evals,
                infos.grad_evals)

    return eqx.filter_jit(run)
