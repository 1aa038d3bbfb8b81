"""Cost to accuracy: the evaluations (and seconds) until the normalised squared bias settles below `BIAS2_MAX`.

The evaluations (and seconds) after which the normalised squared bias of every statistic
falls to `BIAS2_MAX` (0.01) and stays there: the metric of the MCLMC / MAMS line of work (Robnik et al. 2023,
"Microcanonical Hamiltonian Monte Carlo"; Robnik et al. 2025, "Metropolis adjusted microcanonical Hamiltonian
Monte Carlo": gradients to b^2_max and b^2_avg < 0.01).

Running estimate after n draws per chain, pooled over the C chains (all chains' first n draws):
  unweighted  E_n[f^2] = sum_{c, d <= n} f(x_cd)^2 / (C n)
  weighted    E_n[f^2] = sum_{c, d <= n} w_cd f(x_cd)^2 / sum_{c, d <= n} w_cd   (self-normalised, in log space)
  bias2_n     = (E_n[f^2] - E[f^2])^2 / Var[f^2]       (`bench.metrics.accuracy.bias2`; at n = N the record's bias2)
  max, avg    of bias2_n over the statistics with a known E[f^2] and Var[f^2]
  n*          the smallest n with bias2_m <= BIAS2_MAX for every m >= n up to the budget N; never (inf) when
              bias2_N > BIAS2_MAX (the budget does not reach it). Iid exact draws: E[bias2_n] = 1/n.
Cost after n draws per chain, warm-up, tuning and training included:
  grads(n)    = grad_evals_warmup + the sampling gradients of all chains' first n draws: per-draw counts where
                the sampler records them (a per-draw `n_steps` whose sum is grad_evals_sampling, e.g. blackjax
                HMC / NUTS: one gradient per leapfrog step), else pro rata, n/N grad_evals_sampling
  logdens(n)  = logdensity_evals_warmup + the same for logdensity_evals_sampling
  seconds(n)  = time_warmup + n/N time_sampling (compile time apart, as in "ESS/s incl. warm-up")
The gradients are the contract's: those the chains needed. NUTS under vmap advances in lock-step, so the hardware
runs more (`Cost.grad_evals_lockstep`, not used here); the seconds carry that cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from baselines.draws import Cost, Draws
from bench.metrics.accuracy import bias2
from bench.metrics.truth import BIAS2_MAX
from targets.base import Target

KINDS = ("max", "avg")
MEASURES = ("draws", "grads", "logdens", "seconds")
NEVER = math.inf


def running_second(values: np.ndarray, log_weights: np.ndarray | None = None) -> np.ndarray:
    """E_n[f^2] after n = 1..N draws per chain, pooled over chains (module doc): (chains, N, S) -> (N, S).

    Parameters
    ----------
    values
        The statistics at the draws, shape (chains, N, S).
    log_weights
        The draws' importance log weights (chains, N); None: unweighted.

    Returns
    -------
    numpy.ndarray
        The running estimates, shape (N, S).
    """
    values = np.asarray(values, dtype=np.float64)
    if log_weights is None:
        n = np.arange(1, values.shape[1] + 1)[:, None]
        return np.cumsum((values**2).sum(axis=0), axis=0) / (values.shape[0] * n)
    lw = np.asarray(log_weights, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_f2 = np.log(values**2)
    log_w = np.logaddexp.accumulate(np.logaddexp.reduce(lw, axis=0), axis=0)  # (N,)
    log_wf2 = np.logaddexp.accumulate(np.logaddexp.reduce(lw[..., None] + log_f2, axis=0), axis=0)
    return np.exp(log_wf2 - log_w[:, None])


def truth_of_squares(target: Target) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(index, mean, sd, sd of f^2) of the statistics with a known E[f^2] = sd^2 + mean^2 and Var[f^2] > 0.

    Parameters
    ----------
    target
        The target whose statistics are read.

    Returns
    -------
    tuple of numpy.ndarray
        The indices of those statistics, their true means, sds and sds of f^2.
    """
    stats = target.statistics
    keep = np.array(
        [
            i
            for i, s in enumerate(stats)
            if s.sq_sd is not None and np.isfinite([s.mean, s.sd, s.sq_sd]).all() and s.sq_sd > 0
        ],
        dtype=int,
    )
    return (
        keep,
        np.array([stats[i].mean for i in keep]),
        np.array([stats[i].sd for i in keep]),
        np.array([stats[i].sq_sd for i in keep]),
    )


