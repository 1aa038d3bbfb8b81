"""Accuracy against ground truth, per statistic f with true mean m, sd s and sd of f^2, s2.

bias_mean_se = (E_hat[f] - m) / sqrt(mcse_mean^2 + se_truth^2)   significance, in Monte Carlo errors
bias_mean_sd = (E_hat[f] - m) / s                                 size, in true standard deviations
bias_sd_se   = (sd_hat[f] - s) / sqrt(mcse_sd^2 + sd_se_truth^2)   (sd_se_truth: the truth's own error)
bias_sd_rel  = (sd_hat[f] - s) / s
bias2        = (E_hat[f^2] - E[f^2])^2 / Var[f^2],  E[f^2] = s^2 + m^2, Var[f^2] = s2^2
               (the normalised squared bias of the sampler-benchmarks convention,
               e.g. Riou-Durand & Vogrinc / Sountsov et al.: values below 0.01 count as converged)
"""

from __future__ import annotations

import numpy as np


def moments(values: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, sd and E[f^2] of each statistic; values (chains, draws, n_statistics).

    Parameters
    ----------
    values
        The statistics at the draws, shape (chains, draws, n_statistics).

    Returns
    -------
    dict of str to numpy.ndarray
        `mean`, `sd` (ddof 1) and `second` (E[f^2]), each (n_statistics,), over all chains' draws pooled.
    """
    flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
    return {"mean": flat.mean(0), "sd": flat.std(0, ddof=1), "second": (flat**2).mean(0)}


def weighted_moments(values: np.ndarray, log_weights: np.ndarray) -> dict[str, np.ndarray]:
    """Self-normalised importance estimates with delta-method standard errors (Owen 2013, ch. 9):

    mean = sum_i wbar_i f_i,  mcse_mean = sqrt(sum_i wbar_i^2 (f_i - mean)^2),
    var  = sum_i wbar_i (f_i - mean)^2,  mcse_sd = sqrt(sum_i wbar_i^2 ((f_i - mean)^2 - var)^2) / (2 sd),
    ess  = 1 / sum_i wbar_i^2 (Kish), the same for every statistic.

    Parameters
    ----------
    values
        The statistics at the draws, shape (..., n_statistics).
    log_weights
        The draws' importance log weights (any shape with as many entries as draws).

    Returns
    -------
    dict of str to numpy.ndarray
        `mean`, `sd`, `second` (E[f^2]), `mcse_mean`, `mcse_sd`, `ess_bulk`, `ess_tail` (both the Kish ESS) and
        `rhat` (NaN: weighted draws are not chains), each (n_statistics,).
    """
    flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
    lw = np.asarray(log_weights, dtype=np.float64).ravel()
    w = np.exp(lw - lw.max())
    w /= w.sum()
    mean = w @ flat
    dev2 = (flat - mean) ** 2
    var = w @ dev2
    sd = np.sqrt(var)
    ess = np.full(flat.shape[1], 1.0 / np.sum(w**2))
    return {
        "mean": mean,
        "sd": sd,
        "second": w @ flat**2,
        "mcse_mean": np.sqrt(w**2 @ dev2),
        "mcse_sd": np.sqrt(w**2 @ (dev2 - var) ** 2) / (2 * sd),
        "ess_bulk": ess,
        "ess_tail": ess,
        "rhat": np.full(flat.shape[1], np.nan),
    }


def accuracy(
    mean: np.ndarray,
    sd: np.ndarray,
    second: np.ndarray,
    mcse_mean: np.ndarray,
    mcse_sd: np.ndarray,
    truth_mean: np.ndarray,
    truth_sd: np.ndarray,
    truth_sq_sd: np.ndarray,
    truth_mean_se: np.ndarray,
    truth_sd_se: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Bias columns from the estimates (the module docstring's equations); all arrays (n_statistics,).

    Parameters
    ----------
    mean
        The estimated means E_hat[f].
    sd
        The estimated sds sd_hat[f].
    second
        The estimated E[f^2].
    mcse_mean
        The Monte Carlo standard errors of the means.
    mcse_sd
        The Monte Carlo standard errors of the sds.
    truth_mean
        The true means m.
    truth_sd
        The true sds s.
    truth_sq_sd
        The true sds of f^2, s2; NaN where unknown.
    truth_mean_se
        The standard errors of a Monte Carlo truth's means (0 where exact).
    truth_sd_se
        The standard errors of a Monte Carlo truth's sds (0 where exact); None: 0.

    Returns
    -------
    dict of str to numpy.ndarray
        `mean`, `sd`, `bias_mean_se`, `bias_mean_sd`, `bias_sd_se`, `bias_sd_rel` and `bias2`.
    """
    truth_sd_se = np.zeros_like(truth_sd) if truth_sd_se is None else truth_sd_se
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "mean": mean,
            "sd": sd,
            "bias_mean_se": (mean - truth_mean) / np.sqrt(mcse_mean**2 + truth_mean_se**2),
            "bias_mean_sd": (mean - truth_mean) / truth_sd,
            "bias_sd_se": (sd - truth_sd) / np.sqrt(mcse_sd**2 + truth_sd_se**2),
            "bias_sd_rel": (sd - truth_sd) / truth_sd,
            "bias2": bias2(second, truth_mean, truth_sd, truth_sq_sd),
        }


def bias2(second, truth_mean, truth_sd, truth_sq_sd):
    """Normalised squared bias of an estimate `second` of E[f^2]: (second - (s^2 + m^2))^2 / s2^2 (module doc).

    Broadcasts, e.g. a running estimate (draws, n_statistics) against (n_statistics,) truths.

    Parameters
    ----------
    second
        The estimate of E[f^2].
    truth_mean
        The true means m.
    truth_sd
        The true sds s.
    truth_sq_sd
        The true sds of f^2, s2.

    Returns
    -------
    numpy.ndarray
        bias2, broadcast over the arguments.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return (second - (truth_sd**2 + truth_mean**2)) ** 2 / truth_sq_sd**2
