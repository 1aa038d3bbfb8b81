"""The numpyro adapter: log_prob is numpyro's joint log density at the constrained values plus the
log-Jacobian of the map from unconstrained space; names and shapes of the model's sites; bad models."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.distributions.transforms import biject_to
from numpyro.infer.util import log_density
from scipy import stats

from targets.posteriors import ModelError, from_numpyro
from targets.posteriors.models import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y, model_of, standard

jax.config.update("jax_enable_x64", True)
STANDARD = ["eight_schools", "eight_schools_nc", "cancer", "longley"]


def _numpyro_log_density_plus_jacobian(model, kwargs, constrained):
    """log p(data, theta) at the constrained values + sum_sites log|det d theta / d x|, site by site."""
    trace = numpyro.handlers.trace(numpyro.handlers.seed(model, 0)).get_trace(**kwargs)
    latent = {k: s for k, s in trace.items() if s["type"] == "sample" and not s["is_observed"]}
    values = {k: constrained[k] for k in latent}
    joint, _ = log_density(model, (), kwargs, values)
    jacobian = 0.0
    for k, site in latent.items():
        transform = biject_to(site["fn"].support)
        x = transform.inv(values[k])
        jacobian += jnp.sum(transform.log_abs_det_jacobian(x, values[k]))
    return joint + jacobian


@pytest.mark.parametrize("name", STANDARD)
def test_log_prob_is_numpyro_log_density_plus_log_jacobian(name):
    target = standard(name)
    model, kwargs = model_of(name)
    xs = 1.5 * jax.random.normal(jax.random.key(0), (5, target.dim))  # random points, wider than the init box
    for x in xs:
        expected = _numpyro_log_density_plus_jacobian(model, kwargs, target.constrain(x))
        np.testing.assert_allclose(target.log_prob(x), expected, rtol=1e-10, atol=1e-8)


def test_eight_schools_log_prob_by_hand():
    """Independent of numpyro: scipy densities, tau = exp(x_tau) with log-Jacobian x_tau."""
    target = standard("eight_schools")
    x = np.asarray(jax.random.normal(jax.random.key(3), (target.dim,)))
    c = {k: np.asarray(v) for k, v in target.constrain(jnp.asarray(x)).items()}
    mu, tau, theta = c["mu"], c["tau"], c["theta"]
    expected = (
        stats.norm.logpdf(mu, 0, 5)
        + stats.halfcauchy.logpdf(tau, scale=5)
        + np.log(tau)
        + stats.norm.logpdf(theta, mu, tau).sum()
        + stats.norm.logpdf(EIGHT_SCHOOLS_Y, theta, EIGHT_SCHOOLS_SIGMA).sum()
    )
    np.testing.assert_allclose(target.log_prob(jnp.asarray(x)), expected, rtol=1e-10)


def test_dims_names_and_shapes():
    assert {n: standard(n).dim for n in STANDARD} == {
        "eight_schools": 10,
        "eight_schools_nc": 10,
        "cancer": 31,
        "longley": 8,
    }
    es = standard("eight_schools_nc")
    shapes = {k: v.shape for k, v in es.constrain(jnp.zeros(10)).items()}
    assert shapes == {"mu": (), "tau": (), "theta_tilde": (8,), "theta": (8,)}
    names = [s.name for s in es.statistics]
    assert names[:3] == ["mu", "tau", "theta[0]"] and "theta_tilde[7]" in names and len(names) == 18
    assert es.log_Z is None and es.headline == "tau"


def test_statistics_are_the_constrained_values():
    target = standard("longley")
    x = jax.random.normal(jax.random.key(1), (target.dim,))
    c = target.constrain(x)
    by_name = {s.name: float(s.fn(x)) for s in target.statistics}
    assert by_name["sigma"] == pytest.approx(float(c["sigma"])) and by_name["sigma"] > 0
    assert by_name["beta[5]"] == pytest.approx(float(c["beta"][5]))


def test_log_prob_jits_vmaps_and_differentiates():
    target = standard("cancer")
    xs = target.initial(jax.random.key(0), 4)
    lp = jax.jit(jax.vmap(target.log_prob))(xs)
    grads = jax.vmap(jax.grad(target.log_prob))(xs)
    assert lp.shape == (4,) and np.isfinite(lp).all() and grads.shape == xs.shape and np.isfinite(grads).all()


def test_no_reference_means_no_truth():
    def model():
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=1.0)

    target = from_numpyro(model, "tiny")
    assert target.dim == 1 and target.sample is None and np.isnan(target.statistics[0].mean)
    assert "no reference" in target.truth
    # conjugate check: posterior N(1/2, 1/2), so log_prob(x) - log N(x; 1/2, sqrt(1/2)) is constant (= log Z)
    xs = jnp.linspace(-2, 3, 7)
    diff = jax.vmap(target.log_prob)(xs[:, None]) - stats.norm.logpdf(np.asarray(xs), 0.5, np.sqrt(0.5))
    np.testing.assert_allclose(diff, diff[0], atol=1e-10)


def test_not_a_model_is_refused():
    with pytest.raises(ModelError, match="no latent `numpyro.sample` site"):
        from_numpyro(lambda: 3.0, "constant")
    with pytest.raises(ModelError, match="could not be run as a numpyro model: TypeError"):
        from_numpyro(lambda data: numpyro.sample("a", dist.Normal(data, 1.0)), "needs_data")

    def discrete():
        numpyro.sample("k", dist.Bernoulli(0.3))

    with pytest.raises(ModelError, match="discrete latent sites"):
        from_numpyro(discrete, "discrete")


def test_site_names_the_draws_use_are_refused():
    """A latent named `x` or `statistics` would collide with the stored draws' own variables."""

    def named_x():
        numpyro.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(ModelError, match="site name 'x' is used by the suite's draws"):
        from_numpyro(named_x, "named_x")
