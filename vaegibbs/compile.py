"""Ahead-of-time compilation, once per function and argument shapes (`.lower().compile()`).

Compile time (seconds a sampler on CPU) dwarfs run time on small targets: compile once, reuse the
executable across seeds, and time the compilation apart from the run.
"""

from __future__ import annotations

import equinox as eqx
import jax

_COMPILED: dict = {}


def aot_compile(fn, *args):
    """Compile `fn` ahead of time for these arguments, or reuse the executable compiled before.

    `fn` is a `jax.jit` or `eqx.filter_jit` function; the cache key is `fn` with the structure, shapes and
    dtypes of the array arguments (non-array leaves, e.g. a model's activation functions, are static).

    Parameters
    ----------
    fn
        The `jax.jit` or `eqx.filter_jit` function.
    *args
        The arguments it will be called with.

    Returns
    -------
    tuple
        (compiled `fn` for these arguments, whether it was compiled now).
    """
    arrays = eqx.filter(args, eqx.is_array)
    key = (fn, jax.tree.structure(arrays), tuple((a.shape, a.dtype) for a in jax.tree.leaves(arrays)))
    if key in _COMPILED:
        return _COMPILED[key], False
    _COMPILED[key] = fn.lower(*args).compile()
    return _COMPILED[key], True
