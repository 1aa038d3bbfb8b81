"""The VAE-Gibbs sampler in the suite: `vae-gibbs`, `vae-imh`, `vae-is`, `vae-hybrid`.

Each run trains a VAE on the target's log density or loads a saved one (`model_path`): `training=reverse`
is the corrected reverse-KL bound (`vaegibbs.fit`), `training=adaptive` fits walkers started in the
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

The parameters are read off dataclasses, one default each: the networks' and optimiser's `vaegibbs.Config`, the
walkers' `vaegibbs.adaptive.Adaptive`, the suite's `RunSettings` (strategy, bounds, saved model) and the kernel's
`Moves` (whose defaults are those of `vaegibbs.kernels`); a field is the parameter of its name unless `RENAMED`
says otherwise. They are checked once per setting (`settings`), by the dataclasses' own checks.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import time
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from baselines import devices
from baselines.draws import Cost, Draws
from bench.metrics.evidence import pareto_khat
from vaegibbs import io as vae_io, kernels
from vaegibbs.adaptive import Adaptive, check as check_adaptive, fit_adaptive
from vaegibbs.compile import aot_compile
from vaegibbs.objective import iw_bound, joint_bound
from vaegibbs.train import Config, fit

TRAINING_STRATEGIES = ("reverse", "adaptive")


def _kernel_default(kernel: Callable, name: str):
    """The default of keyword `name` of a kernel of vaegibbs.kernels (the one default of that setting)."""
    return inspect.signature(kernel).parameters[name].default


@dataclasses.dataclass(frozen=True)
class Moves:
    """The kernels' settings; their defaults are the kernels' own (vaegibbs.kernels).

    Each sampler takes those its kernel uses (`MOVES`).

    Raises
    ------
    ValueError
        When jitter < 0, temperature <= 0, inner < 0, step_size <= 0, num_local < 1 or vae_move is not one of
        `vaegibbs.kernels.VAE_MOVES`.
    """

    jitter: float = _kernel_default(kernels.gibbs, "jitter")  # sd of the Gibbs move's latent perturbation
    temperature: float = _kernel_default(kernels.imh, "temperature")  # sd of the IMH proposal's latent N(0, t^2)
    inner: int = _kernel_default(kernels.imh, "num_inner")  # K encoder draws per proposal (weights w_K)
    step_size: float = _kernel_default(kernels.hybrid, "step_size")  # the hybrid's MALA step size (fixed)
    num_local: int = _kernel_default(kernels.hybrid, "num_local")  # MALA moves after each VAE move
    vae_move: Literal[kernels.VAE_MOVES] = _kernel_default(kernels.hybrid, "vae_move")

    def __post_init__(self):
        if not self.jitter >= 0:
            raise ValueError(f"vae samplers: jitter must be >= 0, got {self.jitter}")
        if not self.temperature > 0:
            raise ValueError(f"vae samplers: temperature must be > 0, got {self.temperature}")
        if self.inner < 0:
            raise ValueError(f"vae samplers: inner (encoder draws per proposal) must be >= 0, got {self.inner}")
        if not self.step_size > 0 or self.num_local < 1:
            raise ValueError(
                f"vae samplers: step_size must be > 0 and num_local >= 1, got {self.step_size}, {self.num_local}"
            )
        if self.vae_move not in kernels.VAE_MOVES:
            raise ValueError(
                f"vae samplers: vae_move must be one of {', '.join(kernels.VAE_MOVES)}, got {self.vae_move!r}"
            )


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The suite's settings of a VAE run besides the networks', the walkers' and the kernels'.

    The networks' are `vaegibbs.Config`, the walkers' `vaegibbs.adaptive.Adaptive`, the kernels' `Moves`.

    Raises
    ------
    ValueError
        When training is not one of TRAINING_STRATEGIES, eval_batch < 2 or iw_inner < 0.
    """

    training: Literal[TRAINING_STRATEGIES] = "reverse"  # reverse: vaegibbs.fit; adaptive: vaegibbs.adaptive
    eval_batch: int = 20000  # fresh samples of the VAE for the bounds, log Z_hat and the weights' diagnostics
    iw_inner: int = 10  # K of the importance-weighted bound
    model_path: str = ""  # sample with a saved VAE (vaegibbs.io) instead of training one

    def __post_init__(self):
        if self.training not in TRAINING_STRATEGIES:
            raise ValueError(
                f"vae samplers: training must be one of {', '.join(TRAINING_STRATEGIES)}, got {self.training!r}"
            )
        if self.eval_batch < 2 or self.iw_inner < 0:
            raise ValueError(
                f"vae samplers: eval_batch must be >= 2 and iw_inner >= 0, got {self.eval_batch}, {self.iw_inner}"
            )


