"""Sinkhorn divergence and entropic W2: near 0 between two exact samples, and a known shift s adds exactly
|s|^2 - 2 s . (mean x - mean y) to both OT_eps(x, y) and <P_eps, C> (the shift's cost is linear in the plan
and the same for every coupling of the two marginals; OT_eps(y + s, y + s) = OT_eps(y, y))."""

import jax
import numpy as np
import pytest

from baselines.draws import Cost, Draws
from bench.metrics import evaluate
from bench.metrics.transport import entropic_w2, sinkhorn_divergence, transport
from targets import make_target

N = 200  # points per cloud: small, so the tests are fast; the identities hold at any size
EPS_SD = 0.05  # a Sinkhorn divergence that converges on 200 points within the solver's iterations


def _normal(seed, n=N, dim=2):
    return np.asarray(jax.random.normal(jax.random.key(seed), (n, dim)))


def test_sinkhorn_divergence_of_two_exact_samples_is_small_and_a_shift_adds_its_exact_cost():
    repeats = [sinkhorn_divergence(_normal(2 * r), _normal(2 * r + 1), epsilon=EPS_SD) for r in range(4)]
    assert all(conv for _, conv, _ in repeats)
    values = np.array([v for v, _, _ in repeats])
    assert np.all(values >= -1e-6)
    x, y = _normal(0), _normal(1)
    s = np.array([1.0, -0.5])
    base, _, _ = sinkhorn_divergence(x, y, epsilon=EPS_SD)
    shifted, converged, _ = sinkhorn_divergence(x, y + s, epsilon=EPS_SD)
    assert converged
    # the divergence subtracts OT(x, x)/2 + OT(y + s, y + s)/2, both unchanged by the shift
    assert shifted == pytest.approx(base + s @ s - 2 * s @ (x.mean(0) - y.mean(0)), rel=1e-2, abs=1e-3)
    # the exact-sample spread is far below a shift of |s|^2 = 1.25
    assert values.max() + 3 * values.std() < 0.25 * (s @ s)


def test_entropic_w2_grows_with_the_shift_by_its_exact_cost():
    x, y = _normal(0), _normal(1)
    for s in (np.array([0.5, 0.0]), np.array([2.0, 1.0])):
        w0, c0, _ = entropic_w2(x, y)
        w, c, _ = entropic_w2(x, y + s)
        assert c0 and c
        assert w**2 == pytest.approx(w0**2 + s @ s - 2 * s @ (x.mean(0) - y.mean(0)), rel=1e-2, abs=1e-3)


def test_weights_enter_as_the_marginal_of_x():
    """Weighted draws: a cloud whose second half has zero weight is its first half."""
    x, y = _normal(0, 2 * N), _normal(1)
    log_w = np.where(np.arange(2 * N) < N, 0.0, -np.inf)
    weighted, _, _ = entropic_w2(x, y, log_w)
    half, _, _ = entropic_w2(x[:N], y)
    assert weighted == pytest.approx(half, rel=1e-4)


def test_the_published_sinkhorn_column_is_small_for_exact_samples_and_grows_with_a_shift():
    """eps = 1e-3 (the published convention): ott's solver stops unconverged at 2,000 iterations, so the shift
    identity does not hold (on 200 points the value falls ~16 % short of it); the column says it is unconverged,
    and the value still grows with the shift."""
    s = np.array([1.0, -0.5])
    rows = [transport(_normal(2 * r), _normal(2 * r + 1)) for r in range(3)]
    exact = np.array([r["sinkhorn"] for r in rows])
    x, y = _normal(0), _normal(1)
    shifted = transport(x, y + s)
    assert exact.max() + 3 * exact.std() < 0.25 * (s @ s)
    assert shifted["sinkhorn"] > exact.max() + 0.5 * (s @ s)
    assert transport(x, y + 2 * s)["sinkhorn"] > shifted["sinkhorn"] + 2 * (s @ s)
    assert "unconverged" in shifted.get("sinkhorn_not_converged", "unconverged")
    assert shifted["entropic_w2"] > rows[0]["entropic_w2"] and "entropic_w2_not_converged" not in shifted


def test_a_non_finite_cloud_leaves_the_columns_empty_with_their_reason():
    x, y = _normal(0), _normal(1)
    row = transport(np.where(np.arange(N)[:, None] == 0, np.nan, x), y)
    assert "sinkhorn" not in row and "non-finite" in row["sinkhorn_not_computed"]
    assert "entropic_w2" not in row and "non-finite" in row["entropic_w2_not_computed"]


def _banana_draws(n):
    target = make_target("banana")
    x = np.asarray(target.sample(jax.random.key(7), n)).reshape(2, n // 2, 2)
    return target, Draws(
        positions=x, logdensity=np.zeros(x.shape[:2]), stats={}, cost=Cost(time_warmup=1.0, time_sampling=1.0)
    )


def test_evaluate_leaves_the_transport_columns_out_on_a_cpu_unless_asked():
    target, draws = _banana_draws(200)
    assert jax.default_backend() != "cpu" or not any(
        "sinkhorn" in k or "w2" in k for k in evaluate(target, draws, jax.random.key(0))
    )
    row = evaluate(target, draws, jax.random.key(0), transport_distances=False)
    assert not any("sinkhorn" in k or "w2" in k for k in row)


@pytest.mark.slow
def test_evaluate_adds_both_transport_columns_when_asked():
    target, draws = _banana_draws(400)
    row = evaluate(target, draws, jax.random.key(0), transport_distances=True)
    assert row["sinkhorn"] >= 0 and row["entropic_w2"] > 0


def test_epsilon_none_is_otts_default_relative_epsilon():
    """epsilon=None: ott's default, 0.05 x sd of the x-y cost matrix, which a geometry built without epsilon gets
    (an ott call that sets epsilon on one PointCloud but passes only its points on gets this one, not 1e-3)."""
    x, y = _normal(0), _normal(1)
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    default, converged, _ = sinkhorn_divergence(x, y, epsilon=None)
    explicit, _, _ = sinkhorn_divergence(x, y, epsilon=0.05 * cost.std())
    assert converged and default == pytest.approx(explicit, rel=1e-6)
