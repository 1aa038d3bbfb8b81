"""Well-sign coverage of independent double wells (ManyWell): too many modes (2^K) to count as an EMC.

From the side of the barrier each well's coordinate is on, per draw a K-bit sign pattern:
  patterns visited   distinct patterns among the n draws, beside the number that n independent exact draws
                     visit on average, sum_k C(K, k) (1 - (1 - p^k (1-p)^(K-k))^n), p = P(upper mode);
  balance per well   the fraction of draws in each well's upper mode, against its truth p.
"""

from __future__ import annotations

import math

import numpy as np


def expected_patterns(wells: int, p_upper: float, n: int) -> float:
    """Mean number of distinct sign patterns among n independent exact draws of `wells` independent wells.

    Parameters
    ----------
    wells
        K, the number of wells.
    p_upper
        p, each well's probability of its upper mode.
    n
        The number of draws.

    Returns
    -------
    float
        sum_k C(K, k) (1 - (1 - p^k (1-p)^(K-k))^n) (the module docstring).
    """
    return float(
        sum(
            math.comb(wells, k) * -math.expm1(n * math.log1p(-(p_upper**k) * (1 - p_upper) ** (wells - k)))
            for k in range(wells + 1)
        )
    )


def well_coverage(upper: np.ndarray, p_upper: float, names: list[str]) -> dict[str, float]:
    """Coverage from `upper` (n, K): whether each draw is in each well's upper mode; `names`: the K coordinates.

    Parameters
    ----------
    upper
        Whether each of n draws is in each of the K wells' upper mode, shape (n, K).
    p_upper
        The true probability of each well's upper mode.
    names
        The K coordinates' names.

    Returns
    -------
    dict
        The `well_*` columns: patterns visited, total, their fraction and the exact draws' mean, and the
        balance per well (`well_upper[name]`) with its truth, extremes and largest error.
    """
    upper = np.asarray(upper, dtype=bool)
    n, wells = upper.shape
    visited = len(np.unique(np.packbits(upper, axis=1), axis=0))
    frac = upper.mean(axis=0)
    row = {
        "well_patterns_visited": int(visited),
        "well_patterns_total": 2**wells,
        "well_patterns_frac": visited / 2**wells,
        "well_patterns_exact": expected_patterns(wells, p_upper, n),
        "well_upper_true": float(p_upper),
        "well_upper_min": float(frac.min()),
        "well_upper_max": float(frac.max()),
        "well_balance_error_max": float(np.abs(frac - p_upper).max()),
    }
    return row | {f"well_upper[{name}]": float(f) for name, f in zip(names, frac)}
