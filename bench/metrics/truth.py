"""Whether a run's accuracy columns say it is right ("passes truth"): the one place of the thresholds.

A record passes truth when every criterion whose column it has holds:

  bias_mean_se_max <= BIAS_MCSE_MAX (4)   no statistic's mean is off by more than 4 Monte Carlo standard errors
                                          (|E_hat[f] - E[f]| / sqrt(mcse^2 + se_truth^2), bench.metrics.accuracy)
  bias2_max        <= BIAS2_MAX (0.01)    no statistic's E_hat[f^2] is off by more than 0.1 sd of f^2
                                          (the converged level of the bias2 convention, bench.metrics.accuracy)
  khat_unreliable  is False               where the estimates rest on importance weights (weighted draws; the
                                          independence chain's own weights): Pareto k-hat <= KHAT_MAX (0.5,
                                          bench.metrics.evidence, which sets `khat_unreliable`)

A record with neither bias column (a target without ground truth) has no truth: it neither passes nor fails.
A configuration (several seeds) passes when every seed with truth passes (`config_verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from bench.metrics.evidence import KHAT_MAX

BIAS_MCSE_MAX = 4.0
BIAS2_MAX = 0.01

__all__ = ["BIAS2_MAX", "BIAS_MCSE_MAX", "KHAT_MAX", "config_verdict", "passes_truth", "truth_failures", "verdict_text"]


def _finite(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def truth_failures(record: Mapping) -> list[str] | None:
    """The criteria (module doc) that the record fails, each with its value (e.g. `bias² 0.31 > 0.01`).

    Parameters
    ----------
    record
        A record with (some of) the truth columns.

    Returns
    -------
    list of str or None
        The failed criteria; [] when it passes; None when it has no truth columns.
    """
    failed = _failed(record)
    return None if failed is None else [f"{label} {value} > {limit}" for label, value, limit in failed]


def _failed(record: Mapping) -> list[tuple[str, str, str]] | None:
    """(criterion, the record's value, the limit) of every failed criterion; None without truth columns."""
    bias_se, bias2 = _finite(record.get("bias_mean_se_max")), _finite(record.get("bias2_max"))
    if bias_se is None and bias2 is None:
        return None
    failed = []
    if bias_se is not None and not abs(bias_se) <= BIAS_MCSE_MAX:
        failed.append(("|bias|/MCSE", f"{abs(bias_se):.3g}", f"{BIAS_MCSE_MAX:g}"))
    if bias2 is not None and not bias2 <= BIAS2_MAX:
        failed.append(("bias²", f"{bias2:.3g}", f"{BIAS2_MAX:g}"))
    unreliable = record.get("khat_unreliable")
    if unreliable is True or unreliable == 1:  # a NaN k-hat (no fit) counts as above, as in khat_unreliable
        khat = _finite(record.get("pareto_khat"))
        failed.append(("k̂", "NaN" if khat is None else f"{khat:.2f}", f"{KHAT_MAX:g}"))
    return failed


def passes_truth(record: Mapping) -> bool | None:
    """True / False by `truth_failures`; None when the record has no truth.

    Parameters
    ----------
    record
        A record with (some of) the truth columns.

    Returns
    -------
    bool or None
        Whether it passes truth; None without truth columns.
    """
    failures = truth_failures(record)
    return None if failures is None else not failures


def config_verdict(records: Iterable[Mapping]) -> tuple[bool | None, int, int, str]:
    """The verdict of one configuration's finished seeds: passes when every seed with truth passes.

    Parameters
    ----------
    records
        The configuration's records, one per finished seed.

    Returns
    -------
    tuple of (bool or None, int, int, str)
        (passes, seeds passing, seeds with truth, the failed criteria with their seed counts, e.g.
        `bias² > 0.01 in 2 seeds`); passes is None when no seed has truth, else True when every seed with
        truth passes.
    """
    n_pass = n_judged = 0
    counts: dict[str, int] = {}
    for record in records:
        failed = _failed(record)
        if failed is None:
            continue
        n_judged += 1
        n_pass += not failed
        for label, _, limit in failed:
            counts[f"{label} > {limit}"] = counts.get(f"{label} > {limit}", 0) + 1
    reasons = "; ".join(f"{c} in {n} seed{'s' * (n > 1)}" for c, n in counts.items())
    return (None if n_judged == 0 else n_pass == n_judged), n_pass, n_judged, reasons


def verdict_text(passes: bool | None, n_pass: int, n_judged: int) -> str:
    """`yes (3/3)`, `NO (2/3)` (seeds passing / seeds with truth), or `no truth`.

    Parameters
    ----------
    passes
        The verdict (`config_verdict`); None: no truth.
    n_pass
        The seeds passing.
    n_judged
        The seeds with truth.

    Returns
    -------
    str
        The verdict's text.
    """
    if passes is None:
        return "no truth"
    return f"{'yes' if passes else 'NO'} ({n_pass}/{n_judged})"
