"""`gmm40`: 40 equal-weight, unit-variance Gaussians with means in [-40, 40]^d.

The published instance (Midgley et al. 2023, FAB; Blessing et al. 2024, Beyond ELBOs): means
`jax.random.uniform(PRNGKey(0), (40, d), minval=-1, maxval=1) * 40` in float32 with
`jax_threefry_partitionable=False`. They are stored under `targets/data/` so they never change with
a JAX release (`tests/targets/test_gmm40.py` regenerates them). Normalised: log Z = 0.

Ground truth of a coordinate, with m_k the k-th mean:
E[x] = avg m_k,  Var[x] = 1 + var(m_k),  E[x^2] = avg(m_k^2 + 1),  E[x^4] = avg(m_k^4 + 6 m_k^2 + 3).
"""

from __future__ import annotations

import importlib.resources

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from targets.base import Modes, Plot, Target, coordinate_statistic, uniform_initial

N_COMPONENTS = 40
LOC_SCALING = 40.0
STORED_DIMS = (2, 5, 10, 20, 50)


def gmm40_means(dim: int) -> np.ndarray:
    """The stored (40, dim) means of the published instance.

    Parameters
    ----------
    dim
        The dimension, one of `STORED_DIMS`.

    Returns
    -------
    numpy.ndarray
        The means, (40, dim).

    Raises
    ------
    ValueError
        `dim` is not one of the stored dimensions.
    """
    if dim not in STORED_DIMS:
        raise ValueError(
            f"gmm40: dim must be one of {', '.join(map(str, STORED_DIMS))} (the stored published instances), got {dim}"
        )
    path = importlib.resources.files("targets") / "data" / f"gmm40_means_d{dim}.txt"
    with importlib.resources.as_file(path) as p:
        return np.loadtxt(p, ndmin=2)


def gmm40(dim: int = 2) -> Target:
    """The 40-mode Gaussian mixture; chains start uniform over the box [-40, 40]^dim.

    Parameters
    ----------
    dim
        The dimension, one of `STORED_DIMS`.

    Returns
    -------
    Target
        The mixture, normalised (log Z = 0), with exact draws, every coordinate's moments and its 40 modes
        (each point assigned to the nearest mean).

    Raises
    ------
    ValueError
        `dim` is not one of the stored dimensions.
    """
    means_np = gmm40_means(dim)

    def log_prob(x):
        sq = jnp.sum((x - jnp.asarray(means_np)) ** 2, axis=-1)
        log_components = -0.5 * sq - 0.5 * dim * jnp.log(2 * jnp.pi)
        return logsumexp(log_components) - jnp.log(N_COMPONENTS)

    def sample(key, n):
        key_k, key_eps = jax.random.split(key)
        k = jax.random.randint(key_k, (n,), 0, N_COMPONENTS)
        return jnp.asarray(means_np)[k] + jax.random.normal(key_eps, (n, dim))

    def assign(x):
        """Index of the nearest mean: the most responsible component (equal weights, unit variances)."""
        return jnp.argmin(jnp.sum((x[..., None, :] - jnp.asarray(means_np)) ** 2, axis=-1), axis=-1)

    m = means_np
    mean, var = m.mean(0), 1.0 + m.var(0)
    second, fourth = (m**2 + 1).mean(0), (m**4 + 6 * m**2 + 3).mean(0)
    statistics = tuple(
        coordinate_statistic(i, f"x[{i}]", mean[i], var[i], fourth[i] - second[i] ** 2) for i in range(dim)
    )
    return Target(
        name="gmm40",
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -LOC_SCALING, LOC_SCALING),
        statistics=statistics,
        log_Z=0.0,
        sample=sample,
        modes=Modes(count=N_COMPONENTS, assign=assign),
        params={"dim": dim},
        plot=Plot(
            coords=(0, 1),
            limits=((-45, 45), (-45, 45)),
            equal=True,
            marks=tuple(map(tuple, m[:, :2].tolist())),
            marks_label="the 40 means",
        ),
    )
