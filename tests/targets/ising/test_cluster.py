"""The Swendsen-Wang sampler (targets/ising/cluster.py) against exact enumeration, fixed seeds.

Law: p(s) ∝ exp(beta sum_<ij> s_i s_j + h sum_i s_i) on the periodic L x M torus, site i = r M + c;
energy E(s) = -beta sum_<ij> s_i s_j - h sum_i s_i, m = mean(s). The exact enumeration is written here
(all 2^N states as the bits of arange(2^N), energies from the bond list) so that the test depends on no
other module of the suite.

Tolerances:
- moments within 4 ArviZ MCSEs (`az.mcse(x, method="mean")` over (chains, draws), autocorrelation-aware;
  "sd" for the energy sd): two-sided normal tail 6.3e-5 per check; the runs are long enough that the
  MCSEs are themselves accurate (bulk ESS >= 40000 of 256000 draws is asserted), and an upper bound on each MCSE is
  asserted so that the checks have power (a stuck sampler would pass a check with a huge MCSE);
- chi-square / Bowker tests rejected at p < 1e-3 (brief), on draws that are exactly independent (one
  state, or one transition, per chain, many chains).
"""

import math

import arviz as az
import numpy as np
import pytest
from scipy import stats

from targets.ising.cluster import BETA_C, chain_statistics, energy, reference_magnetisation, swendsen_wang, torus_bonds

Z_SE = 4.0  # two-sided false alarm 6.3e-5 per check
P_MIN = 1e-3


# ---------------------------------------------------------------- exact enumeration (self-contained)
def _bonds(L, M):
    """Right and down neighbour of every site of the L x M torus: 2 L M bonds, each once."""
    bonds = []
    for r in range(L):
        for c in range(M):
            bonds.append((r * M + c, r * M + (c + 1) % M))
            bonds.append((r * M + c, ((r + 1) % L) * M + c))
    return np.array(bonds)


def _all_states(N):
    """All 2^N spin configurations, (2^N, N) int8, bit i of the index -> s_i = +1 if set."""
    codes = np.arange(2**N, dtype=np.int64)
    return np.where((codes[:, None] >> np.arange(N)) & 1, 1, -1).astype(np.int8)


def _exact(L, M, beta, h=0.0):
    """Exact law and moments: probabilities (2^N,), and a dict of E[m], E[m^2], E[|m|], energy mean/sd."""
    N = L * M
    s = _all_states(N)
    b = _bonds(L, M)
    e = -beta * np.sum(s[:, b[:, 0]].astype(np.int32) * s[:, b[:, 1]], axis=1) - h * s.sum(axis=1)
    logw = -e
    p = np.exp(logw - logw.max())
    p /= p.sum()
    m = s.mean(axis=1, dtype=np.float64)
    e_mean = float(p @ e)
    return (
        s,
        p,
        e,
        {
            "m": float(p @ m),
            "m2": float(p @ m**2),
            "abs_m": float(p @ np.abs(m)),
            "energy_mean": e_mean,
            "energy_sd": math.sqrt(float(p @ (e - e_mean) ** 2)),
        },
    )


# ---------------------------------------------------------------- basic contract
def test_shapes_dtype_reproducible_and_errors():
    x = swendsen_wang(4, 5, 0.4, n_chains=3, n_sweeps=10, seed=1, burn_in=2, thin=3)
    assert x.shape == (3, 3, 20) and x.dtype == np.int8
    assert set(np.unique(x)) <= {-1, 1}
    np.testing.assert_array_equal(x, swendsen_wang(4, 5, 0.4, 3, 10, 1, burn_in=2, thin=3))
    with pytest.raises(ValueError, match=">= 3"):
        swendsen_wang(2, 4, 0.4, 2, 10, 0)
    with pytest.raises(ValueError, match="beta"):
        swendsen_wang(4, 4, -0.1, 2, 10, 0)
    # site indexing and the bond list agree with the convention i = r M + c (right, down neighbours)
    a, b = torus_bonds(3, 4)
    np.testing.assert_array_equal(np.stack([a[:, 0], b[:, 0]], 1), _bonds(3, 4)[0::2])
    np.testing.assert_array_equal(np.stack([a[:, 1], b[:, 1]], 1), _bonds(3, 4)[1::2])
    s, _, e, _ = _exact(3, 4, 0.37, h=-0.2)
    np.testing.assert_allclose(energy(s, 3, 4, 0.37, h=-0.2), e, rtol=0, atol=1e-12)


