"""VAE-Gibbs Bench from Python: compare samplers on a target with ground truth.

    import bench                                   # sets JAX to float64, the suite's precision
    target = bench.make_target("funnel")           # or any targets.Target, or "my_module:my_target"
    df = bench.compare(target, ["nuts", "my_sampler.py:mala"], seeds=[0, 1], budget=bench.Budget(4, 500, 500))

Precision: importing `bench` enables `jax_enable_x64` (the suite's float64), so that a target built by hand
afterwards is float64. `compare` refuses (ValueError) a target whose initial positions are not in the run's
precision, e.g. one built before `import bench` while JAX was in float32. `compare(..., precision="float32")`
runs in float32.
"""

from __future__ import annotations

import jax as _jax

_jax.config.update("jax_enable_x64", True)

__all__ = ["Budget", "compare", "get_sampler", "make_target", "run_cell"]


def __getattr__(name):  # the API is imported on first use: `python -m bench list` stays quick
    if name == "Budget" or name == "run_cell":
        from bench import run

        return getattr(run, name)
    if name == "get_sampler":
        from bench.samplers import get_sampler

        return get_sampler
    if name == "make_target":
        from targets.registry import make_target

        return make_target
    if name == "compare":
        from bench.api import compare

        return compare
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
