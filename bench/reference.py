"""`python -m bench reference`: compute a target's reference posterior and check it (posteriordb's criteria).

A long blackjax NUTS run (`baselines.nuts`, Stan's window adaptation per chain) with posteriordb's default
layout: 10 chains, 10,000 warm-up and 10,000 kept iterations each, thinned by 10 to 10,000 draws. The
checks of `targets.posteriors.reference.check` run on the constrained scalars (the target's statistics);
divergences and E-BFMI on all post-warm-up iterations. The draws (unconstrained) are written with
their provenance: the run's settings, seed, versions, device, date and the checks' values.

A reference can also be *derived* from another target's reference when both are the same posterior in
different coordinates (`--from eight_schools_nc` for the centred eight schools): the source's draws,
mapped through the constrained parameters, are the draws of the target; the checks are re-evaluated on
them, divergences and E-BFMI are the source run's.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import numpy as np

import baselines
from bench import record as rec
from bench.metrics import statistic_values
from targets.base import Target
from targets.posteriors import reference as ref


@dataclasses.dataclass(frozen=True)
class Settings:
    """The reference run: posteriordb's defaults (10 chains, 10,000 + 10,000 iterations, thin 10).

    Raises
    ------
    ValueError
        When chains < 2, thin < 1, iterations < 4 thin or warmup < 10.
    """

    chains: int = 10
    warmup: int = 10_000
    iterations: int = 10_000
    thin: int = 10
    seed: int = 0
    target_acceptance_rate: float = 0.8
    dense_mass: bool = False
    max_num_doublings: int = 10

    def __post_init__(self):
        if self.chains < 2 or self.iterations < 4 * self.thin or self.thin < 1 or self.warmup < 10:
            raise ValueError(f"reference: need chains >= 2, thin >= 1, iterations >= 4 thin, warmup >= 10; got {self}")


def compute(target: Target, settings: Settings) -> tuple[np.ndarray, dict[str, Any]]:
    """Run NUTS, thin, check.

    Parameters
    ----------
    target
        The posterior (unconstrained).
    settings
        The reference run's settings.

    Returns
    -------
    tuple of (numpy.ndarray, dict)
        The kept unconstrained draws (chains, draws, dim) and the provenance, with the checks.
    """
    key_init, key_run = jax.random.split(jax.random.key(settings.seed))
    initial = target.initial(key_init, settings.chains)
    start = time.perf_counter()
    draws = baselines.nuts(
        key_run,
        target.log_prob,
        initial,
        num_warmup=settings.warmup,
        num_draws=settings.iterations,
        target_acceptance_rate=settings.target_acceptance_rate,
        dense_mass=settings.dense_mass,
        max_num_doublings=settings.max_num_doublings,
    )
    seconds = time.perf_counter() - start
    x = draws.positions[:, settings.thin - 1 :: settings.thin]
    import arviz as az

    bfmi = np.atleast_1d(az.bfmi(np.asarray(draws.stats["energy"], dtype=np.float64)))
    divergences = int(np.sum(draws.stats["diverging"]))
    checks = ref.check(statistic_values(target, x), divergences, bfmi)
    checks["bfmi"] = bfmi.tolist()
    provenance = {
        "target": target.name,
        "method": "blackjax NUTS (baselines.nuts), Stan window adaptation per chain",
        **dataclasses.asdict(settings),
        "kept_per_chain": int(x.shape[1]),
        "max_tree_depth_hit": int(np.sum(np.asarray(draws.stats["tree_depth"]) >= settings.max_num_doublings)),
        "step_size_min": draws.info["step_size_min"],
        "step_size_max": draws.info["step_size_max"],
        "grad_evals": draws.cost.grad_evals,
        "seconds": round(seconds, 1),
        "chain_method": draws.info["chain_method"],
        "date": rec.timestamp(),
        "precision": rec.precision(),
        **rec.provenance(),
        "checks": checks,
    }
    return x, provenance


def derive(
    target: Target, source: Target, source_provenance: dict[str, Any], x: np.ndarray, divergences: int, bfmi
) -> tuple[np.ndarray, dict[str, Any]]:
    """Provenance of draws `x` of `target` obtained from `source`'s reference (same posterior).

    Parameters
    ----------
    target
        The target the draws are of.
    source
        The target whose reference they come from.
    source_provenance
        The source reference's provenance.
    x
        The draws of `target`, shape (chains, draws, dim).
    divergences
        The source run's divergences.
    bfmi
        The source run's BFMI per chain, or None.

    Returns
    -------
    tuple of (numpy.ndarray, dict)
        `x` and its provenance (the source's, with `derived_from` and the checks on `x`).
    """
    checks = ref.check(statistic_values(target, x), divergences, None if bfmi is None else np.asarray(bfmi))
    checks["bfmi"] = bfmi
    provenance = {k: v for k, v in source_provenance.items() if k not in ("checks", "target")}
    provenance |= {
        "target": target.name,
        "derived_from": source.name,
        "derived_date": rec.timestamp(),
        "checks": checks,
        "source_checks": source_provenance.get("checks"),
    }
    return x, provenance
