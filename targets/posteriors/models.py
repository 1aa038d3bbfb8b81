"""The standard set of Bayesian posteriors, their data shipped in `targets/data/posteriors/`.

eight_schools     Rubin (1981), Gelman et al. BDA3 sec. 5.5; posteriordb's `eight_schools-eight_schools_centered`:
                  mu ~ N(0, 5), tau ~ half-Cauchy(0, 5), theta_j ~ N(mu, tau), y_j ~ N(theta_j, sigma_j).
                  Centred: the funnel between tau and theta that makes NUTS diverge (d = 10).
eight_schools_nc  the same posterior, non-centred: theta_j = mu + tau * theta_tilde_j, theta_tilde_j ~ N(0, 1)
                  (posteriordb's `eight_schools_noncentered`); theta is a deterministic site (d = 10).
cancer            Bayesian logistic regression on the Wisconsin diagnostic breast-cancer data (569 x 30,
                  Street, Wolberg & Mangasarian 1993), the "Cancer" target (d = 31) of Blessing et al. (2024,
                  "Beyond ELBOs"): y = benign, features standardised, alpha, beta_k ~ N(0, 1).
longley           Bayesian linear regression on Longley's (1967) macro-economic data (16 x 6, NIST StRD), the
                  textbook case of collinearity: predictors and response standardised, alpha ~ N(0, 1),
                  beta_k ~ N(0, 10), sigma ~ half-N(1). Posterior correlations up to |rho| ~ 0.99 and scales
                  two orders of magnitude apart make it hard for a diagonal metric (d = 8).
"""

from __future__ import annotations

import functools
import importlib.resources
import pathlib

import jax
import numpy as np

from targets.base import Target
from targets.posteriors.adapter import from_numpyro

EIGHT_SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_model(y=EIGHT_SCHOOLS_Y, sigma=EIGHT_SCHOOLS_SIGMA):
    """The eight schools numpyro model, centred: mu ~ N(0, 5), tau ~ half-Cauchy(0, 5), theta_j ~ N(mu, tau).

    Parameters
    ----------
    y
        The schools' observed effects y_j ~ N(theta_j, sigma_j).
    sigma
        Their standard errors sigma_j.
    """
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(y)):
        theta = numpyro.sample("theta", dist.Normal(mu, tau))
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_nc_model(y=EIGHT_SCHOOLS_Y, sigma=EIGHT_SCHOOLS_SIGMA):
    """The eight schools numpyro model, non-centred: theta_j = mu + tau * theta_tilde_j, theta_tilde_j ~ N(0, 1).

    mu ~ N(0, 5), tau ~ half-Cauchy(0, 5); theta is a deterministic site.

    Parameters
    ----------
    y
        The schools' observed effects y_j ~ N(theta_j, sigma_j).
    sigma
        Their standard errors sigma_j.
    """
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", len(y)):
        theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def logistic_regression_model(x, y, prior_scale=1.0):
    """Bayesian logistic regression numpyro model: y ~ Bernoulli(logits = alpha + x beta).

    alpha, beta_k ~ N(0, prior_scale).

    Parameters
    ----------
    x
        The features, (n, k).
    y
        The 0/1 outcomes, (n,).
    prior_scale
        The sd of the normal priors of alpha and beta.
    """
    import numpyro
    import numpyro.distributions as dist

    alpha = numpyro.sample("alpha", dist.Normal(0.0, prior_scale))
    beta = numpyro.sample("beta", dist.Normal(0.0, prior_scale).expand([x.shape[1]]).to_event(1))
    numpyro.sample("y", dist.Bernoulli(logits=alpha + x @ beta), obs=y)