def bias2_curves(target: Target, values: np.ndarray, log_weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """bias2_n (max and avg over the statistics with known squares) after n = 1..N draws per chain.

    Parameters
    ----------
    target
        The target, with its ground truth.
    values
        The statistics at the draws, shape (chains, N, n_statistics).
    log_weights
        The draws' importance log weights (chains, N); None: unweighted.

    Returns
    -------
    dict of str to numpy.ndarray
        `max` and `avg`, each (N,) (a NaN estimate counts as inf); {} when the target has no such statistic.
    """
    keep, mean, sd, sq_sd = truth_of_squares(target)
    if keep.size == 0:
        return {}
    curve = bias2(running_second(np.asarray(values)[..., keep], log_weights), mean, sd, sq_sd)
    curve = np.where(np.isnan(curve), np.inf, curve)  # a running estimate that is not a number is not converged
    return {"max": curve.max(axis=1), "avg": curve.mean(axis=1)}


def settled(curve: np.ndarray, threshold: float = BIAS2_MAX) -> np.ndarray | float:
    """n* (1-based draws per chain) after which `curve` stays <= threshold; inf where it never does within N.

    See the module docstring.

    Parameters
    ----------
    curve
        bias2_n, shape (N,) or (N, k).
    threshold
        The level it must stay at or below.

    Returns
    -------
    float or numpy.ndarray
        n*, a float for a 1-D curve, else (k,).
    """
    curve = np.asarray(curve, dtype=float)
    above = ~(curve <= threshold)
    last_above = curve.shape[0] - 1 - np.argmax(above[::-1], axis=0)  # 0-based, valid where above.any()
    n = np.where(above.any(axis=0), last_above + 2, 1).astype(float)
    n = np.where(above[-1], NEVER, n)
    return float(n) if n.ndim == 0 else n


def cumulative_cost(cost: Cost, num_draws: int, n_steps: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Gradients, log densities and seconds spent after n = 1..N draws per chain (module doc).

    Parameters
    ----------
    cost
        The run's cost (warm-up and sampling evaluations and seconds).
    num_draws
        N, the draws per chain.
    n_steps
        The per-draw gradient counts (..., N) where the sampler records them; None: pro rata.

    Returns
    -------
    dict
        `grads`, `logdens`, `seconds` and `draws`, each (N,), and `counting`: `per-draw` when some phase used
        the recorded per-draw counts, else `pro rata`.
    """
    share = np.arange(1, num_draws + 1) / num_draws
    per_draw = None
    if n_steps is not None and np.shape(n_steps)[-1:] == (num_draws,):
        per_draw = np.cumsum(np.asarray(n_steps, dtype=np.float64).reshape(-1, num_draws).sum(axis=0))
    used = False

    def spent(warmup: int, sampling: int) -> np.ndarray:
        nonlocal used
        if per_draw is not None and sampling > 0 and per_draw[-1] == sampling:
            used = True
            return warmup + per_draw
        return warmup + sampling * share

    return {
        "grads": spent(cost.grad_evals_warmup, cost.grad_evals_sampling),
        "logdens": spent(cost.logdensity_evals_warmup, cost.logdensity_evals_sampling),
        "seconds": cost.time_warmup + cost.time_sampling * share,
        "draws": share * num_draws,
        "counting": "per-draw" if used else "pro rata",
    }


def cost_to_accuracy(
    target: Target,
    values: np.ndarray,
    cost: Cost,
    log_weights: np.ndarray | None = None,
    n_steps: np.ndarray | None = None,
) -> dict:
    """The record's cost-to-accuracy columns.

    `<measure>_to_bias2_<kind>` (measure: draws per chain, grads, logdens, seconds; kind: max, avg over the
    statistics; inf = never), `bias2_<kind>_reached`, `bias2_avg` (at the last draw) and
    `bias2_cost_counting`; grads / logdens only when the sampler spent any.

    Parameters
    ----------
    target
        The target, with its ground truth.
    values
        The statistics at the draws, shape (chains, N, n_statistics).
    cost
        The run's cost.
    log_weights
        The draws' importance log weights; None: unweighted.
    n_steps
        The per-draw gradient counts, where the sampler records them.

    Returns
    -------
    dict
        The columns above; {} without statistics of known squares.
    """
    curves = bias2_curves(target, values, log_weights)
    if not curves:
        return {}
    spent = cumulative_cost(cost, np.shape(values)[1], n_steps)
    measures = [m for m in MEASURES if m in ("draws", "seconds") or spent[m][-1] > 0]
    row: dict = {"bias2_avg": float(curves["avg"][-1]), "bias2_cost_counting": spent["counting"]}
    for kind in KINDS:
        n = settled(curves[kind])
        row[f"bias2_{kind}_reached"] = bool(np.isfinite(n))
        for m in measures:
            row[f"{m}_to_bias2_{kind}"] = float(spent[m][int(n) - 1]) if np.isfinite(n) else NEVER
    return row


def from_draws(target: Target, draws: Draws, values: np.ndarray) -> dict:
    """`cost_to_accuracy` of a sampler's `Draws` (its weights and per-draw `n_steps`, where it has them).

    Parameters
    ----------
    target
        The target, with its ground truth.
    draws
        The sampler's draws.
    values
        The statistics at the draws (`bench.metrics.statistic_values`).

    Returns
    -------
    dict
        The cost-to-accuracy columns.
    """
    return cost_to_accuracy(target, values, draws.cost, draws.log_weights, draws.stats.get("n_steps"))


def restore_never(record: Mapping) -> dict:
    """The record with `inf` ("never") in the cost-to-accuracy columns of a kind not reached.

    A stored record holds null there (JSON has no inf), and `bias2_<kind>_reached` False.

    Parameters
    ----------
    record
        A record as read back from storage.

    Returns
    -------
    dict
        A copy with those columns set to inf.
    """
    out = dict(record)
    for kind in KINDS:
        reached = record.get(f"bias2_{kind}_reached")
        if reached is not None and reached == False:  # noqa: E712 - False, numpy's False or 0 (read back)
            for m in MEASURES:
                if f"{m}_to_bias2_{kind}" in record:
                    out[f"{m}_to_bias2_{kind}"] = NEVER
    return out
