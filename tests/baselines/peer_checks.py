"""Checks shared by the peer samplers' tests: a counting log density, the exact-moment check on the
2-D correlated Gaussian, and a run with XLA's optimisations off (for the counting runs).

Moment check: every mean and every second central moment E[(x_i - mu_i)(x_j - mu_j)] = Sigma_ij must
lie within Z_SE = 4 Monte Carlo standard errors of the truth, the MCSE from ArviZ (`az.mcse(...,
method="mean")`, autocorrelation-aware, over chains x draws): two-sided normal tail 6.3e-5 per check,
5 checks in 2-D.
"""

from __future__ import annotations

import contextlib

import arviz as az
import jax
import numpy as np

from targets.gaussian import gaussian, gaussian_parameters

DIM = 2
Z_SE = 4.0


def target():
    return gaussian(dim=DIM)


def counting_log_density(log_prob):
    """`log_prob` that counts, on the host, every point at which it is evaluated (a gradient through
    value_and_grad counts once, as in tests/baselines/test_hmc.py)."""
    counter = {"points": 0}

    def count(x):
        x = np.asarray(x)
        counter["points"] += x.size // x.shape[-1]

    def counted(x):
        jax.debug.callback(count, x)
        return log_prob(x)

    return counted, counter


@contextlib.contextmanager
def unoptimised():
    """Compile without XLA's optimisations: they cannot change how often a side-effecting callback runs,
    and compiling is seconds faster."""
    old = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", old)


def z_scores(positions: np.ndarray) -> dict:
    """(statistic -> (estimate - truth) / MCSE) for the means and second central moments."""
    mean, cov = gaussian_parameters(DIM, 100.0)
    x = np.asarray(positions)
    out = {}
    mcse = np.asarray(az.mcse(x, method="mean"))
    for i in range(DIM):
        out[f"mean[{i}]"] = (x[..., i].mean() - mean[i]) / mcse[i]
    c = x - mean
    for i in range(DIM):
        for j in range(i, DIM):
            prod = c[..., i] * c[..., j]
            out[f"cov[{i},{j}]"] = (prod.mean() - cov[i, j]) / float(az.mcse(prod, method="mean"))
    return out


def assert_recovers_gaussian(positions: np.ndarray) -> None:
    z = z_scores(positions)
    assert all(np.isfinite(v) for v in z.values()), z
    assert all(abs(v) < Z_SE for v in z.values()), z
