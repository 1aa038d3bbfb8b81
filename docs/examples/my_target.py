"""A skeleton target for VAE-Gibbs Bench: Haario's banana (Haario, Saksman & Tamminen 1999), a plain JAX log
density with its ground truth, no numpyro.

    python -m bench check-target docs/examples/my_target.py:banana --param dim=4
    python -m bench run --target docs/examples/my_target.py:banana --param dim=4 --sampler nuts

x = phi(y) with y ~ N(0, diag(100, 1, ..., 1)) and phi(y)_2 = y_2 - b (y_1^2 - 100), the other coordinates
unchanged: phi has Jacobian 1, so the density is normalised (log Z = 0), exact draws are phi(y), and
E[x_1] = 0, sd[x_1] = 10; E[x_2] = 0 (E[y_1^2] = 100), Var[x_2] = 1 + b^2 Var[y_1^2] = 1 + 2 b^2 100^2.
"""

import math

import jax
import jax.numpy as jnp

from targets.base import Statistic, Target, coordinate_statistic, uniform_initial

SD1 = 10.0


def banana(dim: int = 2, b: float = 0.03) -> Target:
    """Haario's twisted Gaussian in `dim` >= 2 dimensions with twist `b`."""
    if int(dim) != dim or dim < 2:
        raise ValueError(f"banana: dim must be an integer >= 2, got {dim}")
    if not math.isfinite(b):
        raise ValueError(f"banana: b must be finite, got {b}")
    dim = int(dim)
    scale = jnp.ones(dim).at[0].set(SD1)

    def log_prob(x):
        y = x.at[1].add(b * (x[0] ** 2 - SD1**2))
        return jnp.sum(jax.scipy.stats.norm.logpdf(y, 0.0, scale))

    def sample(key, n):
        y = jax.random.normal(key, (n, dim)) * scale
        return y.at[:, 1].add(-b * (y[:, 0] ** 2 - SD1**2))

    statistics = (
        coordinate_statistic(0, "x[0]", 0.0, SD1**2),
        coordinate_statistic(1, "x[1]", 0.0, 1 + 2 * b**2 * SD1**4),
        Statistic("x[0]^2", lambda x: x[0] ** 2, SD1**2, math.sqrt(2) * SD1**2),
    )
    return Target(
        name="haario_banana",
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -2.0, 2.0),
        statistics=statistics,
        log_Z=0.0,
        sample=sample,
        params={"dim": dim, "b": float(b)},
        headline="x[1]",
    )
