"""`banana`: Haario et al.'s twisted Gaussian (Haario, Saksman, Tamminen 1999), as in Inference Gym's Banana.

`y ~ N(0, diag(s^2, 1, ..., 1))` with s = 10, and `x = y` except `x1 = y1 + b (y0^2 - s^2)` (curvature b,
0.03 in the MCLMC/MAMS benchmarks). The shift has unit Jacobian, so the density
`log p(x) = log N(x0; 0, s^2) + log N(x1 - b (x0^2 - s^2); 0, 1) + sum_{i>=2} log N(x_i; 0, 1)` is normalised:
log Z = 0, and exact draws are the transformation of normal draws.

Ground truth (u = y0 / s ~ N(0, 1), z = b s^2 (u^2 - 1), E[(u^2-1)^2] = 2, E[(u^2-1)^4] = 60):
E[x0] = 0, Var[x0] = s^2, Var[x0^2] = 2 s^4;  E[x1] = 0, Var[x1] = 1 + E[z^2] = 1 + 2 b^2 s^4,
E[x1^4] = 3 + 6 E[z^2] + E[z^4] with E[z^4] = 60 b^4 s^8;  x_i ~ N(0, 1) for i >= 2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

from targets.base import Target, check_finite, check_size, coordinate_statistic, uniform_initial

SCALE = 10.0
STATISTIC_BYTES = 1024


def banana(dim: int = 2, curvature: float = 0.03) -> Target:
    """The banana in `dim` >= 2 dimensions with curvature b >= 0; chains start uniform in [-2, 2]^dim.

    Parameters
    ----------
    dim
        The dimension, an integer >= 2.
    curvature
        The curvature b, in [0, 1] (0.03 in the published benchmarks).

    Returns
    -------
    Target
        The banana, normalised (log Z = 0), with exact draws and the closed-form moments of every coordinate
        (headline `x[1]`).

    Raises
    ------
    ValueError
        `dim` not an integer >= 2, `curvature` not finite or outside [0, 1], or a `dim` too large for memory.
    """
    if int(dim) != dim or dim < 2:
        raise ValueError(f"banana: dim must be an integer >= 2, got {dim}")
    check_finite("banana", curvature=curvature)
    if curvature < 0 or curvature > 1:
        raise ValueError(f"banana: curvature must be in [0, 1] (0.03 in the published benchmarks), got {curvature}")
    dim, b = int(dim), float(curvature)
    check_size("banana", "dim", dim, STATISTIC_BYTES * dim, "one Statistic per coordinate", statistics=dim)

    def log_prob(x):
        y1 = x[1] - b * (x[0] ** 2 - SCALE**2)
        return norm.logpdf(x[0], 0.0, SCALE) + norm.logpdf(y1) + jnp.sum(norm.logpdf(x[2:]))

    def sample(key, n):
        y = jax.random.normal(key, (n, dim)).at[:, 0].multiply(SCALE)
        return y.at[:, 1].add(b * (y[:, 0] ** 2 - SCALE**2))

    ez2, ez4 = 2 * b**2 * SCALE**4, 60 * b**4 * SCALE**8
    var1, m4 = 1 + ez2, 3 + 6 * ez2 + ez4
    statistics = [
        coordinate_statistic(0, "x[0]", 0.0, SCALE**2, 2 * SCALE**4),
        coordinate_statistic(1, "x[1]", 0.0, var1, m4 - var1**2),
    ]
    statistics += [coordinate_statistic(i, f"x[{i}]", 0.0, 1.0, 2.0) for i in range(2, dim)]
    return Target(
        name="banana",
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -2.0, 2.0),
        statistics=tuple(statistics),
        log_Z=0.0,
        sample=sample,
        params={"dim": dim, "curvature": b},
        headline="x[1]",
    )
