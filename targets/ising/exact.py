"""Exact enumeration of a spin system p(s) ∝ exp(s^T W s / 2 + b^T s), s in {-1, +1}^N, N <= 24.

State t in [0, 2^N) has spins s_i = 2 * bit_i(t) - 1 (bit 0 of t is site 0). The 2^N states are visited
in chunks of 2^16: within a chunk the low sites run over all their configurations and the high sites
are fixed, so the quadratic form of the low sites is computed once and each chunk costs one
(2^16 x 16) matrix-vector product. Chunks are merged in log space: log Z by log-sum-exp, means by
their chunk weights, variances by the parallel (Chan et al. 1979) combination of centred moments,
which keeps float64 accuracy when the energy sd is small next to its mean.
"""

from __future__ import annotations

import dataclasses

import numpy as np

MAX_SPINS = 24
CHUNK_BITS = 16


def spin_states(n: int, start: int = 0, count: int | None = None) -> np.ndarray:
    """Spins of states start .. start + count - 1 (default: all 2^n) as a (count, n) float64 array.

    Parameters
    ----------
    n
        The number of spins.
    start
        The first state index.
    count
        The number of states (None: every state from `start` to 2^n - 1).

    Returns
    -------
    numpy.ndarray
        The spins, (count, n), float64 of +-1.
    """
    count = 2**n - start if count is None else count
    return spins_of_states(np.arange(start, start + count, dtype=np.int64), n)


def spins_to_index(s: np.ndarray) -> np.ndarray:
    """Inverse of `spin_states`: the state index t of each row of s in {-1, +1}^N.

    Parameters
    ----------
    s
        Spins, (..., N), of +-1.

    Returns
    -------
    numpy.ndarray
        The state indices, int64.
    """
    s = np.asarray(s)
    bits = (s > 0).astype(np.int64)
    return bits @ (np.int64(1) << np.arange(s.shape[-1], dtype=np.int64))


def _check(W, b) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or b.shape != (W.shape[0],):
        raise ValueError(f"W must be N x N and b of length N, got {W.shape} and {b.shape}")
    n = W.shape[0]
    if n < 1:
        raise ValueError("need at least one spin")
    if n > MAX_SPINS:
        raise ValueError(f"exact enumeration is limited to N <= {MAX_SPINS} spins, got N = {n}")
    scale = max(1.0, float(np.abs(W).max()))
    if not np.allclose(W, W.T, rtol=0.0, atol=1e-12 * scale):
        raise ValueError("W must be symmetric")
    if np.any(np.diag(W) != 0):
        raise ValueError("W must have a zero diagonal")
    return 0.5 * (W + W.T), b