# A field whose sampler parameter has another name: one the samplers already use for something else (vae-hybrid's
# step_size, the bounds' eval_batch), or the name the suite has always given it. Every other field's parameter is
# the field itself, so that a new field of Config or Adaptive is a new parameter of every VAE sampler.
RENAMED = {
    (Config, "steps"): "train_steps",
    (Config, "dtype"): "train_dtype",
    (Adaptive, "step_size"): "walker_step_size",
    (Adaptive, "eval_batch"): "monitor_batch",
}


class Param(NamedTuple):
    """A sampler parameter and the dataclass field it sets."""

    name: str
    owner: type  # Moves, RunSettings, Config or Adaptive
    field: str
    annotation: Any  # int for a field `int | None = None`, whose parameter is 0 for None
    default: Any


def _params_of(cls: type) -> tuple[Param, ...]:
    """Every field of dataclass `cls` as a sampler parameter: its name (RENAMED), type and default."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        kind, default = hints[f.name], f.default
        if default is None:  # `int | None = None`: an int parameter, 0 standing for None
            kind, default = [a for a in typing.get_args(kind) if a is not type(None)][0], 0
        name = next((RENAMED[c, f.name] for c in cls.__mro__ if (c, f.name) in RENAMED), f.name)
        out.append(Param(name, cls, f.name, kind, default))
    return tuple(out)


KERNEL_PARAMS = {p.name: p for p in _params_of(Moves)}
TRAINING_PARAMS = {p.name: p for p in (*_params_of(RunSettings), *_params_of(Config), *_params_of(Adaptive))}
MOVES = {
    "gibbs": ("jitter",),
    "imh": ("temperature", "inner"),
    "is": ("inner",),
    "hybrid": ("step_size", "num_local", "vae_move", "jitter", "temperature"),
}  # each kernel's Moves
if len(TRAINING_PARAMS) + len(KERNEL_PARAMS) != len({*TRAINING_PARAMS, *KERNEL_PARAMS}) or len(TRAINING_PARAMS) != sum(
    len(dataclasses.fields(c)) for c in (RunSettings, Config, Adaptive)
):
    raise TypeError("bench.vae: two dataclass fields have one parameter name; add one of them to RENAMED")

# The parameters that every VAE cell's identity has held since the ids were first written. A parameter added
# since (e.g. a new field of Config) is in a cell's identity only when set away from its default, so that adding
# one keeps the id of every existing cell (as bench.record.identity does with `devices`).
IDENTITY_ALWAYS = frozenset(
    {
        "jitter",
        "temperature",
        "inner",
        "step_size",
        "num_local",
        "vae_move",
        "training",
        "train_steps",
        "batch_size",
        "learning_rate",
        "width",
        "depth",
        "latent_dim",
        "anneal_steps",
        "beta_start",
        "x_scale",
        "train_dtype",
        "restarts",
        "restart_steps",
        "walkers",
        "explore_steps",
        "rounds",
        "reverse_from",
        "reverse_weight",
        "kl_warmup_rounds",
        "eval_batch",
        "iw_inner",
        "model_path",
    }
)

# Per-target defaults of the VAE samplers, overlaid on the dataclasses' defaults (bench.samplers.Sampler.params_for),
# chosen from the measurements in docs/experiments.md ("Training strategies", "The VAE sampler against NUTS on the
# funnel"): reverse-KL training drops modes of the multimodal targets; the funnel keeps it, with a 2-d latent, a
# smaller network trained longer in float32, from the better of two initialisations (vaegibbs.fit's restarts: one
# key in ten stays on a plateau).
TARGET_DEFAULTS = {
    "funnel": {
        "latent_dim": 2,
        "width": 64,
        "depth": 3,
        "train_dtype": "float32",
        "restarts": 2,
        "train_steps": 20000,
        "inner": 8,
    },
    "gmm40": {"training": "adaptive", "train_steps": 10000, "inner": 8},
    "ising": {"training": "adaptive", "train_steps": 10000, "inner": 4},
}
# ... and per sampler on top of them. The Gibbs move is a random walk in z, whose efficiency falls as
# 1 / latent_dim and is at its optimum (jitter 2.38 / sqrt(latent_dim), acceptance 0.35 in 2-d; Gelman,
# Roberts & Gilks 1996) once the bulk is fitted (jitter 1.68 is for the 2-d latent): on the funnel training past
# 3000 steps costs it time and buys no mixing, while the independence samplers' acceptance and importance ESS keep
# rising with it.
SAMPLER_TARGET_DEFAULTS = {
    "vae-gibbs": {"funnel": {"train_steps": 3000, "jitter": 1.68}},
}


def target_defaults(sampler: str) -> dict[str, dict]:
    """The per-target defaults of one VAE sampler: TARGET_DEFAULTS, then SAMPLER_TARGET_DEFAULTS[sampler].

    Parameters
    ----------
    sampler
        The sampler's name, e.g. "vae-gibbs".

    Returns
    -------
    dict of str to dict
        Target name -> parameter defaults.
    """
    out = {target: dict(d) for target, d in TARGET_DEFAULTS.items()}
    for target, d in SAMPLER_TARGET_DEFAULTS.get(sampler, {}).items():
        out[target] = {**out.get(target, {}), **d}
    return out


# A target that is not the suite's (a user's, from Python, a spec or a plugin) gets defaults from what it is,
# not from its name: one that declares modes (`Target.modes`) gets the multimodal setting of gmm40 (reverse-KL
# training drops modes); any other gets the generic reverse-KL setting (the dataclasses' defaults).
MULTIMODAL_DEFAULTS = {"training": "adaptive", "train_steps": 10000, "inner": 8}


def defaults_for(target) -> dict:
    """The VAE samplers' defaults for a target outside the suite, from what it is.

    Parameters
    ----------
    target
        The target.

    Returns
    -------
    dict
        MULTIMODAL_DEFAULTS when it declares more than one mode, else {} (the generic setting).
    """
    modes = getattr(target, "modes", None)
    return dict(MULTIMODAL_DEFAULTS) if modes is not None and modes.count > 1 else {}


class Settings(NamedTuple):
    """A VAE run's settings, checked: its kernel's, the suite's, the networks' and the walkers'."""

    moves: Moves
    run: RunSettings
    config: Config | None  # None with model_path (the saved model's Config is used)
    adaptive: Adaptive | None  # with training=adaptive only


