"""A user's own target: from Python (`register_model`) or from a `module:function` / `file.py:function` spec.

A spec names a numpyro model with no required argument, a factory returning a `Target` (its keyword
parameters with defaults are its `--param`s, as for the registered targets), or a ready `Target` object.
`import_object` is the one resolver of such specs, used for samplers too (`bench.samplers.resolve`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import pathlib
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any

from targets.base import Target
from targets.posteriors.adapter import ModelError, from_numpyro


class SpecError(ModelError):
    """A `module:function` spec that does not resolve; the message says why (a ValueError)."""


def is_spec(text: str) -> bool:
    """Whether `text` is of the form `module:function` or `path/to/file.py:function` (not a registered name).

    Parameters
    ----------
    text
        A target or sampler name as given.

    Returns
    -------
    bool
        True when `text` has a non-empty part before its last colon.
    """
    where, sep, attr = text.rpartition(":")
    return bool(sep and where)


def import_object(spec: str, what: str = "target") -> tuple[str, Any]:
    """`module:function` or `path/to/file.py:function` -> (`module.function`, the object).

    Parameters
    ----------
    spec
        The spec.
    what
        What the spec names (`target`, `sampler`), for the messages.

    Returns
    -------
    tuple
        The resolved name `module.function` and the object.

    Raises
    ------
    SpecError
        (a ValueError) Naming what is wrong: the spec's form, a module or file that cannot be imported, or a
        missing attribute (listing the module's public callables).
    """
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        raise SpecError(f"{what} {spec!r}: expected a registered name, module:function or path/to/file.py:function")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = pathlib.Path(where)
        if not path.is_file():
            raise SpecError(f"{what} {spec!r}: no such file {str(path)!r}")
        module_name = path.stem
        unique = f"_bench_user_{module_name}_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(unique)  # one module object per file and process: compile caches key on it
        if module is None:
            try:
                module_spec = importlib.util.spec_from_file_location(unique, path)
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[unique] = module
                module_spec.loader.exec_module(module)
            except Exception as err:  # the user's file failed: say how
                sys.modules.pop(unique, None)
                raise SpecError(
                    f"{what} {spec!r}: importing {str(path)!r} failed: {type(err).__name__}: {err}"
                ) from err
    else:
        module_name = where
        if "" not in sys.path and str(pathlib.Path.cwd()) not in sys.path:
            sys.path.insert(0, "")  # `python -m bench` from the user's folder finds their module there
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as err:
            raise SpecError(f"{what} {spec!r}: no module named {err.name!r}") from err
        except Exception as err:  # the user's factory failed: say how
            raise SpecError(f"{what} {spec!r}: importing module {where!r} failed: {type(err).__name__}: {err}") from err
    if not hasattr(module, attr):
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise SpecError(
            f"{what} {spec!r}: module {module_name!r} has no attribute {attr!r}; "
            f"its callables: {', '.join(public) or '(none)'}"
        )
    return f"{module_name}.{attr}", getattr(module, attr)


SPECS_ENV = "VAEGIBBS_BENCH_SPECS"  # {"target:name": spec, "sampler:name": spec}: inherited by worker processes


def remember(kind: str, name: str, spec: str) -> None:
    """Note in this process's environment that `name` (a resolved `module.function`) comes from `spec`.

    A file path is made absolute, so that a sweep's worker processes (spawned, dask, slurm) resolve the name too.

    Parameters
    ----------
    kind
        `target` or `sampler`.
    name
        The resolved name.
    spec
        The spec it comes from.
    """
    where, _, attr = spec.rpartition(":")
    if where.endswith(".py") or "/" in where or "\\" in where:
        spec = f"{pathlib.Path(where).resolve()}:{attr}"
    known = json.loads(os.environ.get(SPECS_ENV, "{}"))
    known[f"{kind}:{name}"] = spec
    os.environ[SPECS_ENV] = json.dumps(known)


def remembered(kind: str, name: str) -> str | None:
    """The spec `remember` noted for `name`, or None.

    Parameters
    ----------
    kind
        `target` or `sampler`.
    name
        The resolved name.

    Returns
    -------
    str or None
        The spec, or None.
    """
    return json.loads(os.environ.get(SPECS_ENV, "{}")).get(f"{kind}:{name}")


def register_model(
    name: str,
    model: Callable,
    *,
    model_args: tuple = (),
    model_kwargs: Mapping[str, Any] | None = None,
    reference: str | pathlib.Path | None = None,
    headline: str | None = None,
) -> None:
    """Add a numpyro model to the target registry under `name`.

    Then `make_target(name)`, and the CLI's `--target name` in the same process, build it.

    Parameters
    ----------
    name
        The target's name in the registry.
    model
        A numpyro model.
    model_args
        Positional arguments of the model.
    model_kwargs
        Keyword arguments of the model (e.g. its data).
    reference
        An `.npz` from `python -m bench reference`, or None.
    headline
        The statistic tables show first.
    """
    from targets.registry import TARGETS

    def factory() -> Target:
        return from_numpyro(
            model, name, model_args=model_args, model_kwargs=model_kwargs, reference=reference, headline=headline
        )

    factory.__doc__ = f"numpyro model {getattr(model, '__name__', name)} (registered from Python)"
    TARGETS[name] = factory


def is_target_factory(obj) -> bool:
    """A callable annotated to return a Target (`def banana(dim: int = 2) -> Target`).

    Parameters
    ----------
    obj
        Any object.

    Returns
    -------
    bool
        True when its return annotation resolves to `Target`.
    """
    try:
        return typing.get_type_hints(obj).get("return") is Target
    except Exception:  # noqa: BLE001 - unresolvable annotations: not declared
        return False


def load_spec(spec: str, reference: str | pathlib.Path | None = None, **params) -> Target:
    """`module:function` or `path/to/file.py:function` -> a Target.

    The attribute is a ready Target; a factory returning one (called with `params`; one annotated
    `-> Target` is called directly, others are tried first); or a numpyro model with no required argument,
    turned into a Target named `module.function` (`from_numpyro`; it takes no `params`).

    Parameters
    ----------
    spec
        The spec.
    reference
        A reference `.npz` for a numpyro model, or None.
    **params
        The factory's parameters.

    Returns
    -------
    Target
        The target.

    Raises
    ------
    SpecError
        (a ValueError) Naming what is wrong.
    """
    name, obj = import_object(spec, "target")
    if isinstance(obj, Target):
        if params:
            raise SpecError(f"target {spec!r} is a ready Target: it takes no parameters (got {', '.join(params)})")
        return obj
    if not callable(obj):
        raise SpecError(
            f"target {spec!r}: {name} is not callable (a {type(obj).__name__}): not a Target, a "
            f"factory returning one, or a numpyro model"
        )
    if is_target_factory(obj) or params or _returns_target(obj):
        return call_factory(spec, obj, params)
    return from_numpyro(obj, name, reference=reference)


def call_factory(spec: str, factory: Callable, params: Mapping[str, Any]) -> Target:
    """`factory(**params)`, which must return a Target; its ValueErrors pass through, others are wrapped.

    Parameters
    ----------
    spec
        The spec, for the messages.
    factory
        The factory.
    params
        Its parameters.

    Returns
    -------
    Target
        The factory's target.

    Raises
    ------
    ValueError
        The factory's own ValueErrors.
    SpecError
        (a ValueError) The call failed otherwise, or did not return a Target.
    """
    try:
        target = factory(**params)
    except ValueError:
        raise
    except Exception as err:
        raise SpecError(f"target {spec!r}: calling it failed: {type(err).__name__}: {err}") from err
    if not isinstance(target, Target):
        raise SpecError(f"target {spec!r}: the factory returned a {type(target).__name__}, not a targets.Target")
    return target


def _returns_target(obj: Callable) -> bool:
    """Whether calling `obj()` (no required argument) under a seeded numpyro handler returns a Target: a factory
    without a return annotation. A numpyro model returns something else (usually None)."""
    try:
        required = [
            p
            for p in inspect.signature(obj).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
    except (TypeError, ValueError):
        return False
    if required:
        return False
    import numpyro

    try:
        with numpyro.handlers.block(), numpyro.handlers.seed(rng_seed=0):
            return isinstance(obj(), Target)
    except Exception:  # noqa: BLE001 - not a factory; from_numpyro says what is wrong with it as a model
        return False
