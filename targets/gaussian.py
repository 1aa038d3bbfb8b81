"""A correlated Gaussian, the sanity target that every correct sampler passes.

`x ~ N(mu, Sigma)` with `Sigma = R diag(lambda) R^T`: eigenvalues log-spaced from 1 to `condition`
(so cond(Sigma) = condition exactly) and R a fixed random rotation; `mu` a fixed vector. Both come
from NumPy's PCG64 with seed 0, whose stream NumPy keeps stable across releases, so the target never
changes with a JAX release. Normalised: log Z = 0. Var[x_i^2] = 2 s_i^4 + 4 mu_i^2 s_i^2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from targets.base import Target, check_size, coordinate_statistic, uniform_initial


def gaussian_parameters(dim: int, condition: float) -> tuple[np.ndarray, np.ndarray]:
    """The fixed (mean, covariance) of the `gaussian` target.

    Parameters
    ----------
    dim
        The dimension.
    condition
        The condition number of the covariance (eigenvalues log-spaced from 1 to it).

    Returns
    -------
    tuple of numpy.ndarray
        The mean (dim,) and the symmetric covariance (dim, dim).
    """
    rng = np.random.default_rng(0)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    rotation = q * np.sign(np.diag(r))  # Haar-distributed rotation (sign fix of the QR factor)
    eigenvalues = np.logspace(0.0, np.log10(condition), dim) if dim > 1 else np.ones(1)
    cov = (rotation * eigenvalues) @ rotation.T
    mean = rng.standard_normal(dim)
    return mean, (cov + cov.T) / 2


DENSE_COPIES = (
    8  # dim x dim float64 arrays held at once: normals, QR factors, rotation, covariance, Cholesky, precision
)


def gaussian(dim: int = 10, condition: float = 100.0) -> Target:
    """Correlated Gaussian in `dim` dimensions with condition number `condition` (1 when dim = 1).

    Parameters
    ----------
    dim
        The dimension, an integer >= 1.
    condition
        The covariance's condition number, in [1, 1e10].

    Returns
    -------
    Target
        N(mu, Sigma), normalised (log Z = 0), with exact draws and every coordinate's moments; chains start
        uniform in [-2, 2]^dim.

    Raises
    ------
    ValueError
        `dim` not an integer >= 1, `condition` outside [1, 1e10], or a `dim` too large for memory.
    """
    if int(dim) != dim or dim < 1:
        raise ValueError(f"gaussian: dim must be an integer >= 1, got {dim}")
    if not 1.0 <= condition <= 1e10:  # also refuses nan and inf
        raise ValueError(f"gaussian: condition must be in [1, 1e10], got {condition}")
    dim = int(dim)
    check_size(
        "gaussian",
        "dim",
        dim,
        DENSE_COPIES * 8.0 * dim * dim,
        f"{DENSE_COPIES} dense {dim} x {dim} float64 matrices: the rotation, covariance and its factors",
        statistics=dim,
    )
    if dim == 1:
        condition = 1.0  # one eigenvalue: the condition number is 1 whatever was asked
    mean_np, cov_np = gaussian_parameters(dim, condition)
    chol_np = np.linalg.cholesky(cov_np)
    precision_np = np.linalg.inv(cov_np)
    log_norm = -0.5 * dim * np.log(2 * np.pi) - np.log(np.diag(chol_np)).sum()

    def log_prob(x):
        """log N(x; mu, Sigma) with the precision and normaliser computed once, in NumPy float64."""
        r = x - jnp.asarray(mean_np)
        return log_norm - 0.5 * r @ jnp.asarray(precision_np) @ r

    def sample(key, n):
        return jnp.asarray(mean_np) + jax.random.normal(key, (n, dim)) @ jnp.asarray(chol_np).T

    var = np.diag(cov_np)
    statistics = tuple(
        coordinate_statistic(i, f"x[{i}]", mean_np[i], var[i], 2 * var[i] ** 2 + 4 * mean_np[i] ** 2 * var[i])
        for i in range(dim)
    )
    return Target(
        name="gaussian",
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -2.0, 2.0),
        statistics=statistics,
        log_Z=0.0,
        sample=sample,
        params={"dim": dim, "condition": float(condition)},
    )