def settings(kind: str, params: Mapping[str, Any]) -> Settings:
    """The settings of a run of kernel `kind` with `params`, checked once per distinct setting.

    `params` are sampler parameters, the others at their defaults; `validate`, then the run, reuse the check.

    Parameters
    ----------
    kind
        The kernel: a key of MOVES ("gibbs", "imh", "is", "hybrid").
    params
        The sampler parameters given.

    Returns
    -------
    Settings
        The checked settings (`config` None with `model_path`; `adaptive` only with training=adaptive).

    Raises
    ------
    ValueError
        Naming the parameter: unknown, out of range, or a saved model that cannot be loaded.
    """
    items = tuple(sorted(params.items()))
    try:
        hash(items)
    except TypeError:  # e.g. an array from a Python caller: checked without the cache
        return _settings(kind, items)
    return _settings_cached(kind, items)


def _settings(kind: str, items: tuple) -> Settings:
    params = dict(items)
    valid = (*MOVES[kind], *TRAINING_PARAMS)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"vae samplers: unknown parameter {', '.join(map(repr, unknown))} of the {kind} kernel; "
            f"valid parameters: {', '.join(valid)}"
        )
    moves = _build(Moves, KERNEL_PARAMS, params)
    run = _build(RunSettings, TRAINING_PARAMS, params)
    if run.model_path:
        vae_io.load(run.model_path)  # raises ValueError naming the file; its Config replaces the training settings
        return Settings(moves, run, None, None)
    config = _build(Config, TRAINING_PARAMS, params)
    if run.training != "adaptive":
        return Settings(moves, run, config, None)
    adaptive = _build(Adaptive, TRAINING_PARAMS, params)
    try:
        check_adaptive(config, adaptive)
    except ValueError as err:
        raise _in_parameter_names(err) from None
    return Settings(moves, run, config, adaptive)


