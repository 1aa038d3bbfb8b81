"""Cost to accuracy (`bench.metrics.cost`): the running bias2 of iid exact draws has mean 1/n, the draws after which
it stays below 0.01 follow their Brownian-limit law, the cost at that draw is counted as the contract counts it, and
biased draws never get there."""

import math

import jax
import numpy as np
import pytest

from baselines.draws import Cost, Draws
from bench.metrics import evaluate
from bench.metrics.accuracy import bias2
from bench.metrics.cost import cost_to_accuracy, cumulative_cost, restore_never, running_second, settled
from bench.metrics.truth import passes_truth, truth_failures
from targets import make_target

CATALAN = 0.915965594177219
REPEATS = 400


def _uniform_g(chains, n, repeats, seed=0):
    """f = sqrt(U), U ~ Uniform(0, 1): g = f^2 = U, with E[g] = 1/2, Var[g] = 1/12 (light tails, symmetric: the
    running mean of g is close to Gaussian already at small n). Each column an independent repeat."""
    return np.sqrt(np.random.default_rng(seed).uniform(size=(chains, n, repeats)))


# the truth of f = sqrt(U): mean 2/3, sd^2 = 1/2 - 4/9 = 1/18, sd of f^2 = sqrt(1/12)
F_MEAN, F_SD, F_SQ_SD = 2 / 3, math.sqrt(1 / 18), math.sqrt(1 / 12)


def test_running_bias2_of_iid_draws_has_mean_one_over_n():
    """E[bias2_n] = E[(mean of C n iid g - E g)^2] / Var g = 1 / (C n) exactly (C = 2 chains pooled). Tolerance: 4
    standard errors of the mean of (C n) bias2_n over 400 repeats (about 4 sqrt(2 / 400) = 0.28)."""
    values = _uniform_g(2, 1000, REPEATS)
    curve = bias2(running_second(values), F_MEAN, F_SD, F_SQ_SD)  # (1000, repeats)
    for n in (1, 10, 100, 1000):
        scaled = curve[n - 1] * 2 * n
        assert abs(scaled.mean() - 1) < 4 * scaled.std(ddof=1) / math.sqrt(REPEATS), n


def test_draws_until_bias2_stays_below_001_follow_the_brownian_limit():
    """bias2_n > 0.01 iff |W_n| > 0.1 n, W the standardised random walk of g. By time inversion the last such n
    of Brownian motion is 1 / tau, tau the exit time of (-0.1, 0.1): tau = 0.01 tau_1, so n* = 100 / tau_1 with
    E[1/tau_1] = int_0^inf u sech(u) du = 2G (G Catalan's constant): E[n*] = 183.2, median 132 (from
    P(tau_1 > t) = (4/pi) sum_k (-1)^k/(2k+1) exp(-(2k+1)^2 pi^2 t / 8)). Tolerance: 4 standard errors over 400
    repeats plus 5% for the walk's discrete time (measured 2% with 2,000 repeats); N = 4000 is far beyond the
    law's 99.9% point (about 1,200), so the budget cuts off nothing."""
    values = _uniform_g(1, 4000, REPEATS, seed=1)
    n_star = settled(bias2(running_second(values), F_MEAN, F_SD, F_SQ_SD))
    assert np.isfinite(n_star).all()
    expected = 200 * CATALAN
    tolerance = 4 * n_star.std(ddof=1) / math.sqrt(REPEATS) + 0.05 * expected
    assert abs(n_star.mean() - expected) < tolerance
    assert abs((n_star <= 132).mean() - 0.5) < 4 * math.sqrt(0.25 / REPEATS) + 0.03  # the median


def test_settled_is_the_first_draw_after_which_the_curve_stays_below():
    curve = np.array([0.5, 0.005, 0.02, 0.009, 0.001, 0.01])
    assert settled(curve) == 4  # above at draw 3, below (<= 0.01) from draw 4 on
    assert settled(np.full(5, 0.001)) == 1
    assert settled(np.array([0.001, 0.02])) == math.inf  # above at the last draw: never within the budget
    assert settled(np.array([0.001, np.nan, 0.001])) == 3  # a NaN is not below


def test_weighted_running_estimate_is_the_self_normalised_one_at_every_n():
    """Against the direct sum at each n, with log weights offset by 2,000 (exp would overflow) and one -inf."""
    rng = np.random.default_rng(3)
    values, lw = rng.normal(size=(3, 20, 2)), rng.normal(size=(3, 20)) + 2000.0
    lw[1, 0] = -np.inf
    run = running_second(values, lw)
    for n in (1, 7, 20):
        w = np.exp(lw[:, :n] - 2000.0)
        np.testing.assert_allclose(run[n - 1], np.einsum("cd,cds->s", w, values[:, :n] ** 2) / w.sum(), rtol=1e-12)


def test_cost_counts_warmup_and_per_draw_steps_where_they_add_up():
    """Per-draw `n_steps` summing to grad_evals_sampling (e.g. NUTS) are used; otherwise pro rata n/N."""
    steps = np.array([[1, 3, 1, 3], [1, 1, 1, 1]])  # 2 chains x 4 draws: 12 gradients
    cost = Cost(
        grad_evals_warmup=100,
        grad_evals_sampling=12,
        logdensity_evals_warmup=10,
        logdensity_evals_sampling=40,
        time_warmup=2.0,
        time_sampling=4.0,
    )
    spent = cumulative_cost(cost, 4, steps)
    assert list(spent["grads"]) == [102, 106, 108, 112] and spent["counting"] == "per-draw"
    assert list(spent["logdens"]) == [20, 30, 40, 50]  # 40 != 12: pro rata
    assert list(spent["seconds"]) == [3.0, 4.0, 5.0, 6.0]  # warm-up + n/N of sampling
    assert cumulative_cost(cost, 4)["counting"] == "pro rata"
    assert list(cumulative_cost(cost, 4)["grads"]) == [103, 106, 109, 112]


