"""`many_well`: dim/2 independent double wells (Midgley et al. 2023, FAB; Blessing et al. 2024, Beyond ELBOs).

Each pair (x1, x2) = (x[2j], x[2j+1]) has energy `E(x1, x2) = a x1 + b x1^2 + c x1^4 + x2^2 / 2` with
a = -0.5, b = -6, c = 1, so `log_prob(x) = -sum_j E(x[2j], x[2j+1])`: 2^(dim/2) modes, the sign patterns
of the x1's (the deeper well is at x1 ~ +1.7). Unnormalised, with

  log Z = (dim/2) (log Z1 + log(2 pi) / 2),   Z1 = int exp(-(a x + b x^2 + c x^4)) dx,

Z1 by adaptive quadrature (FAB and Beyond ELBOs use Z1 = 11784.50927: log Z = 164.69568 for dim = 32).
Moments of x1 by the same quadrature; x2 ~ N(0, 1). Exact draws: x1 by the inverse CDF on a fine grid
(piecewise-constant density, `well_sampler_log_density`), x2 normal.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, optimize

from targets.base import Target, Wells, check_size, coordinate_statistic, uniform_initial

A, B, C = -0.5, -6.0, 1.0
GRID_HALF_WIDTH = 4.0  # exp(-E1) at |x1| = 4 is e^-168 below its peak: no mass is lost
GRID_POINTS = 2**16 + 1
INIT_HALF_WIDTH = 3.0
STATISTIC_BYTES = 1024


def well_log_density(x):
    """-E1(x) = -(a x + b x^2 + c x^4): the unnormalised log density of a well's x1 (numpy or jax).

    Parameters
    ----------
    x
        x1 values, a NumPy or JAX array.

    Returns
    -------
    array
        -E1(x), elementwise.
    """
    return -(A * x + B * x**2 + C * x**4)


@functools.lru_cache(maxsize=1)
def well_quadrature() -> dict[str, float]:
    """log Z1, E[x1], E[x1^2], E[x1^4], the barrier and P(x1 > barrier), by adaptive quadrature (scipy.quad).

    Returns
    -------
    dict of str to float
        `log_Z1`, `m1`, `m2`, `m4` (the moments of x1), `barrier` (the saddle between the wells) and
        `p_upper` (P(x1 > barrier)).
    """
    shift = float(optimize.minimize_scalar(lambda x: -well_log_density(x), bounds=(0, 3), method="bounded").fun)
    dens = lambda x, k=0: x**k * math.exp(well_log_density(x) + shift)  # noqa: E731
    barrier = float(optimize.brentq(lambda x: A + 2 * B * x + 4 * C * x**3, -1.0, 1.0))
    pts = (-1.8, barrier, 1.8)
    quad = lambda k, lo=-np.inf, hi=np.inf: integrate.quad(  # noqa: E731
        dens,
        lo,
        hi,
        args=(k,),
        points=pts if np.isinf(lo) and np.isinf(hi) else None,
        epsabs=0,
        epsrel=1e-13,
        limit=200,
    )[0]
    z = quad(0, -20, 20)
    upper = integrate.quad(dens, barrier, 20, epsabs=0, epsrel=1e-13, limit=200)[0]
    return {
        "log_Z1": math.log(z) - shift,
        "m1": quad(1, -20, 20) / z,
        "m2": quad(2, -20, 20) / z,
        "m4": quad(4, -20, 20) / z,
        "barrier": barrier,
        "p_upper": upper / z,
    }


@functools.lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray]:
    """The x1 grid and its CDF (trapezoid rule, normalised to 1): the exact sampler's inverse CDF."""
    x = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)
    log_p = well_log_density(x)
    p = np.exp(log_p - log_p.max())
    cdf = np.concatenate([[0.0], np.cumsum((p[1:] + p[:-1]) / 2)])
    return x, cdf / cdf[-1]


def well_sampler_log_density(x1):
    """Log density of the exact sampler's x1 draws: piecewise constant, (F[i+1] - F[i]) / h on grid cell i.

    Parameters
    ----------
    x1
        x1 values, a JAX array.

    Returns
    -------
    jax.Array
        The log density, -inf outside the grid [-4, 4].
    """
    grid, cdf = (jnp.asarray(a) for a in _grid())
    h = grid[1] - grid[0]
    i = jnp.clip(jnp.floor((x1 - grid[0]) / h).astype(int), 0, grid.size - 2)
    inside = jnp.abs(x1) <= GRID_HALF_WIDTH
    return jnp.where(inside, jnp.log(cdf[i + 1] - cdf[i]) - jnp.log(h), -jnp.inf)


def many_well(dim: int = 32) -> Target:
    """ManyWell with dim/2 wells (dim even); chains start uniform in [-3, 3]^dim.

    Parameters
    ----------
    dim
        The dimension, an even integer >= 2.

    Returns
    -------
    Target
        The unnormalised ManyWell with log Z and the moments by quadrature, exact draws and its wells.

    Raises
    ------
    ValueError
        `dim` not an even integer >= 2, or too large for memory.
    """
    if int(dim) != dim or dim < 2 or dim % 2:
        raise ValueError(f"many_well: dim must be an even integer >= 2 (dim/2 wells), got {dim}")
    dim = int(dim)
    check_size("many_well", "dim", dim, STATISTIC_BYTES * dim, "one Statistic per coordinate", statistics=dim)
    wells = dim // 2
    q = well_quadrature()
    grid, cdf = _grid()

    def log_prob(x):
        x1, x2 = x[0::2], x[1::2]
        return jnp.sum(well_log_density(x1)) - 0.5 * jnp.sum(x2**2)

    def sample(key, n):
        key_u, key_z = jax.random.split(key)
        x1 = jnp.interp(jax.random.uniform(key_u, (n, wells)), jnp.asarray(cdf), jnp.asarray(grid))
        x2 = jax.random.normal(key_z, (n, wells))
        return jnp.stack([x1, x2], axis=-1).reshape(n, dim)

    var1 = q["m2"] - q["m1"] ** 2
    statistics = tuple(
        coordinate_statistic(i, f"x[{i}]", q["m1"], var1, q["m4"] - q["m2"] ** 2)
        if i % 2 == 0
        else coordinate_statistic(i, f"x[{i}]", 0.0, 1.0, 2.0)
        for i in range(dim)
    )
    log_Z = wells * (q["log_Z1"] + 0.5 * math.log(2 * math.pi))
    return Target(
        name="many_well",
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -INIT_HALF_WIDTH, INIT_HALF_WIDTH),
        statistics=statistics,
        log_Z=log_Z,
        sample=sample,
        params={"dim": dim},
        truth=f"log Z and x1 moments by quadrature; {2**wells} well-sign patterns (not counted as modes)",
        wells=Wells(coords=tuple(range(0, dim, 2)), barrier=q["barrier"], p_upper=q["p_upper"]),
    )