def test_beta_zero_is_uniform():
    """beta = 0, h = 0: every bond inactive, every site its own cluster -> iid uniform spins each sweep."""
    x = swendsen_wang(3, 3, 0.0, n_chains=200, n_sweeps=50, seed=3, burn_in=0).astype(float)
    n = x.size
    assert abs(x.mean()) < Z_SE / math.sqrt(n)
    lag1 = np.mean(x[:, 1:] * x[:, :-1])  # independent over time too
    assert abs(lag1) < Z_SE / math.sqrt(x[:, 1:].size)


# ---------------------------------------------------------------- moments against enumeration, 4 x 4
@pytest.mark.parametrize("beta, h", [(0.3, 0.0), (0.4407, 0.0), (0.6, 0.0), (0.4407, 0.1), (0.3, -0.25)])
def test_moments_match_enumeration_4x4(beta, h):
    """E[m^2], E[|m|], energy mean and sd (and E[m] at h != 0) within 4 MCSE of exact enumeration;
    disordered (0.3), critical (0.4407 ≈ beta_c) and ordered (0.6) couplings; h != 0 via the ghost spin."""
    _, _, _, ex = _exact(4, 4, beta, h)
    ref = reference_magnetisation(
        4, 4, beta, h=h, n_chains=256, n_sweeps=1000, burn_in=50, seed=int(1000 * beta + 100 * h) + 7
    )
    # MCSE caps: about twice the values these runs give (so that the 4-MCSE bands are narrow:
    # E[m^2] to ~0.005, the energy to ~0.06 out of |E| ~ 4..18)
    checks = [
        ("m2", ref.m2, ref.m2_mcse, 2.5e-3),
        ("abs_m", ref.abs_m, ref.abs_m_mcse, 2.5e-3),
        ("energy_mean", ref.energy_mean, ref.energy_mean_mcse, 3e-2),
        ("energy_sd", ref.energy_sd, ref.energy_sd_mcse, 3e-2),
    ]
    if h != 0.0:
        checks.append(("m", ref.m, ref.m_mcse, 4e-3))
    for name, est, se, se_max in checks:
        assert se < se_max, (name, se)  # power
        assert abs(est - ex[name]) < Z_SE * se, (name, est, ex[name], se)
    assert min(ref.ess_m2, ref.ess_energy) > 40000, (ref.ess_m2, ref.ess_energy)


