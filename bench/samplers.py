"""Sampler registry: name -> run function. Adding a sampler is one file and one line here.

Every sampler has the signature
    run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, **params) -> baselines.Draws
and knows the target only through its log density and the initial positions' shape (chains, dim).
Its settable parameters are the keyword arguments with defaults (see `bench.params`).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import baselines
from baselines.draws import Draws
from baselines.hmc import validate as validate_hmc_family
from bench import vae

BUDGET_ARGS = ("key", "logdensity_fn", "initial_positions", "num_warmup", "num_draws")


@dataclasses.dataclass(frozen=True)
class Sampler:
    """`validate(num_warmup, num_draws, **params)` raises ValueError on bad settings before any run."""

    name: str
    run: Callable[..., Draws]
    description: str
    validate: Callable[..., None] = lambda num_warmup, num_draws, **params: None


SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    Sampler("nuts", baselines.nuts, "blackjax NUTS, per-chain Stan window adaptation",
            functools.partial(validate_hmc_family, "nuts")),
    Sampler("hmc", baselines.hmc, "blackjax static HMC, per-chain Stan window adaptation",
            functools.partial(validate_hmc_family, "hmc")),
    Sampler("vae-gibbs", vae.vae_gibbs, "VAE (seed), Metropolis-within-Gibbs on (x, z)", vae.validate),
    Sampler("vae-imh", vae.vae_imh, "VAE (seed), independence Metropolis-Hastings", vae.validate),
    Sampler("vae-is", vae.vae_is, "VAE (seed), importance sampling (weighted draws)", vae.validate),
    Sampler("vae-hybrid", vae.vae_hybrid, "VAE (seed) moves alternated with blackjax MALA", vae.validate),
)}


def get_sampler(name: str) -> Sampler:
    if name not in SAMPLERS:
        raise KeyError(f"unknown sampler {name!r}; valid samplers: {', '.join(sorted(SAMPLERS))}")
    return SAMPLERS[name]