_settings_cached = functools.lru_cache(maxsize=256)(_settings)


def _build(cls: type, table: Mapping[str, Param], params: Mapping[str, Any]):
    """`cls` from the given parameters over its fields' defaults (0 is None where the field's default is None);
    its own check's ValueError in the parameters' names."""
    values = {}
    for p in table.values():
        if p.owner is cls and p.name in params:
            value = params[p.name]
            values[p.field] = None if value == 0 and p.default == 0 and _field_default(cls, p.field) is None else value
    try:
        return cls(**values)
    except ValueError as err:
        raise _in_parameter_names(err) from None


def _field_default(cls: type, name: str):
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _in_parameter_names(err: ValueError) -> ValueError:
    """A ValueError of vaegibbs (Config, Adaptive, fit_adaptive) in the samplers' parameter names: `steps` is
    `train_steps`, ... (RENAMED), prefixed `vae samplers:`."""
    text = re.sub(r"^(vaegibbs (Config|Adaptive)|fit_adaptive): ", "", str(err))
    owner = "Adaptive" if str(err).startswith("vaegibbs Adaptive") else "Config"
    for (cls, field), name in RENAMED.items():
        text = re.sub(rf"\b{cls.__name__}\.{field}\b", name, text)  # Config.steps, Adaptive.eval_batch
        if cls.__name__ == owner:
            text = re.sub(rf"(?<!\.)\b{field}\b", name, text)
    text = re.sub(r"\b(Config|Adaptive)\.", "", text)
    return ValueError(
        f"vae samplers: {text} (the given parameters over the target's defaults: bench.vae.TARGET_DEFAULTS)"
    )


def validate(kind: str, num_warmup: int, num_draws: int, **params) -> None:
    """Raise ValueError on bad settings of a `kind` sampler before anything is trained (bench.run, the CLI).

    Parameters
    ----------
    kind
        The kernel: a key of MOVES.
    num_warmup
        The warm-up steps per chain.
    num_draws
        The draws per chain.
    **params
        The sampler parameters.

    Raises
    ------
    ValueError
        When num_warmup < 0, num_draws < 1 or a parameter is bad (`settings`).
    """
    if num_warmup < 0 or num_draws < 1:
        raise ValueError(f"vae samplers: num_warmup must be >= 0 and num_draws >= 1, got {num_warmup}, {num_draws}")
    settings(kind, params)


def identity_params(params: dict) -> dict:
    """A run's parameters as used (bench.run.cell_identity).

    With `model_path`, the training settings are the loaded model's own (its saved Config) instead of the
    defaults, and those the file does not hold (the training strategy, the adaptive settings) are left out: no
    training ran (unchanged when the file cannot be read: the run then fails, naming it). A parameter outside
    IDENTITY_ALWAYS is left out at its default.

    Parameters
    ----------
    params
        Every sampler parameter, defaults included.

    Returns
    -------
    dict
        The parameters of the cell's identity.
    """
    if params.get("model_path"):
        try:
            _, config = vae_io.load(params["model_path"])
        except ValueError:
            config = None
        if config is not None:
            saved = {
                p.name: (0 if getattr(config, p.field) is None else getattr(config, p.field))
                for p in TRAINING_PARAMS.values()
                if p.owner is Config
            }
            dropped = {p.name for p in TRAINING_PARAMS.values() if p.owner is Adaptive} | {"training"}
            params = {k: saved.get(k, v) for k, v in params.items() if k not in dropped}
    defaults = {n: p.default for n, p in (*KERNEL_PARAMS.items(), *TRAINING_PARAMS.items())}
    return {k: v for k, v in params.items() if k in IDENTITY_ALWAYS or k not in defaults or v != defaults[k]}


