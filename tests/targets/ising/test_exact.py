"""Exact enumeration: against brute force, against an unchunked computation, symmetries, exact draws.

Deterministic comparisons use 1e-12 (float64 sums over <= 2^18 terms of O(1) relative rounding).
Monte Carlo checks use fixed seeds, 4 standard errors (two-sided false alarm 6.3e-5 per check under
a correct sampler) and chi-square p > 1e-3 (false alarm 1e-3 per test).
"""

import itertools

import jax
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from targets.ising.exact import MAX_SPINS, enumerate_spins, spin_states, spins_to_index
from targets.ising.spins import lattice, sherrington_kirkpatrick

Z_SE = 4.0
P_MIN = 1e-3


def random_system(n, seed, scale=0.7):
    rng = np.random.default_rng(seed)
    A = scale * rng.standard_normal((n, n))
    W = np.triu(A, 1) + np.triu(A, 1).T
    return W, 0.5 * rng.standard_normal(n)


def direct(W, b):
    """All 2^N states at once (no chunks): log-weights, spins, m, normalised probabilities."""
    S = spin_states(W.shape[0])
    logw = 0.5 * np.einsum("ti,ij,tj->t", S, W, S) + S @ b
    log_z = logsumexp(logw)
    return S, logw, S.mean(axis=1), np.exp(logw - log_z), log_z


def check_against(e, W, b, S, logw, m, p, log_z, rtol):
    energy = -logw
    e_mean = p @ energy
    assert e.log_Z == pytest.approx(log_z, rel=rtol)
    assert e.mean_m == pytest.approx(p @ m, abs=rtol)
    assert e.mean_m2 == pytest.approx(p @ m**2, rel=rtol)
    assert e.mean_abs_m == pytest.approx(p @ np.abs(m), rel=rtol)
    assert e.prob_m_positive == pytest.approx(p[m > 0].sum(), abs=rtol)
    assert e.prob_m_zero == pytest.approx(p[m == 0].sum(), abs=rtol)
    assert e.energy_mean == pytest.approx(e_mean, rel=rtol)
    assert e.energy_sd == pytest.approx(np.sqrt(p @ (energy - e_mean) ** 2), rel=rtol)
    np.testing.assert_allclose(e.mean_s, p @ S, atol=rtol)
    np.testing.assert_allclose(e.log_probs(), np.log(p), rtol=rtol, atol=rtol)


def test_brute_force_n5():
    """Against a literal sum over itertools.product, states ordered independently of the code."""
    W, b = random_system(5, seed=0)
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=5)))
    logw = np.array([s @ W @ s / 2 + b @ s for s in states])
    log_z = np.log(np.sum(np.exp(logw)))
    p = np.exp(logw - log_z)
    m = states.mean(axis=1)
    e = enumerate_spins(W, b)
    assert e.n_spins == 5
    # log_probs are indexed by spins_to_index
    order = np.argsort(spins_to_index(states))
    check_against(e, W, b, states[order], logw[order], m[order], p[order], log_z, 1e-12)


def test_spin_state_indexing():
    S = spin_states(6)
    np.testing.assert_array_equal(spins_to_index(S), np.arange(64))
    np.testing.assert_array_equal(S[5], [1, -1, 1, -1, -1, -1])  # 5 = 0b000101: bit i is site i
    np.testing.assert_array_equal(spin_states(6, start=10, count=7), S[10:17])


@pytest.mark.parametrize("system", ["random", "lattice"])
def test_chunked_matches_unchunked_n18(system):
    """N = 18 runs over 4 chunks of 2^16 states; the chunk merge must equal the one-shot sums."""
    if system == "random":
        W, b = random_system(18, seed=1, scale=0.4)
    else:
        W, b = lattice(3, 6, 0.8, 0.05)  # ordered phase: energy sd small next to its mean
    check_against(enumerate_spins(W, b), W, b, *direct(W, b), rtol=1e-11)