class _Chunks:
    """Log-weights s^T W s / 2 + b^T s of the states, one chunk of 2^CHUNK_BITS states at a time."""

    def __init__(self, W: np.ndarray, b: np.ndarray):
        n = W.shape[0]
        self.n = n
        self.n_low = min(n, CHUNK_BITS)
        self.n_chunks = 2 ** (n - self.n_low)
        lo = slice(0, self.n_low)
        hi = slice(self.n_low, n)
        self.S_low = spin_states(self.n_low)  # (2^n_low, n_low)
        self.quad_low = 0.5 * np.einsum("ti,ij,tj->t", self.S_low, W[lo, lo], self.S_low)
        self.sum_low = self.S_low.sum(axis=1)
        self.W_lh, self.W_hh, self.b_l, self.b_h = W[lo, hi], W[hi, hi], b[lo], b[hi]
        self.S_high = spin_states(n - self.n_low)  # (n_chunks, n_high)

    def __call__(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """(log-weights, spins of the high sites) of chunk c."""
        sh = self.S_high[c]
        field = self.W_lh @ sh + self.b_l
        const = 0.5 * sh @ self.W_hh @ sh + self.b_h @ sh
        return self.quad_low + self.S_low @ field + const, sh


@dataclasses.dataclass(frozen=True, eq=False)
class SpinEnumeration:
    """Exact results for p(s) ∝ exp(s^T W s / 2 + b^T s), m = mean_i s_i, E(s) = -(s^T W s / 2 + b^T s).

    `sign_balance` = P(m > 0) + P(m = 0) / 2 (= 1/2 when b = 0).

    Parameters
    ----------
    n_spins
        N, the number of spins.
    log_Z
        log sum_s exp(s^T W s / 2 + b^T s).
    mean_m
        E[m].
    mean_m2
        E[m^2].
    mean_abs_m
        E[|m|].
    prob_m_positive
        P(m > 0).
    prob_m_zero
        P(m = 0) (nonzero only for even N).
    energy_mean
        The mean of E(s).
    energy_sd
        The sd of E(s).
    mean_s
        E[s_i] per site, shape (N,).
    W
        The couplings, (N, N).
    b
        The field, (N,).
    chunk_log_mass
        The log sum of the weights per chunk of 2^CHUNK_BITS states.
    """

    n_spins: int
    log_Z: float
    mean_m: float
    mean_m2: float
    mean_abs_m: float
    prob_m_positive: float
    prob_m_zero: float
    energy_mean: float
    energy_sd: float
    mean_s: np.ndarray
    W: np.ndarray = dataclasses.field(repr=False)
    b: np.ndarray = dataclasses.field(repr=False)
    chunk_log_mass: np.ndarray = dataclasses.field(repr=False)  # log sum of the weights per chunk

    @property
    def sign_balance(self) -> float:
        """P(m > 0) + P(m = 0) / 2 (= 1/2 when b = 0).

        Returns
        -------
        float
            The sign balance.
        """
        return self.prob_m_positive + 0.5 * self.prob_m_zero

    def log_probs(self) -> np.ndarray:
        """Normalised log p(s) of all 2^N states, indexed as `spin_states` (128 MB at N = 24).

        Returns
        -------
        numpy.ndarray
            log p(s), shape (2^N,).
        """
        chunks = _Chunks(self.W, self.b)
        return np.concatenate([chunks(c)[0] for c in range(chunks.n_chunks)]) - self.log_Z

    def sample_spins(self, key_or_rng, n: int) -> np.ndarray:
        """n exact iid draws from p(s), as an (n, N) float64 array of +-1, in random order.

        The spins of `sample_states` (the same random numbers).

        Parameters
        ----------
        key_or_rng
            A numpy Generator, an int seed, or a JAX PRNG key (its key data seeds a numpy Generator).
        n
            The number of draws.

        Returns
        -------
        numpy.ndarray
            The draws, (n, N), float64 of +-1.
        """
        return spins_of_states(self.sample_states(key_or_rng, n), self.n_spins)

    def sample_states(self, key_or_rng, n: int) -> np.ndarray:
        """n exact iid draws from p(s) as state indices t (int64, `spin_states` order), in random order.

        Draws per chunk are multinomial in the chunk masses; within a chunk, the states are drawn from
        the chunk's recomputed log-weights (no 2^N table is kept).

        Parameters
        ----------
        key_or_rng
            A numpy Generator, an int seed, or a JAX PRNG key (its key data seeds a numpy Generator).
        n
            The number of draws.

        Returns
        -------
        numpy.ndarray
            The state indices, (n,), int64.
        """
        rng = _as_generator(key_or_rng)
        chunks = _Chunks(self.W, self.b)
        p_chunk = np.exp(self.chunk_log_mass - self.log_Z)
        counts = rng.multinomial(int(n), p_chunk / p_chunk.sum())
        out = np.empty(int(n), dtype=np.int64)
        k = 0
        for c in np.flatnonzero(counts):
            logw, _ = chunks(c)
            p = np.exp(logw - self.chunk_log_mass[c])
            j = rng.choice(p.size, size=counts[c], p=p / p.sum())
            out[k : k + counts[c]] = (np.int64(c) << chunks.n_low) + j  # high sites are the bits of c
            k += counts[c]
        return out[rng.permutation(int(n))]


def spins_of_states(t: np.ndarray, n: int) -> np.ndarray:
    """Spins (len(t), n) float64 of the state indices t: s_i = 2 bit_i(t) - 1 (`spin_states` order).

    Parameters
    ----------
    t
        State indices, (count,).
    n
        The number of spins.

    Returns
    -------
    numpy.ndarray
        The spins, (count, n), float64 of +-1.
    """
    bits = (np.asarray(t, dtype=np.int64)[:, None] >> np.arange(n, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(np.float64)


def _as_generator(key_or_rng) -> np.random.Generator:
    if isinstance(key_or_rng, np.random.Generator):
        return key_or_rng
    if isinstance(key_or_rng, (int, np.integer)):
        return np.random.default_rng(int(key_or_rng))
    import jax  # a JAX PRNG key, typed or raw uint32

    key = key_or_rng
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, dtype=np.uint32).ravel().tolist())


def enumerate_spins(W, b) -> SpinEnumeration:
    """Exact log Z and moments of p(s) ∝ exp(s^T W s / 2 + b^T s) by enumerating all 2^N states.

    W symmetric with zero diagonal, N <= 24 (ValueError otherwise). Time ~ 2^N * 16 flops.

    Parameters
    ----------
    W
        The couplings, (N, N), symmetric with zero diagonal.
    b
        The field, (N,).

    Returns
    -------
    SpinEnumeration
        log Z, the moments of m and of the energy, and E[s_i].

    Raises
    ------
    ValueError
        W not N x N, symmetric and with a zero diagonal, b not of length N, or N outside [1, 24].
    """
    W, b = _check(W, b)
    n = W.shape[0]
    chunks = _Chunks(W, b)
    chunk_log_mass = np.empty(chunks.n_chunks)
    # running totals: log mass, then means and the energy variance under the normalised weights
    acc = None
    for c in range(chunks.n_chunks):
        logw, sh = chunks(c)
        mx = logw.max()
        w = np.exp(logw - mx)
        tot = w.sum()
        lm = mx + np.log(tot)
        chunk_log_mass[c] = lm
        w /= tot
        mag = (chunks.sum_low + sh.sum()) / n
        energy = -logw
        e_mean = w @ energy
        cur = {
            "m": w @ mag,
            "m2": w @ mag**2,
            "abs_m": w @ np.abs(mag),
            "m_pos": w[mag > 0].sum(),
            "m_zero": w[mag == 0].sum(),
            "s": np.concatenate([w @ chunks.S_low, sh]),
            "e": e_mean,
        }
        e_var = w @ (energy - e_mean) ** 2
        if acc is None:
            acc, acc_lm, acc_var = cur, lm, e_var
            continue
        new_lm = np.logaddexp(acc_lm, lm)
        ra, rb = np.exp(acc_lm - new_lm), np.exp(lm - new_lm)
        delta = cur["e"] - acc["e"]
        acc_var = ra * acc_var + rb * e_var + ra * rb * delta**2
        acc = {k: ra * acc[k] + rb * cur[k] for k in acc}
        acc_lm = new_lm
    return SpinEnumeration(
        n_spins=n,
        log_Z=float(acc_lm),
        mean_m=float(acc["m"]),
        mean_m2=float(acc["m2"]),
        mean_abs_m=float(acc["abs_m"]),
        prob_m_positive=float(acc["m_pos"]),
        prob_m_zero=float(acc["m_zero"]),
        energy_mean=float(acc["e"]),
        energy_sd=float(np.sqrt(max(acc_var, 0.0))),
        mean_s=np.asarray(acc["s"]),
        W=W,
        b=b,
        chunk_log_mass=chunk_log_mass,
    )
