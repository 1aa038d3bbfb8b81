"""Mode coverage of mixtures: modes visited and entropic mode coverage.

  EMC = -sum_k p_k log p_k / log K,  p_k the fraction of draws assigned to mode k
(Blessing et al. 2024): 1 when all K modes get equal mass, 0 when all draws sit in one.
"""

from __future__ import annotations

import numpy as np


def mode_coverage(assignments: np.ndarray, count: int) -> dict[str, float]:
    """Modes visited and EMC from mode indices of all draws (any shape).

    Parameters
    ----------
    assignments
        The index of the mode of every draw (any shape).
    count
        K, the number of modes.

    Returns
    -------
    dict
        `modes_visited`, `modes_total` and `emc`.
    """
    freq = np.bincount(np.asarray(assignments).ravel(), minlength=count) / np.asarray(assignments).size
    nonzero = freq[freq > 0]
    return {
        "modes_visited": int((freq > 0).sum()),
        "modes_total": int(count),
        "emc": float(-(nonzero * np.log(nonzero)).sum() / np.log(count)),
    }
