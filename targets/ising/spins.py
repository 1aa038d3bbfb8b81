"""Spin systems p(s) ∝ exp(s^T W s / 2 + b^T s), s in {-1, +1}^N, as NumPy (W, b) pairs.

Every generator returns W (N x N, symmetric, zero diagonal, float64) and b (N, float64). The energy
is E(s) = -(s^T W s / 2 + b^T s), so s^T W s / 2 = sum_{i<j} W_ij s_i s_j sums each coupling once.
"""

from __future__ import annotations

import numpy as np

BETA_C = 0.5 * np.log1p(np.sqrt(2.0))  # Onsager's critical coupling of the square lattice, ≈ 0.440687


def lattice(L: int, M: int, beta: float, h: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """2-D ferromagnet on the periodic L x M torus: W_ij = beta for nearest neighbours, b_i = h.

    Site (r, c), 0 <= r < L, 0 <= c < M, has index i = r * M + c; its neighbours are
    ((r +- 1) mod L, c) and (r, (c +- 1) mod M). There are 2 L M bonds, and
    s^T W s / 2 + b^T s = beta * sum_{<ij>} s_i s_j + h * sum_i s_i, beta = J / (k T)
    (the standard Ising Hamiltonian, e.g. Baxter 1982, "Exactly solved models", ch. 7).
    L, M >= 3: with a side of 2 the two periodic neighbours coincide.

    Parameters
    ----------
    L
        The number of rows, an integer >= 3.
    M
        The number of columns, an integer >= 3.
    beta
        The coupling beta = J / (k T) of every bond.
    h
        The external field on every site.

    Returns
    -------
    tuple of numpy.ndarray
        W (N x N, symmetric, zero diagonal) and b (N,), float64.

    Raises
    ------
    ValueError
        L or M not an integer >= 3.
    """
    if int(L) != L or int(M) != M or L < 3 or M < 3:
        raise ValueError(
            f"lattice: L and M must be integers >= 3 (a side of 2 makes the periodic "
            f"neighbours coincide), got L={L}, M={M}"
        )
    L, M = int(L), int(M)
    n = L * M
    idx = np.arange(n).reshape(L, M)
    right = np.roll(idx, -1, axis=1).ravel()  # (r, c+1 mod M)
    down = np.roll(idx, -1, axis=0).ravel()  # (r+1 mod L, c)
    W = np.zeros((n, n))
    sites = idx.ravel()
    W[sites, right] = beta
    W[sites, down] = beta
    W = W + W.T
    b = np.full(n, float(h))
    return W, b


def sherrington_kirkpatrick(N: int, beta: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sherrington-Kirkpatrick spin glass (Sherrington & Kirkpatrick 1975): W_ij = beta g_ij / sqrt(N).

    g_ij ~ N(0, 1) iid for i < j, drawn by `numpy.random.default_rng(seed).standard_normal` in the
    row-major order of the strict upper triangle (`np.triu_indices(N, 1)`); W_ji = W_ij, W_ii = 0; b = 0.

    Parameters
    ----------
    N
        The number of spins, an integer >= 2.
    beta
        The inverse temperature multiplying the couplings.
    seed
        The NumPy seed of the couplings.

    Returns
    -------
    tuple of numpy.ndarray
        W (N x N, symmetric, zero diagonal) and b (N,), float64.

    Raises
    ------
    ValueError
        N not an integer >= 2.
    """
    if int(N) != N or N < 2:
        raise ValueError(f"sherrington_kirkpatrick: N must be an integer >= 2, got {N}")
    N = int(N)
    rng = np.random.default_rng(seed)
    iu = np.triu_indices(N, 1)
    W = np.zeros((N, N))
    W[iu] = beta * rng.standard_normal(iu[0].size) / np.sqrt(N)
    W = W + W.T
    return W, np.zeros(N)


def boltzmann_machine_factors(N: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The factors (R, e, b) of `boltzmann_machine`: W = offdiag(R diag(e) R^T).

    With rng = numpy.random.default_rng(seed), drawn in this order: A ~ N(0, 1)^{N x N};
    R = Q diag(sign(diag(Rq))) from the QR decomposition A = Q Rq (the sign fix makes R Haar
    distributed on O(N), Mezzadri 2007); g ~ N(0, 1)^N, e = 6 tanh(2 g); b ~ 0.1 N(0, 1)^N.

    Parameters
    ----------
    N
        The number of spins, an integer >= 2.
    seed
        The NumPy seed of the draws.

    Returns
    -------
    tuple of numpy.ndarray
        R (N x N, orthogonal), e (N,) and b (N,).

    Raises
    ------
    ValueError
        N not an integer >= 2.
    """
    if int(N) != N or N < 2:
        raise ValueError(f"boltzmann_machine: N must be an integer >= 2, got {N}")
    N = int(N)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, N))
    Q, Rq = np.linalg.qr(A)
    R = Q * np.where(np.diag(Rq) < 0, -1.0, 1.0)
    e = 6.0 * np.tanh(2.0 * rng.standard_normal(N))
    b = 0.1 * rng.standard_normal(N)
    return R, e, b


def boltzmann_machine(N: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boltzmann machine as in Graham & Storkey (2017), "Continuously tempered Hamiltonian Monte Carlo".

    W = R diag(6 tanh(2 g)) R^T with R random orthogonal and g ~ N(0, 1)^N, then its diagonal set to
    zero (s_i^2 = 1 makes the diagonal a constant); b ~ 0.1 N(0, 1)^N. See `boltzmann_machine_factors`
    for the exact draws.

    Parameters
    ----------
    N
        The number of spins, an integer >= 2.
    seed
        The NumPy seed of the draws.

    Returns
    -------
    tuple of numpy.ndarray
        W (N x N, symmetric, zero diagonal) and b (N,), float64.

    Raises
    ------
    ValueError
        N not an integer >= 2.
    """
    R, e, b = boltzmann_machine_factors(N, seed)
    W = (R * e) @ R.T
    W = 0.5 * (W + W.T)  # exactly symmetric despite rounding
    np.fill_diagonal(W, 0.0)
    return W, b