def _vae_sampler(kind: str, name: str, doc: str) -> Callable[..., Draws]:
    """The run function of the VAE sampler with kernel `kind`: its parameters (keyword-only, typed, with their
    defaults, in the signature that bench.params reads) are its kernel's Moves and every training parameter."""

    def run(
        key, logdensity_fn: Callable, initial_positions, *, num_warmup: int, num_draws: int, initial_fn=None, **params
    ) -> Draws:
        return _run(
            kind, settings(kind, params), key, logdensity_fn, initial_positions, num_warmup, num_draws, initial_fn
        )

    P = inspect.Parameter
    table = {**{n: KERNEL_PARAMS[n] for n in MOVES[kind]}, **TRAINING_PARAMS}
    run.__signature__ = inspect.Signature(
        [P(n, P.POSITIONAL_OR_KEYWORD) for n in ("key", "logdensity_fn", "initial_positions")]
        + [P(n, P.KEYWORD_ONLY, annotation=int) for n in ("num_warmup", "num_draws")]
        + [P(n, P.KEYWORD_ONLY, default=p.default, annotation=p.annotation) for n, p in table.items()]
        # where walkers start (the target's `initial`); given by the harness, not a setting
        + [P("initial_fn", P.KEYWORD_ONLY, default=None)],
        return_annotation=Draws,
    )
    run.__annotations__ = {
        "num_warmup": int,
        "num_draws": int,
        **{n: p.annotation for n, p in table.items()},
        "return": Draws,
    }
    run.__name__ = run.__qualname__ = name
    run.__doc__ = doc
    run.identity_params = identity_params  # bench.run.cell_identity: what a loaded model's run really used
    return run


vae_gibbs = _vae_sampler(
    "gibbs",
    "vae_gibbs",
    """Metropolis-within-Gibbs on (x, z): z ~ P(z|x),
    x' ~ Q(x|z + jitter eps), exact acceptance.""",
)
vae_imh = _vae_sampler(
    "imh",
    "vae_imh",
    """Independence Metropolis-Hastings on (x, z) with proposal
    N(z; 0, temperature^2) Q(x|z) (1: the prior pi(z)); `inner` = K > 0 encoder draws per proposal give the
    hierarchical weights w_K (kernels.imh).""",
)
vae_hybrid = _vae_sampler(
    "hybrid",
    "vae_hybrid",
    """A VAE move (gibbs with `jitter`, or imh with `temperature`)
    then `num_local` blackjax MALA moves in x with a fixed `step_size` (Gabrie, Rotskoff & Vanden-Eijnden 2022).""",
)
vae_is = _vae_sampler(
    "is",
    "vae_is",
    """Importance sampling: chains x draws proposals of pi(z) Q(x|z) with their
    log weights (hierarchical weights w_K with `inner` = K > 0 encoder draws per proposal).""",
)


def _kernel_params(kind: str, moves: Moves) -> dict:
    """The settings the kernel `kind` takes, in their declared types (a float given as an int is a float)."""
    return {
        n: KERNEL_PARAMS[n].annotation(getattr(moves, n))
        if KERNEL_PARAMS[n].annotation in (int, float)
        else getattr(moves, n)
        for n in MOVES[kind]
    }


