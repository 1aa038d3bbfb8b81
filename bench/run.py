"""One cell: run a sampler on a target with one seed, score it, and write its record and draws.

A cell never takes the others down with it: an exception in the sampler, a non-finite log
density at a starting point or at a kept draw, or a failed metric marks the cell `failed` with
the reason in its record, and the caller goes on. NaN met *inside* a trajectory is rejected by
blackjax and shows up as a divergence; chains that never moved (every proposal rejected, every draw
divergent) fail as `FrozenChains`, so that they are never scored or ranked.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import pathlib
import traceback
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from baselines.draws import Draws
from bench import metrics, record as rec, store
from bench.params import check_finite, with_defaults
from bench.samplers import BUDGET_ARGS, Sampler
from targets.base import Target


@dataclasses.dataclass(frozen=True)
class Budget:
    """Chains, kept draws per chain and warm-up steps per chain: the same for every sampler of a run.

    Parameters
    ----------
    chains
        Independent chains (at least 2: R-hat compares chains).
    draws
        Draws kept per chain (at least 4: split R-hat and ESS need them).
    warmup
        Warm-up (tuning, or training) steps per chain (at least 0).

    Raises
    ------
    ValueError
        When a count is below its least value.
    """

    chains: int = 4
    draws: int = 1000
    warmup: int = 1000

    def __post_init__(self):
        if self.chains < 2:
            raise ValueError(f"chains must be >= 2 (R-hat compares chains), got {self.chains}")
        if self.draws < 4:
            raise ValueError(f"draws must be >= 4 (split R-hat and ESS need them), got {self.draws}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")


class NonFiniteLogDensity(RuntimeError):
    """The target's log density was NaN or +inf where the sampler needed a number."""


class FrozenChains(RuntimeError):
    """The chains never moved (e.g. a NaN gradient: every proposal rejected): nothing to score or rank."""


def cell_identity(
    target: Target, sampler: Sampler, sampler_params: Mapping[str, Any], seed: int, budget: Budget
) -> dict:
    """The identity of a cell (`bench.record.identity`), every sampler parameter included.

    Every sampler parameter, defaults included (the sampler's defaults for this target under the given ones),
    as the sampler reports it used them (`run.identity_params`, where it has one), and a user's target's
    fingerprint (`bench.record.target_fingerprint`; built-in targets have none, so their ids are unchanged).

    Parameters
    ----------
    target
        The target.
    sampler
        The sampler.
    sampler_params
        The parameters given.
    seed
        The cell's seed.
    budget
        Chains, draws and warm-up steps.

    Returns
    -------
    dict
        The identity's columns.
    """
    sampler_params = sampler.params_for(target, sampler_params)
    params = with_defaults(sampler.run, sampler_params, skip=BUDGET_ARGS)
    # e.g. a VAE sampler run on a saved model: its training settings are the model's, not the defaults
    params = getattr(sampler.run, "identity_params", lambda p: p)(params)
    return rec.identity(
        target.name,
        target.params,
        sampler.name,
        params,
        budget.chains,
        budget.draws,
        budget.warmup,
        seed,
        rec.target_fingerprint(target),
    )