TARGET = make_target("gaussian", dim=2)
COST = Cost(
    grad_evals_warmup=1000,
    grad_evals_sampling=8000,
    logdensity_evals_warmup=1000,
    logdensity_evals_sampling=8000,
    time_warmup=1.0,
    time_sampling=2.0,
)


def _draws(x):
    return Draws(positions=np.asarray(x), logdensity=np.zeros(x.shape[:2]), stats={}, cost=COST)


def test_exact_draws_reach_bias2_001_at_the_hand_counted_cost_and_biased_draws_never():
    """Exact draws of the 2-d Gaussian (4 chains x 2000): the columns are the warm-up plus n*/N of the sampling
    cost at n* = `settled` of the max (and avg) over x[0]^2 and x[1]^2; the last draw's bias2 is the record's
    bias2_max. Draws with sd 1.3 times too large never reach 0.01: never (inf), and the row fails truth."""
    x = np.asarray(TARGET.sample(jax.random.key(0), 8000)).reshape(4, 2000, 2)
    row = evaluate(TARGET, _draws(x), jax.random.key(1))
    curve = bias2(
        running_second(x),
        np.array([s.mean for s in TARGET.statistics]),
        np.array([s.sd for s in TARGET.statistics]),
        np.array([s.sq_sd for s in TARGET.statistics]),
    )
    assert curve[-1].max() == pytest.approx(row["bias2_max"], rel=1e-9)
    for kind, summary in (("max", curve.max(1)), ("avg", curve.mean(1))):
        n = settled(summary)
        assert row[f"bias2_{kind}_reached"] and row[f"draws_to_bias2_{kind}"] == n
        assert row[f"grads_to_bias2_{kind}"] == pytest.approx(1000 + 8000 * n / 2000)
        assert row[f"logdens_to_bias2_{kind}"] == pytest.approx(1000 + 8000 * n / 2000)
        assert row[f"seconds_to_bias2_{kind}"] == pytest.approx(1.0 + 2.0 * n / 2000)
    assert row["draws_to_bias2_avg"] <= row["draws_to_bias2_max"] < 2000
    assert row["bias2_cost_counting"] == "pro rata" and passes_truth(row) is True

    mean = np.array([s.mean for s in TARGET.statistics])
    wide = evaluate(TARGET, _draws(mean + 1.3 * (x - mean)), jax.random.key(1))
    assert not wide["bias2_max_reached"] and not wide["bias2_avg_reached"]
    assert wide["grads_to_bias2_max"] == wide["seconds_to_bias2_max"] == math.inf
    assert passes_truth(wide) is False


def test_no_columns_without_known_squares_and_no_gradient_column_without_gradients():
    """A target whose statistics lack sd[f^2] gets no cost-to-accuracy column; a gradient-free run no grads one."""
    import dataclasses

    blind = dataclasses.replace(TARGET, statistics=tuple(dataclasses.replace(s, sq_sd=None) for s in TARGET.statistics))
    x = np.asarray(TARGET.sample(jax.random.key(0), 400)).reshape(2, 200, 2)
    assert cost_to_accuracy(blind, x, COST) == {}
    row = cost_to_accuracy(TARGET, x, Cost(logdensity_evals_sampling=400, time_sampling=1.0))
    assert "grads_to_bias2_max" not in row and "logdens_to_bias2_max" in row


def test_a_stored_never_is_read_back_as_inf():
    """JSON has no inf: a stored record holds null in the columns, `bias2_max_reached` False restores "never"."""
    import json

    from bench import store

    record = {
        "bias2_max_reached": False,
        "grads_to_bias2_max": math.inf,
        "seconds_to_bias2_max": math.inf,
        "draws_to_bias2_max": math.inf,
        "bias2_avg_reached": True,
        "grads_to_bias2_avg": 10.0,
    }
    stored = json.loads(json.dumps(store._jsonable(record)))
    assert stored["grads_to_bias2_max"] is None
    back = restore_never(stored)
    assert back["grads_to_bias2_max"] == back["seconds_to_bias2_max"] == math.inf and back["grads_to_bias2_avg"] == 10.0
    assert "logdens_to_bias2_max" not in back


def test_weighted_draws_without_a_log_z_still_get_their_khat_and_heavy_weights_fail_truth():
    """Weighted draws of a sampler that reports no log Z (no `log_Z_hat` in info): `evaluate` still fits the
    weights' Pareto k-hat. Exact draws with Pareto weights w = U^(-1/alpha): tail shape k = 1/alpha, 1 for alpha = 1
    (infinite variance: fails truth), 0.1 for alpha = 10. Over 30 seeds the k-hat of 8,000 such weights had sd 0.13
    (alpha = 1, mean 0.95) and 0.07 (alpha = 10, mean 0.11): 0.5 is over 3 sds from either."""
    x = np.asarray(TARGET.sample(jax.random.key(0), 8000)).reshape(4, 2000, 2)
    u = np.random.default_rng(5).uniform(size=(4, 2000))
    rows = {
        alpha: evaluate(
            TARGET,
            Draws(positions=x, logdensity=np.zeros((4, 2000)), stats={}, cost=COST, log_weights=-np.log(u) / alpha),
            jax.random.key(1),
        )
        for alpha in (1.0, 10.0)
    }
    assert rows[1.0]["khat_unreliable"] and passes_truth(rows[1.0]) is False
    assert any(f.startswith("k̂") for f in truth_failures(rows[1.0]))
    assert not rows[10.0]["khat_unreliable"]
