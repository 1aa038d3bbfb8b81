"""Sampler registry: name -> run function. Adding a sampler is one file and one line here.

Every sampler has the signature
    run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, **params) -> baselines.Draws
and knows the target only through its log density and the initial positions' shape (chains, dim).
Its settable parameters are the keyword arguments with defaults (see `bench.params`), annotated bool, int,
float, str or Literal[...]. `initial_fn` is optional: a sampler that takes it gets the target's `initial`.
A sampler that is not exact (e.g. unadjusted Langevin) says so with a function attribute `exact = False`
(`bench check-sampler` then skips its moments check).

Besides the names below, a sampler is found by spec, `module:function` or `path/to/file.py:function`
(`resolve`), or by the name of an entry point of group `vaegibbs_bench.samplers` of an installed package
(value `module:function`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import baselines
from baselines.chees import validate as validate_chees
from baselines.draws import Draws
from baselines.flowmc import validate as validate_flowmc
from baselines.hmc import validate as validate_hmc_family
from baselines.mclmc import validate_mams, validate_mclmc
from baselines.numpyro_nuts import validate as validate_numpyro_nuts
from baselines.pt import validate as validate_pt
from baselines.smc import validate as validate_smc
from bench import profile, vae
from bench.params import parameters
from targets.base import Target
from targets.posteriors.user import SpecError, import_object, is_spec, remembered

BUDGET_ARGS = ("key", "logdensity_fn", "initial_positions", "num_warmup", "num_draws", "initial_fn")
# initial_fn: the target's `initial(key, n)`, passed to samplers that take it (e.g. to start walkers)
REQUIRED_ARGS = ("key", "logdensity_fn", "initial_positions", "num_warmup", "num_draws")
ENTRY_POINT_GROUP = "vaegibbs_bench.samplers"
PARAM_TYPES = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class Sampler:
    """A sampler of the suite: its run function and what the harness needs to know about it.

    Parameters
    ----------
    name
        The name tables and records use (`--sampler NAME`).
    run
        The run function, with the contract of this module's docstring.
    description
        One line for `python -m bench list` and the docs.
    validate
        `validate(num_warmup, num_draws, **params)` raises ValueError on bad settings before any run.
    target_defaults
        Target name -> parameter defaults on that target of the suite (e.g. the VAE's training strategy).
    defaults_for
        `defaults_for(target) -> defaults` for any other Target, read from its fields, not its name.
    source
        Where it comes from: `suite`, a plugin, or the spec that named it.
    """

    name: str
    run: Callable[..., Draws]
    description: str
    validate: Callable[..., None] = lambda num_warmup, num_draws, **params: None
    target_defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    defaults_for: Callable[[Target], Mapping[str, Any]] | None = None
    source: str = "suite"

    def params_for(self, target: Target | str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The given parameters over this sampler's defaults for the target.

        Parameters
        ----------
        target
            A Target, or a target's name.
        params
            The parameters given (they win over the defaults).

        Returns
        -------
        dict
            `target_defaults[name]` for a target of the suite (by name), `defaults_for(target)` for any other
            Target (read from what it is: dimension, declared modes), those of them this sampler takes, over the
            device profile's (`bench.profile.sampler_params`: e.g. `vectorized` chains on a GPU), updated with
            `params`.
        """
        takes = inspect.signature(self.run).parameters
        name = target if isinstance(target, str) else target.name
        if name in self.target_defaults or isinstance(target, str) or self.defaults_for is None:
            chosen = self.target_defaults.get(name, {})
        else:
            chosen = self.defaults_for(target)
        defaults = {k: v for k, v in chosen.items() if k in takes}
        return profile.sampler_params(self.run, {**defaults, **params})

    @property
    def exact(self) -> bool:
        """Whether the sampler claims to sample the target exactly (its run function's `exact`, default True)."""
        return bool(getattr(self.run, "exact", True))


SMC_TARGET_DEFAULTS = {
    "gmm40": {"ref_scale": 30.0},
    "funnel": {"ref_scale": 3.0},
    "ising": {"ref_scale": 1.0},
    "eight_schools": {"ref_scale": 5.0},
    "eight_schools_nc": {"ref_scale": 5.0},
}
# the reference must cover the target's mass: gmm40's means span [-40, 40]^d, the funnel's v has sd 3, the
# Ising relaxation's Gaussian factor has unit scale (set by hand from the targets' definitions, not tuned)

SAMPLERS: dict[str, Sampler] = {
    s.name: s
    for s in (
        Sampler(
            "nuts",
            baselines.nuts,
            "blackjax NUTS, per-chain Stan window adaptation",
            functools.partial(validate_hmc_family, "nuts"),
        ),
        Sampler(
            "hmc",
            baselines.hmc,
            "blackjax static HMC, per-chain Stan window adaptation",
            functools.partial(validate_hmc_family, "hmc"),
        ),
        Sampler(
            "smc",
            baselines.smc,
            "blackjax adaptive tempered SMC from N(0, ref_scale^2 I), HMC moves; weighted "
            "draws and log Z_hat; chains = independent runs, num_draws = particles per run, no warm-up",
            validate_smc,
            SMC_TARGET_DEFAULTS,
        ),
        Sampler(
            "pt",
            baselines.pt,
            "parallel tempering: blackjax HMC per replica, geometric ladder (n_temps, "
            "beta_min), even/odd neighbour swaps; the b = 1 replica, every replica's cost",
            validate_pt,
        ),
        Sampler(
            "mclmc",
            baselines.mclmc,
            "blackjax MCLMC, unadjusted (biased by design: no Metropolis test), tuned by mclmc_find_L_and_step_size",
            validate_mclmc,
        ),
        Sampler(
            "mams",
            baselines.mams,
            "blackjax Metropolis-adjusted MCLMC (exact), unadjusted then adjusted tuner, adjusted_mclmc_dynamic",
            validate_mams,
        ),
        Sampler(
            "chees",
            baselines.chees,
            "blackjax ChEES-HMC: ensemble adaptation of step size and trajectory "
            "length, jittered dynamic HMC over max(walkers, chains) chains",
            validate_chees,
        ),
        Sampler(
            "numpyro-nuts",
            baselines.numpyro_nuts,
            "numpyro NUTS, per-chain window adaptation (an independent NUTS implementation)",
            validate_numpyro_nuts,
        ),
        Sampler(
            "flowmc",
            baselines.flowmc,
            "flowMC 0.6 RQSpline flow + MALA walkers (from the target's initial); "
            "training loops = warm-up; compiled once per configuration",
            validate_flowmc,
        ),
        Sampler(
            "vae-gibbs",
            vae.vae_gibbs,
            "VAE-Gibbs sampler: Metropolis-within-Gibbs on (x, z)",
            functools.partial(vae.validate, "gibbs"),
            vae.target_defaults("vae-gibbs"),
            vae.defaults_for,
        ),
        Sampler(
            "vae-imh",
            vae.vae_imh,
            "VAE-Gibbs sampler's VAE: independence Metropolis-Hastings on (x, z)",
            functools.partial(vae.validate, "imh"),
            vae.target_defaults("vae-imh"),
            vae.defaults_for,
        ),
        Sampler(
            "vae-is",
            vae.vae_is,
            "VAE-Gibbs sampler's VAE: importance sampling (weighted draws)",
            functools.partial(vae.validate, "is"),
            vae.target_defaults("vae-is"),
            vae.defaults_for,
        ),
        Sampler(
            "vae-hybrid",
            vae.vae_hybrid,
            "VAE-Gibbs sampler's VAE moves alternated with blackjax MALA",
            functools.partial(vae.validate, "hybrid"),
            vae.target_defaults("vae-hybrid"),
            vae.defaults_for,
        ),
    )
}


def get_sampler(name: str) -> Sampler:
    """A sampler by registered name, entry-point name or spec (`module:function`, `path/to/file.py:function`).

    Parameters
    ----------
    name
        A name of `SAMPLERS`, of an installed plugin, or a spec.

    Returns
    -------
    Sampler
        The sampler; a spec's is named `module.function`, with the spec as its `source`.

    Raises
    ------
    KeyError
        An unknown name (the message lists the valid ones).
    SpecError
        A spec or plugin that does not resolve or fit the contract (a ValueError).
    """
    return resolve(name)


def resolve(spec: str) -> Sampler:
    """The Sampler that a registered name, an installed plugin's name or a spec names.

    A registered name, the name of an installed plugin (entry point of ENTRY_POINT_GROUP), or
    `module:function` / `path/to/file.py:function` -> a Sampler (named `module.function` for a spec, and
    with the spec as its `source`). The function must fit the contract (`check_contract`).

    Parameters
    ----------
    spec
        The name or spec.

    Returns
    -------
    Sampler
        The sampler.

    Raises
    ------
    KeyError
        An unknown name (the message lists the valid ones).
    SpecError
        A spec or plugin that does not resolve or fit the contract (a ValueError).
    """
    if spec in SAMPLERS:
        return SAMPLERS[spec]
    found = plugins()
    if spec in found:
        return _from_plugin(found[spec])
    if not is_spec(spec) and remembered("sampler", spec):  # a spec's sampler in a sweep's worker
        return resolve(remembered("sampler", spec))
    if not is_spec(spec):
        raise KeyError(
            f"unknown sampler {spec!r}; valid samplers: {', '.join(sorted({*SAMPLERS, *found}))}; "
            "or module:function or path/to/file.py:function"
        )
    name, fn = import_object(spec, "sampler")
    return from_function(fn, name, source=spec, what=f"sampler {spec!r}")


def from_function(
    fn: Callable, name: str, source: str = "python", what: str | None = None, description: str | None = None
) -> Sampler:
    """A Sampler for a user's run function, checked by `check_contract`.

    Parameters
    ----------
    fn
        The run function.
    name
        The sampler's name in tables and records.
    source
        Where it comes from (shown by `bench list`).
    what
        How error messages name it (default `sampler 'NAME'`).
    description
        One line for listings (default: the first line of `fn`'s docstring).

    Returns
    -------
    Sampler
        The sampler, with no per-target defaults.

    Raises
    ------
    SpecError
        When `fn` does not fit the contract (`check_contract`).
    """
    what = what or f"sampler {name!r}"
    check_contract(fn, what)
    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    return Sampler(name, fn, description or (doc[0] if doc else "(no docstring)"), source=source)


def check_contract(fn: Callable, what: str = "sampler") -> None:
    """Raise SpecError unless `fn` fits the sampler contract.

    The contract: `run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, **params)`, the three
    positional arguments first, the two budget ones by keyword, no other required argument, and every
    parameter with a default annotated (or defaulting to) bool, int, float, str or `Literal[...]`, so that
    `--sampler-param` can read it.

    Parameters
    ----------
    fn
        The candidate run function.
    what
        How the error message names it.

    Raises
    ------
    SpecError
        The first way in which `fn` breaks the contract, and what the contract is.
    """
    if not callable(fn):
        raise SpecError(
            f"{what}: a {type(fn).__name__} is not callable; a sampler is a function "
            f"run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, **params)"
        )
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as err:
        raise SpecError(f"{what}: cannot read its signature: {err}") from err
    ps = sig.parameters
    positional = [n for n, p in ps.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:3]
    if positional != list(REQUIRED_ARGS[:3]):
        raise SpecError(
            f"{what}: its first arguments must be (key, logdensity_fn, initial_positions), got "
            f"({', '.join(positional)}); the contract is run(key, logdensity_fn, initial_positions, *, "
            f"num_warmup, num_draws, **params) -> baselines.Draws"
        )
    missing = [n for n in REQUIRED_ARGS[3:] if n not in ps or ps[n].kind == inspect.Parameter.POSITIONAL_ONLY]
    if missing:
        raise SpecError(
            f"{what}: it takes no keyword argument {', '.join(missing)}; the contract is "
            f"run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, **params)"
        )
    required = [
        n
        for n, p in ps.items()
        if n not in BUDGET_ARGS
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise SpecError(
            f"{what}: argument {', '.join(required)} has no default; a sampler's settings are keyword "
            f"arguments with defaults (set with --sampler-param KEY=VALUE)"
        )
    try:
        settable = parameters(fn, BUDGET_ARGS)
    except Exception as err:  # unresolvable annotations
        raise SpecError(f"{what}: cannot read its parameters' annotations: {type(err).__name__}: {err}") from err
    for n, p in settable.items():
        kind = p.annotation
        if typing.get_origin(kind) is not typing.Literal and kind not in PARAM_TYPES:
            raise SpecError(
                f"{what}: parameter {n!r} is annotated {kind!r}; a sampler parameter is bool, int, "
                f"float, str or Literal[...] (so that --sampler-param can read it)"
            )


def plugins() -> dict[str, metadata.EntryPoint]:
    """Samplers registered by installed packages (entry points of ENTRY_POINT_GROUP), name -> entry point.

    A name the suite already has stays the suite's.

    Returns
    -------
    dict of str to importlib.metadata.EntryPoint
        The plugins' entry points (not loaded), by name.
    """
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name not in SAMPLERS}


@functools.cache
def _from_plugin(ep: metadata.EntryPoint) -> Sampler:
    dist = ep.dist.name if ep.dist is not None else "?"
    what = f"sampler {ep.name!r} (entry point {ep.value!r} of {dist})"
    try:
        fn = ep.load()
    except Exception as err:  # the plugin is broken: say which and how
        raise SpecError(f"{what}: loading it failed: {type(err).__name__}: {err}") from err
    return from_function(fn, ep.name, source=f"plugin {dist} ({ep.value})", what=what)


def all_samplers() -> dict[str, Sampler | metadata.EntryPoint]:
    """The suite's samplers, then the installed plugins' (not loaded), for `bench list`.

    Returns
    -------
    dict
        Name -> Sampler (the suite's) or entry point (a plugin's).
    """
    return {**SAMPLERS, **plugins()}
