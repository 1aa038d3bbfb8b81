"""Parameters given as `key=value` strings, checked against a factory's signature.

One convention for targets and samplers alike: the factory's keyword arguments with annotated
types and defaults *are* its parameters; a value is converted to the annotated type, a
`Literal[...]` annotation lists its valid choices; a float must be finite (no parameter of a target or a
sampler means anything at nan or +-inf: an infinite jitter or temperature freezes the chains); a parameter
given twice is an error (never "the last one wins"). Errors name the problem and the valid choices.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any


class ParamError(ValueError):
    """A parameter that does not exist or does not parse; the message lists the valid choices."""


def parameters(factory: Callable, skip: Iterable[str] = ()) -> dict[str, inspect.Parameter]:
    """Keyword parameters of `factory` that a user may set (those with defaults, minus `skip`).

    Parameters
    ----------
    factory
        A target factory or a sampler's run function.
    skip
        Names left out (e.g. the budget's arguments).

    Returns
    -------
    dict of str to inspect.Parameter
        Each parameter, its annotation resolved (the default's type where it has none).
    """
    hints = typing.get_type_hints(factory)
    out = {}
    for name, p in inspect.signature(factory).parameters.items():
        if name in skip or p.default is inspect.Parameter.empty:
            continue
        out[name] = p.replace(annotation=hints.get(name, type(p.default)))
    return out


def describe(factory: Callable, skip: Iterable[str] = ()) -> str:
    """`dim: int = 10, condition: float = 100.0` for listings and error messages.

    Parameters
    ----------
    factory
        A target factory or a sampler's run function.
    skip
        Names left out.

    Returns
    -------
    str
        The settable parameters with their types and defaults, or `(none)`.
    """
    return (
        ", ".join(f"{n}: {_type_name(p.annotation)} = {p.default!r}" for n, p in parameters(factory, skip).items())
        or "(none)"
    )


def parse_params(what: str, factory: Callable, items: Iterable[str], skip: Iterable[str] = ()) -> dict[str, Any]:
    """Parse `["dim=20", ...]` into typed keyword arguments for `factory`; raise ParamError.

    Parameters
    ----------
    what
        What the parameters are of, for the messages (e.g. "target funnel").
    factory
        The function whose keyword parameters they set.
    items
        The `name=value` strings.
    skip
        Names that may not be set.

    Returns
    -------
    dict
        The typed keyword arguments.

    Raises
    ------
    ParamError
        An item not of the form name=value, an unknown or repeated name, or a value that does not parse.
    """
    valid = parameters(factory, skip)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamError(
                f"{what}: parameter {item!r} is not of the form name=value; valid parameters: {describe(factory, skip)}"
            )
        if key not in valid:
            raise ParamError(f"{what}: unknown parameter {key!r}; valid parameters: {describe(factory, skip)}")
        value = convert(f"{what}: {key}", raw.strip(), valid[key].annotation)
        if key in out:
            raise ParamError(f"{what}: parameter {key!r} is given twice ({out[key]!r}, then {value!r}); give it once")
        out[key] = value
    return out


def with_defaults(factory: Callable, given: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
    """All settable parameters of `factory`: the given ones over the defaults (a run's identity).

    Parameters
    ----------
    factory
        The function whose keyword parameters they are.
    given
        The parameters given.
    skip
        Names left out.

    Returns
    -------
    dict
        Every settable parameter with its value.
    """
    return {name: given.get(name, p.default) for name, p in parameters(factory, skip).items()}


def convert(what: str, raw: str, annotation) -> Any:
    """Convert a string to `annotation` (bool, int, float, str or Literal[...]); a float must be finite.

    Parameters
    ----------
    what
        What the value is of, for the messages.
    raw
        The string.
    annotation
        The type: bool, int, float, str or a Literal (any other: the string unchanged).

    Returns
    -------
    Any
        The value.

    Raises
    ------
    ParamError
        When `raw` is not one of a Literal's choices, does not parse, or is a float that is not finite.
    """
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        if raw not in choices:
            raise ParamError(f"{what}: {raw!r} is not one of {', '.join(map(str, choices))}")
        return raw
    try:
        if annotation is bool:
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if annotation is int:
            return int(raw)
        if annotation is float:
            value = float(raw)
        else:
            return raw
    except ValueError:
        raise ParamError(f"{what}: cannot read {raw!r} as {_type_name(annotation)}") from None
    if not math.isfinite(value):
        raise ParamError(f"{what} must be a finite number, got {raw!r}")
    return value


def check_finite(what: str, params: Mapping[str, Any]) -> None:
    """Raise ParamError if a float among already-typed `params` (a Python caller's) is nan or +-inf.

    Parameters
    ----------
    what
        What the parameters are of, for the message.
    params
        The typed parameters.

    Raises
    ------
    ParamError
        When one of them is a float that is not finite.
    """
    for key, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamError(f"{what}: {key} must be a finite number, got {value!r}")


def _type_name(annotation) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "{" + ",".join(map(str, typing.get_args(annotation))) + "}"
    return getattr(annotation, "__name__", str(annotation))
