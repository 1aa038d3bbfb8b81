"""Evidence columns of weighted samplers: log Z_hat and the importance ESS over all draws and per chain."""
import math

import numpy as np

from bench.metrics.evidence import evidence
from targets.gaussian import gaussian


def test_importance_ess_per_chain_batch_and_overall():
    """Per-chain normalised ESS (sum w)^2 / (n sum w^2) computed by hand on weights whose chains differ."""
    target = gaussian(dim=2, condition=1.0)
    rng = np.random.default_rng(0)
    lw = np.stack([rng.normal(0, s, 1000) for s in (0.1, 0.5, 1.0, 2.0)]) + 50.0   # 4 chains, 1000 draws
    info = {"loss": 0.0, "loss_se": 0.0, "iw_bound": 0.0, "iw_bound_se": 0.0, "log_Z_hat": 0.0}
    row = evidence(target, info, None, None, log_weights=lw)
    w = np.exp(lw - 50.0)
    per_chain = w.sum(1) ** 2 / (w.shape[1] * (w**2).sum(1))
    assert math.isclose(row["importance_ess_chain_median"], float(np.median(per_chain)), rel_tol=1e-12)
    assert math.isclose(row["importance_ess_chain_min"], per_chain.min(), rel_tol=1e-12)
    assert math.isclose(row["importance_ess_chain_max"], per_chain.max(), rel_tol=1e-12)
    assert math.isclose(row["importance_ess"], w.sum() ** 2 / (w.size * (w**2).sum()), rel_tol=1e-12)
    assert math.isclose(row["log_Z_hat"], 50.0 + math.log(w.mean()), rel_tol=1e-12)
