"""Distances between a sampler's draws and exact draws of the target.

MMD (Gretton et al. 2012), unbiased U-statistic estimate of
  MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y),   k(x, y) = exp(-|x - y|^2 / (2 h^2)),
with h the median pairwise distance of the pooled sample (the median heuristic).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist, squareform


def thin_to(positions: np.ndarray, n: int) -> np.ndarray:
    """At most n draws, evenly spaced along each chain, from (chains, draws, dim) -> (n', dim)."""
    chains, draws, dim = positions.shape
    per_chain = max(1, min(draws, n // chains))
    idx = np.linspace(0, draws - 1, per_chain).round().astype(int)
    return positions[:, idx, :].reshape(-1, dim)


def mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between samples x (n, dim) and y (m, dim), Gaussian kernel, median bandwidth."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n, m = len(x), len(y)
    condensed = pdist(np.concatenate([x, y]), "sqeuclidean")
    h2 = np.median(condensed)  # (median distance)^2
    k = squareform(np.exp(-condensed / (2 * h2)))  # zero diagonal: the U-statistic drops i == j
    kxx = k[:n, :n].sum() / (n * (n - 1))
    kyy = k[n:, n:].sum() / (m * (m - 1))
    return float(kxx + kyy - 2 * k[:n, n:].mean())


def resample(key, points: np.ndarray, log_weights: np.ndarray, n: int) -> np.ndarray:
    """n equally weighted draws from weighted points (multinomial resampling)."""
    import jax
    idx = jax.random.categorical(key, jax.numpy.asarray(log_weights), shape=(n,))
    return np.asarray(points)[np.asarray(idx)]
