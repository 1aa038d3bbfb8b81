"""banana: the closed-form truth checked by the exact draws (the transformation) and by a grid integral of the
target's own density (which also checks log Z = 0).

Monte Carlo tolerances are 4 standard errors (two-sided normal tail 6.3e-5 per check), with fixed seeds.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from targets.banana import banana

Z_SE = 4.0


@pytest.fixture(scope="module")
def target():
    return banana(3, 0.03)


def test_exact_draws_have_the_closed_form_moments(target):
    x = np.asarray(target.sample(jax.random.key(1), 200_000))
    for stat in target.statistics:
        f = np.asarray(stat.fn(jnp.asarray(x)))
        assert abs(f.mean() - stat.mean) < Z_SE * stat.sd / math.sqrt(f.size), stat.name
        # E[f^2] (true mean 0: the variance), standard error sd[f^2] / sqrt(n)
        assert abs((f**2).mean() - stat.sd**2) < Z_SE * stat.sq_sd / math.sqrt(f.size), stat.name


def test_grid_integral_of_the_density_gives_log_Z_and_the_moments(target):
    """Riemann sum over (x0, x1) of exp(log_prob) (x2 at 0, its N(0, 1) factor divided out): mass 1 and the
    closed-form E[x0^2], E[x1], E[x1^2], E[x1^4]. The grid covers 8 sds of x0 and the banana's arms."""
    h0, h1 = 0.1, 0.05
    x0 = np.arange(-80, 80, h0) + h0 / 2
    x1 = np.arange(-12, 200, h1) + h1 / 2
    g0, g1 = np.meshgrid(x0, x1, indexing="ij")
    pts = jnp.stack([g0.ravel(), g1.ravel(), jnp.zeros(g0.size)], axis=1)
    p = np.exp(np.asarray(jax.jit(jax.vmap(target.log_prob))(pts)) + 0.5 * math.log(2 * math.pi)) * h0 * h1
    s0, s1 = target.statistics[0], target.statistics[1]
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    assert (p * g0.ravel() ** 2).sum() == pytest.approx(s0.sd**2, rel=1e-6)
    assert (p * g1.ravel()).sum() == pytest.approx(s1.mean, abs=1e-5)
    assert (p * g1.ravel() ** 2).sum() == pytest.approx(s1.sd**2, rel=1e-5)
    m4 = s1.sq_sd**2 + s1.sd**4
    assert (p * g1.ravel() ** 4).sum() == pytest.approx(m4, rel=1e-4)


def test_published_curvature_gives_var_x1_19():
    """Inference Gym's banana (curvature 0.03, scale 10): Var[x1] = 1 + 2 (0.03)^2 10^4 = 19."""
    assert banana().statistics[1].sd ** 2 == pytest.approx(19.0)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"dim": 1}, "banana: dim must be an integer >= 2"),
        ({"curvature": -0.1}, r"banana: curvature must be in \[0, 1\]"),
        ({"curvature": float("nan")}, "banana: curvature must be finite"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        banana(**params)