# ---------------------------------------------------------------- sign balance in the ordered phase
def test_both_signs_in_every_chain_ordered_phase():
    """At beta = 0.6 > beta_c on 4 x 4 the law is strongly bimodal in m (P(|m| >= 0.75) ≈ 0.95 exactly).
    Every chain must visit both signs: the fraction of draws with m > 0 lies in [0.2, 0.8] per chain.

    Why 500 sweeps suffice: the truth is (1 - P(m = 0)) / 2 ≈ 0.499; for SW here the sign of m
    decorrelates in about one sweep (the spanning cluster flips w.p. 1/2 each sweep), and the run's
    own ArviZ ESS of the indicator is asserted to be at least n / 4 (integrated autocorrelation time
    tau <= 4), so the per-chain sd of the fraction is <= sqrt(0.25 * 4 / 500) ≈ 0.045 and 0.2 / 0.8 are
    >= 6.6 sd away (Gaussian tail ~ 4e-11 per chain, ~3e-9 over 64 chains). The run itself shows
    ESS / n ≈ 1 and ~250 sign changes per chain. A single-spin Metropolis chain must cross states with
    two domain walls (16 broken bonds' worth, exp(-16 beta) = exp(-9.6) ≈ 7e-5 relative weight), of the
    order of 1e4 sweeps per sign change by the Arrhenius estimate, so over 500 sweeps it keeps one sign.
    """
    beta = 0.6
    _, p, _, _ = _exact(4, 4, beta)
    s_all = _all_states(16)
    assert p[np.abs(s_all.mean(axis=1)) >= 0.75].sum() > 0.9  # bimodal indeed
    m, _ = chain_statistics(4, 4, beta, n_chains=64, n_sweeps=500, seed=11, burn_in=20)
    pos = (m > 0).astype(float)
    frac = pos.mean(axis=1)
    assert np.all((frac > 0.2) & (frac < 0.8)), frac
    assert float(az.ess(pos)) > pos.size / 4
    changes = np.sum(np.sign(m[:, 1:]) * np.sign(m[:, :-1]) < 0, axis=1)
    assert changes.min() > 100, changes.min()  # ~ 250 expected


# ---------------------------------------------------------------- full law on 3 x 3 (512 states)
def _pooled_chisquare(counts, expected, min_expected=5.0):
    """Pearson chi-square, cells with expected count < 5 pooled into one cell."""
    small = expected < min_expected
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return stats.chisquare(obs, exp)


@pytest.mark.parametrize("beta, h", [(0.35, 0.0), (0.5, 0.15)])
def test_stationary_law_and_reversibility_3x3(beta, h):
    """Invariance and a detailed-balance sanity check on the 3 x 3 torus.

    40000 independent chains, 60 sweeps each from uniform states (SW on 3 x 3 forgets its start in a
    few sweeps; 60 makes the bias negligible against the test's resolution). The last state of every
    chain is one exact-independent draw: Pearson chi-square over the 512 states against the exact law
    (p > 1e-3). The last transition of every chain is one independent pair (s_t, s_t+1): reversibility
    (the s-chain of this two-block Gibbs sampler is reversible) makes the law of the pair of
    magnetisations symmetric, P(m_t = a, m_t+1 = b) = P(m_t = b, m_t+1 = a), tested by Bowker's
    symmetry test (p > 1e-3).
    """
    L = M = 3
    s_all, p, _, _ = _exact(L, M, beta, h)
    n = 40000
    x = swendsen_wang(L, M, beta, n_chains=n, n_sweeps=2, seed=5 + int(100 * beta), burn_in=58, h=h)
    codes = ((x[:, -1] > 0).astype(np.int64) << np.arange(L * M)).sum(axis=1)  # bits as in _all_states
    counts = np.bincount(codes, minlength=2 ** (L * M)).astype(float)
    res = _pooled_chisquare(counts, n * p)
    assert res.pvalue > P_MIN, res

    k0 = ((x[:, 0].sum(axis=1) + L * M) // 2).astype(int)  # number of + spins, 0..9
    k1 = ((x[:, 1].sum(axis=1) + L * M) // 2).astype(int)
    table = np.zeros((L * M + 1, L * M + 1))
    np.add.at(table, (k0, k1), 1)
    iu = np.triu_indices_from(table, k=1)
    nab, nba = table[iu], table.T[iu]
    keep = nab + nba > 0
    stat = np.sum((nab[keep] - nba[keep]) ** 2 / (nab[keep] + nba[keep]))
    pval = stats.chi2.sf(stat, df=int(keep.sum()))
    assert pval > P_MIN, (stat, keep.sum(), pval)
    assert (table.sum() - np.trace(table)) > n / 10  # m does move


def test_critical_coupling_constant():
    assert BETA_C == pytest.approx(0.5 * math.log(1 + math.sqrt(2)), rel=1e-15)
    assert abs(BETA_C - 0.4407) < 1e-4
