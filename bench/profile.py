"""Device profiles: the defaults that differ on an accelerator (docs/gpu.md has the measurements behind them).

`cpu` is the suite as it always ran: float64, the samplers' own defaults. `accelerator` (chosen by default
when JAX's default device is a GPU or TPU) trains the VAE samplers on larger batches (`batch_size`), maps
chains with `vectorized` (`chain_method`), where one device runs many chains at once, and runs in float32
(training and sampling: JAX's x64 off) only on the targets where float32 was measured to keep the VAE's KL
bound and the accuracy within their errors (`FLOAT32_TARGETS`: the funnel; gmm40's bound rose by 8 of its
standard errors, so it stays float64, as does every target not measured). Precision is process-wide: a
run or sweep goes float32 only when all its targets are in `FLOAT32_TARGETS`. Which profile runs is `use(name)` (`--profile` of `run` and `sweep`; unset:
`default()`), recorded in every row's provenance (`profile`) and, when it is not `cpu`, in the cell identity
(so the ids of CPU cells stay those of before). Its sampler parameters go under the ones given and a
target's defaults (`sampler_params`), so they show in the rows' `sampler.*` columns and ids like any other;
`--precision` and `--sampler-param` override them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {"float32_targets": frozenset(), "sampler_params": {}},
    "accelerator": {
        "float32_targets": frozenset({"funnel"}),
        "sampler_params": {"chain_method": "vectorized", "batch_size": 1024},
    },
}
FLOAT32_TARGETS = PROFILES["accelerator"]["float32_targets"]  # docs/gpu.md: float32 against float64
_requested: str | None = None  # None: default()


def default() -> str:
    """`accelerator` when JAX's default backend is not the CPU, else `cpu`.

    Returns
    -------
    str
        The profile's name.
    """
    import jax

    return "cpu" if jax.default_backend() == "cpu" else "accelerator"


def use(name: str | None) -> None:
    """Run under profile `name` (None: `default()`); ValueError naming the valid ones.

    Parameters
    ----------
    name
        A key of PROFILES, or None.

    Raises
    ------
    ValueError
        When `name` is not a profile.
    """
    global _requested
    if name is not None and name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {name!r}")
    _requested = name


def requested() -> str | None:
    """The profile asked for (`use`), None when none was: each process then takes its device's `default()`.

    Returns
    -------
    str or None
        The profile's name, or None.
    """
    return _requested


def current() -> str:
    """The profile runs use now.

    Returns
    -------
    str
        The requested profile, else `default()`.
    """
    return default() if _requested is None else _requested


def precision(targets: Iterable[str] | str = (), name: str | None = None) -> str:
    """The float precision of a run of `targets` (names) under profile `name` (default: the current one).

    Parameters
    ----------
    targets
        A target's name or several.
    name
        The profile; None: the current one.

    Returns
    -------
    str
        "float32" when every one of them is among the profile's float32 targets, else "float64" (also for no
        target).
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    allowed = PROFILES[name or current()]["float32_targets"]
    return "float32" if targets and all(t in allowed for t in targets) else "float64"


def sampler_params(run, given: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """The profile's sampler parameters that `run` takes, under `given` (which win).

    Parameters
    ----------
    run
        The sampler's run function.
    given
        The parameters given.
    name
        The profile; None: the current one.

    Returns
    -------
    dict
        The profile's parameters that `run` takes, updated with `given`.
    """
    takes = inspect.signature(run).parameters
    chosen = {k: v for k, v in PROFILES[name or current()]["sampler_params"].items() if k in takes}
    return {**chosen, **given}
