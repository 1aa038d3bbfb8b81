"""Normalising-constant metrics for samplers that give importance weights (the VAE sampler).

KL bound    = L + log Z >= D_KL(q || mu), L the sampler's training bound (docs/method.md)
IW KL bound = L_K + log Z (Sobolev & Vetrov 2019), <= the KL bound
ELBO        = E_q[log w] <= log Z;  EUBO = E_{x ~ mu, z ~ P(z|x)}[log w] >= log Z (on exact draws)
|Delta log Z| = |log Z_hat - log Z|,  log Z_hat = logsumexp(log w) - log N
pareto_khat: the shape k of a generalised Pareto fit to the largest weights (Vehtari et al. 2024,
            "Pareto smoothed importance sampling", ArviZ's estimator). k > 0.5: the weights have
            infinite variance. The suite's estimates are raw self-normalised ones (no smoothing) with
            finite-variance standard errors (delta method, ArviZ's MCSE), so above KHAT_MAX = 0.5 the
            MCSE, the ESS and bias/MCSE of the sampler that uses these weights are unreliable
            (`khat_unreliable`); PSIS's 0.7 holds for Pareto-smoothed estimates only.
khat_unreliable: set for the samplers whose estimates rest on the weights of the k-hat (importance
            sampling, the independence chain: `info["diagnostics_weights"] == "own"`).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np
from arviz_stats.base import array_stats

from targets.base import Target

EUBO_POINTS = 10000
KHAT_MAX = 0.5  # above it the weights (and raw importance estimates) have infinite variance


def pareto_khat(log_weights) -> float:
    """Pareto k-hat of the right tail of the importance weights (ArviZ), from their logs.

    Parameters
    ----------
    log_weights
        The importance log weights (any shape).

    Returns
    -------
    float
        k-hat.
    """
    lw = np.asarray(log_weights, dtype=np.float64).ravel()
    return float(array_stats.pareto_khat(np.exp(lw - lw.max())[None, :], r_eff=1.0, tail="right"))


def khat_unreliable(khat: float) -> bool:
    """Whether raw importance estimates with weights of this Pareto k-hat have unreliable MCSEs (k > KHAT_MAX).

    Parameters
    ----------
    khat
        The weights' Pareto k-hat.

    Returns
    -------
    bool
        True when k-hat > KHAT_MAX or is NaN (no fit).
    """
    return bool(not khat <= KHAT_MAX)  # a NaN k-hat (no fit) is no evidence of reliability either


def _lse(a: np.ndarray) -> float:
    top = a.max()
    return float(top + np.log(np.sum(np.exp(a - top))))


def evidence(target: Target, info: Mapping, log_weight_fn, key, log_weights=None) -> dict:
    """Bounds and log Z columns from a sampler's `info` (the module docstring).

    A weighted sampler's own `log_weights` (all its draws) give its log Z_hat and importance ESS, instead of
    the sampler's evaluation batch.

    Parameters
    ----------
    target
        The target (its `log_Z`, `log_Z_offsets` and exact `sample`, where it has them).
    info
        The sampler's info: `log_Z_hat` and, where the sampler has them, its bounds and their errors.
    log_weight_fn
        `(key, x) -> log w` of exact draws x, for the EUBO; None: no EUBO.
    key
        The JAX random key of the exact draws.
    log_weights
        The weighted sampler's log weights of all its draws, (chains, ...); None: from `info`.

    Returns
    -------
    dict
        The columns; {} when `info` has no `log_Z_hat`.
    """
    row: dict = {}
    if "log_Z_hat" not in info:
        return row
    for name in (
        "loss",
        "loss_se",
        "iw_bound",
        "iw_bound_se",
        "elbo",
        "elbo_se",
        "log_Z_hat",
        "importance_ess",
        "pareto_khat",
    ):
        if name in info:
            row[name] = float(info[name])
    if log_weights is not None:
        lw = np.asarray(log_weights, dtype=np.float64).ravel()
        top = lw.max()
        row["log_Z_hat"] = float(top + np.log(np.mean(np.exp(lw - top))))
        row["importance_ess"] = float(np.exp(2 * _lse(lw) - _lse(2 * lw)) / lw.size)
        row["pareto_khat"] = pareto_khat(lw)
        # each chain's weights are an independent batch: the spread of the importance ESS over batches
        # shows how heavy-tailed the weights are (one batch's ESS can be far from the typical one)
        per_chain = np.asarray(log_weights, dtype=np.float64).reshape(np.shape(log_weights)[0], -1)
        ess = np.exp(2 * np.logaddexp.reduce(per_chain, axis=1) - np.logaddexp.reduce(2 * per_chain, axis=1))
        ess /= per_chain.shape[1]
        row["importance_ess_chain_median"] = float(np.median(ess))
        row["importance_ess_chain_min"], row["importance_ess_chain_max"] = float(ess.min()), float(ess.max())
    if log_weights is not None or info.get("diagnostics_weights") == "own":
        row["khat_unreliable"] = khat_unreliable(row.get("pareto_khat", float("nan")))
    for name, offset in target.log_Z_offsets.items():  # e.g. the spin system's log Z of a relaxation
        row[f"log_Z_hat_{name}"] = row["log_Z_hat"] - offset
    if target.log_Z is not None:
        if "loss" in info:  # a VAE's training bounds; other samplers with log Z_hat (e.g. SMC) have none
            row["kl_bound"] = info["loss"] + target.log_Z
            row["kl_bound_se"] = info["loss_se"]
            row["iw_kl_bound"] = info["iw_bound"] + target.log_Z
            row["iw_kl_bound_se"] = info["iw_bound_se"]
        row["abs_delta_log_Z"] = abs(row["log_Z_hat"] - target.log_Z)
    if log_weight_fn is not None and target.sample is not None:
        key_x, key_z = jax.random.split(key)
        log_w = np.asarray(log_weight_fn(key_z, target.sample(key_x, EUBO_POINTS)))
        row["eubo"], row["eubo_se"] = float(log_w.mean()), float(log_w.std() / np.sqrt(log_w.size))
    return row