def linear_regression_model(x, y, beta_scale=10.0):
    """Bayesian linear regression numpyro model: y ~ N(alpha + x beta, sigma).

    alpha ~ N(0, 1), beta_k ~ N(0, beta_scale), sigma ~ half-N(1).

    Parameters
    ----------
    x
        The predictors, (n, k).
    y
        The responses, (n,).
    beta_scale
        The sd of the normal prior of beta.
    """
    import numpyro
    import numpyro.distributions as dist

    alpha = numpyro.sample("alpha", dist.Normal(0.0, 1.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, beta_scale).expand([x.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    numpyro.sample("y", dist.Normal(alpha + x @ beta, sigma), obs=y)


def _data(name: str) -> tuple[list[str], np.ndarray]:
    path = importlib.resources.files("targets") / "data" / "posteriors" / name
    with importlib.resources.as_file(path) as p, open(p) as f:
        header = f.readline().strip().split(",")
        return header, np.loadtxt(f, delimiter=",", ndmin=2)


def _standardise(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(0)) / a.std(0)


@functools.cache
def cancer_data() -> tuple[np.ndarray, np.ndarray]:
    """Standardised features (569, 30) and y = 1 for benign (scikit-learn's coding).

    Returns
    -------
    tuple of numpy.ndarray
        The features (569, 30) and the outcomes (569,).
    """
    _, table = _data("breast_cancer.csv")
    return _standardise(table[:, :30]), table[:, 30]


@functools.cache
def longley_data() -> tuple[np.ndarray, np.ndarray]:
    """Standardised predictors (16, 6: GNPDEFL, GNP, UNEMP, ARMED, POP, YEAR) and standardised TOTEMP.

    Returns
    -------
    tuple of numpy.ndarray
        The predictors (16, 6) and the response (16,).
    """
    _, table = _data("longley.csv")
    return _standardise(table[:, 1:]), _standardise(table[:, 0])


# name -> (model, keyword arguments): the numpyro models behind the standard set
def _models() -> dict:
    xc, yc = cancer_data()
    xl, yl = longley_data()
    return {
        "eight_schools": (eight_schools_model, {}),
        "eight_schools_nc": (eight_schools_nc_model, {}),
        "cancer": (logistic_regression_model, {"x": xc, "y": yc}),
        "longley": (linear_regression_model, {"x": xl, "y": yl}),
    }


HEADLINES = {"eight_schools": "tau", "eight_schools_nc": "tau", "cancer": "alpha", "longley": "beta[1]"}


def reference_path(name: str) -> pathlib.Path:
    """Where the standard set's reference draws live (`targets/data/reference/<name>.npz`).

    Parameters
    ----------
    name
        A standard-set posterior's name.

    Returns
    -------
    pathlib.Path
        The reference file's path (which may not exist).
    """
    return pathlib.Path(str(importlib.resources.files("targets") / "data" / "reference" / f"{name}.npz"))


def model_of(name: str):
    """(model, model_kwargs) of a standard-set posterior.

    Parameters
    ----------
    name
        A standard-set posterior's name.

    Returns
    -------
    tuple
        The numpyro model and its keyword arguments (the data).
    """
    return _models()[name]


def standard(name: str) -> Target:
    """A standard-set posterior with its reference (when the file exists).

    Cached per precision: building one loads its reference draws, and the flat vector's dtype follows JAX's
    precision.

    Parameters
    ----------
    name
        A standard-set posterior's name.

    Returns
    -------
    Target
        The posterior with its reference (when the file exists).
    """
    return _standard(name, bool(jax.config.jax_enable_x64))


@functools.cache
def _standard(name: str, x64: bool) -> Target:
    model, kwargs = model_of(name)
    path = reference_path(name)
    return from_numpyro(
        model, name, model_kwargs=kwargs, reference=path if path.exists() else None, headline=HEADLINES[name]
    )


def eight_schools() -> Target:
    """Eight schools, centred parameterisation (the funnel); reference from the non-centred run.

    Returns
    -------
    Target
        The posterior with its reference (when the file exists).
    """
    return standard("eight_schools")


def eight_schools_nc() -> Target:
    """Eight schools, non-centred parameterisation.

    Returns
    -------
    Target
        The posterior with its reference (when the file exists).
    """
    return standard("eight_schools_nc")


def cancer() -> Target:
    """Bayesian logistic regression, Wisconsin breast cancer, d = 31.

    Returns
    -------
    Target
        The posterior with its reference (when the file exists).
    """
    return standard("cancer")


def longley() -> Target:
    """Bayesian linear regression on Longley's collinear data, d = 8.

    Returns
    -------
    Target
        The posterior with its reference (when the file exists).
    """
    return standard("longley")


def derive_draws(name: str, source: Target, source_x: np.ndarray) -> np.ndarray:
    """Draws of standard-set posterior `name` from draws of `source`, the same posterior in other coordinates.

    Source's unconstrained draws -> its constrained parameters (sample and deterministic sites) -> the latent
    sites of `name` -> their unconstrained vector. E.g. the non-centred eight schools' (mu, tau, theta)
    are the centred model's latent sites.

    Parameters
    ----------
    name
        The standard-set posterior whose draws are wanted.
    source
        The target the draws come from (with `constrain`).
    source_x
        The source's unconstrained draws, (chains, draws, dim).

    Returns
    -------
    numpy.ndarray
        The draws in the unconstrained coordinates of `name`, (chains, draws, dim of `name`), float64.

    Raises
    ------
    ValueError
        `source` lacks one of the latent sites of `name`.
    """
    import numpyro
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import unconstrain_fn

    model, kwargs = model_of(name)
    trace = numpyro.handlers.trace(numpyro.handlers.seed(model, 0)).get_trace(**kwargs)
    latent = sorted(k for k, s in trace.items() if s["type"] == "sample" and not s["is_observed"])
    chains, draws, dim = source_x.shape
    constrained = jax.jit(jax.vmap(source.constrain))(jax.numpy.asarray(source_x.reshape(-1, dim)))
    missing = [k for k in latent if k not in constrained]
    if missing:
        raise ValueError(f"{name}: cannot derive from {source.name}, which has no parameter {', '.join(missing)}")
    to_flat = jax.jit(jax.vmap(lambda d: ravel_pytree(unconstrain_fn(model, (), kwargs, d))[0]))
    flat = np.asarray(to_flat({k: constrained[k] for k in latent}), dtype=np.float64)
    return flat.reshape(chains, draws, -1)
