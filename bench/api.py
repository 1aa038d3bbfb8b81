"""`bench.compare`: several samplers on one target over seeds, as a pandas DataFrame (one row per cell)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import numpy as np

from bench.run import Budget, run_cell
from bench.samplers import Sampler, from_function, get_sampler
from targets.base import Target
from targets.registry import make_target


def compare(
    target: Target | str,
    samplers: Iterable[str | Sampler | Callable] | Mapping[str, Mapping[str, Any]],
    seeds: Iterable[int] = (0,),
    budget: Budget | None = None,
    out: str | pathlib.Path | None = None,
    precision: str = "float64",
    **target_params,
):
    """Run every sampler on `target` for every seed; return the records as a DataFrame (one row per cell).

    Parameters
    ----------
    target
        A Target, a registered name or a spec (`module:function`, `file.py:function`), with
        `target_params` for a name or a factory.
    samplers
        Names, specs, Sampler objects or run functions; or a mapping name-or-spec -> its parameters.
    seeds
        The seeds; each sampler runs once per seed.
    budget
        Chains, draws and warm-up steps per chain, the same for every sampler (default `Budget()`).
    out
        A results folder (records, draws and CSVs as `python -m bench run` writes), or None: nothing
        written.
    precision
        "float64" (the suite's) or "float32"; the target must be in it (ValueError otherwise).
    **target_params
        Parameters of the target's factory when `target` is a name or a spec.

    Returns
    -------
    pandas.DataFrame
        One record per cell (sampler x seed), every column of `python -m bench run`'s records. A failed cell
        is a row with status `failed` and its error, as in the CLI.

    Raises
    ------
    ValueError
        Bad parameters, an unknown precision, or a target not in the run's precision, before anything runs.
    """
    import pandas as pd

    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be float64 or float32, got {precision!r}")
    jax.config.update("jax_enable_x64", precision == "float64")
    budget = budget or Budget()
    target = target if isinstance(target, Target) else make_target(target, **target_params)
    check_precision(target, precision)
    items = samplers.items() if isinstance(samplers, Mapping) else ((s, {}) for s in samplers)
    chosen = [(_sampler(s), dict(p)) for s, p in items]
    out = None if out is None else pathlib.Path(out)
    rows = [run_cell(target, s, p, int(seed), budget, out) for s, p in chosen for seed in seeds]
    if out is not None:
        from bench.leaderboard import write_leaderboards

        write_leaderboards(out, target.name)
    return pd.DataFrame([{k: v for k, v in r.items() if k != "traceback"} for r in rows])


def check_precision(target: Target, precision: str) -> None:
    """Raise ValueError when the target's initial positions or log density are not in `precision`.

    A target built while JAX ran in float32 keeps float32 constants.
    """
    want = np.float64 if precision == "float64" else np.float32
    x = target.initial(jax.random.key(0), 2)
    lp = jax.vmap(target.log_prob)(x)
    got = {np.dtype(x.dtype), np.dtype(lp.dtype)}
    if got != {np.dtype(want)}:
        raise ValueError(
            f"target {target.id}: its initial positions are {x.dtype} and its log density "
            f"{lp.dtype}, but the run is in {precision}; build the target after `import bench` (which "
            f"enables float64), or pass precision='float32'"
        )


def _sampler(s) -> Sampler:
    if isinstance(s, Sampler):
        return s
    if isinstance(s, str):
        return get_sampler(s)
    if callable(s):
        return from_function(s, getattr(s, "__name__", "sampler"))
    raise TypeError(f"a sampler is a name, a spec, a Sampler or a run function, got {type(s).__name__}")
