"""Fixtures of the vaegibbs tests. Helpers live in `_vae_helpers.py` (no __init__.py here: it would
shadow the real `vaegibbs` package)."""

import jax
import pytest

from vaegibbs.train import fit

from _vae_helpers import FA_CONFIG, FA_DIM, fa_log_prob


@pytest.fixture(scope="session")
def fa_fit():
    """The sampler trained on the factor-analysis target, shared by test_objective.py and test_train.py
    so that it is compiled and trained once per session (2000 Adam steps of batch 256)."""
    old = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        return fit(fa_log_prob, FA_DIM, jax.random.key(0), FA_CONFIG)
    finally:
        jax.config.update("jax_disable_most_optimizations", old)
