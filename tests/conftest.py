"""Test-suite setup: float64 everywhere, set before anything else touches JAX; a persistent XLA cache.

The exactness checks (log densities equal to scipy's to 1e-10, the condition number to 1e-8) need
double precision; the samplers are tested in the same precision.

Most of the suite's time is XLA compilation of small programs, the same ones on every run. JAX's
persistent compilation cache keeps them across runs, outside the clone (a fresh clone on the same
machine reuses them): `$VAEGIBBS_BENCH_JAX_CACHE`, default `~/.cache/vaegibbs-bench/jax`; set it to
`off` to compile everything afresh. Its key is the program, the compile options and the jax/XLA
versions, so a hit is the same executable. The environment variables reach the CLI subprocesses.
"""

import os
import pathlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)

_CACHE = os.environ.get("VAEGIBBS_BENCH_JAX_CACHE", str(pathlib.Path.home() / ".cache" / "vaegibbs-bench" / "jax"))
if _CACHE != "off":
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture(autouse=True)
def _float64_after_each_test():
    """Float64 again after every test: the CLI's `--precision float32`, called in-process (`main([...])`), switches
    JAX's process-wide precision, even where it then exits 2 on bad input."""
    yield
    jax.config.update("jax_enable_x64", True)
