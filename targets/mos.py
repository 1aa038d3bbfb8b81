"""`mos`: mixture of 10 Student-t's (Blessing et al. 2024, Beyond ELBOs), equal weights, heavy tails.

Component k is a product of Student-t(df = 2, loc = m_k[i], scale = 1) over coordinates, with locations
`jax.random.uniform(PRNGKey(0), (10, d), minval=-10, maxval=10)` (float32, non-partitionable threefry;
stored under `targets/data/` so they never change with a JAX release). Normalised: log Z = 0.

With df = 2 every coordinate has infinite variance, so the statistics are bounded: `P(x[i] > 0)`, f = 1{x_i > 0},
whose truth is closed form through the t_2 CDF F(t) = 1/2 + t / (2 sqrt(2 + t^2)):
E[f] = p_i = avg_k F(m_k[i]),  sd[f] = sqrt(p_i (1 - p_i)),  and f^2 = f.
Importance weights against a light-tailed proposal have infinite variance here: a test of the weights.
"""

from __future__ import annotations

import importlib.resources
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jax.scipy.stats import t as student_t

from targets.base import Modes, Statistic, Target, uniform_initial

N_COMPONENTS = 10
DF = 2.0
LOC_RANGE = 10.0
STORED_DIMS = (2, 50)


def mos_locs(dim: int) -> np.ndarray:
    """The stored (10, dim) locations of the published instance.

    Parameters
    ----------
    dim
        The dimension, one of `STORED_DIMS`.

    Returns
    -------
    numpy.ndarray
        The locations, (10, dim).

    Raises
    ------
    ValueError
        `dim` is not one of the stored dimensions.
    """
    if dim not in STORED_DIMS:
        raise ValueError(
            f"mos: dim must be one of {', '.join(map(str, STORED_DIMS))} (the stored published instances), got {dim}"
        )
    path = importlib.resources.files("targets") / "data" / f"mos_locs_d{dim}.txt"
    with importlib.resources.as_file(path) as p:
        return np.loadtxt(p, ndmin=2)


def t2_cdf(t):
    """CDF of Student-t with 2 degrees of freedom: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).

    Parameters
    ----------
    t
        The points, a NumPy array or scalar.

    Returns
    -------
    numpy.ndarray
        F(t), elementwise.
    """
    return 0.5 + t / (2 * np.sqrt(2 + t**2))


def t2_draws(key_z, key_e, shape):
    """Student-t(2) draws T = Z / sqrt(E), Z ~ N(0, 1), E = -log U ~ Exp(1) = chi^2_2 / 2.

    U is uniform on [tiny, 1) so that E > 0 (jax.random.t's gamma draws do the same, more slowly).

    Parameters
    ----------
    key_z
        The JAX random key of the normal draws Z.
    key_e
        The JAX random key of the uniform draws U.
    shape
        The shape of the draws.

    Returns
    -------
    jax.Array
        The Student-t(2) draws, shaped `shape`.
    """
    z = jax.random.normal(key_z, shape)
    u = jax.random.uniform(key_e, shape, dtype=z.dtype, minval=jnp.finfo(z.dtype).tiny, maxval=1.0)
    return z / jnp.sqrt(-jnp.log(u))


def _positive(i: int):
    return lambda x: jnp.where(x[..., i] > 0, 1.0, 0.0)


def mos(dim: int = 2) -> Target:
    """The 10-component Student-t mixture; chains start uniform over the box [-10, 10]^dim.

    Parameters
    ----------
    dim
        The dimension, one of `STORED_DIMS`.

    Returns
    -------
    Target
        The mixture, normalised (log Z = 0), with exact draws, its 10 modes and the sign probabilities
        P(x[i] > 0) in closed form as statistics.

    Raises
    ------
    ValueError
        `dim` is not one of the stored dimensions.
    """
    locs = mos_locs(dim)

    def component_log_probs(x):
        return jnp.sum(student_t.logpdf(x - jnp.asarray(locs), DF), axis=-1)

    def log_prob(x):
        return logsumexp(component_log_probs(x)) - math.log(N_COMPONENTS)

    def sample(key, n):
        key_k, key_z, key_e = jax.random.split(key, 3)
        k = jax.random.randint(key_k, (n,), 0, N_COMPONENTS)
        return jnp.asarray(locs)[k] + t2_draws(key_z, key_e, (n, dim))

    def assign(x):
        """The component of highest density at x (equal weights), as Beyond ELBOs' mode entropy assigns."""
        return jnp.argmax(component_log_probs(x), axis=-1)

    p = t2_cdf(locs).mean(0)
    sd = np.sqrt(p * (1 - p))
    statistics = tuple(
        Statistic(name=f"P(x[{i}]>0)", fn=_positive(i), mean=float(p[i]), sd=float(sd[i]), sq_sd=float(sd[i]))
        for i in range(dim)
    )
    return Target(
        name="mos",
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -LOC_RANGE, LOC_RANGE),
        statistics=statistics,
        log_Z=0.0,
        sample=sample,
        modes=Modes(count=N_COMPONENTS, assign=assign),
        params={"dim": dim},
        truth="sign probabilities P(x_i > 0) in closed form (the t_2 CDF)",
    )
