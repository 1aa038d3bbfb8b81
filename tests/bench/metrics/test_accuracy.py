"""Accuracy metrics: exact values on constructed draws."""

import numpy as np

from bench.metrics import accuracy
from bench.metrics.accuracy import moments


def _accuracy(values, mcse_mean, mcse_sd, truth_mean, truth_sd, truth_sq_sd, truth_mean_se):
    m = moments(values)
    return accuracy(
        m["mean"], m["sd"], m["second"], mcse_mean, mcse_sd, truth_mean, truth_sd, truth_sq_sd, truth_mean_se
    )


def test_bias_columns_are_exact_on_known_draws():
    values = np.array([1.0, 3.0, 1.0, 3.0]).reshape(1, 4, 1)  # mean 2, sd (ddof=1) sqrt(4/3), E[f^2] = 5
    out = _accuracy(
        values,
        mcse_mean=np.array([0.5]),
        mcse_sd=np.array([0.25]),
        truth_mean=np.array([1.0]),
        truth_sd=np.array([2.0]),
        truth_sq_sd=np.array([4.0]),
        truth_mean_se=np.array([0.0]),
    )
    sd = np.sqrt(4 / 3)
    np.testing.assert_allclose(out["bias_mean_se"], [(2 - 1) / 0.5])
    np.testing.assert_allclose(out["bias_mean_sd"], [(2 - 1) / 2])
    np.testing.assert_allclose(out["bias_sd_se"], [(sd - 2) / 0.25])
    np.testing.assert_allclose(out["bias_sd_rel"], [(sd - 2) / 2])
    np.testing.assert_allclose(out["bias2"], [(5 - (4 + 1)) ** 2 / 16])


def test_truth_standard_error_widens_the_significance_scale():
    values = np.full((1, 4, 1), 2.0)
    out = _accuracy(
        values,
        np.array([0.3]),
        np.array([1.0]),
        np.array([0.0]),
        np.array([1.0]),
        np.array([np.nan]),
        truth_mean_se=np.array([0.4]),
    )
    np.testing.assert_allclose(out["bias_mean_se"], [2.0 / 0.5])
    assert np.isnan(out["bias2"][0])  # unknown Var[f^2]: no normalised squared bias


def test_truth_sd_standard_error_widens_the_sd_significance_scale():
    # sd_hat = 0 (constant draws), truth sd 1: bias_sd_se = -1 / sqrt(0.3^2 + 0.4^2) = -2 exactly
    values = np.full((1, 4, 1), 2.0)
    m = moments(values)
    out = accuracy(
        m["mean"],
        m["sd"],
        m["second"],
        np.array([0.1]),
        np.array([0.3]),
        np.array([2.0]),
        np.array([1.0]),
        np.array([np.nan]),
        np.array([0.0]),
        truth_sd_se=np.array([0.4]),
    )
    np.testing.assert_allclose(out["bias_sd_se"], [-1.0 / 0.5])
    np.testing.assert_allclose(out["bias_sd_rel"], [-1.0])  # the size is unchanged by the truth's error
