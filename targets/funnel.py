"""Neal's funnel (Neal 2003): `v ~ N(0, 3^2)`, `x_i | v ~ N(0, e^v)` for i = 1..dim-1.

The density is normalised, so log Z = 0. Ground truth in closed form:
E[v] = 0, sd[v] = 3, Var[v^2] = 2 * 3^4;  E[x_i] = 0, Var[x_i] = E[e^v] = e^{9/2},
Var[x_i^2] = 3 E[e^{2v}] - E[e^v]^2 = 3 e^{18} - e^9  (lognormal moments E[e^{tv}] = e^{9 t^2 / 2}).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

from targets.base import Plot, Statistic, Target, check_size, coordinate_statistic, uniform_initial

V_SCALE = 3.0
STATISTIC_BYTES = 1024  # per coordinate: its Statistic (object, closure and name measure ~0.5 KiB) and more


def funnel(dim: int = 10) -> Target:
    """Neal's funnel in `dim` dimensions (x[0] is v); chains start uniform in [-2, 2]^dim.

    Parameters
    ----------
    dim
        The dimension, an integer >= 2.

    Returns
    -------
    Target
        The funnel, normalised (log Z = 0), with exact draws and the closed-form moments of every coordinate
        (headline `v`).

    Raises
    ------
    ValueError
        `dim` not an integer >= 2, or too large for memory.
    """
    if int(dim) != dim or dim < 2:
        raise ValueError(f"funnel: dim must be an integer >= 2, got {dim}")
    dim = int(dim)
    check_size("funnel", "dim", dim, STATISTIC_BYTES * dim, "one Statistic per coordinate", statistics=dim)

    def log_prob(x):
        v, rest = x[0], x[1:]
        return norm.logpdf(v, 0.0, V_SCALE) + jnp.sum(norm.logpdf(rest, 0.0, jnp.exp(v / 2)))

    def sample(key, n):
        eps = jax.random.normal(key, (n, dim))
        v = V_SCALE * eps[:, :1]
        return jnp.concatenate([v, jnp.exp(v / 2) * eps[:, 1:]], axis=1)

    var_x = math.exp(V_SCALE**2 / 2)
    var_sq_x = 3 * math.exp(2 * V_SCALE**2) - math.exp(V_SCALE**2)
    statistics: list[Statistic] = [coordinate_statistic(0, "v", 0.0, V_SCALE**2, 2 * V_SCALE**4)]
    statistics += [coordinate_statistic(i, f"x[{i}]", 0.0, var_x, var_sq_x) for i in range(1, dim)]
    return Target(
        name="funnel",
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -2.0, 2.0),
        statistics=tuple(statistics),
        log_Z=0.0,
        sample=sample,
        params={"dim": dim},
        headline="v",
        plot=Plot(coords=(0, 1), coord_names=("v", "x[1]"), limits=((-10, 10), (-30, 30))),
    )
