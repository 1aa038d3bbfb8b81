"""Target registry: name -> factory.

Adding a target is one file and one line here, or, outside the package, an entry point of group
`vaegibbs_bench.targets` (name = "module:factory") in the user's own installed package, or a spec
`module:function` / `path/to/file.py:function` given where a name goes.

Every factory takes its parameters as keyword arguments with annotated types and defaults
(the CLI reads them from the signature: `--param dim=20`) and raises ValueError on bad values.

`make_target` gives back the same Target object for equal arguments (`built`): the samplers' and metrics'
compile caches are keyed on the target's log-density function, so two equal targets built apart share one
compilation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import metadata
from typing import Any

import jax

from targets.banana import banana
from targets.base import Target
from targets.funnel import funnel
from targets.gaussian import gaussian
from targets.gmm40 import gmm40
from targets.ising.models import boltzmann, ising, sk
from targets.many_well import many_well
from targets.mos import mos
from targets.posteriors.models import cancer, eight_schools, eight_schools_nc, longley
from targets.posteriors.user import SpecError, is_spec, load_spec, remembered

ENTRY_POINT_GROUP = "vaegibbs_bench.targets"
BUILT_KEPT = 32  # targets kept by `built` (least recently used dropped first)

TARGETS: dict[str, Callable[..., Target]] = {
    "funnel": funnel,
    "gmm40": gmm40,
    "gaussian": gaussian,
    "ising": ising,
    "sk": sk,
    "boltzmann": boltzmann,
    "eight_schools": eight_schools,
    "eight_schools_nc": eight_schools_nc,
    "cancer": cancer,
    "longley": longley,
    "many_well": many_well,
    "mos": mos,
    "banana": banana,
}


def plugins() -> dict[str, metadata.EntryPoint]:
    """Targets registered by installed packages (entry points of ENTRY_POINT_GROUP), name -> entry point.

    A name the suite already has stays the suite's.

    Returns
    -------
    dict of str to importlib.metadata.EntryPoint
        The plugins' targets by name, the suite's own names left out.
    """
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name not in TARGETS}


def source(name: str) -> str:
    """Where a target comes from, for `bench list`: `suite`, or the distribution that registers it.

    Parameters
    ----------
    name
        The target's name.

    Returns
    -------
    str
        `suite`, `register_model` (registered at run time), `plugin <distribution> (<entry point>)`, or `?`.
    """
    if name in TARGETS:
        return (
            "suite"
            if TARGETS[name].__module__.startswith("targets.") and TARGETS[name].__module__ != "targets.posteriors.user"
            else "register_model"
        )
    ep = plugins().get(name)
    return f"plugin {ep.dist.name if ep is not None and ep.dist else '?'} ({ep.value})" if ep else "?"


def factory_of(name: str) -> Callable[..., Target]:
    """The factory of a registered or plugin target; KeyError listing the valid names.

    Parameters
    ----------
    name
        A name of `TARGETS` or of an installed plugin.

    Returns
    -------
    Callable
        The factory, `factory(**params) -> Target`.

    Raises
    ------
    KeyError
        An unknown name (the message lists the valid ones).
    SpecError
        A plugin whose entry point fails to load (a ValueError).
    """
    if name in TARGETS:
        return TARGETS[name]
    found = plugins()
    if name in found:
        try:
            return _loaded(found[name])
        except Exception as err:  # the plugin is broken: say which and how
            raise SpecError(
                f"target {name!r}: loading entry point {found[name].value!r} of group "
                f"{ENTRY_POINT_GROUP} failed: {type(err).__name__}: {err}"
            ) from err
    raise KeyError(
        f"unknown target {name!r}; valid targets: {', '.join(sorted({*TARGETS, *found}))}; "
        "or module:function or path/to/file.py:function"
    )


@functools.cache
def _loaded(ep: metadata.EntryPoint) -> Callable[..., Target]:
    obj = ep.load()
    return (lambda: obj) if isinstance(obj, Target) else obj


def make_target(name: str, **params) -> Target:
    """Build a target from a registered name, a plugin's name, or a spec.

    Parameters
    ----------
    name
        A name of `TARGETS`, of an installed plugin, or a spec `module:function` / `file.py:function`
        (`targets.posteriors.load_spec`).
    **params
        The factory's parameters (see `python -m bench list`).

    Returns
    -------
    Target
        The target, with its ground truth.

    Raises
    ------
    KeyError
        An unknown name (the message lists the valid ones).
    SpecError
        A spec that does not resolve (a ValueError).
    ValueError
        A parameter the factory refuses (not finite, out of range, too large for this machine).
    """
    if name not in TARGETS and is_spec(name):
        return load_spec(name, **params)
    if name not in TARGETS and remembered("target", name):  # a spec's target in a sweep's worker
        return load_spec(remembered("target", name), **params)
    return built(factory_of(name), params)


def built(factory: Callable[..., Target], params: dict[str, Any]) -> Target:
    """`factory(**params)`, the same object for the same factory, parameters and precision.

    Parameters are the same when they are equal values of the same type; the precision is `jax_enable_x64` (a
    factory's arrays take the precision in force when it runs). Built afresh when a value is unhashable. A
    factory is deterministic in its parameters (its random draws have fixed seeds), and a Target is frozen.

    Parameters
    ----------
    factory
        The target's factory.
    params
        Its parameters.

    Returns
    -------
    Target
        The target, shared with earlier calls with equal arguments (the last BUILT_KEPT kept).
    """
    key = (factory, tuple(sorted((k, type(v), v) for k, v in params.items())), bool(jax.config.jax_enable_x64))
    try:
        hash(key)
    except TypeError:
        return factory(**params)
    return _built(*key)


@functools.lru_cache(maxsize=BUILT_KEPT)
def _built(factory, items, x64) -> Target:
    return factory(**{k: v for k, _, v in items})
