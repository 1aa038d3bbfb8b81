"""Distances between a sampler's draws and exact draws of the target.

MMD (Gretton et al. 2012) of
  MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y),   k(x, y) = exp(-|x - y|^2 / (2 h^2)),
with h the median pairwise distance of the pooled sample (the median heuristic). Equally weighted
draws x_1..x_n (MCMC): the U-statistic, each term averaged over distinct pairs (unbiased for iid draws;
on thinned chains, ties from rejections and autocorrelation still inflate it). Weighted draws, with
normalised weights wb_i:
  sum_{i != j} wb_i wb_j k(x_i, x_j) / (1 - sum_i wb_i^2) + k_yy - 2 sum_i wb_i mean_j k(x_i, y_j),
k_yy the U-statistic of the exact draws: unbiased when the weights are independent of x, consistent
for self-normalised importance weights; uniform weights give the U-statistic back.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist, squareform


def thin_to(positions: np.ndarray, n: int) -> np.ndarray:
    """At most n draws, evenly spaced along each chain, from (chains, draws, dim) -> (n', dim).

    Parameters
    ----------
    positions
        The draws, shape (chains, draws, dim).
    n
        The most draws kept in all (at least one per chain).

    Returns
    -------
    numpy.ndarray
        The kept draws, shape (n', dim).
    """
    chains, draws, dim = positions.shape
    return positions[:, _thin_index(draws, chains, n), :].reshape(-1, dim)


def thin_weighted_to(positions: np.ndarray, log_weights: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`thin_to` for weighted draws: the same draws and their log weights, (n', dim) and (n',).

    Parameters
    ----------
    positions
        The draws, shape (chains, draws, dim).
    log_weights
        Their log weights, shape (chains, draws).
    n
        The most draws kept in all.

    Returns
    -------
    tuple of numpy.ndarray
        The kept draws (n', dim) and their log weights (n',).
    """
    chains, draws, _ = positions.shape
    idx = _thin_index(draws, chains, n)
    return thin_to(positions, n), np.asarray(log_weights)[:, idx].ravel()


def _thin_index(draws: int, chains: int, n: int) -> np.ndarray:
    per_chain = max(1, min(draws, n // chains))
    return np.linspace(0, draws - 1, per_chain).round().astype(int)


def mmd2(x: np.ndarray, y: np.ndarray, log_weights: np.ndarray | None = None) -> float:
    """MMD^2 between draws x, weighted by exp(log_weights) if given, and exact draws y.

    The U-statistic, or the weighted statistic of the module doc; Gaussian kernel, median bandwidth.

    Parameters
    ----------
    x
        The sampler's draws, shape (n, dim).
    y
        Exact draws of the target, shape (m, dim).
    log_weights
        The log weights of x (n,); None: equally weighted.

    Returns
    -------
    float
        The MMD^2 estimate.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n, m = len(x), len(y)
    if log_weights is None:
        w = np.full(n, 1.0 / n)
    else:
        lw = np.asarray(log_weights, dtype=np.float64).ravel()
        w = np.exp(lw - lw.max())
        w /= w.sum()
    condensed = pdist(np.concatenate([x, y]), "sqeuclidean")
    h2 = np.median(condensed)  # (median distance)^2
    k = squareform(np.exp(-condensed / (2 * h2)))  # zero diagonal: the sums drop i == j
    kxx = w @ k[:n, :n] @ w / (1 - np.sum(w**2))
    kyy = k[n:, n:].sum() / (m * (m - 1))
    return float(kxx + kyy - 2 * w @ k[:n, n:].mean(axis=1))


def resample(key, points: np.ndarray, log_weights: np.ndarray, n: int) -> np.ndarray:
    """n equally weighted draws from weighted points (multinomial resampling).

    Parameters
    ----------
    key
        The JAX random key of the resampling.
    points
        The weighted points, shape (N, dim).
    log_weights
        Their log weights (N,).
    n
        The number of draws.

    Returns
    -------
    numpy.ndarray
        The resampled points, shape (n, dim).
    """
    import jax

    idx = jax.random.categorical(key, jax.numpy.asarray(log_weights), shape=(n,))
    return np.asarray(points)[np.asarray(idx)]
