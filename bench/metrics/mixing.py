"""Mixing diagnostics from ArviZ, per statistic: bulk and tail ESS, rank-normalised split R-hat, MCSE.

Definitions are ArviZ's (Vehtari et al. 2021, "Rank-normalization, folding, and localization"),
so numbers compare with Stan, PyMC and posteriordb. Tail ESS is pinned to quantiles (0.05, 0.95).
A statistic that is constant within every chain has no within-chain variance, so none of them is
defined (ArviZ would return ESS = N, or about 2, and a NaN or infinite R-hat): they are NaN here,
and `not_computable` says which statistics.
"""

from __future__ import annotations

import arviz as az
import numpy as np

TAIL_PROB = (0.05, 0.95)


def constant_within_chains(values: np.ndarray) -> np.ndarray:
    """True for each statistic that never changes within any chain; values (chains, draws, n_statistics).

    Parameters
    ----------
    values
        The statistics at the draws, shape (chains, draws, n_statistics).

    Returns
    -------
    numpy.ndarray
        A boolean per statistic, (n_statistics,).
    """
    values = np.asarray(values)
    return np.all(values == values[:, :1, :], axis=(0, 1))


def mixing(values: np.ndarray) -> dict[str, np.ndarray]:
    """ESS (bulk, tail), R-hat and MCSE (of mean, of sd) of each statistic, NaN where not computable.

    Parameters
    ----------
    values
        The statistics at the draws, shape (chains, draws, n_statistics).

    Returns
    -------
    dict of str to numpy.ndarray
        `ess_bulk`, `ess_tail`, `rhat`, `mcse_mean` and `mcse_sd`, each of shape (n_statistics,).
    """
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "ess_bulk": np.atleast_1d(az.ess(values, method="bulk")),
            "ess_tail": np.atleast_1d(az.ess(values, method="tail", prob=TAIL_PROB)),
            "rhat": np.atleast_1d(az.rhat(values)),
            "mcse_mean": np.atleast_1d(az.mcse(values, method="mean")),
            "mcse_sd": np.atleast_1d(az.mcse(values, method="sd")),
        }
    frozen = constant_within_chains(values)
    out = {k: np.where(frozen | ~np.isfinite(v), np.nan, v) for k, v in out.items()}
    return out
