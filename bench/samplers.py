"""Sampler registry: name -> run function. Adding a sampler is one file and one line here.

Every sampler has the signature
    run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, **params) -> baselines.Draws
and knows the target only through its log density and the initial positions' shape (chains, dim).
Its settable parameters are the keyword arguments with defaults (see `bench.params`).
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable, Mapping

import baselines
from baselines.draws import Draws
from baselines.hmc import validate as validate_hmc_family
from baselines.chees import validate as validate_chees
from baselines.flowmc import validate as validate_flowmc
from baselines.mclmc import validate_mams, validate_mclmc
from baselines.numpyro_nuts import validate as validate_numpyro_nuts
from baselines.pt import validate as validate_pt
from baselines.smc import validate as validate_smc
from bench import vae

BUDGET_ARGS = ("key", "logdensity_fn", "initial_positions", "num_warmup", "num_draws", "initial_fn")
# initial_fn: the target's `initial(key, n)`, passed to samplers that take it (e.g. to start walkers)


@dataclasses.dataclass(frozen=True)
class Sampler:
    """`validate(num_warmup, num_draws, **params)` raises ValueError on bad settings before any run."""

    name: str
    run: Callable[..., Draws]
    description: str
    validate: Callable[..., None] = lambda num_warmup, num_draws, **params: None
    target_defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def params_for(self, target_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The given parameters over this sampler's defaults for the target (`target_defaults`, those of
        them that this sampler takes)."""
        takes = inspect.signature(self.run).parameters
        defaults = {k: v for k, v in self.target_defaults.get(target_name, {}).items() if k in takes}
        return {**defaults, **params}


SMC_TARGET_DEFAULTS = {"gmm40": {"ref_scale": 30.0}, "funnel": {"ref_scale": 3.0}, "ising": {"ref_scale": 1.0},
                       "eight_schools": {"ref_scale": 5.0}, "eight_schools_nc": {"ref_scale": 5.0}}
# the reference must cover the target's mass: gmm40's means span [-40, 40]^d, the funnel's v has sd 3, the
# Ising relaxation's Gaussian factor has unit scale (set by hand from the targets' definitions, not tuned)

SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    Sampler("nuts", baselines.nuts, "blackjax NUTS, per-chain Stan window adaptation",
            functools.partial(validate_hmc_family, "nuts")),
    Sampler("hmc", baselines.hmc, "blackjax static HMC, per-chain Stan window adaptation",
            functools.partial(validate_hmc_family, "hmc")),
    Sampler("smc", baselines.smc, "blackjax adaptive tempered SMC from N(0, ref_scale^2 I), HMC moves; weighted "
            "draws and log Z_hat; chains = independent runs, num_draws = particles per run, no warm-up",
            validate_smc, SMC_TARGET_DEFAULTS),
    Sampler("pt", baselines.pt, "parallel tempering: blackjax HMC per replica, geometric ladder (n_temps, "
            "beta_min), even/odd neighbour swaps; the b = 1 replica, every replica's cost", validate_pt),
    Sampler("mclmc", baselines.mclmc, "blackjax MCLMC, unadjusted (biased by design: no Metropolis test), tuned "
            "by mclmc_find_L_and_step_size", validate_mclmc),
    Sampler("mams", baselines.mams, "blackjax Metropolis-adjusted MCLMC (exact), unadjusted then adjusted "
            "tuner, adjusted_mclmc_dynamic", validate_mams),
    Sampler("chees", baselines.chees, "blackjax ChEES-HMC: ensemble adaptation of step size and trajectory "
            "length, jittered dynamic HMC over max(walkers, chains) chains", validate_chees),
    Sampler("numpyro-nuts", baselines.numpyro_nuts, "numpyro NUTS, per-chain window adaptation (an "
            "independent NUTS implementation)", validate_numpyro_nuts),
    Sampler("flowmc", baselines.flowmc, "flowMC 0.6 RQSpline flow + MALA walkers (from the target's initial); "
            "training loops = warm-up; recompiles every seed", validate_flowmc),
    Sampler("vae-gibbs", vae.vae_gibbs, "VAE (seed), Metropolis-within-Gibbs on (x, z)", vae.validate,
            vae.target_defaults("vae-gibbs")),
    Sampler("vae-imh", vae.vae_imh, "VAE (seed), independence Metropolis-Hastings", vae.validate,
            vae.target_defaults("vae-imh")),
    Sampler("vae-is", vae.vae_is, "VAE (seed), importance sampling (weighted draws)", vae.validate,
            vae.target_defaults("vae-is")),
    Sampler("vae-hybrid", vae.vae_hybrid, "VAE (seed) moves alternated with blackjax MALA", vae.validate,
            vae.target_defaults("vae-hybrid")),
)}


def get_sampler(name: str) -> Sampler:
    if name not in SAMPLERS:
        raise KeyError(f"unknown sampler {name!r}; valid samplers: {', '.join(sorted(SAMPLERS))}")
    return SAMPLERS[name]
