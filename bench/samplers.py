"""Sampler registry: name -> run function. Adding a sampler is one file and one line here.

Every sampler has the signature
    run(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, **params) -> baselines.Draws
and knows the target only through its log density and the initial positions' shape (chains, dim).
Its settable parameters are the keyword arguments with defaults (see `bench.params`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import baselines
from baselines.draws import Draws
from bench import vae

BUDGET_ARGS = ("key", "logdensity_fn", "initial_positions", "num_warmup", "num_draws")


@dataclasses.dataclass(frozen=True)
class Sampler:
    name: str
    run: Callable[..., Draws]
    description: str
    uses_gradients: bool


SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    Sampler("nuts", baselines.nuts, "blackjax NUTS, per-chain Stan window adaptation", True),
    Sampler("hmc", baselines.hmc, "blackjax static HMC, per-chain Stan window adaptation", True),
    Sampler("vae-gibbs", vae.vae_gibbs, "VAE (seed), Metropolis-within-Gibbs on (x, z)", False),
    Sampler("vae-imh", vae.vae_imh, "VAE (seed), independence Metropolis-Hastings", False),
    Sampler("vae-is", vae.vae_is, "VAE (seed), importance sampling (weighted draws)", False),
    Sampler("vae-hybrid", vae.vae_hybrid, "VAE (seed) moves alternated with blackjax MALA", True),
)}


def get_sampler(name: str) -> Sampler:
    if name not in SAMPLERS:
        raise KeyError(f"unknown sampler {name!r}; valid samplers: {', '.join(sorted(SAMPLERS))}")
    return SAMPLERS[name]