def test_symmetries():
    # h = 0: E[s] = 0, E[m] = 0, sign balance 1/2, P(m > 0) = (1 - P(m = 0)) / 2
    e = enumerate_spins(*lattice(3, 4, 0.6))
    np.testing.assert_allclose(e.mean_s, 0.0, atol=1e-12)
    assert e.mean_m == pytest.approx(0.0, abs=1e-12)
    assert e.sign_balance == pytest.approx(0.5, abs=1e-12)
    assert e.prob_m_zero > 0
    assert e.prob_m_positive == pytest.approx((1 - e.prob_m_zero) / 2, abs=1e-12)
    # odd N: m is never 0
    assert enumerate_spins(*lattice(3, 3, 0.6)).prob_m_zero == 0.0
    # s -> -s: log Z(W, b) = log Z(W, -b), E[s] flips
    W, b = random_system(17, seed=2, scale=0.4)
    e_plus, e_minus = enumerate_spins(W, b), enumerate_spins(W, -b)
    assert e_plus.log_Z == pytest.approx(e_minus.log_Z, rel=1e-13)
    np.testing.assert_allclose(e_plus.mean_s, -e_minus.mean_s, atol=1e-12)
    assert e_plus.energy_sd == pytest.approx(e_minus.energy_sd, rel=1e-10)
    # W = 0: independent spins, log Z = sum log(2 cosh b), E[s] = tanh b
    b = np.linspace(-1, 2, 7)
    e0 = enumerate_spins(np.zeros((7, 7)), b)
    assert e0.log_Z == pytest.approx(np.sum(np.log(2 * np.cosh(b))), rel=1e-14)
    np.testing.assert_allclose(e0.mean_s, np.tanh(b), rtol=1e-13)


def test_rejects():
    with pytest.raises(ValueError, match=str(MAX_SPINS)):
        enumerate_spins(np.zeros((25, 25)), np.zeros(25))
    W, b = random_system(4, seed=0)
    W_asym = W.copy()
    W_asym[0, 1] += 0.1
    with pytest.raises(ValueError, match="symmetric"):
        enumerate_spins(W_asym, b)
    W_diag = W + np.eye(4)
    with pytest.raises(ValueError, match="diagonal"):
        enumerate_spins(W_diag, b)
    with pytest.raises(ValueError):
        enumerate_spins(W, np.zeros(3))


def test_sample_state_frequencies_n4():
    """Chi-square of the 16 state counts of 40000 exact draws against the enumerated law."""
    W, b = random_system(4, seed=3, scale=0.3)
    e = enumerate_spins(W, b)
    n = 40_000
    s = e.sample_spins(np.random.default_rng(0), n)
    assert s.shape == (n, 4)
    assert set(np.unique(s)) == {-1.0, 1.0}
    counts = np.bincount(spins_to_index(s), minlength=16)
    expected = n * np.exp(e.log_probs())
    assert expected.min() > 5  # the chi-square approximation holds
    assert stats.chisquare(counts, expected).pvalue > P_MIN


def test_sample_moments_multichunk():
    """N = 18 SK (4 chunks): m^2 and energy means of 20000 draws within 4 SE of the exact values
    (SE from the exact sd), and the chunk (high-site configuration) counts by chi-square."""
    W, b = sherrington_kirkpatrick(18, beta=1.5, seed=4)
    b = b + 0.1
    e = enumerate_spins(W, b)
    S, logw, m, p, _ = direct(W, b)
    n = 20_000
    s = e.sample_spins(jax.random.key(7), n)
    m_hat = s.mean(axis=1)
    sd_m2 = np.sqrt(p @ m**4 - (p @ m**2) ** 2)
    assert abs(np.mean(m_hat**2) - e.mean_m2) < Z_SE * sd_m2 / np.sqrt(n)
    energy = -(0.5 * np.einsum("ti,ij,tj->t", s, W, s) + s @ b)
    assert abs(energy.mean() - e.energy_mean) < Z_SE * e.energy_sd / np.sqrt(n)
    chunk = spins_to_index(s) >> 16
    expected = n * np.exp(e.chunk_log_mass - e.log_Z)
    assert stats.chisquare(np.bincount(chunk, minlength=4), expected).pvalue > P_MIN
    # the draws come in random order, not sorted by chunk
    assert np.mean(np.diff(chunk) != 0) > 0.3


def test_sample_seeding():
    e = enumerate_spins(*random_system(6, seed=5))
    for key in [jax.random.key(3), jax.random.key(3), 3]:
        np.testing.assert_array_equal(e.sample_spins(key, 50), e.sample_spins(key, 50))
    assert not np.array_equal(e.sample_spins(jax.random.key(3), 50), e.sample_spins(jax.random.key(4), 50))
    np.testing.assert_array_equal(e.sample_spins(3, 50), e.sample_spins(np.random.default_rng(3), 50))
