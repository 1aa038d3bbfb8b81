"""Evidence columns of weighted samplers: log Z_hat and the importance ESS over all draws and per chain."""

import math

import numpy as np

from bench.metrics.evidence import evidence
from targets.gaussian import gaussian


def test_importance_ess_per_chain_batch_and_overall():
    """Per-chain normalised ESS (sum w)^2 / (n sum w^2) computed by hand on weights whose chains differ."""
    target = gaussian(dim=2, condition=1.0)
    rng = np.random.default_rng(0)
    lw = np.stack([rng.normal(0, s, 1000) for s in (0.1, 0.5, 1.0, 2.0)]) + 50.0  # 4 chains, 1000 draws
    info = {"loss": 0.0, "loss_se": 0.0, "iw_bound": 0.0, "iw_bound_se": 0.0, "log_Z_hat": 0.0}
    row = evidence(target, info, None, None, log_weights=lw)
    w = np.exp(lw - 50.0)
    per_chain = w.sum(1) ** 2 / (w.shape[1] * (w**2).sum(1))
    assert math.isclose(row["importance_ess_chain_median"], float(np.median(per_chain)), rel_tol=1e-12)
    assert math.isclose(row["importance_ess_chain_min"], per_chain.min(), rel_tol=1e-12)
    assert math.isclose(row["importance_ess_chain_max"], per_chain.max(), rel_tol=1e-12)
    assert math.isclose(row["importance_ess"], w.sum() ** 2 / (w.size * (w**2).sum()), rel_tol=1e-12)
    assert math.isclose(row["log_Z_hat"], 50.0 + math.log(w.mean()), rel_tol=1e-12)


def _pareto_log_weights(k: float, n: int = 400_000, seed: int = 0) -> np.ndarray:
    """log w of n Pareto weights w = u^(-k), u ~ U(0, 1): a right tail of shape k exactly."""
    return -k * np.log(np.random.default_rng(seed).uniform(size=(4, n // 4)))


def test_khat_above_one_half_marks_the_weighted_row_unreliable():
    """Raw self-normalised estimates have finite-variance MCSEs only for k < 0.5 (KHAT_MAX), not PSIS's 0.7:
    weights with tail shape 0.6 mark the row, 0.4 does not. The k-hat of 400,000 such weights, measured over
    8 seeds: 0.610 +- 0.018 (k = 0.6) and 0.411 +- 0.015 (k = 0.4); +-0.09 is 5 sds, and 0.5 lies 5 sds from
    either."""
    target = gaussian(dim=2, condition=1.0)
    info = {"loss": 0.0, "loss_se": 0.0, "iw_bound": 0.0, "iw_bound_se": 0.0, "log_Z_hat": 0.0}
    for k, marked in ((0.6, True), (0.4, False)):
        row = evidence(target, info, None, None, log_weights=_pareto_log_weights(k))
        assert abs(row["pareto_khat"] - k) < 0.09, row["pareto_khat"]
        assert row["khat_unreliable"] is marked
    # an MCMC row on the VAE's joint weights (vae-gibbs) is not marked; the independence chain (own) is
    high = {**info, "pareto_khat": 0.6}
    assert "khat_unreliable" not in evidence(target, high | {"diagnostics_weights": "joint K=0"}, None, None)
    assert evidence(target, high | {"diagnostics_weights": "own"}, None, None)["khat_unreliable"] is True
    from bench.metrics.evidence import KHAT_MAX

    assert KHAT_MAX == 0.5  # the one place of the threshold (tables and captions read it)
