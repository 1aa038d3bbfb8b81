"""Accuracy against ground truth, per statistic f with true mean m, sd s and sd of f^2, s2.

  bias_mean_se = (E_hat[f] - m) / sqrt(mcse_mean^2 + se_truth^2)   significance, in Monte Carlo errors
  bias_mean_sd = (E_hat[f] - m) / s                                 size, in true standard deviations
  bias_sd_se   = (sd_hat[f] - s) / mcse_sd
  bias_sd_rel  = (sd_hat[f] - s) / s
  bias2        = (E_hat[f^2] - E[f^2])^2 / Var[f^2],  E[f^2] = s^2 + m^2, Var[f^2] = s2^2
                 (the normalised squared bias of the sampler-benchmarks convention,
                 e.g. Riou-Durand & Vogrinc / Sountsov et al.: values below 0.01 count as converged)
"""
from __future__ import annotations

import numpy as np


def accuracy(values: np.ndarray, mcse_mean: np.ndarray, mcse_sd: np.ndarray, truth_mean: np.ndarray,
             truth_sd: np.ndarray, truth_sq_sd: np.ndarray, truth_mean_se: np.ndarray) -> dict[str, np.ndarray]:
    """values: (chains, draws, n_statistics); truths: (n_statistics,), truth_sq_sd NaN where unknown."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
    mean, sd = flat.mean(0), flat.std(0, ddof=1)
    second = (flat**2).mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "mean": mean,
            "sd": sd,
            "bias_mean_se": (mean - truth_mean) / np.sqrt(mcse_mean**2 + truth_mean_se**2),
            "bias_mean_sd": (mean - truth_mean) / truth_sd,
            "bias_sd_se": (sd - truth_sd) / mcse_sd,
            "bias_sd_rel": (sd - truth_sd) / truth_sd,
            "bias2": (second - (truth_sd**2 + truth_mean**2)) ** 2 / truth_sq_sd**2,
        }
