"""The registered Ising targets: `ising` (2-D torus), `sk` (spin glass), `boltzmann` (Graham & Storkey).

Each is the Gaussian-integral relaxation (relaxation.py) of a spin system (spins.py), with its ground
truth: for N <= 24 by exact enumeration (exact.py: log Z and the statistics' means exactly, exact draws
of x by s ~ p(s), x | s ~ N(Q^T s, I)); for larger 2-D tori at h = 0, log Z from Kaufman's formula
(kaufman.py) and the statistics from a Swendsen-Wang reference run (cluster.py, with its Monte Carlo
error). The statistics' true sds (of the Rao-Blackwellised f(x), whose E[f(x)^2] has no closed form)
are Monte Carlo estimates with their standard errors `sd_se`: from `TRUTH_DRAWS` iid exact draws of x
where the spins are enumerated, else from the Swendsen-Wang draws (ArviZ's MCSE of the sd). The
ground truth of one system is computed once per process (cached).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from targets.base import Plot, Statistic, Target, check_finite, check_size, uniform_initial
from targets.ising import cluster, exact, kaufman, relaxation, spins

ENUMERATION_MAX = 24
TRUTH_DRAWS = 2**20  # iid exact draws of x behind the sds of enumerated systems
TRUTH_CHUNK = 2**15  # draws per jitted evaluation of the statistics
TRUTH_SEED = 12345
SW_CHAINS, SW_SWEEPS = 16, 1250  # Swendsen-Wang draws behind the sds of tori beyond enumeration
DENSE_COPIES = 6  # N x N float64 arrays held at once: W, W + D, its eigen and Cholesky work, Q, JAX copies
STATISTICS = ("m", "m^2", "|m|", "energy", "sign")


def ising(L: int = 4, M: int = 4, beta: float = 0.6, h: float = 0.0, margin: float = 0.1) -> Target:
    """2-D Ising ferromagnet on the periodic L x M torus (coupling beta = J / kT, field h), relaxed.

    Parameters
    ----------
    L
        The number of rows, an integer >= 3.
    M
        The number of columns, an integer >= 3.
    beta
        The coupling beta = J / kT, finite and >= 0.
    h
        The field, finite; 0 when L*M > 24 (the ground truth there exists only at h = 0).
    margin
        The relaxation's margin (> 0): what is added to the smallest shift D that makes W + D positive
        definite.

    Returns
    -------
    Target
        The relaxed target (the x-marginal), with the statistics m, m^2, |m|, energy and sign (headline),
        log Z (Kaufman's formula at h = 0, else by enumeration) and exact draws where the spins are enumerated.

    Raises
    ------
    ValueError
        A parameter not finite or out of range, h != 0 beyond enumeration, or a size too large for memory.
    """
    check_finite("ising", beta=beta, h=h, margin=margin)
    if beta < 0:
        raise ValueError(f"ising: beta must be >= 0 (ferromagnet), got {beta}")
    if int(L) != L or int(M) != M or L < 3 or M < 3:
        raise ValueError(
            f"ising: L and M must be integers >= 3 (a side of 2 makes the periodic neighbours "
            f"coincide), got L={L}, M={M}"
        )
    n = int(L) * int(M)
    _check_system("ising", "L*M", n, margin)
    if n > ENUMERATION_MAX and h != 0.0:
        raise ValueError(
            f"ising: ground truth for L*M > {ENUMERATION_MAX} exists only at h = 0 (Kaufman, "
            f"Swendsen-Wang), got L*M = {n}, h = {h}"
        )
    W, b = spins.lattice(L, M, beta, h)
    params = {"L": L, "M": M, "beta": float(beta), "h": float(h), "margin": float(margin)}
    if n > ENUMERATION_MAX:
        return _build(
            "ising",
            W,
            b,
            params,
            margin,
            _torus_truth(int(L), int(M), float(beta), float(margin)),
            kaufman.kaufman_log_z(L, M, beta),
        )
    return _relaxed("ising", W, b, params, margin, kaufman.kaufman_log_z(L, M, beta) if h == 0.0 else None)


def sk(N: int = 20, beta: float = 1.0, seed: int = 0, margin: float = 0.1) -> Target:
    """Sherrington-Kirkpatrick spin glass with N spins (Gaussian couplings, fixed seed), relaxed.

    Parameters
    ----------
    N
        The number of spins, an integer in [2, 24] (ground truth by enumeration).
    beta
        The inverse temperature, finite and >= 0.
    seed
        The NumPy seed of the couplings, an integer in [0, 2^63).
    margin
        The relaxation's margin (> 0).

    Returns
    -------
    Target
        The relaxed target (the x-marginal), with the statistics m, m^2, |m|, energy and sign (headline),
        log Z and exact draws where the spins are enumerated.

    Raises
    ------
    ValueError
        A parameter not finite or out of range.
    """
    check_finite("sk", beta=beta, margin=margin)
    if beta < 0:
        raise ValueError(f"sk: beta must be >= 0 (inverse temperature), got {beta}")
    _small("sk", N)
    _seed("sk", seed)
    W, b = spins.sherrington_kirkpatrick(N, beta, seed)
    return _relaxed("sk", W, b, {"N": N, "beta": float(beta), "seed": seed, "margin": float(margin)}, margin)


def boltzmann(N: int = 20, seed: int = 0, margin: float = 0.1) -> Target:
    """Boltzmann machine of Graham & Storkey (2017), N spins, fixed seed, relaxed.

    Parameters
    ----------
    N
        The number of spins, an integer in [2, 24] (ground truth by enumeration).
    seed
        The NumPy seed of the couplings and fields, an integer in [0, 2^63).
    margin
        The relaxation's margin (> 0).

    Returns
    -------
    Target
        The relaxed target (the x-marginal), with the statistics m, m^2, |m|, energy and sign (headline),
        log Z and exact draws where the spins are enumerated.

    Raises
    ------
    ValueError
        A parameter not finite or out of range.
    """
    check_finite("boltzmann", margin=margin)
    _small("boltzmann", N)
    _seed("boltzmann", seed)
    W, b = spins.boltzmann_machine(N, seed)
    return _relaxed("boltzmann", W, b, {"N": N, "seed": seed, "margin": float(margin)}, margin)


def spin_system(W, b=None, margin: float = 0.1, name: str = "spins") -> Target:
    """The relaxation of a user's spin system p(s) ∝ exp(s^T W s / 2 + b^T s) at any size N.

    Ground truth: for N <= ENUMERATION_MAX by exact enumeration (log Z, the statistics' means, exact draws;
    sds from TRUTH_DRAWS exact draws); beyond it none (means and sds NaN, no log Z, no exact draws): the
    target still runs, and the tables say `no truth`.

    Parameters
    ----------
    W
        (N, N) symmetric couplings with a zero diagonal (a diagonal adds only a constant; it is refused so that
        the energy statistic means what it says).
    b
        (N,) fields (default 0).
    margin
        The relaxation's margin (> 0).
    name
        The target's name.

    Returns
    -------
    Target
        The relaxed target, with its ground truth where N <= ENUMERATION_MAX.

    Raises
    ------
    ValueError
        W or b of the wrong shape, not finite, W not symmetric or with a nonzero diagonal, a bad margin, or a
        size too large for memory.
    """
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[0] if W.ndim == 2 else -1
    b = np.zeros(max(n, 0)) if b is None else np.asarray(b, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or n < 1 or b.shape != (n,):
        raise ValueError(f"{name}: W must be N x N and b of length N, got W {W.shape} and b {b.shape}")
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        raise ValueError(f"{name}: W and b must be finite")
    if not np.allclose(W, W.T, rtol=0, atol=1e-12 * max(1.0, float(np.abs(W).max()))):
        raise ValueError(f"{name}: W must be symmetric (max |W - W^T| = {float(np.abs(W - W.T).max()):g})")
    if np.any(np.diag(W) != 0):
        raise ValueError(f"{name}: W must have a zero diagonal (s_i^2 = 1: a diagonal is a constant)")
    check_finite(name, margin=margin)
    W = (W + W.T) / 2
    params = {"N": n, "margin": float(margin)}
    if n <= ENUMERATION_MAX:
        return _relaxed(name, W, b, params, margin)
    _check_system(name, "N", n, margin)
    nan = np.full(len(STATISTICS), np.nan)
    return _build(name, W, b, params, margin, _Truth(mean=nan, mean_se=nan, sd=nan, sd_se=nan, sq_sd=nan))


def _small(name: str, n: int) -> None:
    if int(n) != n or not 2 <= n <= ENUMERATION_MAX:
        raise ValueError(
            f"{name}: N must be an integer in [2, {ENUMERATION_MAX}] (ground truth by enumeration), got {n}"
        )


def _seed(name: str, seed: int) -> None:
    if int(seed) != seed or not 0 <= seed < 2**63:
        raise ValueError(f"{name}: seed must be an integer in [0, 2^63), got {seed}")


def _check_system(name: str, param: str, n: int, margin: float) -> None:
    """Margin and size checks before the N x N couplings are allocated."""
    if not margin > 0:
        raise ValueError(f"{name}: margin must be > 0, got {margin}")
    check_size(
        name,
        param,
        n,
        DENSE_COPIES * 8.0 * n * n,
        f"{DENSE_COPIES} dense {n} x {n} float64 matrices: the couplings, their shift and Cholesky factor",
    )


@dataclasses.dataclass(frozen=True, eq=False)
class _Truth:
    """Ground truth of one relaxed system: per statistic mean, sd, sd[f^2] and the standard errors."""

    mean: np.ndarray
    mean_se: np.ndarray
    sd: np.ndarray
    sd_se: np.ndarray
    sq_sd: np.ndarray
    enum: exact.SpinEnumeration | None = None


def _relaxed(name, W, b, params, margin, log_Z_spins=None) -> Target:
    """The relaxed target of an enumerable system (N <= 24): exact means and draws, Monte Carlo sds."""
    _check_system(name, "N", W.shape[0], margin)
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    truth = _enumerated_truth(W.tobytes(), b.tobytes(), W.shape[0], float(margin))
    log_Z_spins = truth.enum.log_Z if log_Z_spins is None else log_Z_spins
    return _build(name, W, b, params, margin, truth, log_Z_spins)


def _build(name, W, b, params, margin, truth: _Truth, log_Z_spins=None) -> Target:
    n = W.shape[0]
    d, Q_np = _factor(W, margin)
    offset = relaxation.spin_log_Z_offset(d)
    Q, bj, Wj = jnp.asarray(Q_np), jnp.asarray(b), jnp.asarray(W)

    def log_prob(x):
        return -0.5 * jnp.sum(x**2) + jnp.sum(relaxation.log_cosh(Q @ x + bj))

    sample = None
    if truth.enum is not None:
        enum = truth.enum

        def sample(key, count):
            key_s, key_x = jax.random.split(key)
            return jnp.asarray(enum.sample_spins(key_s, count)) @ Q + jax.random.normal(key_x, (count, n))

    statistics = tuple(
        Statistic(
            name=k,
            fn=(lambda x, i=i: _stat(x, Q, bj, Wj, i)),
            mean=float(truth.mean[i]),
            sd=float(truth.sd[i]),
            sq_sd=float(truth.sq_sd[i]),
            mean_se=float(truth.mean_se[i]),
            sd_se=float(truth.sd_se[i]),
        )
        for i, k in enumerate(STATISTICS)
    )
    log_Z = None if log_Z_spins is None else log_Z_spins + offset
    # initial box half-width: sqrt(D + max_i sum_j |W_ij|), the scale of Q^T s (its squared norm is tr D + s^T W s)
    scale = float(np.sqrt(d[0] + np.abs(W).sum(1).max()))
    return Target(
        name=name,
        dim=n,
        log_prob=log_prob,
        initial=uniform_initial(n, -scale, scale),
        statistics=statistics,
        log_Z=log_Z,
        sample=sample,
        params=params,
        headline="sign",
        log_Z_offsets={"spins": offset},
        plot=Plot(statistic="m", label="magnetisation E[m | x]"),
    )


def _factor(W, margin):
    """The relaxation's shift d and Cholesky factor Q of W + diag(d)."""
    d = relaxation.shift(W, margin)
    return d, np.linalg.cholesky(W + np.diag(d))


def _statistics_of(W, b, margin, from_states=False):
    """A jitted (spins (n, N), key) -> statistics (n, 5) at x | s ~ N(Q^T s, I); with `from_states`,
    it takes the state indices t (n,) of `exact.spins_of_states` instead of the spins."""
    n = W.shape[0]
    _, Q_np = _factor(W, margin)
    Q, bj, Wj = jnp.asarray(Q_np), jnp.asarray(b), jnp.asarray(W)

    def one(x):
        r = relaxation.conditional_statistics(x, Q, bj, Wj)
        return jnp.stack([r[k] for k in STATISTICS])

    def stats(s, key):
        if from_states:
            s = (2 * ((s[:, None] >> jnp.arange(n)) & 1) - 1).astype(Q.dtype)
        return jax.vmap(one)(s @ Q + jax.random.normal(key, s.shape))

    return jax.jit(stats)


@functools.lru_cache(maxsize=32)
def _enumerated_truth(W_bytes: bytes, b_bytes: bytes, n: int, margin: float) -> _Truth:
    """Exact means by enumeration; sds from TRUTH_DRAWS iid exact draws (spins exact, x | s exact)."""
    W = np.frombuffer(W_bytes).reshape(n, n)
    b = np.frombuffer(b_bytes)
    enum = exact.enumerate_spins(W, b)
    stats_of = _statistics_of(W, b, margin, from_states=True)
    s = enum.sample_states(np.random.default_rng(TRUTH_SEED), TRUTH_DRAWS)  # one pass over the states
    keys = jax.random.split(jax.random.key(TRUTH_SEED), TRUTH_DRAWS // TRUTH_CHUNK)
    values = np.concatenate(
        [np.asarray(stats_of(jnp.asarray(s[i * TRUTH_CHUNK : (i + 1) * TRUTH_CHUNK]), k)) for i, k in enumerate(keys)]
    )
    mean = np.array([enum.mean_m, enum.mean_m2, enum.mean_abs_m, enum.energy_mean, enum.sign_balance])
    sd, sd_se = iid_sd_and_se(values)
    return _Truth(
        mean=mean, mean_se=np.zeros(len(STATISTICS)), sd=sd, sd_se=sd_se, sq_sd=(values**2).std(0, ddof=1), enum=enum
    )


@functools.lru_cache(maxsize=8)
def _torus_truth(L: int, M: int, beta: float, margin: float) -> _Truth:
    """Means from a Swendsen-Wang reference (h = 0: E[m] = 0 and the sign balance 1/2 exactly) with their
    MCSEs; sds from SW_CHAINS x SW_SWEEPS further Swendsen-Wang draws, with ArviZ's MCSE of the sd."""
    import arviz as az

    r = cluster.reference_magnetisation(L, M, beta, h=0.0, seed=0)
    W, b = spins.lattice(L, M, beta, 0.0)
    s = cluster.swendsen_wang(L, M, beta, SW_CHAINS, SW_SWEEPS, seed=1).reshape(-1, L * M).astype(float)
    values = np.asarray(_statistics_of(W, b, margin)(jnp.asarray(s), jax.random.key(TRUTH_SEED)))
    values = values.reshape(SW_CHAINS, SW_SWEEPS, len(STATISTICS))
    return _Truth(
        mean=np.array([0.0, r.m2, r.abs_m, r.energy_mean, 0.5]),
        mean_se=np.array([0.0, r.m2_mcse, r.abs_m_mcse, r.energy_mean_mcse, 0.0]),
        sd=values.reshape(-1, len(STATISTICS)).std(0, ddof=1),
        sd_se=np.atleast_1d(az.mcse(values, method="sd")),
        sq_sd=(values**2).reshape(-1, len(STATISTICS)).std(0, ddof=1),
    )


def iid_sd_and_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sd of each column of iid draws (n, k) and its delta-method standard error.

    se(sd) = sd[(f - mean)^2] / (2 sd sqrt(n)) (ArviZ's `mcse(method="sd")` with the ESS equal to n).

    Parameters
    ----------
    values
        iid draws, (n, k).

    Returns
    -------
    tuple of numpy.ndarray
        The sds (k,) and their standard errors (k,).
    """
    n = values.shape[0]
    dev2 = (values - values.mean(0)) ** 2
    sd = values.std(0, ddof=1)
    return sd, dev2.std(0, ddof=1) / (2 * sd * math.sqrt(n))


def _stat(x, Q, b, W, i):
    return relaxation.conditional_statistics(x, Q, b, W)[STATISTICS[i]]
