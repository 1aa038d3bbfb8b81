"""`evaluate` on draws whose answer is known: exact draws score as unbiased, weights are honoured."""

import jax
import jax.numpy as jnp
import numpy as np

from baselines.draws import Cost, Draws
from bench.metrics import evaluate
from targets import make_target

COST = Cost(time_warmup=1.0, time_sampling=1.0, grad_evals_warmup=500, grad_evals_sampling=500)


def _draws(positions, **kw):
    return Draws(positions=np.asarray(positions), logdensity=np.zeros(positions.shape[:2]), stats={}, cost=COST, **kw)


def test_exact_draws_are_scored_unbiased():
    target = make_target("gaussian", dim=3)
    x = np.asarray(target.sample(jax.random.key(0), 4000)).reshape(4, 1000, 3)
    row = evaluate(target, _draws(x), jax.random.key(1))
    for s in target.statistics:
        # iid draws: the mean's error is N(0, 1) in MCSE units; 4 MCSE => false alarm 6e-5 per statistic.
        assert abs(row[f"bias_mean_se[{s.name}]"]) < 4
        assert abs(row[f"bias_sd_se[{s.name}]"]) < 4
    # R-hat of 4 x 1000 iid draws: sd about 0.002 (Vehtari et al. 2021, fig. 3); 1.01 is 5 sds away.
    assert row["rhat_max"] < 1.01
    assert row["ess_bulk_per_1k_grads[x[0]]"] == row["ess_bulk[x[0]]"]  # 1,000 gradients in all
    assert row["worst_stat"] in {s.name for s in target.statistics}


def test_mixture_exact_draws_visit_all_modes():
    target = make_target("gmm40")
    x = np.asarray(target.sample(jax.random.key(2), 8000)).reshape(4, 2000, 2)
    row = evaluate(target, _draws(x), jax.random.key(3))
    assert row["modes_visited"] == 40
    # Plug-in entropy of 8000 multinomial draws is biased low by about (K - 1) / (2 N log K) = 6.6e-4
    # (Miller-Madow) with sd ~ 5e-4: 0.99 is far below both.
    assert row["emc"] > 0.99


def test_weighted_draws_use_self_normalised_estimates():
    # Target N(0, I); proposal N(0, 2^2 I): self-normalised estimates must recover mean 0 and sd 1.
    target = make_target("gaussian", dim=2, condition=1.0)
    mean = np.asarray(target.statistics[0].mean), np.asarray(target.statistics[1].mean)
    proposal = jax.random.normal(jax.random.key(4), (4, 2000, 2)) * 2.0 + jnp.array(mean)
    log_q = jnp.sum(-0.5 * ((proposal - jnp.array(mean)) / 2.0) ** 2 - jnp.log(2.0), axis=-1)
    log_w = np.asarray(jax.vmap(jax.vmap(target.log_prob))(proposal) - log_q)
    row = evaluate(target, _draws(np.asarray(proposal), log_weights=log_w), jax.random.key(5))
    for s in target.statistics:
        assert abs(row[f"bias_mean_se[{s.name}]"]) < 4  # delta-method MCSE: 4 SE
        assert abs(row[f"bias_sd_se[{s.name}]"]) < 4
    w = np.exp(log_w - log_w.max())
    np.testing.assert_allclose(row["ess_bulk_min"], w.sum() ** 2 / (w**2).sum())  # Kish ESS
    assert row["rhat_max"] is None or np.isnan(row["rhat_max"])  # no chains, no R-hat


def test_pareto_khat_of_gaussian_importance_weights():
    # Target N(0, 1), proposal N(0, s^2): the weights' right tail is Pareto with k = 1 - s^2 (s < 1)
    # and light (k < 0) for s > 1. Measured here over 20 seeds at n = 1e5: s = 0.9 gives 0.195 ± 0.034,
    # s = 0.6 gives 0.600 ± 0.049; 0.2 is > 4 of those sds.
    from bench.metrics.evidence import pareto_khat

    rng = np.random.default_rng(0)
    for s, k in ((0.9, 0.19), (0.6, 0.64)):
        x = rng.normal(size=100000) * s
        assert abs(pareto_khat(-0.5 * x**2 + 0.5 * (x / s) ** 2) - k) < 0.2
    x = rng.normal(size=100000) * 2.0
    assert pareto_khat(-0.5 * x**2 + 0.5 * (x / 2.0) ** 2) < 0


def test_rhat_max_runs_over_the_computable_statistics_and_names_the_others():
    """One statistic frozen at a value: R-hat max and the smallest ESS come from the other statistics, and
    `rhat_not_computable` / `ess_not_computable` name the frozen one; its ESS is not reported as N."""
    target = make_target("gaussian", dim=3)
    x = np.array(target.sample(jax.random.key(6), 2000)).reshape(4, 500, 3)
    x[..., 2] = 0.25
    row = evaluate(target, _draws(x), jax.random.key(7))
    assert row["rhat_max"] == max(row["rhat[x[0]]"], row["rhat[x[1]]"])
    assert row["ess_bulk_min"] == min(row["ess_bulk[x[0]]"], row["ess_bulk[x[1]]"])
    assert row["rhat_not_computable"] == row["ess_not_computable"] == "x[2]"
    assert np.isnan(row["ess_bulk[x[2]]"]) and np.isnan(row["rhat[x[2]]"])


def test_weighted_mmd_of_a_correctly_weighted_exact_sample_is_near_zero():
    """Exact N draws with weights independent of x (Kish ESS 64 of 1,000) are a correctly weighted sample of
    the target: the weighted MMD^2 is unbiased, so its mean over 20 repeats (new draws and exact reference each
    time) lies within 4 standard errors of 0, the SE from the repeats' own spread (false alarm 6e-5).
    Resampling the same draws to 1,000 equally weighted ones and taking the U-statistic, as before, counts the
    ties as distinct draws: inflated by about sum wbar^2 (1 - E k), here 4 SE and more (measured: +14 SE)."""
    from bench.metrics import mmd2
    from bench.metrics.discrepancy import resample

    target = make_target("gaussian", dim=10, condition=1.0)
    log_w = np.random.default_rng(0).normal(size=(2, 500)) * 2.0
    w = np.exp(log_w - log_w.max())
    assert 30 < w.sum() ** 2 / (w**2).sum() < 70  # Kish ESS 64
    weighted, resampled = [], []
    for r in range(20):
        x = np.asarray(target.sample(jax.random.key(100 + r), 1000)).reshape(2, 500, 10)
        weighted.append(evaluate(target, _draws(x, log_weights=log_w), jax.random.key(r))["mmd2"])
        exact = np.asarray(target.sample(jax.random.key(1000 + r), 1000))
        resampled.append(mmd2(resample(jax.random.key(2000 + r), x.reshape(-1, 10), log_w.ravel(), 1000), exact))
    for values, near_zero in ((weighted, True), (resampled, False)):
        values = np.asarray(values)
        z = values.mean() / (values.std(ddof=1) / np.sqrt(values.size))
        assert (abs(z) < 4) == near_zero, (values.mean(), z)
