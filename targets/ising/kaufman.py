"""Exact log partition function of the 2-D Ising ferromagnet on a finite periodic torus, h = 0.

Kaufman (1949), "Crystal statistics. II. Partition function evaluated by spinor analysis",
Phys. Rev. 76, 1232 (the torus partition function as a sum of four products), as restated by
Beale (1996), "Exact distribution of energies in the two-dimensional Ising model", PRL 76, 78.
For the L x M torus (L rows of M spins; periodic in both directions) with coupling K = beta J on each
of its 2 L M bonds, Z = sum_s exp(K sum_<ij> s_i s_j) is

    Z = 1/2 (2 sinh 2K)^{L M / 2} [ prod_{k odd} 2 cosh(L gamma_k / 2) + prod_{k odd} 2 sinh(L gamma_k / 2)
                                  + prod_{k even} 2 cosh(L gamma_k / 2) + prod_{k even} 2 sinh(L gamma_k / 2) ],

the products over the M values k = 1, 3, ..., 2M - 1 (odd) or k = 0, 2, ..., 2M - 2 (even), where

    cosh gamma_k = cosh 2K cosh 2K* - cos(pi k / M),   gamma_k > 0 for k != 0,
    gamma_0 = 2 (K - K*),                               (signed: negative above T_c, positive below)

and K* is the dual coupling, tanh K* = exp(-2K), i.e. sinh 2K sinh 2K* = 1 (cosh 2K* = coth 2K).
All terms are positive except the last, whose sign is that of gamma_0: it is negative for K < K_c,
zero at K_c = log(1 + sqrt 2) / 2 and positive for K > K_c.

Computed in log space: with Delta = K - K* and theta = pi k / M,
cosh gamma_k - 1 = 2 sinh^2 Delta + 2 sin^2(theta / 2) =: u, gamma_k = log1p(u + sqrt(u (u + 2)))
(no cancellation near gamma = 0); for |Delta| > 10 (K > ~10 or K < ~2e-9),
gamma_k = 2|Delta| + log1p(e^{-4|Delta|} + 2 (1 - cos theta) e^{-2|Delta|}) up to O(e^{-40}), which
cannot overflow. log(2 cosh x) = |x| + log1p(e^{-2|x|}), log(2 sinh x) = x + log(-expm1(-2x)) for
x > 0; the three positive terms are combined by log-sum-exp and the signed last one by
logaddexp / log1p (`_log_bracket`). Finite for any finite beta >= 0; a non-finite result raises.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp


def _log_2cosh(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return x + np.log1p(np.exp(-2 * x))


def _log_2sinh(x: np.ndarray) -> np.ndarray:
    """log(2 sinh x) for x > 0 (-inf at 0)."""
    with np.errstate(divide="ignore"):
        return x + np.log(-np.expm1(-2 * x))


def kaufman_gammas(M: int, beta: float) -> np.ndarray:
    """gamma_k, k = 0 .. 2M - 1, of Kaufman's formula (gamma_0 signed, the others positive).

    Parameters
    ----------
    M
        The number of columns of the torus.
    beta
        The coupling K = beta J, > 0.

    Returns
    -------
    numpy.ndarray
        gamma_k, shape (2M,).
    """
    K = float(beta)
    K_dual = -0.5 * math.log(math.tanh(K))
    delta = K - K_dual
    v = 2 * np.sin(np.pi * np.arange(2 * M) / (2 * M)) ** 2  # 1 - cos(pi k / M)
    a = abs(delta)
    if a > 10:  # cosh gamma = cosh 2 Delta + v is huge: gamma = log(2 cosh gamma) + O(e^{-4 a})
        gamma = 2 * a + np.log1p(math.exp(-4 * a) + 2 * v * math.exp(-2 * a))
    else:
        u = 2 * math.sinh(delta) ** 2 + v
        gamma = np.log1p(u + np.sqrt(u) * np.sqrt(u + 2))
    gamma[0] = 2 * delta
    return gamma


def kaufman_log_z(L: int, M: int, beta: float) -> float:
    """log Z of the h = 0 Ising ferromagnet on the periodic L x M torus (see the module docstring).

    Z = sum_s exp(beta * sum_<ij> s_i s_j) over the 2 L M nearest-neighbour bonds, the same law as
    `targets.ising.spins.lattice(L, M, beta, 0.0)`. L, M >= 3 integers, beta finite and >= 0.

    Parameters
    ----------
    L
        The number of rows, an integer >= 3.
    M
        The number of columns, an integer >= 3.
    beta
        The coupling, finite and >= 0.

    Returns
    -------
    float
        log Z.

    Raises
    ------
    ValueError
        L or M not an integer >= 3, or beta not finite and >= 0.
    FloatingPointError
        The result is not finite.
    """
    if int(L) != L or int(M) != M or L < 3 or M < 3:
        raise ValueError(f"kaufman_log_z: L and M must be integers >= 3, got L={L}, M={M}")
    L, M = int(L), int(M)
    K = float(beta)
    if not (math.isfinite(K) and K >= 0):
        raise ValueError(f"kaufman_log_z: beta must be finite and >= 0 (ferromagnet), got {beta}")
    if K == 0:
        return L * M * math.log(2.0)
    gamma = kaufman_gammas(M, K)
    x = L * gamma / 2
    odd, even = x[1::2], x[0::2]
    log_sum = _log_bracket(
        _log_2cosh(odd).sum(),
        _log_2sinh(odd).sum(),
        _log_2cosh(even).sum(),
        _log_2sinh(np.abs(even)).sum(),
        np.sign(gamma[0]),
    )
    log_prefactor = 0.5 * L * M * (2 * K + math.log(-math.expm1(-4 * K)))  # (2 sinh 2K)^{LM/2}
    log_z = -math.log(2.0) + log_prefactor + log_sum
    if not math.isfinite(log_z):
        raise FloatingPointError(f"kaufman_log_z({L}, {M}, {beta}) is not finite ({log_z})")
    return float(log_z)


def _log_bracket(a: float, b: float, c: float, last: float, sign: float) -> float:
    """log(e^a + e^b + e^c + sign * e^last), sign in {-1, 0, +1}, without a signed log-sum-exp.

    The three positive terms are added by log-sum-exp; the last is then added by `logaddexp` or
    subtracted as pos + log1p(-e^{last - pos}). Above T_c the last term (sign -1) can tie the largest
    positive one to ~1e-12, where scipy's signed `logsumexp` returns NaN; this form stays exact.
    Raises FloatingPointError when the bracket is not positive.
    """
    pos = float(logsumexp([a, b, c]))
    if sign > 0:
        return float(np.logaddexp(pos, last))
    if sign == 0:  # exactly critical: the last product vanishes
        return pos
    if not last < pos:
        raise FloatingPointError("kaufman_log_z: the bracket is not positive (cancellation)")
    return pos + math.log1p(-math.exp(last - pos))
