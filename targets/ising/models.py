"""The registered Ising targets: `ising` (2-D torus), `sk` (spin glass), `boltzmann` (Graham & Storkey).

Each is the Gaussian-integral relaxation (relaxation.py) of a spin system (spins.py), with its ground
truth: for N <= 24 by exact enumeration (exact.py: log Z and the statistics' means exactly, exact draws
of x by s ~ p(s), x | s ~ N(Q^T s, I)); for larger 2-D tori at h = 0, log Z from Kaufman's formula
(kaufman.py) and the statistics from a Swendsen-Wang reference run (cluster.py, with its Monte Carlo
error). The statistics' true sds (of the Rao-Blackwellised f(x)) are Monte Carlo estimates from
`SD_DRAWS` exact (or reference) draws of x.
"""
from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp

from targets.base import Modes, Statistic, Target, uniform_initial
from targets.ising import cluster, exact, kaufman, relaxation, spins

ENUMERATION_MAX = 24
SD_DRAWS = 20000
STATISTICS = ("m", "m^2", "|m|", "energy", "sign")


def ising(L: int = 4, M: int = 4, beta: float = 0.6, h: float = 0.0, margin: float = 0.1) -> Target:
    """2-D Ising ferromagnet on the periodic L x M torus (coupling beta = J / kT, field h), relaxed."""
    W, b = spins.lattice(L, M, beta, h)
    n = L * M
    if n > ENUMERATION_MAX and h != 0.0:
        raise ValueError(f"ising: ground truth for L*M > {ENUMERATION_MAX} exists only at h = 0 (Kaufman, "
                         f"Swendsen-Wang), got L*M = {n}, h = {h}")
    reference = None
    if n > ENUMERATION_MAX:
        reference = cluster.reference_magnetisation(L, M, beta, h=0.0, seed=0)
    log_Z_spins = kaufman.kaufman_log_z(L, M, beta) if h == 0.0 else None
    return _relaxed("ising", W, b, {"L": L, "M": M, "beta": float(beta), "h": float(h), "margin": float(margin)},
                    margin, log_Z_spins, reference)


def sk(N: int = 20, beta: float = 1.0, seed: int = 0, margin: float = 0.1) -> Target:
    """Sherrington-Kirkpatrick spin glass with N spins (Gaussian couplings, fixed seed), relaxed."""
    _small("sk", N)
    W, b = spins.sherrington_kirkpatrick(N, beta, seed)
    return _relaxed("sk", W, b, {"N": N, "beta": float(beta), "seed": seed, "margin": float(margin)}, margin)


def boltzmann(N: int = 20, seed: int = 0, margin: float = 0.1) -> Target:
    """Boltzmann machine of Graham & Storkey (2017), N spins, fixed seed, relaxed."""
    _small("boltzmann", N)
    W, b = spins.boltzmann_machine(N, seed)
    return _relaxed("boltzmann", W, b, {"N": N, "seed": seed, "margin": float(margin)}, margin)


def _small(name: str, n: int) -> None:
    if not 2 <= n <= ENUMERATION_MAX:
        raise ValueError(f"{name}: N must be in [2, {ENUMERATION_MAX}] (ground truth by enumeration), got {n}")


def _relaxed(name, W, b, params, margin, log_Z_spins=None, reference=None) -> Target:
    if not margin > 0:
        raise ValueError(f"{name}: margin must be > 0, got {margin}")
    n = W.shape[0]
    d = relaxation.shift(W, margin)
    Q_np = np.linalg.cholesky(W + np.diag(d))
    offset = relaxation.spin_log_Z_offset(d)
    Q, bj, Wj = jnp.asarray(Q_np), jnp.asarray(b), jnp.asarray(W)

    def log_prob(x):
        return -0.5 * jnp.sum(x**2) + jnp.sum(relaxation.log_cosh(Q @ x + bj))

    stats_of = jax.jit(jax.vmap(lambda x: jnp.stack(
        [relaxation.conditional_statistics(x, Q, bj, Wj)[k] for k in STATISTICS])))

    def x_given_spins(key, s):
        return jnp.asarray(s) @ Q + jax.random.normal(key, (s.shape[0], n))

    sample = None
    if n <= ENUMERATION_MAX:
        enum = exact.enumerate_spins(W, b)
        log_Z_spins = enum.log_Z if log_Z_spins is None else log_Z_spins
        means = {"m": enum.mean_m, "m^2": enum.mean_m2, "|m|": enum.mean_abs_m, "energy": enum.energy_mean,
                 "sign": enum.sign_balance}
        mean_se = dict.fromkeys(STATISTICS, 0.0)

        def sample(key, count):
            key_s, key_x = jax.random.split(key)
            return x_given_spins(key_x, enum.sample_spins(key_s, count))

        reference_x = sample(jax.random.key(12345), SD_DRAWS)
    else:  # Swendsen-Wang reference spins of the torus (h = 0: E[m] = 0 and the sign balance 1/2 exactly)
        r = reference
        means = {"m": 0.0, "m^2": r.m2, "|m|": r.abs_m, "energy": r.energy_mean, "sign": 0.5}
        mean_se = {"m": 0.0, "m^2": r.m2_mcse, "|m|": r.abs_m_mcse, "energy": r.energy_mean_mcse, "sign": 0.0}
        L, M = params["L"], params["M"]
        s = cluster.swendsen_wang(L, M, params["beta"], 16, SD_DRAWS // 16, seed=1).reshape(-1, n)
        reference_x = x_given_spins(jax.random.key(12345), s.astype(float))
    values = np.asarray(stats_of(reference_x))
    statistics = tuple(
        Statistic(name=k, fn=(lambda x, i=i: _stat(x, Q, bj, Wj, i)), mean=float(means[k]),
                  sd=float(values[:, i].std(ddof=1)), sq_sd=float((values[:, i] ** 2).std(ddof=1)),
                  mean_se=float(mean_se[k]))
        for i, k in enumerate(STATISTICS))
    log_Z = None if log_Z_spins is None else log_Z_spins + offset
    # initial box half-width: sqrt(D + max_i sum_j |W_ij|), the scale of Q^T s (its squared norm is tr D + s^T W s)
    scale = float(np.sqrt(d[0] + np.abs(W).sum(1).max()))
    return Target(name=name, dim=n, log_prob=log_prob, initial=uniform_initial(n, -scale, scale),
                  statistics=statistics, log_Z=log_Z, sample=sample, params=params, headline="sign",
                  log_Z_offsets={"spins": offset})


def _stat(x, Q, b, W, i):
    return relaxation.conditional_statistics(x, Q, b, W)[STATISTICS[i]]