def _run(kind, s: Settings, key, logdensity_fn, initial_positions, num_warmup, num_draws, initial_fn=None) -> Draws:
    kernel_params = _kernel_params(kind, s.moves)
    initial_positions = jnp.asarray(initial_positions)
    chains, dim = initial_positions.shape
    key_train, key_eval, key_sample = jax.random.split(key, 3)

    if s.run.model_path:
        model, config = vae_io.load(s.run.model_path)
        if model.dim != dim:
            raise ValueError(f"{s.run.model_path}: the saved sampler has dim {model.dim}, the target {dim}")
        time_compile_train = time_train = 0.0
        train_grads, train_evals, traces, strategy = 0, 0, {}, {"training": "loaded"}
    else:
        config = s.config
        key_data = tuple(np.asarray(jax.random.key_data(key_train)).ravel().tolist())
        if s.adaptive is not None:
            if initial_fn is None:
                raise ValueError(
                    "vae samplers: training=adaptive needs initial_fn (where the walkers start); "
                    "the suite passes the target's `initial`"
                )
            fitted = _fit_adaptive(
                logdensity_fn, initial_fn, dim, config, s.adaptive, key_data, devices.split(config.batch_size)
            )
        else:
            fitted = _fit(logdensity_fn, dim, config, key_data, devices.split(config.batch_size))
        model, time_compile_train, time_train = fitted.model, fitted.time_compile, fitted.time_train
        train_grads, train_evals = fitted.grad_evals, fitted.logdensity_evals
        traces = {
            "loss": fitted.loss,
            "loss_se": fitted.loss_se,
            "beta": fitted.beta,
            **fitted.traces,
            **{f"round.{k}": v for k, v in fitted.round_traces.items()},
        }
        strategy = {
            "training": fitted.strategy,
            **{f"{fitted.strategy}.{k}": v for k, v in fitted.strategy_settings.items()},
        }

    info = {
        "kind": kind,
        **kernel_params,
        **strategy,
        **{f"config.{k}": v for k, v in dataclasses.asdict(config).items()},
        "model_path": s.run.model_path,
        "train_grad_evals": train_grads,
        "train_logdensity_evals": train_evals,
        "time_train": time_train,
    }
    start = time.perf_counter()
    own = _own_weights(kind, kernel_params)
    info |= _evaluate_bounds(model, logdensity_fn, key_eval, s.run.eval_batch, s.run.iw_inner, *own)
    # The bounds are diagnostics (like the metrics), not part of the sampler's cost: recorded apart.
    info["time_eval"] = time.perf_counter() - start
    info["eval_logdensity_evals"] = (3 + (own != (0, 1.0))) * s.run.eval_batch
    info["diagnostics_weights"] = "joint K=0" if kind in JOINT_WEIGHT_KINDS else "own"

    info["devices"] = devices.split(chains)  # the chains' blocks, one per device (baselines.devices)
    sample_fn = _sampling_fn(
        kind, logdensity_fn, tuple(sorted(kernel_params.items())), num_warmup, num_draws, info["devices"]
    )
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
    cost = Cost(
        logdensity_evals_warmup=train_evals + int(evals[:, :burn].sum()),
        logdensity_evals_sampling=int(evals[:, burn:].sum()),
        grad_evals_warmup=train_grads + grad_burn,
        grad_evals_sampling=grad_sampling,
        grad_evals_lockstep=train_grads + grad_burn + grad_sampling,
        time_compile=time_compile,
        time_warmup=time_train + burn_share * elapsed,
        time_sampling=(1 - burn_share) * elapsed,
    )

    def log_weight_fn(key, x):
        z = jax.vmap(model.sample_encoder)(jax.random.split(key, x.shape[0]), x)
        return jax.vmap(model.log_weight, in_axes=(None, 0, 0))(logdensity_fn, x, z)

    return Draws(
        positions=np.asarray(positions),
        logdensity=np.asarray(logdensity),
        stats={k: np.asarray(v) for k, v in stats.items()},
        cost=cost,
        info=info,
        log_weights=None if log_weights is None else np.asarray(log_weights),
        log_weight_fn=jax.jit(log_weight_fn),
        traces=traces,
        artifacts={"vae": lambda stem: vae_io.save(stem, model, config)},
    )


@functools.lru_cache(maxsize=64)
def _fit(logdensity_fn, dim, config, key_data, n_devices=1):
    """One training per (target, config, key, devices its batch is split over): `vae-gibbs`, `vae-imh`, ... of
    one seed share it. Each run still reports that training's time, gradients and compile time, which it would
    pay alone."""
    return fit(logdensity_fn, dim, jax.random.wrap_key_data(np.asarray(key_data, dtype=np.uint32)), config)


