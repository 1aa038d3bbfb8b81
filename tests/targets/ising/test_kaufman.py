"""Kaufman's finite-torus log Z against exact enumeration, Onsager's bulk free energy, and limits.

Enumeration sums 2^N terms in float64 (relative rounding ~1e-16 per term, log-sum-exp) and Kaufman's
formula is a handful of logs; both are accurate to ~1e-13 in log Z here (observed differences
< 1e-13), so the 1e-8 absolute tolerance of the issue has a wide margin while a wrong term (e.g. the
sign of gamma_0 flipped, which moves log Z by ~0.5) fails by orders of magnitude.
"""
import functools
import math

import numpy as np
import pytest

from targets.ising.exact import enumerate_spins
from targets.ising.kaufman import kaufman_gammas, kaufman_log_z
from targets.ising.spins import BETA_C, lattice

SHAPES = [(3, 3), (3, 5), (5, 3), (4, 4), (4, 5), (3, 7)]   # N = 9 .. 21
BETAS = [0.2, 0.4, BETA_C, 0.6, 1.0]                       # both sides of beta_c


@functools.lru_cache(maxsize=None)
def enumerated_log_z(L, M, beta):
    return enumerate_spins(*lattice(L, M, beta)).log_Z


def test_critical_coupling():
    assert BETA_C == pytest.approx(0.4406867935097715, rel=1e-15)
    # at beta_c the coupling is self-dual: K* = K, gamma_0 = 0
    assert kaufman_gammas(4, BETA_C)[0] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("L,M", SHAPES)
@pytest.mark.parametrize("beta", BETAS)
def test_kaufman_matches_enumeration(L, M, beta):
    assert kaufman_log_z(L, M, beta) == pytest.approx(enumerated_log_z(L, M, beta), abs=1e-8)


@pytest.mark.parametrize("beta", [0.3, 0.6])
def test_kaufman_matches_enumeration_n24(beta):
    """The largest enumerable torus, 4 x 6 (N = 24, ~1 s per enumeration), once on each side."""
    assert kaufman_log_z(4, 6, beta) == pytest.approx(enumerated_log_z(4, 6, beta), abs=1e-8)
    assert kaufman_log_z(6, 4, beta) == pytest.approx(enumerated_log_z(4, 6, beta), abs=1e-8)


@pytest.mark.parametrize("beta", [1e-9, 1e-3, BETA_C * (1 - 1e-9), BETA_C * (1 + 1e-9), 3.0, 12.0])
def test_kaufman_extreme_couplings(beta):
    """Tiny K (K* huge), |K - K*| ~ 1e-9 around beta_c, and deep in the ordered phase."""
    assert kaufman_log_z(3, 4, beta) == pytest.approx(enumerated_log_z(3, 4, beta), abs=1e-8)


def test_kaufman_limits():
    assert kaufman_log_z(5, 7, 0.0) == 35 * math.log(2)
    assert kaufman_log_z(5, 7, 1e-300) == pytest.approx(35 * math.log(2), abs=1e-10)
    # K -> infinity: the two ground states, log Z = log 2 + 2 K L M + O(L M e^{-8K})
    for K in [20.0, 300.0, 1e5]:
        assert kaufman_log_z(5, 7, K) == pytest.approx(math.log(2) + 2 * K * 35, rel=1e-15, abs=1e-10)


@pytest.mark.parametrize("L,M", [(5, 8), (7, 12), (16, 33)])
@pytest.mark.parametrize("beta", [0.3, BETA_C, 0.7])
def test_kaufman_symmetric_in_the_sides(L, M, beta):
    """The formula singles out one direction; Z does not: swapping L and M must not change it."""
    assert kaufman_log_z(L, M, beta) == pytest.approx(kaufman_log_z(M, L, beta), rel=1e-13)


def onsager_log_z_per_site(K, n=512):
    """Onsager (1944): -beta f = log 2 + (1/8 pi^2) int int log[cosh^2 2K - sinh 2K (cos a + cos b)],
    over [0, 2 pi)^2; a periodic analytic integrand, so the n x n rectangle rule converges
    exponentially away from beta_c (n = 512 and 1024 agree to 1e-15 at the couplings used)."""
    t = 2 * np.pi * np.arange(n) / n
    c = np.cos(t)
    inner = np.cosh(2 * K) ** 2 - np.sinh(2 * K) * (c[:, None] + c[None, :])
    return math.log(2) + 0.5 * np.mean(np.log(inner))


@pytest.mark.parametrize("K,offset", [(0.1, 0.0), (0.3, 0.0), (0.6, math.log(2)), (1.0, math.log(2))])
def test_kaufman_large_torus_matches_onsager(K, offset):
    """On a 64 x 64 torus away from beta_c the finite-size corrections are O(e^{-64/xi}), below
    rounding (observed < 1e-11 on log Z ~ 3000, so 1e-9 absolute); below T_c log Z carries the extra
    log 2 of the two ordered phases (Z ≈ 2 exp(-N beta f))."""
    L = 64
    assert kaufman_log_z(L, L, K) - L * L * onsager_log_z_per_site(K) == pytest.approx(offset, abs=1e-9)


@pytest.mark.parametrize("L,M,beta", [(2, 5, 0.3), (5, 2, 0.3), (3, 3, -0.1), (3, 3, float("nan"))])
def test_kaufman_rejects(L, M, beta):
    with pytest.raises(ValueError):
        kaufman_log_z(L, M, beta)
