"""Continuous relaxation of a spin system by the Gaussian integral trick.

The trick as in Zhang, Sutton, Storkey & Ghahramani 2012, "Continuous relaxations for discrete Hamiltonian
Monte Carlo".

Spins: p(s) ∝ exp(s^T W s / 2 + b^T s), s in {-1, +1}^N, W symmetric with zero diagonal.
With a diagonal D making W + D positive definite and Q Q^T = W + D (Cholesky), s^T D s = tr D gives

    p(x, s) ∝ exp(-|x|^2 / 2 + s^T Q x + b^T s),   x | s ~ N(Q^T s, I),
    p(s_i = +1 | x) = sigmoid(2 a_i), a = Q x + b (the spins are independent given x),
    log_prob(x) = -|x|^2 / 2 + sum_i log cosh(a_i)     (x-marginal, unnormalised),
    log Z_s = log Z_x - (N/2) log 2 pi + N log 2 - tr(D) / 2.

D = (max(0, -lambda_min(W)) + margin) I: the smallest uniform shift that makes W + D positive definite,
plus `margin` so that the Cholesky factor is well conditioned (a larger D makes x less informative
about s). Statistics are Rao-Blackwellised, exact conditional expectations given x: E[m | x],
E[m^2 | x], E[|m| | x], E[energy | x] and the sign balance P(m > 0 | x) + P(m = 0 | x) / 2, the last
two through the Poisson-binomial law of the number of + spins (an O(N^2) recursion).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def shift(W: np.ndarray, margin: float) -> np.ndarray:
    """The diagonal D (as a vector) of the relaxation.

    D = (max(0, -lambda_min(W)) + margin) I (see the module docstring).

    Parameters
    ----------
    W
        The couplings, (N, N), symmetric.
    margin
        What is added to the smallest shift that makes W + D positive definite.

    Returns
    -------
    numpy.ndarray
        The diagonal of D, (N,).
    """
    lam_min = float(np.linalg.eigvalsh(W).min())
    return np.full(W.shape[0], max(0.0, -lam_min) + margin)


def log_cosh(a):
    """log cosh(a) = |a| + log1p(exp(-2|a|)) - log 2, finite for any finite a.

    Parameters
    ----------
    a
        A JAX array.

    Returns
    -------
    jax.Array
        log cosh(a), elementwise.
    """
    a = jnp.abs(a)
    return a + jnp.log1p(jnp.exp(-2 * a)) - math.log(2.0)


def spin_log_Z_offset(d: np.ndarray) -> float:
    """log Z_x - log Z_s = (N/2) log 2 pi - N log 2 + tr(D) / 2.

    Parameters
    ----------
    d
        The diagonal of D, (N,).

    Returns
    -------
    float
        log Z_x - log Z_s.
    """
    n = d.size
    return 0.5 * n * math.log(2 * math.pi) - n * math.log(2.0) + 0.5 * float(d.sum())


def count_distribution(p):
    """Law of the number of + spins, k = 0..N, for independent P(s_i = +1) = p_i (Poisson binomial).

    Parameters
    ----------
    p
        The probabilities P(s_i = +1), (N,).

    Returns
    -------
    jax.Array
        P(k + spins), k = 0..N, shape (N + 1,).
    """
    n = p.shape[-1]

    def add(dist, pi):
        return dist * (1 - pi) + jnp.concatenate([jnp.zeros(1, dist.dtype), dist[:-1]]) * pi, None

    dist0 = jnp.zeros(n + 1, p.dtype).at[0].set(1.0)
    return jax.lax.scan(add, dist0, p)[0]


def conditional_statistics(x, Q, b, W):
    """Rao-Blackwellised statistics of the spins given x (see the module docstring).

    Parameters
    ----------
    x
        The continuous variable, (N,).
    Q
        The Cholesky factor of W + D, (N, N).
    b
        The field, (N,).
    W
        The couplings, (N, N), zero diagonal.

    Returns
    -------
    dict of str to jax.Array
        `m`, `m^2`, `|m|`, `energy` and `sign`: E[m | x], E[m^2 | x], E[|m| | x], E[energy | x] and
        P(m > 0 | x) + P(m = 0 | x) / 2.
    """
    a = Q @ x + b
    t = jnp.tanh(a)  # E[s_i | x]
    n = t.shape[-1]
    m = jnp.mean(t)
    m2 = (jnp.sum(t) ** 2 - jnp.sum(t**2) + n) / n**2
    dist = count_distribution(jax.nn.sigmoid(2 * a))
    k = jnp.arange(n + 1)
    mag = (2 * k - n) / n
    abs_m = jnp.sum(dist * jnp.abs(mag))
    sign = jnp.sum(dist * jnp.where(mag > 0, 1.0, jnp.where(mag == 0, 0.5, 0.0)))
    energy = -(t @ W @ t / 2 + b @ t)  # W has a zero diagonal: E[s_i s_j | x] = t_i t_j for i != j
    return {"m": m, "m^2": m2, "|m|": abs_m, "energy": energy, "sign": sign}