@functools.lru_cache(maxsize=16)
def _fit_adaptive(logdensity_fn, initial_fn, dim, config, adaptive, key_data, n_devices=1):
    """One adaptive training per (target, settings, key, devices its batch is split over), shared like `_fit`;
    walkers from `initial_fn`."""
    key = jax.random.wrap_key_data(np.asarray(key_data, dtype=np.uint32))
    key_walkers, key_fit = jax.random.split(key)
    return fit_adaptive(
        logdensity_fn, initial_fn(key_walkers, adaptive.walkers), key_fit, config, adaptive, n_devices=n_devices
    )


# Samplers without importance weights of their own: their k-hat, IS ESS and log Z_hat are those of the
# joint K = 0, t = 1 weights of the VAE (a diagnostic of the VAE, not of the chain's moves).
JOINT_WEIGHT_KINDS = ("gibbs", "hybrid")


def _own_weights(kind: str, kernel_params: dict) -> tuple[int, float]:
    """(K, t) of the weights a sampler uses: vae-imh's inner and temperature, vae-is's inner (t = 1);
    (0, 1) for the samplers of JOINT_WEIGHT_KINDS."""
    if kind in JOINT_WEIGHT_KINDS:
        return 0, 1.0
    return int(kernel_params["inner"]), float(kernel_params.get("temperature", 1.0))


def _evaluate_bounds(model, logdensity_fn, key, n, num_inner, weight_inner: int = 0, temperature: float = 1.0) -> dict:
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
        log_w = (
            log_w0
            if (weight_inner, temperature) == (0, 1.0)
            else kernels.importance_sample(model, logdensity_fn, k3, n, weight_inner, temperature).log_weights
        )
        return {
            "loss": loss,
            "loss_se": loss_se,
            "iw_bound": iw,
            "iw_bound_se": iw_se,
            "elbo": jnp.mean(log_w0),
            "elbo_se": jnp.std(log_w0) / np.sqrt(n),
            "log_Z_hat": kernels.log_Z_hat(log_w),
            "importance_ess": kernels.importance_ess(log_w),
            "log_weights": log_w,
        }

    return bounds


@functools.lru_cache(maxsize=32)
def _sampling_fn(kind, logdensity_fn, kernel_params, num_warmup, num_draws, n_devices=1):
    """jit(model, key, initial_positions) -> draws of one kernel, chains on `n_devices` devices; built once
    per configuration."""
    params = dict(kernel_params)

    def run(model, key, initial_positions):
        chains = initial_positions.shape[0]
        if kind == "is":
            s = kernels.importance_sample(
                model, logdensity_fn, key, chains * num_draws, params["inner"], n_devices=n_devices
            )
            shape = (chains, num_draws)
            ones = jnp.ones(shape, int)
            return (
                s.positions.reshape(*shape, -1),
                s.logdensity.reshape(shape),
                {},
                s.log_weights.reshape(shape),
                ones,
                jnp.zeros(shape, int),
            )
        algorithm = {
            "gibbs": lambda: kernels.gibbs(model, logdensity_fn, params["jitter"]),
            "imh": lambda: kernels.imh(model, logdensity_fn, params["temperature"], params["inner"]),
            "hybrid": lambda: kernels.hybrid(
                model,
                logdensity_fn,
                params["step_size"],
                params["num_local"],
                params["vae_move"],
                params["jitter"],
                params["temperature"],
            ),
        }[kind]()
        # imh: its proposals drawn in batches (run_chains's chains up to rounding, without a loop's per-step cost)
        runner = kernels.run_independent_chains if kind == "imh" else kernels.run_chains
        _, (states, infos) = runner(algorithm, key, initial_positions, num_warmup + num_draws, n_devices=n_devices)
        kept = slice(num_warmup, None)
        stats = {"acceptance_rate": infos.acceptance_rate[:, kept], "accepted": infos.is_accepted[:, kept]}
        if kind == "hybrid":
            stats["local_acceptance_rate"] = infos.local_acceptance_rate[:, kept]
        return (
            states.position[:, kept],
            states.logdensity[:, kept],
            stats,
            None,
            infos.logdensity_evals,
            infos.grad_evals,
        )

    return eqx.filter_jit(run)
