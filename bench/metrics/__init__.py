"""The metrics (docs/metrics.md), computed from a sampler's `Draws` and the target's ground truth.

`evaluate` returns one flat dict: per statistic `metric[stat]`, plus summaries over statistics
(`ess_bulk_min`, `rhat_max`, the worst statistic's bias, ...), cost-normalised ESS and the cost to accuracy
(`bench.metrics.cost`: gradients, log densities and seconds until bias2 stays <= 0.01). The summaries
run over the statistics where the metric is computable; `rhat_not_computable` and `ess_not_computable`
name the others (e.g. a statistic constant within every chain).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from baselines.draws import Draws
from bench.metrics import cost as cost_to_accuracy
from bench.metrics.accuracy import accuracy, moments, weighted_moments
from bench.metrics.discrepancy import mmd2, resample, thin_to, thin_weighted_to
from bench.metrics.evidence import evidence, khat_unreliable, pareto_khat
from bench.metrics.mixing import TAIL_PROB, mixing
from bench.metrics.modes import mode_coverage
from bench.metrics.wells import well_coverage
from targets.base import Target

MMD_POINTS = 1000

__all__ = ["TAIL_PROB", "accuracy", "evaluate", "mixing", "mmd2", "mode_coverage", "statistic_values"]


def statistic_values(target: Target, positions: np.ndarray) -> np.ndarray:
    """f(x) of every statistic at every draw: (chains, draws, dim) -> (chains, draws, n_statistics).

    Parameters
    ----------
    target
        The target whose `statistics` are evaluated.
    positions
        The draws, shape (chains, draws, dim).

    Returns
    -------
    numpy.ndarray
        The statistics' values, shape (chains, draws, n_statistics).
    """
    return np.asarray(_statistics_fn(target)(positions))


@functools.lru_cache(maxsize=16)
def _statistics_fn(target: Target):
    """One jitted function per target (compiled once, reused across seeds and samplers)."""
    fns = [s.fn for s in target.statistics]
    return jax.jit(jax.vmap(jax.vmap(lambda x: jax.numpy.stack([f(x) for f in fns]))))


@functools.lru_cache(maxsize=16)
def _assign_fn(target: Target):
    return jax.jit(jax.vmap(target.modes.assign))


def evaluate(
    target: Target, draws: Draws, key, values: np.ndarray | None = None, transport_distances: bool | None = None
) -> dict:
    """All metrics of one run: mixing, accuracy, discrepancy to exact draws, modes, cost-normalised ESS.

    Parameters
    ----------
    target
        The target, with its ground truth.
    draws
        The sampler's draws, with their cost, stats and (importance samplers) log weights.
    key
        The JAX random key of the exact draws, the resampling and the evidence estimate.
    values
        The statistics at the draws if already computed (`statistic_values`); None: computed here.
    transport_distances
        Whether to add the Sinkhorn and entropic-W2 columns (`bench.metrics.transport`); None: only on an
        accelerator (on a CPU the Sinkhorn solves are slow).

    Returns
    -------
    dict
        One flat record: per statistic `metric[stat]`, the summaries over statistics, the cost-normalised ESS
        and the cost to accuracy (the module docstring).
    """
    row: dict = {}
    names = [s.name for s in target.statistics]
    values = statistic_values(target, draws.positions) if values is None else values
    weighted = draws.log_weights is not None
    per_stat = weighted_moments(values, draws.log_weights) if weighted else mixing(values) | moments(values)
    per_stat |= accuracy(
        per_stat["mean"],
        per_stat["sd"],
        per_stat.pop("second"),
        per_stat["mcse_mean"],
        per_stat["mcse_sd"],
        truth_mean=np.array([s.mean for s in target.statistics]),
        truth_sd=np.array([s.sd for s in target.statistics]),
        truth_sq_sd=np.array([np.nan if s.sq_sd is None else s.sq_sd for s in target.statistics]),
        truth_mean_se=np.array([s.mean_se for s in target.statistics]),
        truth_sd_se=np.array([s.sd_se for s in target.statistics]),
    )

    cost = draws.cost
    per_stat["ess_bulk_per_s"] = per_stat["ess_bulk"] / cost.time_sampling
    per_stat["ess_bulk_per_s_total"] = per_stat["ess_bulk"] / cost.time_run
    if cost.grad_evals:
        per_stat["ess_bulk_per_1k_grads"] = per_stat["ess_bulk"] / (cost.grad_evals / 1000)
    for metric, vals in per_stat.items():
        for name, v in zip(names, vals):
            row[f"{metric}[{name}]"] = float(v)

    row["ess_bulk_min"] = _nan_extreme(np.nanmin, per_stat["ess_bulk"])
    row["ess_tail_min"] = _nan_extreme(np.nanmin, per_stat["ess_tail"])
    row["rhat_max"] = _nan_extreme(np.nanmax, per_stat["rhat"])
    if not weighted:  # weighted draws are not chains: no R-hat at all, by design
        row |= not_computable(names, per_stat)
    row["ess_bulk_min_per_s"] = row["ess_bulk_min"] / cost.time_sampling
    row["ess_bulk_min_per_s_total"] = row["ess_bulk_min"] / cost.time_run
    if cost.grad_evals:
        row["ess_bulk_min_per_1k_grads"] = row["ess_bulk_min"] / (cost.grad_evals / 1000)
    if cost.grad_evals_lockstep:
        row["ess_bulk_min_per_1k_grads_lockstep"] = row["ess_bulk_min"] / (cost.grad_evals_lockstep / 1000)
    # worst statistic: largest mean bias in true sds (the sampler's own MCSE is unreliable when it fails)
    # (no ground truth, e.g. a posterior without a passing reference: every bias is NaN, no worst column)
    if np.isfinite(per_stat["bias_mean_sd"]).any():
        worst = int(np.nanargmax(np.abs(per_stat["bias_mean_sd"])))
        row["worst_stat"] = names[worst]
        for metric in ("bias_mean_se", "bias_mean_sd", "bias_sd_se", "bias_sd_rel"):
            row[f"worst_{metric}"] = float(per_stat[metric][worst])
        row["bias_mean_se_max"] = float(np.nanmax(np.abs(per_stat["bias_mean_se"])))
    if np.isfinite(per_stat["bias2"]).any():
        row["bias2_max"] = float(np.nanmax(per_stat["bias2"]))
    row |= cost_to_accuracy.from_draws(target, draws, values)

    if "acceptance_rate" in draws.stats:
        row["acceptance_rate"] = float(np.mean(draws.stats["acceptance_rate"]))
    if "diverging" in draws.stats:
        row["divergences"] = int(np.sum(draws.stats["diverging"]))
        row["divergence_rate"] = float(np.mean(draws.stats["diverging"]))

    key_resample, key_exact, key_evidence = jax.random.split(key, 3)
    if target.sample is not None:
        # MCMC: the U-statistic on thinned draws; weighted draws: the weighted statistic on thinned draws
        # with their weights (resampling them would add ties that the U-statistic counts as distinct draws)
        exact = np.asarray(target.sample(key_exact, MMD_POINTS))
        if weighted:
            points, log_w = thin_weighted_to(draws.positions, draws.log_weights, MMD_POINTS)
            row["mmd2"] = mmd2(points, exact, log_w)
        else:
            row["mmd2"] = mmd2(thin_to(draws.positions, MMD_POINTS), exact)
    if target.modes is not None:
        flat = draws.positions.reshape(-1, target.dim)
        # weighted draws: the modes of resampled (equally weighted) draws
        points = resample(key_resample, flat, draws.log_weights.ravel(), MMD_POINTS) if weighted else flat
        row |= mode_coverage(np.asarray(_assign_fn(target)(points)), target.modes.count)
    if target.wells is not None:  # independent double wells: sign patterns and per-well balance, not an EMC
        flat = draws.positions.reshape(-1, target.dim)
        points = np.asarray(resample(key_resample, flat, draws.log_weights.ravel(), MMD_POINTS) if weighted else flat)
        coords = list(target.wells.coords)
        row |= well_coverage(
            points[:, coords] > target.wells.barrier, target.wells.p_upper, [target.statistics[i].name for i in coords]
        )
    row |= evidence(target, draws.info, draws.log_weight_fn, key_evidence, draws.log_weights)
    if weighted and "khat_unreliable" not in row:  # weighted draws without a log Z: their weights' k-hat still
        row["pareto_khat"] = pareto_khat(draws.log_weights)  # decides whether they pass truth
        row["khat_unreliable"] = khat_unreliable(row["pareto_khat"])
    # transport distances to exact draws in the published conventions (bench.metrics.transport)
    if transport_distances is None:
        transport_distances = jax.default_backend() != "cpu"
    if transport_distances and target.sample is not None:
        from bench.metrics.transport import SINKHORN_POINTS, transport  # ott-jax: imported only when used

        exact = np.asarray(target.sample(jax.random.fold_in(key_exact, 1), SINKHORN_POINTS))
        if weighted:
            points, log_w = thin_weighted_to(draws.positions, draws.log_weights, SINKHORN_POINTS)
            row |= transport(points, exact, log_w)
        else:
            row |= transport(thin_to(draws.positions, SINKHORN_POINTS), exact)
    return row


def _nan_extreme(fn, values: np.ndarray) -> float:
    """`fn` (np.nanmin or np.nanmax) over the computable values; NaN (an empty cell) when there are none."""
    return float(fn(values)) if np.isfinite(values).any() else float("nan")


def not_computable(names: list[str], per_stat: dict[str, np.ndarray]) -> dict[str, str]:
    """`rhat_not_computable` / `ess_not_computable`: the statistics whose R-hat / bulk ESS is not a number.

    E.g. a statistic constant within every chain; only the columns that have some.

    Parameters
    ----------
    names
        The statistics' names.
    per_stat
        The per-statistic metrics, with `rhat` and `ess_bulk` (n_statistics,).

    Returns
    -------
    dict of str to str
        Each column that has some: the statistics' names, comma-separated.
    """
    out = {}
    for column, metric in (("rhat_not_computable", "rhat"), ("ess_not_computable", "ess_bulk")):
        bad = [n for n, v in zip(names, per_stat[metric]) if not np.isfinite(v)]
        if bad:
            out[column] = ", ".join(bad)
    return out
