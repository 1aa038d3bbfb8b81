"""Test-suite setup: float64 everywhere, set before anything else touches JAX.

The exactness checks (log densities equal to scipy's to 1e-10, the condition number to 1e-8) need
double precision; the samplers are tested in the same precision.
"""
import jax

jax.config.update("jax_enable_x64", True)