def run_cell(
    target: Target,
    sampler: Sampler,
    sampler_params: Mapping[str, Any],
    seed: int,
    budget: Budget,
    out: pathlib.Path | None,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """Run, score and store one cell (one target, one sampler configuration, one seed).

    Parameters
    ----------
    target
        The target, with its ground truth.
    sampler
        The sampler (`bench.get_sampler`).
    sampler_params
        Its parameters, over its defaults for this target (`Sampler.params_for`).
    seed
        The cell's seed: the keys of the initial positions, the run and the metrics derive from it.
    budget
        Chains, draws and warm-up steps.
    out
        The results folder (`runs/<target>/<sampler>/<cell_id>/`), or None: nothing written.
    extra
        Columns added to the record (e.g. the sweep that ran it), never part of its identity.

    Returns
    -------
    dict
        The cell's record, status `ok` or `failed` (with its reason: a failure of the sampler is recorded,
        not raised).

    Raises
    ------
    ValueError
        Bad parameters (not finite, or refused by `sampler.validate`), before anything runs, as they exit 2
        from the CLI.
    """
    sampler_params = sampler.params_for(target, sampler_params)
    check_finite(f"sampler {sampler.name}", sampler_params)
    sampler.validate(budget.warmup, budget.draws, **sampler_params)
    ident = cell_identity(target, sampler, sampler_params, seed, budget)
    record: dict = {
        "cell_id": rec.cell_id(ident),
        **ident,
        "target_id": rec.label(target.name, target.params),
        "sampler_id": rec.label(sampler.name, sampler_params),
        "dim": target.dim,
        "target_log_Z": target.log_Z,
        **rec.provenance(),
        **(extra or {}),
        "started": rec.timestamp(),
    }
    for name, offset in target.log_Z_offsets.items():  # e.g. the spin system of a relaxation
        record[f"target_log_Z_{name}"] = None if target.log_Z is None else target.log_Z - offset
    datatree, artifacts = None, {}
    try:
        key_init, key_run, key_metrics = jax.random.split(jax.random.key(seed), 3)
        initial = target.initial(key_init, budget.chains)
        check_finite_start(target, initial)
        takes_initial = "initial_fn" in inspect.signature(sampler.run).parameters  # e.g. to start walkers
        draws = sampler.run(
            key_run,
            target.log_prob,
            initial,
            num_warmup=budget.warmup,
            num_draws=budget.draws,
            **({"initial_fn": target.initial} if takes_initial else {}),
            **sampler_params,
        )
        record |= cost_columns(draws)
        artifacts = dict(draws.artifacts)
        values = metrics.statistic_values(target, draws.positions)
        datatree = draws_datatree(target, draws, values, record)
        check_finite_draws(draws)
        check_moved(draws, values)
        record |= metrics.evaluate(target, draws, key_metrics, values)
        record["status"], record["error"] = "ok", None
    except Exception as err:  # noqa: BLE001 - a cell's failure is recorded, never fatal to the others
        record["status"] = "failed"
        record["error"] = f"{type(err).__name__}: {err}"
        record["traceback"] = traceback.format_exc(limit=8)
    record["finished"] = rec.timestamp()
    if out is not None:
        store.write_cell(out, record, datatree, artifacts)
    return record


def check_finite_start(target: Target, initial) -> None:
    lp = np.asarray(jax.vmap(target.log_prob)(initial))
    bad = np.flatnonzero(~np.isfinite(lp))
    if bad.size:
        c = int(bad[0])
        raise NonFiniteLogDensity(
            f"log density is {lp[c]} at the initial position of chain {c} "
            f"({bad.size} of {lp.size} chains); x = {np.asarray(initial[c]).tolist()}"
        )


def check_finite_draws(draws: Draws) -> None:
    lp, x = draws.logdensity, draws.positions
    bad = np.isnan(lp) | (lp == np.inf) | ~np.isfinite(x).all(axis=-1)
    if bad.any():
        c, d = map(int, np.argwhere(bad)[0])
        raise NonFiniteLogDensity(
            f"non-finite draw: log density {lp[c, d]} at chain {c}, draw {d} ({int(bad.sum())} of {bad.size} draws)"
        )


def check_moved(draws: Draws, values) -> None:
    """Raise FrozenChains when the chains never moved.

    Never moved: acceptance 0 at every draw of every chain (every acceptance statistic, e.g. a hybrid's VAE
    and local moves), every draw divergent, or every statistic constant within every chain. Weighted
    (independent) draws are not chains: not checked.

    Parameters
    ----------
    draws
        The sampler's draws.
    values
        The statistics at the draws, (chains, draws, n_statistics).

    Raises
    ------
    FrozenChains
        When the chains never moved.
    """
    if draws.log_weights is not None:
        return
    stats = {k: np.asarray(v) for k, v in draws.stats.items()}
    acceptance = [k for k in stats if k.endswith("acceptance_rate")]
    if acceptance and all(np.all(stats[k] == 0) for k in acceptance):
        raise FrozenChains(
            f"acceptance 0 in all {draws.positions.shape[0]} chains at every draw "
            f"({', '.join(acceptance)}): the chains never moved"
        )
    if "diverging" in stats and stats["diverging"].size and np.all(stats["diverging"]):
        raise FrozenChains(
            f"every draw divergent ({stats['diverging'].size} of {stats['diverging'].size}): "
            f"no trajectory was integrated (e.g. a NaN or infinite gradient)"
        )
    values = np.asarray(values)
    if values.size and np.all(values == values[:, :1, :]):
        raise FrozenChains(
            f"every statistic is constant within every chain ({values.shape[0]} chains x "
            f"{values.shape[1]} draws): the chains never moved"
        )


def cost_columns(draws: Draws) -> dict:
    c = draws.cost
    out = dataclasses.asdict(c) | {
        "grad_evals": c.grad_evals,
        "time_run": c.time_run,
        "time_total": c.time_run + c.time_compile,
    }
    out |= {f"info.{k}": v for k, v in draws.info.items() if k not in _EVIDENCE_INFO}
    return out


_EVIDENCE_INFO = {
    "loss",
    "loss_se",
    "iw_bound",
    "iw_bound_se",
    "elbo",
    "elbo_se",
    "log_Z_hat",
    "importance_ess",
    "pareto_khat",
}
# (bench.metrics.evidence turns these into record columns; `info.*` keeps the rest)


def draws_datatree(target: Target, draws: Draws, values, record: Mapping[str, Any]):
    stats = dict(draws.stats) | {"logdensity": draws.logdensity}
    if draws.log_weights is not None:
        stats["log_weight"] = draws.log_weights
    attrs = {k: record[k] for k in ("cell_id", "target_id", "sampler_id", "seed", "precision")}
    variables = None
    if target.constrain is not None:  # a model's named parameters (e.g. numpyro's constrained sites)
        variables = {k: np.asarray(v) for k, v in _constrain_fn(target)(draws.positions).items()}
    return store.to_datatree(
        draws.positions, [s.name for s in target.statistics], values, stats, attrs, draws.traces, variables
    )


@functools.lru_cache(maxsize=16)
def _constrain_fn(target: Target):
    """(chains, draws, dim) -> {name: (chains, draws, *shape)}, compiled once per target."""
    return jax.jit(jax.vmap(jax.vmap(target.constrain)))
