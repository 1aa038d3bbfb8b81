"""Mixing diagnostics from ArviZ, per statistic: bulk and tail ESS, rank-normalised split R-hat, MCSE.

Definitions are ArviZ's (Vehtari et al. 2021, "Rank-normalization, folding, and localization"),
so numbers compare with Stan, PyMC and posteriordb. Tail ESS is pinned to quantiles (0.05, 0.95).
"""
from __future__ import annotations

import arviz as az
import numpy as np

TAIL_PROB = (0.05, 0.95)


def mixing(values: np.ndarray) -> dict[str, np.ndarray]:
    """ESS (bulk, tail), R-hat and MCSE (of mean, of sd) of each statistic.

    values: (chains, draws, n_statistics). Each result has shape (n_statistics,).
    """
    values = np.asarray(values, dtype=np.float64)
    return {
        "ess_bulk": np.atleast_1d(az.ess(values, method="bulk")),
        "ess_tail": np.atleast_1d(az.ess(values, method="tail", prob=TAIL_PROB)),
        "rhat": np.atleast_1d(az.rhat(values)),
        "mcse_mean": np.atleast_1d(az.mcse(values, method="mean")),
        "mcse_sd": np.atleast_1d(az.mcse(values, method="sd")),
    }
