"""The spin-system generators: lattice geometry, SK and Boltzmann-machine couplings.

Exact identities are checked to rounding (1e-12); pinned values guard the seeded draws against silent
changes of the generator (rtol 1e-10 leaves room for LAPACK rounding in the QR of the Boltzmann machine).
"""

import itertools

import numpy as np
import pytest

from targets.ising.spins import boltzmann_machine, boltzmann_machine_factors, lattice, sherrington_kirkpatrick


@pytest.mark.parametrize("L,M", [(3, 3), (3, 4), (4, 6), (5, 3)])
def test_lattice_geometry(L, M):
    beta, h = 0.37, -0.2
    W, b = lattice(L, M, beta, h)
    n = L * M
    assert W.shape == (n, n) and b.shape == (n,)
    assert W.dtype == np.float64 and b.dtype == np.float64
    np.testing.assert_array_equal(W, W.T)
    np.testing.assert_array_equal(np.diag(W), 0.0)
    np.testing.assert_array_equal(b, h)
    # every site has exactly 4 distinct neighbours, each with coupling beta
    np.testing.assert_array_equal((W != 0).sum(axis=1), 4)
    np.testing.assert_array_equal(W[W != 0], beta)
    # 2 L M bonds, each counted twice in W: sum_ij W_ij = 2 * beta * (2 L M) = 4 beta N
    assert W.sum() == pytest.approx(4 * beta * n, rel=1e-14)
    # all spins up: s^T W s / 2 = beta * (number of bonds) = 2 beta L M
    s = np.ones(n)
    assert s @ W @ s / 2 == pytest.approx(2 * beta * L * M, rel=1e-14)


def test_lattice_matches_explicit_bond_sum():
    """s^T W s / 2 = beta * sum over the bonds ((r, c), (r+1, c)) and ((r, c), (r, c+1)), mod L, M."""
    L, M, beta = 3, 4, 0.8
    W, _ = lattice(L, M, beta)
    rng = np.random.default_rng(1)
    for _ in range(20):
        s = rng.choice([-1.0, 1.0], size=L * M)
        grid = s.reshape(L, M)
        bonds = sum(
            grid[r, c] * (grid[(r + 1) % L, c] + grid[r, (c + 1) % M]) for r, c in itertools.product(range(L), range(M))
        )
        assert s @ W @ s / 2 == pytest.approx(beta * bonds, abs=1e-12)
    # site (0, 0) = index 0: neighbours (0, 1) = 1, (0, 3) = 3, (1, 0) = 4, (2, 0) = 8
    assert set(np.flatnonzero(W[0])) == {1, 3, 4, 8}


@pytest.mark.parametrize("L,M", [(2, 4), (4, 2), (1, 5), (3.5, 4)])
def test_lattice_rejects_small_sides(L, M):
    with pytest.raises(ValueError, match=">= 3"):
        lattice(L, M, 0.5)


def test_sk():
    N, beta = 20, 1.0
    W, b = sherrington_kirkpatrick(N, beta, seed=0)
    np.testing.assert_array_equal(W, W.T)
    np.testing.assert_array_equal(np.diag(W), 0.0)
    np.testing.assert_array_equal(b, 0.0)
    np.testing.assert_array_equal(W, sherrington_kirkpatrick(N, beta, seed=0)[0])
    assert not np.array_equal(W, sherrington_kirkpatrick(N, beta, seed=1)[0])
    # the documented draw order: the strict upper triangle, row-major, from default_rng(seed)
    g = np.random.default_rng(0).standard_normal(N * (N - 1) // 2)
    np.testing.assert_array_equal(W[np.triu_indices(N, 1)], beta * g / np.sqrt(N))
    np.testing.assert_allclose(sherrington_kirkpatrick(N, 2.5, seed=0)[0], 2.5 * W, rtol=1e-15)
    # pinned values
    assert W[0, 1] == pytest.approx(0.028114132119090533, rel=1e-12)
    assert W[3, 17] == pytest.approx(0.2952416921953714, rel=1e-12)


def test_sk_scale():
    """sqrt(N) W_ij has unit variance: 19900 draws, the sample variance has SE sqrt(2/19900) = 0.01."""
    N = 200
    W, _ = sherrington_kirkpatrick(N, 1.0, seed=3)
    z = np.sqrt(N) * W[np.triu_indices(N, 1)]
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2 / z.size)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)


def test_boltzmann_machine():
    N = 20
    W, b = boltzmann_machine(N, seed=0)
    R, e, b2 = boltzmann_machine_factors(N, seed=0)
    np.testing.assert_array_equal(W, W.T)
    np.testing.assert_array_equal(np.diag(W), 0.0)
    np.testing.assert_array_equal(b, b2)
    # R is orthogonal, e = 6 tanh(2 g) lies in (-6, 6), W is the off-diagonal part of R diag(e) R^T
    np.testing.assert_allclose(R.T @ R, np.eye(N), atol=1e-12)
    assert np.all(np.abs(e) < 6)
    full = R @ np.diag(e) @ R.T
    off = ~np.eye(N, dtype=bool)
    np.testing.assert_allclose(W[off], full[off], atol=1e-12)
    # the documented draws: A (N x N), then g (N), then b (N) from default_rng(seed)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((N, N))
    g = rng.standard_normal(N)
    np.testing.assert_allclose(e, 6 * np.tanh(2 * g), rtol=1e-15)
    np.testing.assert_array_equal(b, 0.1 * rng.standard_normal(N))
    # R spans A's columns in order with a positive triangular factor: R^T A is upper triangular
    T = R.T @ A
    np.testing.assert_allclose(np.tril(T, -1), 0.0, atol=1e-12)
    assert np.all(np.diag(T) > 0)
    # deterministic per seed, pinned values
    np.testing.assert_array_equal(W, boltzmann_machine(N, seed=0)[0])
    assert not np.array_equal(W, boltzmann_machine(N, seed=1)[0])
    assert W[0, 1] == pytest.approx(1.297772784151661, rel=1e-10)
    assert W[3, 17] == pytest.approx(-1.2364553063959254, rel=1e-10)
    assert b[0] == pytest.approx(-0.1489645394382512, rel=1e-12)
    assert b[19] == pytest.approx(-0.05424352498635135, rel=1e-12)
