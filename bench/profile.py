"""Device profiles: the defaults that differ on an accelerator (docs/gpu.md has the measurements behind them).

`cpu` is the suite as it always ran: float64, the samplers' own defaults. `accelerator` (chosen by default
when JAX's default device is a GPU or TPU) runs in float32 (training and sampling: JAX's x64 off), trains the
VAE samplers on larger batches (`batch_size`), and maps chains with `vectorized` (`chain_method`), where one
device runs many chains at once. Which profile runs is `use(name)` (`--profile` of `run` and `sweep`; unset:
`default()`), recorded in every row's provenance (`profile`) and, when it is not `cpu`, in the cell identity
(so the ids of CPU cells stay those of before). Its sampler parameters go under the ones given and a
target's defaults (`sampler_params`), so they show in the rows' `sampler.*` columns and ids like any other;
`--precision` and `--sampler-param` override them.
"""
from __future__ import annotations

import inspect
from typing import Any, Mapping

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {"precision": "float64", "sampler_params": {}},
    "accelerator": {"precision": "float32",
                    "sampler_params": {"chain_method": "vectorized", "batch_size": 1024}},
}
_requested: str | None = None   # None: default()


def default() -> str:
    """`accelerator` when JAX's default backend is not the CPU, else `cpu`."""
    import jax
    return "cpu" if jax.default_backend() == "cpu" else "accelerator"


def use(name: str | None) -> None:
    """Run under profile `name` (None: `default()`); ValueError naming the valid ones."""
    global _requested
    if name is not None and name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {name!r}")
    _requested = name


def requested() -> str | None:
    """The profile asked for (`use`), None when none was: each process then takes its device's `default()`."""
    return _requested


def current() -> str:
    """The profile runs use now."""
    return default() if _requested is None else _requested


def precision(name: str | None = None) -> str:
    """The float precision of a profile (default: the current one)."""
    return PROFILES[name or current()]["precision"]


def sampler_params(run, given: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """The profile's sampler parameters that `run` takes, under `given` (which win)."""
    takes = inspect.signature(run).parameters
    chosen = {k: v for k, v in PROFILES[name or current()]["sampler_params"].items() if k in takes}
    return {**chosen, **given}
