"""A numpyro model plus its data as a Target: the posterior in unconstrained coordinates.

numpyro's own machinery does the work (`numpyro.infer.util.initialize_model`): the potential energy
`U(x) = -log p(data, T^{-1}(x)) - log |det J_{T^{-1}}(x)|` of the unconstrained latent sites (each
site's bijection `T` to R^n from its distribution's support, log-Jacobians included), and the map back
to named constrained values (`postprocess_fn`: sample sites plus deterministic sites). The latent
sites are flattened into one vector with `jax.flatten_util.ravel_pytree` (sites in sorted name order,
each row-major), so `log_prob(x) = -U(unravel(x))` on R^dim. log Z, the model's evidence, is unknown
(None); the ground truth is a reference posterior (`targets.posteriors.reference`) when one is given.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from targets.base import Statistic, Target, uniform_initial

INIT_RADIUS = 2.0  # Stan's and numpyro's `init_to_uniform`: uniform in [-2, 2] on the unconstrained scale


class ModelError(ValueError):
    """The callable cannot be turned into a target (not a numpyro model, no continuous latent site...)."""


def from_numpyro(
    model: Callable,
    name: str,
    *,
    model_args: tuple = (),
    model_kwargs: Mapping[str, Any] | None = None,
    reference: str | pathlib.Path | None = None,
    headline: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Target:
    """The posterior of `model(*model_args, **model_kwargs)` as a Target on the unconstrained space.

    Statistics: every scalar of the constrained sample and deterministic sites, named `site` or
    `site[i]` / `site[i,j]`.

    Parameters
    ----------
    model
        A numpyro model (observed sites carry their data through `obs=`).
    name
        The target's name.
    model_args
        Positional arguments of the model.
    model_kwargs
        Keyword arguments of the model (e.g. its data).
    reference
        An `.npz` written by `python -m bench reference` (`targets.posteriors.reference`): the
        statistics' true mean / sd / sd of the square come from its draws, with their Monte Carlo
        standard errors as `mean_se` and `sd_se`, and `sample` resamples them (for MMD). Without
        one, or when the reference failed posteriordb's checks, the truths are NaN and `sample` is
        None, so the accuracy columns stay empty rather than wrong.
    headline
        The statistic tables show first (a name such as "tau" or "theta[0]").
    params
        The parameters that built the target (part of its identity in result rows).

    Returns
    -------
    Target
        The posterior, `log_prob(x) = -U(unravel(x))` on R^dim, with `constrain` to the named sites and
        log Z unknown (None).

    Raises
    ------
    ModelError
        (a ValueError) The callable is not a numpyro model that runs, has no continuous latent site, has
        discrete latent sites, has no valid initial point, uses a reserved site name, or `headline` is not
        a statistic.
    """
    import numpyro
    from numpyro.infer.util import initialize_model

    model_kwargs = dict(model_kwargs or {})
    what = f"{name}: {getattr(model, '__name__', repr(model))}"
    if not callable(model):
        raise ModelError(f"{what} is not callable, so it is not a numpyro model")
    try:  # one plain run first: it names the sites, and its errors are the user's model's own
        trace = numpyro.handlers.trace(numpyro.handlers.seed(model, 0)).get_trace(*model_args, **model_kwargs)
    except Exception as err:  # whatever the callable raised, say what and where
        raise ModelError(f"{what} could not be run as a numpyro model: {type(err).__name__}: {err}") from err
    latent = [n for n, s in trace.items() if s["type"] == "sample" and not s["is_observed"]]
    if not latent:
        raise ModelError(
            f"{what} has no latent `numpyro.sample` site, so it is not a numpyro model with a posterior to sample"
        )
    discrete = [n for n in latent if getattr(trace[n]["fn"].support, "is_discrete", False)]
    if discrete:
        raise ModelError(
            f"{what} has discrete latent sites ({', '.join(discrete)}); the adapter needs "
            "continuous latents (marginalise them out)"
        )
    try:
        info = initialize_model(jax.random.key(0), model, model_args=model_args, model_kwargs=model_kwargs)
    except Exception as err:
        raise ModelError(f"{what}: numpyro found no valid initial point: {type(err).__name__}: {err}") from err
    z0 = info.param_info.z
    flat0, unravel = ravel_pytree(z0)
    dim = int(flat0.size)
    potential_fn, postprocess_fn = info.potential_fn, info.postprocess_fn

    def log_prob(x):
        return -potential_fn(unravel(x))

    def constrain(x) -> dict[str, jax.Array]:
        """Named constrained values (sample and deterministic sites) at one flat unconstrained point."""
        return dict(postprocess_fn(unravel(x)))

    shapes = {k: tuple(np.shape(v)) for k, v in sorted(jax.eval_shape(constrain, flat0).items())}
    reserved = sorted(set(shapes) & RESERVED_SITES)
    if reserved:
        raise ModelError(
            f"{what}: site name {', '.join(map(repr, reserved))} is used by the suite's draws "
            f"({', '.join(sorted(RESERVED_SITES))}); rename the site"
        )
    names = [n for k, shape in shapes.items() for n in _scalar_names(k, shape)]

    def flat_constrained(x):
        return jnp.concatenate([jnp.ravel(v) for _, v in sorted(constrain(x).items())])

    from targets.posteriors.reference import Reference, load_reference  # imported here: avoids a cycle

    ref: Reference | None = None
    if reference is not None:
        ref = load_reference(reference, name, dim, jax.jit(jax.vmap(flat_constrained)), names)
    good = ref is not None and ref.passed
    statistics = tuple(
        Statistic(
            name=n,
            fn=_component(flat_constrained, i),
            mean=ref.mean[i] if good else float("nan"),
            sd=ref.sd[i] if good else float("nan"),
            sq_sd=ref.sq_sd[i] if good else None,
            mean_se=ref.mean_se[i] if good else 0.0,
            sd_se=float(ref.sd_se[i]) if good and ref.sd_se is not None else 0.0,
        )
        for i, n in enumerate(names)
    )
    if ref is None:
        truth = "no reference posterior: accuracy not reported"
    elif ref.passed:
        truth = f"reference posterior: {ref.summary}"
    else:
        truth = f"reference posterior FAILED posteriordb's checks ({ref.failures}): accuracy not reported"
    if headline is not None and headline not in names:
        raise ModelError(f"{name}: headline {headline!r} is not a statistic; statistics: {', '.join(names)}")
    return Target(
        name=name,
        dim=dim,
        log_prob=log_prob,
        initial=uniform_initial(dim, -INIT_RADIUS, INIT_RADIUS),
        statistics=statistics,
        log_Z=None,
        sample=ref.sample if good else None,
        params=dict(params or {}),
        headline=headline,
        constrain=constrain,
        truth=truth,
    )


RESERVED_SITES = {"x", "statistics"}  # the flat draws and the statistics in the stored DataTree


def _component(fn: Callable, i: int) -> Callable:
    return lambda x: fn(x)[i]


def _scalar_names(site: str, shape: tuple[int, ...]) -> list[str]:
    """`tau` for a scalar, `theta[0]`... for a vector, `w[0,1]`... for arrays (row-major, as `ravel`)."""
    if not shape:
        return [site]
    return [f"{site}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]
